"""The store port: the protocol the engine keeps instances through, its records, and
the stored form of a step. Adapters: ``wf/aws/dynamodb.py`` (DynamoDB),
``wf/testing/memory_store.py`` (in memory)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from wf.core.history import (
    HISTORY_VERSION,
    HistoryEvent,
    ParentRef,
    event_from_json,
    event_to_json,
    format_time,
    parse_time,
)
from wf.core.status import WorkflowStatus
from wf.engine.status_events import PendingChange
from wf.errors import FailureDetails, HistoryFormatError, InvalidContinuationTokenError


@dataclass(frozen=True)
class ScheduledStart:
    """A start asked for a later time: the instance is ``PENDING`` until ``start_at``,
    with the input it will start with."""

    start_at: datetime
    input: str | None


@dataclass(frozen=True)
class InstanceMeta:
    """The per-instance record: identity, summary status and the first step's events
    (empty when the first step is large: it is then step item 0)."""

    instance_id: str
    execution_id: str
    workflow_name: str
    status: WorkflowStatus
    created_at: datetime
    updated_at: datetime
    first_step: tuple[HistoryEvent, ...]
    output: str | None = None
    failure: FailureDetails | None = None
    custom_status: str | None = None
    parent: ParentRef | None = None
    #: The last step the summary reflects; summaries only move forward.
    synced_seq: int = 0
    #: Executions this instance continued from, with when: their items are deleted once
    #: no container can still hold a view of them (``wf/engine/cache.py``).
    superseded: tuple[tuple[str, datetime], ...] = ()
    #: The status change the execution's first step made (a start that ended at once, a
    #: continue-as-new out of a suspension), until it is published (status events on).
    pending: PendingChange | None = None
    #: A ``PENDING`` instance's start, until it is made (its record has no first step).
    scheduled: ScheduledStart | None = None

    def with_(self, **changes: object) -> InstanceMeta:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class InstanceSummary:
    """One row of an instance listing: what the record says (its status may lag the
    last step by the time the record's own update takes, as a listing reads no step)."""

    instance_id: str
    workflow_name: str
    created_at: datetime
    updated_at: datetime
    status: WorkflowStatus
    parent_instance_id: str | None = None


@dataclass(frozen=True)
class InstanceQuery:
    """Which instances a listing wants; every field left empty matches all."""

    statuses: frozenset[WorkflowStatus] = frozenset()
    workflow_name: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    id_prefix: str | None = None

    def matches(self, s: InstanceSummary) -> bool:
        return (
            (not self.statuses or s.status in self.statuses)
            and (self.workflow_name is None or s.workflow_name == self.workflow_name)
            and (self.created_from is None or s.created_at >= self.created_from)
            and (self.created_to is None or s.created_at <= self.created_to)
            and (self.id_prefix is None or s.instance_id.startswith(self.id_prefix))
        )


@dataclass(frozen=True, order=True)
class ListCursor:
    """Where a listing page ended: listings are newest first, ties in creation time
    ordered by instance ID (descending), so the next page starts just below this. A
    store hands it out inside a token of its own (``InstancePage.next``), which may
    carry more of the store's own (``extra``)."""

    created_at: datetime
    instance_id: str

    def token(self, **extra: Any) -> str:
        return json.dumps([format_time(self.created_at), self.instance_id, extra], separators=(",", ":"))

    @staticmethod
    def parse(token: str) -> tuple[ListCursor, dict[str, Any]]:
        """The cursor in a store's token, and what else the store put there; raises
        ``InvalidContinuationTokenError`` for anything no store made."""
        try:
            created, instance_id, extra = json.loads(token)
            if not isinstance(instance_id, str) or not isinstance(extra, dict):
                raise ValueError(token)
            return ListCursor(parse_time(str(created)), instance_id), extra
        except (ValueError, TypeError):
            raise InvalidContinuationTokenError("the continuation token is not one this API gave") from None


@dataclass(frozen=True)
class InstancePage:
    instances: tuple[InstanceSummary, ...]
    #: Where the next page starts, the store's opaque token; None on the last page.
    next: str | None


def summary_of(meta: InstanceMeta) -> InstanceSummary:
    return InstanceSummary(
        meta.instance_id,
        meta.workflow_name,
        meta.created_at,
        meta.updated_at,
        meta.status,
        meta.parent.instance_id if meta.parent else None,
    )


def newest_first(s: InstanceSummary) -> tuple[datetime, str]:
    """The listing order's key, descending (``ListCursor`` compares the same way)."""
    return (s.created_at, s.instance_id)


@dataclass(frozen=True)
class StepRecord:
    seq: int
    events: tuple[HistoryEvent, ...]
    status: WorkflowStatus
    #: The custom status after this step: GET reads it here while the instance runs, so
    #: setting it costs no write of the instance record.
    custom_status: str | None = None
    #: The status change this step made, until it is published (status events on).
    pending: PendingChange | None = None


#: The fields of a stored event that hold payloads (``wf/engine/blobs.py`` may keep
#: them by reference).
PAYLOAD_FIELDS = ("input", "output", "result", "data", "status")

#: Turns a payload into what is stored in its place (itself, or a reference).
Pack = Callable[[str], Any]
#: Inverse of ``Pack``.
Unpack = Callable[[Any], Any]


def events_to_str(events: Sequence[HistoryEvent], pack: Pack | None = None) -> str:
    """A step's events as stored: the version and the step's time once, not per event;
    with ``pack``, each payload as ``pack`` stores it.

    Write units are billed per KB, so the bytes repeated in every event matter: a
    20-way fan-out's first step shrinks by about 40%."""
    if not events:
        return "[]"
    shared = events[0].timestamp
    body = []
    for event in events:
        data = event_to_json(event)
        del data["v"]
        if event.timestamp == shared:
            del data["timestamp"]
        if pack is not None:
            for name in PAYLOAD_FIELDS:
                value = data.get(name)
                if value is not None:
                    data[name] = pack(value)
        body.append(data)
    step = {"v": HISTORY_VERSION, "t": format_time(shared), "e": body}
    return json.dumps(step, separators=(",", ":"))


def events_from_str(data: str, unpack: Unpack | None = None) -> tuple[HistoryEvent, ...]:
    """Inverse of :func:`events_to_str`; also reads a plain list of events."""
    raw = json.loads(data)
    if isinstance(raw, list):
        return tuple(event_from_json(e) for e in raw)
    try:
        if unpack is not None:
            for e in raw["e"]:
                for name in PAYLOAD_FIELDS:
                    value = e.get(name)
                    if value.__class__ is dict:
                        e[name] = unpack(value)
        return tuple(event_from_json({"v": raw["v"], "timestamp": raw["t"], **e}) for e in raw["e"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise HistoryFormatError(f"malformed stored step: {exc!r}") from exc


class InstanceRecords(Protocol):
    """The instance records: one per instance, of its current execution (conditional writes)."""

    def get_meta(self, instance_id: str) -> InstanceMeta | None: ...

    def put_meta(self, meta: InstanceMeta, *, replaces: str | None) -> None:
        """Create the instance (``replaces=None``: it must not exist) or replace the
        execution ``replaces`` (which must still be the current one).  ConflictError otherwise."""

    def continue_as_new(
        self, meta: InstanceMeta, *, replaces: str, seal: StepRecord, first: StepRecord | None = None
    ) -> None:
        """In one transaction: write ``seal``, the last step of execution ``replaces``
        (it must not exist, so that no other step can take its place), the new
        execution's ``first`` step item if any, and ``meta``, which must replace
        ``replaces``. ConflictError if either condition fails; nothing is written then."""

    def update_meta(self, meta: InstanceMeta) -> None:
        """Update the summary of the current execution: only if the execution is the same
        and the stored summary reflects an earlier step (``synced_seq``)."""


class StepLog(Protocol):
    """An execution's steps, each written once (the commit), and the status-change
    markers on them."""

    def append_step(self, instance_id: str, execution_id: str, step: StepRecord) -> None:
        """Write step ``seq`` of an execution; ConflictError if it already exists."""

    def load_steps(self, instance_id: str, execution_id: str, after: int = -1) -> list[StepRecord]:
        """The execution's steps in order, those numbered above ``after`` only (step 0
        is a large first step kept out of the instance record)."""

    def get_step(self, instance_id: str, execution_id: str, seq: int) -> StepRecord | None: ...

    def last_step(self, instance_id: str, execution_id: str) -> StepRecord | None: ...

    def announced(self, instance_id: str, execution_id: str, seq: int) -> None:
        """The status change of step ``seq`` is published: remove the step's marker (for
        0, the first step's: the record's, if still of ``execution_id``); nothing if the
        step or record is gone."""

    def delete_execution(self, instance_id: str, execution_id: str) -> None: ...


class Inbox(Protocol):
    """An execution's inbox: results that lost a race to commit, left for one step to
    take together, and the notice that its message is pending."""

    def put_inbox(self, instance_id: str, execution_id: str, token: str, events: Sequence[HistoryEvent]) -> bool:
        """Leave ``events`` in the execution's inbox under ``token`` (unconditional: a
        token is the writer's own); False, writing nothing, if they are too large for it."""

    def load_inbox(self, instance_id: str, execution_id: str) -> list[tuple[str, tuple[HistoryEvent, ...]]]:
        """What waits in the execution's inbox: (token, events), oldest token first."""

    def delete_inbox(self, instance_id: str, execution_id: str, tokens: Sequence[str]) -> None:
        """Take recorded entries out of the inbox (deleting one already gone is no error)."""

    def inbox_noticed(self, instance_id: str, execution_id: str, now: datetime, stale_after: float) -> bool:
        """Whether the inbox's message is pending: a notice younger than ``stale_after``
        seconds (``note_inbox``), not cleared since."""

    def note_inbox(self, instance_id: str, execution_id: str, now: datetime) -> None:
        """The inbox's message has been sent (unconditional: two writers noting at once
        have both sent one, harmlessly)."""

    def clear_inbox_notice(self, instance_id: str, execution_id: str) -> None:
        """The inbox's message is being handled: entries left from now on send another."""


class InstanceListing(Protocol):
    """Listing instances by status and name, newest first, a page at a time."""

    def list_instances(self, query: InstanceQuery, *, limit: int, after: str | None = None) -> InstancePage:
        """One page of at most ``limit`` instances matching ``query``, newest first,
        starting below ``after`` (a page's ``next``; ``InvalidContinuationTokenError``
        for a token this store did not make). Reads the records' index only, never a step."""


class Retention(Protocol):
    """Deleting instances: on purge, and once a terminal instance's record expired."""

    def purge(self, instance_id: str, execution_id: str) -> int:
        """Delete the instance: its record, if it is still of ``execution_id`` (else
        ``ConflictError``: it was restarted meanwhile), then the items of that execution
        and every older one (IDs sort by time); returns how many items were deleted."""

    def expired(self, instance_id: str, execution_ids: Sequence[str]) -> int:
        """Delete what is left of an instance whose record expired (its retention): the
        items of the newest of ``execution_ids`` (the record's execution) and of every
        older one, and their payloads. An execution newer than the record's (the ID
        started again since) is not touched; what is gone already is no error (a retried
        expiry finishes the first's work). Returns how many items were deleted."""


class Histories(InstanceRecords, StepLog, Protocol):
    """Instance records with their executions' steps: what loading, starting and
    publishing an instance read and write."""

    def read_execution(
        self, instance_id: str, execution_id: str, after: int = -1
    ) -> tuple[InstanceMeta | None, list[StepRecord]]:
        """The instance record and the steps of ``execution_id`` numbered above
        ``after``, read together (one round trip where the store allows it). The steps
        are the current history only when the record's execution is ``execution_id``."""


class InstanceStore(Histories, Inbox, InstanceListing, Retention, Protocol):
    """The whole store (one DynamoDB table holds it all): the engine is given it, and
    hands each of its parts the ports that part uses."""
