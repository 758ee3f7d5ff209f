"""Each reliability finding of issue #9, on DynamoDB and SQS (moto) through the Lambda
handler: work for executions that are not recorded runs nothing, a transient AWS error
is retried and never fails a workflow, a hanging activity fails only its own task,
payloads that cannot be stored or are not JSON fail clearly, a restart racing a purge
keeps the new instance, poison messages leave the rest of their batch alone, and a
container that keeps dying takes no other work to the dead-letter queue."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest

from tests.aws_stack import Stack
from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime
from wf.engine.manage import purge
from wf.engine.messages import ActivityMessage
from wf.errors import InvalidStateError, StoreError, TaskFailedError

wfr = WorkflowRuntime()
P = "/v1.0-beta1/workflows/dapr"
runs: Counter[tuple[str, str]] = Counter()
release = threading.Event()


@wfr.activity(name="count")
def count(ctx: WorkflowActivityContext, x: object) -> object:
    runs[(ctx.workflow_id, "count")] += 1
    return x


@wfr.activity(name="hang")
def hang(ctx: WorkflowActivityContext, _: object) -> str:
    release.wait(10)
    return "finally"


@wfr.activity(name="nan")
def nan(ctx: WorkflowActivityContext, _: object) -> list[object]:
    return ["ok", float("nan")]


class ContainerDied(BaseException):
    """Not an ``Exception``: nothing catches it, so the invocation dies with the batch."""


@wfr.activity(name="die")
def die(ctx: WorkflowActivityContext, _: object) -> None:
    raise ContainerDied("out of memory")


@wfr.workflow(name="count_then_wait")
def count_then_wait(ctx: DaprWorkflowContext, x: int):
    got = yield ctx.call_activity(count, input=x)
    yield ctx.wait_for_external_event("go")
    return got


@wfr.workflow(name="count_twice")
def count_twice(ctx: DaprWorkflowContext, x: int):
    a = yield ctx.call_activity(count, input=x)
    b = yield ctx.call_activity(count, input=x + 1)
    return [a, b]


@wfr.workflow(name="child_of")
def child_of(ctx: DaprWorkflowContext, x: int):
    return (yield ctx.call_child_workflow(once, input=x, instance_id=f"{ctx.instance_id}-child"))


@wfr.workflow(name="once")
def once(ctx: DaprWorkflowContext, x: int):
    return (yield ctx.call_activity(count, input=x))


@wfr.workflow(name="catches")
def catches(ctx: DaprWorkflowContext, activity: str):
    try:
        return (yield ctx.call_activity(activity, input=None))
    except TaskFailedError as exc:
        return f"caught {exc.details.error_type}"


@wfr.workflow(name="status_after_event")
def status_after_event(ctx: DaprWorkflowContext, size: int):
    yield ctx.wait_for_external_event("go")
    ctx.set_custom_status("s" * size)
    return (yield ctx.call_activity(count, input="x" * size))


@wfr.workflow(name="bad_status")
def bad_status(ctx: DaprWorkflowContext, _: object):
    ctx.set_custom_status({"when": object()})
    return "never"


@pytest.fixture
def stack(aws):
    runs.clear()
    release.clear()
    yield Stack(wfr)
    release.set()


def start(stack: Stack, name: str, iid: str, body: object = None) -> int:
    return stack.post(f"{P}/{name}/start", json.dumps(body), query={"instanceID": iid})[0]


def props(stack: Stack, iid: str) -> dict[str, str]:
    code, body = stack.get(iid)
    assert code == 200, body
    return {"status": body["runtimeStatus"], **body["properties"]}


def test_a_refused_start_runs_nothing(stack: Stack) -> None:
    assert start(stack, "count_then_wait", "r1", 1) == 202
    stack.pump()
    for _ in range(5):
        assert start(stack, "count_then_wait", "r1", 2) == 409
        stack.pump()
    assert runs[("r1", "count")] == 1


def test_work_for_missing_or_purged_instances_runs_nothing(stack: Stack) -> None:
    assert start(stack, "once", "p1", 1) == 202
    stack.pump()
    assert props(stack, "p1")["status"] == "COMPLETED"
    execution = stack.engine.store.get_meta("p1").execution_id
    assert stack.post(f"{P}/p1/purge")[0] == 202
    # Late deliveries for the purged execution, and for an instance never recorded.
    ghosts = [
        ActivityMessage("p1", execution, stack.now, 1, "count", "1"),
        ActivityMessage("ghost", "0" * 20, stack.now, 1, "count", "1"),
    ]
    stack.engine.queue.send([m.to_out() for m in ghosts])
    stack.now += timedelta(minutes=2)  # past the grace given to a start still being written
    stack.pump()
    assert runs == {("p1", "count"): 1}


def test_a_transient_error_starting_a_child_is_retried_not_failed(stack: Stack) -> None:
    store = stack.engine.store
    real_put = store.put_meta
    throttled: list[str] = []

    def put_meta(meta, *, replaces):
        if meta.instance_id == "c1-child" and not throttled:
            throttled.append(meta.instance_id)
            raise StoreError(
                "writing c1-child/META failed: An error occurred (ThrottlingException) ... "
                "arn:aws:dynamodb:us-east-1:123456789012:table/wf"
            )
        return real_put(meta, replaces=replaces)

    store.put_meta = put_meta  # type: ignore[method-assign]
    assert start(stack, "child_of", "c1", 7) == 202
    stack.pump()
    assert throttled
    parent = props(stack, "c1")
    assert parent["status"] == "COMPLETED" and json.loads(parent["dapr.workflow.output"]) == 7, parent
    assert runs[("c1-child", "count")] == 1
    assert "123456789012" not in json.dumps(parent)


def test_a_hanging_activity_fails_its_task_and_spares_its_batch(stack: Stack) -> None:
    stack.timeout_ms = 3_000
    stack.engine.budget.margin_ms = 500
    # Both activity messages arrive in one batch, the hanging one first.
    assert start(stack, "catches", "h1", "hang") == 202
    assert start(stack, "once", "innocent", 5) == 202
    stack.pump()
    assert props(stack, "innocent")["status"] == "COMPLETED"
    assert runs[("innocent", "count")] == 1
    hung = props(stack, "h1")
    assert json.loads(hung["dapr.workflow.output"]) == "caught ActivityTimeoutError", hung


def test_payloads_that_cannot_be_stored_or_are_not_json_fail_clearly(stack: Stack) -> None:
    # A 250 KB custom status set on an event step: the instance fails, nothing is stuck.
    assert start(stack, "status_after_event", "big-status", 250_000) == 202
    stack.pump()
    assert stack.post(f"{P}/big-status/raiseEvent/go")[0] == 202
    stack.pump()
    failed = props(stack, "big-status")
    assert failed["status"] == "FAILED", failed
    assert failed["dapr.workflow.failure.error_type"] == "PayloadTooLargeError"
    assert "custom status" in failed["dapr.workflow.failure.error_message"]
    # A large custom status and a large activity input in one step: each within the
    # payload limit, so the step is stored across items, and the instance completes.
    assert start(stack, "status_after_event", "big-both", 150_000) == 202
    stack.pump()
    assert stack.post(f"{P}/big-both/raiseEvent/go")[0] == 202
    stack.pump()
    both = props(stack, "big-both")
    assert both["status"] == "COMPLETED" and both["dapr.workflow.custom_status"] == "s" * 150_000, both["status"]
    # NaN is not JSON: the activity's task fails, and the workflow can catch it.
    assert start(stack, "catches", "nan", "nan") == 202
    stack.pump()
    assert json.loads(props(stack, "nan")["dapr.workflow.output"]) == "caught PayloadEncodingError"
    # A custom status that is not JSON fails the workflow, not the start request.
    assert start(stack, "bad_status", "bad", None) == 202
    bad = props(stack, "bad")
    assert bad["status"] == "FAILED" and bad["dapr.workflow.failure.error_type"] == "PayloadEncodingError", bad
    assert all(
        m.value.startswith(("Work", "Steps", "Activ", "Payl", "Messages", "Events", "Write", "Redel", "Results"))
        for m in stack.metrics.counts
    )


def test_deeply_nested_json_is_a_400(stack: Stack) -> None:
    code, body = stack.post(f"{P}/once/start", "[" * 20_000 + "]" * 20_000, query={"instanceID": "deep"})
    assert (code, body["errorCode"]) == (400, "ERR_MALFORMED_REQUEST")


def test_a_restart_racing_a_purge_keeps_the_new_instance(stack: Stack) -> None:
    assert start(stack, "once", "rp", 1) == 202
    stack.pump()
    store = stack.engine.store
    real_purge = store.purge

    def purge_after_restart(instance_id, execution_id):
        # The restart lands between the purge's check and its delete.
        stack.engine.start("once", "rp", "2")
        return real_purge(instance_id, execution_id)

    store.purge = purge_after_restart  # type: ignore[method-assign]
    with pytest.raises(InvalidStateError):
        purge(stack.engine, "rp")
    store.purge = real_purge  # type: ignore[method-assign]
    stack.pump()
    assert props(stack, "rp")["status"] == "COMPLETED" and runs[("rp", "count")] == 2
    # And the other way round: a purge landing between a restart's read and its write.
    real_put = store.put_meta

    def put_after_purge(meta, *, replaces):
        if replaces is not None:
            store.put_meta = real_put  # type: ignore[method-assign]
            purge(stack.engine, "rp")
        return real_put(meta, replaces=replaces)

    store.put_meta = put_after_purge  # type: ignore[method-assign]
    assert start(stack, "once", "rp", 3) == 202
    stack.pump()
    assert props(stack, "rp")["status"] == "COMPLETED" and runs[("rp", "count")] == 3


def test_poison_messages_leave_the_rest_of_their_batch_alone(stack: Stack) -> None:
    assert start(stack, "once", "good", 1) == 202
    sqs, url = stack.sqs, stack.res.queue_url
    for body in ("not json", "[1, 2]", '{"k": "activity"}', '{"k": "from-the-future", "iid": "x", "sent": "x"}'):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    msgs = []
    while len(msgs) < 5:
        msgs += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    result = stack.deliver(msgs)
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    by_body = {m["Body"]: m["MessageId"] for m in msgs}
    # Garbage is dropped; an unknown kind (a newer version's?) comes back, for the DLQ.
    assert failed == {by_body['{"k": "from-the-future", "iid": "x", "sent": "x"}']}
    stack.pump()
    assert props(stack, "good")["status"] == "COMPLETED"


def test_redelivered_work_is_handed_on_before_a_batch_can_die_again(stack: Stack) -> None:
    """Innocent work batched with a container-killing activity dies with it; SQS alone
    would dead-letter both after five deliveries. Each redelivery is handed on to a
    fresh message (counting the deaths) before any record of the batch runs, the copies
    a second apart so that they come back in different batches: the innocent completes,
    the killer is abandoned after 8 deaths with an error the workflow catches."""
    assert start(stack, "once", "innocent", 1) == 202
    assert start(stack, "catches", "killer", "die") == 202
    sqs, url = stack.sqs, stack.res.queue_url
    sent = stack.engine.queue.send
    delays: list[list[int]] = []

    def send(messages):
        if any(m.body.get("died") for m in messages):
            delays.append([m.delay_seconds for m in messages])
        return sent(messages)

    stack.engine.queue.send = send  # type: ignore[method-assign]

    def deliver(batch_size: int) -> bool:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=batch_size, AttributeNames=["All"])
        msgs = msgs.get("Messages", [])
        if not msgs:
            return False
        try:
            stack.deliver(msgs)
        except ContainerDied:
            # The whole batch comes back, as SQS does after a dead invocation.
            for m in msgs:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
            assert all(int(m["Attributes"]["ApproximateReceiveCount"]) < 3 for m in msgs), "on its way to the DLQ"
        return True

    for _ in range(3):  # dying together
        deliver(10)
    assert delays and all(d == [0, 1] for d in delays), delays
    while deliver(1):  # the copies a second apart: in batches of their own (the test's SQS ignores delays)
        pass
    assert props(stack, "innocent")["status"] == "COMPLETED"
    assert runs[("innocent", "count")] >= 1
    assert json.loads(props(stack, "killer")["dapr.workflow.output"]) == "caught ActivityAbandonedError"


def test_ids_of_one_container_sort_in_issue_order_within_a_millisecond() -> None:
    """Pause and resume apply in the order of their IDs: two taken in the same
    millisecond (or with the clock stepping back) must still sort as issued."""
    from datetime import UTC, datetime

    from wf.aws.app import time_ordered_id

    times = iter([datetime(2026, 1, 1, tzinfo=UTC)] * 500 + [datetime(2025, 12, 31, tzinfo=UTC)] * 10)
    new_id = time_ordered_id(lambda: next(times))
    ids = [new_id() for _ in range(510)]
    assert ids == sorted(ids) and len(set(ids)) == 510


def test_a_duplicate_delivered_at_once_carries_out_what_a_dead_delivery_owed(stack: Stack) -> None:
    """SQS hands one message to two pollers at once (both see receive count 1). The
    first runs the activity, records the step, and dies before sending the next
    activity; the second finds the task settled. It must carry out what the step owes
    (found by the chaos run: the instance stayed RUNNING), without running it again."""
    assert start(stack, "count_twice", "dup", 1) == 202
    msgs = stack.sqs.receive_message(QueueUrl=stack.res.queue_url, AttributeNames=["All"])["Messages"]
    real_send = stack.engine.queue.send

    def dying_send(messages):
        raise ContainerDied("killed between the commit and the dispatch")

    stack.engine.queue.send = dying_send  # type: ignore[method-assign]
    with pytest.raises(ContainerDied):
        stack.deliver(msgs)
    stack.engine.queue.send = real_send  # type: ignore[method-assign]
    assert msgs[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    stack.deliver(msgs)  # the duplicate, delivered at the same time
    stack.pump()
    assert props(stack, "dup")["status"] == "COMPLETED"
    assert runs[("dup", "count")] == 2  # each activity once


def test_a_function_timeout_under_the_margin_still_runs_its_activities() -> None:
    """With a 2 s function (under the 5 s margin), a fresh invocation runs the activity
    (it was handed on to a new message forever); late in an invocation it is handed on,
    and one that runs is given most of the time, not cut off by the reserve."""
    from wf.engine.budget import ActivityBudget

    budget = ActivityBudget(5_000)
    assert budget.may_start("a", lambda: 1_990)
    assert not budget.may_start("a", lambda: 600)
    (get,) = budget.timed_all([("a", lambda: time.sleep(0.3) or "ran")], lambda: 1_990)
    assert get() == "ran"
