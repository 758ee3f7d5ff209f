"""The open tasks of an execution: scheduled for the workflow code (through
``DaprWorkflowContext``) and settled when their results arrive, retries included."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any

from wf._errors import FailureDetails, TaskFailedError
from wf._history import (
    ActivityCompleted,
    ActivityFailed,
    ChildCompleted,
    ChildFailed,
    EventKind,
    EventRaised,
    HistoryEvent,
    TimerFired,
)
from wf._pending import DESCRIBE, Action, Inbox, OpenTask, Retry, Role
from wf._retry import RetryPolicy
from wf._serde import decode, encode
from wf._task import Task


class TaskBook:
    """Scheduling and settling of tasks; ``Execution`` builds on it."""

    instance_id: str
    now: datetime
    _next_id: int
    _actions: dict[int, Action]
    _open: dict[int, OpenTask]
    _inbox: Inbox
    _waiters: dict[str, deque[Task[Any]]]
    _continue: tuple[str, bool] | None
    _custom_status: str | None

    def _maybe_resume(self) -> None:
        raise NotImplementedError

    # -- delivery ----------------------------------------------------------------

    def _deliver(self, event: HistoryEvent) -> None:
        if isinstance(event, EventRaised):
            key = event.name.lower()
            waiters = self._waiters.get(key)
            if waiters:
                waiters.popleft()._succeed(decode(event.data))
                self._maybe_resume()
            else:
                self._inbox.put(event.name, event.data)
            return
        entry = self._open.pop(event.task_id, None)  # type: ignore[attr-defined]
        if entry is None:
            return
        if isinstance(event, (ActivityCompleted, ChildCompleted)):
            entry.task._succeed(decode(event.result))
        elif isinstance(event, (ActivityFailed, ChildFailed)):
            self._on_attempt_failed(entry, event.failure)
        elif isinstance(event, TimerFired):
            self._on_timer(entry)
        self._maybe_resume()

    def _on_attempt_failed(self, entry: OpenTask, failure: FailureDetails) -> None:
        retry = entry.retry
        if retry is not None:
            delay = retry.policy.next_delay(retry.attempt, failure, retry.first_attempt_at, self.now)
            if delay is not None:
                timer = Action(EventKind.TIMER_CREATED, self._new_id(), fire_at=self.now + delay)
                self._add(timer, OpenTask(retry.task, Role.RETRY_TIMER, timer, retry))
                return
        label = DESCRIBE[entry.action.kind].capitalize()
        message = f"{label} '{entry.action.name}' failed: {failure.message}"
        entry.task._fail(TaskFailedError(message, failure))

    def _on_timer(self, entry: OpenTask) -> None:
        if entry.role is Role.RETRY_TIMER:
            assert entry.retry is not None
            self._attempt(entry.retry)
        elif entry.role is Role.EVENT_TIMEOUT:
            task = entry.task
            if not task.is_complete:
                waiters = self._waiters.get(entry.event_key)
                if waiters is not None and task in waiters:
                    waiters.remove(task)
                task._fail(TimeoutError(f"timed out waiting for external event '{entry.event_key}'"))
        else:
            entry.task._succeed(None)

    # -- scheduling (called by DaprWorkflowContext) ------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _add(self, action: Action, entry: OpenTask) -> None:
        self._actions[action.task_id] = action
        self._open[action.task_id] = entry

    def _attempt(self, retry: Retry) -> None:
        retry.attempt += 1
        task_id = self._new_id()
        instance_id = None
        if retry.kind is EventKind.CHILD_CREATED:
            instance_id = retry.instance_id or f"{self.instance_id}:{task_id:04x}"
        action = Action(retry.kind, task_id, retry.name, retry.input, instance_id=instance_id)
        self._add(action, OpenTask(retry.task, Role.ATTEMPT, action, retry))

    def schedule_activity(self, name: str, input: Any, retry_policy: RetryPolicy | None) -> Task[Any]:
        return self._schedule(EventKind.ACTIVITY_SCHEDULED, name, input, None, retry_policy)

    def schedule_child(
        self, name: str, input: Any, instance_id: str | None, retry_policy: RetryPolicy | None
    ) -> Task[Any]:
        return self._schedule(EventKind.CHILD_CREATED, name, input, instance_id, retry_policy)

    def _schedule(
        self, kind: EventKind, name: str, input: Any, instance_id: str | None, policy: RetryPolicy | None
    ) -> Task[Any]:
        task: Task[Any] = Task()
        retry = Retry(task, policy, kind, name, encode(input), instance_id, self.now) if policy else None
        if retry is not None:
            self._attempt(retry)
            return task
        task_id = self._new_id()
        if kind is EventKind.CHILD_CREATED and instance_id is None:
            instance_id = f"{self.instance_id}:{task_id:04x}"
        action = Action(kind, task_id, name, encode(input), instance_id=instance_id)
        self._add(action, OpenTask(task, Role.PLAIN, action))
        return task

    def schedule_timer(self, fire_at: datetime) -> Task[None]:
        task: Task[None] = Task()
        action = Action(EventKind.TIMER_CREATED, self._new_id(), fire_at=fire_at)
        self._add(action, OpenTask(task, Role.PLAIN, action))
        return task

    def wait_event(self, name: str, timeout: timedelta | None) -> Task[Any]:
        key = name.lower()
        task: Task[Any] = Task()
        found, data = self._inbox.take(key)
        if found:
            task._succeed(decode(data))
            return task
        self._waiters.setdefault(key, deque()).append(task)
        if timeout is not None:
            action = Action(EventKind.TIMER_CREATED, self._new_id(), fire_at=self.now + timeout)
            self._add(action, OpenTask(task, Role.EVENT_TIMEOUT, action, event_key=key))
        return task

    def continue_as_new(self, new_input: Any, save_events: bool) -> None:
        self._continue = (encode(new_input), save_events)

    def set_custom_status(self, status: str | None) -> None:
        self._custom_status = status
