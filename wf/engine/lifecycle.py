"""Instances coming and going: starts (and children's), the 409 rule, the status to
report, and the deletion of executions an instance has moved past."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from wf.core.commands import StartChild
from wf.core.execution import Execution
from wf.core.history import (
    ChildCreated,
    HistoryEvent,
    ParentRef,
    Propagated,
    WorkflowFailed,
    WorkflowStarted,
    format_time,
)
from wf.core.propagation import DEFAULT_APP_ID, propagate
from wf.core.registry import Registry
from wf.core.status import WorkflowStatus
from wf.core.step import with_activity_input
from wf.engine.announcer import Announcer
from wf.engine.cache import DELETE_AFTER, Live, LiveCache, chain
from wf.engine.dispatch import Dispatcher
from wf.engine.limits import MAX_INLINE_PAYLOAD_BYTES, oversize
from wf.engine.messages import ScheduledStartMessage
from wf.engine.metrics import FINISHED, Metric, Metrics
from wf.engine.queue import MAX_DELAY_SECONDS
from wf.engine.status_events import PendingChange
from wf.engine.store import Histories, InstanceMeta, ScheduledStart, StepRecord, events_to_str
from wf.errors import (
    ConflictError,
    FailureDetails,
    InstanceExistsError,
    PayloadTooLargeError,
    RequestError,
    WorkflowError,
    WorkflowNotRegisteredError,
)

log = logging.getLogger("wf.engine")


#: A first step larger than this is kept in an item of its own (step 0), so that the
#: instance record, written again at every status change, stays at one write unit.
FIRST_STEP_INLINE_BYTES = 600

#: How long a worker sharing this engine waits for a start's record to be written.
START_WAIT_SECONDS = 5


#: No event is stored in fewer bytes than this: more events than fit the inline share at
#: that size cannot be inline, and are not serialized to find out (a wide first step).
MIN_EVENT_BYTES = 12


def split_first_step(meta: InstanceMeta) -> tuple[InstanceMeta, StepRecord | None]:
    """The instance record to write, and the step 0 item to write before it, if any."""
    events = meta.first_step
    if (
        len(events) * MIN_EVENT_BYTES <= FIRST_STEP_INLINE_BYTES
        and len(events_to_str(events).encode()) <= FIRST_STEP_INLINE_BYTES
    ):
        return meta, None
    return meta.with_(first_step=()), StepRecord(0, meta.first_step, meta.status, meta.custom_status)


class Lifecycle:
    """Starts instances and children, and reads what is needed to decide on them."""

    def __init__(
        self,
        registry: Registry,
        store: Histories,
        lives: LiveCache,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        metrics: Metrics,
        dispatcher: Dispatcher,
        app_id: str = DEFAULT_APP_ID,
        max_payload_bytes: int = MAX_INLINE_PAYLOAD_BYTES,
    ) -> None:
        self._registry = registry
        #: With status events on: told of each instance created already ended (its first
        #: step's change marked on the record), to publish it.
        self.first_changes: Announcer | None = None
        self._max_payload = max_payload_bytes
        self._app_id = app_id
        self._dispatcher = dispatcher
        self._store = store
        self._lives = lives
        self._clock = clock
        self._new_id = new_id
        self._metrics = metrics
        # Starts whose instance record is being written, so that a worker sharing this
        # engine waits for the write instead of polling the store for it.
        self._starting: dict[str, threading.Event] = {}

    def wait_for_start(self, instance_id: str) -> None:
        """Wait (briefly) for a start of ``instance_id`` in progress here, if any."""
        starting = self._starting.get(instance_id)
        if starting is not None:
            starting.wait(timeout=START_WAIT_SECONDS)

    def start_child(self, live: Live, cmd: StartChild) -> FailureDetails | None:
        parent = ParentRef(live.meta.instance_id, live.meta.execution_id, cmd.task_id)
        propagated = propagate(
            cmd.propagation, live.history, cmd.task_id, app_id=self._app_id, instance_id=live.meta.instance_id
        )
        return self.start_child_of(parent, cmd.name, cmd.instance_id, cmd.input, propagated)

    def start_child_of(
        self, parent: ParentRef, name: str, instance_id: str, input: str | None, propagated: Propagated | None
    ) -> FailureDetails | None:
        """Start ``parent``'s child (of this app's or another's, ``parent.app_id``);
        why it could not, if it was refused."""
        existing = self._store.get_meta(instance_id)
        if existing is not None and existing.parent == parent:
            return None  # already started by an earlier delivery of this step
        try:
            self.start(name, instance_id, input, parent=parent, existing=existing, propagated=propagated)
        except (RequestError, WorkflowNotRegisteredError) as exc:
            if isinstance(exc, InstanceExistsError):
                raced = self._store.get_meta(instance_id)
                if raced is not None and raced.parent == parent:
                    return None  # a delivery of the same start at the same time won the race
            # A refusal fails the child's task. An AWS error does not: it propagates, and
            # the step's message comes back to start the child again.
            return FailureDetails.of(type(exc), str(exc))
        return None

    def status_of(self, meta: InstanceMeta) -> tuple[WorkflowStatus, StepRecord | None]:
        """The authoritative status: the last step's, when the record lags behind it."""
        if meta.status.is_terminal:
            return meta.status, None
        last = self._store.last_step(meta.instance_id, meta.execution_id)
        return (last.status if last else meta.status), last

    def start(
        self,
        name: str,
        instance_id: str,
        input: str | None,
        *,
        parent: ParentRef | None = None,
        existing: InstanceMeta | None = None,
        propagated: Propagated | None = None,
        history: Sequence[HistoryEvent] = (),
        activity_input: tuple[int, str | None] | None = None,
        scheduled: InstanceMeta | None = None,
        events: Sequence[HistoryEvent] = (),
    ) -> None:
        """Start (or restart, if it and its children are terminal) an instance;
        ``propagated``: what its parent propagated to it. ``scheduled``: the ``PENDING``
        record of a scheduled start, which this start replaces only if it is still that
        record (``ConflictError`` otherwise: the schedule was terminated or replaced).
        ``events``: inbound events recorded in the first step with the start (an event
        raised with it: ``wf/engine/manage.py:raise_with_start``).

        A rerun (``wf/engine/operate.py``) gives the ``history`` the new instance starts
        from (which opens with its own ``WorkflowStarted``): its first step replays it
        and records what the code does next. ``activity_input``: the task ID of the
        activity that step schedules again, and its new input.

        A new ID costs no read: the create is conditional, and only when it fails is
        the old instance read to decide between 409 and replacing it.
        """
        if name not in self._registry.workflows:
            raise WorkflowNotRegisteredError(f"workflow '{name}' is not registered")
        if existing is not None:
            self._check_replaceable(existing)
        now = self._clock()
        execution = Execution(self._registry.workflows, instance_id)
        if history:
            execution.replay(history)
            result = execution.step([], now)
            if activity_input is not None:
                result = with_activity_input(result, *activity_input)
            result = replace(result, events=(*history, *result.events))
        else:
            started = WorkflowStarted(now, name, input, parent, propagated=propagated)
            result = execution.step([started, *events], now)
        too_large = oversize(result, self._max_payload)
        if too_large is not None:
            execution = Execution(self._registry.workflows, instance_id)
            failed = WorkflowFailed(now, FailureDetails.of(PayloadTooLargeError, too_large))
            if history:
                execution.replay(history)
                result = replace(execution.step([failed], now), commands=())
                result = replace(result, events=(*history, *result.events))
            else:
                result = execution.step([WorkflowStarted(now, name, input, parent, propagated=propagated), failed], now)
        meta = InstanceMeta(
            instance_id=instance_id,
            execution_id=self._new_id(),
            workflow_name=name,
            status=result.status,
            created_at=scheduled.created_at if scheduled is not None else now,
            updated_at=now,
            first_step=result.events,
            output=result.output,
            failure=result.failure,
            custom_status=result.custom_status,
            parent=parent,
            pending=PendingChange(WorkflowStatus.RUNNING, result.status, now)
            if self.first_changes is not None and result.status is not WorkflowStatus.RUNNING
            else None,
        )
        if activity_input is not None:
            # The code scheduled the activity with its own input: rebuilt from the
            # recorded step, the execution holds the one history sends.
            execution = Execution(self._registry.workflows, instance_id)
            execution.replay(result.events)
        live = Live(meta, execution, 1, list(result.events), now)
        if meta.pending is not None:
            live.unannounced[(meta.execution_id, 0)] = (meta.pending, True)
        meta, first_item = split_first_step(meta)
        written = self._starting[instance_id] = threading.Event()
        try:
            if meta.pending is not None and self.first_changes is not None:
                self.first_changes.owe_first(instance_id, meta.execution_id)
            # Work goes out before the record exists (see wf/engine/engine.py), and so
            # does a large first step: the record never names a missing one.
            self._dispatcher.carry_out(live, result.commands, allow_inline=False, defer_children=True)
            if first_item is not None:
                self._store.append_step(instance_id, meta.execution_id, first_item)
            old: InstanceMeta | None
            try:
                if scheduled is not None:
                    self._store.put_meta(meta, replaces=scheduled.execution_id)
                    old = scheduled
                else:
                    old = self._create(meta, existing)
            except (InstanceExistsError, ConflictError):
                if first_item is not None:
                    self.delete_execution(instance_id, meta.execution_id)
                raise
            live.meta = meta
            self._lives.forget(instance_id)
            self._lives.remember(live)
        finally:
            written.set()
            if self._starting.get(instance_id) is written:
                del self._starting[instance_id]
        log.info("%s %s: started (%s)", name, instance_id, result.status.value)
        if meta.pending is not None and self.first_changes is not None:
            self.first_changes.started(instance_id, meta.execution_id)
        self._metrics.count(Metric.WORKFLOWS_STARTED)
        finished = FINISHED.get(result.status)
        if finished is not None:
            self._metrics.count(finished)
        if old is not None:
            for execution_id in (old.execution_id, *(e for e, _ in old.superseded)):
                self.delete_execution(instance_id, execution_id)

    def schedule(self, name: str, instance_id: str, input: str | None, start_at: datetime) -> None:
        """Create the instance ``PENDING`` until ``start_at`` (the 409 rule as for a
        start), with the message that starts it then: sent first, delayed (and sent
        again while the time is further off than SQS can delay), so that no record is
        left without the message that will start it."""
        if name not in self._registry.workflows:
            raise WorkflowNotRegisteredError(f"workflow '{name}' is not registered")
        now = self._clock()
        meta = InstanceMeta(
            instance_id,
            self._new_id(),
            name,
            WorkflowStatus.PENDING,
            now,
            now,
            (),
            scheduled=ScheduledStart(start_at, input),
        )
        delay = min(MAX_DELAY_SECONDS, max(1, math.ceil((start_at - now).total_seconds())))
        self._dispatcher.send([ScheduledStartMessage(instance_id, meta.execution_id, now, start_at).to_out(delay)])
        old = self._create(meta, None)
        log.info("%s %s: scheduled for %s (PENDING)", name, instance_id, format_time(start_at))
        if old is not None:
            for execution_id in (old.execution_id, *(e for e, _ in old.superseded)):
                self.delete_execution(instance_id, execution_id)

    def cancel_scheduled(self, meta: InstanceMeta, output: str | None) -> bool:
        """Terminate a ``PENDING`` instance before it starts: its record becomes
        ``TERMINATED``, under a new execution ID so that its start message, arriving,
        finds the schedule gone. False if it started (or changed) meanwhile."""
        now = self._clock()
        ended = meta.with_(execution_id=self._new_id(), status=WorkflowStatus.TERMINATED, updated_at=now, output=output)
        try:
            self._store.put_meta(ended, replaces=meta.execution_id)
        except ConflictError:
            return False
        log.info("%s %s: PENDING -> TERMINATED (before its scheduled start)", meta.workflow_name, meta.instance_id)
        self._metrics.count(Metric.WORKFLOWS_TERMINATED)
        return True

    def _create(self, meta: InstanceMeta, existing: InstanceMeta | None) -> InstanceMeta | None:
        """Write the new instance record; returns the record it replaced, if any.

        Each write is conditioned on the record last read (or on there being none); when
        it changed meanwhile (another start, or a purge), it is read and decided again."""
        old = existing
        for _ in range(3):
            try:
                self._store.put_meta(meta, replaces=old.execution_id if old else None)
                return old
            except ConflictError:
                old = self._store.get_meta(meta.instance_id)
                if old is not None:
                    self._check_replaceable(old)
        raise InstanceExistsError(f"an instance with ID '{meta.instance_id}' is changing concurrently; try again")

    def replaceable(self, meta: InstanceMeta) -> bool:
        """Whether a start may replace this instance (it and its children are terminal)."""
        try:
            self._check_replaceable(meta)
        except InstanceExistsError:
            return False
        return True

    def _check_replaceable(self, old: InstanceMeta) -> None:
        status, _ = self.status_of(old)
        if not status.is_terminal:
            raise InstanceExistsError(f"an instance with ID '{old.instance_id}' already exists and is {status.value}")
        for child_id in self.child_ids(old):
            child = self._store.get_meta(child_id)
            if child is not None and not self.status_of(child)[0].is_terminal:
                raise InstanceExistsError(
                    f"an instance with ID '{old.instance_id}' has a child '{child_id}' that is still running"
                )

    def first_events(self, meta: InstanceMeta) -> tuple[HistoryEvent, ...]:
        """The execution's first step, from the record or from its own item."""
        if meta.first_step:
            return meta.first_step
        step = self._store.get_step(meta.instance_id, meta.execution_id, 0)
        return step.events if step else ()

    def child_ids(self, meta: InstanceMeta) -> list[str]:
        """Every child instance this execution created in this app."""
        return [c.instance_id for c in self.children(meta) if c.app_id in (None, self._app_id)]

    def children(self, meta: InstanceMeta) -> list[ChildCreated]:
        """Every child this execution created, in this app or another."""
        steps = self._store.load_steps(meta.instance_id, meta.execution_id)
        return [e for e in chain(meta.first_step, steps) if isinstance(e, ChildCreated)]

    # -- executions an instance moved past -----------------------------------------------

    def delete_execution(self, instance_id: str, execution_id: str) -> bool:
        try:
            self._store.delete_execution(instance_id, execution_id)
            return True
        except WorkflowError:
            # Left-over items of an old execution are never read again; purge removes them.
            log.warning("could not delete old execution %s of %s", execution_id, instance_id)
            return False

    def prune(self, meta: InstanceMeta, now: datetime) -> InstanceMeta:
        """The record with superseded executions past DELETE_AFTER deleted and dropped
        (deleted first: a crash before the record is written only deletes them again)."""
        kept = tuple(
            (e, at)
            for e, at in meta.superseded
            if now - at < DELETE_AFTER or not self.delete_execution(meta.instance_id, e)
        )
        return meta if kept == meta.superseded else meta.with_(superseded=kept)
