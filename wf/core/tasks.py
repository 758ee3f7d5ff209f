"""The open tasks of an execution: scheduled by the workflow code (through
``DaprWorkflowContext``) and settled when their results arrive, retries included."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from wf.core.commands import ScheduleActivity, Scheduled, ScheduleTimer, StartChild
from wf.core.context import Turn
from wf.core.history import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ChildCompleted,
    ChildCreated,
    ChildFailed,
    EventRaised,
    HistoryEvent,
    PropagationScope,
    TimerCreated,
    TimerFired,
)
from wf.core.inbox import Inbox
from wf.core.retry import RetryPolicy
from wf.core.serde import decode, encode
from wf.core.task import Task
from wf.errors import FailureDetails, TaskFailedError

#: A result, a fired timer or a raised event: what settles an open task.
Settling = ActivityCompleted | ActivityFailed | ChildCompleted | ChildFailed | TimerFired | EventRaised


def describe(action: Scheduled | ActivityScheduled | TimerCreated | ChildCreated) -> str:
    """How errors name a scheduled action, or the event that recorded it: ``activity 'x'``,
    ``timer``, ``child workflow 'y'``."""
    if isinstance(action, (ScheduleActivity, ActivityScheduled)):
        return f"activity '{action.name}'"
    if isinstance(action, (StartChild, ChildCreated)):
        return f"child workflow '{action.name}'"
    return "timer"


def scheduled_event(action: Scheduled, now: datetime) -> HistoryEvent:
    """The history event that records ``action``."""
    if isinstance(action, ScheduleActivity):
        return ActivityScheduled(now, action.task_id, action.name, action.input, action.app_id)
    if isinstance(action, ScheduleTimer):
        return TimerCreated(now, action.task_id, action.fire_at)
    return ChildCreated(now, action.task_id, action.name, action.instance_id, action.input, action.app_id)


def matches(action: Scheduled, event: ActivityScheduled | TimerCreated | ChildCreated) -> bool:
    """Whether a recorded event is the action the code scheduled again on replay."""
    if isinstance(action, ScheduleActivity):
        return isinstance(event, ActivityScheduled) and event.name == action.name
    if isinstance(action, StartChild):
        return isinstance(event, ChildCreated) and event.name == action.name
    return isinstance(event, TimerCreated)


@dataclass(slots=True)
class Retry:
    """An activity or child workflow under a retry policy, across its attempts."""

    task: Task[Any]
    policy: RetryPolicy
    child: bool
    name: str
    input: str | None
    instance_id: str | None
    first_attempt_at: datetime
    propagation: PropagationScope | None = None
    app_id: str | None = None
    attempt: int = 0


# Open tasks, one kind per role the scheduled action plays.


@dataclass(frozen=True, slots=True)
class Plain:
    """An activity, child or timer without a retry policy."""

    task: Task[Any]
    action: Scheduled


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of a retried activity or child."""

    task: Task[Any]
    action: Scheduled
    retry: Retry


@dataclass(frozen=True, slots=True)
class RetryTimer:
    """The wait before the next attempt of ``retry``."""

    task: Task[Any]
    action: ScheduleTimer
    retry: Retry


@dataclass(frozen=True, slots=True)
class EventTimeout:
    """The timeout of a wait for the external event ``key``."""

    task: Task[Any]
    action: ScheduleTimer
    key: str


OpenTask = Plain | Attempt | RetryTimer | EventTimeout


class TaskBook:
    """Scheduling and settling of an execution's tasks.

    ``on_settled`` is called after a delivery settled something, so that the execution
    can resume the workflow code if the task it waits on is complete."""

    __slots__ = ("_on_settled", "_turn", "_waiters", "actions", "inbox", "instance_id", "next_id", "open")

    def __init__(self, instance_id: str, turn: Turn, on_settled: Callable[[], None]) -> None:
        self.instance_id = instance_id
        self._turn = turn
        self._on_settled = on_settled
        self.next_id = 0
        #: Scheduled in the current step and not yet recorded.
        self.actions: dict[int, Scheduled] = {}
        self.open: dict[int, OpenTask] = {}
        self.inbox = Inbox()
        self._waiters: dict[str, deque[Task[Any]]] = {}

    def is_settled(self, task_id: int) -> bool:
        """Scheduled in this view of the history and no longer open."""
        return 0 < task_id <= self.next_id and task_id not in self.open

    def open_children(self) -> list[StartChild]:
        """The children started and not yet reported back."""
        return [o.action for o in self.open.values() if isinstance(o.action, StartChild)]

    # -- delivery ----------------------------------------------------------------

    def deliver(self, event: Settling) -> None:
        if isinstance(event, EventRaised):
            key = event.name.lower()
            waiters = self._waiters.get(key)
            if waiters:
                waiters.popleft()._succeed(decode(event.data))
                self._on_settled()
            else:
                self.inbox.put(event.name, event.data)
            return
        entry = self.open.pop(event.task_id, None)
        if entry is None:
            return
        if isinstance(event, (ActivityCompleted, ChildCompleted)):
            entry.task._succeed(decode(event.result))
        elif isinstance(event, (ActivityFailed, ChildFailed)):
            self._on_attempt_failed(entry, event.failure)
        else:
            self._on_timer(entry)
        self._on_settled()

    def _on_attempt_failed(self, entry: OpenTask, failure: FailureDetails) -> None:
        if isinstance(entry, Attempt):
            retry = entry.retry
            now = self._turn.now
            delay = retry.policy.next_delay(retry.attempt, failure, retry.first_attempt_at, now)
            if delay is not None:
                timer = ScheduleTimer(self._new_id(), now + delay)
                self._add(RetryTimer(retry.task, timer, retry))
                return
        # The Dapr SDK's wording, which users match on.
        action = entry.action
        if isinstance(action, StartChild):
            message = f"Sub-orchestration task #{action.task_id} failed: {failure.message}"
        else:
            message = f"{self.instance_id}: Activity task #{action.task_id} failed: {failure.message}"
        entry.task._fail(TaskFailedError(message, failure))

    def _on_timer(self, entry: OpenTask) -> None:
        if isinstance(entry, RetryTimer):
            self._attempt(entry.retry)
        elif isinstance(entry, EventTimeout):
            task = entry.task
            if not task.is_complete:
                waiters = self._waiters.get(entry.key)
                if waiters is not None and task in waiters:
                    waiters.remove(task)
                task._fail(TimeoutError(f"timed out waiting for external event '{entry.key}'"))
        else:
            entry.task._succeed(None)

    # -- scheduling (called by DaprWorkflowContext) ------------------------------

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _add(self, entry: OpenTask) -> None:
        self.actions[entry.action.task_id] = entry.action
        self.open[entry.action.task_id] = entry

    def _action(
        self,
        child: bool,
        name: str,
        input: str | None,
        instance_id: str | None,
        propagation: PropagationScope | None,
        app_id: str | None,
    ) -> Scheduled:
        task_id = self._new_id()
        if child:
            child_id = instance_id or f"{self.instance_id}:{task_id:04x}"
            return StartChild(task_id, name, child_id, input, propagation, app_id)
        return ScheduleActivity(task_id, name, input, propagation, app_id)

    def _attempt(self, retry: Retry) -> None:
        retry.attempt += 1
        action = self._action(retry.child, retry.name, retry.input, retry.instance_id, retry.propagation, retry.app_id)
        self._add(Attempt(retry.task, action, retry))

    def schedule_activity(
        self,
        name: str,
        input: Any,
        retry_policy: RetryPolicy | None,
        propagation: PropagationScope | None = None,
        app_id: str | None = None,
    ) -> Task[Any]:
        return self._schedule(False, name, input, None, retry_policy, propagation, app_id)

    def schedule_child(
        self,
        name: str,
        input: Any,
        instance_id: str | None,
        retry_policy: RetryPolicy | None,
        propagation: PropagationScope | None = None,
        app_id: str | None = None,
    ) -> Task[Any]:
        return self._schedule(True, name, input, instance_id, retry_policy, propagation, app_id)

    def _schedule(
        self,
        child: bool,
        name: str,
        input: Any,
        instance_id: str | None,
        policy: RetryPolicy | None,
        propagation: PropagationScope | None,
        app_id: str | None,
    ) -> Task[Any]:
        if propagation is PropagationScope.NONE:
            propagation = None
        task: Task[Any] = Task()
        encoded = encode(input)
        if policy is not None:
            now = self._turn.now
            self._attempt(Retry(task, policy, child, name, encoded, instance_id, now, propagation, app_id))
        else:
            self._add(Plain(task, self._action(child, name, encoded, instance_id, propagation, app_id)))
        return task

    def schedule_timer(self, fire_at: datetime) -> Task[None]:
        task: Task[None] = Task()
        self._add(Plain(task, ScheduleTimer(self._new_id(), fire_at)))
        return task

    def wait_event(self, name: str, timeout: timedelta | None) -> Task[Any]:
        key = name.lower()
        task: Task[Any] = Task()
        found, data = self.inbox.take(key)
        if found:
            task._succeed(decode(data))
            return task
        self._waiters.setdefault(key, deque()).append(task)
        if timeout is not None:
            self._add(EventTimeout(task, ScheduleTimer(self._new_id(), self._turn.now + timeout), key))
        return task
