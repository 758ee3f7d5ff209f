"""Chaos on DynamoDB (moto, in process): N workflows mixing every feature (activities,
retries, inline activities, timers, events, children, fan-out, continue-as-new,
pause/resume, terminate, purge) while AWS calls fail at random (before or after taking
effect), containers die mid-batch and the queue delivers late, out of order and twice;
then drained and checked. Seeded and on a virtual clock: reproducible.

    python bench/chaos.py [--workflows 1000] [--faults 0.10] [--crashes 0.01] [--seed 7]

The harness is tests/chaos_harness.py (tests/test_chaos.py runs a small one in CI).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
for key, value in (
    ("AWS_ACCESS_KEY_ID", "bench"),
    ("AWS_SECRET_ACCESS_KEY", "bench"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
):
    os.environ.setdefault(key, value)
os.environ.pop("AWS_ENDPOINT_URL", None)

from moto import mock_aws  # noqa: E402

from tests.chaos_harness import Chaos  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--faults", type=float, default=0.10, help="share of AWS calls that fail (default 0.10)")
    parser.add_argument("--crashes", type=float, default=0.01, help="share of AWS calls that kill the container")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    with mock_aws():
        report = Chaos(args.workflows, seed=args.seed, fault_rate=args.faults, crash_rate=args.crashes).run()
    print("\n".join(report.lines()))
    for problem in report.problems[:20]:
        print("problem:", problem)
    bad = (
        report.lost
        + report.stuck
        + report.failed
        + report.wrong
        + report.duplicated_events
        + report.runs_for_unrecorded
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
