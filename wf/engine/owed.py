"""What a duplicate or a follow-up message finds already recorded, and what history
still owes for it: the engine's repairs after a crash (``docs/crash-safety.md`` rules 2
and 9) decide from these alone which commands go again."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from wf.core.commands import Command, ScheduleActivity, ScheduleTimer, StartChild, TerminateChild
from wf.core.history import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ChildCompleted,
    ChildCreated,
    ChildFailed,
    HistoryEvent,
    TimerCreated,
    TimerFired,
    TurnStarted,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowStarted,
    WorkflowTerminated,
)
from wf.engine.messages import EventMessage, Message


def recorded_before(history: Sequence[HistoryEvent], events: Sequence[HistoryEvent]) -> bool:
    """Whether any of ``events`` is itself in ``history`` (the same result of the same
    task, or the same management event): not merely late, like a timeout's timer
    after the event it guarded, but a duplicate."""
    wanted = {identity(e) for e in events} - {None}
    return bool(wanted) and any(identity(e) in wanted for e in history)


def identity(event: HistoryEvent) -> tuple[type, object] | None:
    event_id = getattr(event, "event_id", None)
    if event_id is not None:
        return (type(event), event_id)
    if isinstance(event, (ActivityCompleted, ActivityFailed, TimerFired, ChildCompleted, ChildFailed)):
        return (type(event), event.task_id)
    if isinstance(event, WorkflowTerminated):
        return (WorkflowTerminated, None)  # an execution is terminated once at most
    return None


def step_recording(history: Sequence[HistoryEvent], events: Sequence[HistoryEvent]) -> list[HistoryEvent] | None:
    """The recorded step (from its ``TurnStarted`` to the next) that holds one of
    ``events`` itself (see ``recorded_before``), if any."""
    wanted = {identity(e) for e in events} - {None}
    if not wanted:
        return None
    start = 0
    for i, event in enumerate(history):
        if isinstance(event, TurnStarted):
            start = i
        elif identity(event) in wanted:
            end = next((j for j in range(i + 1, len(history)) if isinstance(history[j], TurnStarted)), len(history))
            return list(history[start:end])
    return None


def steps_recording(history: Sequence[HistoryEvent], events: Sequence[HistoryEvent]) -> list[HistoryEvent]:
    """The events of every recorded step that holds one of ``events`` itself, in one pass."""
    wanted = {identity(e) for e in events} - {None}
    found: list[HistoryEvent] = []
    step: list[HistoryEvent] = []
    hit = False
    for event in [*history, None]:
        if event is None or isinstance(event, TurnStarted):
            if hit:
                found += step
            step, hit = [], False
        if event is not None:
            step.append(event)
            hit = hit or identity(event) in wanted
    return found


def step_owing(history: Sequence[HistoryEvent], events: Sequence[HistoryEvent]) -> list[HistoryEvent] | None:
    """The step whose follow-up a management call left to its message: the one
    that recorded it, or, when it continued the workflow as new, this generation's first
    step (which lists the event among those its predecessors ``seen``)."""
    step = step_recording(history, events)
    if step is not None:
        return step
    ids = {getattr(e, "event_id", None) for e in events} - {None}
    started = next((e for e in history if isinstance(e, WorkflowStarted)), None)
    if started is None or not started.seen or not ids & {seen_id for seen_id, _ in started.seen}:
        return None
    end = next((j for j in range(1, len(history)) if isinstance(history[j], TurnStarted)), len(history))
    return list(history[:end])


def owed_by(step: Sequence[HistoryEvent], owed: Iterable[Command]) -> Iterator[Command]:
    """Of the commands history still owes, those that ``step`` gave rise to: the tasks it
    scheduled, the children its termination stops, its outcome's word to the parent."""
    scheduled = {e.task_id for e in step if isinstance(e, (ActivityScheduled, TimerCreated, ChildCreated))}
    ended = any(isinstance(e, (WorkflowCompleted, WorkflowFailed, WorkflowTerminated)) for e in step)
    terminated = any(isinstance(e, WorkflowTerminated) for e in step)
    for cmd in owed:
        if isinstance(cmd, (ScheduleActivity, ScheduleTimer, StartChild)):
            if cmd.task_id in scheduled:
                yield cmd
        elif isinstance(cmd, TerminateChild):
            if terminated:
                yield cmd
        elif ended:
            yield cmd


def are_follow_ups(msgs: Sequence[Message]) -> bool:
    return all(isinstance(m, EventMessage) and m.follow_up for m in msgs)


def redelivered(msgs: Sequence[Message], receive_count: int) -> bool:
    """Whether this work was tried before (a delivery died, or an AWS call failed): what
    it caused may be recorded but not carried out."""
    return receive_count > 1 or any(m.attempt > 0 or m.crashes > 0 for m in msgs)
