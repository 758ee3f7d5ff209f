"""The engine: turns messages and management calls into replay steps, commits them
with conditional writes and carries out their commands.

Crash safety (Lambda may die between any two AWS calls; SQS delivers at least once):

* Every state change is one conditional write: a step item ``H#<exec>#<seq>`` that must
  not exist yet, or the instance record conditioned on its execution id.  Two racing
  invocations cannot both commit; the loser reloads and tries again.  A continue-as-new
  writes both in one transaction: the old execution's next step (a seal) and the new
  record, so that it too excludes every other step of the old execution.
* The history is the outbox.  Commands are carried out *after* their step commits, and
  the SQS message that caused the step is deleted only after that.  If the invocation
  dies in between, the message comes back (``ApproximateReceiveCount > 1``); its event is
  then already in history, so the step is empty and the engine re-derives every command
  that history still owes (``Execution.pending_commands``) and sends them again.
* Starting an instance sends its first work *before* writing the instance record.  If
  the write loses (409) or never happens, that work finds no matching execution and is
  dropped; nothing is ever left recorded without its work on the way.
* Duplicates are harmless: results for tasks that are no longer open are ignored by the
  replay core and not recorded; timers and activities are idempotent by task id.
* The messages of one batch for one execution are one step (``advance`` takes them
  together, see ``wf/aws/batch.py``): they succeed or fail together.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from wf.core.commands import Command, StartChild
from wf.core.history import (
    ChildFailed,
    HistoryEvent,
    TimerFired,
    WorkflowFailed,
)
from wf.core.propagation import DEFAULT_APP_ID
from wf.core.registry import Registry
from wf.core.status import WorkflowStatus
from wf.core.step import StepResult
from wf.engine.activities import ActivityWork
from wf.engine.announcer import Announcer
from wf.engine.budget import DEFAULT_MARGIN_MS, ActivityBudget
from wf.engine.cache import DEFAULT_CACHE_BYTES, Live, LiveCache
from wf.engine.calls import Calls
from wf.engine.concurrency import ActivityGate
from wf.engine.dispatch import DISPATCH_SENDS, MAX_CONFLICT_RETRIES, Dispatcher
from wf.engine.fan_in import INBOX_DELAY_SECONDS, FanIn
from wf.engine.lifecycle import Lifecycle, split_first_step
from wf.engine.limits import MAX_INLINE_PAYLOAD_BYTES, oversize
from wf.engine.messages import (
    ActivityMessage,
    AnnounceMessage,
    CalledActivityMessage,
    CalledChildMessage,
    DispatchMessage,
    EventMessage,
    InboxMessage,
    Message,
    PurgeChildMessage,
    RelayMessage,
    RetryMessage,
    ScheduledStartMessage,
    StartChildMessage,
    TimerMessage,
    WorkMessage,
)
from wf.engine.metrics import FINISHED, Metric, Metrics, NullMetrics
from wf.engine.owed import are_follow_ups, owed_by, recorded_before, redelivered, step_owing, steps_recording
from wf.engine.peers import Peers
from wf.engine.queue import OutMessage, WorkQueue
from wf.engine.status_events import PendingChange, StatusEvents
from wf.engine.store import InstanceMeta, InstanceStore, StepRecord
from wf.engine.waits import BILLED, PROMPT, Waits
from wf.errors import (
    ConflictError,
    FailureDetails,
    PayloadTooLargeError,
    StoreError,
)

log = logging.getLogger("wf.engine")

#: Sees a step after it is computed, before it is written (``Engine.advance``).
#: Its third argument: whether the step changes the runtime status (its marker written).
BeforeCommit = Callable[[Live, StepResult, bool], None]

#: The queue's redrive ``maxReceiveCount`` unless configured: the last delivery before
#: the dead-letter queue (template.yaml's ``MaxReceiveCount`` default).
DEFAULT_MAX_RECEIVE_COUNT = 5
#: Activities of one SQS batch run at once, up to this many (a batch holds at most 10).
DEFAULT_ACTIVITY_CONCURRENCY = 10


#: Transient errors retried by fresh messages before SQS's own redelivery takes over.
MAX_ATTEMPTS = 12
MAX_RETRY_DELAY_SECONDS = 300
#: Waits for a concurrency slot that allow an activity one more dead delivery before it is
#: abandoned (``Engine._deaths_allowed``).
WAITS_PER_DEATH = 2


class Engine:
    """One container's engine: its warm executions, and the ports it works through.

    The parts it is composed of: ``LiveCache`` (warm executions), ``Dispatcher``
    (carrying out commands), ``Lifecycle`` (starts, the 409 rule, old executions) and
    ``ActivityBudget`` (when an activity may start) and ``FanIn`` (results left in an
    instance's inbox under contention)."""

    def __init__(
        self,
        runtime: Registry,
        store: InstanceStore,
        queue: WorkQueue,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        activity_margin_ms: int = DEFAULT_MARGIN_MS,
        max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
        activity_concurrency: int = DEFAULT_ACTIVITY_CONCURRENCY,
        precise_timers: bool = False,
        waits: Waits | None = None,
        replay_each_step: bool = False,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        app_id: str = DEFAULT_APP_ID,
        max_payload_bytes: int = MAX_INLINE_PAYLOAD_BYTES,
        sleep: Callable[[float], None] = time.sleep,
        metrics: Metrics | None = None,
        status_events: StatusEvents | None = None,
        concurrency: ActivityGate | None = None,
        peers: Mapping[str, WorkQueue] | None = None,
    ) -> None:
        """``app_id``: this app's ID, which other apps call it by; ``peers``: the queues
        of the apps it calls and answers, by ID (``wf/engine/peers.py``)."""
        self.runtime = runtime
        #: The activities' deployment-wide concurrency limits (``wf/engine/concurrency.py``).
        self.gate = concurrency
        if concurrency is not None and concurrency.limits.activities_per_container is not None:
            activity_concurrency = min(activity_concurrency, concurrency.limits.activities_per_container)
        self.store = store
        self.queue = queue
        self.clock = clock
        self.new_id = new_id
        self.budget = ActivityBudget(activity_margin_ms)
        self.max_receive_count = max_receive_count
        #: The largest payload this engine's store and queue can keep (with a bucket, 10 MB).
        self.max_payload_bytes = max_payload_bytes
        self.sleep = sleep
        #: How long an invocation waits in place, and for what (``wf/engine/waits.py``):
        #: given, or the policy ``precise_timers`` picks.
        self.waits = waits or (PROMPT if precise_timers else BILLED)
        self.metrics: Metrics = metrics or NullMetrics()
        self.lives = LiveCache(runtime, store, clock, replay_each_step=replay_each_step, max_bytes=cache_bytes)
        self.dispatch = Dispatcher(
            runtime,
            queue,
            clock,
            self.budget,
            self.metrics,
            self._start_child,
            waits=self.waits,
            app_id=app_id,
            max_payload_bytes=max_payload_bytes,
            limited=concurrency.limits.limited if concurrency is not None else (lambda name: False),
            peers=Peers(app_id, peers),
        )
        self.lifecycle = Lifecycle(
            runtime, store, self.lives, clock, new_id, self.metrics, self.dispatch, app_id, max_payload_bytes
        )
        self.calls = Calls(self.dispatch, self.lifecycle, queue, clock)
        self.activities = ActivityWork(
            dispatch=self.dispatch,
            calls=self.calls,
            queue=queue,
            clock=clock,
            metrics=self.metrics,
            budget=self.budget,
            gate=concurrency,
            concurrency=max(1, activity_concurrency),
            resolve=self._resolve,
            repair=self._repair,
            load=self.load,
            forget=self.forget,
            deaths_allowed=self._deaths_allowed,
        )
        self.fan_in = FanIn(store, queue, clock, new_id, self.metrics)
        self.announcer = Announcer(store, queue, clock, status_events, self.metrics, self.load)
        if status_events is not None:
            self.lifecycle.first_changes = self.announcer

    @property
    def precise_timers(self) -> bool:
        """Whether timers fire to the millisecond, waited for in place (``wf/engine/waits.py``)."""
        return not self.waits.timer_round_up

    @property
    def status_events(self) -> StatusEvents | None:
        """Where status changes are published; ``None``: nowhere (no markers written)."""
        return self.announcer.events

    @status_events.setter
    def status_events(self, events: StatusEvents | None) -> None:
        self.announcer.events = events

    def _start_child(self, live: Live, cmd: StartChild) -> FailureDetails | None:
        return self.lifecycle.start_child(live, cmd)

    # -- management (used by wf/engine/manage.py and the API) --------------------------

    def start(
        self,
        name: str,
        instance_id: str,
        input: str | None,
        *,
        history: Sequence[HistoryEvent] = (),
        activity_input: tuple[int, str | None] | None = None,
        events: Sequence[HistoryEvent] = (),
        existing: InstanceMeta | None = None,
    ) -> None:
        """Start (or restart, if it and its children are terminal) an instance; raises
        ``InstanceExistsError`` (409) otherwise. With ``history``, the new instance
        replays it first (a rerun from an event; ``activity_input``: the event's
        activity scheduled again with this input). ``events``: inbound events its first
        step records with the start. ``existing``: its record as just read, if any."""
        self.lifecycle.start(
            name, instance_id, input, history=history, activity_input=activity_input, events=events, existing=existing
        )

    def status_of(self, meta: InstanceMeta) -> tuple[WorkflowStatus, StepRecord | None]:
        return self.lifecycle.status_of(meta)

    def schedule(self, name: str, instance_id: str, input: str | None, start_at: datetime) -> None:
        """Start an instance at ``start_at`` (now, if that has passed): until then it is
        ``PENDING``; raises ``InstanceExistsError`` (409) as a start does."""
        if start_at <= self.clock():
            self.start(name, instance_id, input)
        else:
            self.lifecycle.schedule(name, instance_id, input, start_at)

    def cancel_scheduled(self, meta: InstanceMeta, output: str | None) -> bool:
        """Terminate a ``PENDING`` instance before its start; False if it started meanwhile."""
        return self.lifecycle.cancel_scheduled(meta, output)

    def _start_scheduled(self, msg: ScheduledStartMessage, remaining_ms: Callable[[], int] | None) -> None:
        """A scheduled start's message: start the ``PENDING`` instance if its time has
        come, send the message on if not; nothing if the schedule is gone (terminated,
        purged, replaced)."""
        meta = self.store.get_meta(msg.instance_id)
        now = self.clock()
        if meta is None:
            # The schedule's record may be being written still (else the call died first).
            if (now - max(msg.sent_at, msg.start_at)).total_seconds() < self.waits.early_grace_seconds:
                self.queue.send([msg.to_out(delay_seconds=2)])
            return
        if meta.execution_id != msg.execution_id or meta.status is not WorkflowStatus.PENDING or not meta.scheduled:
            log.info("%s: its scheduled start is gone (%s); dropped", msg.instance_id, meta.status.value)
            return
        early = (msg.start_at - now).total_seconds()
        if 0 < early <= self.waits.timer_wait_seconds and self.waits.has_time(remaining_ms, early):
            self.sleep(early)  # as a timer due this soon (wf/engine/waits.py)
        elif early > 0:
            self.queue.send([replace(msg, sent_at=now).to_out(max(1, self.waits.timer_delay(early)))])
            return
        try:
            self.lifecycle.start(meta.workflow_name, msg.instance_id, meta.scheduled.input, scheduled=meta)
        except ConflictError:
            log.info("%s: terminated or replaced as it was starting; its scheduled start is dropped", msg.instance_id)

    def first_events(self, meta: InstanceMeta) -> tuple[HistoryEvent, ...]:
        """An execution's first step (its start), from the record or its own item."""
        return self.lifecycle.first_events(meta)

    def child_ids(self, meta: InstanceMeta) -> list[str]:
        """Every child instance an execution created."""
        return self.lifecycle.child_ids(meta)

    def parse(self, body: str) -> Message:
        """The work message an SQS body holds (read from the bucket if it was put there)."""
        return WorkMessage.parse(self.queue.read(body))

    def send(self, messages: Sequence[Message]) -> None:
        """Queue work for the engine's workers (a management call's follow-up)."""
        self.queue.send([m.to_out() for m in messages])

    # -- loading -----------------------------------------------------------------------

    def forget(self, instance_id: str) -> None:
        self.lives.forget(instance_id)

    def disown(self, instance_id: str) -> None:
        """This invocation's work on the instance failed (see ``LiveCache.disown``)."""
        self.lives.disown(instance_id)

    def forget_all(self) -> None:
        """Drop every warm execution (as a new container would start)."""
        self.lives.forget_all()

    def load(self, instance_id: str, execution_id: str | None = None) -> Live | None:
        """The current execution, from the warm cache or rebuilt from the store (reading
        ``execution_id``'s steps along with the record, when given)."""
        return self.lives.load(instance_id, execution_id)

    def _resolve(self, msgs: Sequence[Message], receive_count: int) -> Live | None:
        """The execution ``msgs`` (one instance, one execution) are for, or None when
        they are stale or early (then dropped, or sent again for later)."""
        msg = msgs[0]
        live = self.load(msg.instance_id, msg.execution_id)
        if live is not None and msg.execution_id in (None, live.meta.execution_id):
            return live
        if live is not None:
            # Not the execution we hold: maybe our cache is stale.
            self.forget(msg.instance_id)
            live = self.load(msg.instance_id)
            if live is not None and msg.execution_id == live.meta.execution_id:
                return live
        current = live.meta.execution_id if live else None
        newer = msg.execution_id is not None and (current is None or msg.execution_id > current)
        if newer and live is not None and not self.lifecycle.replaceable(live.meta):
            # A start replaces only a terminal instance whose children are terminal too:
            # the start that sent this was refused (409).
            newer = False
        elif newer:
            # Sent by a start whose conditional write may still be in flight, or by one
            # that was refused or died before writing (then it never will be recorded).
            age = (self.clock() - msg.sent_at).total_seconds()
            self.lifecycle.wait_for_start(msg.instance_id)
            for pause in (0.0, *self.waits.early_rechecks) if age < self.waits.early_recheck_age else (0.0,):
                self.sleep(pause)
                live = self.load(msg.instance_id)
                if live is not None and live.meta.execution_id == msg.execution_id:
                    return live
                self.forget(msg.instance_id)
            grace = self.waits.early_grace_seconds
            if age < grace:
                # Back off as the message ages: a handful of deliveries cover the grace.
                delay = max(1, min(math.ceil(age), math.ceil(grace - age)))
                log.info("%s %s: execution not recorded yet, retrying in %ds", msg.instance_id, msg.execution_id, delay)
                self.queue.send([m.to_out(delay_seconds=delay) for m in msgs])
                return None
        if not newer and live is not None and redelivered(msgs, receive_count):
            # A stale message came back after a crash: the crash may have been between a
            # continue-as-new commit and its dispatch, so re-send what is owed.
            self.dispatch.carry_out(live, live.execution.pending_commands(), allow_inline=False)
        self.metrics.count(Metric.MESSAGES_DROPPED, len(msgs))
        log.info(
            "dropping %d %s message(s) for %s (execution %s, current %s)",
            len(msgs),
            msg.kind.value,
            msg.instance_id,
            msg.execution_id,
            current,
        )
        return None

    # -- messages ------------------------------------------------------------------------

    @property
    def abandon_after(self) -> int:
        """Dead deliveries (counted across hand-ons) after which an activity is failed as
        abandoned: twice what SQS alone would allow, as one unlucky run is not enough."""
        return 2 * (self.max_receive_count - 1)

    def _deaths_allowed(self, msg: Message) -> int:
        """``abandon_after`` for ``msg``. An activity that waited for a concurrency slot was
        delivered once per wait, each delivery dying with its batch if another record
        killed the container, though it never ran: every ``WAITS_PER_DEATH`` waits allow
        one more death (an activity that kills its container still dies more often than
        it waits, unless its limit stays full, and is abandoned)."""
        waited = msg.waited if isinstance(msg, ActivityMessage | CalledActivityMessage) else 0
        return self.abandon_after + waited // WAITS_PER_DEATH

    def hand_on(self, deliveries: Sequence[tuple[Message, int]]) -> list[bool]:
        """Hand redelivered work (its last delivery died: a crash, perhaps for another
        record's sake) to fresh messages that count the deaths, in one send; for each
        delivery, whether it was handed on (then it is done). SQS's receive count then
        stays low, so no run of unlucky batches dead-letters the work; the count in the
        message decides when an activity is abandoned instead. Not done once the work
        died that often (then it runs and, if it dies again, is dead-lettered)."""
        due: dict[int, Message] = {}
        for i, (msg, receive_count) in enumerate(deliveries):
            died = msg.crashes + receive_count - 1
            # From the second delivery only: each hand-on then counts one more death.
            if receive_count >= 2 and died < self._deaths_allowed(msg):
                due[i] = replace(msg, crashes=died)
        if due:
            # A second apart: work that died together (one of it may be what kills its
            # container) comes back in different batches, so the innocent can finish.
            self.queue.send([m.to_out(i) for i, m in enumerate(due.values())])
            for m in due.values():
                log.warning("%s: %s message died %d times; handed on", m.instance_id, m.kind.value, m.crashes)
        return [i in due for i in range(len(deliveries))]

    def retry_later(self, work: Sequence[tuple[Message, Sequence[HistoryEvent]]]) -> bool:
        """Hand work that hit a transient error (an AWS call failed) to fresh, delayed
        messages, so that the receive count keeps counting only deliveries that died.
        Events already brought (an activity's result) travel as events: nothing runs
        again. False, sending nothing, when some of it was retried too often: then SQS
        redelivers it and, in the end, dead-letters it."""
        if any(msg.attempt >= MAX_ATTEMPTS for msg, _ in work):
            return False
        out: list[OutMessage] = []
        for msg, events in work:
            delay = min(MAX_RETRY_DELAY_SECONDS, 2**msg.attempt)
            if events:
                out += [
                    EventMessage(msg.instance_id, msg.execution_id, msg.sent_at, e, attempt=msg.attempt + 1).to_out(
                        delay
                    )
                    for e in events
                ]
            else:
                out.append(msg.retried().to_out(delay))
        self.queue.send(out)
        self.metrics.count(Metric.MESSAGES_RETRIED, len(work))
        return True

    def handle(self, msg: Message, *, receive_count: int = 1, remaining_ms: Callable[[], int] | None = None) -> None:
        """Process one SQS message; raises to have it delivered again."""
        events = self.events_for(msg, receive_count=receive_count, remaining_ms=remaining_ms)
        if events:
            self.advance([msg], events, receive_count=receive_count, remaining_ms=remaining_ms)

    def events_for(
        self, msg: Message, *, receive_count: int = 1, remaining_ms: Callable[[], int] | None = None
    ) -> list[HistoryEvent]:
        """What a message brings to its instance's history (running its activity, if it
        is one), to be recorded with ``advance``; empty when nothing is left to record."""
        now = self.clock()
        if isinstance(msg, TimerMessage):
            early = (msg.fire_at - now).total_seconds()
            if 0 < early <= self.waits.timer_wait_seconds and self.waits.has_time(remaining_ms, early):
                # SQS delays in whole seconds, and timers are sent to arrive just before
                # they are due (wf/engine/waits.py): wait out the rest here, so that a
                # timer fires on time. The execution is loaded first: the wait hides the
                # reads, so that only the step's write is left once the timer is due.
                with contextlib.suppress(StoreError):
                    self.load(msg.instance_id, msg.execution_id)
                self.sleep(max(0.0, (msg.fire_at - self.clock()).total_seconds()))
                now = max(self.clock(), msg.fire_at)
            elif early > 0:
                # Longer than SQS can delay: hop again, unless nobody waits for it any more.
                live = self._resolve([msg], receive_count)
                if live is None or live.execution.is_terminal or live.execution.is_settled(msg.task_id):
                    return []
                hop = TimerMessage(msg.instance_id, msg.execution_id, now, msg.task_id, msg.fire_at)
                self.queue.send([hop.to_out(self.waits.timer_delay(early))])
                return []
            return [TimerFired(now, msg.task_id)]
        if isinstance(msg, ActivityMessage):
            return self.activities.events(msg, now, receive_count, remaining_ms)
        if isinstance(msg, RetryMessage):
            self.retry(msg.instance_id, remaining_ms=remaining_ms)
            return []
        if isinstance(msg, DispatchMessage):
            self._send_owed(msg, receive_count)
            return []
        if isinstance(msg, InboxMessage):
            self._record_inbox(msg, receive_count, remaining_ms)
            return []
        if isinstance(msg, AnnounceMessage):
            if msg.execution_id is not None:
                self.announcer.started(msg.instance_id, msg.execution_id)
            return []
        if isinstance(msg, ScheduledStartMessage):
            self._start_scheduled(msg, remaining_ms)
            return []
        if isinstance(msg, CalledActivityMessage):
            return self.activities.events(msg, now, receive_count, remaining_ms)
        if isinstance(msg, CalledChildMessage):
            self.calls.start_child(msg)
            return []
        if isinstance(msg, RelayMessage):
            self.calls.relay(msg)
            return []
        if isinstance(msg, PurgeChildMessage):
            # The purge of one instance (and its children) is management's
            # (wf/engine/manage.py, which builds on this module).
            from wf.engine.manage import purge_child

            purge_child(self, msg)
            return []
        if isinstance(msg, StartChildMessage):
            live = self._resolve([msg], receive_count)
            if live is None:
                return []
            if self.calls.is_remote(msg.app_id):
                self.calls.forward(live, msg)
                return []
            failure = self._start_child(
                live, StartChild(msg.task_id, msg.name, msg.child_id, msg.input, msg.propagation)
            )
            return [] if failure is None else [ChildFailed(now, msg.task_id, failure)]
        return [msg.event]

    def _record_inbox(self, msg: InboxMessage, receive_count: int, remaining_ms: Callable[[], int] | None) -> None:
        """Record everything waiting in the execution's inbox in one step, carry out what
        follows, then take the entries out (the step's invocation alone: until then, a
        redelivery of its message finds them, and carries out again what their steps owe)."""
        rechecked = False

        def attempt(stepped: bool) -> bool:
            nonlocal rechecked
            live = self._resolve([msg], receive_count)
            if live is None:
                return True  # not the current execution: its inbox goes with it
            # First: an entry left from now on (perhaps not read below) sends its own message.
            self.store.clear_inbox_notice(msg.instance_id, live.meta.execution_id)
            entries = self.store.load_inbox(msg.instance_id, live.meta.execution_id)
            events = [e for _, evs in entries for e in evs]
            result = self._step_and_commit(live, events, replaying=stepped) if events else None
            if result is None and events and not rechecked:
                # Nothing to record, says this view; but a warm view may be behind the
                # store and not know the tasks yet (another container scheduled them).
                rechecked = True
                self.forget(msg.instance_id)
                return False
            if result is not None:
                self._after_commit(live, result.commands, remaining_ms)
            elif events:
                # All recorded already: by an inbox step whose invocation carries out what
                # it owes, then takes its entries out; or died before that (then this is
                # its redelivery, which does it). Entries whose steps owe nothing go now.
                owed = list(owed_by(steps_recording(live.history, events), live.execution.pending_commands()))
                if owed and not redelivered([msg], receive_count):
                    return True
                if owed:
                    self.metrics.count(Metric.REDELIVERY_REPAIRS)
                    self.dispatch.carry_out(live, owed, allow_inline=False)
                if redelivered([msg], receive_count):
                    self._announce(live, repair=True)
            if entries:
                self.store.delete_inbox(msg.instance_id, live.meta.execution_id, [t for t, _ in entries])
            return True

        if not self._committing(msg.instance_id, attempt):
            self.queue.send([msg.retried().to_out(INBOX_DELAY_SECONDS)])

    def _send_owed(self, msg: DispatchMessage, receive_count: int) -> None:
        """Send what history still owes for the message's tasks (those still open: a
        result recorded meanwhile needs no work), up to ``DISPATCH_SENDS``; the rest in
        further dispatch messages. Sent again on a redelivery: duplicates are harmless."""
        live = self._resolve([msg], receive_count)
        if live is None or live.execution.is_terminal:
            return
        owed = [
            c for c in live.execution.pending_commands() if msg.first_task <= getattr(c, "task_id", -1) <= msg.last_task
        ]
        self.dispatch.carry_out(live, owed, allow_inline=False, defer_children=True, max_sends=DISPATCH_SENDS)

    def activities_events(
        self,
        deliveries: Sequence[tuple[ActivityMessage | CalledActivityMessage, int]],
        *,
        remaining_ms: Callable[[], int] | None = None,
    ) -> dict[int, list[HistoryEvent]]:
        """Activities delivered together (a fan-out), run concurrently (``ActivityWork.batch``)."""
        return self.activities.batch(deliveries, remaining_ms=remaining_ms)

    @property
    def activity_concurrency(self) -> int:
        """Activities of one SQS batch that run at once, at most."""
        return self.activities.concurrency

    @activity_concurrency.setter
    def activity_concurrency(self, value: int) -> None:
        self.activities.concurrency = max(1, value)

    def _await_call(
        self, live: Live, msgs: Sequence[Message], events: list[HistoryEvent]
    ) -> tuple[Live, list[HistoryEvent]] | None:
        """For a management call's follow-up message: the execution and the step in which
        the call recorded its event, once the call's write has landed (the message is
        sent just before it). While the message is young, the write is waited for
        (briefly, then by sending the message again): recording the event here as well
        would run the workflow's code for it twice and race the call's write. ``None``:
        sent again (or the instance is gone); an empty step: old enough that the call
        must have died or given up, so the event is to be recorded here."""
        msg = msgs[0]
        age = (self.clock() - msg.sent_at).total_seconds()
        current: Live | None = live
        for pause in (0.0, *self.waits.follow_up_rechecks) if age < self.waits.follow_up_grace_seconds else (0.0,):
            if pause:
                self.sleep(pause)
                self.forget(msg.instance_id)
                current = self.load(msg.instance_id)
            if current is None:
                return None
            owing = step_owing(current.history, events)
            if owing is not None:
                return current, owing
            if current.execution.is_terminal:
                return current, []  # nothing will record it now (a step too large failed it)
        if age < self.waits.follow_up_grace_seconds:
            self.queue.send([m.to_out(delay_seconds=1) for m in msgs])
            return None
        return live, []

    def retry(self, instance_id: str, *, remaining_ms: Callable[[], int] | None = None) -> None:
        """Step a stalled instance with no new event: if the code registered now replays
        it, it carries on with the events it stalled on; else it stays ``STALLED``."""

        def attempt(stepped: bool) -> bool:
            live = self.load(instance_id)
            if live is None or live.execution.status is not WorkflowStatus.STALLED:
                return True
            result = self._step_and_commit(live, [])
            if result is None:
                self._sync_meta(live)
            else:
                self._after_commit(live, result.commands, remaining_ms)
            return True

        self._committing(instance_id, attempt)

    def _committing(self, instance_id: str, attempt: Callable[[bool], bool]) -> bool:
        """Make ``attempt`` until it is done. An attempt commits a step and may lose the
        race for it (``ConflictError``: another invocation committed first): each lost
        race is counted, the instance's warm view dropped, and the attempt made again,
        told that the workflow's code has run for its events once (``stepped``). An
        attempt returns False to be made again without a lost race (its view was found
        behind the store). False when no attempt got done within ``MAX_CONFLICT_RETRIES``."""
        stepped = False
        for _ in range(MAX_CONFLICT_RETRIES):
            try:
                if attempt(stepped):
                    return True
            except ConflictError:
                self.metrics.count(Metric.WRITE_CONFLICTS)
                self.forget(instance_id)
                stepped = True
        return False

    def _repair(self, live: Live) -> None:
        """Carry out again what the recorded history still owes (a redelivery after a crash)."""
        self.metrics.count(Metric.REDELIVERY_REPAIRS)
        self.dispatch.carry_out(live, live.execution.pending_commands(), allow_inline=False)
        self._sync_meta(live)
        self._announce(live, repair=True)

    def advance(
        self,
        msgs: Sequence[Message],
        events: list[HistoryEvent],
        *,
        receive_count: int = 1,
        remaining_ms: Callable[[], int] | None = None,
        before_commit: BeforeCommit | None = None,
        follow_up: bool = True,
    ) -> None:
        """Record ``events``, brought by ``msgs`` (one instance and execution), in one
        step, and carry out what follows; ``receive_count`` is the highest of theirs.
        ``before_commit`` sees each step about to be written, and may raise to have it
        not written. ``follow_up=False`` only records: what the step schedules, or what
        a duplicate's step still owes, is left to a message the caller has sent."""
        msg = msgs[0]
        if (
            len(msgs) > 1
            and all(isinstance(m, EventMessage) for m in msgs)
            and any(isinstance(m, EventMessage) and m.follow_up for m in msgs)
        ):
            # Each follow-up vouches for its own call's step (recorded or not): taken
            # together, one already recorded would stand for all of them.
            for one in msgs:
                if isinstance(one, EventMessage):
                    self.advance([one], [one.event], receive_count=receive_count, remaining_ms=remaining_ms)
            return
        rechecked = False

        def attempt(stepped: bool) -> bool:
            nonlocal rechecked
            live = self._resolve(msgs, receive_count)
            if live is None:
                return True
            if are_follow_ups(msgs):
                awaited = self._await_call(live, msgs, events)
                if awaited is None:
                    return True  # sent again for later
                live, owing = awaited
                if owing:
                    # The call recorded its event and left what that one step set going
                    # (its status change included) to this message.
                    commands = tuple(owed_by(owing, live.execution.pending_commands()))
                    self._after_commit(
                        live,
                        commands,
                        remaining_ms,
                        cause=events[0].timestamp,
                        repair=redelivered(msgs, receive_count),
                    )
                    return True
                # The call died before writing (or gave up): record its event here.
            if self.fan_in.offer(live, msgs, events):
                return True
            try:
                result = self._step_and_commit(live, events, before_commit, replaying=stepped, announce_here=follow_up)
            except ConflictError:
                self.fan_in.lost_race(msg.instance_id, live.meta.execution_id)
                raise
            if result is None and not rechecked:
                # Nothing to record, says this view; but a warm view may be behind the
                # store (another container moved on) and not know the task yet. Ask the
                # store before letting the message go.
                rechecked = True
                self.forget(msg.instance_id)
                return False
            if result is None:
                if follow_up and (redelivered(msgs, receive_count) or recorded_before(live.history, events)):
                    # A duplicate of what an earlier delivery recorded, which may have
                    # died before carrying out what followed.
                    self._repair(live)
                return True
            if follow_up:
                self._after_commit(live, result.commands, remaining_ms)
            return True

        if self._committing(msg.instance_id, attempt):
            return
        self.dispatch.requeue(msg.instance_id, msg.execution_id, events)

    def _step_and_commit(
        self,
        live: Live,
        events: list[HistoryEvent],
        before_commit: BeforeCommit | None = None,
        *,
        replaying: bool = False,
        announce_here: bool = True,
    ) -> StepResult | None:
        """``announce_here``: this invocation publishes the step's status change (a
        management call leaves it to its follow-up message, as the rest of the step)."""
        now = self.clock()
        self.lives.current_code(live)
        old_status = live.execution.status
        try:
            result = live.execution.step(events, now, replaying=replaying)
            too_large = oversize(result, self.max_payload_bytes)
            if too_large is not None:
                # Storing or sending this step would fail on every retry: fail the
                # instance instead, from the state before the step.
                log.warning("%s: %s", live.meta.instance_id, too_large)
                self.metrics.count(Metric.PAYLOADS_TOO_LARGE)
                self.forget(live.meta.instance_id)
                reloaded = self.load(live.meta.instance_id)
                if reloaded is None or reloaded.meta.execution_id != live.meta.execution_id:
                    return None
                live.execution, live.next_seq, live.history = reloaded.execution, reloaded.next_seq, reloaded.history
                failure = FailureDetails.of(PayloadTooLargeError, too_large)
                result = live.execution.step([WorkflowFailed(now, failure)], now)
        except Exception:
            self.forget(live.meta.instance_id)
            raise
        if not result.events:
            return None
        meta = live.meta
        pending = None
        if (
            self.status_events is not None
            and result.status is not old_status
            and result.status is not WorkflowStatus.CONTINUED_AS_NEW
        ):
            pending = PendingChange(old_status, result.status, now, events[0].timestamp if events else None)
        try:
            if before_commit is not None:
                before_commit(live, result, pending is not None)
            if result.new_generation:
                new_meta = self.lifecycle.prune(meta, now).with_(
                    execution_id=self.new_id(),
                    first_step=result.events,
                    status=result.status,
                    updated_at=now,
                    output=result.output,
                    failure=result.failure,
                    custom_status=result.custom_status,
                    synced_seq=0,
                    # A change across the continue-as-new (out of a suspension, or a new
                    # generation that ended at once) is the new execution's first step's.
                    pending=pending,
                )
                # The old execution's items stay for now (see wf/engine/cache.py).
                new_meta = new_meta.with_(superseded=(*new_meta.superseded, (meta.execution_id, now)))
                new_meta, first_item = split_first_step(new_meta)
                # The seal takes the old execution's next step, so that no other
                # container can commit a step there once it has moved on.
                seal = StepRecord(live.next_seq, (), WorkflowStatus.CONTINUED_AS_NEW)
                self.store.continue_as_new(new_meta, replaces=meta.execution_id, seal=seal, first=first_item)
                live.meta, live.next_seq, live.history = new_meta, 1, list(result.events)
                if pending is not None:
                    live.unannounced[(new_meta.execution_id, 0)] = (pending, announce_here)
            else:
                record = StepRecord(live.next_seq, result.events, result.status, result.custom_status, pending)
                self.store.append_step(meta.instance_id, meta.execution_id, record)
                if pending is not None:
                    live.unannounced[(meta.execution_id, record.seq)] = (pending, announce_here)
                live.next_seq += 1
                live.history.extend(result.events)
            live.confirmed_at = now
        except Exception:
            # The live execution has moved past what is stored: rebuild it next time.
            self.forget(meta.instance_id)
            raise
        self.lives.remember(live)
        self.metrics.count(Metric.STEPS_COMMITTED)
        return result

    def _after_commit(
        self,
        live: Live,
        commands: Sequence[Command],
        remaining_ms: Callable[[], int] | None,
        *,
        cause: datetime | None = None,
        repair: bool = False,
    ) -> None:
        """Carry out a committed step's ``commands``, running and checkpointing inline
        activities while the invocation has time; then publish the status changes of the
        steps this invocation committed (and of the management call's step whose
        follow-up it is: ``cause``)."""
        live = self._carry_out(live, commands, remaining_ms)
        self._announce(live, cause=cause, repair=repair)

    def _carry_out(self, live: Live, commands: Sequence[Command], remaining_ms: Callable[[], int] | None) -> Live:
        while True:
            inline_events = self.dispatch.carry_out(live, commands, allow_inline=True, remaining_ms=remaining_ms)
            self._sync_meta(live)
            if not inline_events:
                return live
            # Checkpoint the inline results, then carry on in this same invocation.
            live, next_result = self._checkpoint(live, inline_events)
            if next_result is None:
                return live
            commands = next_result.commands

    def _checkpoint(self, live: Live, events: list[HistoryEvent]) -> tuple[Live, StepResult | None]:
        """Record inline activities' results in a step: the view it was committed on,
        and the step (``None``: nothing to record, the execution moved on, or every
        attempt lost its race and the results went to fresh messages)."""
        execution_id = live.meta.execution_id
        current, result = live, None

        def attempt(stepped: bool) -> bool:
            nonlocal current, result
            if stepped:
                reloaded = self.load(live.meta.instance_id)
                if reloaded is None or reloaded.meta.execution_id != execution_id:
                    return True
                current = reloaded
            result = self._step_and_commit(current, events)
            return True

        if not self._committing(live.meta.instance_id, attempt):
            self.dispatch.requeue(live.meta.instance_id, execution_id, events)
        return current, result

    def _announce(self, live: Live, *, cause: datetime | None = None, repair: bool = False) -> None:
        self.announcer.publish(live, cause=cause, repair=repair)

    def _sync_meta(self, live: Live) -> None:
        """Keep the instance record's summary in step when its status changes (the
        status index follows it). A custom status alone lives in the step items."""
        ex = live.execution
        meta = live.meta
        status = ex.status
        if (meta.status, meta.output) == (status, ex.output):
            return
        updated = self.lifecycle.prune(meta, self.clock()).with_(
            status=status,
            custom_status=ex.custom_status,
            output=ex.output,
            failure=ex.failure,
            updated_at=self.clock(),
            synced_seq=live.next_seq,
        )
        try:
            self.store.update_meta(updated)
            live.meta = updated
            if meta.status is not status:
                failure = f": {ex.failure.error_type}: {ex.failure.message}" if ex.failure is not None else ""
                log.info(
                    "%s %s: %s -> %s%s", meta.workflow_name, meta.instance_id, meta.status.value, status.value, failure
                )
                finished = FINISHED.get(status)
                if finished is not None:
                    self.metrics.count(finished)
        except ConflictError:
            self.forget(meta.instance_id)

    # -- commands ------------------------------------------------------------------------
