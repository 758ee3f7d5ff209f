"""End-to-end lifecycles on moto, driven only through lambda_handler."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from tests.aws_stack import Stack
from wf import (
    DaprWorkflowContext,
    RetryPolicy,
    TaskFailedError,
    WorkflowActivityContext,
    WorkflowRuntime,
    WorkflowStatus,
    when_all,
    when_any,
)
from wf.engine.metrics import Metric
from wf.engine.store import InstanceQuery
from wf.errors import ConflictError

wfr = WorkflowRuntime()
P = "/v1.0-beta1/workflows/dapr"
attempts: dict[str, int] = {}


@wfr.activity(name="echo")
def echo(ctx: WorkflowActivityContext, x):
    return x


@wfr.activity(name="inline_echo", inline=True)
def inline_echo(ctx: WorkflowActivityContext, x):
    return x


@wfr.activity(name="flaky")
def flaky(ctx: WorkflowActivityContext, fail_times: int):
    attempts[ctx.workflow_id] = attempts.get(ctx.workflow_id, 0) + 1
    if attempts[ctx.workflow_id] <= fail_times:
        raise ConnectionError(f"attempt {attempts[ctx.workflow_id]}")
    return attempts[ctx.workflow_id]


@wfr.workflow(name="chain")
def chain(ctx: DaprWorkflowContext, n: int):
    total = []
    for i in range(n):
        total.append((yield ctx.call_activity(echo, input=i)))
    return total


@wfr.workflow(name="inline_chain")
def inline_chain(ctx: DaprWorkflowContext, n: int):
    total = 0
    for i in range(n):
        total += yield ctx.call_activity(inline_echo, input=i)
    return total


@wfr.workflow(name="fan")
def fan(ctx: DaprWorkflowContext, n: int):
    return (yield when_all([ctx.call_activity(echo, input=i) for i in range(n)]))


@wfr.workflow(name="retry")
def retry(ctx: DaprWorkflowContext, fail_times: int):
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=5), max_number_of_attempts=3)
    try:
        return (yield ctx.call_activity(flaky, input=fail_times, retry_policy=policy))
    except TaskFailedError as e:
        return f"gave up: {e.details.error_type}"


@wfr.workflow(name="sleepy")
def sleepy(ctx: DaprWorkflowContext, _):
    start = ctx.current_utc_datetime
    yield ctx.create_timer(timedelta(hours=2))
    return (ctx.current_utc_datetime - start).total_seconds()


@wfr.workflow(name="waiter")
def waiter(ctx: DaprWorkflowContext, _):
    first = yield ctx.wait_for_external_event("go")
    yield ctx.call_activity(echo, input=1)
    second = yield ctx.wait_for_external_event("Go")
    try:
        third = yield ctx.wait_for_external_event("late", timeout=timedelta(minutes=5))
    except TimeoutError:
        third = "timeout"
    return [first, second, third]


@wfr.workflow(name="parent")
def parent(ctx: DaprWorkflowContext, _):
    return (yield ctx.call_child_workflow(waiter, input=None))


@wfr.workflow(name="counter")
def counter(ctx: DaprWorkflowContext, n: int):
    got = yield ctx.wait_for_external_event("tick")
    if n + 1 >= 3:
        return [n + 1, got]
    ctx.continue_as_new(n + 1, save_events=True)


def started(stack: Stack, name: str, iid: str, body: str | None = None) -> None:
    code, resp = stack.post(f"{P}/{name}/start", body, query={"instanceID": iid})
    assert (code, resp) == (202, {"instanceID": iid})


@pytest.fixture
def stack(aws):
    return Stack(wfr)


def test_chain_fan_out_and_inline(stack: Stack) -> None:
    started(stack, "chain", "c1", "3")
    started(stack, "fan", "f1", "20")
    started(stack, "inline_chain", "i1", "5")
    stack.pump()
    for iid, out in (("c1", [0, 1, 2]), ("f1", list(range(20))), ("i1", 10)):
        code, body = stack.get(iid)
        assert code == 200 and body["runtimeStatus"] == "COMPLETED", body
        assert json.loads(body["properties"]["dapr.workflow.output"]) == out


def test_retry_then_success_and_retries_exhausted(stack: Stack) -> None:
    attempts.clear()
    started(stack, "retry", "r1", "2")
    started(stack, "retry", "r2", "5")
    stack.pump()
    assert json.loads(stack.get("r1")[1]["properties"]["dapr.workflow.output"]) == 3
    assert json.loads(stack.get("r2")[1]["properties"]["dapr.workflow.output"]) == "gave up: ConnectionError"
    assert attempts == {"r1": 3, "r2": 3}


def test_two_hour_timer_fires_on_time_through_chained_delays(stack: Stack) -> None:
    started(stack, "sleepy", "t1")
    t0 = stack.now
    handled = stack.pump()
    assert handled >= 8  # 2 h / 15 min: the timer hopped through several messages
    body = stack.get("t1")[1]
    assert body["runtimeStatus"] == "COMPLETED"
    assert json.loads(body["properties"]["dapr.workflow.output"]) == 7200.0
    assert stack.now - t0 == timedelta(hours=2)


def test_events_before_and_after_the_wait_and_timeout(stack: Stack) -> None:
    started(stack, "waiter", "w1")
    assert stack.post(f"{P}/w1/raiseEvent/GO", "0")[0] == 202  # before the wait is reached
    assert stack.post(f"{P}/w1/raiseEvent/go", "hello")[0] == 202  # text/plain body
    stack.pump()
    body = stack.get("w1")[1]
    assert body["runtimeStatus"] == "COMPLETED"
    assert json.loads(body["properties"]["dapr.workflow.output"]) == [0, "hello", "timeout"]


def test_child_workflow_and_recursive_terminate(stack: Stack) -> None:
    started(stack, "parent", "p1")
    stack.pump()
    assert stack.status("p1") == "RUNNING"
    assert stack.status("p1:0001") == "RUNNING"
    # Starting again on a running ID is refused.
    code, err = stack.post(f"{P}/parent/start", query={"instanceID": "p1"})
    assert (code, err["errorCode"]) == (409, "ERR_INSTANCE_ID_ALREADY_EXISTS")
    assert stack.post(f"{P}/p1/terminate", '"stop"')[0] == 202
    stack.pump()
    assert stack.status("p1") == "TERMINATED"
    assert stack.status("p1:0001") == "TERMINATED"
    assert json.loads(stack.get("p1")[1]["properties"]["dapr.workflow.output"]) == "stop"
    assert stack.post(f"{P}/p1/terminate")[0] == 202  # terminal: a no-op
    # Purge removes the parent, the child and every item.
    assert stack.post(f"{P}/p1/purge")[0] == 202
    assert stack.get("p1")[0] == 404 and stack.get("p1:0001")[0] == 404
    assert stack.table_items() == []


def test_a_purge_right_after_a_terminate_takes_the_children_too(stack: Stack) -> None:
    """The parent's termination owes its child one, still on the queue when a client
    purges at once (upstream's recursive-terminate test does): the purge records it
    rather than refusing (409), and everything goes; the late message finds nothing."""
    started(stack, "parent", "p2")
    stack.pump()
    assert stack.post(f"{P}/p2/terminate")[0] == 202
    assert stack.status("p2") == "TERMINATED" and stack.status("p2:0001") == "RUNNING"
    assert stack.post(f"{P}/p2/purge")[0] == 202
    stack.pump()
    assert stack.get("p2")[0] == 404 and stack.get("p2:0001")[0] == 404
    assert stack.table_items() == []


def test_child_completes_into_parent(stack: Stack) -> None:
    started(stack, "parent", "p2")
    stack.pump()
    stack.post(f"{P}/p2:0001/raiseEvent/go", "1")
    stack.post(f"{P}/p2:0001/raiseEvent/go", "2")
    stack.pump()
    body = stack.get("p2")[1]
    assert body["runtimeStatus"] == "COMPLETED", body
    assert json.loads(body["properties"]["dapr.workflow.output"]) == [1, 2, "timeout"]


def test_continue_as_new_with_carried_events(stack: Stack) -> None:
    started(stack, "counter", "n1", "0")
    for data in ("false", "0", '""'):
        stack.post(f"{P}/n1/raiseEvent/tick", data)
    stack.pump()
    body = stack.get("n1")[1]
    assert body["runtimeStatus"] == "COMPLETED"
    assert json.loads(body["properties"]["dapr.workflow.output"]) == [3, ""]


def listed(stack: Stack, status: WorkflowStatus) -> list[str]:
    page = stack.engine.store.list_instances(InstanceQuery(statuses=frozenset({status})), limit=1000)
    return [s.instance_id for s in reversed(page.instances)]


def test_pause_buffers_until_resume(stack: Stack) -> None:
    started(stack, "chain", "s0", "1")
    stack.now += timedelta(seconds=1)
    started(stack, "waiter", "s1")
    stack.pump()
    assert stack.post(f"{P}/s1/pause")[0] == 202
    stack.pump()
    assert stack.status("s1") == "SUSPENDED"
    # The status index, across its shards, as a listing would read it.
    assert (listed(stack, WorkflowStatus.SUSPENDED), listed(stack, WorkflowStatus.COMPLETED)) == (["s1"], ["s0"])
    assert listed(stack, WorkflowStatus.RUNNING) == []
    stack.post(f"{P}/s1/raiseEvent/go", "a")
    stack.post(f"{P}/s1/raiseEvent/go", "b")
    stack.pump()
    assert stack.status("s1") == "SUSPENDED"
    assert stack.post(f"{P}/s1/resume")[0] == 202
    stack.pump()
    body = stack.get("s1")[1]
    assert body["runtimeStatus"] == "COMPLETED"
    assert json.loads(body["properties"]["dapr.workflow.output"]) == ["a", "b", "timeout"]
    # Oldest first, merged across shards (s1 sorts in an earlier shard than s0).
    assert listed(stack, WorkflowStatus.COMPLETED) == ["s0", "s1"]
    assert listed(stack, WorkflowStatus.SUSPENDED) == []


def test_start_again_on_a_terminal_id_replaces_it(stack: Stack) -> None:
    started(stack, "chain", "again", "1")
    stack.pump()
    started(stack, "chain", "again", "2")
    stack.pump()
    body = stack.get("again")[1]
    assert json.loads(body["properties"]["dapr.workflow.output"]) == [0, 1]
    assert json.loads(body["properties"]["dapr.workflow.input"]) == 2
    # Only the new execution's items remain.
    assert len(stack.table_items()) == 1 + 2


def test_redelivery_after_a_crash_is_harmless(stack: Stack) -> None:
    """The invocation dies after committing a step but before sending its work: the
    message comes back and the owed work is re-sent; nothing runs twice into history."""
    started(stack, "chain", "x1", "3")
    msgs = stack.sqs.receive_message(QueueUrl=stack.res.queue_url, AttributeNames=["All"])["Messages"]
    original_send = stack.engine.queue.send
    stack.engine.queue.send = lambda m: (_ for _ in ()).throw(RuntimeError("Lambda died"))  # type: ignore[method-assign]
    result = stack.deliver(msgs)
    assert len(result["batchItemFailures"]) == 1
    stack.engine.queue.send = original_send  # type: ignore[method-assign]
    stack.engine.forget_all()  # a new container
    stack.pump()
    body = stack.get("x1")[1]
    assert body["runtimeStatus"] == "COMPLETED"
    assert json.loads(body["properties"]["dapr.workflow.output"]) == [0, 1, 2]
    counts = stack.metrics.counts
    assert counts[Metric.REDELIVERY_REPAIRS] == 1
    assert counts[Metric.WORKFLOWS_COMPLETED] == 1
    assert counts[Metric.STEPS_COMMITTED] == 3  # one per activity result, none twice


@wfr.workflow(name="two_waits")
def two_waits(ctx: DaprWorkflowContext, _):
    first = yield ctx.wait_for_external_event("a")
    try:
        second = yield ctx.wait_for_external_event("a", timeout=timedelta(minutes=1))
    except TimeoutError:
        second = "timeout"
    return [first, second]


def test_an_event_delivered_twice_is_recorded_once(stack: Stack) -> None:
    """SQS may deliver a message twice (or again after a crash past the commit): the
    workflow must still see one event per raise."""
    started(stack, "two_waits", "e2")
    stack.pump()
    assert stack.post(f"{P}/e2/raiseEvent/a", '"x"')[0] == 202
    msgs = stack.sqs.receive_message(QueueUrl=stack.res.queue_url, AttributeNames=["All"])["Messages"]
    stack.deliver(msgs)
    stack.engine.forget_all()  # the duplicate reaches another container
    stack.sqs.send_message(QueueUrl=stack.res.queue_url, MessageBody=msgs[0]["Body"])
    stack.pump()
    body = stack.get("e2")[1]
    assert json.loads(body["properties"]["dapr.workflow.output"]) == ["x", "timeout"]


def test_results_that_keep_losing_write_races_wait_in_the_inbox_not_rerun(stack: Stack) -> None:
    """Other invocations keep winning the race for the instance's next step (a wide
    fan-out under load): after a lost race the results wait in the instance's inbox, and
    its message records them (retrying its own lost races); the activities do not run
    again and no record is failed."""
    started(stack, "fan", "busy", "5")
    store = stack.engine.store
    real_append = store.append_step
    losses = [7]

    def contended(instance_id: str, execution_id: str, step: object) -> None:
        if losses[0] > 0:
            losses[0] -= 1
            raise ConflictError("another invocation wrote this step first")
        real_append(instance_id, execution_id, step)

    store.append_step = contended  # type: ignore[method-assign]
    runs_before = stack.metrics.counts[Metric.ACTIVITIES_RUN]
    while True:
        msgs = stack.sqs.receive_message(
            QueueUrl=stack.res.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not msgs:
            break
        assert stack.deliver(msgs)["batchItemFailures"] == []
    assert json.loads(stack.get("busy")[1]["properties"]["dapr.workflow.output"]) == [0, 1, 2, 3, 4]
    assert stack.metrics.counts[Metric.ACTIVITIES_RUN] - runs_before == 5
    assert stack.metrics.counts[Metric.RESULTS_COALESCED] == 5
    assert stack.metrics.counts[Metric.EVENTS_REQUEUED] == 0


@wfr.workflow(name="big_input")
def big_input(ctx: DaprWorkflowContext, data: dict):
    got = yield ctx.call_activity(echo, input=len(data["pad"]))
    if data["again"]:
        ctx.continue_as_new({"pad": data["pad"] * 2, "again": False})
        return None
    return got


def test_a_large_first_step_keeps_the_instance_record_small(stack: Stack) -> None:
    """The record is written again at every status change: a large input lives in the
    first step's own item instead, through restarts, continue-as-new and purge."""
    pad = "p" * 3000
    body = json.dumps({"pad": pad, "again": True})
    started(stack, "big_input", "big", body)
    stack.pump()
    code, view = stack.get("big")
    assert view["runtimeStatus"] == "COMPLETED"
    assert json.loads(view["properties"]["dapr.workflow.output"]) == 6000  # after continue-as-new
    assert json.loads(view["properties"]["dapr.workflow.input"])["pad"] == pad * 2

    def items() -> dict[str, int]:
        return {i["sk"]["S"]: len(json.dumps(i)) for i in stack.table_items()}

    current = items()
    assert current["META"] < 1024
    # The old execution's items are kept a while (see wf/engine/cache.py): two first steps.
    assert sum(sk.endswith("#00000000") for sk in current) == 2
    started(stack, "big_input", "big", json.dumps({"pad": pad, "again": False}))  # restart
    stack.pump()
    assert json.loads(stack.get("big")[1]["properties"]["dapr.workflow.output"]) == 3000
    assert sum(sk.endswith("#00000000") for sk in items()) == 1  # the restart removed both old ones
    assert stack.post(f"{P}/big/purge")[0] == 202
    assert stack.table_items() == []


@wfr.workflow(name="impatient")
def impatient(ctx: DaprWorkflowContext, _):
    winner = yield when_any([ctx.call_child_workflow(waiter, input=None), ctx.create_timer(timedelta(seconds=1))])
    return "timer" if winner.get_result() is None else "child"


def test_start_refused_while_a_child_of_the_terminal_instance_still_runs(stack: Stack) -> None:
    started(stack, "impatient", "im")
    stack.pump(advance_time=False)
    stack.now += timedelta(seconds=1)
    stack.pump(advance_time=False)
    assert stack.status("im") == "COMPLETED"
    assert stack.status("im:0001") == "RUNNING"
    code, err = stack.post(f"{P}/impatient/start", query={"instanceID": "im"})
    assert (code, err["errorCode"]) == (409, "ERR_INSTANCE_ID_ALREADY_EXISTS")
    assert "im:0001" in err["message"]
    code, err = stack.post(f"{P}/im/purge")
    assert (code, err["errorCode"]) == (409, "ERR_PURGE_WORKFLOW")
    stack.post(f"{P}/im:0001/terminate")  # recorded at once: "im" may now be replaced
    # The refused start's messages now look like those of a start still in flight, and
    # are kept for the grace period before they are dropped.
    stack.now += timedelta(seconds=61)
    stack.pump(advance_time=False)
    started(stack, "impatient", "im")


@wfr.activity(name="huge")
def huge(ctx: WorkflowActivityContext, n: int) -> str:
    return "x" * n


@wfr.workflow(name="bloat")
def bloat(ctx: DaprWorkflowContext, n: int):
    return len((yield ctx.call_activity(huge, input=n)))


@wfr.workflow(name="wide")
def wide(ctx: DaprWorkflowContext, blob: str):
    return (yield when_all([ctx.call_activity(echo, input=blob) for _ in range(8)]))


def test_payloads_too_large_to_store_fail_the_instance_clearly(stack: Stack) -> None:
    started(stack, "bloat", "ok", "1000")
    started(stack, "bloat", "big", "500000")  # a 500 KB activity result cannot be recorded
    stack.pump()
    assert json.loads(stack.get("ok")[1]["properties"]["dapr.workflow.output"]) == 1000
    body = stack.get("big")[1]
    # The activity's task fails (the workflow could catch it); uncaught, so does the
    # workflow, with Dapr's TaskFailedError naming the task and the task's own error.
    assert body["runtimeStatus"] == "FAILED"
    props = body["properties"]
    assert props["dapr.workflow.failure.error_type"] == "TaskFailedError"
    assert props["dapr.workflow.failure.error_message"].startswith("big: Activity task #1 failed: ")
    assert "returned 500,002 bytes" in props["dapr.workflow.failure.error_message"]
    assert "PayloadTooLargeError" in props["dapr.workflow.failure.stack_trace"]
    assert stack.metrics.counts[Metric.PAYLOADS_TOO_LARGE] == 1
    # Eight 60 KB inputs in the first step: a step too large for one item is stored
    # across several; but without a bucket its 480 KB output is over the inline limit.
    started(stack, "wide", "w", json.dumps("y" * 60_000))
    stack.pump()
    body = stack.get("w")[1]
    assert body["runtimeStatus"] == "FAILED"
    assert body["properties"]["dapr.workflow.failure.error_type"] == "PayloadTooLargeError"
    assert "200,000-byte limit" in body["properties"]["dapr.workflow.failure.error_message"]


def test_a_long_timer_stops_hopping_once_its_instance_is_terminated(stack: Stack) -> None:
    started(stack, "sleepy", "zz")
    stack.post(f"{P}/zz/terminate")
    handled = stack.pump()
    assert stack.status("zz") == "TERMINATED"
    assert handled <= 3  # the timer message is dropped at its first hop, not carried for 2 hours


def test_an_activity_that_never_finishes_is_failed_at_its_last_delivery(stack: Stack) -> None:
    from wf.engine.messages import WorkMessage

    attempts.clear()
    started(stack, "retry", "ab", "0")  # would succeed at once, if it ever finished
    msgs = stack.sqs.receive_message(QueueUrl=stack.res.queue_url)["Messages"]
    # Eight deliveries died (crashes) over two rounds of SQS deliveries: this is the last.
    last = dataclasses.replace(WorkMessage.parse(json.loads(msgs[0]["Body"])), crashes=4)
    stack.engine.handle(last, receive_count=5)
    stack.sqs.delete_message(QueueUrl=stack.res.queue_url, ReceiptHandle=msgs[0]["ReceiptHandle"])
    assert attempts == {}  # not run a fifth time
    stack.pump()  # the retry policy schedules a new attempt, which finishes
    body = stack.get("ab")[1]
    assert body["runtimeStatus"] == "COMPLETED"
    assert json.loads(body["properties"]["dapr.workflow.output"]) == 1
    started(stack, "chain", "ab2", "1")
    msgs = stack.sqs.receive_message(QueueUrl=stack.res.queue_url)["Messages"]
    last = dataclasses.replace(WorkMessage.parse(json.loads(msgs[0]["Body"])), crashes=4)
    stack.engine.handle(last, receive_count=5)
    body = stack.get("ab2")[1]
    assert body["runtimeStatus"] == "FAILED"
    assert body["properties"]["dapr.workflow.failure.error_type"] == "TaskFailedError"
    assert "ActivityAbandonedError" in body["properties"]["dapr.workflow.failure.stack_trace"]
    assert stack.metrics.counts[Metric.ACTIVITIES_ABANDONED] == 2
