"""Scheduled starts (``schedule_new_workflow(start_at=...)``, ``startAt``): the instance
is PENDING until its time, durably (its record, and a message delayed in SQS, sent on
while the time is further off than SQS's 15 minutes), then starts; a PENDING instance
can be terminated and purged, and nothing else; a schedule obeys the 409 rule."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.aws_stack import Stack
from tests.dev_process import eventually, wf_dev
from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime
from wf.client import DaprWorkflowClient
from wf.core.history import format_time
from wf.core.status import WorkflowStatus

P = "/v1.0-beta1/workflows/dapr"
wfr = WorkflowRuntime()


@wfr.activity(name="double")
def double(ctx: WorkflowActivityContext, x: int) -> int:
    return 2 * x


@wfr.workflow(name="ok")
def ok(ctx: DaprWorkflowContext, x: int):
    return (yield ctx.call_activity(double, input=x))


@pytest.fixture
def stack(aws) -> Stack:
    return Stack(wfr)


def test_pending_until_its_time_then_started_with_its_input(stack: Stack) -> None:
    at = stack.now + timedelta(hours=2)  # beyond SQS's longest delay: sent on while it waits
    assert stack.post(f"{P}/ok/start", "21", query={"instanceID": "s", "startAt": format_time(at)})[0] == 202
    body = stack.get("s")[1]
    assert body["runtimeStatus"] == "PENDING" and body["properties"]["dapr.workflow.input"] == "21"
    listed = stack.http("GET", f"{P}", query={"status": "PENDING"})[1]
    assert [i["instanceID"] for i in listed["instances"]] == ["s"]
    created = body["createdAt"]
    # Only a termination applies before the start.
    for call in ("pause", "resume", "raiseEvent/go"):
        status, err = stack.post(f"{P}/s/{call}")
        assert status == 409 and "PENDING until" in err["message"], (call, err)
    for now in (stack.now, at - timedelta(minutes=20)):  # delivered early: sent on again
        stack.now = now
        msgs = stack.sqs.receive_message(QueueUrl=stack.res.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])[
            "Messages"
        ]
        assert [json.loads(m["Body"])["k"] for m in msgs] == ["scheduled"]
        stack.deliver(msgs)
        assert stack.status("s") == "PENDING"
    stack.pump()  # the clock reaches its time
    body = stack.get("s")[1]
    assert body["runtimeStatus"] == "COMPLETED" and json.loads(body["properties"]["dapr.workflow.output"]) == 42
    assert body["createdAt"] == created


def test_a_pending_instance_is_terminated_and_purged_and_its_start_never_comes(stack: Stack) -> None:
    at = format_time(stack.now + timedelta(minutes=5))
    assert stack.post(f"{P}/ok/start", "1", query={"instanceID": "t", "startAt": at})[0] == 202
    # A second schedule or a start of the same ID is refused while it is PENDING.
    assert stack.post(f"{P}/ok/start", "1", query={"instanceID": "t", "startAt": at})[0] == 409
    assert stack.post(f"{P}/ok/start", "1", query={"instanceID": "t"})[0] == 409
    assert stack.post(f"{P}/t/terminate", '"not needed"')[0] == 202
    assert stack.status("t") == "TERMINATED"
    stack.pump()  # its start message comes, and finds the schedule gone
    assert stack.status("t") == "TERMINATED"
    assert stack.post(f"{P}/t/purge")[0] == 202
    assert stack.get("t")[0] == 404
    # The ID is free again; a time already passed starts it now.
    past = format_time(stack.now - timedelta(seconds=5))
    assert stack.post(f"{P}/ok/start", "2", query={"instanceID": "t", "startAt": past})[0] == 202
    stack.pump()
    assert stack.status("t") == "COMPLETED"
    assert stack.post(f"{P}/ok/start", query={"instanceID": "u", "startAt": "tomorrow"})[0] == 400


def test_the_clients_schedule_and_wf_dev_keeps_a_schedule_across_a_restart(tmp_path: Path) -> None:
    handler = tmp_path / "app.py"
    handler.write_text(
        "from wf import WorkflowRuntime\nwfr = WorkflowRuntime()\n\n"
        "@wfr.workflow(name='hello')\ndef hello(ctx, x):\n    return x\n\n"
        "lambda_handler = wfr.lambda_handler\n"
    )
    with wf_dev(tmp_path, handler) as (base, _env, _lines):
        client = DaprWorkflowClient(base)
        began = time.monotonic()
        client.schedule_new_workflow(
            "hello", input="hi", instance_id="soon", start_at=datetime.now(UTC) + timedelta(seconds=4)
        )
        client.schedule_new_workflow("hello", instance_id="later", start_at=datetime.now(UTC) + timedelta(hours=1))
        time.sleep(max(0.0, 1.5 - (time.monotonic() - began)))
        state = client.get_workflow_state("soon")
        assert state is not None and state.runtime_status is WorkflowStatus.PENDING
        done = client.wait_for_workflow_completion("soon", timeout_in_seconds=30)
        assert done is not None and done.runtime_status is WorkflowStatus.COMPLETED and done.serialized_output == '"hi"'
        assert time.monotonic() - began >= 4
    with wf_dev(tmp_path, handler) as (base, _env, _lines):  # restarted: the hour-ahead schedule is kept
        client = DaprWorkflowClient(base)
        eventually(lambda: client.get_workflow_state("later") is not None, "the restarted stack answers")
        state = client.get_workflow_state("later")
        assert state is not None and state.runtime_status is WorkflowStatus.PENDING
        client.terminate_workflow("later")
        state = client.get_workflow_state("later")
        assert state is not None and state.runtime_status is WorkflowStatus.TERMINATED
