"""DynamoDB ``InstanceStore`` through pynamodb: one table (its layout:
``wf/aws/table.py``), conditional writes only."""

from __future__ import annotations

import heapq
import itertools
import json
import math
import secrets
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from wf.aws.table import (
    META,
    PK,
    RECORDED_STATUSES,
    SK,
    STATUS_SHARDS,
    part_prefix,
    status_key,
    step_key,
)
from wf.core.history import HistoryEvent, ParentRef, format_time, parse_time
from wf.core.status import WorkflowStatus
from wf.engine.blobs import REF, BlobStore, PayloadCodec, history_prefix
from wf.engine.status_events import PendingChange
from wf.engine.store import (
    InstanceMeta,
    InstancePage,
    InstanceQuery,
    InstanceSummary,
    ListCursor,
    ScheduledStart,
    StepRecord,
    events_from_str,
    events_to_str,
    newest_first,
)
from wf.errors import ConflictError, FailureDetails, HistoryFormatError, InvalidContinuationTokenError, StoreError


def _refs_attribute(refs: dict[str, str]) -> str | None:
    return json.dumps(refs) if refs else None


#: Bytes of a step's stored events per item: with keys and the other attributes, no
#: item written exceeds 100 KB (DynamoDB's limit is 400 KB; smaller items keep reads
#: and transactions well inside their limits).
PART_BYTES = 90_000


def _exhausted(extra: dict[str, Any]) -> frozenset[int]:
    """The listing partitions a token says hold nothing more (its bit mask)."""
    try:
        mask = int(str(extra.get("x", "0")), 16)
        if mask < 0 or mask.bit_length() > 1024:
            raise ValueError("mask")
    except ValueError:
        raise InvalidContinuationTokenError("the continuation token is not one this API gave") from None
    return frozenset(i for i in range(mask.bit_length()) if mask >> i & 1)


class DynamoStore:
    """``InstanceStore`` on one DynamoDB table."""

    def __init__(
        self, item_model: type[Model], blobs: BlobStore | None = None, *, retention: timedelta | None = None
    ) -> None:
        """``retention``: how long a terminal instance's record is kept (its TTL)."""
        # Any: the model's attributes are made at run time, which mypy cannot follow.
        self._item: Any = item_model
        self._codec = PayloadCodec(blobs)
        self._retention = retention or None

    def _pack_fields(self, prefix: str, fields: dict[str, str | None]) -> tuple[dict[str, str | None], dict[str, str]]:
        """The fields to store, large ones replaced by ``None`` and named in the refs."""
        refs: dict[str, str] = {}
        out: dict[str, str | None] = {}
        for name, value in fields.items():
            packed = self._codec.pack(value, prefix)
            if isinstance(packed, dict):
                refs[name] = packed[REF]
                out[name] = None
            else:
                out[name] = packed
        return out, refs

    def _unpack_fields(self, item: Any, names: tuple[str, ...]) -> dict[str, str | None]:
        refs = json.loads(item.refs) if item.refs else {}
        return {n: (self._codec.unpack({REF: refs[n]}) if n in refs else getattr(item, n)) for n in names}

    # -- meta ----------------------------------------------------------------------
    def _to_item(self, meta: InstanceMeta) -> Any:
        prefix = history_prefix(meta.instance_id, meta.execution_id)
        fields, refs = self._pack_fields(
            prefix,
            {
                "output": meta.output,
                "failure": json.dumps(meta.failure.to_json()) if meta.failure else None,
                "custom_status": meta.custom_status,
                "input": meta.scheduled.input if meta.scheduled is not None else None,
            },
        )
        parent = None
        if meta.parent:
            parent = json.dumps(meta.parent.to_json())
        return self._item(
            meta.instance_id,
            META,
            execution_id=meta.execution_id,
            workflow_name=meta.workflow_name,
            wf_status=meta.status.value,
            status_key=status_key(meta.status, meta.instance_id),
            created_at=format_time(meta.created_at),
            updated_at=format_time(meta.updated_at),
            output=fields["output"],
            failure=fields["failure"],
            custom_status=fields["custom_status"],
            refs=_refs_attribute(refs),
            parent=parent,
            first_step=events_to_str(meta.first_step, lambda v: self._codec.pack(v, prefix)),
            synced_seq=meta.synced_seq,
            superseded=json.dumps([[e, format_time(t)] for e, t in meta.superseded]) if meta.superseded else None,
            expire_at=self._expiry(meta),
            announce=meta.pending.to_json() if meta.pending is not None else None,
            start_at=format_time(meta.scheduled.start_at) if meta.scheduled is not None else None,
            input=fields["input"],
        )

    def _expiry(self, meta: InstanceMeta) -> int | None:
        if self._retention is None or not meta.status.is_terminal:
            return None
        return math.ceil((meta.updated_at + self._retention).timestamp())

    def _from_item(self, item: Any) -> InstanceMeta:
        fields = self._unpack_fields(item, ("output", "failure", "custom_status", "input"))
        parent = None
        if item.parent:
            parent = ParentRef.from_json(json.loads(item.parent))
        return InstanceMeta(
            instance_id=item.pk,
            execution_id=item.execution_id,
            workflow_name=item.workflow_name,
            status=WorkflowStatus(item.wf_status),
            created_at=parse_time(item.created_at),
            updated_at=parse_time(item.updated_at),
            first_step=events_from_str(item.first_step or "[]", self._codec.unpack),
            output=fields["output"],
            failure=FailureDetails.from_json(json.loads(fields["failure"])) if fields["failure"] else None,
            custom_status=fields["custom_status"],
            parent=parent,
            synced_seq=int(item.synced_seq or 0),
            superseded=tuple((e, parse_time(t)) for e, t in json.loads(item.superseded or "[]")),
            pending=PendingChange.from_json(json.loads(item.announce)) if item.announce else None,
            scheduled=ScheduledStart(parse_time(item.start_at), fields["input"]) if item.start_at else None,
        )

    def get_meta(self, instance_id: str) -> InstanceMeta | None:
        try:
            item = self._item.get(instance_id, META, consistent_read=True)
        except self._item.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StoreError(f"reading instance {instance_id} failed: {exc}") from exc
        return self._from_item(item)

    def _put(self, item: Any, condition: Any, what: str) -> None:
        try:
            item.save(condition=condition)
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise ConflictError(what) from exc
            raise StoreError(f"writing {item.pk}/{item.sk} failed: {exc}") from exc
        except PynamoDBException as exc:
            raise StoreError(f"writing {item.pk}/{item.sk} failed: {exc}") from exc

    def put_meta(self, meta: InstanceMeta, *, replaces: str | None) -> None:
        m = self._item
        condition = m.pk.does_not_exist() if replaces is None else (m.execution_id == replaces)
        self._put(self._to_item(meta), condition, f"instance {meta.instance_id} changed concurrently")

    def update_meta(self, meta: InstanceMeta) -> None:
        m = self._item
        self._put(
            self._to_item(meta),
            (m.execution_id == meta.execution_id) & (m.synced_seq.does_not_exist() | (m.synced_seq < meta.synced_seq)),
            f"instance {meta.instance_id} changed concurrently",
        )

    def list_instances(self, query: InstanceQuery, *, limit: int, after: str | None = None) -> InstancePage:
        """The index's partitions of each status asked for (all, when none is), each
        queried newest first and merged: a page costs a query per partition, answered
        together, and no read of any instance's items. The index is eventually
        consistent: a change shows within about a second."""
        m = self._item
        condition = None
        low, high = query.created_from, query.created_to
        skip: frozenset[int] = frozenset()
        position = None
        if after is not None:
            position, extra = ListCursor.parse(after)
            skip = _exhausted(extra)
            high = position.created_at if high is None else min(high, position.created_at)
        if low is not None and high is not None:
            condition = m.created_at.between(format_time(low), format_time(high))
        elif low is not None:
            condition = m.created_at >= format_time(low)
        elif high is not None:
            condition = m.created_at <= format_time(high)
        filters = None
        if query.workflow_name is not None:
            filters = m.workflow_name == query.workflow_name
        if query.id_prefix:
            prefix = m.pk.startswith(query.id_prefix)
            filters = prefix if filters is None else filters & prefix
        statuses = sorted(query.statuses or RECORDED_STATUSES, key=lambda st: st.value)
        cursor = (position.created_at, position.instance_id) if position is not None else None
        # A status's instances are spread evenly over its shards, so a page drawn from
        # one status takes about a shard's share of it from each: each shard's first
        # query asks for a little more than that, not for the whole page (moto reads,
        # and DynamoDB bills, what a query asks for). A shard that holds more than its
        # share is read on, a page at a time, as the merge needs it.
        share = min(limit + 1, (limit + 1) * 5 // (4 * STATUS_SHARDS) + 2)

        def partition(status: WorkflowStatus, n: int) -> Iterator[InstanceSummary]:
            rows = (
                self._summary(item, status)
                for item in m.by_status.query(
                    f"{status.value}#{n:02d}",
                    range_key_condition=condition,
                    filter_condition=filters,
                    scan_index_forward=False,
                    page_size=share,
                )
            )
            try:
                # The index orders one creation time's instances arbitrarily: each such
                # group is put in ID order, which the merge and the cursor rely on.
                for _, group in itertools.groupby(rows, key=lambda r: r.created_at):
                    for row in sorted(group, key=newest_first, reverse=True):
                        if cursor is None or newest_first(row) < cursor:
                            yield row
            except PynamoDBException as exc:
                raise StoreError(f"listing {status.value} instances failed: {exc}") from exc

        indexes = [i for i in range(len(statuses) * STATUS_SHARDS) if i not in skip]
        parts = {i: partition(statuses[i // STATUS_SHARDS], i % STATUS_SHARDS) for i in indexes}
        finished: set[int] = set(skip)

        def tagged(i: int, first: InstanceSummary | None) -> Iterator[tuple[InstanceSummary, int]]:
            if first is None:
                finished.add(i)
                return
            yield first, i
            for row in parts[i]:
                yield row, i
            finished.add(i)

        # Each partition's first page at once (a first page asks up to 112 of them).
        # As many at once as botocore keeps connections (10): more would each open one.
        with ThreadPoolExecutor(max_workers=10) as pool:
            firsts = dict(zip(indexes, pool.map(lambda i: next(parts[i], None), indexes), strict=True))
        merged = heapq.merge(*(tagged(i, f) for i, f in firsts.items()), key=lambda t: newest_first(t[0]), reverse=True)
        taken = list(itertools.islice(merged, limit + 1))
        if len(taken) <= limit:
            return InstancePage(tuple(row for row, _ in taken), None)
        # A partition that has given all it holds, none of it left for the next page
        # (the one extra row read is the next page's), is not read again.
        exhausted = frozenset(finished - {taken[limit][1]})
        last = taken[limit - 1][0]
        page = tuple(row for row, _ in taken[:limit])
        # The token carries the partitions found exhausted (a bit mask), so that the
        # next page does not query them again.
        mask = sum(1 << i for i in exhausted)
        extra = {"x": f"{mask:x}"} if mask else {}
        return InstancePage(page, ListCursor(last.created_at, last.instance_id).token(**extra))

    @staticmethod
    def _summary(item: Any, status: WorkflowStatus) -> InstanceSummary:
        parent = json.loads(item.parent)["instance_id"] if item.parent else None
        created = parse_time(item.created_at)
        updated = parse_time(item.updated_at) if item.updated_at else created
        return InstanceSummary(item.pk, item.workflow_name, created, updated, status, parent)

    def continue_as_new(
        self, meta: InstanceMeta, *, replaces: str, seal: StepRecord, first: StepRecord | None = None
    ) -> None:
        m = self._item
        step_free = m.pk.does_not_exist()
        seal_item, *seal_parts = self._step_items(meta.instance_id, replaces, seal)
        items = [(seal_item, step_free)]
        parts = list(seal_parts)
        if first is not None:
            first_item, *first_parts = self._step_items(meta.instance_id, meta.execution_id, first)
            items.append((first_item, step_free))
            parts += first_parts
        items.append((self._to_item(meta), m.execution_id == replaces))
        self._write_parts(parts)
        connection = Connection(region=m.Meta.region, host=getattr(m.Meta, "host", None))
        try:
            with TransactWrite(connection=connection) as tx:
                for item, condition in items:
                    tx.save(item, condition=condition)
        except TransactWriteError as exc:
            self._drop_parts(parts)
            if exc.cause_response_code == "TransactionCanceledException":
                raise ConflictError(f"instance {meta.instance_id} changed concurrently") from exc
            raise StoreError(f"continuing {meta.instance_id} as new failed: {exc}") from exc

    # -- steps ---------------------------------------------------------------------
    def _step_items(self, instance_id: str, execution_id: str, step: StepRecord) -> list[Any]:
        """The step item, then its parts (if its events exceed one item's share)."""
        prefix = history_prefix(instance_id, execution_id)
        text = events_to_str(step.events, lambda v: self._codec.pack(v, prefix))
        fields, refs = self._pack_fields(prefix, {"custom_status": step.custom_status})
        events: str | None = text
        if len(text) > PART_BYTES and self._codec.blobs is not None:  # ensure_ascii JSON: characters are bytes
            refs["events"], events = self._codec.put(text.encode(), prefix), None
        head = self._item(
            instance_id,
            step_key(execution_id, step.seq),
            events=events,
            step_status=step.status.value,
            custom_status=fields["custom_status"],
            refs=_refs_attribute(refs),
            announce=step.pending.to_json() if step.pending is not None else None,
        )
        if events is None or len(text) <= PART_BYTES:
            return [head]
        chunks = [text[i : i + PART_BYTES] for i in range(0, len(text), PART_BYTES)]
        token = secrets.token_hex(4)
        head.events, head.parts, head.part_token = chunks[0], len(chunks), token
        parts = part_prefix(execution_id, step.seq, token)
        return [head] + [
            self._item(instance_id, f"{parts}{n:05d}", events=chunk) for n, chunk in enumerate(chunks[1:], 1)
        ]

    def _write_parts(self, parts: list[Any]) -> None:
        """Write a step's parts, before the step item that commits them. Unconditional:
        their keys hold this writer's own token, so nothing else is ever written there."""
        if not parts:
            return
        try:
            with self._item.batch_write() as batch:
                for part in parts:
                    batch.save(part)
        except PynamoDBException as exc:
            raise StoreError(f"writing the parts of a step of {parts[0].pk} failed: {exc}") from exc

    def _drop_parts(self, parts: list[Any]) -> None:
        """A step whose commit lost: its parts are never read; delete them now if we can
        (else the execution's deletion or a purge does)."""
        if not parts:
            return
        try:
            with self._item.batch_write() as batch:
                for part in parts:
                    batch.delete(part)
        except PynamoDBException:
            pass

    def append_step(self, instance_id: str, execution_id: str, step: StepRecord) -> None:
        head, *parts = self._step_items(instance_id, execution_id, step)
        self._write_parts(parts)
        try:
            self._put(head, self._item.pk.does_not_exist(), f"step {step.seq} of {instance_id} already written")
        except ConflictError:
            self._drop_parts(parts)
            raise

    def _query_steps(self, instance_id: str, execution_id: str, after: int = -1, **kwargs: Any) -> list[StepRecord]:
        prefix = f"H#{execution_id}#"
        condition = (
            self._item.sk.startswith(prefix)
            if after < 0
            else self._item.sk.between(step_key(execution_id, after + 1), step_key(execution_id, 99_999_999))
        )
        try:
            items = self._item.query(instance_id, condition, consistent_read=True, **kwargs)
            return [self._step(i) for i in items]
        except PynamoDBException as exc:
            raise StoreError(f"reading the history of {instance_id} failed: {exc}") from exc

    def _step(self, item: Any) -> StepRecord:
        seq = int(item.sk.rsplit("#", 1)[1])
        text = item.events
        if text is None:
            text = self._unpack_fields(item, ("events",))["events"] or "[]"
        elif item.parts and item.parts > 1:
            text += self._read_parts(item.pk, item.sk.split("#")[1], seq, item.part_token, int(item.parts))
        fields = self._unpack_fields(item, ("custom_status",))
        pending = PendingChange.from_json(json.loads(item.announce)) if item.announce else None
        return StepRecord(
            seq,
            events_from_str(text, self._codec.unpack),
            WorkflowStatus(item.step_status),
            fields["custom_status"],
            pending,
        )

    def _read_parts(self, instance_id: str, execution_id: str, seq: int, token: str, count: int) -> str:
        prefix = part_prefix(execution_id, seq, token)
        try:
            chunks = [
                p.events for p in self._item.query(instance_id, self._item.sk.startswith(prefix), consistent_read=True)
            ]
        except PynamoDBException as exc:
            raise StoreError(f"reading step {seq} of {instance_id} failed: {exc}") from exc
        if len(chunks) != count - 1:
            raise HistoryFormatError(f"step {seq} of {instance_id} has {len(chunks) + 1} of its {count} parts")
        return "".join(chunks)

    def load_steps(self, instance_id: str, execution_id: str, after: int = -1) -> list[StepRecord]:
        return self._query_steps(instance_id, execution_id, after)

    def read_execution(
        self, instance_id: str, execution_id: str, after: int = -1
    ) -> tuple[InstanceMeta | None, list[StepRecord]]:
        # The record ("META") sorts after every step item ("H#..."): one strongly
        # consistent query from the first step wanted up to the record reads both. What
        # lies between (a later execution's steps, the inbox) is passed over.
        prefix = f"H#{execution_id}#"
        meta: InstanceMeta | None = None
        steps: list[StepRecord] = []
        try:
            for item in self._item.query(
                instance_id, self._item.sk.between(step_key(execution_id, after + 1), META), consistent_read=True
            ):
                if item.sk == META:
                    meta = self._from_item(item)
                elif item.sk.startswith(prefix):
                    steps.append(self._step(item))
        except PynamoDBException as exc:
            raise StoreError(f"reading the history of {instance_id} failed: {exc}") from exc
        return meta, steps

    def get_step(self, instance_id: str, execution_id: str, seq: int) -> StepRecord | None:
        try:
            return self._step(self._item.get(instance_id, step_key(execution_id, seq), consistent_read=True))
        except self._item.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StoreError(f"reading step {seq} of {instance_id} failed: {exc}") from exc

    def announced(self, instance_id: str, execution_id: str, seq: int) -> None:
        m = self._item
        # The first step's change is on the record (while of this execution), the others
        # on their step items.
        key, condition = (
            (META, m.pk.exists() & (m.execution_id == execution_id))
            if seq == 0
            else (
                step_key(execution_id, seq),
                m.pk.exists(),
            )
        )
        try:
            m(instance_id, key).update(actions=[m.announce.remove()], condition=condition)
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return  # purged or expired meanwhile
            raise StoreError(f"marking step {seq} of {instance_id} published failed: {exc}") from exc
        except PynamoDBException as exc:
            raise StoreError(f"marking step {seq} of {instance_id} published failed: {exc}") from exc

    def last_step(self, instance_id: str, execution_id: str) -> StepRecord | None:
        steps = self._query_steps(instance_id, execution_id, scan_index_forward=False, limit=1)
        return steps[0] if steps else None

    def _delete_executions(self, instance_id: str, execution_id: str, *, older_too: bool) -> int:
        """Delete an execution's items of every kind but the record (steps, parts, inbox,
        its notice), and with ``older_too`` those of every older execution (IDs sort by
        time); returns how many."""
        m, deleted = self._item, 0
        for kind in ("H", "P", "I"):
            if older_too:
                deleted += self._delete_where(instance_id, m.sk.between(f"{kind}#", f"{kind}#{execution_id}#~"))
            else:
                deleted += self._delete_where(instance_id, m.sk.startswith(f"{kind}#{execution_id}#"))
        notice = m.sk.between("N#", f"N#{execution_id}~") if older_too else m.sk == f"N#{execution_id}"
        return deleted + self._delete_where(instance_id, notice)

    def _delete_where(self, instance_id: str, condition: Any) -> int:
        count = 0
        try:
            keys = self._item.query(instance_id, condition, attributes_to_get=[PK, SK])
            with self._item.batch_write() as batch:
                for item in keys:
                    batch.delete(item)
                    count += 1
        except PynamoDBException as exc:
            raise StoreError(f"deleting items of {instance_id} failed: {exc}") from exc
        return count

    # -- inbox ---------------------------------------------------------------------
    def put_inbox(self, instance_id: str, execution_id: str, token: str, events: Sequence[HistoryEvent]) -> bool:
        prefix = history_prefix(instance_id, execution_id)
        text = events_to_str(events, lambda v: self._codec.pack(v, prefix))
        if len(text) > PART_BYTES:
            return False
        item = self._item(instance_id, f"I#{execution_id}#{token}", events=text)
        try:
            item.save()
        except PynamoDBException as exc:
            raise StoreError(f"writing to the inbox of {instance_id} failed: {exc}") from exc
        return True

    def load_inbox(self, instance_id: str, execution_id: str) -> list[tuple[str, tuple[HistoryEvent, ...]]]:
        try:
            items = list(
                self._item.query(instance_id, self._item.sk.startswith(f"I#{execution_id}#"), consistent_read=True)
            )
        except PynamoDBException as exc:
            raise StoreError(f"reading the inbox of {instance_id} failed: {exc}") from exc
        return [(i.sk.rsplit("#", 1)[1], events_from_str(i.events, self._codec.unpack)) for i in items]

    def delete_inbox(self, instance_id: str, execution_id: str, tokens: Sequence[str]) -> None:
        try:
            with self._item.batch_write() as batch:
                for token in tokens:
                    batch.delete(self._item(instance_id, f"I#{execution_id}#{token}"))
        except PynamoDBException as exc:
            raise StoreError(f"deleting from the inbox of {instance_id} failed: {exc}") from exc

    def inbox_noticed(self, instance_id: str, execution_id: str, now: datetime, stale_after: float) -> bool:
        try:
            pending = self._item.get(instance_id, f"N#{execution_id}", consistent_read=True)
        except self._item.DoesNotExist:
            return False
        except PynamoDBException as exc:
            raise StoreError(f"reading the inbox notice of {instance_id} failed: {exc}") from exc
        return (now - parse_time(pending.updated_at)).total_seconds() < stale_after

    def note_inbox(self, instance_id: str, execution_id: str, now: datetime) -> None:
        try:
            self._item(instance_id, f"N#{execution_id}", updated_at=format_time(now)).save()
        except PynamoDBException as exc:
            raise StoreError(f"noting the inbox of {instance_id} failed: {exc}") from exc

    def clear_inbox_notice(self, instance_id: str, execution_id: str) -> None:
        try:
            self._item(instance_id, f"N#{execution_id}").delete()
        except PynamoDBException as exc:
            raise StoreError(f"clearing the inbox notice of {instance_id} failed: {exc}") from exc

    def delete_execution(self, instance_id: str, execution_id: str) -> None:
        self._delete_executions(instance_id, execution_id, older_too=False)
        if self._codec.blobs is not None:
            self._codec.blobs.delete_prefix(history_prefix(instance_id, execution_id))

    def expired(self, instance_id: str, execution_ids: Sequence[str]) -> int:
        """Delete what is left of an instance whose record expired (its TTL): the items
        of the newest of ``execution_ids`` (the record's execution) and of every older
        one, and the blobs of ``execution_ids`` (the record's execution and those it
        superseded). An execution newer than the record's (the ID started again since)
        is not touched. Deleting what is gone already is no error: a retried expiry
        finishes the first's work. Returns how many items were deleted."""
        deleted = self._delete_executions(instance_id, max(execution_ids), older_too=True)
        if self._codec.blobs is not None:
            for execution_id in execution_ids:
                self._codec.blobs.delete_prefix(history_prefix(instance_id, execution_id))
        return deleted

    def purge(self, instance_id: str, execution_id: str) -> int:
        m = self._item
        record = m(instance_id, META)
        deleted = 1
        try:
            record.delete(condition=m.execution_id == execution_id)
        except DeleteError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise StoreError(f"deleting instance {instance_id} failed: {exc}") from exc
            if self.get_meta(instance_id) is not None:
                raise ConflictError(f"instance {instance_id} changed concurrently") from exc
            deleted = 0  # gone already (a purge retried): its items may remain
        except PynamoDBException as exc:
            raise StoreError(f"deleting instance {instance_id} failed: {exc}") from exc
        # The record goes first: a crash after it leaves only items nothing reads.
        deleted += self._delete_executions(instance_id, execution_id, older_too=True)
        if self._codec.blobs is not None:
            # Every execution's: none newer than the record's can exist.
            self._codec.blobs.delete_prefix(history_prefix(instance_id))
        return deleted
