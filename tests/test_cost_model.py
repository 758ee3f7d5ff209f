"""The cost model, pinned: what a workflow pays once and what each activity pays.

Runs the cost benchmark's own workloads (through ``lambda_handler`` on moto, with its
request meter) at small sizes. Totals must be exactly ``fixed + per_activity * n``: any
count that grew with the history, or a new request on the hot path, fails here.
"""

from __future__ import annotations

import importlib
import sys
from collections import Counter
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))
cost = importlib.import_module("cost")
meter = importlib.import_module("_meter")

# (per workflow, per activity): invocations, SQS requests, write units (index writes
# included), read units.
EXPECTED = {
    # Per workflow: the HTTP start; the final empty receive of the poller; the instance
    # record's create and final status (2) and their index writes (1 + 2).
    "seq": ({"invocations": 1, "sqs": 1, "wru": 5, "rru": 0}, {"invocations": 1, "sqs": 3, "wru": 1, "rru": 0}),
    # Setting a custom status at every step costs nothing more: it rides in the step items.
    "seq_status": (
        {"invocations": 1, "sqs": 1, "wru": 5, "rru": 0},
        {"invocations": 1, "sqs": 3, "wru": 1, "rru": 0},
    ),
    # Inline: one queued hop (send, receive, delete) starts the run of every activity.
    "seq_inline": (
        {"invocations": 2, "sqs": 4, "wru": 5, "rru": 0},
        {"invocations": 0, "sqs": 0, "wru": 1, "rru": 0},
    ),
}


@pytest.mark.parametrize("shape", sorted(EXPECTED))
def test_totals_are_a_fixed_part_plus_a_constant_per_activity(shape: str) -> None:
    totals = {n: cost.run(shape, n) for n in (1, 3, 8)}
    fixed, each = cost.fit((1, totals[1]), (8, totals[8]))
    for k in cost.KINDS:
        assert totals[3][k] == pytest.approx(fixed[k] + each[k] * 3), k
    want_fixed, want_each = EXPECTED[shape]
    assert {k: fixed[k] for k in cost.KINDS} == pytest.approx(want_fixed)
    assert {k: each[k] for k in cost.KINDS} == pytest.approx(want_each)


def test_index_writes_follow_dynamodb_billing_rules() -> None:
    index = meter.Index("by_status", ("wf_status", "created_at"), ("workflow_name",))
    running = {"pk": {"S": "a"}, "wf_status": {"S": "RUNNING"}, "created_at": {"S": "t"}, "workflow_name": {"S": "w"}}
    assert index.write_units(None, running) == 1  # enters the index
    assert index.write_units(running, dict(running, output={"S": "x"})) == 0  # entry unchanged
    assert index.write_units(running, dict(running, workflow_name={"S": "v"})) == 1  # projection changed
    assert index.write_units(running, dict(running, wf_status={"S": "COMPLETED"})) == 2  # key changed
    assert index.write_units(running, None) == 1  # leaves the index
    assert index.write_units({"pk": {"S": "a"}}, {"pk": {"S": "a"}, "events": {"S": "[]"}}) == 0  # never in it


def test_failed_conditional_writes_are_billed() -> None:
    counts: Counter[str] = Counter()
    table = {
        "KeySchema": [{"AttributeName": "pk"}],
        "GlobalSecondaryIndexes": [
            {"IndexName": "i", "KeySchema": [{"AttributeName": "s"}], "Projection": {"ProjectionType": "KEYS_ONLY"}}
        ],
    }
    m = meter.DynamoMeter(table, counts)
    item = {"pk": {"S": "a"}, "s": {"S": "x"}, "big": {"S": "y" * 1500}}
    m.observe("PutItem", {"Item": item}, {}, succeeded=True)
    assert (counts["wru"], counts["wru_index"]) == (3, 1)  # 2 KB item + index entry
    m.observe("PutItem", {"Item": item}, None, succeeded=False)
    assert (counts["wru"], counts["wru_index"]) == (5, 1)  # billed, index untouched
