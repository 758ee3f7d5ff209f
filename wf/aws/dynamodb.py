"""DynamoDB ``InstanceStore`` through pynamodb: one table, conditional writes only.

Layout (partition key ``pk`` = instance ID):
- ``sk = "META"``: the instance record; ``status_key``/``created_at`` feed the
  ``by_status`` index that listings query (workflow name projected). The index key is
  the status plus one of ``STATUS_SHARDS`` shards of the instance ID: a status alone
  would put every running instance in one index partition, whose write limit (about
  1,000 per second) would then cap starts and completions for the whole table.
- ``sk = "H#<execution>#<seq>"``: one item per step, written once with
  ``attribute_not_exists``: two invocations racing on an instance cannot both commit.
"""

from __future__ import annotations

import heapq
import json
import zlib
from collections.abc import Iterator
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, TransactWriteError
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from wf.core.history import ParentRef, format_time, parse_time
from wf.core.status import WorkflowStatus
from wf.engine.store import InstanceMeta, InstanceSummary, StepRecord, events_from_str, events_to_str
from wf.errors import ConflictError, FailureDetails, StoreError

META = "META"


def make_item_model(table_name: str, region: str, host: str | None) -> type[Model]:
    """A pynamodb model bound to one table (the table name is configuration)."""

    class ByStatus(GlobalSecondaryIndex[Any]):  # type: ignore[no-untyped-call]
        class Meta:
            index_name = "by_status"
            projection = IncludeProjection(["workflow_name"])

        status_key = UnicodeAttribute(hash_key=True)
        created_at = UnicodeAttribute(range_key=True)

    class Item(Model):
        class Meta:
            pass

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        execution_id = UnicodeAttribute(null=True)
        workflow_name = UnicodeAttribute(null=True)
        wf_status = UnicodeAttribute(null=True)
        status_key = UnicodeAttribute(null=True)
        created_at = UnicodeAttribute(null=True)
        updated_at = UnicodeAttribute(null=True)
        output = UnicodeAttribute(null=True)
        failure = UnicodeAttribute(null=True)
        custom_status = UnicodeAttribute(null=True)
        parent = UnicodeAttribute(null=True)
        first_step = UnicodeAttribute(null=True)
        events = UnicodeAttribute(null=True)
        step_status = UnicodeAttribute(null=True)
        synced_seq = NumberAttribute(null=True)
        superseded = UnicodeAttribute(null=True)
        by_status = ByStatus()

    Item.Meta.table_name = table_name  # type: ignore[attr-defined]
    Item.Meta.region = region  # type: ignore[attr-defined]
    if host:
        Item.Meta.host = host  # type: ignore[attr-defined]
    return Item


STATUS_SHARDS = 16


def status_key(status: WorkflowStatus, instance_id: str) -> str:
    """The ``by_status`` index key of an instance: its status and its shard."""
    return f"{status.value}#{zlib.crc32(instance_id.encode()) % STATUS_SHARDS:02d}"


def _step_key(execution_id: str, seq: int) -> str:
    return f"H#{execution_id}#{seq:08d}"


class DynamoStore:
    """``InstanceStore`` on one DynamoDB table."""

    def __init__(self, item_model: type[Model]) -> None:
        # Any: the model's attributes are made at run time, which mypy cannot follow.
        self._item: Any = item_model

    # -- meta ----------------------------------------------------------------------
    def _to_item(self, meta: InstanceMeta) -> Any:
        failure = json.dumps(meta.failure.to_json()) if meta.failure else None
        parent = None
        if meta.parent:
            p = meta.parent
            parent = json.dumps({"instance_id": p.instance_id, "execution_id": p.execution_id, "task_id": p.task_id})
        return self._item(
            meta.instance_id,
            META,
            execution_id=meta.execution_id,
            workflow_name=meta.workflow_name,
            wf_status=meta.status.value,
            status_key=status_key(meta.status, meta.instance_id),
            created_at=format_time(meta.created_at),
            updated_at=format_time(meta.updated_at),
            output=meta.output,
            failure=failure,
            custom_status=meta.custom_status,
            parent=parent,
            first_step=events_to_str(meta.first_step),
            synced_seq=meta.synced_seq,
            superseded=json.dumps([[e, format_time(t)] for e, t in meta.superseded]) if meta.superseded else None,
        )

    @staticmethod
    def _from_item(item: Any) -> InstanceMeta:
        parent = None
        if item.parent:
            p = json.loads(item.parent)
            parent = ParentRef(p["instance_id"], p["execution_id"], int(p["task_id"]))
        return InstanceMeta(
            instance_id=item.pk,
            execution_id=item.execution_id,
            workflow_name=item.workflow_name,
            status=WorkflowStatus(item.wf_status),
            created_at=parse_time(item.created_at),
            updated_at=parse_time(item.updated_at),
            first_step=events_from_str(item.first_step or "[]"),
            output=item.output,
            failure=FailureDetails.from_json(json.loads(item.failure)) if item.failure else None,
            custom_status=item.custom_status,
            parent=parent,
            synced_seq=int(item.synced_seq or 0),
            superseded=tuple((e, parse_time(t)) for e, t in json.loads(item.superseded or "[]")),
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

    def list_instances(self, status: WorkflowStatus) -> Iterator[InstanceSummary]:
        """Instances whose record has ``status``, oldest first (the index is eventually
        consistent: a change shows within about a second)."""

        def shard(n: int) -> Iterator[InstanceSummary]:
            try:
                for item in self._item.by_status.query(f"{status.value}#{n:02d}"):
                    yield InstanceSummary(item.pk, item.workflow_name, parse_time(item.created_at))
            except PynamoDBException as exc:
                raise StoreError(f"listing {status.value} instances failed: {exc}") from exc

        return heapq.merge(*(shard(n) for n in range(STATUS_SHARDS)), key=lambda s: s.created_at)

    def continue_as_new(
        self, meta: InstanceMeta, *, replaces: str, seal: StepRecord, first: StepRecord | None = None
    ) -> None:
        m = self._item
        step_free = m.pk.does_not_exist()
        items = [(self._step_item(meta.instance_id, replaces, seal), step_free)]
        if first is not None:
            items.append((self._step_item(meta.instance_id, meta.execution_id, first), step_free))
        items.append((self._to_item(meta), m.execution_id == replaces))
        connection = Connection(region=m.Meta.region, host=getattr(m.Meta, "host", None))
        try:
            with TransactWrite(connection=connection) as tx:
                for item, condition in items:
                    tx.save(item, condition=condition)
        except TransactWriteError as exc:
            if exc.cause_response_code == "TransactionCanceledException":
                raise ConflictError(f"instance {meta.instance_id} changed concurrently") from exc
            raise StoreError(f"continuing {meta.instance_id} as new failed: {exc}") from exc

    # -- steps ---------------------------------------------------------------------
    def _step_item(self, instance_id: str, execution_id: str, step: StepRecord) -> Any:
        return self._item(
            instance_id,
            _step_key(execution_id, step.seq),
            events=events_to_str(step.events),
            step_status=step.status.value,
            custom_status=step.custom_status,
        )

    def append_step(self, instance_id: str, execution_id: str, step: StepRecord) -> None:
        item = self._step_item(instance_id, execution_id, step)
        self._put(item, self._item.pk.does_not_exist(), f"step {step.seq} of {instance_id} already written")

    def _query_steps(self, instance_id: str, execution_id: str, after: int = -1, **kwargs: Any) -> list[StepRecord]:
        prefix = f"H#{execution_id}#"
        condition = (
            self._item.sk.startswith(prefix)
            if after < 0
            else self._item.sk.between(_step_key(execution_id, after + 1), _step_key(execution_id, 99_999_999))
        )
        try:
            items = self._item.query(instance_id, condition, consistent_read=True, **kwargs)
            return [self._step(i) for i in items]
        except PynamoDBException as exc:
            raise StoreError(f"reading the history of {instance_id} failed: {exc}") from exc

    @staticmethod
    def _step(item: Any) -> StepRecord:
        return StepRecord(
            int(item.sk.rsplit("#", 1)[1]),
            events_from_str(item.events),
            WorkflowStatus(item.step_status),
            item.custom_status,
        )

    def load_steps(self, instance_id: str, execution_id: str, after: int = -1) -> list[StepRecord]:
        return self._query_steps(instance_id, execution_id, after)

    def get_step(self, instance_id: str, execution_id: str, seq: int) -> StepRecord | None:
        try:
            return self._step(self._item.get(instance_id, _step_key(execution_id, seq), consistent_read=True))
        except self._item.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StoreError(f"reading step {seq} of {instance_id} failed: {exc}") from exc

    def last_step(self, instance_id: str, execution_id: str) -> StepRecord | None:
        steps = self._query_steps(instance_id, execution_id, scan_index_forward=False, limit=1)
        return steps[0] if steps else None

    def _delete_where(self, instance_id: str, condition: Any) -> int:
        count = 0
        try:
            keys = self._item.query(instance_id, condition, attributes_to_get=["pk", "sk"])
            with self._item.batch_write() as batch:
                for item in keys:
                    batch.delete(item)
                    count += 1
        except PynamoDBException as exc:
            raise StoreError(f"deleting items of {instance_id} failed: {exc}") from exc
        return count

    def delete_execution(self, instance_id: str, execution_id: str) -> None:
        self._delete_where(instance_id, self._item.sk.startswith(f"H#{execution_id}#"))

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
        return deleted + self._delete_where(instance_id, m.sk.between("H#", f"H#{execution_id}#~"))
