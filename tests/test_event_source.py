"""The local SQS event source behaves like Lambda's: batches, partial batch failures,
retry after the visibility timeout, redrive to the dead-letter queue."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from tests.dev_process import eventually
from wf.dev.eventsource import SqsEventSource


def test_partial_failures_retry_then_go_to_the_dead_letter_queue(aws) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName="work",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
        },
    )["QueueUrl"]
    for i in range(12):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"k": "event", "iid": f"i{i}", "poison": i == 3}))
    batches: list[int] = []
    counts: dict[str, list[str]] = {}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        batches.append(len(event["Records"]))
        failures = []
        for r in event["Records"]:
            body = json.loads(r["body"])
            counts.setdefault(body["iid"], []).append(r["attributes"]["ApproximateReceiveCount"])
            if body["poison"]:
                failures.append({"itemIdentifier": r["messageId"]})
        return {"batchItemFailures": failures}

    source = SqsEventSource(sqs, queue, handler, wait_seconds=0, delete_after=0.01)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            source.poll_once()
            source.flush()
            if (
                sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                    "ApproximateNumberOfMessages"
                ]
                == "1"
            ):
                break
            time.sleep(0.2)
    finally:
        source.close()
    assert max(batches) == 10  # batch size honoured
    assert all(len(v) == 1 for k, v in counts.items() if k != "i3")  # successes deleted, never redelivered
    assert counts["i3"] == ["1", "2"]  # failed record came back after the visibility timeout
    moved = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert json.loads(moved[0]["Body"])["iid"] == "i3"


def test_a_handler_that_raises_fails_the_whole_batch(aws) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="w2", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="{}")

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("function crashed")

    source = SqsEventSource(sqs, queue, handler, wait_seconds=0)
    try:
        assert source.poll_once() == (1, 1)
    finally:
        source.close()
    # Failed as a whole: the record comes back once its visibility timeout (1 s) ends.
    back: list[dict[str, Any]] = []
    eventually(
        lambda: back.extend(sqs.receive_message(QueueUrl=queue).get("Messages", [])) or back, "it comes back", 10
    )
    assert len(back) == 1


def test_timers_waited_for_in_a_batch_hold_up_none_of_its_other_records() -> None:
    """With precise timers (the local stack) a batch's early timers are waited for side
    by side, while its other records go on: a child's termination delivered with another
    child's early timer is recorded before that timer's wait ends, not after it (found
    by upstream's recursive-terminate test: the children's activities ran)."""
    import threading
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from wf.aws.batch import BatchFolder
    from wf.core.history import WorkflowTerminated
    from wf.engine.messages import EventMessage, TimerMessage, WorkMessage

    now = datetime(2026, 1, 1, tzinfo=UTC)
    terminated = threading.Event()
    order: list[str] = []

    class Engine:
        precise_timers = True

        def parse(self, body):
            return WorkMessage.parse(json.loads(body))

        def events_for(self, msg, **_):
            if isinstance(msg, TimerMessage):
                # The timer is early: its wait ends when it is due, here when the
                # termination has gone by (or never, if the batch waited on us first).
                assert terminated.wait(10), "the termination waited for the timers"
                return [SimpleNamespace(kind="TimerFired")]
            return [msg.event]

        def advance(self, msgs, events, **_):
            order.append(msgs[0].instance_id)
            if msgs[0].instance_id == "child-2":
                terminated.set()

    bodies = [
        TimerMessage("child-1", "e1", now, 1, now + timedelta(seconds=1)).to_out().body,
        TimerMessage("child-3", "e3", now, 1, now + timedelta(seconds=1)).to_out().body,
        EventMessage("child-2", None, now, WorkflowTerminated(now, None)).to_out().body,
    ]
    records = [
        {
            "messageId": f"m{i}",
            "receiptHandle": f"r{i}",
            "body": json.dumps(b),
            "attributes": {"ApproximateReceiveCount": "1"},
        }
        for i, b in enumerate(bodies)
    ]
    folder = BatchFolder(Engine())  # type: ignore[arg-type]
    ordered = folder.order(records)
    folder.start_timers(ordered)
    try:
        for record in ordered:
            folder.handle(SQSRecord(record))
    finally:
        folder.finish_timers()
    assert order[0] == "child-2" and sorted(order) == ["child-1", "child-2", "child-3"]
    assert folder.failed == set()
