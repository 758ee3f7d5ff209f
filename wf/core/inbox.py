"""External events that arrived before the workflow waited for them."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class Inbox:
    """External events not yet waited for, FIFO per case-insensitive name."""

    by_name: dict[str, deque[tuple[int, str, str | None]]] = field(default_factory=dict)
    arrivals: int = 0

    def put(self, name: str, data: str | None) -> None:
        self.by_name.setdefault(name.lower(), deque()).append((self.arrivals, name, data))
        self.arrivals += 1

    def take(self, key: str) -> tuple[bool, str | None]:
        queue = self.by_name.get(key)
        if not queue:
            return False, None
        return True, queue.popleft()[2]

    def drain(self) -> list[tuple[str, str | None]]:
        """Every unread event in arrival order (carried over by a continue-as-new)."""
        items = sorted(item for queue in self.by_name.values() for item in queue)
        self.by_name.clear()
        return [(name, data) for _, name, data in items]
