"""Calm fan-in: when containers race to commit one instance's results, the losers leave
them in the instance's inbox, for one step to record together (``docs/crash-safety.md``
rule 14). The inbox's message is recorded by ``Engine`` (``_record_inbox``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from wf.core.history import ActivityCompleted, ActivityFailed, HistoryEvent
from wf.engine.cache import Live
from wf.engine.messages import ActivityMessage, InboxMessage, Message
from wf.engine.metrics import Metric, Metrics
from wf.engine.queue import WorkQueue
from wf.engine.store import Inbox

#: After a lost write race, an instance counts as contended this long: while a fan-in is
#: in flight (several tasks open), its activity results go to its inbox, for one step to
#: record together, instead of racing other containers to commit (each lost race is a
#: billed write, and a reload).
CONTENDED_FOR = timedelta(seconds=30)
#: An inbox is recorded this long after results are left in it, so that what other
#: containers bring meanwhile is recorded in the same step.
INBOX_DELAY_SECONDS = 1
#: One inbox message at a time is pending; a notice this old counts as lost (its message
#: dead-lettered, say) and another is sent.
INBOX_NOTICE_STALE_SECONDS = 10.0
#: Instances remembered as contended, at most (a container sees many instances).
MAX_REMEMBERED = 4096


class FanIn:
    """One container's view of which instances are contended, and the inbox writes."""

    def __init__(
        self,
        store: Inbox,
        queue: WorkQueue,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        metrics: Metrics,
    ) -> None:
        self._store, self._queue, self._clock, self._new_id, self._metrics = store, queue, clock, new_id, metrics
        #: When each execution last lost a write race here (``CONTENDED_FOR``).
        self._contended: dict[tuple[str, str | None], datetime] = {}

    def lost_race(self, instance_id: str, execution_id: str | None) -> None:
        now = self._clock()
        if len(self._contended) > MAX_REMEMBERED:
            self._contended = {k: t for k, t in self._contended.items() if now - t <= CONTENDED_FOR}
        self._contended[(instance_id, execution_id)] = now

    def offer(self, live: Live, msgs: Sequence[Message], events: list[HistoryEvent]) -> bool:
        """Under contention (a lost race on this execution, with several activities open:
        a fan-in; a sequential workflow keeps its direct commits), leave activity results
        in the inbox for one step to take together (with those other containers bring),
        rather than race to commit them; whether they were left there."""
        iid, exec_id = live.meta.instance_id, live.meta.execution_id
        since = self._contended.get((iid, exec_id))
        now = self._clock()
        if (
            since is None
            or now - since > CONTENDED_FOR
            or live.execution.open_activities < 2
            or not all(isinstance(m, ActivityMessage) for m in msgs)
            or not all(isinstance(e, ActivityCompleted | ActivityFailed) for e in events)
        ):
            return False
        if not self._store.put_inbox(iid, exec_id, self._new_id(), events):
            return False
        # One message for the entries of a second, not one per entry (their steps would
        # race each other): none is sent while one is pending, whose handling reads the
        # inbox after this entry (it clears the notice first). Sent before the notice, so
        # that a notice always stands for a message on its way.
        if not self._store.inbox_noticed(iid, exec_id, now, INBOX_NOTICE_STALE_SECONDS):
            self._queue.send([InboxMessage(iid, exec_id, now).to_out(INBOX_DELAY_SECONDS)])
            self._store.note_inbox(iid, exec_id, now)
        self._metrics.count(Metric.RESULTS_COALESCED, len(events))
        return True
