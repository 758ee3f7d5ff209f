"""What one replay step produces: the events to append, the commands and the status."""

from __future__ import annotations

from dataclasses import dataclass, replace

from wf.core.commands import Command, ScheduleActivity
from wf.core.history import ActivityScheduled, HistoryEvent
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


def with_activity_input(result: StepResult, task_id: int, input: str | None) -> StepResult:
    """``result`` with activity ``task_id`` scheduled with ``input`` instead of the
    code's (a rerun's new input for the activity it runs again): in the event recorded
    and in the command sent. Replay matches activities by name, not input, so the
    recorded history still replays."""
    events = tuple(
        replace(e, input=input) if isinstance(e, ActivityScheduled) and e.task_id == task_id else e
        for e in result.events
    )
    commands = tuple(
        replace(c, input=input) if isinstance(c, ScheduleActivity) and c.task_id == task_id else c
        for c in result.commands
    )
    return replace(result, events=events, commands=commands)
