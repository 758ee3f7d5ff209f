"""The history event model: typed, frozen, JSON-serializable and versioned.

A history is the ordered list of everything that happened to one execution of a
workflow.  Replaying it through the workflow code rebuilds the workflow's state, so
every field that influences the code's path is recorded here and nowhere else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, ClassVar

from wf.errors import FailureDetails, HistoryFormatError

#: Bumped whenever the serialized shape changes incompatibly.
HISTORY_VERSION = 1


class PropagationScope(Enum):
    """How much of a workflow's history goes with an activity or child it calls (the
    SDK's ``PropagationScope``): ``OWN_HISTORY``, the caller's own events only (a trust
    boundary); ``LINEAGE``, those and whatever its own callers propagated to it."""

    NONE = 0
    OWN_HISTORY = 1
    LINEAGE = 2


class EventKind(Enum):
    TURN_STARTED = "TurnStarted"
    WORKFLOW_STARTED = "WorkflowStarted"
    WORKFLOW_COMPLETED = "WorkflowCompleted"
    WORKFLOW_FAILED = "WorkflowFailed"
    WORKFLOW_TERMINATED = "WorkflowTerminated"
    CONTINUED_AS_NEW = "ContinuedAsNew"
    ACTIVITY_SCHEDULED = "ActivityScheduled"
    ACTIVITY_COMPLETED = "ActivityCompleted"
    ACTIVITY_FAILED = "ActivityFailed"
    TIMER_CREATED = "TimerCreated"
    TIMER_FIRED = "TimerFired"
    CHILD_CREATED = "ChildCreated"
    CHILD_COMPLETED = "ChildCompleted"
    CHILD_FAILED = "ChildFailed"
    EVENT_RAISED = "EventRaised"
    SUSPENDED = "Suspended"
    RESUMED = "Resumed"
    CUSTOM_STATUS = "CustomStatus"
    STALLED = "Stalled"


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """Base of all events; ``timestamp`` is when the engine recorded it (UTC)."""

    kind: ClassVar[EventKind]
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class TurnStarted(HistoryEvent):
    """Opens each step; its timestamp is the workflow's ``current_utc_datetime``;
    ``patches`` are the ``is_patched`` names the step's code first applied; ``version``
    is the named version of the workflow the execution's first step ran (registered
    with ``versioned_workflow``), which its replays must run too."""

    kind: ClassVar[EventKind] = EventKind.TURN_STARTED
    patches: tuple[str, ...] | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class ParentRef:
    """The parent execution and task a child workflow reports to; ``app_id``: the app
    the parent runs in, when it is not the child's (``call_child_workflow(app_id=...)``)."""

    instance_id: str
    execution_id: str
    task_id: int
    app_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "instance_id": self.instance_id,
            "execution_id": self.execution_id,
            "task_id": self.task_id,
        }
        if self.app_id is not None:
            out["app_id"] = self.app_id
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ParentRef:
        app = data.get("app_id")
        return cls(str(data["instance_id"]), str(data["execution_id"]), int(data["task_id"]), str(app) if app else None)


@dataclass(frozen=True, slots=True)
class HistoryChunk:
    """One workflow's history as propagated to what it called."""

    app_id: str
    instance_id: str
    workflow_name: str
    events: tuple[HistoryEvent, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app_id,
            "iid": self.instance_id,
            "name": self.workflow_name,
            "events": [event_to_json(e) for e in self.events],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HistoryChunk:
        return cls(data["app"], data["iid"], data["name"], tuple(event_from_json(e) for e in data["events"]))


@dataclass(frozen=True, slots=True)
class Propagated:
    """The history a caller propagated: its chunks, oldest ancestor first."""

    scope: PropagationScope
    chunks: tuple[HistoryChunk, ...]

    def to_json(self) -> dict[str, Any]:
        return {"scope": self.scope.value, "chunks": [c.to_json() for c in self.chunks]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Propagated:
        try:
            return cls(PropagationScope(data["scope"]), tuple(HistoryChunk.from_json(c) for c in data["chunks"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise HistoryFormatError(f"malformed propagated history: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class WorkflowStarted(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.WORKFLOW_STARTED
    name: str
    input: str | None = None
    parent: ParentRef | None = None
    #: After a continue-as-new: the IDs of management events the previous generations
    #: recorded (with when), so that a late duplicate is not recorded again here.
    seen: tuple[tuple[str, str], ...] | None = None
    #: The history the parent propagated (``call_child_workflow(propagation=...)``).
    propagated: Propagated | None = None


@dataclass(frozen=True, slots=True)
class WorkflowCompleted(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.WORKFLOW_COMPLETED
    output: str | None = None


@dataclass(frozen=True, slots=True)
class WorkflowFailed(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.WORKFLOW_FAILED
    failure: FailureDetails


@dataclass(frozen=True, slots=True)
class WorkflowTerminated(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.WORKFLOW_TERMINATED
    output: str | None = None


@dataclass(frozen=True, slots=True)
class ContinuedAsNew(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.CONTINUED_AS_NEW
    input: str | None = None


@dataclass(frozen=True, slots=True)
class ActivityScheduled(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.ACTIVITY_SCHEDULED
    task_id: int
    name: str
    input: str | None = None
    #: The app it runs in, when not this one (``call_activity(app_id=...)``).
    app_id: str | None = None


@dataclass(frozen=True, slots=True)
class ActivityCompleted(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.ACTIVITY_COMPLETED
    task_id: int
    result: str | None = None


@dataclass(frozen=True, slots=True)
class ActivityFailed(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.ACTIVITY_FAILED
    task_id: int
    failure: FailureDetails


@dataclass(frozen=True, slots=True)
class TimerCreated(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.TIMER_CREATED
    task_id: int
    fire_at: datetime


@dataclass(frozen=True, slots=True)
class TimerFired(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.TIMER_FIRED
    task_id: int


@dataclass(frozen=True, slots=True)
class ChildCreated(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.CHILD_CREATED
    task_id: int
    name: str
    instance_id: str
    input: str | None = None
    #: The app it runs in, when not this one (``call_child_workflow(app_id=...)``).
    app_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChildCompleted(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.CHILD_COMPLETED
    task_id: int
    result: str | None = None


@dataclass(frozen=True, slots=True)
class ChildFailed(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.CHILD_FAILED
    task_id: int
    failure: FailureDetails


@dataclass(frozen=True, slots=True)
class EventRaised(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.EVENT_RAISED
    name: str
    data: str | None = None
    #: Set by the API for each raise: a second delivery of the same message is not a
    #: second event.
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Suspended(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.SUSPENDED
    #: As for EventRaised: a pause delivered again after a resume must not pause again.
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Resumed(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.RESUMED
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class CustomStatusSet(HistoryEvent):
    kind: ClassVar[EventKind] = EventKind.CUSTOM_STATUS
    status: str | None = None


class StallReason(Enum):
    """Why an execution stalled (Dapr's ``StalledReason``)."""

    PATCH_MISMATCH = "PATCH_MISMATCH"
    VERSION_NOT_AVAILABLE = "VERSION_NOT_AVAILABLE"


@dataclass(frozen=True, slots=True)
class Stalled(HistoryEvent):
    """Closes a step whose code could not run as history requires: the version it
    started with is not registered, or it no longer applies the patches history
    recorded (Dapr's ``ExecutionStalled``). The step's events are recorded, what the
    code did with them is not: the execution waits, ``STALLED``, for code that can
    replay it, and then carries on from those events."""

    kind: ClassVar[EventKind] = EventKind.STALLED
    reason: StallReason
    description: str


_CLASSES: dict[str, type[HistoryEvent]] = {
    cls.kind.value: cls
    for cls in (
        TurnStarted,
        WorkflowStarted,
        WorkflowCompleted,
        WorkflowFailed,
        WorkflowTerminated,
        ContinuedAsNew,
        ActivityScheduled,
        ActivityCompleted,
        ActivityFailed,
        TimerCreated,
        TimerFired,
        ChildCreated,
        ChildCompleted,
        ChildFailed,
        EventRaised,
        Suspended,
        Resumed,
        CustomStatusSet,
        Stalled,
    )
}


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with microseconds and ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _field_to_json(value: Any) -> Any:
    if value.__class__ in _PLAIN:
        return value
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, FailureDetails):
        return value.to_json()
    if isinstance(value, StallReason):
        return value.value
    if isinstance(value, Propagated):
        return value.to_json()
    if isinstance(value, ParentRef):
        return value.to_json()
    return value


_PLAIN = frozenset({str, int, bool, float})
#: Each event class's field names, in order (``dataclasses.fields`` is slow on a hot path:
#: a 10,000-way fan-out's first step serializes 20,000 events).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def event_to_json(event: HistoryEvent) -> dict[str, Any]:
    """Serialize one event; absent optional fields are left out."""
    out: dict[str, Any] = {"v": HISTORY_VERSION, "k": event.kind.value}
    names = _FIELD_NAMES.get(event.__class__)
    if names is None:
        names = _FIELD_NAMES[event.__class__] = tuple(f.name for f in dataclasses.fields(event))
    for name in names:
        value = getattr(event, name)
        if value is not None:
            out[name] = _field_to_json(value)
    return out


def event_from_json(data: dict[str, Any]) -> HistoryEvent:
    """Inverse of :func:`event_to_json`."""
    version = data.get("v")
    if version != HISTORY_VERSION:
        raise HistoryFormatError(f"history event version {version!r} is not supported (expected {HISTORY_VERSION})")
    cls = _CLASSES.get(data.get("k", ""))
    if cls is None:
        raise HistoryFormatError(f"unknown history event kind {data.get('k')!r}")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("v", "k"):
            continue
        if key in ("timestamp", "fire_at"):
            value = parse_time(value)
        elif key == "failure":
            value = FailureDetails.from_json(value)
        elif key == "parent":
            value = ParentRef.from_json(value)
        elif key == "seen":
            value = tuple((str(i), str(t)) for i, t in value)
        elif key == "patches":
            value = tuple(str(p) for p in value)
        elif key == "propagated":
            value = Propagated.from_json(value)
        elif key == "reason":
            try:
                value = StallReason(value)
            except ValueError as exc:
                raise HistoryFormatError(f"unknown stall reason {value!r}") from exc
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise HistoryFormatError(f"malformed {cls.kind.value} event: {exc}") from exc
