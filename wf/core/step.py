"""What one replay step produces: the events to append, the commands and the status."""

from __future__ import annotations

from dataclasses import dataclass

from wf.core.commands import Command
from wf.core.history import HistoryEvent
from wf.core.status import WorkflowStatus
from wf.errors import FailureDetails


@dataclass(frozen=True)
class StepResult:
    """What one step produced.

    ``events`` are to be appended to the history; when ``new_generation`` is true the
    workflow continued-as-new and ``events`` is instead the whole history of the new
    generation, replacing the old one.  An empty ``events`` means nothing changed.
    """

    events: tuple[HistoryEvent, ...]
    commands: tuple[Command, ...]
    status: WorkflowStatus
    output: str | None = None
    failure: FailureDetails | None = None
    custom_status: str | None = None
    new_generation: bool = False
