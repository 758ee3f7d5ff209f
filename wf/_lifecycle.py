"""Starting and replacing instances: the 409 rule, child starts, the status to report."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from wf._cache import Live, chain
from wf._commands import Command, StartChild
from wf._errors import FailureDetails, WorkflowError
from wf._history import ChildCreated, HistoryEvent, ParentRef, WorkflowFailed, WorkflowStarted
from wf._limits import oversize
from wf._metrics import FINISHED, Metric, Metrics
from wf._replay import Execution
from wf._runtime import WorkflowRuntime
from wf._status import WorkflowStatus
from wf._store import ConflictError, InstanceMeta, InstanceStore, StepRecord, events_to_str

log = logging.getLogger("wf.engine")


#: A first step larger than this is kept in an item of its own (step 0), so that the
#: instance record, written again at every status change, stays at one write unit.
FIRST_STEP_INLINE_BYTES = 600


def split_first_step(meta: InstanceMeta) -> tuple[InstanceMeta, StepRecord | None]:
    """The instance record to write, and the step 0 item to write before it, if any."""
    if len(events_to_str(meta.first_step).encode()) <= FIRST_STEP_INLINE_BYTES:
        return meta, None
    return meta.with_(first_step=()), StepRecord(0, meta.first_step, meta.status, meta.custom_status)


class InstanceExistsError(WorkflowError):
    """Start on an instance ID whose instance (or one of its children) is still running."""


class InstanceLifecycle:
    """Starts instances (and children) for ``Engine``, which supplies the rest."""

    runtime: WorkflowRuntime
    store: InstanceStore
    clock: Callable[[], datetime]
    new_id: Callable[[], str]
    metrics: Metrics
    _starting: dict[str, threading.Event]

    def forget(self, instance_id: str) -> None:
        raise NotImplementedError

    def _remember(self, live: Live) -> None:
        raise NotImplementedError

    def _delete_old_execution(self, instance_id: str, execution_id: str) -> bool:
        raise NotImplementedError

    def _carry_out(
        self, live: Live, commands: Iterable[Command], *, allow_inline: bool, defer_children: bool = False
    ) -> list[HistoryEvent]:
        raise NotImplementedError

    def _start_child(self, live: Live, cmd: StartChild) -> FailureDetails | None:
        parent = ParentRef(live.meta.instance_id, live.meta.execution_id, cmd.task_id)
        existing = self.store.get_meta(cmd.instance_id)
        if existing is not None and existing.parent == parent:
            return None  # already started by an earlier delivery of this step
        try:
            self.start(cmd.name, cmd.instance_id, cmd.input, parent=parent, existing=existing)
        except WorkflowError as exc:
            return FailureDetails.from_exception(exc)
        return None

    def status_of(self, meta: InstanceMeta) -> tuple[WorkflowStatus, StepRecord | None]:
        """The authoritative status: the last step's, when the record lags behind it."""
        if meta.status.is_terminal:
            return meta.status, None
        last = self.store.last_step(meta.instance_id, meta.execution_id)
        return (last.status if last else meta.status), last

    def start(
        self,
        name: str,
        instance_id: str,
        input: str | None,
        *,
        parent: ParentRef | None = None,
        existing: InstanceMeta | None = None,
    ) -> None:
        """Start (or restart, if it and its children are terminal) an instance.

        A new ID costs no read: the create is conditional, and only when it fails is
        the old instance read to decide between 409 and replacing it.
        """
        if name not in self.runtime.workflows:
            raise WorkflowError(f"workflow '{name}' is not registered")
        if existing is not None:
            self._check_replaceable(existing)
        now = self.clock()
        execution = Execution(self.runtime.workflows, instance_id)
        started = WorkflowStarted(now, name, input, parent)
        result = execution.step([started], now)
        too_large = oversize(result)
        if too_large is not None:
            execution = Execution(self.runtime.workflows, instance_id)
            failed = WorkflowFailed(now, FailureDetails(too_large, "PayloadTooLargeError"))
            result = execution.step([started, failed], now)
        meta = InstanceMeta(
            instance_id=instance_id,
            execution_id=self.new_id(),
            workflow_name=name,
            status=result.status,
            created_at=now,
            updated_at=now,
            first_step=result.events,
            output=result.output,
            failure=result.failure,
            custom_status=result.custom_status,
            parent=parent,
        )
        live = Live(meta, execution, 1, list(result.events), now)
        meta, first_item = split_first_step(meta)
        written = self._starting[instance_id] = threading.Event()
        try:
            # Work goes out before the record exists (see the module docstring), and so
            # does a large first step: the record never names a missing one.
            self._carry_out(live, result.commands, allow_inline=False, defer_children=True)
            if first_item is not None:
                self.store.append_step(instance_id, meta.execution_id, first_item)
            try:
                old = self._create(meta, existing)
            except InstanceExistsError:
                if first_item is not None:
                    self._delete_old_execution(instance_id, meta.execution_id)
                raise
            live.meta = meta
            self.forget(instance_id)
            self._remember(live)
        finally:
            written.set()
            if self._starting.get(instance_id) is written:
                del self._starting[instance_id]
        log.info("%s %s: started (%s)", name, instance_id, result.status.value)
        self.metrics.count(Metric.WORKFLOWS_STARTED)
        finished = FINISHED.get(result.status)
        if finished is not None:
            self.metrics.count(finished)
        if old is not None:
            for execution_id in (old.execution_id, *(e for e, _ in old.superseded)):
                self._delete_old_execution(instance_id, execution_id)

    def _create(self, meta: InstanceMeta, existing: InstanceMeta | None) -> InstanceMeta | None:
        """Write the new instance record; returns the record it replaced, if any."""
        old = existing
        try:
            self.store.put_meta(meta, replaces=old.execution_id if old else None)
        except ConflictError:
            old = self.store.get_meta(meta.instance_id)
            if old is None:
                raise InstanceExistsError(f"instance '{meta.instance_id}' changed concurrently; try again") from None
            self._check_replaceable(old)
            try:
                self.store.put_meta(meta, replaces=old.execution_id)
            except ConflictError as exc:
                raise InstanceExistsError(f"an instance with ID '{meta.instance_id}' already exists") from exc
        return old

    def _replaceable(self, meta: InstanceMeta) -> bool:
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
            child = self.store.get_meta(child_id)
            if child is not None and not self.status_of(child)[0].is_terminal:
                raise InstanceExistsError(
                    f"an instance with ID '{old.instance_id}' has a child '{child_id}' that is still running"
                )

    def first_events(self, meta: InstanceMeta) -> tuple[HistoryEvent, ...]:
        """The execution's first step, from the record or from its own item."""
        if meta.first_step:
            return meta.first_step
        step = self.store.get_step(meta.instance_id, meta.execution_id, 0)
        return step.events if step else ()

    def child_ids(self, meta: InstanceMeta) -> list[str]:
        """Every child instance this execution created."""
        steps = self.store.load_steps(meta.instance_id, meta.execution_id)
        return [e.instance_id for e in chain(meta.first_step, steps) if isinstance(e, ChildCreated)]
