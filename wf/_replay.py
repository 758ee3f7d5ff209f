"""The pure replay executor.

``Execution`` rebuilds a workflow's state by running its code against recorded history
(``replay``) and then advances it with new events (``step``), returning the events to
append, the commands to carry out and the resulting status.  It does no I/O and reads
no clock: the caller passes ``now``.  Kept in memory, an ``Execution`` is the warm
path: each ``step`` costs the same whatever the length of the history behind it.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from wf._commands import (
    Command,
    TerminateChild,
)
from wf._context import DaprWorkflowContext
from wf._endings import Endings
from wf._errors import FailureDetails, NonDeterminismError
from wf._history import (
    ActivityScheduled,
    ChildCreated,
    CustomStatusSet,
    EventKind,
    HistoryEvent,
    TimerCreated,
    TurnStarted,
    WorkflowFailed,
    WorkflowStarted,
)
from wf._pending import DESCRIBE, NEW_EVENT_KINDS, Action, Inbox, OpenTask, StepResult, call_user
from wf._serde import decode
from wf._status import WorkflowStatus
from wf._task import Task

WorkflowFn = Callable[..., Any]


class Execution(Endings):
    """The live state of one workflow execution (one generation of one instance)."""

    def __init__(self, workflows: Mapping[str, WorkflowFn], instance_id: str) -> None:
        self._workflows = workflows
        self.instance_id = instance_id
        self._handlers: dict[EventKind, Callable[[Any], bool]] = {
            EventKind.TURN_STARTED: self._on_turn,
            EventKind.WORKFLOW_STARTED: self._on_started,
            EventKind.WORKFLOW_COMPLETED: self._on_recorded_terminal,
            EventKind.WORKFLOW_FAILED: self._on_recorded_terminal,
            EventKind.WORKFLOW_TERMINATED: self._on_terminated,
            EventKind.CONTINUED_AS_NEW: self._on_recorded_terminal,
            EventKind.ACTIVITY_SCHEDULED: self._on_scheduled,
            EventKind.TIMER_CREATED: self._on_scheduled,
            EventKind.CHILD_CREATED: self._on_scheduled,
            EventKind.ACTIVITY_COMPLETED: self._on_inbound,
            EventKind.ACTIVITY_FAILED: self._on_inbound,
            EventKind.TIMER_FIRED: self._on_inbound,
            EventKind.CHILD_COMPLETED: self._on_inbound,
            EventKind.CHILD_FAILED: self._on_inbound,
            EventKind.EVENT_RAISED: self._on_inbound,
            EventKind.SUSPENDED: self._on_suspended,
            EventKind.RESUMED: self._on_resumed,
            EventKind.CUSTOM_STATUS: self._on_custom_status,
        }
        self._reset()

    # -- state -------------------------------------------------------------------

    def _reset(self) -> None:
        self.now = datetime.min
        self.replaying = False
        self._ctx = DaprWorkflowContext(self.instance_id, self)
        self._gen: Generator[Any, Any, Any] | None = None
        self._awaiting: Task[Any] | None = None
        self._status = WorkflowStatus.PENDING
        self._output: str | None = None
        self._failure: FailureDetails | None = None
        self._custom_status: str | None = None
        self._recorded_custom_status: str | None = None
        self._terminal_recorded = False
        self._next_id = 0
        self._actions: dict[int, Action] = {}
        self._open: dict[int, OpenTask] = {}
        self._inbox = Inbox()
        self._waiters: dict[str, deque[Task[Any]]] = {}
        self._suspended = False
        self._held: list[HistoryEvent] = []
        self._event_ids: set[str] = set()
        self._started: WorkflowStarted | None = None
        self._continue: tuple[str, bool] | None = None
        self._commands: list[Command] = []
        self.history_length = 0

    @property
    def status(self) -> WorkflowStatus:
        if self._suspended and self._status is WorkflowStatus.RUNNING:
            return WorkflowStatus.SUSPENDED
        return self._status

    @property
    def is_terminal(self) -> bool:
        return self._terminal_recorded

    @property
    def name(self) -> str | None:
        return self._started.name if self._started else None

    @property
    def output(self) -> str | None:
        return self._output

    @property
    def failure(self) -> FailureDetails | None:
        return self._failure

    @property
    def custom_status(self) -> str | None:
        return self._recorded_custom_status

    def is_settled(self, task_id: int) -> bool:
        """Scheduled in this view of the history and no longer open.  History only grows,
        so this holds in any newer view too; a view that is behind the store may simply
        not know a task yet, which is *not* settled."""
        return 0 < task_id <= self._next_id and task_id not in self._open

    # -- the two entry points ----------------------------------------------------

    def replay(self, history: Iterable[HistoryEvent]) -> None:
        """Rebuild state from recorded history (``is_replaying`` is true meanwhile)."""
        self.replaying = True
        handlers = self._handlers
        count = 0
        try:
            for event in history:
                count += 1
                handlers[event.kind](event)
            if self._actions and not self._terminal_recorded:
                self._raise_unrecorded_action()
        except NonDeterminismError as exc:
            self._fail(FailureDetails(str(exc), "NonDeterminismError", None))
            self._actions.clear()
        finally:
            self.history_length += count
            self.replaying = False
            self._commands.clear()

    def step(self, new_events: Sequence[HistoryEvent], now: datetime) -> StepResult:
        """Apply new events at time ``now``; returns what to append and to do."""
        if self._terminal_recorded:
            return self._result((), new_generation=False)
        self.replaying = False
        self._commands = []
        out: list[HistoryEvent] = [TurnStarted(now)]
        self.now = now
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
        self._flush(out)
        new_generation = False
        generations = 0
        while self._status is WorkflowStatus.CONTINUED_AS_NEW:
            generations += 1
            out = self._next_generation(now, generations)
            new_generation = True
        if not new_generation and not accepted and len(out) == 1:
            return self._result((), new_generation=False)
        self.history_length = (0 if new_generation else self.history_length) + len(out)
        return self._result(tuple(out), new_generation=new_generation)

    def pending_commands(self) -> tuple[Command, ...]:
        """Every command still owed by recorded history: to re-dispatch after a crash."""
        cmds: list[Command] = []
        if self._status is WorkflowStatus.TERMINATED:
            cmds.extend(TerminateChild(i) for i in self.child_instance_ids())
        else:
            cmds.extend(o.action.to_command() for o in self._open.values())
        if self._terminal_recorded and self.parent is not None:
            cmds.append(self._notify_parent())
        return tuple(cmds)

    # -- step helpers ------------------------------------------------------------

    def _result(self, events: tuple[HistoryEvent, ...], *, new_generation: bool) -> StepResult:
        return StepResult(
            events=events,
            commands=tuple(self._commands) if events else (),
            status=self.status,
            output=self._output,
            failure=self._failure,
            custom_status=self._recorded_custom_status,
            new_generation=new_generation,
        )

    def _raise_unrecorded_action(self) -> None:
        action = next(iter(self._actions.values()))
        raise NonDeterminismError(
            f"the workflow code scheduled {action.describe()} at task {action.task_id}, "
            "but the history has no record of it"
        )

    # -- event handlers (return whether the event is recorded) --------------------

    def _on_turn(self, event: TurnStarted) -> bool:
        if self._actions and not self._terminal_recorded:
            self._raise_unrecorded_action()
        self.now = event.timestamp
        return True

    def _on_started(self, event: WorkflowStarted) -> bool:
        if self._started is not None:
            return False
        self._started = event
        self._status = WorkflowStatus.RUNNING
        fn = self._workflows.get(event.name)
        if fn is None:
            known = ", ".join(sorted(self._workflows)) or "none"
            self._fail(
                FailureDetails(
                    f"workflow '{event.name}' is not registered (registered: {known})",
                    "WorkflowNotRegisteredError",
                )
            )
            return True
        try:
            result = call_user(fn, self._ctx, decode(event.input))
        except Exception as exc:
            self._fail(FailureDetails.from_exception(exc))
            return True
        if inspect.isgenerator(result):
            self._gen = result
            self._drive(None)
        else:
            self._finish(result)
        return True

    def _on_scheduled(self, event: ActivityScheduled | TimerCreated | ChildCreated) -> bool:
        action = self._actions.pop(event.task_id, None)
        recorded = f"{DESCRIBE[event.kind]}" + (f" '{event.name}'" if not isinstance(event, TimerCreated) else "")
        if action is None:
            if self._terminal_recorded:
                return True
            raise NonDeterminismError(
                f"the history has {recorded} scheduled at task {event.task_id}, "
                "but the workflow code did not schedule anything there"
            )
        if action.kind is not event.kind or action.name != getattr(event, "name", ""):
            raise NonDeterminismError(
                f"the history has {recorded} scheduled at task {event.task_id}, "
                f"but the workflow code scheduled {action.describe()} there"
            )
        return True

    def _on_custom_status(self, event: CustomStatusSet) -> bool:
        self._recorded_custom_status = event.status
        return True

    def _maybe_resume(self) -> None:
        task = self._awaiting
        if task is not None and task._complete and self._status is WorkflowStatus.RUNNING:
            self._awaiting = None
            self._drive(task)

    def _drive(self, task: Task[Any] | None) -> None:
        gen = self._gen
        assert gen is not None
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
            except Exception as exc:
                self._fail(FailureDetails.from_exception(exc))
                return
            if self._continue is not None:
                self._finish(None)
                return
            if not isinstance(yielded, Task):
                self._fail(
                    FailureDetails(
                        f"the workflow yielded a {type(yielded).__name__} ({yielded!r:.80}); workflows may only "
                        "yield tasks from call_activity, call_child_workflow, create_timer, "
                        "wait_for_external_event, when_all or when_any",
                        "TypeError",
                    )
                )
                return
            if not yielded._complete:
                self._awaiting = yielded
                return
            task = yielded


def run_step(
    workflows: Mapping[str, WorkflowFn],
    instance_id: str,
    history: Iterable[HistoryEvent],
    new_events: Sequence[HistoryEvent],
    now: datetime,
) -> StepResult:
    """The pure step: (history, new events, now) -> (events to append, commands, status)."""
    execution = Execution(workflows, instance_id)
    execution.replay(history)
    return execution.step(new_events, now)
