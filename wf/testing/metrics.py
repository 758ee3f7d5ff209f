"""Metrics kept in memory (tests, benchmarks)."""

from __future__ import annotations

from collections import Counter

from wf.engine.metrics import Metric


class RecordingMetrics:
    def __init__(self) -> None:
        self.counts: Counter[Metric] = Counter()

    def count(self, metric: Metric, value: int = 1) -> None:
        self.counts[metric] += value
