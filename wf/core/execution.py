"""The pure replay executor.

``Execution`` rebuilds a workflow's state by running its code against recorded history
(``replay``) and then advances it with new events (``step``), returning the events to
append, the commands to carry out and the resulting status.  It does no I/O and reads
no clock: the caller passes ``now``.  Kept in memory, an ``Execution`` is the warm
path: each ``step`` costs the same whatever the length of the history behind it.

Its parts: the task book (``wf/core/tasks.py``: scheduling and settling tasks), the
inbound gate (``wf/core/inbound.py``: which results and management events are recorded,
held while paused), and here the driving of the workflow code and its endings
(completion, failure, termination, continue-as-new, telling the parent).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Generator, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from wf.core.commands import Command, NotifyParent, ScheduleActivity, TerminateChild
from wf.core.context import DaprWorkflowContext, Directives, Turn
from wf.core.history import (
    ActivityScheduled,
    ChildCreated,
    CustomStatusSet,
    EventKind,
    EventRaised,
    HistoryEvent,
    ParentRef,
    Stalled,
    StallReason,
    TimerCreated,
    TurnStarted,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowStarted,
    WorkflowTerminated,
)
from wf.core.inbound import InboundGate
from wf.core.outcome import Outcome
from wf.core.serde import decode, encode
from wf.core.status import WorkflowStatus
from wf.core.step import StepResult
from wf.core.task import Task
from wf.core.tasks import Attempt, Plain, TaskBook, describe, matches, scheduled_event
from wf.core.typed import call_user
from wf.core.versions import VersionNotAvailable, WorkflowEntry, WorkflowVersions
from wf.errors import (
    FailureDetails,
    NonDeterminismError,
    WorkflowLoopError,
    WorkflowNotRegisteredError,
)
from wf.errors import WorkflowTerminated as ChildTerminated

WorkflowFn = Callable[..., Any]

#: The kinds a caller may pass to ``step`` (everything else the executor records itself).
NEW_EVENT_KINDS = frozenset(
    {
        EventKind.ACTIVITY_COMPLETED,
        EventKind.ACTIVITY_FAILED,
        EventKind.TIMER_FIRED,
        EventKind.CHILD_COMPLETED,
        EventKind.CHILD_FAILED,
        EventKind.EVENT_RAISED,
        EventKind.WORKFLOW_STARTED,
        EventKind.WORKFLOW_TERMINATED,
        EventKind.WORKFLOW_FAILED,  # failed by the engine (e.g. a step too large to store)
        EventKind.SUSPENDED,
        EventKind.RESUMED,
    }
)

#: The new events whose handling needs the workflow code: without it (its version is
#: not registered) they are recorded as they come, for the code to meet once it is back.
#: A start, a termination or a failure by the engine do not need it.
_HELD_WITHOUT_CODE = NEW_EVENT_KINDS - {
    EventKind.WORKFLOW_STARTED,
    EventKind.WORKFLOW_TERMINATED,
    EventKind.WORKFLOW_FAILED,
}

#: A workflow that continues-as-new this many times within one step without waiting on
#: anything is looping; it is failed rather than spinning the invocation.
MAX_GENERATIONS_PER_STEP = 1000
#: How long a management event's ID is carried into later generations: SQS redelivers
#: and the engine retries within hours, so a duplicate never comes later than this.
SEEN_EVENTS_HORIZON = timedelta(days=1)


class Execution:
    """The live state of one workflow execution (one generation of one instance)."""

    def __init__(self, workflows: Mapping[str, WorkflowEntry], instance_id: str) -> None:
        self._workflows = workflows
        self.instance_id = instance_id
        self._handlers: dict[EventKind, Callable[[Any], bool]] = {
            EventKind.TURN_STARTED: self._on_turn,
            EventKind.WORKFLOW_STARTED: self._on_started,
            EventKind.WORKFLOW_COMPLETED: self._on_recorded_terminal,
            EventKind.WORKFLOW_FAILED: self._on_recorded_terminal,
            EventKind.WORKFLOW_TERMINATED: self._on_terminated,
            EventKind.CONTINUED_AS_NEW: self._on_recorded_terminal,
            EventKind.CUSTOM_STATUS: self._on_custom_status,
            EventKind.STALLED: self._on_stalled,
        }
        self._reset()

    # -- state -------------------------------------------------------------------

    def _reset(self) -> None:
        """A fresh generation: nothing run, nothing recorded."""
        self._turn = Turn(datetime.min)
        self._directives = Directives()
        self._outcome = Outcome()
        self._book = TaskBook(self.instance_id, self._turn, self._maybe_resume)
        self._gate = InboundGate(self._book, self._outcome)
        # The gate's handlers are bound directly: they run for every replayed result.
        inbound = self._gate.on_inbound
        self._handlers.update(
            {
                EventKind.ACTIVITY_COMPLETED: inbound,
                EventKind.ACTIVITY_FAILED: inbound,
                EventKind.TIMER_FIRED: inbound,
                EventKind.CHILD_COMPLETED: inbound,
                EventKind.CHILD_FAILED: inbound,
                EventKind.EVENT_RAISED: inbound,
                EventKind.SUSPENDED: self._gate.on_suspended,
                EventKind.RESUMED: self._gate.on_resumed,
                EventKind.ACTIVITY_SCHEDULED: self._on_scheduled,
                EventKind.TIMER_CREATED: self._on_scheduled,
                EventKind.CHILD_CREATED: self._on_scheduled,
            }
        )
        self._ctx = DaprWorkflowContext(self.instance_id, self._turn, self._book, self._directives)
        #: The workflow's generator, or its coroutine (``async def``): driven alike.
        self._gen: Generator[Any, Any, Any] | Coroutine[Any, Any, Any] | None = None
        self._awaiting: Task[Any] | None = None
        self._recorded_custom_status: str | None = None
        self._started: WorkflowStarted | None = None
        self._commands: list[Command] = []
        self.history_length = 0
        #: The named version this execution runs (recorded by its first step), and
        #: whether the current step is the one that chose it (and records it).
        self._version: str | None = None
        self._version_chosen = False
        #: Why the execution is stalled, as its last step recorded (or this one found).
        self._stall: tuple[StallReason, str] | None = None
        #: The version history names is not registered: the code cannot even start.
        self._missing_version: tuple[StallReason, str] | None = None
        #: The code cannot run (its version is missing, or it ran into a stall and its
        #: state is no longer that of history): events are recorded as they come.
        self._without_code = False
        self._identities: set[tuple[EventKind, object]] = set()

    @property
    def now(self) -> datetime:
        return self._turn.now

    @property
    def replaying(self) -> bool:
        return self._turn.replaying

    @property
    def status(self) -> WorkflowStatus:
        status = self._outcome.status
        if self.stall is not None:
            return WorkflowStatus.STALLED
        if self._gate.suspended and status is WorkflowStatus.RUNNING:
            return WorkflowStatus.SUSPENDED
        return status

    @property
    def stall(self) -> tuple[StallReason, str] | None:
        """Why the execution is stalled (``STALLED``), if it is."""
        return None if self._outcome.recorded else self._missing_version or self._stall

    @property
    def is_terminal(self) -> bool:
        return self._outcome.recorded

    @property
    def name(self) -> str | None:
        return self._started.name if self._started else None

    @property
    def parent(self) -> ParentRef | None:
        return self._started.parent if self._started else None

    @property
    def output(self) -> str | None:
        return self._outcome.output

    @property
    def failure(self) -> FailureDetails | None:
        return self._outcome.failure

    @property
    def custom_status(self) -> str | None:
        return self._recorded_custom_status

    def is_settled(self, task_id: int) -> bool:
        """Scheduled in this view of the history and no longer open.  History only grows,
        so this holds in any newer view too; a view that is behind the store may simply
        not know a task yet, which is *not* settled."""
        return self._book.is_settled(task_id)

    @property
    def open_activities(self) -> int:
        """How many activities are scheduled and not settled (a fan-out in flight: many)."""
        return sum(1 for o in self._book.open.values() if isinstance(o.action, ScheduleActivity))

    def child_instance_ids(self) -> list[str]:
        """IDs of the children this execution started and that have not reported back."""
        return [c.instance_id for c in self._book.open_children()]

    def _terminate_children(self) -> list[TerminateChild]:
        return [TerminateChild(c.instance_id, c.app_id) for c in self._book.open_children()]

    # -- the two entry points ----------------------------------------------------

    def replay(self, history: Iterable[HistoryEvent]) -> None:
        """Rebuild state from recorded history (``is_replaying`` is true meanwhile)."""
        self._turn.replaying = True
        handlers = self._handlers
        count = 0
        try:
            for event in history:
                count += 1
                handlers[event.kind](event)
            # Actions the code takes at the end of history that history does not have
            # (new code, or code back after a stall) are this execution's next step's:
            # kept, as durabletask keeps them, and recorded by the next ``step``.
        except NonDeterminismError as exc:
            self._outcome.fail(FailureDetails.of(NonDeterminismError, str(exc)))
            self._gen = None
            self._book.actions.clear()
        finally:
            self.history_length += count
            self._turn.replaying = False
            self._commands.clear()

    def step(self, new_events: Sequence[HistoryEvent], now: datetime, *, replaying: bool = False) -> StepResult:
        """Apply new events at time ``now``; returns what to append and to do.
        ``replaying``: the code already ran for these events, in a step that was not
        recorded (it lost a write race and is tried again); it sees ``is_replaying``, so
        that what it does only when not replaying is not done twice."""
        if self._outcome.recorded:
            return self._result((), new_generation=False)
        self._turn.replaying = False
        self._turn.rerun = replaying
        self._commands = []
        out: list[HistoryEvent] = [TurnStarted(now)]
        self._turn.now = now
        accepted = False
        for event in new_events:
            if event.kind not in NEW_EVENT_KINDS:
                raise ValueError(f"{event.kind.value} is recorded by the executor, not passed in as a new event")
            if isinstance(event, WorkflowFailed):
                recorded = self._on_failed_by_engine(event)
            else:
                recorded = self._handlers[event.kind](event)
            if recorded:
                out.append(event)
                accepted = True
        stall = self._find_stall()
        if stall is not None:
            return self._stalled(out, stall, accepted)
        # Back from a stall: recorded even if nothing else is, for the status to follow.
        accepted = accepted or (self._stall is not None and not self._outcome.recorded)
        self._stall = None
        self._flush(out)
        new_generation = False
        generations = 0
        while self._outcome.status is WorkflowStatus.CONTINUED_AS_NEW:
            generations += 1
            out = self._next_generation(now, generations)
            new_generation = True
        if not new_generation and not accepted and len(out) == 1:
            return self._result((), new_generation=False)
        patches = self._directives.patches
        if (patches.new or self._version_chosen) and isinstance(out[0], TurnStarted):
            # Recorded with the step whose code first applied them, for replays to follow.
            out[0] = TurnStarted(
                out[0].timestamp, tuple(patches.new) or None, self._version if self._version_chosen else None
            )
            patches.history.extend(patches.new)
            patches.new.clear()
            self._version_chosen = False
        self.history_length = (0 if new_generation else self.history_length) + len(out)
        return self._result(tuple(out), new_generation=new_generation)

    def pending_commands(self) -> tuple[Command, ...]:
        """Every command still owed by recorded history: to re-dispatch after a crash."""
        cmds: list[Command] = []
        if self._outcome.status is WorkflowStatus.TERMINATED:
            cmds.extend(self._terminate_children())
        else:
            unrecorded = self._book.actions
            cmds.extend(o.action for o in self._book.open.values() if o.action.task_id not in unrecorded)
        if self._outcome.recorded and self.parent is not None:
            cmds.append(self._notify_parent())
        return tuple(cmds)

    # -- step helpers ------------------------------------------------------------

    def _result(self, events: tuple[HistoryEvent, ...], *, new_generation: bool) -> StepResult:
        return StepResult(
            events=events,
            commands=tuple(self._commands) if events else (),
            status=self.status,
            output=self._outcome.output,
            failure=self._outcome.failure,
            custom_status=self._recorded_custom_status,
            new_generation=new_generation,
        )

    def _find_stall(self) -> tuple[StallReason, str] | None:
        """Why this step cannot be recorded as the code ran it, if it cannot: the code
        is missing, or it no longer applies the patches history recorded, in their
        order (Dapr's rule: history's patches are a prefix of the run's)."""
        if self._outcome.recorded:
            return None
        if self._missing_version is not None:
            return self._missing_version
        if self._without_code:
            return self._stall
        patches = self._directives.patches
        history = patches.history
        if history and patches.applied[: len(history)] != history:
            return (
                StallReason.PATCH_MISMATCH,
                f"Patch mismatch. History patches: [{', '.join(history)}], "
                f"current patches: [{', '.join(patches.applied)}]. ",
            )
        return None

    def _stalled(self, out: list[HistoryEvent], stall: tuple[StallReason, str], accepted: bool) -> StepResult:
        """Record the step's events and the stall, and nothing the code did with them:
        the code that can replay them will act on them. The code's state is now past
        what history holds, so this execution runs no more code (rebuild it to retry)."""
        if not self._without_code:
            self._without_code = True
            self._hold_without_code()
        self._book.actions.clear()
        self._directives.continue_with = None
        self._directives.custom_status = self._recorded_custom_status
        outcome = self._outcome
        outcome.status, outcome.output, outcome.failure = WorkflowStatus.RUNNING, None, None
        if not accepted and self._stall == stall:
            return self._result((), new_generation=False)
        self._stall = stall
        out.append(Stalled(self._turn.now, *stall))
        self._directives.patches.new.clear()
        self.history_length += len(out)
        return self._result(tuple(out), new_generation=False)

    def _hold_without_code(self) -> None:
        for kind in _HELD_WITHOUT_CODE:
            self._handlers[kind] = self._hold
        self._handlers[EventKind.ACTIVITY_SCHEDULED] = self._handlers[EventKind.TIMER_CREATED] = self._handlers[
            EventKind.CHILD_CREATED
        ] = self._on_scheduled_without_code

    def _hold(self, event: HistoryEvent) -> bool:
        """Without the code, an event is recorded unless it is a second delivery of one
        recorded already (the same result of the same task, the same management event)."""
        key = getattr(event, "event_id", None)
        if key is None:
            key = getattr(event, "task_id", None)
        if key is None:
            return True
        identity = (event.kind, key)
        if identity in self._identities:
            return False
        self._identities.add(identity)
        return True

    def _on_scheduled_without_code(self, event: HistoryEvent) -> bool:
        return True

    def _flush(self, out: list[HistoryEvent]) -> None:
        """Record what the code did in this step: its actions, a changed custom status,
        and its ending if it ended."""
        now = self._turn.now
        actions = self._book.actions
        for action in actions.values():
            out.append(scheduled_event(action, now))
            self._commands.append(action)
        actions.clear()
        if self._directives.custom_status != self._recorded_custom_status:
            self._recorded_custom_status = self._directives.custom_status
            out.append(CustomStatusSet(now, self._directives.custom_status))
        outcome = self._outcome
        if outcome.recorded or outcome.status is WorkflowStatus.CONTINUED_AS_NEW:
            return
        if outcome.status is WorkflowStatus.COMPLETED:
            out.append(WorkflowCompleted(now, outcome.output))
        elif outcome.status is WorkflowStatus.FAILED and outcome.failure is not None:
            out.append(WorkflowFailed(now, outcome.failure))
        else:
            return
        outcome.recorded = True
        if self.parent is not None:
            self._commands.append(self._notify_parent())

    def _next_generation(self, now: datetime, generations: int) -> list[HistoryEvent]:
        """Continue as new: the whole first step of the next generation."""
        started, continue_with = self._started, self._directives.continue_with
        if started is None or continue_with is None:
            raise ValueError("continue-as-new without a started workflow and a new input")
        new_input, save_events = continue_with
        carried = self._book.inbox.drain() if save_events else []
        name, parent = started.name, started.parent
        seen = self._gate.seen_since(now - SEEN_EVENTS_HORIZON) or None
        self._reset()
        self._turn.now = now
        out: list[HistoryEvent] = [TurnStarted(now), WorkflowStarted(now, name, new_input, parent, seen)]
        out.extend(EventRaised(now, n, d) for n, d in carried)
        if generations > MAX_GENERATIONS_PER_STEP:
            self._started = WorkflowStarted(now, name, new_input, parent, seen)
            self._fail(
                FailureDetails.of(
                    WorkflowLoopError, f"workflow continued as new {generations} times without waiting on any task"
                )
            )
        else:
            for event in out[1:]:
                self._handlers[event.kind](event)
        self._flush(out)
        return out

    def _notify_parent(self) -> NotifyParent:
        parent = self.parent
        if parent is None:
            raise ValueError("only a child workflow has a parent to notify")
        if self._outcome.status is WorkflowStatus.COMPLETED:
            return NotifyParent(parent, self._outcome.output, None)
        failure = self._outcome.failure
        if failure is None:
            failure = FailureDetails.of(ChildTerminated, "the child workflow was terminated")
        return NotifyParent(parent, None, failure)

    def _finish(self, value: Any) -> None:
        self._gen = None
        if self._directives.continue_with is not None:
            self._outcome.status = WorkflowStatus.CONTINUED_AS_NEW
            return
        try:
            self._outcome.output = encode(value)
        except (TypeError, ValueError) as exc:
            self._fail(FailureDetails.from_exception(exc))
            return
        self._outcome.status = WorkflowStatus.COMPLETED

    def _fail(self, failure: FailureDetails) -> None:
        self._gen = None
        self._outcome.fail(failure)

    # -- event handlers (return whether the event is recorded) --------------------

    def _on_turn(self, event: TurnStarted) -> bool:
        self._turn.now = event.timestamp
        self._stall = None  # a stalled step ends with its Stalled event
        if event.patches:
            patches = self._directives.patches
            patches.recorded.update(event.patches)
            patches.history.extend(p for p in event.patches if p not in patches.history)
        if event.version is not None and self._version is None:
            self._version = event.version
        return True

    def _on_stalled(self, event: Stalled) -> bool:
        self._stall = (event.reason, event.description)
        return True

    def _on_started(self, event: WorkflowStarted) -> bool:
        if self._started is not None:
            return False
        self._started = event
        self._ctx.propagated = event.propagated
        if event.seen:
            self._gate.inherit(event.seen)
        self._outcome.status = WorkflowStatus.RUNNING
        entry = self._workflows.get(event.name)
        if entry is None:
            known = ", ".join(sorted(self._workflows)) or "none"
            self._fail(
                FailureDetails.of(
                    WorkflowNotRegisteredError, f"workflow '{event.name}' is not registered (registered: {known})"
                )
            )
            return True
        if isinstance(entry, WorkflowVersions):
            try:
                version, fn = entry.resolve(self._version)
            except VersionNotAvailable as exc:
                self._missing_version = (StallReason.VERSION_NOT_AVAILABLE, str(exc))
                self._without_code = True
                self._hold_without_code()
                return True
            except WorkflowNotRegisteredError as exc:
                self._fail(FailureDetails.from_exception(exc))
                return True
            if self._version is None:
                self._version, self._version_chosen = version, True
        else:
            fn = entry
        try:
            result = call_user(fn, self._ctx, decode(event.input))
        except Exception as exc:
            self._fail(FailureDetails.from_exception(exc))
            return True
        if inspect.isasyncgen(result):
            result.aclose().close()
            self._fail(
                FailureDetails.of(
                    TypeError, f"workflow '{event.name}' is an async generator: an async workflow awaits its tasks"
                )
            )
        elif inspect.isgenerator(result) or inspect.iscoroutine(result):
            # An ``async def`` workflow's coroutine is driven as a generator is: each
            # ``await task`` hands the task out (``Task.__await__``) and takes its result
            # or failure back; no event loop runs, nothing else is awaited.
            self._gen = result
            self._drive(None)
        else:
            self._finish(result)
        return True

    def _on_scheduled(self, event: ActivityScheduled | TimerCreated | ChildCreated) -> bool:
        action = self._book.actions.pop(event.task_id, None)
        if action is None:
            if self._outcome.recorded:
                return True
            raise NonDeterminismError(
                f"the history has {describe(event)} scheduled at task {event.task_id}, "
                "but the workflow code did not schedule anything there"
            )
        if not matches(action, event):
            raise NonDeterminismError(
                f"the history has {describe(event)} scheduled at task {event.task_id}, "
                f"but the workflow code scheduled {describe(action)} there"
            )
        if isinstance(event, ActivityScheduled) and isinstance(action, ScheduleActivity):
            self._sent_input(event, action)
        return True

    def _sent_input(self, event: ActivityScheduled, action: ScheduleActivity) -> None:
        """What was sent is what history holds (a rerun may have given the activity a
        new input, ``wf/engine/operate.py``): a re-dispatch after a crash sends that,
        and so do the activity's later attempts under its retry policy."""
        entry = self._book.open.get(event.task_id)
        if action.input != event.input and isinstance(entry, (Plain, Attempt)) and entry.action is action:
            self._book.open[event.task_id] = replace(entry, action=replace(action, input=event.input))
            if isinstance(entry, Attempt):
                entry.retry.input = event.input

    def _on_custom_status(self, event: CustomStatusSet) -> bool:
        self._recorded_custom_status = event.status
        return True

    def _on_recorded_terminal(self, event: HistoryEvent) -> bool:
        # The outcome in history is authoritative for the status reported.
        outcome = self._outcome
        if isinstance(event, WorkflowCompleted):
            outcome.status, outcome.output = WorkflowStatus.COMPLETED, event.output
        elif isinstance(event, WorkflowFailed):
            outcome.status, outcome.failure = WorkflowStatus.FAILED, event.failure
        outcome.recorded = True
        self._gen = None
        return True

    def _on_terminated(self, event: WorkflowTerminated) -> bool:
        outcome = self._outcome
        if outcome.recorded:
            return False
        outcome.status = WorkflowStatus.TERMINATED
        outcome.output = event.output
        outcome.recorded = True
        self._gen = None
        self._gate.drop_held()
        self._commands.extend(self._terminate_children())
        if self.parent is not None:
            self._commands.append(self._notify_parent())
        return True

    def _on_failed_by_engine(self, event: WorkflowFailed) -> bool:
        if self._outcome.recorded:
            return False
        self._fail(event.failure)
        self._outcome.recorded = True
        self._book.actions.clear()  # whatever the code scheduled in this step is not carried out
        if self.parent is not None:
            self._commands.append(self._notify_parent())
        return True

    def _maybe_resume(self) -> None:
        task = self._awaiting
        if task is not None and task._complete and self._outcome.status is WorkflowStatus.RUNNING:
            self._awaiting = None
            self._drive(task)

    def _drive(self, task: Task[Any] | None) -> None:
        gen = self._gen
        if gen is None:
            return
        while True:
            try:
                if task is None:
                    yielded = gen.send(None)
                elif task._exception is not None:
                    yielded = gen.throw(task._exception)
                else:
                    yielded = gen.send(task._result)
            except StopIteration as stop:
                self._finish(stop.value)
                return
            except RuntimeError as exc:
                if inspect.iscoroutine(gen) and "event loop" in str(exc):
                    # asyncio's own awaitables want a running loop, and none runs here.
                    message = (
                        f"the workflow awaited something of asyncio's ({exc}); workflows may only await tasks "
                        "from call_activity, call_child_workflow, create_timer, wait_for_external_event, "
                        "when_all or when_any (no event loop runs a workflow: for asyncio.sleep, await "
                        "ctx.create_timer)"
                    )
                    self._fail(FailureDetails.of(TypeError, message))
                else:
                    self._fail(FailureDetails.from_exception(exc))
                return
            except Exception as exc:
                self._fail(FailureDetails.from_exception(exc))
                return
            if self._directives.continue_with is not None:
                self._finish(None)
                return
            if not isinstance(yielded, Task):
                verb = "await" if inspect.iscoroutine(gen) else "yield"
                self._fail(
                    FailureDetails.of(
                        TypeError,
                        f"the workflow {verb}ed a {type(yielded).__name__} ({yielded!r:.80}); workflows may only "
                        f"{verb} tasks from call_activity, call_child_workflow, create_timer, "
                        "wait_for_external_event, when_all or when_any (no event loop runs a workflow: "
                        "for asyncio.sleep, await ctx.create_timer)",
                    )
                )
                if inspect.iscoroutine(gen):
                    gen.close()
                return
            if not yielded._complete:
                self._awaiting = yielded
                return
            task = yielded


def run_step(
    workflows: Mapping[str, WorkflowEntry],
    instance_id: str,
    history: Iterable[HistoryEvent],
    new_events: Sequence[HistoryEvent],
    now: datetime,
) -> StepResult:
    """The pure step: (history, new events, now) -> (events to append, commands, status)."""
    execution = Execution(workflows, instance_id)
    execution.replay(history)
    return execution.step(new_events, now)
