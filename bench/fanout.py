"""Fan-out on the local stack: a `when_all` over N activities that each sleep S seconds,
start to COMPLETED (the server's own createdAt and lastUpdatedAt), with `wf dev`'s default
settings, printed beside the sequential time of the same work (N x S: what it took when
a batch's activities ran one after the other).

    python bench/fanout.py [--widths 10,100] [--seconds 5] [-- extra wf dev options]

Activities of one SQS batch run concurrently in their invocation (up to
WF_ACTIVITY_CONCURRENCY, default 10), and `wf dev` keeps several batches in flight
(`--pollers`, default 5), as Lambda's SQS event source does.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dev_process import wf_dev  # noqa: E402

P = "/v1.0-beta1/workflows/dapr"


def call(base: str, method: str, path: str, body: object = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
    return json.loads(text) if text else {}


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def run_one(base: str, n: int, seconds: float) -> float:
    iid = f"fan-{n}-{time.monotonic_ns()}"
    call(base, "POST", f"{P}/fan/start?instanceID={iid}", {"n": n, "seconds": seconds})
    deadline = time.monotonic() + max(120, n * seconds * 2)
    while time.monotonic() < deadline:
        body = call(base, "GET", f"{P}/{iid}")
        if body["runtimeStatus"] in ("COMPLETED", "FAILED", "TERMINATED"):
            if body["runtimeStatus"] != "COMPLETED" or json.loads(body["properties"]["dapr.workflow.output"]) != n:
                raise SystemExit(f"{iid} ended {body['runtimeStatus']}: {body['properties']}")
            return (when(body["lastUpdatedAt"]) - when(body["createdAt"])).total_seconds()
        time.sleep(0.1)
    raise SystemExit(f"{iid} did not finish in time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", default="10,100", help="fan-out widths (default 10,100)")
    parser.add_argument("--seconds", type=float, default=5.0, help="each activity's sleep (default 5)")
    parser.add_argument("dev_args", nargs="*", help="extra `wf dev` options (after --)")
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    with (
        tempfile.TemporaryDirectory() as tmp,
        wf_dev(Path(tmp), ROOT / "bench" / "fanout_app.py", *args.dev_args) as (
            base,
            _,
            _,
        ),
    ):
        run_one(base, 2, 0.01)  # warm the containers
        print(f"{'width':>6} {'each':>6} {'fan-out':>9} {'sequential':>11} {'speed-up':>9}")
        for n in widths:
            took = run_one(base, n, args.seconds)
            sequential = n * args.seconds
            print(
                f"{n:>6} {args.seconds:>5.1f}s {took:>8.2f}s {sequential:>10.1f}s {sequential / took:>8.1f}x",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
