"""The contexts handed to workflow and activity code (Dapr names and semantics)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from wf._retry import RetryPolicy
from wf._task import Task


def registered_name(fn_or_name: Callable[..., Any] | str) -> str:
    """The name a workflow or activity is registered under."""
    if isinstance(fn_or_name, str):
        return fn_or_name
    alt = getattr(fn_or_name, "_dapr_alternate_name", None)
    return alt if isinstance(alt, str) else fn_or_name.__name__


class _Scheduler(Protocol):
    now: datetime
    replaying: bool

    def schedule_activity(self, name: str, input: Any, retry_policy: RetryPolicy | None) -> Task[Any]: ...

    def schedule_child(
        self, name: str, input: Any, instance_id: str | None, retry_policy: RetryPolicy | None
    ) -> Task[Any]: ...

    def schedule_timer(self, fire_at: datetime) -> Task[None]: ...

    def wait_event(self, name: str, timeout: timedelta | None) -> Task[Any]: ...

    def continue_as_new(self, new_input: Any, save_events: bool) -> None: ...

    def set_custom_status(self, status: str | None) -> None: ...


class DaprWorkflowContext:
    """What a workflow function receives as its first argument."""

    __slots__ = ("_instance_id", "_scheduler")

    def __init__(self, instance_id: str, scheduler: _Scheduler) -> None:
        self._instance_id = instance_id
        self._scheduler = scheduler

    @property
    def instance_id(self) -> str:
        return self._instance_id

    @property
    def current_utc_datetime(self) -> datetime:
        """Deterministic 'now': the time the current step started, from history."""
        return self._scheduler.now

    @property
    def is_replaying(self) -> bool:
        return self._scheduler.replaying

    def call_activity(
        self,
        activity: Callable[..., Any] | str,
        *,
        input: Any = None,
        retry_policy: RetryPolicy | None = None,
    ) -> Task[Any]:
        """Schedule an activity; ``yield`` the task for its result."""
        return self._scheduler.schedule_activity(registered_name(activity), input, retry_policy)

    def call_child_workflow(
        self,
        workflow: Callable[..., Any] | str,
        *,
        input: Any = None,
        instance_id: str | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> Task[Any]:
        """Start a child workflow (default ID ``f"{parent}:{seq:04x}"``); ``yield`` for its output."""
        return self._scheduler.schedule_child(registered_name(workflow), input, instance_id, retry_policy)

    def create_timer(self, fire_at: datetime | timedelta) -> Task[None]:
        """A durable timer; naive datetimes are taken as UTC."""
        if isinstance(fire_at, timedelta):
            when = self._scheduler.now + fire_at
        elif fire_at.tzinfo is None:
            when = fire_at.replace(tzinfo=UTC)
        else:
            when = fire_at.astimezone(UTC)
        return self._scheduler.schedule_timer(when)

    def wait_for_external_event(self, name: str, *, timeout: timedelta | None = None) -> Task[Any]:
        """Wait for an event raised on this instance (names are case-insensitive).

        With ``timeout``, the task fails with :class:`TimeoutError` if no event arrives
        within that much workflow time.
        """
        return self._scheduler.wait_event(name, timeout)

    def continue_as_new(self, new_input: Any, *, save_events: bool = False) -> None:
        """Restart this instance with fresh history; ``save_events`` carries unread events over."""
        self._scheduler.continue_as_new(new_input, save_events)

    def set_custom_status(self, custom_status: str | None) -> None:
        self._scheduler.set_custom_status(custom_status)


class WorkflowActivityContext:
    """What an activity function receives as its first argument."""

    __slots__ = ("_task_id", "_workflow_id")

    def __init__(self, workflow_id: str, task_id: int) -> None:
        self._workflow_id = workflow_id
        self._task_id = task_id

    @property
    def workflow_id(self) -> str:
        return self._workflow_id

    @property
    def task_id(self) -> int:
        return self._task_id
