"""The metrics port: what the engine counts, and a sink that drops the counts.
Adapters: ``wf/aws/metrics.py`` (CloudWatch EMF), ``wf/testing/metrics.py`` (in memory)."""

from __future__ import annotations

from enum import Enum
from typing import Protocol

from wf.core.status import WorkflowStatus


class Metric(Enum):
    WORKFLOWS_STARTED = "WorkflowsStarted"
    STEPS_COMMITTED = "StepsCommitted"
    WRITE_CONFLICTS = "WriteConflicts"
    EVENTS_REQUEUED = "EventsRequeued"
    ACTIVITIES_RUN = "ActivitiesRun"
    ACTIVITIES_ABANDONED = "ActivitiesAbandoned"
    ACTIVITIES_DEFERRED = "ActivitiesDeferred"
    #: Activities that found a concurrency limit full and went back to wait in SQS.
    ACTIVITIES_WAITING = "ActivitiesWaitingForSlot"
    ACTIVITIES_TIMED_OUT = "ActivitiesTimedOut"
    #: Work handed to a fresh, delayed message after a transient AWS error.
    MESSAGES_RETRIED = "MessagesRetried"
    #: Messages that no delivery could ever process (garbage, unknown kind).
    MESSAGES_POISON = "MessagesPoison"
    REDELIVERY_REPAIRS = "RedeliveryRepairs"
    MESSAGES_DROPPED = "MessagesDropped"
    PAYLOADS_TOO_LARGE = "PayloadsTooLarge"
    #: Results left in an instance's inbox for one step to take together (fan-in under contention).
    RESULTS_COALESCED = "ResultsCoalesced"
    WORKFLOWS_COMPLETED = "WorkflowsCompleted"
    WORKFLOWS_FAILED = "WorkflowsFailed"
    WORKFLOWS_TERMINATED = "WorkflowsTerminated"
    #: Status-change events published (``wf/engine/status_events.py``).
    STATUS_EVENTS = "StatusEventsPublished"


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
