"""The warm cache is bounded by memory, not by count: many instances with long
histories stay within the bound, the least recently used go first, and an instance
that was let go is rebuilt from the store when its next message comes."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

from wf import DaprWorkflowContext, WorkflowRuntime
from wf.aws.settings import Settings
from wf.core.history import ActivityCompleted, TurnStarted
from wf.core.serde import encode
from wf.engine.cache import EVENT_BYTES, approximate_bytes
from wf.engine.engine import Engine
from wf.engine.messages import WorkMessage
from wf.testing import MemoryQueue, MemoryStore

wfr = WorkflowRuntime()


@wfr.activity(name="pad")
def pad(ctx, n: int) -> str:
    return "x" * 1000


@wfr.workflow(name="long")
def long(ctx: DaprWorkflowContext, n: int):
    total = 0
    for i in range(n):
        total += len((yield ctx.call_activity("pad", input=i)))
    return total


def test_many_long_histories_stay_within_the_bound_and_complete() -> None:
    bound = 200_000  # bytes: about 6 of the 30 instances below at their full length
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    store, queue = MemoryStore(), MemoryQueue()
    ids = itertools.count()
    engine = Engine(
        wfr,
        store,
        queue,
        clock=lambda: clock[0],
        new_id=lambda: f"{next(ids):020x}",
        sleep=lambda _: None,
        cache_bytes=bound,
    )
    for i in range(30):
        engine.start("long", f"i{i}", encode(20))
    peak = 0
    while queue.messages:
        _, out = queue.messages.pop(0)  # round-robin over the instances: LRU is worst case
        clock[0] += timedelta(milliseconds=1)
        engine.handle(WorkMessage.parse(out.body))
        peak = max(peak, engine.lives.held_bytes)
        assert engine.lives.held_bytes <= bound
    for i in range(30):
        meta = store.metas[f"i{i}"]
        assert meta.status.value == "COMPLETED" and json.loads(meta.output or "0") == 20_000
    assert peak > bound / 2  # the bound was what limited it, not the number of instances


def test_what_an_event_costs_and_the_default_bound() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert approximate_bytes([TurnStarted(now)]) == EVENT_BYTES
    assert approximate_bytes([ActivityCompleted(now, 1, '"' + "y" * 98 + '"')]) == EVENT_BYTES + 100
    base = {"WF_TABLE_NAME": "t", "WF_QUEUE_URL": "q"}
    mb = 1024 * 1024
    assert Settings.from_env(base).cache_bytes == 128 * mb
    assert Settings.from_env({**base, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512"}).cache_bytes == 128 * mb
    assert Settings.from_env({**base, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048"}).cache_bytes == 512 * mb
    assert Settings.from_env({**base, "WF_CACHE_MB": "64"}).cache_bytes == 64 * mb
