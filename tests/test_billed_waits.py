"""No billed waiting (docs/performance.md, "All-in cost"): on the happy path, no Lambda
invocation waits in place for more than 50 ms in all. Timers, follow-ups and early
messages wait in SQS's delay instead, which is free.

The stack runs on moto with a fake clock that every wait advances, and a queue that
honours SQS delays on that clock. Messages a management call or a start sends are handed
to a second container at once, before the call's own write lands (on AWS they often
arrive first): the cases where an invocation would wait for another's write."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.aws_stack import Context, Stack, load_event
from wf import DaprWorkflowContext, RetryPolicy, WorkflowActivityContext, WorkflowRuntime, when_all
from wf.aws.app import build_engine, make_handler
from wf.engine.waits import BILLED_WAIT_SECONDS

P = "/v1.0-beta1/workflows/dapr"
wfr = WorkflowRuntime()
attempts: dict[str, int] = {}


@wfr.activity(name="double")
def double(ctx: WorkflowActivityContext, x: int) -> int:
    return 2 * x


@wfr.activity(name="flaky")
def flaky(ctx: WorkflowActivityContext, key: str) -> str:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] < 3:
        raise RuntimeError("not yet")
    return key


@wfr.workflow(name="child")
def child(ctx: DaprWorkflowContext, x: int):
    return (yield ctx.call_activity(double, input=x))


@wfr.workflow(name="everything")
def everything(ctx: DaprWorkflowContext, x: int):
    x = yield ctx.call_activity(double, input=x)
    for seconds in (0.3, 1, 2.5, 20 * 60):  # sub-second, whole, fractional, beyond SQS's 15 minutes
        yield ctx.create_timer(timedelta(seconds=seconds))
    retried = yield ctx.call_activity(
        flaky,
        input=ctx.instance_id,
        retry_policy=RetryPolicy(first_retry_interval=timedelta(seconds=0.5), max_number_of_attempts=3),
    )
    x = yield ctx.call_child_workflow(child, input=x, instance_id=f"{ctx.instance_id}-child")
    fanned = yield when_all([ctx.call_activity(double, input=i) for i in range(12)])
    go = yield ctx.wait_for_external_event("go")
    return [x, retried, sum(fanned), go]


@wfr.workflow(name="waiter")
def waiter(ctx: DaprWorkflowContext, x: int):
    yield ctx.create_timer(timedelta(seconds=5))
    return (yield ctx.wait_for_external_event("go"))


class FakeClockSqs:
    """SQS on the stack's fake clock: a delayed message is held until the clock reaches
    it. While ``eager`` is set, what is sent goes to ``eager_to`` at once (another
    container, as SQS's poller may hand it over before the sender's next call); what
    that container fails is queued."""

    def __init__(self, stack: Stack) -> None:
        self._stack, self._client = stack, stack.sqs
        self.held: list[tuple[Any, dict[str, Any]]] = []
        self.eager = False
        self.eager_to: Any = None

    def send_message(self, **kw: Any) -> Any:
        entry = {k: v for k, v in kw.items() if k != "QueueUrl"}
        self._send(kw["QueueUrl"], [dict(entry, Id="0")])
        return {"MessageId": uuid.uuid4().hex}

    def send_message_batch(self, **kw: Any) -> Any:
        self._send(kw["QueueUrl"], kw["Entries"])
        return {"Successful": [{"Id": e["Id"], "MessageId": uuid.uuid4().hex} for e in kw["Entries"]], "Failed": []}

    def _send(self, url: str, entries: list[dict[str, Any]]) -> None:
        now = []
        for e in entries:
            delay = int(e.get("DelaySeconds", 0))
            entry = {k: v for k, v in e.items() if k != "DelaySeconds"}
            if delay:
                self.held.append((self._stack.now + timedelta(seconds=delay), entry))
            else:
                now.append(entry)
        if now and self.eager and self.eager_to is not None:
            self.eager = False  # what the other container sends goes to the queue
            try:
                now = self.eager_to(now)
            finally:
                self.eager = True
        for entry in now:
            self._client.send_message(QueueUrl=url, MessageBody=entry["MessageBody"])

    def release(self) -> bool:
        """Queue the held messages that are due; False when none is held."""
        due = [e for at, e in self.held if at <= self._stack.now]
        self.held = [(at, e) for at, e in self.held if at > self._stack.now]
        for entry in due:
            self._client.send_message(QueueUrl=self._stack.res.queue_url, MessageBody=entry["MessageBody"])
        return bool(due or self.held)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class Measured:
    """The stack, with the fake clock advanced by every wait, and each invocation's
    waits summed."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.sqs = FakeClockSqs(stack)
        self.waits: list[float] = []  # per invocation
        self._open: list[float] = []
        engines = [self._engine() for _ in range(2)]
        stack.engine, stack.handler = engines[0]
        self._other = engines[1][1]
        self.sqs.eager_to = self._hand_over
        real_call, real_invoke = stack._call, stack.invoke

        def call(event: dict[str, Any]) -> Any:
            self._open.append(0.0)
            try:
                return real_call(event)
            finally:
                self.waits.append(self._open.pop())

        def invoke(event: dict[str, Any]) -> Any:
            self.sqs.eager = True
            try:
                return real_invoke(event)
            finally:
                self.sqs.eager = False

        stack._call, stack.invoke = call, invoke  # type: ignore[method-assign]

    def _engine(self) -> tuple[Any, Any]:
        s = self.stack
        engine = build_engine(wfr, s.settings, sqs_client=self.sqs, clock=lambda: s.now, sleep=self._sleep)
        return engine, make_handler(engine, s.settings, ack=engine.queue.ack)

    def _sleep(self, seconds: float) -> None:
        self._open[-1] += seconds
        self.stack.now += timedelta(seconds=seconds)

    def _hand_over(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        event = load_event("sqs_event.json")
        template = event["Records"][0]
        records = []
        for i, e in enumerate(entries):
            r = json.loads(json.dumps(template))
            r.update(messageId=str(i), receiptHandle=str(i), body=e["MessageBody"])
            records.append(r)
        event["Records"] = records
        self._open.append(0.0)
        try:
            result = self._other(event, Context(self.stack))
        finally:
            self.waits.append(self._open.pop())
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        return [e for i, e in enumerate(entries) if str(i) in failed]

    def pump(self) -> None:
        for _ in range(2_000):
            self.sqs.release()
            msgs = self.stack.sqs.receive_message(
                QueueUrl=self.stack.res.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            if msgs:
                self.stack.deliver(msgs)
                continue
            if not self.sqs.held:
                return
            self.stack.now = min(at for at, _ in self.sqs.held)
        raise AssertionError("queue did not drain")


@pytest.fixture
def measured(aws) -> Iterator[Measured]:
    attempts.clear()
    yield Measured(Stack(wfr))


def test_no_invocation_waits_more_than_50_ms_on_the_happy_path(measured: Measured) -> None:
    stack = measured.stack
    for i in range(3):
        assert stack.post(f"{P}/everything/start", str(i), query={"instanceID": f"e{i}"})[0] == 202
    assert stack.post(f"{P}/waiter/start", "0", query={"instanceID": "w"})[0] == 202
    assert stack.post(f"{P}/waiter/start", "0", query={"instanceID": "t"})[0] == 202
    measured.pump()
    assert stack.post(f"{P}/w/pause")[0] == 202
    measured.pump()
    assert stack.post(f"{P}/w/resume")[0] == 202
    assert stack.post(f"{P}/t/terminate")[0] == 202
    measured.pump()
    for iid in ("e0", "e1", "e2", "w"):
        assert stack.post(f"{P}/{iid}/raiseEvent/go", json.dumps(iid))[0] == 202
    measured.pump()

    for i in range(3):
        body = stack.get(f"e{i}")[1]
        assert body["runtimeStatus"] == "COMPLETED", body
        assert json.loads(body["properties"]["dapr.workflow.output"]) == [4 * i, f"e{i}", 132, f"e{i}"]
    assert stack.status("w") == "COMPLETED" and stack.status("t") == "TERMINATED"
    # Every kind of wait was met: the timers and a hand-over before a call's write.
    assert len(measured.waits) > 40
    assert max(measured.waits) <= BILLED_WAIT_SECONDS + 1e-9, sorted(measured.waits)[-5:]
