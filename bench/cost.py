"""Cost per activity, from request counts measured on moto (SPEC section 4 prices).

Runs sequential workflows of 10, 100 and 1,000 activities (queued and inline) and a
20-way fan-out through lambda_handler, with an SQS pump that behaves like Lambda's event
source mapping (ReceiveMessage of up to 10, DeleteMessageBatch of the successes).
Counts Lambda invocations, SQS requests and DynamoDB read/write units (from the sizes
of the items actually written and read) and prints $ per million activities.

Run: python bench/cost.py
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
for k, v in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():
    os.environ.setdefault(k, v)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from pynamodb.connection.base import Connection  # noqa: E402

from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime, when_all  # noqa: E402
from wf._app import build_engine, make_handler  # noqa: E402
from wf._provision import ensure_resources  # noqa: E402
from wf._settings import Settings  # noqa: E402

PRICES = {"invocations": 0.20, "sqs": 0.40, "wru": 0.625, "rru": 0.125}
STEP_FUNCTIONS = 25.20
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


@wfr.workflow(name="seq_inline")
def seq_inline(ctx: DaprWorkflowContext, n: int):
    x = 0
    for _ in range(n):
        x = yield ctx.call_activity(work_inline, input=x)
    return x


@wfr.workflow(name="fan")
def fan(ctx: DaprWorkflowContext, n: int):
    return sum((yield when_all([ctx.call_activity(work, input=i) for i in range(n)])))


# -- metering ------------------------------------------------------------------------
meter: Counter[str] = Counter()


def _size(value: dict[str, Any]) -> int:
    ((kind, v),) = value.items()
    if kind in ("S", "N"):
        return len(str(v).encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k) + _size(x) + 1 for k, x in v.items())
    if kind == "L":
        return 3 + sum(_size(x) + 1 for x in v)
    return len(json.dumps(v))


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _size(value) for name, value in item.items())


_original_call = Connection._make_api_call


def _metered_call(self: Any, operation: str, kwargs: dict[str, Any]) -> Any:
    result = _original_call(self, operation, kwargs)
    factor = 1.0 if kwargs.get("ConsistentRead") else 0.5
    if operation == "PutItem":
        meter["wru"] += math.ceil(item_size(kwargs["Item"]) / 1024)
    elif operation == "DeleteItem":
        meter["wru"] += 1
    elif operation == "BatchWriteItem":
        meter["wru"] += sum(len(reqs) for reqs in kwargs["RequestItems"].values())
    elif operation == "GetItem":
        meter["rru"] += factor * max(1, math.ceil(item_size(result.get("Item", {})) / 4096))
    elif operation == "Query":
        size = sum(item_size(i) for i in result.get("Items", []))
        meter["rru"] += factor * max(1, math.ceil(size / 4096))
    return result


class MeteredSqs:
    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._client, name)

        def call(**kw: Any) -> Any:
            meter["sqs"] += 1
            return fn(**kw)

        return call


def run(shape: str, n: int) -> dict[str, float]:
    with mock_aws():
        meter.clear()
        sqs = MeteredSqs(boto3.client("sqs", region_name="us-east-1"))
        res = ensure_resources(boto3.client("dynamodb", region_name="us-east-1"), sqs._client)
        settings = Settings(res.table_name, res.queue_url)
        engine = build_engine(wfr, settings, sqs_client=sqs)
        handler = make_handler(engine, settings)
        Connection._make_api_call = _metered_call  # type: ignore[method-assign]
        try:
            event = json.loads((Path(__file__).parent.parent / "events" / "start.json").read_text())
            event["path"] = f"/v1.0/workflows/dapr/{shape}/start"
            event["queryStringParameters"] = {"instanceID": f"{shape}-{n}"}
            event["body"] = str(n)
            meter["invocations"] += 1
            assert handler(event, None)["statusCode"] == 202
            record_tpl = json.loads((Path(__file__).parent.parent / "events" / "sqs_event.json").read_text())[
                "Records"
            ][0]
            while True:
                msgs = sqs.receive_message(QueueUrl=res.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
                    "Messages", []
                )
                if not msgs:
                    break
                records = [
                    dict(
                        record_tpl,
                        messageId=m["MessageId"],
                        receiptHandle=m["ReceiptHandle"],
                        body=m["Body"],
                        attributes=dict(
                            record_tpl["attributes"], ApproximateReceiveCount=m["Attributes"]["ApproximateReceiveCount"]
                        ),
                    )
                    for m in msgs
                ]
                meter["invocations"] += 1
                failed = {f["itemIdentifier"] for f in handler({"Records": records}, None)["batchItemFailures"]}
                done = [m for m in msgs if m["MessageId"] not in failed]
                if done:
                    sqs.delete_message_batch(
                        QueueUrl=res.queue_url,
                        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                    )
        finally:
            Connection._make_api_call = _original_call  # type: ignore[method-assign]
        meta = engine.store.get_meta(f"{shape}-{n}")  # outside the metered window
        assert meta is not None and meta.status.value == "COMPLETED", meta
        counts = {k: meter[k] / n for k in PRICES}
        counts["usd"] = sum(counts[k] * PRICES[k] for k in PRICES)
        return counts


def main() -> int:
    print(f"{'workflow':<30}{'inv/act':>9}{'SQS/act':>9}{'WRU/act':>9}{'RRU/act':>9}{'$/M act':>9}")
    results: dict[tuple[str, int], dict[str, float]] = {}
    for shape, sizes in (("seq", (10, 100, 1000)), ("seq_inline", (10, 100, 1000)), ("fan", (20,))):
        for n in sizes:
            r = results[(shape, n)] = run(shape, n)
            label = {"seq": "sequential, queued", "seq_inline": "sequential, inline", "fan": "fan-out"}[shape]
            print(
                f"{label + f' x{n}':<30}{r['invocations']:>9.3f}{r['sqs']:>9.3f}{r['wru']:>9.3f}{r['rru']:>9.3f}{r['usd']:>9.3f}"
            )
    print(f"{'AWS Step Functions Standard':<30}{'':>36}{STEP_FUNCTIONS:>9.2f}")
    print(f"{'AWS Lambda durable functions':<30}{'':>36}{DURABLE_FUNCTIONS:>9.2f}")
    checks = {
        "queued sequential <= $2.50/M": results[("seq", 1000)]["usd"] <= 2.50,
        "inline sequential <= $1.00/M": results[("seq_inline", 1000)]["usd"] <= 1.00,
        "fan-out <= $4.00/M": results[("fan", 20)]["usd"] <= 4.00,
    }
    for shape in ("seq", "seq_inline"):
        a, b = results[(shape, 10)], results[(shape, 1000)]
        parts, within = [], True
        for k in ("invocations", "sqs", "wru", "rru", "usd"):
            dev = 0.0 if a[k] == b[k] else (a[k] - b[k]) / max(b[k], 1e-9)
            within &= abs(dev) <= 0.10
            parts.append(f"{k} {dev:+.1%}")
        print(f"{shape} x10 vs x1000 per activity: " + ", ".join(parts))
        # The cost of one more activity, over two ranges of history length: flat means no
        # per-activity cost grows with the history (fixed per-workflow costs cancel out).
        m = results[(shape, 100)]
        low = {k: (m[k] * 100 - a[k] * 10) / 90 for k in ("invocations", "sqs", "wru", "rru", "usd")}
        high = {k: (b[k] * 1000 - m[k] * 100) / 900 for k in low}
        print(
            f"{shape} marginal per activity, 10->100 vs 100->1000: "
            + ", ".join(f"{k} {low[k]:.3f} vs {high[k]:.3f}" for k in low)
        )
        checks[f"{shape}: per-activity counts at 1,000 within 10% of 10"] = within
    for name, ok in checks.items():
        print(f"{'met' if ok else 'NOT met':>8}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
