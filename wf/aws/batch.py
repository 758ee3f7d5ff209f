"""SQS batches: one step per instance per batch.

Lambda hands the function up to ten messages at once. When several are for the same
execution (the activities of a fan-out finishing together), their events are recorded
in one step, with one conditional write, instead of one step each.

Records are processed grouped by execution, and each group is committed as soon as its
last record has brought its events, so no group waits for the others' activities.
Powertools' batch processing runs the records and reports failures.

What goes wrong is sorted, so that SQS's receive count keeps counting only deliveries
that died (which is what abandons an activity or dead-letters a message):

* a transient AWS error (``StoreError``, ``QueueError``) hands the record's work to a
  fresh, delayed message (``Engine.retry_later``; an activity's result travels as an
  event, so it does not run again), and the record is done;
* a body that is not a message at all is dropped with an error log line: no delivery
  can ever read it;
* anything else (a bug, a kind this version does not know) fails the record: it comes
  back, and after the queue's ``maxReceiveCount`` goes to the dead-letter queue;
* redelivered work (its last delivery died: the container crashed, perhaps for another
  record's sake) is handed to a fresh message that counts the deaths
  (``Engine.hand_on``), before any record of the batch runs, so that another crash in
  this batch cannot take it down too: the receive count stays low, and only
  ``Engine.abandon_after`` deaths abandon an activity or dead-letter the work.

A failed commit that cannot be handed on fails every record of its group, not just the
last: none of their events was recorded, so all of their messages must come back.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from wf.aws.tracing import Span, no_span
from wf.core.history import HistoryEvent, format_time
from wf.engine.engine import Engine
from wf.engine.messages import ActivityMessage, CalledActivityMessage, Message, TimerMessage
from wf.engine.metrics import Metric
from wf.errors import QueueError, StoreError, UnknownMessageKindError

log = logging.getLogger("wf.engine")

GroupKey = tuple[str, str | None]
#: Errors of an AWS call that another attempt may not meet.
TRANSIENT = (StoreError, QueueError)


def _key(msg: Message) -> GroupKey:
    return (msg.instance_id, msg.execution_id)


def _receive_count(record: dict[str, Any]) -> int:
    return int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)


@dataclass
class _Brought:
    message_id: str
    msg: Message
    receive_count: int
    events: list[HistoryEvent]


@dataclass
class BatchFolder:
    """Folds one SQS batch into a step per execution; ``handle`` is the record handler."""

    engine: Engine
    remaining_ms: Callable[[], int] | None = None
    span: Span = no_span
    #: Deletes received messages at once (``SqsQueue.ack``); None: only the batch's report does.
    ack: Callable[[Sequence[str]], None] | None = None
    #: Message IDs whose group's commit failed.
    failed: set[str] = field(default_factory=set)
    _last: dict[GroupKey, str] = field(default_factory=dict)
    _parsed: dict[str, Message] = field(default_factory=dict)
    #: Message IDs handed on to fresh messages (``hand_on``): done.
    _handed: set[str] = field(default_factory=set)
    #: What the activities of the batch brought, run together (``run_activities``).
    _brought: dict[str, list[HistoryEvent]] = field(default_factory=dict)
    _pending: defaultdict[GroupKey, list[_Brought]] = field(default_factory=lambda: defaultdict(list))
    #: Message IDs of timers fired side by side (``start_timers``): done.
    _fired: set[str] = field(default_factory=set)
    _timers: list[threading.Thread] = field(default_factory=list)

    def order(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records grouped by execution, groups in order of first appearance, except
        groups of timers only: last, soonest due first (a timer that arrives a little
        early is waited for, which should hold up nothing else)."""
        groups: dict[GroupKey, list[dict[str, Any]]] = {}
        for record in records:
            try:
                msg = self._parsed[record["messageId"]] = self.engine.parse(record["body"])
                key = _key(msg)
            except Exception:
                # Unreadable: its own group, so that handle() reports it on its own.
                key = (f"unreadable:{record.get('messageId')}", None)
            groups.setdefault(key, []).append(record)
            self._last[key] = record["messageId"]

        def due(group: list[dict[str, Any]]) -> tuple[bool, str]:
            msgs = [self._parsed.get(r["messageId"]) for r in group]
            if all(isinstance(m, TimerMessage) for m in msgs):
                return True, min(format_time(m.fire_at) for m in msgs if isinstance(m, TimerMessage))
            return False, ""

        ordered = sorted(groups.values(), key=due)  # stable: other groups keep their order
        return [r for group in ordered for r in group]

    def hand_on(self, records: list[dict[str, Any]]) -> None:
        """Before anything runs, hand on the work of redelivered records (one send). If
        that send fails, they are processed as usual."""
        dying = [
            (record, self._parsed[record["messageId"]], _receive_count(record))
            for record in records
            if record["messageId"] in self._parsed
        ]
        try:
            handed = self.engine.hand_on([(msg, count) for _, msg, count in dying])
        except TRANSIENT as exc:
            log.warning("handing on %d message(s) failed (%s); processing them", len(dying), exc)
            return
        done = [record for (record, _, _), yes in zip(dying, handed, strict=True) if yes]
        self._handed.update(record["messageId"] for record in done)
        if done and self.ack is not None:
            # The originals go now: if this invocation dies too, they must not come back
            # (their copies carry the work) and, at their last delivery, be dead-lettered.
            try:
                self.ack([record["receiptHandle"] for record in done])
            except TRANSIENT as exc:
                log.warning("deleting %d handed-on message(s) failed (%s); the batch's report will", len(done), exc)

    def run_activities(self, records: list[dict[str, Any]]) -> None:
        """Run the batch's activities together (a fan-out's arrive side by side), before
        the records are folded into steps; errors are met again by each record alone."""
        records_by_id = {record["messageId"]: record for record in records}
        deliveries = [
            (record["messageId"], msg, _receive_count(record))
            for record in records
            if record["messageId"] not in self._handed
            and isinstance(msg := self._parsed.get(record["messageId"]), ActivityMessage | CalledActivityMessage)
        ]
        if len(deliveries) < 2:
            return  # nothing to overlap
        brought = self.engine.activities_events(
            [(msg, count) for _, msg, count in deliveries], remaining_ms=self.remaining_ms
        )
        for i, events in brought.items():
            self._brought[deliveries[i][0]] = events
        self._ack_waiting(
            [(records_by_id[mid], msg) for i, (mid, msg, _) in enumerate(deliveries) if brought.get(i) == []]
        )

    def _ack_waiting(self, done: list[tuple[dict[str, Any], Message]]) -> None:
        """Delete at once the deliveries of limited activities that brought nothing: most
        were sent again to wait for a slot. Left to the batch's report, a death of the
        batch later on would bring them back beside their copies, each a death counted
        against an activity that never ran (``Engine._deaths_allowed``)."""
        gate = self.engine.gate
        if self.ack is None or gate is None:
            return
        handles = [
            record["receiptHandle"]
            for record, msg in done
            if isinstance(msg, ActivityMessage | CalledActivityMessage) and gate.limits.limited(msg.name)
        ]
        if handles:
            try:
                self.ack(handles)
            except TRANSIENT as exc:
                log.warning("deleting %d waiting message(s) failed (%s); the batch's report will", len(handles), exc)

    def _read(self, record: SQSRecord) -> Message | None:
        msg = self._parsed.get(record.message_id)
        if msg is not None:
            return msg
        try:
            return self.engine.parse(record.body)
        except UnknownMessageKindError:
            raise  # perhaps a newer version's: let it come back, then dead-letter it
        except TRANSIENT:
            raise  # its body is in the bucket, which could not be read now: let it come back
        except Exception as exc:
            log.error("dropping message %s: its body is not a work message (%s)", record.message_id, exc)
            self.engine.metrics.count(Metric.MESSAGES_POISON)
            return None

    def start_timers(self, records: list[dict[str, Any]]) -> None:
        """With precise timers (the local stack), timers arrive a little early and are
        waited for. Waited for one after another, each batch's later timers would be
        late by the earlier ones' waits and commits; so the timer-only groups of
        different instances wait and commit side by side, each in a thread of its own,
        while the batch's other records are processed (a timer holds up nothing else:
        not a termination that must come first); ``handle`` passes over their records,
        ``finish_timers`` waits for them (failures are in ``failed``)."""
        if not self.engine.precise_timers:
            return
        groups: dict[GroupKey, list[dict[str, Any]]] = {}
        for record in records:
            msg = self._parsed.get(record["messageId"])
            if msg is not None and record["messageId"] not in self._handed:
                groups.setdefault(_key(msg), []).append(record)
        timers = [
            group
            for group in groups.values()
            if all(isinstance(self._parsed.get(r["messageId"]), TimerMessage) for r in group)
        ]
        if len(timers) < 2:
            return

        def fire(group: list[dict[str, Any]]) -> None:
            for record in group:
                try:
                    self._handle(SQSRecord(record), no_span)
                except Exception as exc:
                    log.warning("timer message %s failed: %s", record["messageId"], exc)
                    self.failed.add(record["messageId"])

        self._fired.update(r["messageId"] for g in timers for r in g)
        self._timers = [threading.Thread(target=fire, args=(g,), name="wf-timer", daemon=True) for g in timers]
        for thread in self._timers:
            thread.start()

    def finish_timers(self) -> None:
        for thread in self._timers:
            thread.join()
        self._timers = []

    def handle(self, record: SQSRecord) -> None:
        if record.message_id in self._fired:
            return  # done by start_timers
        self._handle(record, self.span)

    def _handle(self, record: SQSRecord, span: Span) -> None:
        msg = self._read(record)
        if msg is None:
            return
        count = int(record.attributes.approximate_receive_count or 1)
        # A record unreadable when the batch was ordered (its body by reference could not
        # be fetched then) is its own group: committed alone, never left pending behind
        # a group whose last record has gone by.
        key = _key(msg) if record.message_id in self._parsed else (f"unreadable:{record.message_id}", None)
        error: Exception | None = None
        with span(msg):
            try:
                if record.message_id in self._handed:
                    events: list[HistoryEvent] = []
                elif record.message_id in self._brought:
                    events = self._brought.pop(record.message_id)
                else:
                    events = self.engine.events_for(msg, receive_count=count, remaining_ms=self.remaining_ms)
                    if not events:
                        self._ack_waiting([(record.raw_event, msg)])
                if events:
                    self._pending[key].append(_Brought(record.message_id, msg, count, events))
            except TRANSIENT as exc:
                if not self._retry_later([(msg, [])], exc):
                    error = exc
            except Exception as exc:
                self.engine.disown(msg.instance_id)
                error = exc
            if self._last.get(key, record.message_id) == record.message_id:
                self._commit(key)
        if error is not None:
            raise error

    def _retry_later(self, work: list[tuple[Message, list[HistoryEvent]]], exc: Exception) -> bool:
        log.warning("%s: %s; retrying in a fresh message", work[0][0].instance_id, exc)
        self.engine.disown(work[0][0].instance_id)
        try:
            return self.engine.retry_later(work)
        except TRANSIENT as again:
            log.warning("%s: handing work on failed too (%s)", work[0][0].instance_id, again)
            return False

    def _commit(self, key: GroupKey) -> None:
        group = self._pending.pop(key, [])
        if not group:
            return
        try:
            self.engine.advance(
                [b.msg for b in group],
                [e for b in group for e in b.events],
                receive_count=max(b.receive_count for b in group),
                remaining_ms=self.remaining_ms,
            )
        except TRANSIENT as exc:
            if not self._retry_later([(b.msg, b.events) for b in group], exc):
                self.failed.update(b.message_id for b in group)
                raise
        except Exception:
            self.engine.disown(group[0].msg.instance_id)
            self.failed.update(b.message_id for b in group)
            raise
