"""Several Lambda containers, each with its own warm cache, work on the same instances:
whichever container gets a message, nothing may be lost or recorded twice."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.test_fault_injection import EXPECTED, ft  # noqa: F401 - registers the workflows
from tests.test_fault_injection import wfr as ft_runtime
from wf._engine import Engine
from wf._history import ActivityCompleted, ChildCompleted, TimerFired, WorkflowCompleted
from wf._manage import Signal, signal
from wf._messages import WorkMessage
from wf._queue import MemoryQueue
from wf._serde import decode, encode
from wf._store import MemoryStore


@pytest.mark.parametrize("seed", range(25))
def test_messages_spread_over_containers_with_stale_caches(seed: int) -> None:
    rng = random.Random(seed)
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    store, queue = MemoryStore(), MemoryQueue()
    ids = itertools.count()

    def engine() -> Engine:
        return Engine(
            ft_runtime,
            store,
            queue,
            clock=lambda: clock[0],
            new_id=lambda: f"{int(clock[0].timestamp() * 1000):012x}{next(ids):08x}",
            sleep=lambda _: None,
        )

    containers = [engine() for _ in range(3)]
    containers[0].start("ft", "wf", encode(None))
    raised = False
    for _ in range(500):
        if not queue.messages:
            if raised:
                break
            signal(rng.choice(containers), "wf", Signal.RAISE, name="go", data=encode("now"))
            raised = True
            continue
        _, out = queue.messages.pop(rng.randrange(len(queue.messages)))
        clock[0] += timedelta(seconds=out.delay_seconds or 0.001)
        rng.choice(containers).handle(WorkMessage.parse(out.body))
    meta = store.metas["wf"]
    history = list(meta.first_step) + [e for s in store.load_steps("wf", meta.execution_id) for e in s.events]
    done = Counter(e.task_id for e in history if isinstance(e, (ActivityCompleted, TimerFired, ChildCompleted)))
    assert all(n == 1 for n in done.values()), done
    final = [e for e in history if isinstance(e, WorkflowCompleted)]
    assert len(final) == 1, [type(e).__name__ for e in history][-6:]
    assert decode(final[0].output) == EXPECTED
    # The summary (and so the status index) ends on the final state, never an older one.
    assert meta.status.value == "COMPLETED"
    assert store.metas["wf:0006"].status.value == "COMPLETED"
