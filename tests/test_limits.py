"""What the engine refuses as too large: single payloads over the limit, never a step for
its width (a step too large for one item is stored across several)."""

from __future__ import annotations

import random

from tests.driver import Driver
from tests.test_core_semantics import wfr
from wf.engine.blobs import MAX_INLINE_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES
from wf.engine.limits import oversize, payload_size


def test_payload_size_decides_as_the_exact_size_would() -> None:
    rng = random.Random(3)
    alphabet = ["a", "ü", "✓", "🚀", '"', "\n"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        limit = rng.randint(1, 1200)
        assert (payload_size(text, limit) > limit) == (len(text.encode()) > limit)


def test_a_wide_step_passes_and_a_large_payload_is_refused_with_the_limit_named() -> None:
    d = Driver(wfr)
    # The first step schedules all 3,000 (running them all to the end is the scale
    # bench's and the large payload tests' part: here it only replayed for minutes).
    widest = d.start("fan", 3000, "wide")
    assert len(widest.events) > 3000
    assert oversize(widest) is None  # 3,000 activities in one step: no item limit applies
    big = d.start("chain", ["x" * (MAX_INLINE_PAYLOAD_BYTES + 10)], "big")
    refused = oversize(big) or ""
    assert "200,000-byte limit" in refused and "WF_BUCKET" in refused
    # With a bucket the same input is kept by reference: accepted, up to 10 MB.
    assert oversize(big, MAX_PAYLOAD_BYTES) is None
    huge = d.start("chain", ["x" * (MAX_PAYLOAD_BYTES + 10)], "huge")
    assert "10,485,760-byte limit" in (oversize(huge, MAX_PAYLOAD_BYTES) or "")
