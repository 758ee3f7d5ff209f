"""Cost per activity, from request counts measured on moto (SPEC section 4 prices).

Runs sequential workflows of 10, 100 and 1,000 activities (queued and inline) and a
20-way fan-out through lambda_handler, with an SQS pump that behaves like Lambda's event
source mapping (ReceiveMessage of up to 10, DeleteMessageBatch of the successes).
Counts Lambda invocations, SQS requests and DynamoDB read/write units (from the sizes
of the items actually written and read) and prints $ per million activities.

Run: python bench/cost.py
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]
for k, v in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():
    os.environ.setdefault(k, v)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from _meter import TYPICAL_CALL_MS, ComputeMeter, DynamoMeter, MeteredSqs  # noqa: E402
from _pump import deliver  # noqa: E402
from moto import mock_aws  # noqa: E402

from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime, when_all  # noqa: E402
from wf.aws.app import build_engine, make_handler  # noqa: E402
from wf.aws.settings import Settings  # noqa: E402
from wf.dev.provision import ensure_resources  # noqa: E402
from wf.engine.concurrency import ConcurrencyLimits  # noqa: E402
from wf.engine.engine import Engine  # noqa: E402
from wf.errors import StoreError  # noqa: E402

PRICES = {"invocations": 0.20, "sqs": 0.40, "wru": 0.625, "rru": 0.125}
STEP_FUNCTIONS = 25.20
#: EventBridge, per million custom events put (each up to 64 KB).
EVENTBRIDGE_EVENTS = 1.00
#: Lambda's arm64 price per GB-second (us-east-1), the template's memory size, and API
#: Gateway's REST API price per million requests (the first 333 million a month).
LAMBDA_GB_SECOND = 0.0000133334
MEMORY_GB = 0.5
API_GATEWAY = 3.50
DURABLE_FUNCTIONS = 8.00

wfr = WorkflowRuntime()


@wfr.activity(name="work")
def work(ctx: WorkflowActivityContext, i: int) -> int:
    return i + 1


@wfr.activity(name="work_inline", inline=True)
def work_inline(ctx: WorkflowActivityContext, i: int) -> int:
    return i + 1


@wfr.workflow(name="seq")
def seq(ctx: DaprWorkflowContext, n: int):
    x = 0
    for _ in range(n):
        x = yield ctx.call_activity(work, input=x)
    return x


@wfr.workflow(name="seq_remote")
def seq_remote(ctx: DaprWorkflowContext, n: int):
    x = 0
    for _ in range(n):
        x = yield ctx.call_activity(work, input=x, app_id="billing")  # another app's
    return x


@wfr.workflow(name="seq_status")
def seq_status(ctx: DaprWorkflowContext, n: int):
    x = 0
    for i in range(n):
        ctx.set_custom_status(f"{i} of {n} done")
        x = yield ctx.call_activity(work, input=x)
    return x


@wfr.workflow(name="seq_big")
def seq_big(ctx: DaprWorkflowContext, order: dict):
    x = 0
    for _ in range(order["n"]):
        x = yield ctx.call_activity(work, input=x)
    return x


@wfr.workflow(name="seq_inline")
def seq_inline(ctx: DaprWorkflowContext, n: int):
    x = 0
    for _ in range(n):
        x = yield ctx.call_activity(work_inline, input=x)
    return x


@wfr.workflow(name="fan")
def fan(ctx: DaprWorkflowContext, n: int):
    return sum((yield when_all([ctx.call_activity(work, input=i) for i in range(n)])))


@wfr.workflow(name="timers")
def timers(ctx: DaprWorkflowContext, n: int):
    for _ in range(n):
        yield ctx.create_timer(timedelta(seconds=1))
    return n


@wfr.workflow(name="approvals")
def approvals(ctx: DaprWorkflowContext, n: int):
    x = 0
    for _ in range(n):
        yield ctx.wait_for_external_event("go")
        x = yield ctx.call_activity(work, input=x)
    return x


KINDS = ("invocations", "sqs", "wru", "rru")
LABELS = {
    "seq": "sequential, queued",
    "seq_status": "queued, custom status",
    "seq_big": "queued, 4 KB input",
    "seq_inline": "sequential, inline",
    "seq_remote": "another app's, queued",
    "fan": "fan-out",
    "approvals": "event, then an activity",
}


# The peers, all in, on the same shapes (per activity, timer, and event with its activity).
_SFN_LAMBDA_TASK = 0.20 + 1 / 1000 * 0.125 * 0.0000166667 * 1e6  # request + 1 ms at 128 MB (x86)
_DURABLE_STEP_COMPUTE = 11 / 1000 * MEMORY_GB * LAMBDA_GB_SECOND * 1e6  # 11 ms at 512 MB
_DURABLE_REPLAY = 0.20 + 20 / 1000 * MEMORY_GB * LAMBDA_GB_SECOND * 1e6  # a resume: request + 20 ms replay
PEERS = {
    "AWS Step Functions Standard, all in": {
        "queued sequential": STEP_FUNCTIONS - 0.20 + _SFN_LAMBDA_TASK,
        "timers": 25.00,
        "raised events": 25.00 + API_GATEWAY + _SFN_LAMBDA_TASK + STEP_FUNCTIONS - 0.20 + _SFN_LAMBDA_TASK,
    },
    "AWS Lambda durable functions, all in": {
        "queued sequential": DURABLE_FUNCTIONS + _DURABLE_STEP_COMPUTE,
        "inline sequential": DURABLE_FUNCTIONS + _DURABLE_STEP_COMPUTE,
        "timers": DURABLE_FUNCTIONS + _DURABLE_REPLAY,
        "raised events": DURABLE_FUNCTIONS
        + API_GATEWAY
        + 0.20
        + _DURABLE_REPLAY
        + DURABLE_FUNCTIONS
        + _DURABLE_STEP_COMPUTE,
    },
}
PEER_ASSUMPTIONS = (
    "Step Functions: $25 per million state transitions; an activity is a Lambda task (one transition, one",
    "invocation billed 1 ms at 128 MB); a timer is a Wait state (one transition); an event is a task-token",
    "callback (one transition) sent by a Lambda behind API Gateway, then the activity.",
    "Lambda durable functions: $8 per million durable operations; an activity is a step (one operation, 11 ms",
    "of compute at 512 MB for its checkpoint); a timer is a wait (one operation, nothing billed while waiting,",
    "then a resume: an invocation and 20 ms of replay); an event is a callback (one operation) sent through",
    "API Gateway and a Lambda, the resume, then the activity.",
)


def usd(counts: dict[str, float]) -> float:
    return sum(counts[k] * PRICES[k] for k in KINDS)


def run(
    shape: str,
    n: int,
    containers: int = 1,
    workflows: int = 1,
    snapshots: dict[int, Counter[str]] | None = None,
    events: int = 0,
    event_bus: str | None = None,
    limits: ConcurrencyLimits | None = None,
    other_app: bool = False,
) -> Counter[str]:
    """Run ``workflows`` workflows of ``n`` activities; returns the total request counts.

    ``wru`` includes the index writes, which are also counted apart as ``wru_index``;
    ``lambda_ms`` is the billed duration of all invocations (``ComputeMeter``), ``api``
    the HTTP requests (API Gateway's).
    With several ``containers`` (each its own engine and warm cache), SQS batches go to
    them in turn, as Lambda spreads them over its warm containers under load. Several
    ``workflows`` run at once share the poller's batches. ``snapshots`` maps step
    numbers to the counts taken right after that history step was written. ``events``
    raise-event calls are made one at a time, each after the queue has drained.
    ``other_app``: a second app ("billing", its own table, queue and container) beside
    this one ("orders"), each knowing the other's queue, its requests counted too."""
    counts: Counter[str] = Counter()
    with mock_aws():
        sqs = MeteredSqs(boto3.client("sqs", region_name="us-east-1"), counts)
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        res = ensure_resources(dynamodb, sqs._client)
        meter = DynamoMeter(dynamodb.describe_table(TableName=res.table_name)["Table"], counts)
        if snapshots is not None:
            wanted = snapshots

            def snapshot(step: int) -> None:
                if step in wanted:
                    wanted[step] = counts.copy()

            meter.on_step = snapshot
        settings = Settings(res.table_name, res.queue_url, event_bus=event_bus)
        if limits is not None:
            settings = replace(settings, concurrency=limits)
        compute = ComputeMeter()
        queues: list[tuple[str, list[Any]]] = []
        if other_app:
            res2 = ensure_resources(dynamodb, sqs._client, table_name="billing-instances", queue_name="billing-work")
            settings = replace(settings, app_id="orders", peers={"billing": res2.queue_url})
            billing = Settings(res2.table_name, res2.queue_url, app_id="billing", peers={"orders": res.queue_url})
            billing_engine = build_engine(wfr, billing, sqs_client=sqs, sleep=compute.sleep)
            queues.append((res2.queue_url, [compute.wrap(make_handler(billing_engine, billing))]))
        engines = [build_engine(wfr, settings, sqs_client=sqs, sleep=compute.sleep) for _ in range(containers)]
        handlers = [compute.wrap(make_handler(engine, settings)) for engine in engines]
        handler = handlers[0]
        with meter.installed(), compute.installed():
            for k in range(workflows):
                event = json.loads((HERE.parent / "events" / "start.json").read_text())
                event["path"] = f"/v1.0/workflows/dapr/{shape}/start"
                event["queryStringParameters"] = {"instanceID": f"{shape}-{n}-{k}"}
                event["body"] = json.dumps({"n": n, "lines": "x" * 4000}) if shape == "seq_big" else str(n)
                counts["invocations"] += 1
                counts["api"] += 1
                assert handler(event, None)["statusCode"] == 202
            raises = events
            ids = [f"{shape}-{n}-{k}" for k in range(workflows)]

            def receive(url: str) -> list[Any]:
                if not queues:
                    return list(
                        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
                            "Messages", []
                        )
                    )
                # Two apps: each app's poller finds the other's work in turn; only the
                # receives that get messages are counted (as in _await_delayed).
                got: list[Any] = sqs._client.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
                ).get("Messages", [])
                counts["sqs"] += 1 if got else 0
                return got

            while True:
                msgs = receive(res.queue_url)
                if not msgs and queues:
                    url, theirs = queues[0]
                    got = receive(url)
                    if got:
                        counts["invocations"] += 1
                        deliver(theirs[0], sqs, url, got)
                        continue
                if not msgs and raises:
                    raises -= 1
                    event = json.loads((HERE.parent / "events" / "raise_event.json").read_text())
                    event["path"] = f"/v1.0/workflows/dapr/{shape}-{n}-0/raiseEvent/go"
                    counts["invocations"] += 1
                    counts["api"] += 1
                    assert handler(event, None)["statusCode"] == 202
                    continue
                if not msgs:
                    msgs = _await_delayed(sqs, dynamodb, res, ids)
                    if not msgs:
                        break
                    counts["sqs"] += 1  # the receive that got them
                handler = handlers[counts["invocations"] % containers]
                counts["invocations"] += 1
                deliver(handler, sqs, res.queue_url, msgs)
        counts["lambda_ms"] = compute.billed_ms
        counts["slept_ms"] = round(compute.slept_s * 1000)
        for k in range(workflows):
            meta = engines[0].store.get_meta(f"{shape}-{n}-{k}")  # outside the metered window
            assert meta is not None and meta.status.value == "COMPLETED", meta
    return counts


def operate_costs(instances: int = 150, history_reads: int = 20) -> dict[str, Counter[str]]:
    """The requests of one list page (100 instances, no filter) and of one history read
    (a completed 10-activity workflow's), each through the HTTP handler, metered."""
    out: dict[str, Counter[str]] = {"list": Counter(), "history": Counter()}
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        res = ensure_resources(dynamodb, sqs)
        settings = Settings(res.table_name, res.queue_url)
        handler = make_handler(build_engine(wfr, settings, sqs_client=sqs), settings)
        template = json.loads((HERE.parent / "events" / "get.json").read_text())
        for k in range(instances):
            event = json.loads((HERE.parent / "events" / "start.json").read_text())
            event["path"] = "/v1.0/workflows/dapr/seq/start"
            event["queryStringParameters"] = {"instanceID": f"op-{k}"}
            event["body"] = "10" if k < history_reads else "1"
            assert handler(event, None)["statusCode"] == 202
        while msgs := sqs.receive_message(QueueUrl=res.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages", []
        ):
            deliver(handler, sqs, res.queue_url, msgs)
        table = dynamodb.describe_table(TableName=res.table_name)["Table"]
        for kind, paths in (
            ("list", [("/v1.0/workflows/dapr", {"pageSize": "100"})]),
            ("history", [(f"/v1.0/workflows/dapr/op-{k}/history", None) for k in range(history_reads)]),
        ):
            meter = DynamoMeter(table, out[kind])
            with meter.installed():
                for path, query in paths:
                    event = {**template, "path": path, "queryStringParameters": query}
                    out[kind]["invocations"] += 1
                    response = handler(event, None)
                    assert response["statusCode"] == 200, response
                    if kind == "list":
                        assert len(json.loads(response["body"])["instances"]) == 100
            for key in out[kind]:
                out[kind][key] /= len(paths)
    return out


@contextlib.contextmanager
def _signals_queued(queued: bool) -> Iterator[None]:
    """With ``queued``, management calls hand their events to the queue, as before they
    recorded them themselves (the fallback path of ``wf.engine.manage.signal``)."""
    original = Engine.advance

    def advance(self: Engine, msgs: Any, events: Any, **kw: Any) -> None:
        if queued and kw.get("before_commit") is not None:
            raise StoreError("the bench's queued path")
        original(self, msgs, events, **kw)

    Engine.advance = advance  # type: ignore[method-assign]
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        Engine.advance = original  # type: ignore[method-assign]
        logging.disable(logging.NOTSET)


def _await_delayed(sqs: Any, dynamodb: Any, res: Any, ids: list[str], timeout: float = 120) -> list[Any]:
    """The queue is empty but a workflow is not done: a timer waits in SQS's delay.
    Poll unmetered (Lambda's pollers' empty receives are not a workflow's) until it is
    visible; nothing once every workflow is done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = [
            dynamodb.get_item(TableName=res.table_name, Key={"pk": {"S": iid}, "sk": {"S": "META"}})
            .get("Item", {})
            .get("wf_status", {})
            .get("S")
            for iid in ids
        ]
        if all(s in ("COMPLETED", "FAILED", "TERMINATED") for s in statuses):
            return []
        time.sleep(0.05)
        msgs: list[Any] = sqs._client.receive_message(
            QueueUrl=res.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if msgs:
            return msgs
    return []


def per_activity(totals: Counter[str], n: int) -> dict[str, float]:
    counts = {k: totals[k] / n for k in (*KINDS, "wru_index", "lambda_ms", "slept_ms", "api")}
    counts["usd"] = usd(counts)
    counts["compute_usd"] = counts["lambda_ms"] / 1000 * MEMORY_GB * LAMBDA_GB_SECOND * 1e6
    counts["api_usd"] = counts["api"] * API_GATEWAY
    counts["all_in"] = counts["usd"] + counts["compute_usd"] + counts["api_usd"]
    return counts


def all_in_line(label: str, unit: str, r: dict[str, float]) -> str:
    one = {"activities": "activity", "timers": "timer", "events": "event"}.get(unit, unit)
    return (
        f"all-in {label}: ${r['all_in']:.2f}/M {unit}  (requests ${r['usd']:.2f}, Lambda compute "
        f"${r['compute_usd']:.2f} for {r['lambda_ms']:.1f} ms billed per {one}, {r['slept_ms']:.1f} ms of it "
        f"waiting, API Gateway ${r['api_usd']:.2f})"
    )


def fit(small: tuple[int, Counter[str]], large: tuple[int, Counter[str]]) -> tuple[dict[str, float], dict[str, float]]:
    """Split two runs' totals into a fixed part per workflow and a part per activity."""
    (n1, a), (n2, b) = small, large
    each = {k: (b[k] - a[k]) / (n2 - n1) for k in KINDS}
    fixed = {k: a[k] - each[k] * n1 for k in KINDS}
    each["usd"], fixed["usd"] = usd(each), usd(fixed)
    return fixed, each


def _counts(c: dict[str, float]) -> str:
    return f"{c['invocations']:g} inv, {c['sqs']:g} SQS, {c['wru']:g} WRU, {c['rru']:g} RRU (${c['usd']:.3f}/M)"


def main() -> int:
    print(f"{'workflow':<30}{'inv/act':>9}{'SQS/act':>9}{'WRU/act':>9}{'(index)':>9}{'RRU/act':>9}{'$/M act':>9}")
    totals: dict[tuple[str, int], Counter[str]] = {}
    results: dict[tuple[str, int], dict[str, float]] = {}
    shapes = (
        ("seq", (10, 100, 1000)),
        ("seq_status", (10,)),
        ("seq_big", (10,)),
        ("seq_inline", (10, 100, 1000)),
        ("fan", (20,)),
    )
    columns = ("invocations", "sqs", "wru", "wru_index", "rru", "usd")
    for shape, sizes in shapes:
        for n in sizes:
            totals[(shape, n)] = run(shape, n)
            r = results[(shape, n)] = per_activity(totals[(shape, n)], n)
            print(f"{LABELS[shape] + f' x{n}':<30}" + "".join(f"{r[k]:>9.3f}" for k in columns))
    # Under load Lambda spreads an instance's batches over many warm containers, whose
    # views fall behind: each then reads the record and the steps it missed.
    for shape, n in (("seq", 100), ("fan", 20)):
        r = per_activity(run(shape, n, containers=4), n)
        print(f"{LABELS[shape].split(',')[0] + f' x{n}, 4 containers':<30}" + "".join(f"{r[k]:>9.3f}" for k in columns))
    # A limited activity (a Dapr Configuration's activityConcurrencyLimits entry): each
    # run reads its limit's slots, takes one and gives it back (query, write, delete).
    r = per_activity(run("seq", 100, limits=ConcurrencyLimits(activity_names={"work": 5})), 100)
    print(f"{'sequential, queued, limited x100':<30}" + "".join(f"{r[k]:>9.3f}" for k in columns))
    print(
        f"  a concurrency limit adds ${r['usd'] - results[('seq', 100)]['usd']:.2f}/M activities in requests "
        "(its slot's query, conditional write and delete), and their milliseconds to the run"
    )
    # Another app's activity (call_activity(app_id=...)): the work goes to its queue and
    # its result comes back to this one's, a message and an invocation more than a local one.
    r = per_activity(run("seq_remote", 100, other_app=True), 100)
    print(f"{LABELS['seq_remote'] + ' x100':<30}" + "".join(f"{r[k]:>9.3f}" for k in columns))
    print(
        f"  calling another app adds ${r['usd'] - results[('seq', 100)]['usd']:.2f}/M activities in requests "
        "(the result's message and the other app's invocation)"
    )
    # Many workflows at once: the poller's receives and deletes carry up to 10 messages.
    r = per_activity(run("seq", 10, workflows=20), 10 * 20)
    print(f"{'20 x sequential x10 at once':<30}" + "".join(f"{r[k]:>9.3f}" for k in columns))
    # Raise-event calls, each to a waiting workflow whose next step schedules an activity:
    # per event (with its activity), as the call records it now, and as the worker did.
    for label, queued in (("event recorded by the call", False), ("event queued for the worker", True)):
        with _signals_queued(queued):
            r = per_activity(run("approvals", 10, events=10), 10)
        print(f"{label:<30}" + "".join(f"{r[k]:>9.3f}" for k in columns))
    # Scale (bench/scale.py): a 10,000-way fan-out of 1 KB inputs and a 1 MB payload's round
    # trip (input, activity result, event, output), with the bucket; S3 priced too.
    import scale

    wide = scale.fan_out("fan_kb", 10_000)
    print(
        f"{'fan-out x10000, 1 KB inputs':<30}"
        + f"{wide['counts']['invocations'] / 10_000:>9.3f}{wide['counts']['sqs'] / 10_000:>9.3f}"
        + f"{wide['counts']['wru'] / 10_000:>9.3f}{wide['counts']['wru_index'] / 10_000:>9.3f}"
        + f"{wide['counts']['rru'] / 10_000:>9.3f}{scale.usd(wide['counts']) / 10_000 * 1e6:>9.3f}"
        + f"  (S3: {wide['counts']['s3_put']:g} PUT, {wide['counts']['s3_get']:g} GET; ${scale.usd(wide['counts']):.4f} in all)"
    )
    mb = scale.round_trip(1024 * 1024)
    print(
        f"{'1 MB payload round trip':<30}{'':>45}{scale.usd(mb['counts']) * 1e6:>9.2f}"
        + f"  per million round trips ({scale._counts(mb['counts'])})"
    )
    # Operating (SPEC §1b): a list page reads the records' index only; a history read the
    # instance's record and step items only.
    operate = operate_costs()
    for label, key in (("list page (100 instances)", "list"), ("history read (10 activities)", "history")):
        c = operate[key]
        print(
            f"{label:<30}{c['invocations']:>9.3f}{0:>9.3f}{c['wru']:>9.3f}{0:>9.3f}{c['rru']:>9.3f}{usd(c):>9.3f}"
            + "  per million calls"
        )
    # Status events (EventBridge, on by default in the template): what they add to a
    # workflow, here one change (RUNNING -> COMPLETED): its event, and the write that
    # takes its step's marker off.
    plain, evented = run("seq", 10), run("seq", 10, event_bus="default")
    extra = {k: evented[k] - plain[k] for k in KINDS}
    per_workflow = usd(extra) + EVENTBRIDGE_EVENTS
    print(
        f"{'status events, per change':<30}"
        + "".join(f"{extra[k]:>9.3f}" for k in ("invocations", "sqs", "wru"))
        + f"{0:>9.3f}{extra['rru']:>9.3f}{per_workflow:>9.3f}"
        + "  per million changes (1 EventBridge event, the marker's removal)"
    )
    print(f"{'AWS Step Functions Standard':<30}{'':>45}{STEP_FUNCTIONS:>9.2f}")
    print(f"{'AWS Lambda durable functions':<30}{'':>45}{DURABLE_FUNCTIONS:>9.2f}")
    print("(WRU include the by_status index writes, also shown apart; a failed conditional write is billed too.)")
    # All in: the requests above, plus Lambda's compute (GB-seconds at the template's
    # 512 MB arm64 price, from each invocation's CPU time here, each AWS call's typical
    # latency and every second it waits, billed per millisecond) and API Gateway's
    # requests (the starts, the raised events).
    print(
        f"\nAll in (Lambda arm64 ${LAMBDA_GB_SECOND}/GB-s at {MEMORY_GB * 1024:g} MB; API Gateway REST "
        f"${API_GATEWAY:.2f}/M; AWS call latencies {TYPICAL_CALL_MS} ms; CPU time measured on this machine):"
    )
    # Per timer of a long sequence, as the activities are per activity of 1,000: what 12
    # timers cost beyond 2 (their workflow's start and end are the same in both runs).
    few, many = run("timers", 2), run("timers", 12)
    all_in = {
        "queued sequential": (results[("seq", 1000)], "activities"),
        "inline sequential": (results[("seq_inline", 1000)], "activities"),
        "timers": (per_activity(Counter({k: many[k] - few[k] for k in many}), 10), "timers"),
        "raised events": (per_activity(run("approvals", 10, events=10), 10), "events"),
    }
    for label, (r, unit) in all_in.items():
        print(all_in_line(label, unit, r))
    print("  (a raised event's figure includes the activity the workflow runs after it)")
    for peer, figures in PEERS.items():
        print(f"{peer}: " + ", ".join(f"{label} ${usd:.2f}/M" for label, usd in figures.items()))
    for line in PEER_ASSUMPTIONS:
        print(f"  {line}")
    checks = {
        "all-in queued sequential <= $2.75/M": all_in["queued sequential"][0]["all_in"] <= 2.75,
        "all-in timers <= $3.00/M": all_in["timers"][0]["all_in"] <= 3.00,
        "all-in inline sequential <= $1.10/M": all_in["inline sequential"][0]["all_in"] <= 1.10,
        "queued sequential <= $2.50/M": results[("seq", 1000)]["usd"] <= 2.50,
        "inline sequential <= $1.00/M": results[("seq_inline", 1000)]["usd"] <= 1.00,
        "fan-out <= $4.00/M": results[("fan", 20)]["usd"] <= 4.00,
    }
    for shape in ("seq", "seq_inline"):
        print(f"\n{LABELS[shape]}:")
        a, b = results[(shape, 10)], results[(shape, 1000)]
        devs = {k: 0.0 if a[k] == b[k] else (a[k] - b[k]) / max(b[k], 1e-9) for k in (*KINDS, "usd")}
        print("  per activity, x10 against x1000: " + ", ".join(f"{k} {d:+.1%}" for k, d in devs.items()))
        # Totals are exactly fixed + per_activity * n when nothing grows with the history:
        # fitted on 10 and 1,000 activities, the line must predict 100 exactly.
        fixed, each = fit((10, totals[(shape, 10)]), (1000, totals[(shape, 1000)]))
        predicted = {k: fixed[k] + each[k] * 100 for k in KINDS}
        linear = all(math.isclose(predicted[k], totals[(shape, 100)][k], abs_tol=1e-6) for k in KINDS)
        print(f"  per workflow: {_counts(fixed)}")
        print(f"  per activity: {_counts(each)}")
        print(f"  fitted on x10 and x1000, the x100 totals are {'exactly' if linear else 'NOT'} on the line")
        checks[f"{shape}: no per-activity count grows with the history (x1000 <= x10, linear)"] = linear and all(
            b[k] <= a[k] for k in KINDS
        )
        # Per-activity counts at a history of 10 activities and at one of 1,000, in one
        # run: the 10 activities recorded after step 1, and the 10 after step 989 (the
        # last step, which also writes the final status, is left out).
        snaps: dict[int, Counter[str]] = {step: Counter() for step in (1, 11, 989, 999)}
        run(shape, 1000, snapshots=snaps)
        early = {k: (snaps[11][k] - snaps[1][k]) / 10 for k in KINDS}
        late = {k: (snaps[999][k] - snaps[989][k]) / 10 for k in KINDS}
        print(
            "  per activity at activity 10 and at activity 1,000 of one run: "
            + ", ".join(f"{k} {early[k]:g} and {late[k]:g}" for k in KINDS)
        )
        checks[f"{shape}: per-activity counts at a history of 1,000 within 10% of those at 10"] = all(
            abs(late[k] - early[k]) <= 0.10 * max(early[k], 1e-9) for k in KINDS
        )
    print()
    for name, ok in checks.items():
        print(f"{'met' if ok else 'NOT met':>8}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
