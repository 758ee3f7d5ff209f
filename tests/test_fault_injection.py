"""Lambda may die between any two AWS calls: for every such point of a whole workflow
(chain, fan-out, timer, child, inline activity, event), crash there once, let SQS
redeliver, and check the outcome is exact, with nothing lost and nothing recorded twice.

Runs on the in-memory store and queue (the same protocols as DynamoDB and SQS)."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime, when_all
from wf.aws.app import make_handler
from wf.aws.settings import Settings
from wf.core.history import ActivityCompleted, ChildCompleted, EventRaised, TimerFired
from wf.core.serde import encode
from wf.core.status import WorkflowStatus
from wf.engine.engine import Engine
from wf.engine.manage import Signal, signal
from wf.engine.messages import WorkMessage
from wf.engine.queue import OutMessage
from wf.errors import InstanceExistsError
from wf.testing import MemoryStore

wfr = WorkflowRuntime()
SETTINGS = Settings("unused-table", "unused-queue")
runs: Counter[int] = Counter()


@wfr.activity(name="act")
def act(ctx: WorkflowActivityContext, x: int) -> int:
    runs[x] += 1
    return x * 10


@wfr.activity(name="inline_act", inline=True)
def inline_act(ctx: WorkflowActivityContext, x: int) -> int:
    return x * 100


@wfr.workflow(name="child")
def child(ctx: DaprWorkflowContext, x: int):
    return (yield ctx.call_activity(act, input=x)) + 1


@wfr.workflow(name="ft")
def ft(ctx: DaprWorkflowContext, _: Any):
    a = yield ctx.call_activity(act, input=1)
    b = yield when_all([ctx.call_activity(act, input=i) for i in (2, 3, 4)])
    yield ctx.create_timer(timedelta(seconds=30))
    c = yield ctx.call_child_workflow(child, input=5)
    d = yield ctx.call_activity(inline_act, input=6)
    e = yield ctx.wait_for_external_event("go")
    return [a, b, c, d, e]


EXPECTED = [10, [20, 30, 40], 51, 600, "now"]


class Crash(BaseException):
    """The Lambda invocation died here (a BaseException: nothing in the function, such
    as Powertools' per-record error handling, gets to run after it)."""


class Faults:
    """Crash once, at the ``crash_at``-th AWS call: before it, or just after it took effect."""

    def __init__(self, crash_at: int, after: bool = False) -> None:
        self.calls = 0
        self.crash_at = crash_at
        self.after = after

    def around(self, fn: Any, *a: Any, **k: Any) -> Any:
        self.calls += 1
        if self.calls == self.crash_at and not self.after:
            raise Crash(f"died before AWS call {self.calls}")
        result = fn(*a, **k)
        if self.calls == self.crash_at:
            raise Crash(f"died after AWS call {self.calls}")
        return result


class FaultyStore:
    def __init__(self, inner: MemoryStore, faults: Faults) -> None:
        self._inner, self._faults = inner, faults

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._inner, name)

        def call(*a: Any, **k: Any) -> Any:
            return self._faults.around(fn, *a, **k)

        return call


class FaultyQueue:
    """SQS with delays and receive counts, on a fake clock."""

    def __init__(self, faults: Faults, clock: list[datetime]) -> None:
        self._faults, self._clock = faults, clock
        self.items: list[tuple[datetime, int, OutMessage]] = []
        self.receives: Counter[int] = Counter()
        self._ids = itertools.count()

    def send(self, messages: list[OutMessage]) -> None:
        self._faults.around(self._send, messages)

    def read(self, body: str) -> dict[str, Any]:
        return json.loads(body)

    def _send(self, messages: list[OutMessage]) -> None:
        for m in messages:
            self.items.append((self._clock[0] + timedelta(seconds=m.delay_seconds), next(self._ids), m))


def sqs_record(mid: int, out: OutMessage, receive_count: int) -> dict[str, Any]:
    return {
        "messageId": str(mid),
        "receiptHandle": f"rh-{mid}",
        "body": json.dumps(out.body),
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:wf-work",
        "awsRegion": "us-east-1",
    }


def deliver(
    engine: Engine, taken: list[tuple[datetime, int, OutMessage]], receives: Counter[int], batch: int
) -> set[str]:
    """Hand ``taken`` to ``engine``: one message to ``Engine.handle`` (``batch`` 1), else
    as an SQS event through the Lambda handler; the IDs of the records that failed."""
    if batch == 1:
        _, mid, out = taken[0]
        engine.handle(WorkMessage.parse(out.body), receive_count=receives[mid])
        return set()
    event = {"Records": [sqs_record(mid, out, receives[mid]) for _, mid, out in taken]}
    result = make_handler(engine, SETTINGS)(event, None)
    return {f["itemIdentifier"] for f in result["batchItemFailures"]}


def scenario(crash_at: int, after: bool = False, batch: int = 1, input: Any = None) -> tuple[int, MemoryStore]:
    """``batch`` 1 hands messages to ``Engine.handle`` one by one; more delivers up to
    that many visible messages at once as an SQS event through the Lambda handler. A
    large ``input`` puts the first step in an item of its own."""
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    faults = Faults(crash_at, after)
    store, queue = MemoryStore(), FaultyQueue(faults, clock)
    ids = itertools.count()

    def new_engine() -> Engine:  # a fresh Lambda container: empty warm cache
        return Engine(
            wfr,
            FaultyStore(store, faults),
            queue,
            clock=lambda: clock[0],
            new_id=lambda: f"{int(clock[0].timestamp() * 1000):012x}{next(ids):08x}",
            sleep=lambda _: None,
        )

    engine = new_engine()
    for _ in range(5):  # the client retries a start that failed
        try:
            engine.start("ft", "wf", encode(input))
            break
        except Crash:
            engine = new_engine()
        except InstanceExistsError:
            break  # the failed attempt had in fact started it
    raised = False
    for _ in range(2000):
        if not raised and store.metas.get("wf") and _waiting_for_event(engine, store):
            try:
                signal(engine, "wf", Signal.RAISE, name="go", data=encode("now"))
                raised = True
            except Crash:
                engine = new_engine()
            continue
        if not queue.items:
            break
        queue.items.sort(key=lambda t: (t[0], t[1]))
        clock[0] = max(clock[0], queue.items[0][0])
        taken = [item for item in queue.items if item[0] <= clock[0]][:batch]
        for item in taken:
            queue.items.remove(item)
            queue.receives[item[1]] += 1
        try:
            failed = deliver(engine, taken, queue.receives, batch)
        except Crash:
            # Nothing was deleted: every message comes back after the visibility timeout.
            failed = {str(mid) for _, mid, _ in taken}
            engine = new_engine()
        for _, mid, out in taken:
            if str(mid) in failed:
                queue.items.append((clock[0] + timedelta(seconds=180), mid, out))
    return faults.calls, store


def _waiting_for_event(engine: Engine, store: MemoryStore) -> bool:
    meta = store.metas["wf"]
    steps = store.load_steps("wf", meta.execution_id)
    events = [e for s in steps for e in s.events]
    return any(isinstance(e, ActivityCompleted) and e.result == "600" for e in events)


def check(store: MemoryStore) -> None:
    meta = store.metas["wf"]
    steps = store.load_steps("wf", meta.execution_id)
    history = list(meta.first_step) + [e for s in steps for e in s.events]
    assert steps[-1].status is WorkflowStatus.COMPLETED
    done = Counter(e.task_id for e in history if isinstance(e, (ActivityCompleted, TimerFired, ChildCompleted)))
    assert all(n == 1 for n in done.values()), done
    assert sum(isinstance(e, EventRaised) for e in history) == 1  # raised once, recorded once
    from wf.core.history import WorkflowCompleted
    from wf.core.serde import decode

    final = [e for e in history if isinstance(e, WorkflowCompleted)]
    assert len(final) == 1 and decode(final[0].output) == EXPECTED
    assert store.metas["wf"].status is WorkflowStatus.COMPLETED
    child_meta = store.metas["wf:0006"]
    assert child_meta.status is WorkflowStatus.COMPLETED
    # Only the current executions' histories remain, but for the large first step of a
    # start that died before creating its record: never read, deleted by a purge.
    current = {("wf", meta.execution_id), ("wf:0006", child_meta.execution_id)}
    left = {k: sorted(v) for k, v in store.steps.items() if k not in current and v}
    assert all(seqs == [0] for seqs in left.values()), left


def test_clean_run() -> None:
    calls, store = scenario(crash_at=0)
    check(store)
    assert calls > 20


def test_a_batch_records_its_instance_results_in_one_step() -> None:
    _, store = scenario(crash_at=0, batch=10)
    check(store)
    steps = store.load_steps("wf", store.metas["wf"].execution_id)
    fan_in = [s for s in steps if any(isinstance(e, ActivityCompleted) and e.result == "20" for e in s.events)]
    results = {e.result for e in fan_in[0].events if isinstance(e, ActivityCompleted)}
    assert results == {"20", "30", "40"}


BIG = "x" * 2000


@pytest.mark.parametrize(
    ("batch", "input"), [(1, None), (10, None), (1, BIG)], ids=["one-by-one", "batches", "large-first-step"]
)
@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
def test_a_crash_at_any_aws_call_loses_and_duplicates_nothing(after: bool, batch: int, input: Any) -> None:
    total, store = scenario(crash_at=0, batch=batch, input=input)
    check(store)
    if input is BIG:
        assert store.metas["wf"].first_step == () and store.get_step("wf", store.metas["wf"].execution_id, 0)
    for k in range(1, total + 1):
        calls, store = scenario(crash_at=k, after=after, batch=batch, input=input)
        assert calls >= k, f"the crash at call {k} never happened"
        try:
            check(store)
        except (AssertionError, KeyError, IndexError) as exc:
            pytest.fail(f"crash {'after' if after else 'before'} AWS call {k} of {total}: {exc!r}")
