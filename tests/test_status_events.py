"""Status-change events through EventBridge (moto): a rule on the bus sends them to an
SQS queue, as a team's own consumer would receive them. One per change, from the step
that made it; none for a start (its answer is the signal); nothing of the payloads.
Crash-safety (docs/crash-safety.md, rule 17): a publication lost to a dying invocation
is made by the message's redelivery; one made before the invocation died is made again
with the same eventId, and only then."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import boto3
import pytest

from tests.aws_stack import Stack, subscribe_to_status_events
from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime
from wf.engine.metrics import Metric
from wf.engine.status_events import DETAIL_TYPE, SOURCE
from wf.errors import StatusEventsError, StoreError

P = "/v1.0-beta1/workflows/dapr"
wfr = WorkflowRuntime()


@wfr.activity(name="double")
def double(ctx: WorkflowActivityContext, x: int) -> int:
    return 2 * x


@wfr.activity(name="explode")
def explode(ctx: WorkflowActivityContext, x: int) -> int:
    raise ValueError(f"secret input {x} is bad")


@wfr.workflow(name="ok")
def ok(ctx: DaprWorkflowContext, x: int):
    return (yield ctx.call_activity(double, input=x))


@wfr.workflow(name="boom")
def boom(ctx: DaprWorkflowContext, x: int):
    return (yield ctx.call_activity(explode, input=x))


@wfr.workflow(name="waiter")
def waiter(ctx: DaprWorkflowContext, x: int):
    return (yield ctx.wait_for_external_event("go"))


def received(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    out: list[dict[str, Any]] = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            event = json.loads(m["Body"])
            assert (event["source"], event["detail-type"]) == (SOURCE, DETAIL_TYPE)
            out.append(event["detail"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def changes(details: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    by: dict[str, list[tuple[str, str]]] = defaultdict(list)
    # In the order of their steps (the fake clock gives them all one time).
    for d in sorted(details, key=lambda d: (d["instanceId"], d["executionId"], int(d["eventId"].rsplit("/", 1)[1]))):
        by[d["instanceId"]].append((d["oldStatus"], d["newStatus"]))
    return dict(by)


@pytest.fixture
def stack(aws) -> Stack:
    return Stack(wfr, event_bus="default")


def test_one_event_per_status_change_through_an_eventbridge_rule(stack: Stack) -> None:
    url = subscribe_to_status_events()
    for name, iid in (("ok", "a"), ("boom", "b"), ("waiter", "w")):
        assert stack.post(f"{P}/{name}/start", "21", query={"instanceID": iid})[0] == 202
    stack.pump()
    for op in ("pause", "resume", "terminate"):
        assert stack.post(f"{P}/w/{op}")[0] == 202
        stack.pump()
    details = received(url)
    assert changes(details) == {
        "a": [("RUNNING", "COMPLETED")],
        "b": [("RUNNING", "FAILED")],
        "w": [("RUNNING", "SUSPENDED"), ("SUSPENDED", "RUNNING"), ("RUNNING", "TERMINATED")],
    }
    assert len({d["eventId"] for d in details}) == len(details)
    failed = next(d for d in details if d["newStatus"] == "FAILED")
    assert (
        failed["failure"]["errorType"] == "TaskFailedError"
        and "Activity task #1 failed" in failed["failure"]["message"]
    )
    assert failed["workflowName"] == "boom" and failed["createdAt"] <= failed["changedAt"]
    # No payloads: neither the input (21), the output (42) nor an activity's message body.
    assert not any(k in d for d in details for k in ("input", "output", "result"))
    ids = ("eventId", "executionId")  # random digits: they may hold a "42"
    assert "42" not in json.dumps(
        [{k: v for k, v in d.items() if k not in ids} for d in details if d["instanceId"] == "a"]
    )
    # Each marker is off its step once published.
    assert not [i for i in stack.table_items() if "announce" in i]
    assert stack.metrics.counts[Metric.STATUS_EVENTS] == 5


def test_none_without_a_bus(aws) -> None:
    stack = Stack(wfr)
    url = subscribe_to_status_events()
    stack.post(f"{P}/ok/start", "1", query={"instanceID": "a"})
    stack.pump()
    assert stack.status("a") == "COMPLETED"
    assert received(url) == []
    assert not [i for i in stack.table_items() if "announce" in i]


class DiesBeforePublishing:
    """The engine's publisher, but the first publication dies: the container is gone,
    with what it knew, before the event is put."""

    def __init__(self, stack: Stack) -> None:
        self.stack, self.real, self.calls = stack, stack.engine.status_events, 0
        assert self.real is not None

    def publish(self, changes: Any) -> None:
        self.calls += 1
        if self.calls == 1:
            self.stack.engine.forget_all()
            raise StatusEventsError("the invocation died here")
        self.real.publish(changes)


def test_a_publication_lost_to_a_dying_invocation_is_made_by_the_redelivery(stack: Stack) -> None:
    url = subscribe_to_status_events()
    publisher = stack.engine.status_events = DiesBeforePublishing(stack)
    stack.post(f"{P}/ok/start", "1", query={"instanceID": "a"})
    stack.pump()
    assert stack.status("a") == "COMPLETED"
    details = received(url)
    assert changes(details) == {"a": [("RUNNING", "COMPLETED")]} and publisher.calls == 2


def test_a_publication_made_before_dying_is_made_again_with_its_event_id(stack: Stack) -> None:
    url = subscribe_to_status_events()
    store = stack.engine.store
    real_announced = store.announced
    calls = 0

    def dies_before_unmarking(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            stack.engine.forget_all()
            raise StoreError("the invocation died before taking the marker off")
        real_announced(*args)

    store.announced = dies_before_unmarking  # type: ignore[method-assign]
    stack.post(f"{P}/ok/start", "1", query={"instanceID": "a"})
    stack.pump()
    details = received(url)
    assert [(d["oldStatus"], d["newStatus"]) for d in details] == [("RUNNING", "COMPLETED")] * 2
    assert details[0]["eventId"] == details[1]["eventId"]
    assert not [i for i in stack.table_items() if "announce" in i]


@wfr.workflow(name="looper")
def looper(ctx: DaprWorkflowContext, n: int):
    if n > 0:
        ctx.continue_as_new(n - 1)
        return None
    return "done"


@wfr.workflow(name="stepper")
def stepper(ctx: DaprWorkflowContext, n: int):
    if n == 0:
        return "done"  # the generation a step continued into ends at once
    yield ctx.call_activity(double, input=n)
    ctx.continue_as_new(n - 1)
    return None


@wfr.workflow(name="invalid")
def invalid(ctx: DaprWorkflowContext, x: int):
    raise ValueError("no such order")


def test_changes_made_across_a_continue_as_new_or_in_a_first_step_are_published(stack: Stack) -> None:
    url = subscribe_to_status_events()
    stack.post(f"{P}/looper/start", "2", query={"instanceID": "loop"})  # completes in a later generation at once
    stack.post(f"{P}/stepper/start", "2", query={"instanceID": "step"})  # the same, from an activity's step
    stack.post(f"{P}/invalid/start", "1", query={"instanceID": "bad"})  # fails in its first step
    stack.pump()
    assert (stack.status("loop"), stack.status("step"), stack.status("bad")) == ("COMPLETED", "COMPLETED", "FAILED")
    assert changes(received(url)) == {
        "loop": [("RUNNING", "COMPLETED")],
        "step": [("RUNNING", "COMPLETED")],
        "bad": [("RUNNING", "FAILED")],
    }
    assert not [i for i in stack.table_items() if "announce" in i]


def test_a_resume_right_after_a_pause_is_published_too(stack: Stack) -> None:
    url = subscribe_to_status_events()
    stack.post(f"{P}/waiter/start", "1", query={"instanceID": "w"})
    stack.pump()
    assert stack.post(f"{P}/w/pause")[0] == 202
    assert stack.post(f"{P}/w/resume")[0] == 202  # before the pause's follow-up ran
    stack.pump()
    assert changes(received(url)) == {"w": [("RUNNING", "SUSPENDED"), ("SUSPENDED", "RUNNING")]}
    assert not [i for i in stack.table_items() if "announce" in i]


def test_an_event_eventbridge_refuses_for_what_it_is_is_said_and_let_go(stack: Stack, caplog) -> None:
    publisher = stack.engine.status_events
    assert publisher is not None
    real = publisher._make_client()  # type: ignore[attr-defined]

    class Refusing:
        def put_events(self, Entries: list) -> dict:
            return {"FailedEntryCount": len(Entries), "Entries": [{"ErrorCode": "MalformedDetail"} for _ in Entries]}

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    publisher._client = Refusing()  # type: ignore[attr-defined]
    stack.post(f"{P}/ok/start", "1", query={"instanceID": "a"})
    stack.pump()
    assert stack.status("a") == "COMPLETED"  # its messages not held up
    assert "refused by EventBridge, not published: MalformedDetail" in caplog.text
    assert not [i for i in stack.table_items() if "announce" in i]


def test_a_failure_message_is_cut_to_fit_an_event() -> None:
    from datetime import UTC, datetime

    from wf.core.status import WorkflowStatus
    from wf.engine.status_events import MAX_MESSAGE_CHARS, StatusChange
    from wf.errors import FailureDetails

    at = datetime(2026, 1, 1, tzinfo=UTC)
    change = StatusChange(
        "i", "e", 3, "wf", WorkflowStatus.RUNNING, WorkflowStatus.FAILED, at, at, FailureDetails("x" * 300_000, "E")
    )
    message = change.detail()["failure"]["message"]
    assert len(message) < MAX_MESSAGE_CHARS + 100 and message.startswith("x" * 100) and "cut" in message
    assert len(json.dumps(change.detail())) < 4096


def test_a_start_that_ended_at_once_and_died_before_publishing_is_published_by_its_check(stack: Stack) -> None:
    """No message comes back for an HTTP start: the check the start sent (delayed, before
    writing the record) publishes the change its dead invocation did not."""
    url = subscribe_to_status_events()
    publisher = stack.engine.status_events = DiesBeforePublishing(stack)
    status, _ = stack.post(f"{P}/invalid/start", "1", query={"instanceID": "bad"})
    assert status >= 500
    assert stack.status("bad") == "FAILED" and received(url) == []
    stack.pump()
    assert changes(received(url)) == {"bad": [("RUNNING", "FAILED")]} and publisher.calls == 2
    assert not [i for i in stack.table_items() if "announce" in i]
    stack.pump()  # nothing is left to publish it again
    assert received(url) == []
