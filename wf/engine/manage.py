"""Management operations behind the API: describe, signal (raise, pause, resume,
terminate) and purge. Refusals are domain errors (``wf/errors.py``); the AWS layer
decides their HTTP answers."""

from __future__ import annotations

import logging
from dataclasses import replace
from enum import Enum

from wf.core.history import (
    ChildCreated,
    EventRaised,
    HistoryEvent,
    ParentRef,
    Resumed,
    Suspended,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowStarted,
    WorkflowTerminated,
    format_time,
)
from wf.core.serde import encode
from wf.core.status import WorkflowState, WorkflowStatus
from wf.core.step import StepResult
from wf.engine.cache import Live
from wf.engine.engine import Engine
from wf.engine.messages import EventMessage, PurgeChildMessage
from wf.engine.store import InstanceMeta
from wf.errors import (
    ConflictError,
    InstanceExistsError,
    InstanceNotFoundError,
    InvalidStateError,
    Operation,
    QueueError,
    StoreError,
    UnknownAppError,
)

log = logging.getLogger("wf.engine")

#: Times a purged parent's child in this app is looked at again while it is not terminal
#: (its waits double up to a minute: about ten minutes in all).
PURGE_CHILD_TRIES = 14


class Signal(Enum):
    RAISE = "raise"
    PAUSE = "pause"
    RESUME = "resume"
    TERMINATE = "terminate"


_OPERATIONS = {
    Signal.RAISE: Operation.RAISE,
    Signal.PAUSE: Operation.PAUSE,
    Signal.RESUME: Operation.RESUME,
    Signal.TERMINATE: Operation.TERMINATE,
}


def _meta(engine: Engine, instance_id: str) -> InstanceMeta:
    meta = engine.store.get_meta(instance_id)
    if meta is None:
        raise InstanceNotFoundError(instance_id)
    return meta


def describe(engine: Engine, instance_id: str) -> WorkflowState:
    """The instance as it stands (the record lags its last step while it runs)."""
    for _ in range(3):
        meta = _meta(engine, instance_id)
        status, last = engine.status_of(meta)
        if last is None or last.events:
            break
        # The seal of a continue-as-new that committed after the record was read (the
        # new execution's record was written with it): read the record again.
    else:
        status, last = meta.status, None
    output, failure, updated, custom = meta.output, meta.failure, meta.updated_at, meta.custom_status
    if last is not None:
        updated = max(updated, last.events[0].timestamp)
        custom = last.custom_status
        for event in last.events:
            if isinstance(event, (WorkflowCompleted, WorkflowTerminated)):
                output = event.output
            elif isinstance(event, WorkflowFailed):
                failure = event.failure
    started = next((e for e in engine.first_events(meta) if isinstance(e, WorkflowStarted)), None)
    return WorkflowState(
        instance_id=meta.instance_id,
        name=meta.workflow_name,
        runtime_status=status,
        created_at=meta.created_at,
        last_updated_at=updated,
        serialized_input=started.input if started is not None else meta.scheduled.input if meta.scheduled else None,
        serialized_output=output,
        # Stored as the workflow set it (a string), as Dapr reports it.
        serialized_custom_status=custom if custom is None or isinstance(custom, str) else encode(custom),
        failure_details=failure,
    )


def signal(engine: Engine, instance_id: str, kind: Signal, *, name: str = "", data: str | None = None) -> None:
    """Record an inbound event in the instance's history before returning, as Dapr's
    runtime does: a get right after a pause reads SUSPENDED, and events one client raises
    one after the other reach the workflow in that order (SQS would not keep it).

    What the step sets going (activities, timers, children's termination, the status
    record) is left to a *follow-up* message, sent just before the write: the worker
    that takes it finds the event recorded and carries out what that one step owes, or,
    if the call died before writing, records the event itself. So the call's last AWS
    call is its write (a call that dies after it is as rare as one that dies after a
    plain send), and nothing it recorded waits on a call that may not finish. A step
    that sets nothing going sends nothing. If the write loses five races, or an AWS
    call fails, the event goes to the worker (its ID keeps it recorded once)."""
    meta = _meta(engine, instance_id)
    status, _ = engine.status_of(meta)
    if status is WorkflowStatus.PENDING and meta.scheduled is not None:
        # A scheduled start that has not happened: only a termination applies.
        if kind is not Signal.TERMINATE:
            raise InvalidStateError(
                _OPERATIONS[kind],
                f"workflow {instance_id} is PENDING until {format_time(meta.scheduled.start_at)}: "
                "it can only be terminated before it starts",
            )
        if engine.cancel_scheduled(meta, data):
            return
        meta = _meta(engine, instance_id)  # it started meanwhile: terminated as it runs
        status, _ = engine.status_of(meta)
    now = engine.clock()
    event: HistoryEvent
    if kind is Signal.TERMINATE:
        if status.is_terminal:
            return  # terminating a terminal instance is a no-op
        event = WorkflowTerminated(now, data)
    elif kind in (Signal.PAUSE, Signal.RESUME):
        if status.is_terminal:
            operation = Operation.PAUSE if kind is Signal.PAUSE else Operation.RESUME
            raise InvalidStateError(operation, f"workflow {instance_id} is {status.value} and cannot be {kind.value}d")
        event = Suspended(now, engine.new_id()) if kind is Signal.PAUSE else Resumed(now, engine.new_id())
    else:
        event = EventRaised(now, name, data, engine.new_id())
    msg = EventMessage(instance_id, None, now, event)
    sent = False

    def before_commit(live: Live, result: StepResult, changes_status: bool) -> None:
        nonlocal sent
        # The status change is published by the follow-up too (a stale record's status
        # would not tell one: a resume right after a pause).
        if not sent and (
            result.commands or result.new_generation or changes_status or result.status is not live.meta.status
        ):
            engine.send([replace(msg, follow_up=True)])
            sent = True

    try:
        engine.advance([msg], [event], before_commit=before_commit, follow_up=False)
        return
    except (StoreError, QueueError) as exc:
        log.warning("%s: recording a %s now failed (%s); queued for the worker", instance_id, kind.value, exc)
    if not sent:
        engine.send([msg])


def raise_with_start(
    engine: Engine, name: str, instance_id: str, event_name: str, *, input: str | None, data: str | None
) -> bool:
    """Raise an event on an instance, starting it first (workflow ``name``, ``input``) if
    there is none, or only a terminal one: then the event is in the first step, with the
    start, so no wait of the workflow's can miss it. Two such calls at once start it once
    (the start's write is conditional) and both events are recorded. Returns whether
    this call started it."""
    meta = engine.store.get_meta(instance_id)
    if meta is None or engine.status_of(meta)[0].is_terminal:
        event = EventRaised(engine.clock(), event_name, data, engine.new_id())
        try:
            engine.start(name, instance_id, input, events=[event], existing=meta)
            return True
        except InstanceExistsError:
            # Started meanwhile (by another such call): the event goes to that instance.
            # Else (a terminal one that may not be replaced: a child of it still runs) 409.
            now = engine.store.get_meta(instance_id)
            if now is None or (meta is not None and now.execution_id == meta.execution_id):
                raise
    signal(engine, instance_id, Signal.RAISE, name=event_name, data=data)
    return False


def purge(engine: Engine, instance_id: str) -> None:
    """Delete every item of a terminal instance and, recursively, of its children: those
    in this app at once, those in other apps by a message to each, sent first (a failed
    send fails the purge, which may then be made again)."""
    meta = _meta(engine, instance_id)
    status, _ = engine.status_of(meta)
    if not status.is_terminal:
        raise InvalidStateError(
            Operation.PURGE, f"workflow {instance_id} is {status.value}; only terminal workflows can be purged"
        )
    children = []
    elsewhere: list[ChildCreated] = []
    for created in engine.lifecycle.children(meta):
        if engine.calls.is_remote(created.app_id):
            elsewhere.append(created)
            continue
        child_id = created.instance_id
        child = engine.store.get_meta(child_id)
        if child is not None and child.parent is not None and child.parent.instance_id == instance_id:
            if not engine.status_of(child)[0].is_terminal and status is WorkflowStatus.TERMINATED:
                # The parent's termination owes the child its own, perhaps still in
                # flight: record it now, as a terminate call would, rather than refuse
                # a purge right after a terminate.
                signal(engine, child_id, Signal.TERMINATE)
                child = engine.store.get_meta(child_id) or child
            if not engine.status_of(child)[0].is_terminal:
                raise InvalidStateError(Operation.PURGE, f"child workflow {child_id} is still running")
            children.append(child_id)
    _purge_elsewhere(engine, meta, elsewhere)
    for child_id in children:
        purge(engine, child_id)
    try:
        engine.store.purge(instance_id, meta.execution_id)
    except ConflictError:
        # Restarted since it was read: the new instance stays, and nothing is purged.
        raise InvalidStateError(
            Operation.PURGE, f"workflow {instance_id} was restarted while being purged; nothing was purged"
        ) from None
    finally:
        engine.forget(instance_id)


def _purge_elsewhere(engine: Engine, meta: InstanceMeta, children: list[ChildCreated]) -> None:
    """Have the apps of ``meta``'s children in other apps purge them (once terminal)."""
    now = engine.clock()
    for child in children:
        app = child.app_id or engine.calls.app_id
        parent = ParentRef(meta.instance_id, meta.execution_id, child.task_id, engine.calls.app_id)
        try:
            engine.dispatch.peers.send(app, [PurgeChildMessage(child.instance_id, None, now, parent).to_out()])
        except UnknownAppError:
            log.warning(
                "%s: its child %s in app '%s' is not purged: %s",
                meta.instance_id,
                child.instance_id,
                app,
                "the app is not known here",
            )


def purge_child(engine: Engine, msg: PurgeChildMessage) -> None:
    """Another app purged ``msg.parent``: purge its child here once the child is terminal
    (a termination the parent sent may still be on its way: the message waits for it,
    up to ``PURGE_CHILD_TRIES`` times, then leaves a child that keeps running)."""
    meta = engine.store.get_meta(msg.instance_id)
    if meta is None or meta.parent != msg.parent:
        return  # purged already, or restarted since as another instance
    try:
        if engine.status_of(meta)[0].is_terminal:
            purge(engine, msg.instance_id)
            return
    except InvalidStateError:
        pass  # a child of its own still running, or restarted meanwhile: try again
    if msg.attempt >= PURGE_CHILD_TRIES:
        log.warning("%s: not purged with its parent %s: still running", msg.instance_id, msg.parent.instance_id)
        return
    engine.queue.send([msg.retried().to_out(min(60, 2**msg.attempt))])
