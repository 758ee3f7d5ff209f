"""The store contract: one suite run against the in-memory store and the DynamoDB
store (on moto, and on AWS's own DynamoDB Local), so that what the fast engine tests
prove on memory holds on DynamoDB."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from wf.core.history import ActivityScheduled, ParentRef, TurnStarted, WorkflowStarted
from wf.core.status import WorkflowStatus
from wf.engine.status_events import PendingChange
from wf.engine.store import InstanceMeta, InstancePage, InstanceQuery, InstanceStore, ScheduledStart, StepRecord
from wf.errors import ConflictError, FailureDetails, StoreError
from wf.testing import MemoryBlobs, MemoryStore

T0 = datetime(2026, 1, 12, 21, 31, 13, 381146, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb", "dynamodb+s3", "dynamodb-local"])
def store(request: Any) -> Iterator[InstanceStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "dynamodb-local":  # AWS's own DynamoDB Local, not moto
        yield _local_store(request.getfixturevalue("dynamodb_local"))
        return
    from moto import mock_aws

    from wf.aws.dynamodb import DynamoStore
    from wf.aws.s3 import S3Blobs
    from wf.aws.table import make_item_model
    from wf.dev.provision import ensure_resources

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1") if request.param == "dynamodb+s3" else None
        res = ensure_resources(
            boto3.client("dynamodb", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1"), s3=s3
        )
        blobs = S3Blobs(lambda: s3, res.bucket_name) if s3 is not None and res.bucket_name else None
        yield DynamoStore(make_item_model(res.table_name, "us-east-1", None), blobs)


def local_table(endpoint: str) -> Any:
    """A fresh table on the session's DynamoDB Local, as the template declares it (one per
    test): its pynamodb model."""
    from wf.aws.table import make_item_model, table_definition

    name = f"wf-instances-contract-{uuid.uuid4().hex[:12]}"  # the template's table, one per test
    ddb = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    ddb.create_table(**table_definition(name))
    return make_item_model(name, "us-east-1", endpoint)


def _local_store(endpoint: str) -> InstanceStore:
    """A DynamoStore on a fresh table of the session's DynamoDB Local."""
    from wf.aws.dynamodb import DynamoStore

    return DynamoStore(local_table(endpoint))


@pytest.fixture(params=["memory", "s3"])
def blobs(request: Any) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryBlobs()
        return
    from moto import mock_aws

    from wf.aws.s3 import S3Blobs
    from wf.dev.provision import ensure_bucket

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        yield S3Blobs(lambda: s3, ensure_bucket(s3))


def meta(iid: str = "i1", execution: str = "e1", **changes: Any) -> InstanceMeta:
    first = (TurnStarted(T0), WorkflowStarted(T0, "wf", '{"a":1}'))
    base = InstanceMeta(iid, execution, "wf", WorkflowStatus.RUNNING, T0, T0, first)
    return base.with_(**changes)


def step(seq: int, status: WorkflowStatus = WorkflowStatus.RUNNING, custom: str | None = None) -> StepRecord:
    at = T0 + timedelta(seconds=seq)
    return StepRecord(seq, (TurnStarted(at), ActivityScheduled(at, seq, "act", str(seq))), status, custom)


def test_an_instance_is_created_once_and_replaced_only_from_its_current_execution(store: InstanceStore) -> None:
    assert store.get_meta("i1") is None
    store.put_meta(meta(), replaces=None)
    with pytest.raises(ConflictError):
        store.put_meta(meta(execution="e2"), replaces=None)
    with pytest.raises(ConflictError):
        store.put_meta(meta(execution="e3"), replaces="e-not-current")
    store.put_meta(meta(execution="e2"), replaces="e1")
    got = store.get_meta("i1")
    assert got is not None and got.execution_id == "e2"


def test_the_record_round_trips_every_field(store: InstanceStore) -> None:
    full = meta(
        status=WorkflowStatus.FAILED,
        output='"out"',
        failure=FailureDetails("boom", "ValueError", "Traceback ..."),
        custom_status="half way",
        parent=ParentRef("p1", "pe1", 3),
        synced_seq=4,
        superseded=(("e0", T0 - timedelta(minutes=1)),),
    )
    store.put_meta(full, replaces=None)
    assert store.get_meta("i1") == full
    # A scheduled start's PENDING record: no first step, its time and input (a large
    # one kept as any payload is).
    pending = meta(
        "i2",
        status=WorkflowStatus.PENDING,
        first_step=(),
        scheduled=ScheduledStart(T0 + timedelta(hours=3), "x" * 70_000),
    )
    store.put_meta(pending, replaces=None)
    assert store.get_meta("i2") == pending


def test_a_step_is_written_once_and_read_back_in_order(store: InstanceStore) -> None:
    store.put_meta(meta(), replaces=None)
    for seq in (2, 1, 3):
        store.append_step("i1", "e1", step(seq, custom=f"c{seq}"))
    with pytest.raises(ConflictError):
        store.append_step("i1", "e1", step(2))
    assert [s.seq for s in store.load_steps("i1", "e1")] == [1, 2, 3]
    assert [s.seq for s in store.load_steps("i1", "e1", after=1)] == [2, 3]
    assert store.load_steps("i1", "e1")[1] == step(2, custom="c2")
    assert store.get_step("i1", "e1", 3) == step(3, custom="c3")
    assert store.get_step("i1", "e1", 9) is None
    last = store.last_step("i1", "e1")
    assert last is not None and last.seq == 3
    assert store.last_step("i1", "other") is None
    assert store.load_steps("i1", "other") == []


def test_a_status_change_marker_is_kept_with_its_step_until_announced(store: InstanceStore) -> None:
    store.put_meta(meta(), replaces=None)
    pending = PendingChange(WorkflowStatus.RUNNING, WorkflowStatus.FAILED, T0, cause=T0 - timedelta(seconds=1))
    marked = replace(step(1, WorkflowStatus.FAILED), pending=pending)
    store.append_step("i1", "e1", marked)
    assert store.get_step("i1", "e1", 1) == marked
    assert store.load_steps("i1", "e1") == [marked]
    store.announced("i1", "e1", 1)
    store.announced("i1", "e1", 1)  # again: nothing left to take off
    assert store.get_step("i1", "e1", 1) == step(1, WorkflowStatus.FAILED)
    store.announced("i1", "e1", 7)  # no such step: nothing is written
    assert store.get_step("i1", "e1", 7) is None


def test_a_summary_moves_only_forward_and_only_for_the_current_execution(store: InstanceStore) -> None:
    store.put_meta(meta(), replaces=None)
    store.update_meta(meta(status=WorkflowStatus.COMPLETED, output="1", synced_seq=2))
    with pytest.raises(ConflictError):
        store.update_meta(meta(status=WorkflowStatus.RUNNING, synced_seq=2))  # not newer
    with pytest.raises(ConflictError):
        store.update_meta(meta(execution="e9", synced_seq=5))  # not the current execution
    got = store.get_meta("i1")
    assert got is not None and (got.status, got.output, got.synced_seq) == (WorkflowStatus.COMPLETED, "1", 2)


def test_an_execution_is_read_with_its_record_in_one_go(store: InstanceStore) -> None:
    assert store.read_execution("i1", "e1") == (None, [])
    store.put_meta(meta(execution="e2"), replaces=None)
    for execution in ("e1", "e2", "e3"):
        for seq in (1, 2, 3):
            store.append_step("i1", execution, step(seq, custom=execution))
    store.put_inbox("i1", "e2", "t1", step(9).events)
    record, steps = store.read_execution("i1", "e2")
    assert record == meta(execution="e2")
    assert steps == [step(seq, custom="e2") for seq in (1, 2, 3)]  # not the other executions', nor the inbox
    assert store.read_execution("i1", "e2", after=2) == (meta(execution="e2"), [step(3, custom="e2")])
    assert store.read_execution("i1", "e2", after=3) == (meta(execution="e2"), [])
    # Of an execution the record does not name: its steps, and the record that says so.
    assert store.read_execution("i1", "e1", after=1) == (
        meta(execution="e2"),
        [step(2, custom="e1"), step(3, custom="e1")],
    )


def test_continue_as_new_is_all_or_nothing(store: InstanceStore) -> None:
    store.put_meta(meta(), replaces=None)
    store.append_step("i1", "e1", step(1))
    seal = StepRecord(2, (), WorkflowStatus.CONTINUED_AS_NEW)
    new = meta(execution="e2", first_step=())
    first = step(0)
    # The old execution moved on (its next step is taken): nothing is written.
    store.append_step("i1", "e1", step(2))
    with pytest.raises(ConflictError):
        store.continue_as_new(new, replaces="e1", seal=seal, first=first)
    assert store.get_meta("i1") == meta()
    assert store.load_steps("i1", "e2") == []
    # The record names another execution: nothing is written.
    seal = StepRecord(3, (), WorkflowStatus.CONTINUED_AS_NEW)
    with pytest.raises(ConflictError):
        store.continue_as_new(new, replaces="e0", seal=seal, first=first)
    assert [s.seq for s in store.load_steps("i1", "e1")] == [1, 2]
    # The new execution's first step exists already: nothing is written.
    store.append_step("i1", "e2", first)
    with pytest.raises(ConflictError):
        store.continue_as_new(new, replaces="e1", seal=seal, first=first)
    assert store.get_meta("i1") == meta() and store.get_step("i1", "e1", 3) is None
    store.delete_execution("i1", "e2")
    # Otherwise all of it is written.
    store.continue_as_new(new, replaces="e1", seal=seal, first=first)
    assert store.get_meta("i1") == new
    assert store.get_step("i1", "e1", 3) == seal
    assert store.load_steps("i1", "e2") == [first]
    # And the sealed execution takes no step after it.
    with pytest.raises(ConflictError):
        store.append_step("i1", "e1", step(3))


def test_deleting_an_execution_leaves_the_rest_and_purge_removes_everything(store: InstanceStore) -> None:
    store.put_meta(meta(), replaces=None)
    store.append_step("i1", "e1", step(1))
    store.append_step("i1", "e0", step(1))
    store.append_step("i1", "e0", step(2))
    store.put_meta(meta("i2"), replaces=None)
    store.delete_execution("i1", "e0")
    assert store.load_steps("i1", "e0") == [] and len(store.load_steps("i1", "e1")) == 1
    # A purge of an execution that is no longer the instance's changes nothing.
    with pytest.raises(ConflictError):
        store.purge("i1", "e0")
    assert store.get_meta("i1") is not None
    store.append_step("i1", "e2", step(0))  # a newer execution's first step (a restart under way)
    assert store.purge("i1", "e1") == 2  # the record and one step
    assert store.get_meta("i1") is None and store.load_steps("i1", "e1") == []
    assert store.load_steps("i1", "e2") == [step(0)]  # newer executions' items are not touched
    assert store.get_meta("i2") is not None
    assert store.purge("i1", "e1") == 0


def test_an_expired_instance_s_executions_go_but_a_newer_one_stays(store: InstanceStore) -> None:
    """What the retention leaves for ``expired`` (the record is gone, by its TTL): the
    record's execution and older ones go, inbox and notice too; a newer one (the ID
    started again meanwhile) and other instances stay; a retry deletes nothing more."""
    store.put_meta(meta(), replaces=None)
    for execution in ("e0", "e1", "e2"):
        store.append_step("i1", execution, step(1))
    store.put_inbox("i1", "e1", "t1", step(2).events)
    store.note_inbox("i1", "e1", T0)
    store.put_meta(meta("i2"), replaces=None)
    store.append_step("i2", "e1", step(1))
    # (The record is the TTL's to delete, not expired's.)
    assert store.expired("i1", ["e1", "e0"]) == 4  # two steps, the inbox entry, the notice
    assert store.load_steps("i1", "e0") == [] and store.load_steps("i1", "e1") == []
    assert store.load_inbox("i1", "e1") == [] and not store.inbox_noticed("i1", "e1", T0, 60)
    assert store.load_steps("i1", "e2") == [step(1)] and store.load_steps("i2", "e1") == [step(1)]
    assert store.expired("i1", ["e1", "e0"]) == 0


def _all_pages(store: InstanceStore, query: InstanceQuery, size: int) -> list[list[str]]:
    pages, after = [], None
    while True:
        page = store.list_instances(query, limit=size, after=after)
        pages.append([s.instance_id for s in page.instances])
        if page.next is None:
            return pages
        after = page.next


def test_listing_is_newest_first_filtered_and_paged_without_gaps(store: InstanceStore) -> None:
    statuses = [WorkflowStatus.RUNNING, WorkflowStatus.COMPLETED, WorkflowStatus.FAILED]
    for n in range(23):
        # Three instances share each creation time: ties are ordered by ID, across pages.
        created = T0 + timedelta(seconds=n // 3)
        parent = ParentRef("p0", "e1", 1) if n == 5 else None
        m = meta(f"i{n:02d}", created_at=created, updated_at=created + timedelta(seconds=1), status=statuses[n % 3])
        store.put_meta(m.with_(parent=parent, workflow_name="other" if n % 2 else "wf"), replaces=None)
    everything = sorted(((T0 + timedelta(seconds=n // 3), f"i{n:02d}") for n in range(23)), reverse=True)
    want = [i for _, i in everything]
    for size in (4, 23, 100):
        pages = _all_pages(store, InstanceQuery(), size)
        assert [i for p in pages for i in p] == want, size
        assert all(len(p) == size for p in pages[:-1]) and 0 < len(pages[-1]) <= size
    # One status's page, larger than its shards' first reads (each asks for its share
    # of the page): the shards holding more are read on.
    for n in range(23, 90):
        store.put_meta(meta(f"i{n:02d}", created_at=T0 + timedelta(minutes=n)), replaces=None)
    running = [f"i{n:02d}" for n in range(89, 22, -1)]
    running += [i for i in want if int(i[1:]) % 3 == 0]
    pages = _all_pages(store, InstanceQuery(statuses=frozenset({WorkflowStatus.RUNNING})), 30)
    assert [i for p in pages for i in p] == running
    for n in range(23, 90):
        store.purge(f"i{n:02d}", "e1")
    page = store.list_instances(InstanceQuery(), limit=100)
    first = {s.instance_id: s for s in page.instances}
    assert first["i05"].parent_instance_id == "p0" and first["i04"].parent_instance_id is None
    assert first["i04"].status is WorkflowStatus.COMPLETED and first["i04"].workflow_name == "wf"
    assert first["i04"].updated_at == T0 + timedelta(seconds=2)

    def ids(query: InstanceQuery, size: int = 5) -> list[str]:
        return [i for p in _all_pages(store, query, size) for i in p]

    done = frozenset({WorkflowStatus.COMPLETED, WorkflowStatus.FAILED})
    assert ids(InstanceQuery(statuses=done)) == [i for i in want if int(i[1:]) % 3]
    assert ids(InstanceQuery(workflow_name="other")) == [i for i in want if int(i[1:]) % 2]
    window = InstanceQuery(created_from=T0 + timedelta(seconds=2), created_to=T0 + timedelta(seconds=4))
    assert ids(window) == [i for i in want if 6 <= int(i[1:]) <= 14]
    assert ids(InstanceQuery(id_prefix="i1")) == [i for i in want if i.startswith("i1")]
    both = InstanceQuery(statuses=frozenset({WorkflowStatus.RUNNING}), workflow_name="wf", id_prefix="i1")
    assert ids(both, 2) == [i for i in want if int(i[1:]) % 3 == 0 and int(i[1:]) % 2 == 0 and i.startswith("i1")]
    assert store.list_instances(InstanceQuery(workflow_name="none"), limit=5) == InstancePage((), None)


def test_a_wide_step_with_large_payloads_reads_back_whole(store: InstanceStore) -> None:
    store.put_meta(meta(), replaces=None)
    big = "é" * 30_000  # over the offload threshold, in UTF-8 and in JSON escapes
    events = [TurnStarted(T0), *(ActivityScheduled(T0, i, "act", f"{i:05d}" + "x" * 900) for i in range(1, 400))]
    events.append(ActivityScheduled(T0, 400, "act", big))
    store.append_step("i1", "e1", StepRecord(1, tuple(events), WorkflowStatus.RUNNING, big))
    (got,) = store.load_steps("i1", "e1")
    assert list(got.events) == events and got.custom_status == big
    last = store.last_step("i1", "e1")
    assert last is not None and list(last.events) == events
    store.update_meta(meta(status=WorkflowStatus.COMPLETED, output=big, synced_seq=2, custom_status=big))
    done = store.get_meta("i1")
    assert done is not None and done.output == big and done.custom_status == big
    assert store.purge("i1", "e1") >= 2
    assert store.get_meta("i1") is None and store.load_steps("i1", "e1") == []


def test_the_inbox_keeps_entries_by_token_until_taken_out_and_goes_with_its_execution(store: InstanceStore) -> None:
    from wf.core.history import ActivityCompleted

    store.put_meta(meta(), replaces=None)
    one = (ActivityCompleted(T0, 1, "1"),)
    two = (ActivityCompleted(T0, 2, "2"), ActivityCompleted(T0, 3, "3"))
    assert store.put_inbox("i1", "e1", "t2", two) and store.put_inbox("i1", "e1", "t1", one)
    assert store.load_inbox("i1", "e1") == [("t1", one), ("t2", two)]
    assert store.load_inbox("i1", "other") == []
    store.delete_inbox("i1", "e1", ["t1", "gone-already"])
    assert store.load_inbox("i1", "e1") == [("t2", two)]
    # The notice: pending until cleared, or until it is older than the staleness bound.
    assert not store.inbox_noticed("i1", "e1", T0, 10)
    store.note_inbox("i1", "e1", T0)
    assert store.inbox_noticed("i1", "e1", T0 + timedelta(seconds=9), 10)
    assert not store.inbox_noticed("i1", "e1", T0 + timedelta(seconds=11), 10)
    store.clear_inbox_notice("i1", "e1")
    assert not store.inbox_noticed("i1", "e1", T0, 10)
    store.note_inbox("i1", "e1", T0)
    store.purge("i1", "e1")
    assert store.load_inbox("i1", "e1") == [] and not store.inbox_noticed("i1", "e1", T0, 10)


def test_blobs_are_kept_by_key_and_deleted_by_prefix(blobs: Any) -> None:
    blobs.put("h/a/e1/x", b"one")
    blobs.put("h/a/e2/y", b"two")
    blobs.put("h/ab/e1/z", b"three")
    blobs.put("h/a/e1/x", b"one")  # written again: the same object
    assert blobs.get("h/a/e1/x") == b"one"
    assert blobs.delete_prefix("h/a/") == 2
    assert blobs.get("h/ab/e1/z") == b"three"
    with pytest.raises(StoreError):
        blobs.get("h/a/e2/y")
