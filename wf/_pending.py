"""Bookkeeping of one execution: scheduled actions, open tasks, the event inbox and
the result of a step."""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from wf._commands import Command, ScheduleActivity, ScheduleTimer, StartChild
from wf._errors import FailureDetails
from wf._history import ActivityScheduled, ChildCreated, EventKind, HistoryEvent, TimerCreated
from wf._retry import RetryPolicy
from wf._status import WorkflowStatus
from wf._task import Task

INBOUND_KINDS = frozenset(
    {
        EventKind.ACTIVITY_COMPLETED,
        EventKind.ACTIVITY_FAILED,
        EventKind.TIMER_FIRED,
        EventKind.CHILD_COMPLETED,
        EventKind.CHILD_FAILED,
        EventKind.EVENT_RAISED,
    }
)
NEW_EVENT_KINDS = INBOUND_KINDS | {
    EventKind.WORKFLOW_STARTED,
    EventKind.WORKFLOW_TERMINATED,
    EventKind.WORKFLOW_FAILED,  # failed by the engine (e.g. a step too large to store)
    EventKind.SUSPENDED,
    EventKind.RESUMED,
}
DESCRIBE = {
    EventKind.ACTIVITY_SCHEDULED: "activity",
    EventKind.TIMER_CREATED: "timer",
    EventKind.CHILD_CREATED: "child workflow",
}


class Role(Enum):
    PLAIN = 1
    ATTEMPT = 2
    RETRY_TIMER = 3
    EVENT_TIMEOUT = 4


@dataclass(slots=True)
class Action:
    """Something the code scheduled; becomes a history event and a command."""

    kind: EventKind
    task_id: int
    name: str = ""
    input: str | None = None
    fire_at: datetime | None = None
    instance_id: str | None = None

    def describe(self) -> str:
        label = DESCRIBE[self.kind]
        return f"{label} '{self.name}'" if self.name else label

    def to_event(self, now: datetime) -> HistoryEvent:
        if self.kind is EventKind.ACTIVITY_SCHEDULED:
            return ActivityScheduled(now, self.task_id, self.name, self.input)
        if self.kind is EventKind.TIMER_CREATED:
            assert self.fire_at is not None
            return TimerCreated(now, self.task_id, self.fire_at)
        assert self.instance_id is not None
        return ChildCreated(now, self.task_id, self.name, self.instance_id, self.input)

    def to_command(self) -> Command:
        if self.kind is EventKind.ACTIVITY_SCHEDULED:
            return ScheduleActivity(self.task_id, self.name, self.input)
        if self.kind is EventKind.TIMER_CREATED:
            assert self.fire_at is not None
            return ScheduleTimer(self.task_id, self.fire_at)
        assert self.instance_id is not None
        return StartChild(self.task_id, self.name, self.instance_id, self.input)


@dataclass(slots=True)
class Retry:
    task: Task[Any]
    policy: RetryPolicy
    kind: EventKind
    name: str
    input: str | None
    instance_id: str | None
    first_attempt_at: datetime
    attempt: int = 0


@dataclass(slots=True)
class OpenTask:
    task: Task[Any]
    role: Role
    action: Action
    retry: Retry | None = None
    event_key: str = ""


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


@dataclass(slots=True)
class Inbox:
    """External events not yet waited for, FIFO per case-insensitive name."""

    by_name: dict[str, deque[tuple[int, str, str | None]]] = field(default_factory=dict)
    arrivals: int = 0

    def put(self, name: str, data: str | None) -> None:
        self.by_name.setdefault(name.lower(), deque()).append((self.arrivals, name, data))
        self.arrivals += 1

    def take(self, key: str) -> tuple[bool, str | None]:
        queue = self.by_name.get(key)
        if not queue:
            return False, None
        return True, queue.popleft()[2]

    def drain(self) -> list[tuple[str, str | None]]:
        items = sorted(item for queue in self.by_name.values() for item in queue)
        self.by_name.clear()
        return [(name, data) for _, name, data in items]


def call_user(fn: Callable[..., Any], ctx: object, value: Any) -> Any:
    """Call ``fn(ctx, value)``, or ``fn(ctx)`` when it takes no input (as Dapr does)."""
    if value is None:
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = None
        if params is not None and len(params) == 1:
            return fn(ctx)
    return fn(ctx, value)
