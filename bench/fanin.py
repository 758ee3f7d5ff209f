"""Fan-in under many containers, with real concurrency: a ``when_all`` over N activities
(each taking a few milliseconds, as real work does) worked off by C containers at once,
each a thread with its own engine and warm cache, receiving batches of 10 from SQS as
Lambda's event source does. All on moto, in process.

Prints failed conditional writes per activity (each is billed: ``bench/_meter.py``),
write and read units per activity, and how long the fan-out took.

Run: python bench/fanin.py [--activities 1000] [--containers 16] [--work-ms 20]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
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
from _meter import DynamoMeter, MeteredSqs  # noqa: E402
from _pump import deliver  # noqa: E402
from moto import mock_aws  # noqa: E402

from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime, when_all  # noqa: E402
from wf.aws.app import build_engine, make_handler  # noqa: E402
from wf.aws.settings import Settings  # noqa: E402
from wf.dev import moto_fixes  # noqa: E402
from wf.dev.provision import ensure_resources  # noqa: E402

moto_fixes.install()
P = "/v1.0/workflows/dapr"
WORK_SECONDS = [0.02]

wfr = WorkflowRuntime()


@wfr.activity(name="work")
def work(ctx: WorkflowActivityContext, i: int) -> int:
    time.sleep(WORK_SECONDS[0])
    return i * 2


@wfr.workflow(name="fan")
def fan(ctx: DaprWorkflowContext, n: int):
    return sum((yield when_all([ctx.call_activity(work, input=i) for i in range(n)])))


def run(n: int, containers: int) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    with mock_aws():
        raw_sqs = boto3.client("sqs", region_name="us-east-1")
        sqs = MeteredSqs(raw_sqs, counts)
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        res = ensure_resources(dynamodb, raw_sqs)
        meter = DynamoMeter(dynamodb.describe_table(TableName=res.table_name)["Table"], counts)
        settings = Settings(res.table_name, res.queue_url)
        handlers = [make_handler(build_engine(wfr, settings, sqs_client=sqs), settings) for _ in range(containers)]
        start = json.loads((HERE.parent / "events" / "start.json").read_text())
        start.update(path=f"{P}/fan/start", body=str(n), queryStringParameters={"instanceID": "fan"})
        done = threading.Event()
        with meter.installed():
            began = time.perf_counter()
            assert handlers[0](start, None)["statusCode"] == 202
            counts["invocations"] += 1

            def container(handler: Any) -> None:
                while not done.is_set():
                    msgs = sqs.receive_message(
                        QueueUrl=res.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
                    ).get("Messages", [])
                    if not msgs:
                        time.sleep(0.01)
                        continue
                    counts["invocations"] += 1
                    failed = deliver(handler, sqs, res.queue_url, msgs)
                    for m in msgs:
                        if m["MessageId"] in failed:  # as Lambda's event source: visible again at once here
                            raw_sqs.change_message_visibility(
                                QueueUrl=res.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                            )

            threads = [threading.Thread(target=container, args=(h,), daemon=True) for h in handlers]
            for t in threads:
                t.start()
            store = build_engine(wfr, settings, sqs_client=raw_sqs).store
            while True:
                meta = store.get_meta("fan")
                if meta is not None and meta.status.is_terminal:
                    break
                time.sleep(0.05)
            took = time.perf_counter() - began
            done.set()
            for t in threads:
                t.join()
        assert meta.status.value == "COMPLETED" and json.loads(meta.output or "0") == n * (n - 1), meta
    return {"took": took, "counts": counts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--activities", type=int, default=1000)
    parser.add_argument("--containers", type=int, default=16)
    parser.add_argument("--work-ms", type=float, default=20.0)
    args = parser.parse_args()
    WORK_SECONDS[0] = args.work_ms / 1000
    logging.disable(logging.WARNING)
    r = run(args.activities, args.containers)
    c, n = r["counts"], args.activities
    print(
        f"when_all over {n:,} activities of {args.work_ms:g} ms, {args.containers} concurrent containers: "
        f"{r['took']:.1f} s"
    )
    print(
        f"failed conditional writes: {c['failed_writes']:g} ({c['failed_writes'] / n:.3f} per activity); "
        f"per activity: {c['wru'] / n:.2f} WRU, {c['rru'] / n:.2f} RRU, {c['sqs'] / n:.2f} SQS requests, "
        f"{c['invocations'] / n:.2f} invocations"
    )
    ok = c["failed_writes"] / n <= 0.2
    print(f"{'met' if ok else 'NOT met':>8}  failed conditional writes <= 0.2 per activity")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
