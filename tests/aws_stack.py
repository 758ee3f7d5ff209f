"""A moto-backed stack driven only through ``lambda_handler``: HTTP events in (shaped
like the files in events/), SQS messages pumped back in as SQS events."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from wf.aws.app import build_engine, make_handler
from wf.aws.settings import Settings
from wf.dev.provision import ensure_resources
from wf.engine.messages import MessageKind
from wf.engine.status_events import DETAIL_TYPE, SOURCE
from wf.runtime import WorkflowRuntime
from wf.testing import RecordingMetrics

EVENTS = Path(__file__).resolve().parent.parent / "events"
T0 = datetime(2026, 1, 12, 21, 31, 13, 381146, tzinfo=UTC)


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


class _NoDelaySqs:
    """moto delays messages in real time; the fake clock decides when timers are due."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def send_message(self, **kw: Any) -> Any:
        kw.pop("DelaySeconds", None)
        return self._client.send_message(**kw)

    def send_message_batch(self, **kw: Any) -> Any:
        for e in kw["Entries"]:
            e.pop("DelaySeconds", None)
        return self._client.send_message_batch(**kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _due_at(body: dict[str, Any]) -> str | None:
    """When a message that waits for its time (a timer, a scheduled start) is due."""
    if body["k"] == MessageKind.TIMER.value:
        return str(body["fire_at"])
    if body["k"] == MessageKind.SCHEDULED.value:
        return str(body["at"])
    return None


class Context:
    """A Lambda context on the stack's fake invocation clock (``Stack.elapsed_ms``)."""

    function_name = "wf"
    aws_request_id = "req"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:wf"
    memory_limit_in_mb = 512

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._started = stack.elapsed_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._stack.timeout_ms - (self._stack.elapsed_ms - self._started)


class Stack:
    def __init__(
        self,
        runtime: WorkflowRuntime,
        *,
        component: str = "dapr",
        max_body_bytes: int = 128 * 1024,
        bucket: bool = False,
        retention_days: float = 0.0,
        event_bus: str | None = None,
    ) -> None:
        self.now = T0
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.s3 = boto3.client("s3", region_name="us-east-1") if bucket else None
        self.res = ensure_resources(ddb, self.sqs, s3=self.s3)
        self.settings = Settings(
            self.res.table_name,
            self.res.queue_url,
            component,
            max_body_bytes,
            bucket_name=self.res.bucket_name,
            retention_days=retention_days,
            event_bus=event_bus,
        )
        self.metrics = RecordingMetrics()
        self.engine = build_engine(
            runtime,
            self.settings,
            sqs_client=_NoDelaySqs(self.sqs),
            s3=self.s3,
            clock=lambda: self.now,
            sleep=lambda _: None,
            metrics=self.metrics,
        )
        self.handler = make_handler(self.engine, self.settings, ack=self.engine.queue.ack)
        self.invocations = 0
        # The function's timeout, and a clock that activities may advance to take time:
        # an invocation that would have outlived its timeout fails the test.
        self.timeout_ms = 30_000
        self.elapsed_ms = 0
        self.crash_after: int | None = None

    # -- HTTP ------------------------------------------------------------------------
    def http(
        self, method: str, path: str, body: str | None = None, query: dict[str, str] | None = None, v2: bool = False
    ) -> tuple[int, Any]:
        if v2:
            event = load_event("get_http_api_v2.json")
            event["rawPath"] = path
            event["requestContext"]["http"]["method"] = method
            event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
            if query:
                event["queryStringParameters"] = query
            if body is not None:
                event["body"] = body
        else:
            event = copy.deepcopy(load_event("get.json"))
            event.update(
                path=path,
                httpMethod=method,
                body=body,
                queryStringParameters=query,
                multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
            )
        return self.invoke(event)

    def _call(self, event: dict[str, Any]) -> Any:
        context = Context(self)
        result = self.handler(event, context)
        remaining = context.get_remaining_time_in_millis()
        assert remaining >= 0, f"the invocation ran {-remaining} ms past its timeout"
        return result

    def invoke(self, event: dict[str, Any]) -> tuple[int, Any]:
        self.invocations += 1
        resp = self._call(event)
        body = resp.get("body")
        if resp["statusCode"] != 204:
            assert "application/json" in str(
                resp.get("headers", {}).get("Content-Type", "")
            ) or "application/json" in str(resp.get("multiValueHeaders", {}).get("Content-Type", ""))
        return resp["statusCode"], json.loads(body) if body else None

    def post(self, path: str, body: str | None = None, **kw: Any) -> tuple[int, Any]:
        return self.http("POST", path, body, **kw)

    def get(self, iid: str, ver: str = "v1.0-beta1") -> tuple[int, Any]:
        return self.http("GET", f"/{ver}/workflows/dapr/{iid}")

    def status(self, iid: str) -> str:
        return self.get(iid)[1]["runtimeStatus"]

    # -- SQS -------------------------------------------------------------------------
    def pump(self, max_rounds: int = 500, *, advance_time: bool = True) -> int:
        """Deliver queued messages as SQS events until the queue is empty; timers not
        yet due make the fake clock jump (at most 15 minutes at a time)."""
        handled = 0
        for _ in range(max_rounds):
            resp = self.sqs.receive_message(
                QueueUrl=self.res.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
            )
            msgs = resp.get("Messages", [])
            if not msgs:
                return handled
            bodies = [json.loads(m["Body"]) for m in msgs]
            due = [b for b in bodies if (_due_at(b) or "") <= self._now_str()]
            if not due and not advance_time:
                for m in msgs:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.res.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                    )
                return handled
            if not due:
                earliest = min(datetime.fromisoformat(str(_due_at(b)).replace("Z", "+00:00")) for b in bodies)
                self.now = min(earliest, self.now + timedelta(seconds=900))
            self.deliver(msgs)
            handled += len(msgs)
        raise AssertionError("queue did not drain")

    def _now_str(self) -> str:
        return self.now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def deliver(self, msgs: list[dict[str, Any]]) -> dict[str, Any]:
        event = load_event("sqs_event.json")
        template = event["Records"][0]
        records = []
        for m in msgs:
            r = copy.deepcopy(template)
            r.update(
                messageId=m["MessageId"], receiptHandle=m["ReceiptHandle"], body=m["Body"], md5OfBody=m["MD5OfBody"]
            )
            r["attributes"]["ApproximateReceiveCount"] = m["Attributes"]["ApproximateReceiveCount"]
            records.append(r)
        event["Records"] = records
        self.invocations += 1
        result = self._call(event)
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for m in msgs:
            if m["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.res.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=self.res.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return result

    def table_items(self) -> list[dict[str, Any]]:
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        items: list[dict[str, Any]] = []
        for page in ddb.get_paginator("scan").paginate(TableName=self.res.table_name):
            items += page["Items"]
        return items

    def blob_keys(self) -> list[str]:
        assert self.s3 is not None and self.res.bucket_name
        return [o["Key"] for o in self.s3.list_objects_v2(Bucket=self.res.bucket_name).get("Contents", [])]


def subscribe_to_status_events(bus: str = "default", queue: str = "status-events") -> str:
    """An EventBridge rule for the engine's events on ``bus``, targeting a new queue."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    events = boto3.client("events", region_name="us-east-1")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [SOURCE], "detail-type": [DETAIL_TYPE]}
    events.put_rule(Name=f"{queue}-rule", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=f"{queue}-rule", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return url
