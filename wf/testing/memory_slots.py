"""In-memory ``Slots`` (``wf/engine/concurrency.py``), with the DynamoDB adapter's
semantics: a slot is free when never taken, given back, or its lease is over."""

from __future__ import annotations

import threading
from datetime import datetime

from wf.engine.concurrency import WAITING_FRESH, Lease


class MemorySlots:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: (scope, slot) -> (owner, lease's end)
        self.held: dict[tuple[str, int], tuple[str, datetime]] = {}
        #: (scope, run) -> counted as waiting until
        self.waiting: dict[tuple[str, str], datetime] = {}

    def take(self, scope: str, slots: int, owner: str, now: datetime, until: datetime) -> Lease | None:
        with self._lock:
            for n in range(slots):
                current = self.held.get((scope, n))
                if current is None or current[1] <= now:
                    self.held[(scope, n)] = (owner, until)
                    return Lease(scope, n, owner)
        return None

    def give_back(self, lease: Lease) -> None:
        with self._lock:
            current = self.held.get((lease.scope, lease.slot))
            if current is not None and current[0] == lease.owner:
                del self.held[(lease.scope, lease.slot)]

    def release(self, scope: str, owner: str) -> None:
        with self._lock:
            for key in [k for k, (o, _) in self.held.items() if k[0] == scope and o == owner]:
                del self.held[key]

    def note_waiting(self, scope: str, key: str, now: datetime) -> None:
        with self._lock:
            self.waiting[(scope, key)] = now + WAITING_FRESH

    def usage(self, scope: str, now: datetime) -> tuple[list[str], list[str]]:
        with self._lock:
            owners = [owner for (s, _), (owner, until) in self.held.items() if s == scope and until > now]
            waiting = [key for (s, key), until in self.waiting.items() if s == scope and until > now]
        return owners, waiting
