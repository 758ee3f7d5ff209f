"""The local SQS event source behaves like Lambda's: batches, partial batch failures,
retry after the visibility timeout, redrive to the dead-letter queue."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

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
    time.sleep(1.1)
    assert len(sqs.receive_message(QueueUrl=queue).get("Messages", [])) == 1
