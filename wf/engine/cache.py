"""Executions kept warm between invocations, and rebuilt from the store when they are not.

A warm container steps an instance without reading anything. When its view may be
stale (it lost a write race, or a message names an execution it does not hold), the
execution is dropped and rebuilt; the committed history it held stays true (step items
are written once and never change), so only the steps written since are read.

A stale view of the *current* execution is harmless: its next write takes a step
number already taken, fails, and it reloads. A view of an execution that continued as
new elsewhere would be harmful if that execution's items were gone (its writes would
succeed). So such items are kept for DELETE_AFTER, and a view older than
VALIDATE_AFTER is checked against the instance record before use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wf.core.execution import Execution
from wf.core.history import HistoryEvent
from wf.core.registry import Registry
from wf.core.status import WorkflowStatus
from wf.engine.status_events import PendingChange
from wf.engine.store import Histories, InstanceMeta, StepRecord

CACHE_SIZE = 512
#: The memory the warm executions may hold, unless configured (``WF_CACHE_MB``; by
#: default a quarter of the function's memory): what a history costs in memory grows
#: with its events and payloads, not with the number of instances.
DEFAULT_CACHE_BYTES = 128 * 1024 * 1024
#: What one history event costs in memory besides its payload strings (measured with
#: tracemalloc on decoded steps: 182 bytes, whatever the payload's size).
EVENT_BYTES = 180
#: The events' fields that hold payloads (encoded JSON, names, messages).
_PAYLOAD_FIELDS = ("input", "result", "output", "data", "status", "name")
#: A warm view not confirmed for this long is checked against the instance record
#: before use: the instance may have continued as new elsewhere meanwhile.
VALIDATE_AFTER = timedelta(seconds=10)
#: A superseded execution's items are deleted only this long after it was superseded,
#: far beyond VALIDATE_AFTER: until then a container still acting on it finds its
#: step numbers taken, so its writes fail and it reloads.
DELETE_AFTER = timedelta(minutes=15)


@dataclass
class Live:
    """An execution held in memory between invocations (the warm path)."""

    meta: InstanceMeta
    execution: Execution
    next_seq: int
    #: The committed history behind ``execution`` (first step included).
    history: list[HistoryEvent]
    #: When this view was last known current (loaded, or a step committed).
    confirmed_at: datetime
    #: The memory ``history`` holds (``approximate_bytes``): of its first ``sized_events``
    #: events, of the list ``sized_for`` (a new generation's history is a new list).
    size: int = 0
    sized_events: int = 0
    sized_for: list[HistoryEvent] | None = field(default=None, repr=False, compare=False)
    #: Status changes not yet known to be published, by (execution, step): each with
    #: whether this container committed the step and is to publish it (status events on).
    #: Step 0 is the execution's first step, whose change the record holds.
    unannounced: dict[tuple[str, int], tuple[PendingChange, bool]] = field(default_factory=dict, compare=False)


def approximate_bytes(events: Iterable[HistoryEvent]) -> int:
    """What ``events`` cost in memory, near enough to bound a cache by: a fixed cost per
    event and its payload strings (a failure's message and stack trace too)."""
    total = 0
    for event in events:
        total += EVENT_BYTES
        for name in _PAYLOAD_FIELDS:
            value = getattr(event, name, None)
            if value.__class__ is str:
                total += len(value)
        failure = getattr(event, "failure", None)
        if failure is not None:
            total += len(failure.message) + len(failure.stack_trace or "")
    return total


def chain(first: Iterable[HistoryEvent], steps: Iterable[StepRecord]) -> Iterable[HistoryEvent]:
    yield from first
    for step in steps:
        yield from step.events


class LiveCache:
    def __init__(
        self,
        runtime: Registry,
        store: Histories,
        clock: Callable[[], datetime],
        *,
        replay_each_step: bool = False,
        max_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self._runtime = runtime
        self._replay_each_step = replay_each_step
        self._max_bytes = max_bytes
        #: Memory held by the executions in either map (each counted once).
        self._held: dict[str, int] = {}
        self._total = 0
        self._store = store
        self._clock = clock
        self._warm: OrderedDict[str, Live] = OrderedDict()
        # Dropped executions' committed histories, for incremental rebuilds.
        self._known: OrderedDict[str, Live] = OrderedDict()
        # Lambda runs one invocation per container, but the local stack may share one
        # engine between its API and its SQS event source: keep the cache consistent.
        self._lock = threading.Lock()

    def warm(self, instance_id: str) -> Live | None:
        """The execution held in memory, if any (no I/O)."""
        return self._warm.get(instance_id)

    def forget(self, instance_id: str) -> None:
        with self._lock:
            self._warm.pop(instance_id, None)

    def disown(self, instance_id: str) -> None:
        """The work on the instance failed in this invocation and goes on elsewhere (a
        redelivery, a fresh message; perhaps another container): the status changes this
        view still holds as its own to publish may be published by that work meanwhile,
        so each is to be checked against the store before it is published here."""
        with self._lock:
            for held in (self._warm, self._known):
                live = held.get(instance_id)
                if live is not None:
                    live.unannounced = {key: (pending, False) for key, (pending, _) in live.unannounced.items()}

    def forget_all(self) -> None:
        with self._lock:
            self._warm.clear()
            self._known.clear()
            self._held.clear()
            self._total = 0

    @property
    def held_bytes(self) -> int:
        """The memory the cache's executions hold (``approximate_bytes``)."""
        return self._total

    def remember(self, live: Live) -> None:
        """Keep ``live`` warm, least recently used first out, within ``CACHE_SIZE``
        executions and ``max_bytes`` of history (one larger than that is not kept)."""
        history = live.history
        if live.sized_for is not history:  # a new generation: a history of its own
            live.size = live.sized_events = 0
            live.sized_for = history
        live.size += approximate_bytes(history[live.sized_events :])
        live.sized_events = len(history)
        iid = live.meta.instance_id
        with self._lock:
            for held in (self._warm, self._known):
                held[iid] = live
                held.move_to_end(iid)
            self._total += live.size - self._held.get(iid, 0)
            self._held[iid] = live.size
            while self._known and (len(self._known) > CACHE_SIZE or self._total > self._max_bytes):
                self._evict(next(iter(self._known)))
            while len(self._warm) > CACHE_SIZE:
                self._warm.popitem(last=False)

    def _evict(self, instance_id: str) -> None:
        self._known.pop(instance_id, None)
        self._warm.pop(instance_id, None)
        self._total -= self._held.pop(instance_id, 0)

    def load(self, instance_id: str, execution_id: str | None = None) -> Live | None:
        """The current execution: warm, or rebuilt from the store. ``execution_id``, the
        execution a message is for, lets a rebuild read the record and that execution's
        steps together (one round trip instead of two)."""
        live = self._warm.get(instance_id)
        now = self._clock()
        if live is not None and now - live.confirmed_at <= VALIDATE_AFTER:
            return live
        known = self._known.get(instance_id)
        if live is None and execution_id is not None:
            # A message for an execution this container does not hold warm (another
            # container took its last steps, or never was here): on the queued path that
            # is one invocation in two, so its read is worth one round trip less.
            base = known if known is not None and known.meta.execution_id == execution_id else None
            meta, steps = self._store.read_execution(
                instance_id, execution_id, after=base.next_seq - 1 if base is not None else -1
            )
            if meta is not None and meta.execution_id == execution_id:
                return self._rebuilt(meta, base, steps, now)
        else:
            meta = self._store.get_meta(instance_id)
            if meta is not None and live is not None and live.meta.execution_id == meta.execution_id:
                live.confirmed_at = now
                return live
        if meta is None:
            self.forget(instance_id)
            return None
        base = known if known is not None and known.meta.execution_id == meta.execution_id else None
        steps = self._store.load_steps(instance_id, meta.execution_id, after=base.next_seq - 1 if base else -1)
        return self._rebuilt(meta, base, steps, now)

    def _rebuilt(self, meta: InstanceMeta, known: Live | None, steps: list[StepRecord], now: datetime) -> Live:
        """The execution of ``meta`` from ``steps``: those after ``known``'s (a dropped
        view of the same execution, whose committed history stays true), or all of them."""
        unannounced: dict[tuple[str, int], tuple[PendingChange, bool]] = {}
        if known is not None:
            history = known.history + [e for step in steps for e in step.events]
            next_seq = steps[-1].seq + 1 if steps else known.next_seq
            # A dropped view's changes are no longer this container's alone to publish:
            # another may have published them since (each is checked against the store).
            unannounced.update({key: (pending, False) for key, (pending, _) in known.unannounced.items()})
        else:
            history = list(chain(meta.first_step, steps))
            next_seq = steps[-1].seq + 1 if steps else 1
        unannounced.update({(meta.execution_id, s.seq): (s.pending, False) for s in steps if s.pending is not None})
        if meta.pending is not None:
            unannounced.setdefault((meta.execution_id, 0), (meta.pending, False))
        execution = Execution(self._runtime.workflows, meta.instance_id)
        execution.replay(history)
        live = Live(meta, execution, next_seq, history, now, unannounced=unannounced)
        self.remember(live)
        return live

    def current_code(self, live: Live) -> None:
        """Before a step: a warm execution runs the code it was built with. A stalled one
        waits for other code, and with ``replay_each_step`` (an application running its
        stack in process, whose code may change under it, as Dapr's SDK replays every
        step) each step's code is the code registered now: rebuilt from the history
        held (no I/O)."""
        if self._replay_each_step or live.execution.status is WorkflowStatus.STALLED:
            execution = Execution(self._runtime.workflows, live.meta.instance_id)
            execution.replay(live.history)
            live.execution = execution
