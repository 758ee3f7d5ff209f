"""Carrying out a committed step's commands: queued work, timers, child starts and
terminations, the parent's notification, and inline activities."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from wf.core.commands import Command, NotifyParent, ScheduleActivity, ScheduleTimer, StartChild, TerminateChild
from wf.core.history import (
    ActivityCompleted,
    ActivityFailed,
    ChildCompleted,
    ChildFailed,
    HistoryEvent,
    Propagated,
    WorkflowTerminated,
)
from wf.core.propagation import DEFAULT_APP_ID, propagate
from wf.core.registry import Registry
from wf.engine.budget import ActivityBudget
from wf.engine.cache import Live
from wf.engine.limits import MAX_INLINE_PAYLOAD_BYTES, payload_size
from wf.engine.messages import (
    ActivityMessage,
    CalledActivityMessage,
    CalledChildMessage,
    DispatchMessage,
    EventMessage,
    RelayMessage,
    StartChildMessage,
    TimerMessage,
    WorkMessage,
)
from wf.engine.metrics import Metric, Metrics
from wf.engine.peers import Peers
from wf.engine.queue import OutMessage, WorkQueue
from wf.engine.waits import BILLED, Waits
from wf.errors import ActivityTimeoutError, FailureDetails, PayloadTooLargeError, QueueError, UnknownAppError

log = logging.getLogger("wf.engine")

#: Attempts to record a step before its events are handed on to fresh messages.
MAX_CONFLICT_RETRIES = 5

#: Work messages (activities, timers, children) a step sends itself; the rest goes to
#: ``DispatchMessage``s, so that a start or a step of any width answers at once (ten
#: SendMessageBatch calls). A dispatch message sends up to ``DISPATCH_SENDS`` itself.
INLINE_SENDS = 100
DISPATCH_SENDS = 500
#: Dispatch messages a step or dispatch message splits its rest into (one send): a wide
#: fan-out's work goes out from as many containers at once, each range splitting again.
DISPATCH_SPLIT = 10

#: Starts a child for a parent's execution; returns why it could not, if it could not.
ChildStarter = Callable[[Live, StartChild], FailureDetails | None]


class Dispatcher:
    """Acts on commands once their step is committed, and runs activities."""

    def __init__(
        self,
        registry: Registry,
        queue: WorkQueue,
        clock: Callable[[], datetime],
        budget: ActivityBudget,
        metrics: Metrics,
        start_child: ChildStarter,
        waits: Waits = BILLED,
        app_id: str = DEFAULT_APP_ID,
        max_payload_bytes: int = MAX_INLINE_PAYLOAD_BYTES,
        limited: Callable[[str], bool] = lambda name: False,
        peers: Peers | None = None,
    ) -> None:
        #: The other apps this one calls and answers (``wf/engine/peers.py``).
        self.peers = peers or Peers(app_id)
        #: Whether an activity falls under a deployment-wide concurrency limit: then it
        #: is always queued, even if marked inline, so that it takes a slot to run.
        self._limited = limited
        self._waits = waits
        self._max_payload = max_payload_bytes
        self._registry = registry
        self._queue = queue
        self._clock = clock
        self._budget = budget
        self._metrics = metrics
        self._start_child = start_child

    def send(self, messages: Sequence[OutMessage]) -> None:
        """Queue messages as they are (a scheduled start's)."""
        self._queue.send(list(messages))

    def requeue(self, instance_id: str, execution_id: str | None, events: list[HistoryEvent]) -> None:
        """Every attempt to record ``events`` lost a race: other invocations are busy
        stepping this instance (a wide fan-out's results). Hand the events on to fresh
        messages rather than failing the records: no activity runs again, and no
        receive count, which counts crashes, is spent on contention."""
        log.info("%s: %d event(s) requeued after %d write conflicts", instance_id, len(events), MAX_CONFLICT_RETRIES)
        now = self._clock()
        self._queue.send([event_message(instance_id, execution_id, now, e) for e in events])
        self._metrics.count(Metric.EVENTS_REQUEUED, len(events))

    def carry_out(
        self,
        live: Live,
        commands: Iterable[Command],
        *,
        allow_inline: bool,
        remaining_ms: Callable[[], int] | None = None,
        defer_children: bool = False,
        max_sends: int = INLINE_SENDS,
    ) -> list[HistoryEvent]:
        """Send queued work, start children; run inline activities and return their results.

        With ``defer_children`` (a start whose record is not written yet) a child start is
        sent as a message too, so that a refused start has no effect at all. Beyond
        ``max_sends`` tasks, the rest goes to ``DispatchMessage``s."""
        iid, exec_id = live.meta.instance_id, live.meta.execution_id
        now = self._clock()
        commands, later = self._bounded(list(commands), allow_inline, max_sends)
        out: list[OutMessage] = [DispatchMessage(iid, exec_id, now, lo, hi).to_out() for lo, hi in later]
        if later:
            log.info(
                "%s: %d task(s) more go out from %d dispatch message(s)",
                iid,
                sum(1 + hi - lo for lo, hi in later),
                len(later),
            )
        inline: list[ScheduleActivity] = []
        called: list[tuple[str, WorkMessage, HistoryEvent]] = []
        for cmd in commands:
            if isinstance(cmd, ScheduleActivity | StartChild) and self.peers.is_remote(cmd.app_id):
                if defer_children:
                    # A start whose record is not written yet: its own worker sends the
                    # work on once it is (a refused start must not run another app's code).
                    out.append(deferred_call(iid, exec_id, now, cmd).to_out())
                else:
                    called.append(self.call(live, cmd, now))
            elif isinstance(cmd, ScheduleActivity):
                if allow_inline and self._inline(cmd.name):
                    inline.append(cmd)
                else:
                    out.append(activity_message(iid, exec_id, now, cmd))
            elif isinstance(cmd, ScheduleTimer):
                delay = self._waits.timer_delay((cmd.fire_at - now).total_seconds())
                out.append(TimerMessage(iid, exec_id, now, cmd.task_id, cmd.fire_at).to_out(delay))
            elif isinstance(cmd, StartChild) and defer_children:
                out.append(
                    StartChildMessage(
                        iid, exec_id, now, cmd.task_id, cmd.name, cmd.input, cmd.instance_id, cmd.propagation
                    ).to_out()
                )
            elif isinstance(cmd, StartChild):
                failure = self._start_child(live, cmd)
                if failure is not None:
                    out.append(event_message(iid, exec_id, now, ChildFailed(now, cmd.task_id, failure)))
            elif isinstance(cmd, TerminateChild) and self.peers.is_remote(cmd.app_id) and cmd.app_id is not None:
                terminated = EventMessage(cmd.instance_id, None, now, WorkflowTerminated(now, None))
                called.append((cmd.app_id, terminated, terminated.event))
            elif isinstance(cmd, TerminateChild):
                out.append(event_message(cmd.instance_id, None, now, WorkflowTerminated(now, None)))
            elif isinstance(cmd, NotifyParent):
                p = cmd.parent
                event: HistoryEvent = (
                    ChildCompleted(now, p.task_id, cmd.result)
                    if cmd.failure is None
                    else ChildFailed(now, p.task_id, cmd.failure)
                )
                if self.peers.is_remote(p.app_id) and p.app_id is not None:
                    notice = EventMessage(p.instance_id, p.execution_id, now, event)
                    called.append((p.app_id, notice, event))
                else:
                    out.append(event_message(p.instance_id, p.execution_id, now, event))
        out += self.send_to_apps(called)
        if out:
            self._queue.send(out)
        results: list[HistoryEvent] = []
        late: list[OutMessage] = []
        for c in inline:
            # Decided one at a time: each run uses up the invocation's time.
            if self._budget.may_start(c.name, remaining_ms):
                propagated = propagate(
                    c.propagation, live.history, c.task_id, app_id=self.peers.app_id, instance_id=iid
                )
                run = ActivityRun(c.name, iid, c.task_id, c.input, propagated)
                results.append(self.run_activities([run], remaining_ms)[0])
            else:
                late.append(activity_message(iid, exec_id, self._clock(), c))
        if late:
            self._queue.send(late)
            self._metrics.count(Metric.ACTIVITIES_DEFERRED, len(late))
        return results

    def call(
        self, live: Live, cmd: ScheduleActivity | StartChild, now: datetime
    ) -> tuple[str, WorkMessage, HistoryEvent]:
        """The message that has another app run ``cmd`` (its app), and the event that
        fails the task if it cannot be sent there; with the history it propagates."""
        iid, exec_id = live.meta.instance_id, live.meta.execution_id
        app = cmd.app_id or self.peers.app_id
        propagated = propagate(cmd.propagation, live.history, cmd.task_id, app_id=self.peers.app_id, instance_id=iid)
        me = self.peers.app_id
        if isinstance(cmd, ScheduleActivity):
            work: WorkMessage = CalledActivityMessage(
                iid, exec_id, now, me, cmd.task_id, cmd.name, cmd.input, propagated
            )
            return app, work, ActivityFailed(now, cmd.task_id, self.peers.unknown(app))
        work = CalledChildMessage(iid, exec_id, now, me, cmd.task_id, cmd.name, cmd.input, cmd.instance_id, propagated)
        return app, work, ChildFailed(now, cmd.task_id, self.peers.unknown(app))

    def send_to_apps(self, calls: Sequence[tuple[str, WorkMessage, HistoryEvent]]) -> list[OutMessage]:
        """Send work and events to other apps, one send per app; what this app's own
        queue gets instead, to send with its other messages. For work (a called
        activity or child) the event is the task's failure, recorded when the app is
        unknown or the work too large for its queue; a queue's failure raises (the
        step's message comes back, and history's owed work is sent again). An event
        (a result, an outcome, a termination) whose send failed goes on later from a
        ``RelayMessage``."""
        by_app: dict[str, list[tuple[WorkMessage, HistoryEvent]]] = {}
        for app, msg, event in calls:
            by_app.setdefault(app, []).append((msg, event))
        own: list[OutMessage | None] = []
        now = self._clock()
        for app, items in by_app.items():
            try:
                self.peers.send(app, [m.to_out() for m, _ in items])
                continue
            except (UnknownAppError, PayloadTooLargeError, QueueError) as exc:
                error = exc
            for msg, event in items:
                if isinstance(error, PayloadTooLargeError):
                    own.append(self._alone(app, msg, event))
                elif not isinstance(msg, CalledActivityMessage | CalledChildMessage):
                    log.warning("%s: sending to app '%s' failed (%s); relayed", msg.instance_id, app, error)
                    own.append(RelayMessage(msg.instance_id, msg.execution_id, now, app, event).to_out())
                elif isinstance(error, UnknownAppError):
                    own.append(event_message(msg.instance_id, msg.execution_id, now, event))
                else:
                    raise error
        return [m for m in own if m is not None]

    def _alone(self, app: str, msg: WorkMessage, event: HistoryEvent) -> OutMessage | None:
        """Send one message of a batch too large for ``app``'s queue on its own. One that
        alone is too large fails its task: called work here (``event``, its failure, to
        record); a result or outcome there, in its place."""
        try:
            self.peers.send(app, [msg.to_out()])
            return None
        except PayloadTooLargeError as exc:
            now = self._clock()
            failure = FailureDetails.of(PayloadTooLargeError, f"app '{app}': {exc}")
            if isinstance(msg, CalledActivityMessage):
                return event_message(msg.instance_id, msg.execution_id, now, ActivityFailed(now, msg.task_id, failure))
            if isinstance(msg, CalledChildMessage):
                return event_message(msg.instance_id, msg.execution_id, now, ChildFailed(now, msg.task_id, failure))
            instead: HistoryEvent = event
            if isinstance(event, ActivityCompleted):
                instead = ActivityFailed(now, event.task_id, failure)
            elif isinstance(event, ChildCompleted | ChildFailed):
                instead = ChildFailed(now, event.task_id, failure)
            return RelayMessage(msg.instance_id, msg.execution_id, now, app, instead).to_out()
        except (UnknownAppError, QueueError) as exc:
            if isinstance(msg, CalledActivityMessage | CalledChildMessage):
                raise
            log.warning("%s: sending to app '%s' failed (%s); relayed", msg.instance_id, app, exc)
            return RelayMessage(msg.instance_id, msg.execution_id, self._clock(), app, event).to_out()

    def _inline(self, name: str) -> bool:
        spec = self._registry.activities.get(name)
        return spec is not None and spec.inline and not self._limited(name)

    def _bounded(
        self, commands: list[Command], allow_inline: bool, max_sends: int
    ) -> tuple[list[Command], list[tuple[int, int]]]:
        """The commands to carry out here, and the task ranges of the rest: work that is
        sent (not an inline activity, not a parent's notification) beyond ``max_sends``."""

        def sent(cmd: Command) -> bool:
            if isinstance(cmd, ScheduleActivity):
                return not (allow_inline and self._inline(cmd.name))
            return isinstance(cmd, ScheduleTimer | StartChild)

        movable = [c for c in commands if sent(c)]
        if len(movable) <= max_sends:
            return commands, []
        rest = movable[max_sends:]
        moved = {id(c) for c in rest}
        ids = sorted(c.task_id for c in rest if isinstance(c, ScheduleActivity | ScheduleTimer | StartChild))
        size = math.ceil(len(ids) / DISPATCH_SPLIT)
        ranges = [(ids[i], ids[min(len(ids), i + size) - 1]) for i in range(0, len(ids), size)]
        return [c for c in commands if id(c) not in moved], ranges

    def run_activities(
        self, runs: Sequence[ActivityRun], remaining_ms: Callable[[], int] | None = None
    ) -> list[HistoryEvent]:
        """Run activities concurrently (a fan-out delivered in one batch), under one
        deadline; one event per run, in order. What goes wrong with one (an error, a
        hang, a result that cannot be recorded) becomes its task's failure, for the
        workflow to handle."""
        self._metrics.count(Metric.ACTIVITIES_RUN, len(runs))
        now = self._clock
        calls = [
            (
                r.name,
                lambda r=r: self._registry.run_activity(r.name, r.instance_id, r.task_id, r.input, now(), r.propagated),
            )
            for r in runs
        ]
        if len(calls) == 1 and remaining_ms is None:
            getters = [lambda: self._budget.timed(calls[0][0], calls[0][1])]
        else:
            getters = self._budget.timed_all(calls, remaining_ms)
        events = [self._recorded(r, get) for r, get in zip(runs, getters, strict=True)]
        for run, event in zip(runs, events, strict=True):
            if isinstance(event, ActivityFailed):
                f = event.failure
                log.info(
                    "%s: activity '%s' (task %d) failed: %s: %s",
                    run.instance_id,
                    run.name,
                    run.task_id,
                    f.error_type,
                    f.message,
                )
            else:
                log.info("%s: activity '%s' (task %d) completed", run.instance_id, run.name, run.task_id)
        return events

    def _recorded(self, run: ActivityRun, get: Callable[[], HistoryEvent]) -> HistoryEvent:
        try:
            event = get()
        except ActivityTimeoutError as exc:
            self._metrics.count(Metric.ACTIVITIES_TIMED_OUT)
            return ActivityFailed(self._clock(), run.task_id, FailureDetails.of(ActivityTimeoutError, str(exc)))
        if isinstance(event, ActivityCompleted) and event.result is not None:
            size = payload_size(event.result, self._max_payload)
            if size > self._max_payload:
                self._metrics.count(Metric.PAYLOADS_TOO_LARGE)
                message = (
                    f"activity '{run.name}' returned {size:,} bytes, over the {self._max_payload:,}-byte "
                    "limit of a result; return a smaller value (keep large data in S3 and return its key)"
                )
                return ActivityFailed(event.timestamp, run.task_id, FailureDetails.of(PayloadTooLargeError, message))
        return event


@dataclass(frozen=True)
class ActivityRun:
    """An activity to run: its name, instance, task and encoded input."""

    name: str
    instance_id: str
    task_id: int
    input: str | None
    #: The caller's history, if it propagated it.
    propagated: Propagated | None = None


def deferred_call(iid: str, exec_id: str, now: datetime, cmd: ScheduleActivity | StartChild) -> WorkMessage:
    """Work for another app that this app's worker sends there once the execution is
    recorded (a start's first step)."""
    if isinstance(cmd, ScheduleActivity):
        return ActivityMessage(iid, exec_id, now, cmd.task_id, cmd.name, cmd.input, cmd.propagation, app_id=cmd.app_id)
    return StartChildMessage(
        iid, exec_id, now, cmd.task_id, cmd.name, cmd.input, cmd.instance_id, cmd.propagation, cmd.app_id
    )


def activity_message(iid: str, exec_id: str, now: datetime, cmd: ScheduleActivity) -> OutMessage:
    return ActivityMessage(iid, exec_id, now, cmd.task_id, cmd.name, cmd.input, cmd.propagation).to_out()


def event_message(iid: str, exec_id: str | None, now: datetime, event: HistoryEvent) -> OutMessage:
    return EventMessage(iid, exec_id, now, event).to_out()
