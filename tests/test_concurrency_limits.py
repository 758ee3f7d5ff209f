"""Concurrency limits from a Dapr Configuration (``wf/engine/concurrency.py``): read as
Dapr writes them, enforced across every container with leased slots (memory, moto and
DynamoDB Local), under the faults of a chaos run, and on `wf dev --config`."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.dev_process import ROOT, eventually, get_json, post_json, wf_dev
from tests.test_concurrent_containers import in_threads
from tests.test_store_contract import local_table
from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime, when_all
from wf.cli import main as cli_main
from wf.core.serde import decode, encode
from wf.engine.concurrency import ActivityGate, ConcurrencyLimits, Lease, Slots, parse_run_key
from wf.engine.engine import Engine
from wf.engine.messages import WorkMessage
from wf.errors import ConfigurationError, StoreError
from wf.testing import MemoryQueue, MemorySlots, MemoryStore

T0 = datetime(2026, 3, 1, tzinfo=UTC)

DAPR_CONFIG = """\
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: appconfig
spec:
  workflow:
    maxConcurrentWorkflowInvocations: 100
    maxConcurrentActivityInvocations: 4
    globalMaxConcurrentActivityInvocations: 6
    activityConcurrencyLimits:
      - name: charge_card
        maxConcurrent: 3
"""


def test_a_dapr_configuration_is_read_as_dapr_writes_it() -> None:
    limits = ConcurrencyLimits.from_dapr_configuration(DAPR_CONFIG)
    assert limits == ConcurrencyLimits(
        activities_per_container=4, workflows_per_container=100, activities=6, activity_names={"charge_card": 3}
    )
    assert limits.scopes_for("charge_card") == [("activity:charge_card", 3), ("activity", 6)]
    assert limits.scopes_for("other") == [("activity", 6)]
    assert ConcurrencyLimits.from_dapr_configuration("kind: Configuration\nspec: {}\n") == ConcurrencyLimits()
    assert not ConcurrencyLimits.from_dapr_configuration("").any_global


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("spec: {workflow: {globalMaxConcurrentWorkflowInvocations: 2}}", "not supported here"),
        ("spec: {workflow: {workflowConcurrencyLimits: [{name: a, maxConcurrent: 1}]}}", "not supported here"),
        ("spec: {workflow: {maxConcurrentActivityInvocations: 0}}", "at least 1"),
        ("spec: {workflow: {maxConcurrentActivityInvocations: many}}", "whole number"),
        ("spec: {workflow: {activityConcurrencyLimits: [{maxConcurrent: 1}]}}", "needs a name"),
        ("spec: {workflow: {activityConcurrencyLimits: [{name: a}]}}", "no maxConcurrent"),
        (
            "spec: {workflow: {activityConcurrencyLimits: [{name: a, maxConcurrent: 1}, {name: a, maxConcurrent: 2}]}}",
            "twice",
        ),
        ("kind: Component\n", "not a Dapr Configuration"),
        ("spec: [", "not valid YAML"),
    ],
)
def test_what_cannot_be_honoured_is_refused_clearly(text: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        ConcurrencyLimits.from_dapr_configuration(text, "dapr-config.yaml")


# -- the slots, on each store ----------------------------------------------------------------


@pytest.fixture(params=["memory", "dynamodb", "dynamodb-local"])
def slots(request: Any) -> Iterator[Slots]:
    if request.param == "memory":
        yield MemorySlots()
        return
    from wf.aws.slots import DynamoSlots
    from wf.aws.table import make_item_model, table_definition

    if request.param == "dynamodb-local":  # AWS's own DynamoDB Local, not moto
        yield DynamoSlots(local_table(request.getfixturevalue("dynamodb_local")))
        return
    from moto import mock_aws

    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(**table_definition("wf-instances-slots"))
        yield DynamoSlots(make_item_model("wf-instances-slots", "us-east-1", None))


def test_a_limit_s_slots_are_taken_once_given_back_and_free_again_when_a_lease_ends(slots: Slots) -> None:
    until = T0 + timedelta(seconds=30)
    held = [slots.take("activity:x", 3, f"run{i}", T0, until) for i in range(3)]
    assert all(held) and len({lease.slot for lease in held if lease}) == 3
    assert slots.take("activity:x", 3, "run3", T0, until) is None  # full
    assert slots.take("activity:y", 3, "run3", T0, until) is not None  # another limit
    # A take that answered with an error may have landed: its owner frees it by name.
    slots.release("activity:y", "run3")
    slots.release("activity:y", "nobody")  # holding nothing: nothing happens
    assert slots.usage("activity:y", T0) == ([], [])
    owners, waiting = slots.usage("activity:x", T0)
    assert sorted(owners) == ["run0", "run1", "run2"] and waiting == []
    first = held[0]
    assert first is not None
    slots.give_back(Lease(first.scope, first.slot, "someone else"))  # not its holder: nothing
    assert slots.take("activity:x", 3, "run3", T0, until) is None
    slots.give_back(first)
    again = slots.take("activity:x", 3, "run3", T0, until)
    assert again is not None and again.slot == first.slot
    # A holder that died never gives back: its slot is free once its lease is over.
    slots.note_waiting("activity:x", "run4", T0)
    owners, waiting = slots.usage("activity:x", T0)
    assert sorted(owners) == ["run1", "run2", "run3"] and waiting == ["run4"]
    later = until + timedelta(milliseconds=1)
    assert slots.usage("activity:x", later) == ([], [])
    assert slots.take("activity:x", 3, "run4", later, later + timedelta(seconds=30)) is not None
    slots.give_back(held[1])  # its lease ran out and the slot is someone else's: nothing
    assert slots.usage("activity:x", later) == (["run4"], [])


# -- the engine: a 50-way fan-out over several containers, under faults ---------------------

limits_rt = WorkflowRuntime()
_inside: dict[str, int] = {"charge_card": 0, "all": 0}
_most: dict[str, int] = {"charge_card": 0, "all": 0}
_runs: list[int] = []
_counting = threading.Lock()


def _enter(name: str) -> None:
    with _counting:
        for key in (name, "all") if name in _inside else ("all",):
            _inside[key] += 1
            _most[key] = max(_most[key], _inside[key])


def _leave(name: str) -> None:
    with _counting:
        for key in (name, "all") if name in _inside else ("all",):
            _inside[key] -= 1


@limits_rt.activity(name="charge_card")
def charge_card(ctx: WorkflowActivityContext, n: int) -> int:
    _enter("charge_card")
    try:
        _runs.append(n)
        time.sleep(0.002)
        return n * 10
    finally:
        _leave("charge_card")


@limits_rt.activity(name="ship", inline=True)  # limited: queued even so, to take a slot
def ship(ctx: WorkflowActivityContext, n: int) -> int:
    _enter("ship")
    try:
        time.sleep(0.001)
        return n
    finally:
        _leave("ship")


@limits_rt.workflow(name="orders")
def orders(ctx: DaprWorkflowContext, n: int):
    charged = yield when_all([ctx.call_activity(charge_card, input=i) for i in range(n)])
    shipped = yield when_all([ctx.call_activity(ship, input=i) for i in range(10)])
    return sum(charged) + sum(shipped)


class FaultySlots:
    """Slots whose calls fail now and then, before or after taking effect (a throttle,
    a timeout whose write landed)."""

    def __init__(self, real: MemorySlots, rng: random.Random, rate: float) -> None:
        self.real, self.rng, self.rate, self.faults = real, rng, rate, 0
        self._lock = threading.Lock()

    def _roll(self) -> float:
        with self._lock:
            return self.rng.random()

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.real, name)
        if name == "usage":
            return real

        def call(*args: Any) -> Any:
            roll = self._roll()
            if roll < self.rate / 2:
                self.faults += 1
                raise StoreError(f"injected fault before {name}")
            result = real(*args)
            if roll < self.rate:
                self.faults += 1
                raise StoreError(f"injected fault after {name}")
            return result

        return call


@pytest.mark.parametrize("seed", range(3))
def test_a_50_way_fan_out_over_four_containers_never_overlaps_past_its_limits(seed: int) -> None:
    rng = random.Random(seed)
    for key in _inside:
        _inside[key] = _most[key] = 0
    _runs.clear()
    limits = ConcurrencyLimits.from_dapr_configuration(DAPR_CONFIG)
    slots = FaultySlots(MemorySlots(), rng, 0.1)
    store, queue = MemoryStore(), MemoryQueue()
    # The clock: wall time, moved on to the next message's time whenever every container
    # is idle and nothing is due (an SQS delay, a dead run's lease running out).
    offset = [timedelta(0)]
    ids = itertools.count()
    lock = threading.Lock()

    def clock() -> datetime:
        return datetime.now(UTC) + offset[0]

    def new_id() -> str:
        return f"{int(clock().timestamp() * 1000):012x}{next(ids):08x}"

    def engine() -> Engine:
        gate = ActivityGate(limits, slots, clock, new_id)
        return Engine(limits_rt, store, queue, clock=clock, new_id=new_id, sleep=lambda _: None, concurrency=gate)

    engine().start("orders", "o1", encode(50))
    busy, idle, errors = [0], [0], []
    pending: list[tuple[datetime, Any]] = []  # (visible at, message), as SQS holds them

    def next_due() -> Any:
        """A message due now, under ``lock``; or None (then time moves on, if all idle)."""
        pending.extend((clock() + timedelta(seconds=out.delay_seconds), (k, out)) for k, out in queue.messages)
        queue.messages.clear()
        due = [i for i, (at, _) in enumerate(pending) if at <= clock()]
        if due:
            return pending.pop(rng.choice(due))[1]
        if busy[0] == 0:
            offset[0] += max(timedelta(milliseconds=1), min((at for at, _ in pending), default=clock()) - clock())
        return None

    def container() -> None:
        own = engine()
        while idle[0] < 300 and store.metas["o1"].status.value != "COMPLETED":
            with lock:
                item = next_due()
                if item is None:
                    idle[0] += 1
                else:
                    idle[0] = 0
                    busy[0] += 1
            if item is None:
                time.sleep(0.001)
                continue
            try:
                # Each invocation has 2 s left: a slot is leased until 7 s from then.
                own.handle(WorkMessage.parse(item[1].body), remaining_ms=lambda: 2_000)
            except StoreError:
                with lock:
                    queue.messages.append(item)  # the invocation failed: SQS delivers it again
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                with lock:
                    busy[0] -= 1

    in_threads(container, 4, timeout=120)
    assert not errors, errors
    meta = store.metas["o1"]
    assert meta.status.value == "COMPLETED", meta.failure
    assert decode(meta.output) == sum(i * 10 for i in range(50)) + sum(range(10))
    assert set(_runs) == set(range(50))  # every charge ran (a run may repeat after a fault)
    assert _most["charge_card"] <= 3 and _most["all"] <= 6, _most
    assert _most["charge_card"] >= 2  # runs did overlap: the limit was met, not avoided
    assert slots.faults > 10


def test_a_dead_container_s_slot_comes_back_when_its_lease_ends() -> None:
    now = [T0]
    slots = MemorySlots()
    limits = ConcurrencyLimits(activity_names={"charge_card": 1})
    gate = ActivityGate(limits, slots, lambda: now[0], lambda: "x")
    store, queue = MemoryStore(), MemoryQueue()
    engine = Engine(
        limits_rt, store, queue, clock=lambda: now[0], new_id=lambda: "e1", sleep=lambda _: None, concurrency=gate
    )
    # A container took the only slot and died (its invocation had 10 s left).
    assert gate.enter("charge_card", "dead-run", timedelta(seconds=15)) is not None
    engine.start("orders", "o2", encode(1))
    msg = WorkMessage.parse(queue.messages.pop(0)[1].body)
    engine.handle(msg, remaining_ms=lambda: 10_000)
    waiting = [WorkMessage.parse(out.body) for _, out in queue.messages]
    assert [(m.kind.value, out.delay_seconds) for m, (_, out) in zip(waiting, queue.messages, strict=True)] == [
        ("activity", 1)
    ]
    assert gate.usage()[0].running == 1 and gate.usage()[0].waiting == 1
    # Which run holds the slot, and which waits: an instance's task (`wf get` shows it).
    assert gate.usage()[0].running_runs == ("dead-run",)
    assert [parse_run_key(r) for r in gate.usage()[0].waiting_runs] == [("o2", 1)]
    assert parse_run_key("01HXYZ0000") is None  # a slot an earlier version took: no run named
    # Each wait may be longer (up to 2 s, 4 s, then 8 s): a long wait does not poll every second.
    queue.messages.clear()
    delays = []
    for _ in range(5):
        engine.handle(waiting[0], remaining_ms=lambda: 10_000)
        _, out = queue.messages.pop(0)
        waiting[0] = WorkMessage.parse(out.body)
        delays.append(out.delay_seconds)
    assert all(1 <= d <= limit for d, limit in zip(delays, [2, 4, 8, 8, 8], strict=True)), delays
    queue.messages.clear()
    now[0] += timedelta(seconds=16)  # the dead run's lease is over
    engine.handle(waiting[0], remaining_ms=lambda: 10_000)
    assert store.load_steps("o2", store.metas["o2"].execution_id)[-1].events  # recorded
    assert gate.usage()[0].running == 0  # given back after the run


# -- wf dev --config --------------------------------------------------------------------------


def test_wf_dev_reads_a_dapr_configuration_and_shows_what_runs_and_waits(tmp_path: Path) -> None:
    config = tmp_path / "dapr-config.yaml"
    config.write_text(
        "kind: Configuration\nspec:\n  workflow:\n    activityConcurrencyLimits:\n"
        "      - name: slow_step\n        maxConcurrent: 2\n"
    )
    marks = tmp_path / "marks"
    marks.mkdir()
    os.environ["MARKS_DIR"] = str(marks)  # the containers inherit the stack's environment
    try:
        with wf_dev(tmp_path, ROOT / "tests" / "apps" / "limited.py", "--config", str(config)) as (base, _env, lines):
            assert any("at most 2 runs of 'slow_step' at once" in line for line in lines), lines[:5]
            post_json(base, "/v1.0/workflows/dapr/fan/start?instanceID=f1", 12)
            # While it runs, the limit is visible: runs holding a slot, and some waiting.
            rows: list[Any] = []
            eventually(
                lambda: rows.append(get_json(base, "/v1.0/concurrency")["limits"][0]) or rows[-1]["waiting"] > 0,
                "runs waiting for a slot",
            )
            assert rows[-1]["activity"] == "slow_step" and rows[-1]["maxConcurrent"] == 2
            assert {r["instanceID"] for r in rows[-1]["waitingRuns"] + rows[-1]["runningRuns"]} == {"f1"}
            # `wf get` says which of the instance's tasks wait, and for which limit.
            said: list[str] = []

            def wf_get_says_waiting() -> bool:
                err = io.StringIO()
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                    assert cli_main(["get", "f1", "--endpoint", base]) == 0
                said.append(err.getvalue())
                return "waiting for a concurrency slot: task" in said[-1]

            eventually(wf_get_says_waiting, "wf get showing the waiting tasks")
            assert "(limit of 'slow_step')" in said[-1]
            assert all(row["running"] <= 2 for row in rows)
            eventually(
                lambda: get_json(base, "/v1.0/workflows/dapr/f1")["runtimeStatus"] == "COMPLETED", "completion", 90
            )
            body = get_json(base, "/v1.0/workflows/dapr/f1")
            assert json.loads(body["properties"]["dapr.workflow.output"]) == sum(range(12))
    finally:
        del os.environ["MARKS_DIR"]
    spans = sorted(tuple(map(float, p.read_text().split())) for p in marks.iterdir())
    assert len(spans) >= 12
    most = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert most <= 2, spans


def test_wf_dev_refuses_a_configuration_it_cannot_honour_before_starting(tmp_path: Path) -> None:

    config = tmp_path / "dapr-config.yaml"
    config.write_text("spec:\n  workflow:\n    globalMaxConcurrentWorkflowInvocations: 3\n")
    for path, says in ((config, "not supported here"), (tmp_path / "missing.yaml", "No such file")):
        run = subprocess.run(
            [sys.executable, "-m", "wf.cli", "dev", "--port", "1", "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 2 and says in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_the_function_reads_the_file_shipped_with_its_code(tmp_path: Path) -> None:
    from wf.aws.settings import Settings

    (tmp_path / "dapr-config.yaml").write_text(DAPR_CONFIG)
    env = {"WF_TABLE_NAME": "t", "WF_QUEUE_URL": "q", "WF_DAPR_CONFIG": "dapr-config.yaml"}
    settings = Settings.from_env({**env, "LAMBDA_TASK_ROOT": str(tmp_path)})
    assert settings.concurrency.activity_names == {"charge_card": 3}
    assert Settings.from_env({"WF_TABLE_NAME": "t", "WF_QUEUE_URL": "q"}).concurrency == ConcurrencyLimits()
    with pytest.raises(ConfigurationError, match="cannot be read"):
        Settings.from_env({**env, "LAMBDA_TASK_ROOT": str(tmp_path / "elsewhere")})
