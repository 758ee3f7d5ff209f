"""The store contract: one suite run against the in-memory store and the DynamoDB
store (on moto), so that what the fast engine tests prove on memory holds on DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from wf.core.history import ActivityScheduled, ParentRef, TurnStarted, WorkflowStarted
from wf.core.status import WorkflowStatus
from wf.engine.store import InstanceMeta, InstanceStore, StepRecord
from wf.errors import ConflictError, FailureDetails
from wf.testing import MemoryStore

T0 = datetime(2026, 1, 12, 21, 31, 13, 381146, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: Any) -> Iterator[InstanceStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    from moto import mock_aws

    from wf.aws.dynamodb import DynamoStore, make_item_model
    from wf.dev.provision import ensure_resources

    with mock_aws():
        res = ensure_resources(
            boto3.client("dynamodb", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        )
        yield DynamoStore(make_item_model(res.table_name, "us-east-1", None))


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


def test_a_summary_moves_only_forward_and_only_for_the_current_execution(store: InstanceStore) -> None:
    store.put_meta(meta(), replaces=None)
    store.update_meta(meta(status=WorkflowStatus.COMPLETED, output="1", synced_seq=2))
    with pytest.raises(ConflictError):
        store.update_meta(meta(status=WorkflowStatus.RUNNING, synced_seq=2))  # not newer
    with pytest.raises(ConflictError):
        store.update_meta(meta(execution="e9", synced_seq=5))  # not the current execution
    got = store.get_meta("i1")
    assert got is not None and (got.status, got.output, got.synced_seq) == (WorkflowStatus.COMPLETED, "1", 2)


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


def test_listing_by_status_is_oldest_first(store: InstanceStore) -> None:
    for n in range(5):
        status = WorkflowStatus.COMPLETED if n % 2 else WorkflowStatus.RUNNING
        store.put_meta(meta(f"i{n}", created_at=T0 + timedelta(seconds=10 - n), status=status), replaces=None)
    running = list(store.list_instances(WorkflowStatus.RUNNING))
    assert [s.instance_id for s in running] == ["i4", "i2", "i0"]
    assert {s.workflow_name for s in running} == {"wf"}
    assert [s.instance_id for s in store.list_instances(WorkflowStatus.COMPLETED)] == ["i3", "i1"]
