"""Chaos on DynamoDB (moto): a small seeded run of tests/chaos_harness.py (the full run
is bench/chaos.py). Nothing is lost, stuck, failed or wrong; no event is applied twice;
no activity runs for an execution that was never recorded; every instance's final status
change reaches an EventBridge rule's queue once by its eventId."""

from __future__ import annotations

from tests.chaos_harness import SQUARE_LIMIT, Chaos


def test_chaos_small(aws, record_property) -> None:
    report = Chaos(32, seed=12, fault_rate=0.10, crash_rate=0.01).run()
    for line in report.lines():
        record_property("figure", f"chaos: {line}")
    assert report.faults.get("before", 0) + report.faults.get("after", 0) > 50
    assert report.faults.get("crash", 0) > 0
    assert (report.lost, report.stuck, report.failed, report.wrong) == (0, 0, 0, 0), report.problems[:20]
    assert report.duplicated_events == 0
    # Every instance's final status change, received once by its eventId; a change
    # arrives again only after a fault that struck between its publication and its
    # marker's removal (EventBridge takes no idempotency key: the eventId is the
    # consumer's), never from a redelivery, a duplicate delivery or a retry.
    assert report.status_events_wrong == 0
    assert report.status_event_unexplained_repeats == 0, report.problems[:20]
    assert report.dead_letters == 0
    assert report.runs_for_unrecorded == 0
    assert report.completed == 32 - 3  # the 3 victims were terminated and purged
    assert 1.0 <= report.rerun_rate < 1.5
    # The limited activity never ran beyond its limit, nor without a slot of it, though
    # the slots' calls failed and their containers died as every other call did.
    assert report.limited_runs >= report.scheduled_activities // 2
    assert 1 <= report.most_slots_held <= SQUARE_LIMIT
    assert report.runs_without_a_slot == 0
