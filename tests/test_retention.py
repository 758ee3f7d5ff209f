"""Retention: a terminal instance's record carries the table's TTL attribute, written by
the write that makes it terminal; the stream's report of its TTL deletion (the file
`events/ttl_expired.json`, as Lambda delivers it) makes the function delete the rest of
the instance, children alike, and nothing of an instance started again on its ID."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import boto3
import pytest

from tests.aws_stack import Stack, load_event
from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime
from wf.aws.settings import Settings
from wf.errors import ConfigurationError

wfr = WorkflowRuntime()
BIG = "x" * 40_000  # over the offload threshold: kept in the bucket


@wfr.activity(name="big")
def big(ctx: WorkflowActivityContext, n: int) -> str:
    return BIG


@wfr.workflow(name="kid")
def kid(ctx: DaprWorkflowContext, n: int):
    return len((yield ctx.call_activity(big, input=n)))


@wfr.workflow(name="family")
def family(ctx: DaprWorkflowContext, n: int):
    got = yield ctx.call_child_workflow(kid, input=n, instance_id=f"{ctx.instance_id}-kid")
    yield ctx.call_activity(big, input=n)
    return got


@wfr.workflow(name="waits")
def waits(ctx: DaprWorkflowContext, _):
    return (yield ctx.wait_for_external_event("go"))


P = "/v1.0/workflows/dapr"


def items_of(stack: Stack, iid: str) -> list[dict]:
    return [i for i in stack.table_items() if i["pk"]["S"] == iid]


def expire(stack: Stack, iid: str, *, by: str = "dynamodb.amazonaws.com") -> dict:
    """What DynamoDB does when the record is due: delete it, and report it on the stream."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    key = {"pk": {"S": iid}, "sk": {"S": "META"}}
    old = ddb.delete_item(TableName=stack.res.table_name, Key=key, ReturnValues="ALL_OLD")["Attributes"]
    event = copy.deepcopy(load_event("ttl_expired.json"))
    record = event["Records"][0]
    record["userIdentity"]["principalId"] = by
    record["dynamodb"].update(Keys=key, OldImage=old)
    return stack._call(event)


def test_terminal_records_expire_and_take_the_rest_of_their_instance(aws) -> None:
    stack = Stack(wfr, bucket=True, retention_days=30)
    assert stack.post(f"{P}/family/start", "1", query={"instanceID": "fam"})[0] == 202
    assert stack.post(f"{P}/waits/start", "1", query={"instanceID": "open"})[0] == 202
    stack.pump()
    assert stack.status("fam") == "COMPLETED" and stack.status("fam-kid") == "COMPLETED"
    metas = {i["pk"]["S"]: i for i in stack.table_items() if i["sk"]["S"] == "META"}
    for iid in ("fam", "fam-kid"):
        updated = stack.get(iid)[1]["lastUpdatedAt"]
        from wf.core.history import parse_time

        want = (parse_time(updated) + timedelta(days=30)).timestamp()
        assert abs(int(metas[iid]["expire_at"]["N"]) - want) <= 1, iid
    assert "expire_at" not in metas["open"]  # running: kept
    assert any(k.startswith("h/fam/") for k in stack.blob_keys())
    assert any(k.startswith("h/fam-kid/") for k in stack.blob_keys())

    # The parent's record expires: the rest of it goes, and a second report of the same
    # expiry (the stream delivers at least once) deletes nothing more.
    assert expire(stack, "fam") == {"batchItemFailures": []}
    assert items_of(stack, "fam") == [] and not any(k.startswith("h/fam/") for k in stack.blob_keys())
    assert stack.get("fam")[0] == 404
    assert items_of(stack, "fam-kid")  # the child has a record, and a TTL, of its own
    expire(stack, "fam-kid")
    assert items_of(stack, "fam-kid") == [] and stack.blob_keys() == []
    assert items_of(stack, "open")

    # An ID started again after its record expired, before the report was handled: the
    # report deletes the old execution's leftovers only.
    assert stack.post(f"{P}/family/start", "2", query={"instanceID": "again"})[0] == 202
    stack.pump()
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    key = {"pk": {"S": "again"}, "sk": {"S": "META"}}
    old = ddb.delete_item(TableName=stack.res.table_name, Key=key, ReturnValues="ALL_OLD")["Attributes"]
    assert stack.post(f"{P}/family/start", "3", query={"instanceID": "again"})[0] == 202
    stack.pump()
    event = copy.deepcopy(load_event("ttl_expired.json"))
    event["Records"][0]["dynamodb"].update(Keys=key, OldImage=old)
    assert stack._call(event) == {"batchItemFailures": []}
    assert stack.status("again") == "COMPLETED"
    assert {i["execution_id"]["S"] for i in items_of(stack, "again") if "execution_id" in i} == {
        stack.engine.store.get_meta("again").execution_id
    }
    code, body = stack.http("GET", f"{P}/again/history")
    assert code == 200 and json.loads(body["events"][1]["input"]) == 3


def test_only_ttl_deletions_count_and_failures_are_reported_per_record(aws) -> None:
    stack = Stack(wfr, retention_days=1)
    stack.post(f"{P}/waits/start", "1", query={"instanceID": "w1"})
    stack.pump()
    stack.post(f"{P}/w1/raiseEvent/go", "1")
    stack.pump()
    before = items_of(stack, "w1")
    assert len(before) > 1
    # A REMOVE by a caller (a purge, a person at the console) is not an expiry.
    assert expire(stack, "w1", by="arn:aws:iam::123456789012:user/ops") == {"batchItemFailures": []}
    assert len(items_of(stack, "w1")) == len(before) - 1  # only the record, as that caller deleted it

    class Broken:
        def expired(self, instance_id: str, execution_ids: list[str]) -> int:
            raise RuntimeError("table unavailable")

    from wf.aws.retention import expire_batch

    event = load_event("ttl_expired.json")
    response = expire_batch(Broken(), event, None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "111"}]}  # the record's sequence number


def test_retention_setting() -> None:
    base = {"WF_TABLE_NAME": "t", "WF_QUEUE_URL": "q"}
    assert Settings.from_env(base).retention_days == 0
    assert Settings.from_env({**base, "WF_RETENTION_DAYS": "90"}).retention_days == 90
    assert Settings.from_env({**base, "WF_RETENTION_DAYS": "0.5"}).retention_days == 0.5
    for bad in ("-1", "soon", "nan", "1e9"):
        with pytest.raises(ConfigurationError, match="WF_RETENTION_DAYS"):
            Settings.from_env({**base, "WF_RETENTION_DAYS": bad})


def test_wf_dev_expires_instances_as_dynamodb_ttl_and_the_stream_would(tmp_path) -> None:
    import re
    import time

    from tests.dev_process import ROOT, eventually, wf_dev
    from wf.client import DaprWorkflowClient

    # 0.00003 days: about 2.6 s.
    with wf_dev(tmp_path, ROOT / "tests" / "apps" / "load.py", "--retention-days", "0.00003") as (base, _, lines):
        client = DaprWorkflowClient(base)
        client.schedule_new_workflow("five", input=1, instance_id="short")
        client.schedule_new_workflow("collect", input=1, instance_id="stays")
        assert client.wait_for_workflow_completion("short", timeout_in_seconds=60) is not None
        deadline = time.monotonic() + 30
        while client.get_workflow_state("short") is not None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert client.get_workflow_state("short") is None
        endpoint = re.search(r"AWS at ([^;)\s]+)", "".join(lines))[1]
        ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = ddb.query(
                TableName="wf-instances",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": "short"}},
            )["Items"]
            if not left:
                break
            time.sleep(0.5)
        assert left == []
        assert client.get_workflow_state("stays").runtime_status.value == "RUNNING"
        # Logged once the handler's answer is back (the items may be gone a moment before).
        eventually(lambda: any("ttl short: expired and deleted" in line for line in lines), "the expiry's log line")


def test_wf_dev_sweeps_a_large_table_less_often() -> None:
    """A sweep is a scan of the whole table: one that takes long is followed by a
    longer wait, so that sweeping is at most 5% of the emulator's time."""
    from wf.dev.expiry import DEFAULT_INTERVAL, TtlSweeper

    now = [0.0]
    took = iter([0.01, 1.5, 0.2])  # a small table, then a large one, then fewer items

    class Paginator:
        def paginate(self, **_: object) -> list[dict[str, list[object]]]:
            now[0] += next(took)
            return [{"Items": []}]

    class Dynamo:
        def get_paginator(self, name: str) -> Paginator:
            assert name == "scan"
            return Paginator()

    class Stop:
        waits: list[float] = []

        def wait(self, timeout: float) -> bool:
            self.waits.append(round(timeout, 6))
            return len(self.waits) > 3

    stop = Stop()
    sweeper = TtlSweeper(Dynamo(), "t", lambda e, c: {}, lambda: None, timer=lambda: now[0])
    sweeper.run(stop)  # type: ignore[arg-type]
    assert stop.waits == [DEFAULT_INTERVAL, DEFAULT_INTERVAL, 30.0, 4.0]
