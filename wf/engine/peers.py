"""Other apps: where work for them goes. An app is one deployed stack (or one ``wf
dev``); another app is known by its queue, the only thing of it this app writes to
(never its table). Work for it (an activity to run, a child to start, a termination,
a purge) goes there as a message; what comes back (a result, a child's outcome) comes
as an event message to this app's own queue, which records it as a local one. Which
apps are known, and their queues, is configuration (``WF_APPS``, ``wf dev --peer``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from wf.engine.queue import OutMessage, WorkQueue
from wf.errors import FailureDetails, UnknownAppError


class Peers:
    """This app's ID and the queues of the apps it may call (and answer)."""

    def __init__(self, app_id: str, queues: Mapping[str, WorkQueue] | None = None) -> None:
        self.app_id = app_id
        self._queues = dict(queues or {})

    def is_remote(self, app_id: str | None) -> bool:
        """Whether work for ``app_id`` goes to another app (``None`` and this app's own
        ID are this app)."""
        return app_id is not None and app_id != self.app_id

    @property
    def known(self) -> list[str]:
        return sorted(self._queues)

    def send(self, app_id: str, messages: Sequence[OutMessage]) -> None:
        """Send ``messages`` to ``app_id``'s queue; ``UnknownAppError`` if it is not
        known, ``QueueError`` (or ``PayloadTooLargeError``) as a queue's send raises."""
        queue = self._queues.get(app_id)
        if queue is None:
            raise UnknownAppError(self.unknown(app_id).message)
        if messages:
            queue.send(messages)

    def unknown(self, app_id: str) -> FailureDetails:
        """The failure of a task that names an app this one does not know."""
        known = ", ".join(repr(a) for a in self.known) or "none"
        return FailureDetails.of(
            UnknownAppError,
            f"app '{app_id}' is not known to app '{self.app_id}' (apps it knows: {known}); "
            "list it in WF_APPS (the template's PeerApps), or `wf dev --peer NAME=URL` locally",
        )
