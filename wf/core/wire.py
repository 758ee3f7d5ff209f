"""The management API's records and their JSON, in one place: an instance's state (a
get), a listing's row, a history event. The server (``wf/aws/http.py``) writes these
records as JSON and the clients (``wf/client.py``) read the JSON back into the same
records, so the two cannot drift apart (``docs/api.md`` documents the bodies)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from wf.core.history import format_time, parse_time
from wf.core.status import WorkflowState, WorkflowStatus
from wf.errors import FailureDetails

JsonObject = dict[str, Any]

_INPUT = "dapr.workflow.input"
_OUTPUT = "dapr.workflow.output"
_CUSTOM_STATUS = "dapr.workflow.custom_status"
_ERROR_TYPE = "dapr.workflow.failure.error_type"
_ERROR_MESSAGE = "dapr.workflow.failure.error_message"
_STACK_TRACE = "dapr.workflow.failure.stack_trace"


def state_to_json(state: WorkflowState) -> JsonObject:
    """A get's body: the properties hold JSON strings, each only when set (an output
    only when not FAILED, a failure only when FAILED), as Dapr reports them."""
    props: dict[str, str] = {}
    if state.serialized_input is not None and state.serialized_input != "null":
        props[_INPUT] = state.serialized_input
    output = state.serialized_output
    if state.runtime_status is not WorkflowStatus.FAILED and output is not None and output != "null":
        props[_OUTPUT] = output
    if state.serialized_custom_status is not None:
        props[_CUSTOM_STATUS] = state.serialized_custom_status
    failure = state.failure_details
    if state.runtime_status is WorkflowStatus.FAILED and failure is not None:
        props[_ERROR_TYPE] = failure.error_type
        props[_ERROR_MESSAGE] = failure.message
        if failure.stack_trace:
            props[_STACK_TRACE] = failure.stack_trace
    return {
        "instanceID": state.instance_id,
        "workflowName": state.name,
        "createdAt": format_time(state.created_at),
        "lastUpdatedAt": format_time(state.last_updated_at),
        "runtimeStatus": state.runtime_status.value,
        "properties": props,
    }


def state_from_json(body: JsonObject) -> WorkflowState:
    """The :class:`WorkflowState` a get's body holds."""
    props: dict[str, str] = body.get("properties") or {}
    failure = None
    if _ERROR_TYPE in props:
        failure = FailureDetails(props.get(_ERROR_MESSAGE, ""), props[_ERROR_TYPE], props.get(_STACK_TRACE))
    return WorkflowState(
        instance_id=body["instanceID"],
        name=body["workflowName"],
        runtime_status=WorkflowStatus(body["runtimeStatus"]),
        created_at=parse_time(body["createdAt"]),
        last_updated_at=parse_time(body["lastUpdatedAt"]),
        serialized_input=props.get(_INPUT),
        serialized_output=props.get(_OUTPUT),
        serialized_custom_status=props.get(_CUSTOM_STATUS),
        failure_details=failure,
    )


@dataclass(frozen=True)
class WorkflowSummary:
    """One row of a listing (what the instance's record says)."""

    instance_id: str
    name: str
    runtime_status: WorkflowStatus
    created_at: datetime
    last_updated_at: datetime
    parent_instance_id: str | None = None

    def to_json(self) -> JsonObject:
        out: JsonObject = {
            "instanceID": self.instance_id,
            "workflowName": self.name,
            "createdAt": format_time(self.created_at),
            "lastUpdatedAt": format_time(self.last_updated_at),
            "runtimeStatus": self.runtime_status.value,
        }
        if self.parent_instance_id is not None:
            out["parentInstanceID"] = self.parent_instance_id
        return out

    @staticmethod
    def from_json(body: JsonObject) -> WorkflowSummary:
        return WorkflowSummary(
            body["instanceID"],
            body["workflowName"],
            WorkflowStatus(body["runtimeStatus"]),
            parse_time(body["createdAt"]),
            parse_time(body["lastUpdatedAt"]),
            body.get("parentInstanceID"),
        )


class HistoryEventType(StrEnum):
    """A history event's type, in durabletask's names (as ``GetInstanceHistory`` gives
    them): what the API's history route and ``wf history`` show."""

    ORCHESTRATOR_STARTED = "OrchestratorStarted"
    EXECUTION_STARTED = "ExecutionStarted"
    EXECUTION_COMPLETED = "ExecutionCompleted"
    EXECUTION_FAILED = "ExecutionFailed"
    EXECUTION_TERMINATED = "ExecutionTerminated"
    EXECUTION_SUSPENDED = "ExecutionSuspended"
    EXECUTION_RESUMED = "ExecutionResumed"
    EXECUTION_STALLED = "ExecutionStalled"
    CONTINUE_AS_NEW = "ContinueAsNew"
    TASK_SCHEDULED = "TaskScheduled"
    TASK_COMPLETED = "TaskCompleted"
    TASK_FAILED = "TaskFailed"
    TIMER_CREATED = "TimerCreated"
    TIMER_FIRED = "TimerFired"
    SUB_ORCHESTRATION_CREATED = "SubOrchestrationInstanceCreated"
    SUB_ORCHESTRATION_COMPLETED = "SubOrchestrationInstanceCompleted"
    SUB_ORCHESTRATION_FAILED = "SubOrchestrationInstanceFailed"
    EVENT_RAISED = "EventRaised"


def failure_to_json(failure: FailureDetails) -> JsonObject:
    out: JsonObject = {"errorType": failure.error_type, "message": failure.message}
    if failure.stack_trace:
        out["stackTrace"] = failure.stack_trace
    return out


def failure_from_json(body: JsonObject) -> FailureDetails:
    return FailureDetails(body["message"], body["errorType"], body.get("stackTrace"))


@dataclass(frozen=True)
class WorkflowHistoryEvent:
    """One event of an instance's history as the API reports it (durabletask names:
    ``event_id`` is a scheduled task's ID, -1 for other events). ``input``, ``result``
    and ``data`` are encoded JSON, each only where the event has it."""

    event_id: int
    timestamp: datetime
    event_type: HistoryEventType
    name: str | None = None
    task_scheduled_id: int | None = None
    input: str | None = None
    result: str | None = None
    data: str | None = None
    failure_details: FailureDetails | None = None
    #: A child's instance ID (``SubOrchestrationInstanceCreated``).
    instance_id: str | None = None
    #: When a timer fires (``TimerCreated``).
    fire_at: datetime | None = None
    #: ``OrchestratorStarted``: the patches its step first applied, and the named
    #: version the execution runs (durabletask's ``OrchestrationVersion``).
    patches: tuple[str, ...] | None = None
    version_name: str | None = None
    #: The app a task runs in, when not this one (``TaskScheduled``,
    #: ``SubOrchestrationInstanceCreated``; ``call_activity(app_id=...)``).
    app_id: str | None = None

    def to_json(self) -> JsonObject:
        out: JsonObject = {
            "eventId": self.event_id,
            "timestamp": format_time(self.timestamp),
            "eventType": self.event_type.value,
        }
        for key, value in (
            ("name", self.name),
            ("taskScheduledId", self.task_scheduled_id),
            ("instanceId", self.instance_id),
            ("input", self.input),
            ("result", self.result),
            ("data", self.data),
            ("appId", self.app_id),
        ):
            if value is not None:
                out[key] = value
        if self.fire_at is not None:
            out["fireAt"] = format_time(self.fire_at)
        if self.failure_details is not None:
            out["failureDetails"] = failure_to_json(self.failure_details)
        version: JsonObject = {}
        if self.patches is not None:
            version["patches"] = list(self.patches)
        if self.version_name is not None:
            version["name"] = self.version_name
        if version:
            out["version"] = version
        return out

    @staticmethod
    def from_json(body: JsonObject) -> WorkflowHistoryEvent:
        failure = body.get("failureDetails")
        return WorkflowHistoryEvent(
            event_id=int(body["eventId"]),
            timestamp=parse_time(body["timestamp"]),
            event_type=HistoryEventType(body["eventType"]),
            name=body.get("name"),
            task_scheduled_id=body.get("taskScheduledId"),
            input=body.get("input"),
            result=body.get("result"),
            data=body.get("data"),
            failure_details=failure_from_json(failure) if failure else None,
            instance_id=body.get("instanceId"),
            fire_at=parse_time(body["fireAt"]) if body.get("fireAt") else None,
            patches=tuple(version["patches"]) if "patches" in (version := body.get("version") or {}) else None,
            version_name=version.get("name"),
            app_id=body.get("appId"),
        )
