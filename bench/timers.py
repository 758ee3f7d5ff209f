"""Timer lateness on the local stack: N workflows (default 50), each waiting on one timer
of 0.2-3 s (seeded), started 50 ms apart (so that many are pending at once); lateness = when the workflow completed (the
server's lastUpdatedAt) minus when its timer was due (returned by the workflow). Prints
the median and p95 in milliseconds, for each setting of the trade-off between lateness
and cost (wf/engine/waits.py): AWS's default (no wait over 50 ms in an invocation: a timer
is up to a second late) and precise timers (``WF_PRECISE_TIMERS=1``, the local stack's
default: waited for in place, billed on AWS).

    python bench/timers.py [--timers 50] [--seed 1] [--stagger 0.05] [--setting both|billed|precise]

The workflows are the `timer` workflow of tests/apps/load.py, served by `wf dev`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
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


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def lateness_ms(base: str, iid: str, seconds: float) -> float:
    call(base, "POST", f"{P}/timer/start?instanceID={iid}", seconds)
    time.sleep(seconds + 1.5)  # the measure is the server's: polling less loads it less
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = call(base, "GET", f"{P}/{iid}")
        if body["runtimeStatus"] == "COMPLETED":
            due = datetime.fromisoformat(json.loads(body["properties"]["dapr.workflow.output"]))
            return (stamp(body["lastUpdatedAt"]) - due).total_seconds() * 1000
        if body["runtimeStatus"] != "RUNNING":
            raise SystemExit(f"{iid}: {body}")
        time.sleep(1.0)
    raise SystemExit(f"{iid} did not complete")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stagger", type=float, default=0.05, help="seconds between starts (default 0.05)")
    parser.add_argument("--setting", choices=("both", "billed", "precise"), default="both")
    args = parser.parse_args()
    settings = ("billed", "precise") if args.setting == "both" else (args.setting,)
    for setting in settings:
        os.environ["WF_PRECISE_TIMERS"] = "1" if setting == "precise" else "0"
        late = measure(args)
        p95 = late[min(len(late) - 1, round(0.95 * len(late)) - 1)]
        label = (
            "precise timers (WF_PRECISE_TIMERS=1)" if setting == "precise" else "AWS's default (billed waits <= 50 ms)"
        )
        print(f"{label}: timers: {len(late)} of 0.2-3 s, started {args.stagger * 1000:.0f} ms apart on `wf dev`")
        print(
            f"  lateness: median {statistics.median(late):.0f} ms, p95 {p95:.0f} ms, max {late[-1]:.0f} ms, "
            f"min {late[0]:.0f} ms"
        )
    return 0


def measure(args: argparse.Namespace) -> list[float]:
    rng = random.Random(args.seed)
    delays = [round(rng.uniform(0.2, 3.0), 3) for _ in range(args.timers)]
    with tempfile.TemporaryDirectory() as tmp, wf_dev(Path(tmp), ROOT / "tests" / "apps" / "load.py") as (base, _, _):
        lateness_ms(base, "warm", 0.2)
        with ThreadPoolExecutor(max_workers=len(delays)) as pool:
            futures = []
            for i, seconds in enumerate(delays):
                futures.append(pool.submit(lateness_ms, base, f"timer-{i}", seconds))
                time.sleep(args.stagger)
            late = [f.result() for f in futures]
    return sorted(late)


if __name__ == "__main__":
    raise SystemExit(main())
