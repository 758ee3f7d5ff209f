"""Workflow runtime status and the state snapshot clients read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from wf.errors import FailureDetails


class WorkflowStatus(Enum):
    """Runtime status of a workflow instance (a paused instance is ``SUSPENDED``)."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CONTINUED_AS_NEW = "CONTINUED_AS_NEW"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    TERMINATED = "TERMINATED"
    PENDING = "PENDING"
    SUSPENDED = "SUSPENDED"
    #: Waiting for code that can replay it (a workflow version or patch it needs is
    #: missing); see ``wf.core.history.Stalled``.
    STALLED = "STALLED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.CANCELED, WorkflowStatus.TERMINATED}
)


@dataclass(frozen=True)
class WorkflowState:
    """A snapshot of one instance, as ``get_workflow_state`` returns it."""

    instance_id: str
    name: str
    runtime_status: WorkflowStatus
    created_at: datetime
    last_updated_at: datetime
    serialized_input: str | None = None
    serialized_output: str | None = None
    serialized_custom_status: str | None = None
    failure_details: FailureDetails | None = None

    @property
    def workflow_name(self) -> str:
        return self.name
