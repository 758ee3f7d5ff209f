"""Replaying a history as the API reports it (``GET .../history``, ``wf history -o json``)
against workflow code: whether the code reproduces it and, if not, where it first
parts from it. What ``wf replay`` and ``WorkflowTestEnvironment.assert_replays`` tell.

The reported form holds what replay needs: each event's kind, task ID, name, input,
result, failure and time, the patches and named version of each step
(``OrchestratorStarted``'s ``version``). Not in it: the history a parent propagated
to a child (a replay of code that reads ``get_propagated_history`` sees none) and the
custom status a step set (replay sets it again from the code).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from wf.core.execution import Execution
from wf.core.history import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ChildCompleted,
    ChildCreated,
    ChildFailed,
    ContinuedAsNew,
    EventRaised,
    HistoryEvent,
    Resumed,
    Stalled,
    StallReason,
    Suspended,
    TimerCreated,
    TimerFired,
    TurnStarted,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowStarted,
    WorkflowTerminated,
)
from wf.core.versions import WorkflowEntry
from wf.core.wire import HistoryEventType as T
from wf.core.wire import WorkflowHistoryEvent
from wf.errors import FailureDetails, HistoryFormatError, NonDeterminismError


def history_of(reported: Sequence[WorkflowHistoryEvent]) -> list[HistoryEvent]:
    """The recorded events a reported history stands for (``HistoryFormatError`` for
    one that lacks what its kind needs)."""
    out: list[HistoryEvent] = []
    for n, e in enumerate(reported):
        try:
            out.append(_event_of(n, e))
        except (TypeError, ValueError, KeyError) as exc:
            raise HistoryFormatError(f"event {n} ({e.event_type}) cannot be replayed: {exc}") from exc
    return out


def _failure(e: WorkflowHistoryEvent) -> FailureDetails:
    if e.failure_details is None:
        raise ValueError("no failureDetails")
    return e.failure_details


def _task(e: WorkflowHistoryEvent) -> int:
    if e.task_scheduled_id is None:
        raise ValueError("no taskScheduledId")
    return e.task_scheduled_id


def _name(e: WorkflowHistoryEvent) -> str:
    if e.name is None:
        raise ValueError("no name")
    return e.name


def _event_of(n: int, e: WorkflowHistoryEvent) -> HistoryEvent:
    t = e.timestamp
    match e.event_type:
        case T.ORCHESTRATOR_STARTED:
            return TurnStarted(t, e.patches, e.version_name)
        case T.EXECUTION_STARTED:
            return WorkflowStarted(t, _name(e), e.input)
        case T.EXECUTION_COMPLETED:
            return WorkflowCompleted(t, e.result)
        case T.EXECUTION_FAILED:
            return WorkflowFailed(t, _failure(e))
        case T.EXECUTION_TERMINATED:
            return WorkflowTerminated(t, e.result)
        case T.CONTINUE_AS_NEW:
            return ContinuedAsNew(t, e.input)
        case T.TASK_SCHEDULED:
            return ActivityScheduled(t, e.event_id, _name(e), e.input, e.app_id)
        case T.TASK_COMPLETED:
            return ActivityCompleted(t, _task(e), e.result)
        case T.TASK_FAILED:
            return ActivityFailed(t, _task(e), _failure(e))
        case T.TIMER_CREATED:
            if e.fire_at is None:
                raise ValueError("no fireAt")
            return TimerCreated(t, e.event_id, e.fire_at)
        case T.TIMER_FIRED:
            return TimerFired(t, _task(e))
        case T.SUB_ORCHESTRATION_CREATED:
            if e.instance_id is None:
                raise ValueError("no instanceId")
            return ChildCreated(t, e.event_id, _name(e), e.instance_id, e.input, e.app_id)
        case T.SUB_ORCHESTRATION_COMPLETED:
            return ChildCompleted(t, _task(e), e.result)
        case T.SUB_ORCHESTRATION_FAILED:
            return ChildFailed(t, _task(e), _failure(e))
        case T.EVENT_RAISED:
            # Its ID only keeps a redelivered event from being recorded twice.
            return EventRaised(t, _name(e), e.data, f"replayed-{n}")
        case T.EXECUTION_SUSPENDED:
            return Suspended(t, f"replayed-{n}")
        case T.EXECUTION_RESUMED:
            return Resumed(t, f"replayed-{n}")
        case T.EXECUTION_STALLED:
            failure = _failure(e)  # its reported form: the reason as message, the words as type
            return Stalled(t, StallReason(failure.message), failure.error_type)
    raise ValueError(f"unknown event type {e.event_type!r}")


def divergence(
    workflows: Mapping[str, WorkflowEntry], instance_id: str, reported: Sequence[WorkflowHistoryEvent]
) -> str | None:
    """Where the code (``workflows``) first parts from the reported history of
    ``instance_id``, in words; ``None`` when it reproduces it (``replay_divergence``)."""
    return replay_divergence(workflows, instance_id, history_of(reported))


def replay_divergence(
    workflows: Mapping[str, WorkflowEntry], instance_id: str, events: Sequence[HistoryEvent]
) -> str | None:
    """Where the code (``workflows``) first parts from the recorded ``events``, in words
    (what the history has, what the code did); ``None`` when it reproduces them. Code
    that goes on where the history ends (an instance still running) does not part."""
    started = next((e for e in events if isinstance(e, WorkflowStarted)), None)
    if started is not None and started.name not in workflows:
        known = ", ".join(sorted(workflows)) or "none"
        return f"workflow '{started.name}' is not registered (registered: {known})"
    execution = Execution(workflows, instance_id)
    execution.replay(events)
    failure = execution.failure
    if failure is not None and failure.error_type == NonDeterminismError.__name__:
        recorded = any(isinstance(e, WorkflowFailed) and e.failure == failure for e in events)
        if not recorded:
            return failure.message
    if execution.stall is not None and not any(isinstance(e, Stalled) for e in events):
        reason, description = execution.stall
        return f"the code would stall it ({reason.value}): {description}"
    return None
