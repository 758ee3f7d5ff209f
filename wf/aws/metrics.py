"""Engine metrics as CloudWatch metrics through Powertools' EMF logger."""

from __future__ import annotations

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
