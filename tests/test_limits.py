"""The hot-path size check never under-estimates a step (it decides what DynamoDB would refuse)."""

from __future__ import annotations

from tests.driver import Driver
from tests.test_core_semantics import wfr
from wf.engine.limits import _rough_size
from wf.engine.store import events_to_str


def test_rough_size_bounds_the_serialized_size_of_every_step() -> None:
    d = Driver(wfr)
    d.start("chain", ["plain", 'quo"tes\\and\nnewlines', "ünïcødé ✓ 🚀" * 20], "a")
    d.start("fan", 30, "b")
    d.start("crash", None, "c")
    d.start("counter", {"n": 0, "seen": []}, "e")
    d.raise_event("e", "tick", "\u0000\u001f" * 50)
    d.run()
    steps = [r for inst in d.instances.values() for _, _, _, r in inst.steps if r.events]
    assert len(steps) > 10
    for result in steps:
        assert _rough_size(result) >= len(events_to_str(result.events).encode())
