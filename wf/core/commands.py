"""Commands: the work a replay step asks the engine to carry out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wf.core.history import ParentRef, PropagationScope
from wf.errors import FailureDetails


@dataclass(frozen=True, slots=True)
class ScheduleActivity:
    task_id: int
    name: str
    input: str | None
    #: History to propagate to it (``call_activity(propagation=...)``).
    propagation: PropagationScope | None = None
    #: The app that runs it; ``None``: this one.
    app_id: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduleTimer:
    task_id: int
    fire_at: datetime


@dataclass(frozen=True, slots=True)
class StartChild:
    task_id: int
    name: str
    instance_id: str
    input: str | None
    #: History to propagate to it (``call_child_workflow(propagation=...)``).
    propagation: PropagationScope | None = None
    #: The app it runs in; ``None``: this one.
    app_id: str | None = None


@dataclass(frozen=True, slots=True)
class TerminateChild:
    instance_id: str
    #: The app it runs in; ``None``: this one.
    app_id: str | None = None


@dataclass(frozen=True, slots=True)
class NotifyParent:
    """Report this (terminal) instance's outcome to the parent that started it."""

    parent: ParentRef
    result: str | None
    failure: FailureDetails | None


#: What workflow code schedules: each is recorded as a history event and carried out.
Scheduled = ScheduleActivity | ScheduleTimer | StartChild
Command = ScheduleActivity | ScheduleTimer | StartChild | TerminateChild | NotifyParent
