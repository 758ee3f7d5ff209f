"""Apps calling apps (``call_activity``/``call_child_workflow`` with ``app_id``), on two
engines with a store and a queue each, as two deployed stacks have: each knows only the
other's queue. Lambda may die between any two AWS calls of either app: for every such
point, crash there once, let SQS redeliver, and check the outcome is exact, with
nothing lost and nothing recorded twice, in both apps. Then retries, an unknown app,
termination and purge of a child in the other app."""

from __future__ import annotations

import contextlib
import itertools
import json
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.dev_process import ROOT, eventually, free_port, get_json, post_json, wf_dev
from tests.test_fault_injection import Crash, Faults, FaultyQueue, FaultyStore, deliver
from wf import DaprWorkflowContext, RetryPolicy, WorkflowActivityContext, WorkflowRuntime, when_all
from wf.aws.settings import Settings
from wf.core.history import ActivityCompleted, ChildCompleted, HistoryEvent, ParentRef, WorkflowCompleted
from wf.core.serde import decode, encode
from wf.core.status import WorkflowStatus
from wf.engine.blobs import MAX_PAYLOAD_BYTES
from wf.engine.engine import Engine
from wf.engine.manage import Signal, purge, signal
from wf.engine.messages import CalledActivityMessage, WorkMessage
from wf.engine.queue import OutMessage
from wf.errors import InstanceExistsError, PayloadTooLargeError, QueueError, TaskFailedError
from wf.testing import MemoryStore, WorkflowTestEnvironment

orders = WorkflowRuntime()
billing = WorkflowRuntime()
charged: Counter[int] = Counter()
flaky: Counter[str] = Counter()


@billing.activity(name="charge")
def charge(ctx: WorkflowActivityContext, cents: int) -> int:
    charged[cents] += 1
    return cents * 10


@billing.activity(name="flaky")
def flaky_charge(ctx: WorkflowActivityContext, key: str) -> str:
    flaky[key] += 1
    if flaky[key] < 3:
        raise RuntimeError(f"card declined ({flaky[key]})")
    return f"{key} ok after {flaky[key]}"


@billing.workflow(name="invoice")
def invoice(ctx: DaprWorkflowContext, cents: int):
    total = yield ctx.call_activity("charge", input=cents)
    # And back: an activity of the app that called this workflow.
    return (yield ctx.call_activity("confirm", input=total, app_id="orders"))


@billing.workflow(name="forever")
def forever(ctx: DaprWorkflowContext, _: Any):
    yield ctx.wait_for_external_event("never")


@orders.activity(name="confirm")
def confirm(ctx: WorkflowActivityContext, total: int) -> str:
    return f"confirmed {total} for {ctx.workflow_id}"


@orders.workflow(name="order")
def order(ctx: DaprWorkflowContext, _: Any):
    # The first step's call is sent once the start is recorded (a refused start must
    # not run the other app's code); later ones at once.
    a = yield ctx.call_activity("charge", input=1, app_id="billing")
    b = yield when_all([ctx.call_activity("charge", input=i, app_id="billing") for i in (2, 3)])
    c = yield ctx.call_child_workflow("invoice", input=5, app_id="billing")
    try:
        yield ctx.call_activity("charge", input=6, app_id="nowhere")
        d = "reached nowhere?"
    except TaskFailedError as exc:
        d = exc.details.error_type
    local = yield ctx.call_activity("confirm", input=7, app_id="orders")  # its own ID: local
    return [a, b, c, d, local]


EXPECTED = [10, [20, 30], "confirmed 50 for order-1:0004", "UnknownAppError", "confirmed 7 for order-1"]


@orders.workflow(name="retrying")
def retrying(ctx: DaprWorkflowContext, key: str):
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=3)
    return (yield ctx.call_activity("flaky", input=key, app_id="billing", retry_policy=policy))


@billing.activity(name="huge")
def huge(ctx: WorkflowActivityContext, size: int) -> str:
    return "x" * size


@orders.workflow(name="too_large")
def too_large(ctx: DaprWorkflowContext, _: Any):
    seen = []
    for call in (
        ctx.call_activity("huge", input=300_000, app_id="billing"),  # the result
        ctx.call_activity("charge", input="y" * 300_000, app_id="billing"),  # the input
        ctx.call_activity("huge", input=10, app_id="billing"),
    ):
        try:
            seen.append((yield call))
        except TaskFailedError as exc:
            seen.append(exc.details.error_type)
    return seen


@orders.workflow(name="parent_of_forever")
def parent_of_forever(ctx: DaprWorkflowContext, _: Any):
    yield ctx.call_child_workflow("forever", instance_id="kid", app_id="billing")


SETTINGS = Settings("unused-table", "unused-queue")


class SqsSized:
    """Another app's queue as this app sees it: SQS's size limit, and no bucket."""

    def __init__(self, inner: FaultyQueue) -> None:
        self._inner = inner

    def send(self, messages: list[OutMessage]) -> None:
        for m in messages:
            if len(json.dumps(m.body)) > 256 * 1024 - 2048:
                raise PayloadTooLargeError("a work message is over SQS's limit and no bucket is configured")
        self._inner.send(messages)

    def read(self, body: str) -> dict[str, Any]:
        return self._inner.read(body)


class Apps:
    """Two apps on one fake clock: each a store, a queue and a (replaceable) engine
    that knows the other's queue; SQS delivery of both queues, earliest first."""

    def __init__(self, faults: Faults, batch: int = 1) -> None:
        self.clock = [datetime(2026, 1, 1, tzinfo=UTC)]
        self.faults, self.batch = faults, batch
        self.stores = {"orders": MemoryStore(), "billing": MemoryStore()}
        self.queues = {name: FaultyQueue(faults, self.clock) for name in self.stores}
        self.runtimes = {"orders": orders, "billing": billing}
        self._ids = itertools.count()
        self.engines = {name: self.new_engine(name) for name in self.stores}

    def new_engine(self, app: str) -> Engine:  # a fresh Lambda container
        other = "billing" if app == "orders" else "orders"
        peer: Any = SqsSized(self.queues[other])
        return Engine(
            self.runtimes[app],
            FaultyStore(self.stores[app], self.faults),
            self.queues[app],
            clock=lambda: self.clock[0],
            new_id=lambda: f"{int(self.clock[0].timestamp() * 1000):012x}{next(self._ids):08x}",
            sleep=lambda _: None,
            app_id=app,
            peers={other: peer},
            # As with a bucket: payloads up to 10 MB here, and SQS's 256 KB to the other app.
            max_payload_bytes=MAX_PAYLOAD_BYTES,
        )

    def call(self, app: str, fn: Callable[[Engine], Any]) -> Any:
        """A management call on ``app``, retried by its client while it crashes."""
        for _ in range(5):
            try:
                return fn(self.engines[app])
            except Crash:
                self.engines[app] = self.new_engine(app)
        raise AssertionError("a call crashed five times")

    def run(self, until: Callable[[], bool] = lambda: False, limit: int = 3000) -> None:
        for _ in range(limit):
            if until():
                return
            waiting = [(t, mid, app) for app, q in self.queues.items() for t, mid, _ in q.items]
            if not waiting:
                return
            due, _, app = min(waiting)
            queue = self.queues[app]
            self.clock[0] = max(self.clock[0], due)
            queue.items.sort(key=lambda t: (t[0], t[1]))
            taken = [item for item in queue.items if item[0] <= self.clock[0]][: self.batch]
            for item in taken:
                queue.items.remove(item)
                queue.receives[item[1]] += 1
            engine = self.engines[app]
            try:
                failed = deliver(engine, taken, queue.receives, self.batch)
            except Crash:
                failed = {str(mid) for _, mid, _ in taken}
                self.engines[app] = self.new_engine(app)
            for _, mid, out in taken:
                if str(mid) in failed:
                    queue.items.append((self.clock[0] + timedelta(seconds=180), mid, out))

    def history(self, app: str, instance_id: str) -> list[HistoryEvent]:
        store = self.stores[app]
        meta = store.metas[instance_id]
        return list(meta.first_step) + [e for s in store.load_steps(instance_id, meta.execution_id) for e in s.events]


def scenario(crash_at: int, after: bool = False, batch: int = 1) -> tuple[int, Apps]:
    charged.clear()
    apps = Apps(Faults(crash_at, after), batch)
    try:
        apps.call("orders", lambda e: e.start("order", "order-1", None))
    except InstanceExistsError:
        pass  # a crashed attempt had started it
    apps.run()
    return apps.faults.calls, apps


def check(apps: Apps) -> None:
    history = apps.history("orders", "order-1")
    done = [e for e in history if isinstance(e, WorkflowCompleted)]
    assert len(done) == 1 and decode(done[0].output) == EXPECTED, history[-3:]
    settled = Counter(e.task_id for e in history if isinstance(e, ActivityCompleted | ChildCompleted))
    assert all(n == 1 for n in settled.values()), settled
    child = apps.stores["billing"].metas["order-1:0004"]
    assert child.status is WorkflowStatus.COMPLETED
    assert child.parent == ParentRef("order-1", apps.stores["orders"].metas["order-1"].execution_id, 4, "orders")
    child_history = apps.history("billing", "order-1:0004")
    assert Counter(type(e).__name__ for e in child_history)["ActivityCompleted"] == 2
    # Nothing of the one app is in the other's table.
    assert set(apps.stores["orders"].metas) == {"order-1"}
    assert set(apps.stores["billing"].metas) == {"order-1:0004"}
    assert set(charged) == {1, 2, 3, 5}  # each ran (at least once: at-least-once delivery)


def test_two_apps_call_each_other() -> None:
    calls, apps = scenario(crash_at=0)
    check(apps)
    assert charged == Counter({1: 1, 2: 1, 3: 1, 5: 1})  # no crash: each ran once
    history = apps.history("orders", "order-1")
    # The unknown app failed its task (recorded in history), not the workflow's step.
    failed = [e for e in history if type(e).__name__ == "ActivityFailed"]
    assert len(failed) == 1 and "app 'nowhere' is not known to app 'orders'" in failed[0].failure.message
    scheduled = [e for e in history if type(e).__name__ == "ActivityScheduled"]
    assert [getattr(e, "app_id", None) for e in scheduled] == ["billing", "billing", "billing", "nowhere", "orders"]
    assert calls > 20


@pytest.mark.parametrize("batch", [1, 10], ids=["one-by-one", "batches"])
@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
def test_a_crash_at_any_aws_call_of_either_app_loses_and_duplicates_nothing(after: bool, batch: int) -> None:
    total, apps = scenario(crash_at=0, batch=batch)
    check(apps)
    for k in range(1, total + 1):
        calls, apps = scenario(crash_at=k, after=after, batch=batch)
        assert calls >= k, f"the crash at call {k} never happened"
        try:
            check(apps)
        except (AssertionError, KeyError, IndexError) as exc:
            pytest.fail(f"crash {'after' if after else 'before'} AWS call {k} of {total}: {exc!r}")


def test_the_callers_retry_policy_retries_the_other_apps_activity() -> None:
    flaky.clear()
    apps = Apps(Faults(0))
    apps.engines["orders"].start("retrying", "r-1", encode("card-7"))
    apps.run()
    meta = apps.stores["orders"].metas["r-1"]
    assert meta.status is WorkflowStatus.COMPLETED, meta.failure
    assert decode(meta.output) == "card-7 ok after 3"
    assert flaky["card-7"] == 3


def test_what_is_too_large_for_the_other_app_s_queue_fails_its_task() -> None:
    apps = Apps(Faults(0))
    apps.engines["orders"].start("too_large", "big-1", None)
    apps.run()
    meta = apps.stores["orders"].metas["big-1"]
    assert meta.status is WorkflowStatus.COMPLETED, meta.failure
    assert decode(meta.output) == ["PayloadTooLargeError", "PayloadTooLargeError", "x" * 10]


def test_terminating_and_purging_the_parent_reaches_its_child_in_the_other_app() -> None:
    apps = Apps(Faults(0))
    apps.engines["orders"].start("parent_of_forever", "p-1", None)
    apps.run()
    kid = apps.stores["billing"].metas["kid"]
    assert kid.status is WorkflowStatus.RUNNING
    assert kid.parent is not None and kid.parent.app_id == "orders"
    signal(apps.engines["orders"], "p-1", Signal.TERMINATE)
    apps.run()
    assert apps.stores["orders"].metas["p-1"].status is WorkflowStatus.TERMINATED
    assert apps.stores["billing"].metas["kid"].status is WorkflowStatus.TERMINATED
    purge(apps.engines["orders"], "p-1")
    apps.run()
    assert "p-1" not in apps.stores["orders"].metas
    assert "kid" not in apps.stores["billing"].metas
    assert not any(apps.stores["billing"].steps.values())


def test_a_purge_waits_for_the_childs_termination_on_its_way() -> None:
    apps = Apps(Faults(0))
    apps.engines["orders"].start("parent_of_forever", "p-2", None)
    apps.run()
    signal(apps.engines["orders"], "p-2", Signal.TERMINATE)
    # Purged before the child's termination is delivered: the child's app waits for it.
    apps.run(until=lambda: apps.stores["orders"].metas["p-2"].status is WorkflowStatus.TERMINATED)
    purge(apps.engines["orders"], "p-2")
    apps.run()
    assert "kid" not in apps.stores["billing"].metas


def test_a_result_for_an_app_not_known_here_is_kept_in_the_queue_not_lost() -> None:
    apps = Apps(Faults(0), batch=10)  # through the Lambda handler: a failed record comes back
    # Billing does not know orders: its answer cannot be sent, and stays queued.
    apps.engines["billing"] = Engine(
        billing,
        apps.stores["billing"],
        apps.queues["billing"],
        clock=lambda: apps.clock[0],
        new_id=lambda: "x" + str(next(apps._ids)),
        sleep=lambda _: None,
        app_id="billing",
    )
    apps.new_engine = lambda app: apps.engines[app]  # type: ignore[method-assign]
    apps.engines["orders"].start("retrying", "r-2", encode("k"))
    apps.run(limit=30)
    relayed = [json.loads(json.dumps(out.body)) for _, _, out in apps.queues["billing"].items]
    assert relayed and all(b["k"] == "relay" and b["app"] == "orders" for b in relayed)
    assert apps.stores["orders"].metas["r-2"].status is WorkflowStatus.RUNNING


def test_two_wf_devs_call_each_other_s_activities_and_child_workflows(tmp_path: Path) -> None:
    """Two apps, two handler files, two `wf dev`s started together, each naming the
    other (--peer): orders calls billing's activity and child workflow, the child calls
    orders' activity back, a workflow started in billing calls orders; a third app
    that nobody runs fails its task (after the caller's retry policy), not the step."""
    po, pb = free_port(), free_port()
    apps = ROOT / "tests" / "apps"
    billing_dev = wf_dev(
        tmp_path,
        apps / "billing.py",
        "--app-id",
        "billing",
        "--peer",
        f"orders=http://127.0.0.1:{po}",
        "--state",
        str(tmp_path / "billing.json"),
        port=pb,
    )
    orders_dev = wf_dev(
        tmp_path,
        apps / "orders.py",
        "--app-id",
        "orders",
        "--peer",
        f"billing=http://127.0.0.1:{pb}",
        "--state",
        str(tmp_path / "orders.json"),
        port=po,
    )
    devs = [orders_dev, billing_dev]

    def done(base: str, iid: str) -> bool:
        return bool(get_json(base, f"/v1.0/workflows/dapr/{iid}")["runtimeStatus"] == "COMPLETED")

    with contextlib.ExitStack() as stack:
        # Each waits for the other to start: entered side by side.
        with ThreadPoolExecutor(2) as pool:
            entered = list(pool.map(lambda cm: cm.__enter__(), devs))
        for cm in devs:
            stack.push(cm.__exit__)
        (orders_url, _, orders_log), (billing_url, _, _) = entered
        assert any("app 'orders', calling billing" in line for line in orders_log), orders_log[:8]
        post_json(orders_url, "/v1.0/workflows/dapr/order/start?instanceID=o-1", 5)
        post_json(billing_url, "/v1.0/workflows/dapr/reconcile/start?instanceID=r-1", 9)
        eventually(lambda: done(orders_url, "o-1"), "the order", 60)
        eventually(lambda: done(billing_url, "r-1"), "the reconcile", 60)
        output = json.loads(get_json(orders_url, "/v1.0/workflows/dapr/o-1")["properties"]["dapr.workflow.output"])
        assert output == [
            "billing charged 5 for o-1",
            ["billing charged 10 for inv-o-1", "orders confirmed 10 for inv-o-1"],
            "UnknownAppError",
        ]
        # The child is billing's: stored and shown there, not in orders.
        child = get_json(billing_url, "/v1.0/workflows/dapr/inv-o-1")
        assert child["runtimeStatus"] == "COMPLETED" and child["workflowName"] == "invoice"
        assert _status(orders_url, "/v1.0/workflows/dapr/inv-o-1") == 404
        reconciled = get_json(billing_url, "/v1.0/workflows/dapr/r-1")["properties"]["dapr.workflow.output"]
        assert json.loads(reconciled) == "orders confirmed 9 for r-1"


def _status(base: str, path: str) -> int:
    try:
        with urllib.request.urlopen(base + path, timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_test_kit_runs_the_other_apps_too() -> None:
    """`WorkflowTestEnvironment(apps=...)`: a workflow calling another app is tested in
    memory, each app with its own store, as deployed; an app not given fails the task."""
    charged.clear()
    with WorkflowTestEnvironment(orders, app_id="orders", apps={"billing": billing}) as env:
        client = env.client()
        iid = client.schedule_new_workflow("order", instance_id="order-1")
        state = client.wait_for_workflow_completion(iid)
        assert state is not None and state.runtime_status is WorkflowStatus.COMPLETED
        assert json.loads(state.serialized_output or "null") == EXPECTED
        child = env.app("billing").get_workflow_state("order-1:0004")
        assert child is not None and child.runtime_status is WorkflowStatus.COMPLETED
        assert client.get_workflow_state("order-1:0004") is None  # billing's, not orders'
        # The history names the app each task ran in.
        scheduled = [e for e in client.get_workflow_history(iid) if e.event_type == "TaskScheduled"]
        assert [e.app_id for e in scheduled] == ["billing", "billing", "billing", "nowhere", "orders"]
        created = [e for e in client.get_workflow_history(iid) if e.instance_id == "order-1:0004"]
        assert [e.app_id for e in created] == ["billing"]


def test_a_called_child_delivered_twice_at_once_is_started_once_and_fails_nothing() -> None:
    apps = Apps(Faults(0))
    apps.engines["orders"].start("parent_of_forever", "p-3", None)
    # Run until billing's queue holds the child's start, then deliver it twice at once:
    # the second delivery read no instance before the first one's write landed.
    apps.run(
        until=lambda: any(
            json.loads(json.dumps(o.body))["k"] == "called_child" for _, _, o in apps.queues["billing"].items
        )
    )
    _, _, out = next(item for item in apps.queues["billing"].items if item[2].body["k"] == "called_child")
    msg = WorkMessage.parse(out.body)
    store = apps.stores["billing"]
    real_get_meta = store.get_meta
    first = [True]

    def late_get_meta(instance_id: str) -> Any:
        if instance_id == "kid" and first[0]:
            first[0] = False
            apps.engines["billing"].handle(msg)  # the other delivery wins meanwhile
            return None
        return real_get_meta(instance_id)

    store.get_meta = late_get_meta  # type: ignore[method-assign]
    try:
        apps.new_engine("billing").handle(msg)
    finally:
        del store.get_meta
    apps.run()
    assert apps.stores["billing"].metas["kid"].status is WorkflowStatus.RUNNING
    assert apps.stores["orders"].metas["p-3"].status is WorkflowStatus.RUNNING  # not failed


def test_a_batch_of_called_activities_whose_answers_cannot_be_sent_does_not_fail_whole() -> None:
    class Down:
        def send(self, messages: list[OutMessage]) -> None:
            raise QueueError("SQS is down")

        def read(self, body: str) -> dict[str, Any]:
            return dict(json.loads(body))

    engine = Engine(
        billing,
        MemoryStore(),
        Down(),
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        new_id=lambda: "e1",
        sleep=lambda _: None,
        app_id="billing",
        peers={"orders": Down()},
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)
    calls = [(CalledActivityMessage(f"o-{i}", "e1", now, "orders", 1, "charge", "1"), 1) for i in range(3)]
    # Each left out, to run alone (where its error is retried), not the batch failed.
    assert engine.activities_events(calls) == {}
