"""Scale on moto, in process: wide fan-outs, large payloads, and what they cost.

* ``when_all`` over 10,000 activities with 1 KB inputs and over 50,000 with small inputs,
  run to completion through ``lambda_handler`` with an SQS pump (Lambda's event source:
  ReceiveMessage of 10, DeleteMessageBatch of the successes);
* how long the start request of the 10,000-way fan-out takes to answer;
* a 5 MB workflow input, activity result, external event and workflow output, read
  back through the API;
* the largest DynamoDB item written in all of it, and the cost of the 10,000-way
  fan-out and of the 5 MB round trip at SPEC section 4 prices (S3 too).

Run: python bench/scale.py [--small 50000] [--wide 10000] [--payload-mb 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]
for k, v in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():
    os.environ.setdefault(k, v)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from _meter import DynamoMeter, MeteredS3, MeteredSqs  # noqa: E402
from _pump import deliver  # noqa: E402
from moto import mock_aws  # noqa: E402

from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime, when_all  # noqa: E402
from wf.aws.app import build_engine, make_handler  # noqa: E402
from wf.aws.settings import Settings  # noqa: E402
from wf.dev import moto_fixes  # noqa: E402
from wf.dev.provision import ensure_resources  # noqa: E402

moto_fixes.install()

#: SPEC section 4 prices, $ per million requests or units; S3 from AWS's price list.
PRICES = {"invocations": 0.20, "sqs": 0.40, "wru": 0.625, "rru": 0.125, "s3_put": 5.00, "s3_get": 0.40}
MB = 1024 * 1024
P = "/v1.0/workflows/dapr"

wfr = WorkflowRuntime()


@wfr.activity(name="echo")
def echo(ctx: WorkflowActivityContext, x: Any) -> Any:
    return x


@wfr.activity(name="grow")
def grow(ctx: WorkflowActivityContext, blob: str) -> str:
    return blob[::-1]  # a result as large as the input


@wfr.workflow(name="fan_small")
def fan_small(ctx: DaprWorkflowContext, n: int):
    return sum((yield when_all([ctx.call_activity(echo, input=i) for i in range(n)])))


@wfr.workflow(name="fan_kb")
def fan_kb(ctx: DaprWorkflowContext, n: int):
    results = yield when_all([ctx.call_activity(echo, input=f"{i:06d}" + "x" * 1018) for i in range(n)])
    return hashlib.sha256("".join(results).encode()).hexdigest()


@wfr.workflow(name="payload")
def payload(ctx: DaprWorkflowContext, blob: str):
    result = yield ctx.call_activity(grow, input=blob)
    event = yield ctx.wait_for_external_event("data")
    return {"result_ok": result == blob[::-1], "event_ok": event == blob.upper(), "echo": blob}


class Bench:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.sqs = MeteredSqs(boto3.client("sqs", region_name="us-east-1"), self.counts)
        self.s3 = MeteredS3(boto3.client("s3", region_name="us-east-1"), self.counts)
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        self.res = ensure_resources(dynamodb, self.sqs._client, s3=self.s3._client)
        self.meter = DynamoMeter(dynamodb.describe_table(TableName=self.res.table_name)["Table"], self.counts)
        settings = Settings(
            self.res.table_name, self.res.queue_url, max_body_bytes=16 * MB, bucket_name=self.res.bucket_name
        )
        self.engine = build_engine(wfr, settings, sqs_client=self.sqs, s3=self.s3)
        self.handler = make_handler(self.engine, settings)

    def http(self, method: str, path: str, body: str | None = None, query: dict[str, str] | None = None) -> Any:
        event = json.loads((HERE.parent / "events" / "start.json").read_text())
        event.update(path=path, httpMethod=method, body=body, queryStringParameters=query)
        self.counts["invocations"] += 1
        resp = self.handler(event, None)
        assert resp["statusCode"] < 300, resp
        return json.loads(resp["body"]) if resp.get("body") else None

    def pump(self) -> int:
        """Deliver the queue's messages in batches of 10 until it is empty."""
        handled = 0
        while True:
            msgs = self.sqs.receive_message(
                QueueUrl=self.res.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            if not msgs:
                return handled
            self.counts["invocations"] += 1
            deliver(self.handler, self.sqs, self.res.queue_url, msgs)
            handled += len(msgs)

    def output(self, iid: str) -> Any:
        body = self.http("GET", f"{P}/{iid}")
        assert body["runtimeStatus"] == "COMPLETED", body
        return json.loads(body["properties"]["dapr.workflow.output"])


def usd(counts: Counter[str]) -> float:
    return sum(counts[k] * PRICES[k] for k in PRICES) / 1e6


def fan_out(name: str, n: int) -> dict[str, Any]:
    with mock_aws():
        b = Bench()
        with b.meter.installed():
            began = time.perf_counter()
            b.http("POST", f"{P}/{name}/start", str(n), {"instanceID": "fan"})
            answered = time.perf_counter() - began
            b.pump()
            took = time.perf_counter() - began
            counts = b.counts.copy()
            out = b.output("fan")
        expected = (
            sum(range(n))
            if name == "fan_small"
            else hashlib.sha256("".join(f"{i:06d}" + "x" * 1018 for i in range(n)).encode()).hexdigest()
        )
        assert out == expected, (out, expected)
        return {"answered": answered, "took": took, "counts": counts, "largest": b.meter.largest_item}


def round_trip(size: int) -> dict[str, Any]:
    blob = "ünï" + "p" * (size - 5)  # UTF-8: 5 bytes for the first three characters
    with mock_aws():
        b = Bench()
        with b.meter.installed():
            b.http("POST", f"{P}/payload/start", json.dumps(blob), {"instanceID": "big"})
            b.pump()
            b.http("POST", f"{P}/big/raiseEvent/data", json.dumps(blob.upper()))
            b.pump()
            counts = b.counts.copy()
            out = b.output("big")
        assert out == {"result_ok": True, "event_ok": True, "echo": blob}
        return {"counts": counts, "largest": b.meter.largest_item}


def _counts(c: Counter[str]) -> str:
    return ", ".join(f"{c[k]:g} {k}" for k in PRICES if c[k])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=50_000, help="width of the fan-out of small inputs")
    parser.add_argument("--wide", type=int, default=10_000, help="width of the fan-out of 1 KB inputs")
    parser.add_argument("--payload-mb", type=float, default=5.0)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    checks: dict[str, bool] = {}
    largest = 0

    kb = fan_out("fan_kb", args.wide)
    largest = max(largest, kb["largest"])
    print(
        f"when_all over {args.wide:,} activities, 1 KB inputs: completed in {kb['took']:.1f} s; "
        f"start answered in {kb['answered'] * 1000:.0f} ms"
    )
    print(
        f"  cost: ${usd(kb['counts']):.4f} ({_counts(kb['counts'])}), ${usd(kb['counts']) / args.wide * 1e6:.2f}/M activities"
    )
    checks[f"when_all over {args.wide:,} activities with 1 KB inputs completes"] = True
    checks[f"start of the {args.wide:,}-way fan-out answers in < 1 s"] = kb["answered"] < 1.0

    small = fan_out("fan_small", args.small)
    largest = max(largest, small["largest"])
    print(
        f"when_all over {args.small:,} activities, small inputs: completed in {small['took']:.1f} s; "
        f"start answered in {small['answered'] * 1000:.0f} ms"
    )
    print(f"  cost: ${usd(small['counts']):.4f}, ${usd(small['counts']) / args.small * 1e6:.2f}/M activities")
    checks[f"when_all over {args.small:,} activities with small inputs completes"] = True

    size = int(args.payload_mb * MB)
    big = round_trip(size)
    largest = max(largest, big["largest"])
    print(
        f"{args.payload_mb:g} MB input, activity result, event and output: round-tripped; "
        f"cost ${usd(big['counts']):.5f} ({_counts(big['counts'])})"
    )
    checks[f"a {args.payload_mb:g} MB input, output, event and activity result round-trip"] = True
    print(f"largest DynamoDB item written: {largest:,} bytes ({math.ceil(largest / 1024)} KB)")
    checks["largest item written < 100 KB"] = largest < 100_000
    print()
    for name, ok in checks.items():
        print(f"{'met' if ok else 'NOT met':>8}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
