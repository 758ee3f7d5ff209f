"""Events from outside the workflow code: task results, raised events, pause and resume.

Results are recorded only for open tasks (anything else is a duplicate or late);
management events (raise, pause, resume) carry an ID and are recorded once however
often SQS delivers them; while paused, arrivals are recorded but held until resumed.
"""

from __future__ import annotations

from wf._history import EventRaised, HistoryEvent, Resumed, Suspended
from wf._status import WorkflowStatus
from wf._tasks import TaskBook


class InboundEvents(TaskBook):
    """The inbound half of ``Execution``'s event handlers (they return whether the
    event is recorded)."""

    _status: WorkflowStatus
    _terminal_recorded: bool
    _suspended: bool
    _held: list[HistoryEvent]
    _event_ids: set[str]

    def _first_time(self, event_id: str | None) -> bool:
        """Records a management event's ID; False if it was recorded already (SQS
        delivered its message again). Only called for events that will be recorded, so
        a replayed history knows exactly the IDs a live execution knows."""
        if event_id is None:
            return True
        if event_id in self._event_ids:
            return False
        self._event_ids.add(event_id)
        return True

    def _on_suspended(self, event: Suspended) -> bool:
        if self._terminal_recorded or not self._first_time(event.event_id):
            return False
        # A pause of a paused instance is recorded too (it changes nothing), so that
        # its ID is known if it comes again after a resume.
        self._suspended = True
        return True

    def _on_resumed(self, event: Resumed) -> bool:
        if self._terminal_recorded or not self._first_time(event.event_id):
            return False
        if not self._suspended:
            return True  # recorded for its ID, as for a repeated pause
        self._suspended = False
        held, self._held = self._held, []
        for item in held:
            self._deliver(item)
        return True

    def _on_inbound(self, event: HistoryEvent) -> bool:
        if not isinstance(event, EventRaised):
            return self._accept_inbound(event)
        if event.event_id in self._event_ids:
            return False
        recorded = self._accept_inbound(event)
        if recorded and event.event_id is not None:
            self._event_ids.add(event.event_id)
        return recorded

    def _accept_inbound(self, event: HistoryEvent) -> bool:
        if self._status is WorkflowStatus.CONTINUED_AS_NEW and isinstance(event, EventRaised):
            self._inbox.put(event.name, event.data)
            return True
        if self._terminal_recorded or self._status is not WorkflowStatus.RUNNING:
            return False
        if isinstance(event, EventRaised):
            pass
        elif getattr(event, "task_id", None) not in self._open:
            return False  # a duplicate or a late result: ignored, and not recorded
        if self._suspended:
            self._held.append(event)
            return True
        self._deliver(event)
        return True
