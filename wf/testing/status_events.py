"""Status-change events kept in memory (the EventBridge publisher's stand-in)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from wf.engine.status_events import StatusChange


class RecordingStatusEvents:
    """Keeps every published change, in order (a change published again is kept again,
    with its ``event_id``)."""

    def __init__(self) -> None:
        self.published: list[StatusChange] = []
        self._lock = threading.Lock()

    def publish(self, changes: Sequence[StatusChange]) -> None:
        with self._lock:
            self.published.extend(changes)
