"""Management operations behind the HTTP API: get, signal (raise/pause/resume/terminate), purge."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

from wf._dispatch import event_message
from wf._engine import Engine
from wf._errors import WorkflowError
from wf._history import (
    EventRaised,
    HistoryEvent,
    Resumed,
    Suspended,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowStarted,
    WorkflowTerminated,
    format_time,
)
from wf._status import WorkflowStatus
from wf._store import InstanceMeta


class ApiError(WorkflowError):
    """An error with its HTTP status and Dapr error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Signal(Enum):
    RAISE = "raise"
    PAUSE = "pause"
    RESUME = "resume"
    TERMINATE = "terminate"


def not_found(instance_id: str) -> ApiError:
    return ApiError(
        404, "ERR_INSTANCE_ID_NOT_FOUND", f"unable to find workflow with the provided instance ID: {instance_id}"
    )


def _meta_or_404(engine: Engine, instance_id: str) -> InstanceMeta:
    meta = engine.store.get_meta(instance_id)
    if meta is None:
        raise not_found(instance_id)
    return meta


def get_view(engine: Engine, instance_id: str) -> dict[str, Any]:
    """The GET body of SPEC section 1."""
    meta = _meta_or_404(engine, instance_id)
    status, last = engine.status_of(meta)
    output, failure, updated, custom = meta.output, meta.failure, meta.updated_at, meta.custom_status
    if last is not None:
        updated = max(updated, last.events[0].timestamp)
        custom = last.custom_status
        for event in last.events:
            if isinstance(event, (WorkflowCompleted, WorkflowTerminated)):
                output = event.output
            elif isinstance(event, WorkflowFailed):
                failure = event.failure
    props: dict[str, str] = {}
    started = next((e for e in engine.first_events(meta) if isinstance(e, WorkflowStarted)), None)
    if started is not None and started.input is not None and started.input != "null":
        props["dapr.workflow.input"] = started.input
    if status is not WorkflowStatus.FAILED and output is not None and output != "null":
        props["dapr.workflow.output"] = output
    if custom is not None:
        props["dapr.workflow.custom_status"] = json.dumps(custom)
    if status is WorkflowStatus.FAILED and failure is not None:
        props["dapr.workflow.failure.error_type"] = failure.error_type
        props["dapr.workflow.failure.error_message"] = failure.message
        if failure.stack_trace:
            props["dapr.workflow.failure.stack_trace"] = failure.stack_trace
    return {
        "instanceID": meta.instance_id,
        "workflowName": meta.workflow_name,
        "createdAt": format_time(meta.created_at),
        "lastUpdatedAt": format_time(updated),
        "runtimeStatus": status.value,
        "properties": props,
    }


def signal(engine: Engine, instance_id: str, kind: Signal, *, name: str = "", data: str | None = None) -> None:
    """Queue an inbound event for the instance; the worker records it (at least once)."""
    meta = _meta_or_404(engine, instance_id)
    status, _ = engine.status_of(meta)
    now = engine.clock()
    event: HistoryEvent
    if kind is Signal.TERMINATE:
        if status.is_terminal:
            return  # terminating a terminal instance is a no-op
        event = WorkflowTerminated(now, data)
    elif kind in (Signal.PAUSE, Signal.RESUME):
        if status.is_terminal:
            code = "ERR_PAUSE_WORKFLOW" if kind is Signal.PAUSE else "ERR_RESUME_WORKFLOW"
            raise ApiError(409, code, f"workflow {instance_id} is {status.value} and cannot be {kind.value}d")
        event = Suspended(now, engine.new_id()) if kind is Signal.PAUSE else Resumed(now, engine.new_id())
    else:
        event = EventRaised(now, name, data, engine.new_id())
    engine.queue.send([event_message(instance_id, None, now, event)])


def purge(engine: Engine, instance_id: str) -> None:
    """Delete every item of a terminal instance and, recursively, of its children."""
    meta = _meta_or_404(engine, instance_id)
    status, _ = engine.status_of(meta)
    if not status.is_terminal:
        raise ApiError(
            409,
            "ERR_PURGE_WORKFLOW",
            f"workflow {instance_id} is {status.value}; only terminal workflows can be purged",
        )
    children = []
    for child_id in engine.child_ids(meta):
        child = engine.store.get_meta(child_id)
        if child is not None and child.parent is not None and child.parent.instance_id == instance_id:
            if not engine.status_of(child)[0].is_terminal:
                raise ApiError(409, "ERR_PURGE_WORKFLOW", f"child workflow {child_id} is still running")
            children.append(child_id)
    for child_id in children:
        purge(engine, child_id)
    engine.store.purge(instance_id)
    engine.forget(instance_id)
