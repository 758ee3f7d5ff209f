"""Publishing status changes (``wf/engine/status_events.py``): which of the changes still
marked on an execution's steps (and record) an invocation publishes, and taking their
markers off once they are out. The engine marks them in its commits; this part is told
when to publish (rule 17 of ``docs/crash-safety.md``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from wf.core.status import WorkflowStatus
from wf.engine.cache import Live
from wf.engine.messages import AnnounceMessage
from wf.engine.metrics import Metric, Metrics
from wf.engine.queue import WorkQueue
from wf.engine.status_events import PendingChange, StatusChange, StatusEvents
from wf.engine.store import Histories

#: How long after a start that ended at once its check message arrives: beyond the HTTP
#: function's timeout (29 s), so that the start's invocation has published its change,
#: or died, by then (a check that came earlier would find it marked and publish it twice).
FIRST_CHANGE_CHECK_SECONDS = 60


class Announcer:
    """One container's publisher of status changes."""

    def __init__(
        self,
        store: Histories,
        queue: WorkQueue,
        clock: Callable[[], datetime],
        events: StatusEvents | None,
        metrics: Metrics,
        load: Callable[[str], Live | None],
    ) -> None:
        #: Where changes are published; ``None``: nowhere.
        self.events = events
        self._store, self._queue, self._clock = store, queue, clock
        self._metrics, self._load = metrics, load

    def publish(
        self,
        live: Live,
        *,
        cause: datetime | None = None,
        repair: bool = False,
        only: tuple[str, int] | None = None,
    ) -> None:
        """Publish the status changes still marked on ``live``'s steps that are this
        invocation's to publish: those it committed, the one its follow-up message is
        for (``cause``), and, on a redelivery (``repair``), every one left marked (its
        publisher died or failed: the redelivery is what its message owes); then take
        their markers off. One not committed here is checked against the store first:
        it may have been published meanwhile. ``only``: that change alone, if due."""
        if self.events is None or not live.unannounced:
            return
        meta = live.meta
        due: list[tuple[tuple[str, int], PendingChange]] = []
        for key, (pending, mine) in sorted(live.unannounced.items()):
            if only is not None and key != only:
                continue
            if not (mine or repair or (cause is not None and pending.cause == cause)):
                continue
            if not mine and not self._still_marked(meta.instance_id, *key):
                live.unannounced.pop(key, None)
                continue
            due.append((key, pending))
        if not due:
            return
        changes = [
            StatusChange(
                meta.instance_id,
                execution_id,
                seq,
                meta.workflow_name,
                pending.old,
                pending.new,
                pending.at,
                meta.created_at,
                live.execution.failure
                if pending.new is WorkflowStatus.FAILED and execution_id == meta.execution_id
                else None,
                meta.parent.instance_id if meta.parent is not None else None,
            )
            for (execution_id, seq), pending in due
        ]
        # On StatusEventsError they stay marked, and the error fails the message: its
        # redelivery publishes them. Perhaps in another container, which takes the
        # markers off; so this one no longer counts them as its own to publish blindly,
        # but checks each is still marked first.
        try:
            self.events.publish(changes)
        except BaseException:
            for key, pending in due:
                live.unannounced[key] = (pending, False)
            raise
        for (execution_id, seq), _ in due:
            self._store.announced(meta.instance_id, execution_id, seq)
            live.unannounced.pop((execution_id, seq), None)
            if seq == 0 and live.meta.execution_id == execution_id:
                live.meta = live.meta.with_(pending=None)
        self._metrics.count(Metric.STATUS_EVENTS, len(due))

    def owe_first(self, instance_id: str, execution_id: str) -> None:
        """Before a start whose first step ended the instance writes its record (marked
        with the change): send the message that publishes the change if the start's
        invocation dies before it does. No redelivery would: an HTTP start has no
        message, and a child's start message finds the child already started."""
        check = AnnounceMessage(instance_id, execution_id, self._clock())
        self._queue.send([check.to_out(FIRST_CHANGE_CHECK_SECONDS)])

    def started(self, instance_id: str, execution_id: str) -> None:
        """Publish the change of an instance that ended in its first step (its start
        call's, or its parent's step's), if still marked: right after the start, and
        again when the check ``owe_first`` sent arrives (then it is, only if the start's
        invocation died or its publication failed)."""
        live = self._load(instance_id)
        if live is not None:
            self.publish(live, repair=True, only=(execution_id, 0))

    def _still_marked(self, instance_id: str, execution_id: str, seq: int) -> bool:
        """Whether a change another invocation committed is still unpublished (read)."""
        if seq == 0:
            meta = self._store.get_meta(instance_id)
            return meta is not None and meta.execution_id == execution_id and meta.pending is not None
        stored = self._store.get_step(instance_id, execution_id, seq)
        return stored is not None and stored.pending is not None
