"""Engine metrics: a small protocol, a null sink, an in-memory one, and the Powertools
(CloudWatch EMF) adapter used on Lambda."""

from __future__ import annotations

from collections import Counter
from enum import Enum
from typing import Any, Protocol

from wf._status import WorkflowStatus


class Metric(Enum):
    WORKFLOWS_STARTED = "WorkflowsStarted"
    STEPS_COMMITTED = "StepsCommitted"
    WRITE_CONFLICTS = "WriteConflicts"
    EVENTS_REQUEUED = "EventsRequeued"
    ACTIVITIES_RUN = "ActivitiesRun"
    ACTIVITIES_ABANDONED = "ActivitiesAbandoned"
    ACTIVITIES_DEFERRED = "ActivitiesDeferred"
    REDELIVERY_REPAIRS = "RedeliveryRepairs"
    MESSAGES_DROPPED = "MessagesDropped"
    PAYLOADS_TOO_LARGE = "PayloadsTooLarge"
    WORKFLOWS_COMPLETED = "WorkflowsCompleted"
    WORKFLOWS_FAILED = "WorkflowsFailed"
    WORKFLOWS_TERMINATED = "WorkflowsTerminated"


#: The metric counting instances that end in each terminal status.
FINISHED = {
    WorkflowStatus.COMPLETED: Metric.WORKFLOWS_COMPLETED,
    WorkflowStatus.FAILED: Metric.WORKFLOWS_FAILED,
    WorkflowStatus.TERMINATED: Metric.WORKFLOWS_TERMINATED,
}


class Metrics(Protocol):
    def count(self, metric: Metric, value: int = 1) -> None: ...


class NullMetrics:
    def count(self, metric: Metric, value: int = 1) -> None:
        pass


class RecordingMetrics:
    """Keeps counts in memory (tests, benchmarks)."""

    def __init__(self) -> None:
        self.counts: Counter[Metric] = Counter()

    def count(self, metric: Metric, value: int = 1) -> None:
        self.counts[metric] += value


class PowertoolsMetrics:
    """CloudWatch metrics through Powertools' EMF logger, flushed once per invocation."""

    def __init__(self, namespace: str = "wf", service: str = "wf") -> None:
        from aws_lambda_powertools import Metrics as _Metrics

        self._metrics: Any = _Metrics(namespace=namespace, service=service)
        self._pending = False

    def count(self, metric: Metric, value: int = 1) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        self._metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=value)
        self._pending = True

    def flush(self) -> None:
        if self._pending:
            self._metrics.flush_metrics()
            self._pending = False
