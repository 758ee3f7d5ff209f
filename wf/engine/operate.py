"""Operating many instances (SPEC §1b): listing, an instance's history, rerun from an
event, and bulk purge. Listing reads the records' index only and a history the
instance's own step items only, so both cost what one page or one instance holds.

History is reported with the durabletask event names the Dapr SDKs and CLI use; an
event's ``event_id`` is the task ID of what it schedules (``TaskScheduled``,
``TimerCreated``, ``SubOrchestrationInstanceCreated``) and -1 otherwise, as in
durabletask; results name their task in ``task_scheduled_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import chain

from wf.core.history import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ChildCompleted,
    ChildCreated,
    ChildFailed,
    ContinuedAsNew,
    CustomStatusSet,
    EventRaised,
    HistoryEvent,
    Resumed,
    Stalled,
    Suspended,
    TimerCreated,
    TimerFired,
    TurnStarted,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowStarted,
    WorkflowTerminated,
)
from wf.core.wire import HistoryEventType, WorkflowHistoryEvent
from wf.engine.engine import Engine
from wf.engine.manage import purge
from wf.engine.store import InstanceMeta, InstancePage, InstanceQuery
from wf.errors import (
    FailureDetails,
    InstanceExistsError,
    InstanceNotFoundError,
    InvalidEventIdError,
    InvalidFilterError,
    InvalidStateError,
    Operation,
)

#: A page's size when none is asked for, and the most one may hold (SPEC §1b).
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def entry_of(event: HistoryEvent) -> WorkflowHistoryEvent | None:
    """The reported form of one recorded event; None for what is internal to replay
    (custom status changes: a get reports the current one)."""
    t = event.timestamp
    match event:
        case TurnStarted(patches=patches, version=version):
            return WorkflowHistoryEvent(
                -1, t, HistoryEventType.ORCHESTRATOR_STARTED, patches=patches, version_name=version
            )
        case WorkflowStarted(name=name, input=input):
            return WorkflowHistoryEvent(-1, t, HistoryEventType.EXECUTION_STARTED, name=name, input=input)
        case WorkflowCompleted(output=output):
            return WorkflowHistoryEvent(-1, t, HistoryEventType.EXECUTION_COMPLETED, result=output)
        case WorkflowFailed(failure=failure):
            return WorkflowHistoryEvent(-1, t, HistoryEventType.EXECUTION_FAILED, failure_details=failure)
        case WorkflowTerminated(output=output):
            return WorkflowHistoryEvent(-1, t, HistoryEventType.EXECUTION_TERMINATED, result=output)
        case ContinuedAsNew(input=input):
            return WorkflowHistoryEvent(-1, t, HistoryEventType.CONTINUE_AS_NEW, input=input)
        case ActivityScheduled(task_id=task, name=name, input=input, app_id=app):
            return WorkflowHistoryEvent(task, t, HistoryEventType.TASK_SCHEDULED, name=name, input=input, app_id=app)
        case ActivityCompleted(task_id=task, result=result):
            return WorkflowHistoryEvent(-1, t, HistoryEventType.TASK_COMPLETED, task_scheduled_id=task, result=result)
        case ActivityFailed(task_id=task, failure=failure):
            return WorkflowHistoryEvent(
                -1, t, HistoryEventType.TASK_FAILED, task_scheduled_id=task, failure_details=failure
            )
        case TimerCreated(task_id=task, fire_at=fire_at):
            return WorkflowHistoryEvent(task, t, HistoryEventType.TIMER_CREATED, fire_at=fire_at)
        case TimerFired(task_id=task):
            return WorkflowHistoryEvent(-1, t, HistoryEventType.TIMER_FIRED, task_scheduled_id=task)
        case ChildCreated(task_id=task, name=name, instance_id=child, input=input, app_id=app):
            return WorkflowHistoryEvent(
                task,
                t,
                HistoryEventType.SUB_ORCHESTRATION_CREATED,
                name=name,
                input=input,
                instance_id=child,
                app_id=app,
            )
        case ChildCompleted(task_id=task, result=result):
            return WorkflowHistoryEvent(
                -1, t, HistoryEventType.SUB_ORCHESTRATION_COMPLETED, task_scheduled_id=task, result=result
            )
        case ChildFailed(task_id=task, failure=failure):
            return WorkflowHistoryEvent(
                -1, t, HistoryEventType.SUB_ORCHESTRATION_FAILED, task_scheduled_id=task, failure_details=failure
            )
        case EventRaised(name=name, data=data):
            return WorkflowHistoryEvent(-1, t, HistoryEventType.EVENT_RAISED, name=name, data=data)
        case Suspended():
            return WorkflowHistoryEvent(-1, t, HistoryEventType.EXECUTION_SUSPENDED)
        case Resumed():
            return WorkflowHistoryEvent(-1, t, HistoryEventType.EXECUTION_RESUMED)
        case Stalled(reason=reason, description=description):
            failure = FailureDetails(reason.value, description)
            return WorkflowHistoryEvent(-1, t, HistoryEventType.EXECUTION_STALLED, failure_details=failure)
        case CustomStatusSet():
            return None
    raise TypeError(f"no reported form for {type(event).__name__}")  # pragma: no cover - every kind is matched


def page_size(value: int | None) -> int:
    size = DEFAULT_PAGE_SIZE if value is None else value
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidFilterError(f"pageSize must be between 1 and {MAX_PAGE_SIZE}, not {size}")
    return size


def list_instances(engine: Engine, query: InstanceQuery, *, limit: int, after: str | None) -> InstancePage:
    """One page of the instances ``query`` matches, newest first (statuses are the
    records', which follow the last step within about a second)."""
    return engine.store.list_instances(query, limit=page_size(limit), after=after)


def _meta(engine: Engine, instance_id: str) -> InstanceMeta:
    meta = engine.store.get_meta(instance_id)
    if meta is None:
        raise InstanceNotFoundError(instance_id)
    return meta


def recorded_history(engine: Engine, meta: InstanceMeta) -> list[HistoryEvent]:
    """Every event the current execution has recorded, in order."""
    steps = engine.store.load_steps(meta.instance_id, meta.execution_id)
    return list(chain(meta.first_step, (e for step in steps for e in step.events)))


def history(engine: Engine, instance_id: str) -> list[WorkflowHistoryEvent]:
    """The instance's history (its current execution's) as reported."""
    meta = _meta(engine, instance_id)
    return [entry for entry in map(entry_of, recorded_history(engine, meta)) if entry is not None]


_SCHEDULES = (ActivityScheduled, TimerCreated, ChildCreated)


def rerun_history(events: list[HistoryEvent], task_id: int) -> list[HistoryEvent]:
    """What a rerun from activity ``task_id`` starts from: the source's history up to
    the step that scheduled it, with that step's inbound events but none of what its
    code scheduled. Replayed, the code reaches that point again and schedules the
    activity, and whatever else it scheduled beside it, anew; every result recorded
    before is reused."""
    at = next(
        (i for i, e in enumerate(events) if isinstance(e, ActivityScheduled) and e.task_id == task_id),
        None,
    )
    if at is None:
        scheduled = next((e for e in events if isinstance(e, _SCHEDULES) and e.task_id == task_id), None)
        what = f"a {type(scheduled).__name__}, not an activity's TaskScheduled" if scheduled else "not in its history"
        raise InvalidEventIdError(f"event {task_id} is {what}")
    turn = max(i for i in range(at + 1) if isinstance(events[i], TurnStarted))
    kept = [
        *events[: turn + 1],
        *(e for e in events[turn + 1 : at] if not isinstance(e, (*_SCHEDULES, CustomStatusSet))),
    ]
    # A rerun is an instance of its own: not a child of the source's parent.
    return [replace(e, parent=None, propagated=None) if isinstance(e, WorkflowStarted) else e for e in kept]


def rerun(
    engine: Engine,
    instance_id: str,
    new_instance_id: str,
    *,
    from_event: int | None = None,
    input: str | None = None,
    new_input: bool = False,
) -> str:
    """Start ``new_instance_id`` as a rerun of terminal instance ``instance_id``: from
    activity event ``from_event`` (its ``TaskScheduled`` event ID), which runs again,
    with ``input`` if ``new_input``; without ``from_event``, the workflow from the start
    with its input (or ``input``, if ``new_input``). Returns the new instance's ID."""
    meta = _meta(engine, instance_id)
    status, _ = engine.status_of(meta)
    if not status.is_terminal:
        raise InvalidStateError(
            Operation.RERUN, f"workflow {instance_id} is {status.value}; only terminal workflows can be rerun"
        )
    if new_instance_id == instance_id:
        raise InstanceExistsError(f"a rerun needs a new instance ID: {instance_id} is the source")
    existing = engine.store.get_meta(new_instance_id)
    if existing is not None:
        raise InstanceExistsError(f"an instance with ID '{new_instance_id}' already exists")
    events = recorded_history(engine, meta)
    started = next(e for e in events if isinstance(e, WorkflowStarted))
    if from_event is None:
        engine.start(started.name, new_instance_id, input if new_input else started.input)
        return new_instance_id
    prefix = rerun_history(events, from_event)
    engine.start(
        started.name,
        new_instance_id,
        started.input,
        history=prefix,
        activity_input=(from_event, input) if new_input else None,
    )
    return new_instance_id


@dataclass(frozen=True)
class PurgeResult:
    purged: int
    #: Where a further call would go on (the store's token); None when every match was purged.
    next: str | None


def purge_matching(
    engine: Engine, query: InstanceQuery, *, limit: int = MAX_PAGE_SIZE, after: str | None = None
) -> PurgeResult:
    """Purge up to ``limit`` terminal instances ``query`` matches (with their
    children). Only terminal statuses may be asked for, and at least one must be."""
    if not query.statuses:
        raise InvalidFilterError("a bulk purge needs a status filter (COMPLETED, FAILED, TERMINATED or CANCELED)")
    running = sorted(s.value for s in query.statuses if not s.is_terminal)
    if running:
        raise InvalidFilterError(f"only terminal instances can be purged, not {', '.join(running)} ones")
    page = engine.store.list_instances(query, limit=page_size(limit), after=after)
    purged = 0
    for summary in page.instances:
        try:
            purge(engine, summary.instance_id)
        except (InstanceNotFoundError, InvalidStateError):
            # Purged meanwhile (as a child of another, or by another call), or restarted.
            continue
        purged += 1
    return PurgeResult(purged, page.next)
