"""Latency on the local stack (`wf dev`, embedded moto server).

Measures start->COMPLETED of a 10-activity sequential workflow (queued and inline) and of
a 10-way fan-out (median of RUNS runs each, from the server's own createdAt and
lastUpdatedAt, so client polling adds nothing), and, in the same run on the same
emulator, the median of one conditional DynamoDB PutItem and of one SQS send+receive.

Run: python bench/latency.py [RUNS]
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
for _k, _v in {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ.setdefault(_k, _v)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(method: str, url: str) -> Any:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
        return json.loads(body) if body else None


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class LogWatch:
    """Follows `wf dev`'s log so the bench learns of a completion without polling the
    emulator it is measuring."""

    def __init__(self, stream: Any) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self._lines.put(line)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if text in self._lines.get(timeout=0.5):
                    return
            except queue.Empty:
                continue
        raise RuntimeError(f"no log line with {text!r}")


def run_workflow(base: str, name: str, log: LogWatch) -> float:
    iid = f"{name}-{uuid.uuid4().hex[:8]}"
    call("POST", f"{base}/v1.0/workflows/dapr/{name}/start?instanceID={iid}")
    log.wait_for(f"{name} {iid}: RUNNING -> COMPLETED")
    body = call("GET", f"{base}/v1.0/workflows/dapr/{iid}")
    assert body["runtimeStatus"] == "COMPLETED", body
    # The figure comes from the server's own timestamps, not from this client.
    return (ts(body["lastUpdatedAt"]) - ts(body["createdAt"])).total_seconds()


class Baselines:
    """One conditional PutItem and one SQS send+receive on the same emulator, sampled
    between the workflow runs so that both see the same conditions."""

    def __init__(self, endpoint: str) -> None:
        kw: dict[str, Any] = {"endpoint_url": endpoint, "region_name": "us-east-1"}
        self.ddb, self.sqs = boto3.client("dynamodb", **kw), boto3.client("sqs", **kw)
        self.table = f"bench-{uuid.uuid4().hex[:6]}"
        self.ddb.create_table(
            TableName=self.table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        self.queue = self.sqs.create_queue(QueueName=self.table)["QueueUrl"]
        self.puts: list[float] = []
        self.hops: list[float] = []

    def sample(self, n: int) -> None:
        for _ in range(n):
            t = time.perf_counter()
            self.ddb.put_item(
                TableName=self.table,
                Item={"pk": {"S": uuid.uuid4().hex}, "events": {"S": "x" * 300}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            self.puts.append(time.perf_counter() - t)
            t = time.perf_counter()
            self.sqs.send_message(QueueUrl=self.queue, MessageBody="x" * 200)
            msgs = self.sqs.receive_message(QueueUrl=self.queue, WaitTimeSeconds=1).get("Messages", [])
            self.hops.append(time.perf_counter() - t)
            for m in msgs:
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    port = free_port()
    tmp = tempfile.mkdtemp()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(TMPDIR=tmp, AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION="us-east-1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wf.cli",
            "dev",
            "--port",
            str(port),
            "--handler",
            str(ROOT / "bench" / "latency_app.py"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log = LogWatch(proc.stdout)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                call("GET", base + "/v1.0/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        # The stack's file, where `wf dev` (run with TMPDIR=tmp) writes it for `wf invoke`.
        endpoint = json.loads((Path(tmp) / f"wf-{os.getuid()}" / f"wf-dev-{port}.json").read_text())["AWS_ENDPOINT_URL"]
        base_line = Baselines(endpoint)
        shapes = ("seq10", "seq10_inline", "fan10")
        samples: dict[str, list[float]] = {name: [] for name in shapes}
        for name in shapes:
            for _ in range(3):
                run_workflow(base, name, log)  # warm-up
        base_line.sample(5)
        base_line.puts.clear()
        base_line.hops.clear()
        for _ in range(runs):
            for name in shapes:
                samples[name].append(run_workflow(base, name, log))
            base_line.sample(3)
        results = {name: statistics.median(values) for name, values in samples.items()}
        put, hop = statistics.median(base_line.puts), statistics.median(base_line.hops)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    ms = 1000
    print(f"emulator medians: conditional PutItem {put * ms:.2f} ms, SQS send+receive {hop * ms:.2f} ms")
    print(f"{'workflow (median of ' + str(runs) + ')':<34}{'start->COMPLETED':>18}{'per activity':>14}")
    for name, label in (
        ("seq10", "10 sequential, queued"),
        ("seq10_inline", "10 sequential, inline"),
        ("fan10", "10-way fan-out"),
    ):
        print(f"{label:<34}{results[name] * ms:>15.1f} ms{results[name] * ms / 10:>11.2f} ms")
    queued, inline = results["seq10"] / 10, results["seq10_inline"] / 10
    q_ratio, i_ratio = queued / (hop + put), inline / put
    print(
        f"queued per activity / (SQS send+receive + PutItem) = {q_ratio:.2f}  (target <= 1.5: "
        f"{'met' if q_ratio <= 1.5 else 'NOT met'})"
    )
    print(f"inline per activity / PutItem = {i_ratio:.2f}  (target <= 2.0: {'met' if i_ratio <= 2.0 else 'NOT met'})")
    return 0 if q_ratio <= 1.5 and i_ratio <= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
