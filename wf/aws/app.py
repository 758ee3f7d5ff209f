"""Wiring: builds the Lambda app from a registry and settings, with injected clients,
and routes each Lambda event (API Gateway v1/v2, SQS batch) to its handler."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from wf.aws.dynamodb import DynamoStore
from wf.aws.event_handler import APIGatewayHttpResolver, APIGatewayRestResolver
from wf.aws.http import BASE_PATH, build_resolver
from wf.aws.metrics import LoggedMetrics, PowertoolsMetrics
from wf.aws.s3 import S3Blobs
from wf.aws.sessions import events_client, s3_client, shared_loader
from wf.aws.sessions import sqs_client as shared_sqs_client
from wf.aws.settings import Settings
from wf.aws.slots import DynamoSlots
from wf.aws.sqs import SqsQueue, queue_endpoint
from wf.aws.status_events import EventBridgeStatusEvents
from wf.aws.table import make_item_model
from wf.aws.tracing import Span, message_spans, no_span
from wf.core.registry import Registry
from wf.engine import selfcheck
from wf.engine.blobs import MAX_INLINE_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES, BlobStore
from wf.engine.concurrency import ActivityGate, ConcurrencyLimits
from wf.engine.engine import Engine
from wf.engine.metrics import Metrics

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

#: Powertools' resolvers keep the current event on a class (``BaseRouter``), shared by
#: every resolver of the process. Lambda runs one invocation per process, so this lock is
#: never contended there, nor in ``wf dev`` (a process per container); an application's
#: own stack (``WorkflowRuntime.start()``) runs its containers as threads of one process,
#: and without it one request would be routed or answered with another's event.
_RESOLVING = threading.Lock()


def utc_now() -> datetime:
    return datetime.now(UTC)


def time_ordered_id(clock: Callable[[], datetime]) -> Callable[[], str]:
    """IDs that sort by creation time (execution IDs: a stale message is told from an
    early one; pause and resume IDs: they apply in the order issued). Random bits keep
    containers apart; within one container, IDs of the same millisecond count up from
    the first one's (as monotonic ULIDs do), so they still sort in issue order."""
    lock = threading.Lock()
    last = [-1, 0]  # millisecond, suffix

    def new_id() -> str:
        ms = int(clock().timestamp() * 1000)
        with lock:
            if ms <= last[0] and last[1] < 0xFFFFFFFF:
                ms, suffix = last[0], last[1] + 1
            else:
                suffix = secrets.randbelow(0x80000000)  # leaves room to count up
            last[0], last[1] = ms, suffix
        return f"{ms:012x}{suffix:08x}"

    return new_id


def build_engine(
    runtime: Registry,
    settings: Settings,
    *,
    sqs_client: SQSClient | None = None,
    s3: Any = None,
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    metrics: Metrics | None = None,
) -> Engine:
    """The engine over DynamoDB, SQS and (with a bucket) S3; clients, clock and sleep may
    be injected (tests: an injected SQS client also sends to the other apps' queues)."""
    shared_loader()
    make_sqs: Callable[[], SQSClient] = (
        (lambda: sqs_client)
        if sqs_client is not None
        else (lambda: shared_sqs_client(settings.region, settings.sqs_endpoint))
    )
    blobs: BlobStore | None = None
    if settings.bucket_name:
        # Made on first use: a cold start that never meets a large payload skips it.
        blobs = S3Blobs(
            (lambda: s3) if s3 is not None else (lambda: s3_client(settings.region, settings.s3_endpoint)),
            settings.bucket_name,
        )
    retention = timedelta(days=settings.retention_days) if settings.retention_days else None
    status_events = None
    if settings.event_bus:
        status_events = EventBridgeStatusEvents(
            lambda: events_client(settings.region, settings.events_endpoint), settings.event_bus
        )
    item = make_item_model(settings.table_name, settings.region, settings.dynamodb_endpoint)
    store = DynamoStore(item, blobs, retention=retention)
    new_id = time_ordered_id(clock)
    gate = (
        ActivityGate(settings.concurrency, DynamoSlots(item), clock, new_id)
        if settings.concurrency != ConcurrencyLimits()
        else None
    )
    # No bucket: the other app cannot read this one's. A client of its own each, made
    # on first use: most invocations call no other app.
    peers = {
        app: SqsQueue(make_sqs if sqs_client is not None else _client_for(url, settings.region), url)
        for app, url in settings.peers.items()
    }
    return Engine(
        runtime,
        store,
        SqsQueue(make_sqs, settings.queue_url, blobs),
        clock=clock,
        new_id=new_id,
        activity_margin_ms=settings.activity_margin_ms,
        max_receive_count=settings.max_receive_count,
        activity_concurrency=settings.activity_concurrency,
        precise_timers=settings.precise_timers,
        replay_each_step=settings.replay_each_step,
        cache_bytes=settings.cache_bytes,
        app_id=settings.app_id,
        peers=peers,
        max_payload_bytes=MAX_PAYLOAD_BYTES if blobs is not None else MAX_INLINE_PAYLOAD_BYTES,
        sleep=sleep,
        metrics=metrics,
        status_events=status_events,
        concurrency=gate,
    )


def _client_for(queue_url: str, default_region: str) -> Callable[[], SQSClient]:
    region, endpoint = queue_endpoint(queue_url, default_region)
    return lambda: shared_sqs_client(region, endpoint)


def make_handler(
    engine: Engine,
    settings: Settings,
    flush: Callable[[], None] = lambda: None,
    span: Span = no_span,
    ack: Callable[[Sequence[str]], None] | None = None,
) -> LambdaHandler:
    """The Lambda entry for an engine: API Gateway v1/v2 events, SQS batches and the
    table's stream (expired records, ``wf/aws/retention.py``);
    ``flush`` runs after each invocation (metrics), ``span`` around each message (traces),
    ``ack`` deletes received messages early (``SqsQueue.ack``)."""
    # Each part is built (and the batch code imported) at its first event: a container
    # started by API Gateway never needs the SQS batch code, nor one started by SQS the
    # routes, and a cold start's init is shorter by what it does not need.
    resolvers: dict[bool, Any] = {}

    def resolver_for(v2: bool) -> Any:
        if v2 not in resolvers:
            kind = APIGatewayHttpResolver if v2 else APIGatewayRestResolver
            resolvers[v2] = build_resolver(kind(strip_prefixes=[BASE_PATH]), engine, settings)
        return resolvers[v2]

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return dispatch(event, context)
        finally:
            flush()

    def dispatch(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if "Records" in event:
            records = event["Records"]
            if records and records[0].get("eventSource") == "aws:dynamodb":
                from wf.aws.retention import expire_batch

                return expire_batch(engine.store, event, context)
            return _batch(engine, event, context, span, ack)
        with _RESOLVING:
            response: dict[str, Any] = resolver_for(event.get("version") == "2.0").resolve(event, context)
        return fit_response(response)

    return handler


#: Lambda's limit on a synchronous invocation's response (and request): 6 MB.
MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024


def fit_response(response: dict[str, Any]) -> dict[str, Any]:
    """``response``, or, when Lambda could not return it (over 6 MB: API Gateway would
    answer a bare 502), an error that says why and what to do instead."""
    body = response.get("body")
    # Measured exactly only when it could be near the limit: JSON escaping at most
    # doubles a string's bytes here (orjson keeps non-ASCII as UTF-8).
    if not isinstance(body, str) or 4 * len(body) < MAX_SYNC_PAYLOAD_BYTES:
        return response
    import orjson

    size = len(orjson.dumps(response))
    if size <= MAX_SYNC_PAYLOAD_BYTES:
        return response
    error = {
        "errorCode": "ERR_RESPONSE_TOO_LARGE",
        "message": f"the answer would be {size:,} bytes, over Lambda's limit of {MAX_SYNC_PAYLOAD_BYTES:,} bytes "
        "(6 MB) for a response: read the instance's payloads one at a time from its history "
        "(GET .../history?pageSize=1)",
    }
    return {"statusCode": 500, "headers": {"Content-Type": "application/json"}, "body": orjson.dumps(error).decode()}


def _batch(
    engine: Engine, event: dict[str, Any], context: Any, span: Span, ack: Callable[[Sequence[str]], None] | None
) -> dict[str, Any]:
    """One SQS batch: its records folded into steps, failures reported per record."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from wf.aws.batch import BatchFolder

    folder = BatchFolder(engine, getattr(context, "get_remaining_time_in_millis", None), span, ack)
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    records = folder.order(event["Records"])
    folder.hand_on(records)
    folder.run_activities(records)
    folder.start_timers(records)
    try:
        response = process_partial_response(
            event={**event, "Records": records},
            record_handler=folder.handle,
            processor=processor,
            context=context,
        )
    finally:
        folder.finish_timers()
    failures = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    failures += sorted(folder.failed - set(failures))
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failures]}


def build_app(runtime: Registry, settings: Settings) -> LambdaHandler:
    """The Lambda app serving ``runtime``'s workflows (and `wf check`'s)."""
    selfcheck.register(runtime)
    if settings.json_logs:
        # JSON log lines on the ``wf`` logger tree (CloudWatch); the local stack keeps
        # plain lines.
        Logger(service=settings.service_name)
    if settings.on_lambda:
        # CloudWatch metrics (EMF) on Lambda only, and X-Ray traces where tracing is on.
        metrics = PowertoolsMetrics(namespace="wf", service=settings.service_name)
        engine = build_engine(runtime, settings, metrics=metrics)
        if not settings.tracing:
            return make_handler(engine, settings, metrics.flush, ack=_ack(engine))
        from aws_lambda_powertools import Tracer

        tracer = Tracer(service=settings.service_name)
        handler = make_handler(engine, settings, metrics.flush, message_spans(tracer), _ack(engine))
        traced: LambdaHandler = tracer.capture_lambda_handler(handler, capture_response=False)
        return traced
    if settings.log_metrics:
        logged = LoggedMetrics(logging.getLogger("wf.metrics"))
        engine = build_engine(runtime, settings, metrics=logged)
        return make_handler(engine, settings, logged.flush, ack=_ack(engine))
    engine = build_engine(runtime, settings)
    return make_handler(engine, settings, ack=_ack(engine))


def _ack(engine: Engine) -> Callable[[Sequence[str]], None] | None:
    return engine.queue.ack if isinstance(engine.queue, SqsQueue) else None
