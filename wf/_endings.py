"""How an execution ends: completed or failed by its code, terminated, failed by the
engine, or continued as new; recording the outcome and telling the parent."""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from wf._commands import Command, NotifyParent, TerminateChild
from wf._errors import FailureDetails
from wf._history import (
    CustomStatusSet,
    EventKind,
    EventRaised,
    HistoryEvent,
    ParentRef,
    TurnStarted,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowStarted,
    WorkflowTerminated,
)
from wf._inbound import InboundEvents
from wf._serde import encode
from wf._status import WorkflowStatus

#: A workflow that continues-as-new this many times within one step without waiting on
#: anything is looping; it is failed rather than spinning the invocation.
MAX_GENERATIONS_PER_STEP = 1000


class Endings(InboundEvents):
    """The endings half of ``Execution``."""

    now: datetime
    _commands: list[Command]
    _recorded_custom_status: str | None
    _output: str | None
    _failure: FailureDetails | None
    _gen: Generator[Any, Any, Any] | None
    _started: WorkflowStarted | None
    _handlers: dict[EventKind, Callable[[Any], bool]]

    if TYPE_CHECKING:

        def _reset(self) -> None: ...

    @property
    def parent(self) -> ParentRef | None:
        return self._started.parent if self._started else None

    def child_instance_ids(self) -> list[str]:
        """IDs of the children this execution started and that have not reported back."""
        return [
            o.action.instance_id
            for o in self._open.values()
            if o.action.kind is EventKind.CHILD_CREATED and o.action.instance_id is not None
        ]

    def _next_generation(self, now: datetime, generations: int) -> list[HistoryEvent]:
        assert self._started is not None and self._continue is not None
        new_input, save_events = self._continue
        carried = self._inbox.drain() if save_events else []
        name, parent = self._started.name, self._started.parent
        self._reset()
        self._commands = []
        self.now = now
        out: list[HistoryEvent] = [TurnStarted(now), WorkflowStarted(now, name, new_input, parent)]
        out.extend(EventRaised(now, n, d) for n, d in carried)
        if generations > MAX_GENERATIONS_PER_STEP:
            self._started = WorkflowStarted(now, name, new_input, parent)
            self._fail(
                FailureDetails(
                    f"workflow continued as new {generations} times without waiting on any task",
                    "WorkflowLoopError",
                )
            )
        else:
            for event in out[1:]:
                self._handlers[event.kind](event)
        self._flush(out)
        return out

    def _flush(self, out: list[HistoryEvent]) -> None:
        now = self.now
        for action in self._actions.values():
            out.append(action.to_event(now))
            self._commands.append(action.to_command())
        self._actions.clear()
        if self._custom_status != self._recorded_custom_status:
            self._recorded_custom_status = self._custom_status
            out.append(CustomStatusSet(now, self._custom_status))
        if self._terminal_recorded or self._status is WorkflowStatus.CONTINUED_AS_NEW:
            return
        if self._status is WorkflowStatus.COMPLETED:
            out.append(WorkflowCompleted(now, self._output))
        elif self._status is WorkflowStatus.FAILED:
            assert self._failure is not None
            out.append(WorkflowFailed(now, self._failure))
        else:
            return
        self._terminal_recorded = True
        if self.parent is not None:
            self._commands.append(self._notify_parent())

    def _notify_parent(self) -> NotifyParent:
        assert self.parent is not None
        if self._status is WorkflowStatus.COMPLETED:
            return NotifyParent(self.parent, self._output, None)
        failure = self._failure
        if failure is None:
            failure = FailureDetails("the child workflow was terminated", "WorkflowTerminated")
        return NotifyParent(self.parent, None, failure)

    def _on_recorded_terminal(self, event: HistoryEvent) -> bool:
        # The outcome in history is authoritative for the status reported.
        if isinstance(event, WorkflowCompleted):
            self._status, self._output = WorkflowStatus.COMPLETED, event.output
        elif isinstance(event, WorkflowFailed):
            self._status, self._failure = WorkflowStatus.FAILED, event.failure
        self._terminal_recorded = True
        self._gen = None
        return True

    def _on_terminated(self, event: WorkflowTerminated) -> bool:
        if self._terminal_recorded:
            return False
        self._status = WorkflowStatus.TERMINATED
        self._output = event.output
        self._terminal_recorded = True
        self._gen = None
        self._held.clear()
        self._commands.extend(TerminateChild(i) for i in self.child_instance_ids())
        if self.parent is not None:
            self._commands.append(self._notify_parent())
        return True

    def _on_failed_by_engine(self, event: WorkflowFailed) -> bool:
        if self._terminal_recorded:
            return False
        self._fail(event.failure)
        self._terminal_recorded = True
        self._actions.clear()  # whatever the code scheduled in this step is not carried out
        if self.parent is not None:
            self._commands.append(self._notify_parent())
        return True

    def _finish(self, value: Any) -> None:
        self._gen = None
        if self._continue is not None:
            self._status = WorkflowStatus.CONTINUED_AS_NEW
            return
        try:
            self._output = encode(value)
        except (TypeError, ValueError) as exc:
            self._fail(FailureDetails.from_exception(exc))
            return
        self._status = WorkflowStatus.COMPLETED

    def _fail(self, failure: FailureDetails) -> None:
        self._gen = None
        self._status = WorkflowStatus.FAILED
        self._failure = failure
