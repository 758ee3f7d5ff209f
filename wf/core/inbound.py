"""Events from outside the workflow code: task results, raised events, pause and resume.

Results are recorded only for open tasks (anything else is a duplicate or late);
management events (raise, pause, resume) carry an ID and are recorded once however
often SQS delivers them; while paused, arrivals are recorded but held until resumed.
Pause and resume apply in the order they were issued (their IDs are time-ordered), not
the order SQS delivers them: one issued before the last applied is recorded and changes
nothing, so a pause overtaken by its resume does not leave the instance paused.
Every handler returns whether its event is recorded.
"""

from __future__ import annotations

from datetime import datetime

from wf.core.history import EventRaised, Resumed, Suspended, format_time, parse_time
from wf.core.outcome import Outcome
from wf.core.status import WorkflowStatus
from wf.core.tasks import Settling, TaskBook


class InboundGate:
    """Decides which inbound events an execution records, and holds them while paused."""

    __slots__ = ("_book", "_event_ids", "_held", "_outcome", "_switched", "suspended")

    def __init__(self, book: TaskBook, outcome: Outcome) -> None:
        self._book = book
        self._outcome = outcome
        self.suspended = False
        self._held: list[Settling] = []
        #: Recorded management events' IDs, with when they were recorded.
        self._event_ids: dict[str, datetime] = {}
        #: The ID of the latest pause or resume applied.
        self._switched: str | None = None

    def drop_held(self) -> None:
        """Forget what arrived while paused (the execution was terminated)."""
        self._held.clear()

    def inherit(self, seen: tuple[tuple[str, str], ...]) -> None:
        """IDs recorded by previous generations (a continue-as-new's first step)."""
        for event_id, at in seen:
            self._event_ids.setdefault(event_id, parse_time(at))

    def seen_since(self, cutoff: datetime) -> tuple[tuple[str, str], ...]:
        """The IDs recorded since ``cutoff``, for the next generation: a duplicate
        delivery comes within hours (retries and redeliveries are bounded), not days."""
        return tuple((i, format_time(at)) for i, at in self._event_ids.items() if at >= cutoff)

    def _first_time(self, event_id: str | None, at: datetime) -> bool:
        """Records a management event's ID; False if it was recorded already (SQS
        delivered its message again). Only called for events that will be recorded, so
        a replayed history knows exactly the IDs a live execution knows."""
        if event_id is None:
            return True
        if event_id in self._event_ids:
            return False
        self._event_ids[event_id] = at
        return True

    def _overtaken(self, event_id: str | None) -> bool:
        """True for a pause or resume issued before the latest one applied (SQS
        delivered them out of order); else it becomes the latest."""
        if event_id is None:
            return False
        if self._switched is not None and event_id < self._switched:
            return True
        self._switched = event_id
        return False

    def on_suspended(self, event: Suspended) -> bool:
        if self._outcome.recorded or not self._first_time(event.event_id, event.timestamp):
            return False
        if self._overtaken(event.event_id):
            return True  # recorded for its ID, and changes nothing
        # A pause of a paused instance is recorded too (it changes nothing), so that
        # its ID is known if it comes again after a resume.
        self.suspended = True
        return True

    def on_resumed(self, event: Resumed) -> bool:
        if self._outcome.recorded or not self._first_time(event.event_id, event.timestamp):
            return False
        if self._overtaken(event.event_id):
            return True
        if not self.suspended:
            return True  # recorded for its ID, as for a repeated pause
        self.suspended = False
        held, self._held = self._held, []
        for item in held:
            self._book.deliver(item)
        return True

    def on_inbound(self, event: Settling) -> bool:
        if not isinstance(event, EventRaised):
            return self._accept(event)
        if event.event_id in self._event_ids:
            return False
        recorded = self._accept(event)
        if recorded and event.event_id is not None:
            self._event_ids[event.event_id] = event.timestamp
        return recorded

    def _accept(self, event: Settling) -> bool:
        status = self._outcome.status
        if status is WorkflowStatus.CONTINUED_AS_NEW and isinstance(event, EventRaised):
            self._book.inbox.put(event.name, event.data)
            return True
        if self._outcome.recorded or status is not WorkflowStatus.RUNNING:
            return False
        if not isinstance(event, EventRaised) and event.task_id not in self._book.open:
            return False  # a duplicate or a late result: ignored, and not recorded
        if self.suspended:
            self._held.append(event)
            return True
        self._book.deliver(event)
        return True
