"""Carrying out a committed step's commands: queued work, timers, child starts and
terminations, the parent's notification, and inline activities."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from wf._budget import ActivityBudget
from wf._cache import Live
from wf._commands import Command, NotifyParent, ScheduleActivity, ScheduleTimer, StartChild, TerminateChild
from wf._errors import FailureDetails
from wf._history import ChildCompleted, ChildFailed, HistoryEvent, WorkflowTerminated
from wf._messages import MessageKind, WorkMessage
from wf._metrics import Metric, Metrics
from wf._queue import MAX_DELAY_SECONDS, OutMessage, WorkQueue
from wf._runtime import WorkflowRuntime

log = logging.getLogger("wf.engine")

#: Attempts to record a step before its events are handed on to fresh messages.
MAX_CONFLICT_RETRIES = 5


class CommandDispatch:
    """The part of ``Engine`` that acts on commands once their step is committed."""

    runtime: WorkflowRuntime
    queue: WorkQueue
    clock: Callable[[], datetime]
    budget: ActivityBudget
    metrics: Metrics

    if TYPE_CHECKING:

        def _start_child(self, live: Live, cmd: StartChild) -> FailureDetails | None: ...

    def _requeue(self, instance_id: str, execution_id: str | None, events: list[HistoryEvent]) -> None:
        """Every attempt to record ``events`` lost a race: other invocations are busy
        stepping this instance (a wide fan-out's results). Hand the events on to fresh
        messages rather than failing the records: no activity runs again, and no
        receive count, which counts crashes, is spent on contention."""
        log.info("%s: %d event(s) requeued after %d write conflicts", instance_id, len(events), MAX_CONFLICT_RETRIES)
        now = self.clock()
        self.queue.send([event_message(instance_id, execution_id, now, e) for e in events])
        self.metrics.count(Metric.EVENTS_REQUEUED, len(events))

    def _carry_out(
        self,
        live: Live,
        commands: Iterable[Command],
        *,
        allow_inline: bool,
        remaining_ms: Callable[[], int] | None = None,
        defer_children: bool = False,
    ) -> list[HistoryEvent]:
        """Send queued work, start children; run inline activities and return their results.

        With ``defer_children`` (a start whose record is not written yet) a child start is
        sent as a message too, so that a refused start has no effect at all."""
        iid, exec_id = live.meta.instance_id, live.meta.execution_id
        now = self.clock()
        out: list[OutMessage] = []
        inline: list[ScheduleActivity] = []
        for cmd in commands:
            if isinstance(cmd, ScheduleActivity):
                spec = self.runtime.activities.get(cmd.name)
                if allow_inline and spec is not None and spec.inline:
                    inline.append(cmd)
                else:
                    out.append(activity_message(iid, exec_id, now, cmd))
            elif isinstance(cmd, ScheduleTimer):
                delay = max(0, math.ceil((cmd.fire_at - now).total_seconds()))
                out.append(
                    WorkMessage(MessageKind.TIMER, iid, exec_id, now, cmd.task_id, fire_at=cmd.fire_at).to_out(
                        min(delay, MAX_DELAY_SECONDS)
                    )
                )
            elif isinstance(cmd, StartChild) and defer_children:
                out.append(
                    WorkMessage(
                        MessageKind.START_CHILD,
                        iid,
                        exec_id,
                        now,
                        cmd.task_id,
                        cmd.name,
                        cmd.input,
                        child_id=cmd.instance_id,
                    ).to_out()
                )
            elif isinstance(cmd, StartChild):
                failure = self._start_child(live, cmd)
                if failure is not None:
                    out.append(event_message(iid, exec_id, now, ChildFailed(now, cmd.task_id, failure)))
            elif isinstance(cmd, TerminateChild):
                out.append(event_message(cmd.instance_id, None, now, WorkflowTerminated(now, None)))
            elif isinstance(cmd, NotifyParent):
                p = cmd.parent
                event: HistoryEvent = (
                    ChildCompleted(now, p.task_id, cmd.result)
                    if cmd.failure is None
                    else ChildFailed(now, p.task_id, cmd.failure)
                )
                out.append(event_message(p.instance_id, p.execution_id, now, event))
        if out:
            self.queue.send(out)
        results: list[HistoryEvent] = []
        late: list[OutMessage] = []
        for c in inline:
            # Decided one at a time: each run uses up the invocation's time.
            if self.budget.may_start(c.name, remaining_ms):
                results.append(self._run_activity(c.name, iid, c.task_id, c.input))
            else:
                late.append(activity_message(iid, exec_id, self.clock(), c))
        if late:
            self.queue.send(late)
            self.metrics.count(Metric.ACTIVITIES_DEFERRED, len(late))
        return results

    def _run_activity(self, name: str, iid: str, task_id: int, input: str | None) -> HistoryEvent:
        self.metrics.count(Metric.ACTIVITIES_RUN)
        return self.budget.timed(name, lambda: self.runtime.run_activity(name, iid, task_id, input, self.clock()))


def activity_message(iid: str, exec_id: str, now: datetime, cmd: ScheduleActivity) -> OutMessage:
    return WorkMessage(MessageKind.ACTIVITY, iid, exec_id, now, cmd.task_id, cmd.name, cmd.input).to_out()


def event_message(iid: str, exec_id: str | None, now: datetime, event: HistoryEvent) -> OutMessage:
    return WorkMessage(MessageKind.EVENT, iid, exec_id, now, event=event).to_out()
