"""Engine metrics as CloudWatch metrics through Powertools' EMF logger, or (off Lambda)
as a log line per invocation."""

from __future__ import annotations

import logging
from collections import Counter

from aws_lambda_powertools import Metrics as _Metrics
from aws_lambda_powertools.metrics import MetricUnit

from wf.engine.metrics import Metric


class PowertoolsMetrics:
    """Flushed once per invocation (one EMF document)."""

    def __init__(self, namespace: str = "wf", service: str = "wf") -> None:
        self._metrics = _Metrics(namespace=namespace, service=service)
        self._pending = False

    def count(self, metric: Metric, value: int = 1) -> None:
        self._metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=value)
        self._pending = True

    def flush(self) -> None:
        if self._pending:
            self._metrics.flush_metrics()
            self._pending = False


class LoggedMetrics:
    """The counts of one invocation as one log line (``metrics: WriteConflicts=1 ...``)."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._counts: Counter[str] = Counter()

    def count(self, metric: Metric, value: int = 1) -> None:
        self._counts[metric.value] += value

    def flush(self) -> None:
        if self._counts:
            self._log.info("metrics: %s", " ".join(f"{k}={v}" for k, v in sorted(self._counts.items())))
            self._counts.clear()
