"""The concurrency limits' slots in the workflow table (``wf/engine/concurrency.py``).

A limit is a partition, ``pk = "LIMIT#<scope>"``: slot ``n`` is the item ``S#<n>``,
written when taken (its holder and lease's end) and deleted when given back. Taking one
reads the partition (one strongly consistent query: the slots and the waiting notes, a
few hundred bytes each) and writes a free slot conditionally (absent, or its lease
over): two runs racing for one slot cannot both get it, and a slot whose holder died
frees itself when the lease ends. A waiting run's note, ``W#<run>``, counts while fresh
and is removed by the table's TTL later.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DeleteError, PutError, PynamoDBException

from wf.engine.concurrency import WAITING_FRESH, Lease
from wf.errors import StoreError

#: Slots tried, of those the query found free, before the run waits (each try lost a
#: race to another run: the limit is nearly full).
TAKE_TRIES = 3
#: How long a waiting run's note is kept before the table's TTL removes it (seconds).
NOTE_KEPT_SECONDS = 3600


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class DynamoSlots:
    """``Slots`` on the workflow table (the pynamodb model of ``wf/aws/table.py``)."""

    def __init__(self, item: Any) -> None:
        self._item = item

    def take(self, scope: str, slots: int, owner: str, now: datetime, until: datetime) -> Lease | None:
        m = self._item
        pk, now_ms = f"LIMIT#{scope}", _ms(now)
        try:
            held = {
                int(i.sk[2:])
                for i in m.query(pk, m.sk.startswith("S#"), consistent_read=True)
                if i.lease_until is not None and int(i.lease_until) > now_ms
            }
        except PynamoDBException as exc:
            raise StoreError(f"reading the slots of limit {scope} failed: {exc}") from exc
        free = [n for n in range(slots) if n not in held]
        random.shuffle(free)  # racing runs spread over the free slots
        for n in free[:TAKE_TRIES]:
            slot = m(pk, f"S#{n:05d}", lease_owner=owner, lease_until=_ms(until))
            try:
                slot.save(condition=m.pk.does_not_exist() | (m.lease_until <= now_ms))
                return Lease(scope, n, owner)
            except PutError as exc:
                if exc.cause_response_code == "ConditionalCheckFailedException":
                    continue
                raise StoreError(f"taking a slot of limit {scope} failed: {exc}") from exc
            except PynamoDBException as exc:
                raise StoreError(f"taking a slot of limit {scope} failed: {exc}") from exc
        return None

    def give_back(self, lease: Lease) -> None:
        m = self._item
        try:
            m(f"LIMIT#{lease.scope}", f"S#{lease.slot:05d}").delete(condition=m.lease_owner == lease.owner)
        except DeleteError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return  # its lease ran out and another run holds it now
            raise StoreError(f"giving back a slot of limit {lease.scope} failed: {exc}") from exc
        except PynamoDBException as exc:
            raise StoreError(f"giving back a slot of limit {lease.scope} failed: {exc}") from exc

    def release(self, scope: str, owner: str) -> None:
        m = self._item
        try:
            for i in m.query(f"LIMIT#{scope}", m.sk.startswith("S#"), consistent_read=True):
                if i.lease_owner == owner:
                    self.give_back(Lease(scope, int(i.sk[2:]), owner))
        except PynamoDBException as exc:
            raise StoreError(f"reading the slots of limit {scope} failed: {exc}") from exc

    def note_waiting(self, scope: str, key: str, now: datetime) -> None:
        m = self._item
        note = m(
            f"LIMIT#{scope}",
            f"W#{key}",
            lease_until=_ms(now + WAITING_FRESH),
            expire_at=int(now.timestamp()) + NOTE_KEPT_SECONDS,
        )
        try:
            note.save()
        except PynamoDBException as exc:
            raise StoreError(f"noting a run waiting for limit {scope} failed: {exc}") from exc

    def usage(self, scope: str, now: datetime) -> tuple[list[str], list[str]]:
        m = self._item
        now_ms = _ms(now)
        owners: list[str] = []
        waiting: list[str] = []
        try:
            for i in m.query(f"LIMIT#{scope}", consistent_read=True):
                if i.lease_until is None or int(i.lease_until) <= now_ms:
                    continue
                if i.sk.startswith("S#"):
                    owners.append(str(i.lease_owner))
                elif i.sk.startswith("W#"):
                    waiting.append(i.sk[2:])
        except PynamoDBException as exc:
            raise StoreError(f"reading limit {scope} failed: {exc}") from exc
        return owners, waiting
