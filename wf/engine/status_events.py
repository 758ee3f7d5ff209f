"""Status-change events: one per change of an instance's runtime status, for other
systems to react to ("instance FAILED") without polling. On AWS they go to EventBridge
(``wf/aws/status_events.py``); the engine works through the ``StatusEvents`` port.

Each change is made by one step, and that step's item carries a ``PendingChange`` until
the change is published: the marker is written by the step's own conditional write (no
extra write), and removed once the event is out. The invocation that committed the step
publishes it; a management call's step, by the worker that takes its follow-up message.
An invocation that dies in between leaves the marker, and its message comes back
(SQS): the invocation that then loads the history publishes what is still marked. A
change is therefore published once, or, when an invocation dies after publishing and
before removing the marker, again with the same ``event_id`` (rule 17 of
``docs/crash-safety.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from wf.core.history import format_time, parse_time
from wf.core.status import WorkflowStatus
from wf.errors import FailureDetails

#: EventBridge's ``source`` and ``detail-type`` of the events.
SOURCE = "wf.workflows"
DETAIL_TYPE = "Workflow Status Change"
#: A failure's message is cut to this in an event.
MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class PendingChange:
    """On a step item: the status it changed from, not yet known to be published."""

    old: WorkflowStatus
    new: WorkflowStatus
    #: When the step was committed.
    at: datetime
    #: The timestamp of the first inbound event of the step: a management call's
    #: follow-up message finds the step it is to publish for by it.
    cause: datetime | None = None

    def to_json(self) -> str:
        cause = f',"cause":"{format_time(self.cause)}"' if self.cause is not None else ""
        return f'{{"old":"{self.old.value}","new":"{self.new.value}","at":"{format_time(self.at)}"{cause}}}'

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingChange:
        cause = data.get("cause")
        return cls(
            WorkflowStatus(data["old"]),
            WorkflowStatus(data["new"]),
            parse_time(data["at"]),
            parse_time(cause) if cause else None,
        )


@dataclass(frozen=True)
class StatusChange:
    """One status-change event: who changed, from what to what, when; no payloads."""

    instance_id: str
    execution_id: str
    #: The step that made the change: with the IDs, the event's identity.
    seq: int
    workflow_name: str
    old: WorkflowStatus
    new: WorkflowStatus
    at: datetime
    created_at: datetime
    failure: FailureDetails | None = None
    parent_instance_id: str | None = None

    @property
    def event_id(self) -> str:
        """The same for every publication of this change (a consumer dedupes by it)."""
        return f"{self.instance_id}/{self.execution_id}/{self.seq}"

    def detail(self) -> dict[str, Any]:
        """The event's ``detail``: statuses, times and the failure's type and message."""
        detail: dict[str, Any] = {
            "eventId": self.event_id,
            "instanceId": self.instance_id,
            "executionId": self.execution_id,
            "workflowName": self.workflow_name,
            "oldStatus": self.old.value,
            "newStatus": self.new.value,
            "changedAt": format_time(self.at),
            "createdAt": format_time(self.created_at),
        }
        if self.parent_instance_id is not None:
            detail["parentInstanceId"] = self.parent_instance_id
        if self.failure is not None:
            # Bounded: an event is at most 256 KB, and a message may be anything long.
            message = self.failure.message
            if len(message) > MAX_MESSAGE_CHARS:
                message = message[:MAX_MESSAGE_CHARS] + "... (cut; the instance's GET has it whole)"
            detail["failure"] = {"errorType": self.failure.error_type[:200], "message": message}
        return detail


class StatusEvents(Protocol):
    """Where status changes are published."""

    def publish(self, changes: Sequence[StatusChange]) -> None:
        """Publish every one of ``changes``, or raise ``StatusEventsError`` (some may
        have been published then: they are published again, with their IDs)."""
        ...
