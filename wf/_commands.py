"""Commands: the work a replay step asks the engine to carry out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wf._errors import FailureDetails
from wf._history import ParentRef


@dataclass(frozen=True, slots=True)
class ScheduleActivity:
    task_id: int
    name: str
    input: str | None


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


@dataclass(frozen=True, slots=True)
class TerminateChild:
    instance_id: str


@dataclass(frozen=True, slots=True)
class NotifyParent:
    """Report this (terminal) instance's outcome to the parent that started it."""

    parent: ParentRef
    result: str | None
    failure: FailureDetails | None


Command = ScheduleActivity | ScheduleTimer | StartChild | TerminateChild | NotifyParent
