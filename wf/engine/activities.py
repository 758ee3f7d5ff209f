"""Running activity messages: whether one may run (its execution recorded and still
waiting, not abandoned, the invocation's time, its concurrency slots), running it, or a
batch's together, and where the result goes: recorded by the caller's step here, or
sent back to the app that called (``wf/engine/calls.py``)."""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from wf.core.history import ActivityFailed, ActivityScheduled, HistoryEvent
from wf.core.propagation import propagate
from wf.engine.budget import ActivityBudget
from wf.engine.cache import Live
from wf.engine.calls import Calls
from wf.engine.concurrency import ActivityGate, Lease, run_key, wait_seconds
from wf.engine.dispatch import ActivityRun, Dispatcher
from wf.engine.messages import ActivityMessage, CalledActivityMessage, Message
from wf.engine.metrics import Metric, Metrics
from wf.engine.owed import redelivered
from wf.engine.queue import WorkQueue
from wf.errors import ActivityAbandonedError, FailureDetails, QueueError

log = logging.getLogger("wf.engine")

#: A concurrency slot's lease outlasts its invocation's deadline by this much; without a
#: deadline (a stack run in process), it is held at most MAX_LEASE.
LEASE_MARGIN_MS = 5_000
MAX_LEASE = timedelta(minutes=15)

Activity = ActivityMessage | CalledActivityMessage


class ActivityWork:
    """One container's running of activities, part of its ``Engine``, whose execution
    checks it uses: ``resolve`` (the execution a message is for), ``repair`` (carry out
    again what history owes), ``deaths_allowed`` (dead deliveries before abandonment)."""

    def __init__(
        self,
        *,
        dispatch: Dispatcher,
        calls: Calls,
        queue: WorkQueue,
        clock: Callable[[], datetime],
        metrics: Metrics,
        budget: ActivityBudget,
        gate: ActivityGate | None,
        concurrency: int,
        resolve: Callable[[Sequence[Message], int], Live | None],
        repair: Callable[[Live], None],
        load: Callable[[str], Live | None],
        forget: Callable[[str], None],
        deaths_allowed: Callable[[Message], int],
    ) -> None:
        self._dispatch, self._calls, self._queue, self._clock = dispatch, calls, queue, clock
        self._metrics, self._budget, self._gate = metrics, budget, gate
        #: Activities of one batch run at once, at most.
        self.concurrency = concurrency
        self._resolve, self._repair, self._load, self._forget = resolve, repair, load, forget
        self._deaths_allowed = deaths_allowed
        #: What spreads the tries of runs that wait for a slot.
        self._jitter = random.Random()

    def events(
        self,
        msg: Activity,
        now: datetime,
        receive_count: int,
        remaining_ms: Callable[[], int] | None,
    ) -> list[HistoryEvent]:
        prepared = self._prepare(msg, now, receive_count, remaining_ms)
        if isinstance(prepared, list):
            return self._settle(msg, prepared)
        leases = self._enter_limits(msg, remaining_ms)
        if leases is None:
            return []
        try:
            return self._settle(msg, self._dispatch.run_activities([self._run_of(msg)], remaining_ms))
        finally:
            self._leave_limits(leases)

    def _settle(self, msg: Activity, events: list[HistoryEvent]) -> list[HistoryEvent]:
        """What an activity brought, to record here; or, run for another app, sent there."""
        if isinstance(msg, CalledActivityMessage):
            if events:
                self._calls.reply(msg, msg.caller, events)
            return []
        return events

    def _settle_into(
        self,
        brought: dict[int, list[HistoryEvent]],
        i: int,
        msg: Activity,
        events: list[HistoryEvent],
    ) -> None:
        """``_settle`` for one delivery of a batch: one whose answer cannot be sent is left
        out (``Engine.events_for`` meets it alone, and its error goes where errors go), not the
        batch failed with it."""
        try:
            brought[i] = self._settle(msg, events)
        except Exception as exc:
            log.info("%s: activity '%s' left to run alone (%s)", msg.instance_id, msg.name, exc)

    def _enter_limits(self, msg: Activity, remaining_ms: Callable[[], int] | None) -> list[Lease] | None:
        """The slots of the concurrency limits ``msg``'s activity falls under, leased
        until this invocation's deadline (a container that dies holding them frees them
        then); None when a limit is full: the message is sent again, delayed, to wait."""
        if self._gate is None:
            return []
        lease_for = timedelta(milliseconds=remaining_ms() + LEASE_MARGIN_MS) if remaining_ms else MAX_LEASE
        # Another app's call is named with that app: its instance is not one of this app's.
        instance = f"{msg.caller}:{msg.instance_id}" if isinstance(msg, CalledActivityMessage) else msg.instance_id
        leases = self._gate.enter(msg.name, run_key(instance, msg.execution_id, msg.task_id), lease_for)
        if leases is None:
            log.info("%s: activity '%s' waits for a concurrency slot", msg.instance_id, msg.name)
            delay = wait_seconds(msg.waited, self._jitter.randint)
            self._queue.send([replace(msg, waited=msg.waited + 1).to_out(delay)])
            self._metrics.count(Metric.ACTIVITIES_WAITING)
        return leases

    def _leave_limits(self, leases: Sequence[Lease]) -> None:
        if self._gate is not None and leases:
            self._gate.leave(leases)

    def batch(
        self,
        deliveries: Sequence[tuple[Activity, int]],
        *,
        remaining_ms: Callable[[], int] | None = None,
    ) -> dict[int, list[HistoryEvent]]:
        """Activities delivered together (a fan-out), run concurrently: up to
        ``activity_concurrency`` at a time, each further wave only while the invocation
        has time. What each brings, by position, as ``events_for`` would; a delivery
        whose checks failed (a transient error) is left out, for ``events_for`` to meet
        the error alone."""
        now = self._clock()
        brought: dict[int, list[HistoryEvent]] = {}
        runnable: list[int] = []
        for i, (msg, receive_count) in enumerate(deliveries):
            try:
                prepared = self._prepare(msg, now, receive_count, remaining_ms)
            except Exception as exc:
                log.info("%s: activity '%s' left to run alone (%s)", msg.instance_id, msg.name, exc)
                continue
            if isinstance(prepared, list):
                self._settle_into(brought, i, msg, prepared)
            else:
                runnable.append(i)
        for start in range(0, len(runnable), self.concurrency):
            wave = runnable[start : start + self.concurrency]
            if start:
                for i in [i for i in wave if not self._budget.may_start(deliveries[i][0].name, remaining_ms)]:
                    wave.remove(i)
                    with contextlib.suppress(QueueError):  # else events_for defers it, alone
                        brought[i] = self._defer(deliveries[i][0])
            held: list[Lease] = []
            try:
                for i in list(wave):
                    try:
                        leases = self._enter_limits(deliveries[i][0], remaining_ms)
                    except Exception as exc:
                        log.info("%s: activity left to run alone (%s)", deliveries[i][0].instance_id, exc)
                        wave.remove(i)
                        continue
                    if leases is None:
                        wave.remove(i)
                        brought[i] = []
                    else:
                        held += leases
                runs = [self._run_of(deliveries[i][0]) for i in wave]
                for i, event in zip(wave, self._dispatch.run_activities(runs, remaining_ms), strict=True):
                    self._settle_into(brought, i, deliveries[i][0], [event])
            finally:
                self._leave_limits(held)
        return brought

    def _run_of(self, msg: Activity) -> ActivityRun:
        """The run of an activity message; with the caller's history, if it propagates it
        (read from the execution, which ``_prepare_activity`` has just loaded; carried
        in the message, when another app calls it)."""
        if isinstance(msg, CalledActivityMessage):
            return ActivityRun(msg.name, msg.instance_id, msg.task_id, msg.input, msg.propagated)
        propagated = None
        if msg.propagation is not None:
            live = self._load(msg.instance_id)
            if live is not None and not any(
                isinstance(e, ActivityScheduled) and e.task_id == msg.task_id for e in live.history
            ):
                # A warm view from before the step that scheduled this activity (another
                # container took the steps since): what it propagates is that step's
                # history, so read the steps this view missed.
                self._forget(msg.instance_id)
                live = self._load(msg.instance_id)
            if live is not None:
                propagated = propagate(
                    msg.propagation,
                    live.history,
                    msg.task_id,
                    app_id=self._dispatch.peers.app_id,
                    instance_id=msg.instance_id,
                )
        return ActivityRun(msg.name, msg.instance_id, msg.task_id, msg.input, propagated)

    def _prepare(
        self,
        msg: Activity,
        now: datetime,
        receive_count: int,
        remaining_ms: Callable[[], int] | None,
    ) -> list[HistoryEvent] | Activity:
        """The activity message itself if it is to run now, else what it brings
        without running (nothing, or its abandonment). Another app's call is run
        unchecked: its instance is in that app's table, which this one does not read."""
        if isinstance(msg, ActivityMessage):
            # An activity runs only for a recorded execution that still waits for it: not
            # for a start that was refused, an instance purged, or a task already settled.
            live = self._resolve([msg], receive_count)
            if live is None:
                return []
            settled = live.execution.is_settled(msg.task_id)
            if live.execution.is_terminal or settled:
                if settled or redelivered([msg], receive_count):
                    # Its result is recorded, so this is a duplicate, perhaps delivered at
                    # once (receive count 1) while the delivery that recorded it died before
                    # carrying out what followed: do that now, without running it again.
                    self._repair(live)
                return []
            if self._calls.is_remote(msg.app_id):
                self._calls.forward(live, msg)  # another app's to run (a start deferred it)
                return []
        died = msg.crashes + receive_count - 1
        if died >= self._deaths_allowed(msg):
            # Every earlier delivery died unfinished (out of memory, a crash): record
            # a failure the workflow can handle rather than strand it in the DLQ.
            abandoned = FailureDetails.of(
                ActivityAbandonedError,
                f"activity '{msg.name}' was delivered {died + 1} times and never finished "
                "(its invocation crashed each time)",
            )
            self._metrics.count(Metric.ACTIVITIES_ABANDONED)
            return [ActivityFailed(now, msg.task_id, abandoned)]
        if not self._budget.may_start(msg.name, remaining_ms):
            return self._defer(msg)
        return msg

    def _defer(self, msg: Activity) -> list[HistoryEvent]:
        # Too late in this invocation to run it (see wf/engine/budget.py): a fresh
        # message, acknowledged in place of this one, keeps its receive count for
        # deliveries that really died.
        log.info("%s: deferring activity '%s', too little time left", msg.instance_id, msg.name)
        self._queue.send([msg.to_out()])
        self._metrics.count(Metric.ACTIVITIES_DEFERRED)
        return []
