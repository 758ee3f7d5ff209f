"""Where an execution stands: its status and, once it ended, how."""

from __future__ import annotations

from dataclasses import dataclass

from wf.core.status import WorkflowStatus
from wf.errors import FailureDetails


@dataclass(slots=True)
class Outcome:
    status: WorkflowStatus = WorkflowStatus.PENDING
    output: str | None = None
    failure: FailureDetails | None = None
    #: The terminal event is in history (recorded or replayed): nothing more happens.
    recorded: bool = False

    def fail(self, failure: FailureDetails) -> None:
        self.status = WorkflowStatus.FAILED
        self.failure = failure
