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
from dataclasses import dataclass
from datetime import datetime, timedelta

from wf.core.execution import Execution
from wf.core.history import HistoryEvent
from wf.core.registry import Registry
from wf.core.status import WorkflowStatus
from wf.engine.store import InstanceMeta, InstanceStore, StepRecord

CACHE_SIZE = 512
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


def chain(first: Iterable[HistoryEvent], steps: Iterable[StepRecord]) -> Iterable[HistoryEvent]:
    yield from first
    for step in steps:
        yield from step.events


class LiveCache:
    def __init__(
        self,
        runtime: Registry,
        store: InstanceStore,
        clock: Callable[[], datetime],
        *,
        replay_each_step: bool = False,
    ) -> None:
        self._runtime = runtime
        self._replay_each_step = replay_each_step
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

    def forget_all(self) -> None:
        with self._lock:
            self._warm.clear()
            self._known.clear()

    def remember(self, live: Live) -> None:
        with self._lock:
            for held in (self._warm, self._known):
                held[live.meta.instance_id] = live
                held.move_to_end(live.meta.instance_id)
                while len(held) > CACHE_SIZE:
                    held.popitem(last=False)

    def load(self, instance_id: str) -> Live | None:
        """The current execution: warm, or rebuilt from the store."""
        live = self._warm.get(instance_id)
        now = self._clock()
        if live is not None and now - live.confirmed_at <= VALIDATE_AFTER:
            return self._current_code(live)
        meta = self._store.get_meta(instance_id)
        if meta is None:
            self.forget(instance_id)
            return None
        if live is not None and live.meta.execution_id == meta.execution_id:
            live.confirmed_at = now
            return self._current_code(live)
        known = self._known.get(instance_id)
        if known is not None and known.meta.execution_id == meta.execution_id:
            steps = self._store.load_steps(instance_id, meta.execution_id, after=known.next_seq - 1)
            history = known.history + [e for step in steps for e in step.events]
            next_seq = steps[-1].seq + 1 if steps else known.next_seq
        else:
            steps = self._store.load_steps(instance_id, meta.execution_id)
            history = list(chain(meta.first_step, steps))
            next_seq = steps[-1].seq + 1 if steps else 1
        execution = Execution(self._runtime.workflows, instance_id)
        execution.replay(history)
        live = Live(meta, execution, next_seq, history, now)
        self.remember(live)
        return live

    def _current_code(self, live: Live) -> Live:
        """A warm execution runs the code it was built with. A stalled one waits for other
        code, and with ``replay_each_step`` (an application running its stack in
        process, whose code may change under it, as Dapr's SDK replays every step) each
        step's code is the code registered now: rebuilt from the history held (no I/O)."""
        if self._replay_each_step or live.execution.status is WorkflowStatus.STALLED:
            execution = Execution(self._runtime.workflows, live.meta.instance_id)
            execution.replay(live.history)
            live.execution = execution
        return live
