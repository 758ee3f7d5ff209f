"""The function's configuration: read once from the environment (``Settings.from_env``)
and injected everywhere else. No other module of the function reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from wf.engine.budget import DEFAULT_MARGIN_MS
from wf.engine.cache import DEFAULT_CACHE_BYTES
from wf.engine.concurrency import ConcurrencyLimits
from wf.engine.engine import DEFAULT_ACTIVITY_CONCURRENCY, DEFAULT_MAX_RECEIVE_COUNT
from wf.errors import ConfigurationError

DEFAULT_COMPONENT = "dapr"
DEFAULT_MAX_BODY_BYTES = 64 * 1024
#: With a bucket, a request body may be as large as a payload may be (Lambda itself
#: takes at most 6 MB per request and response on AWS).
DEFAULT_MAX_BODY_BYTES_WITH_BUCKET = 10 * 1024 * 1024
DEFAULT_REGION = "us-east-1"
DEFAULT_SERVICE = "wf"
MB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    table_name: str
    queue_url: str
    component: str = DEFAULT_COMPONENT
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    region: str = DEFAULT_REGION
    #: An activity starts only if its invocation has more time left than this (and than
    #: 1.5 times its longest run seen); otherwise it goes to a fresh SQS message.
    activity_margin_ms: int = DEFAULT_MARGIN_MS
    #: The queue's redrive ``maxReceiveCount``: the last delivery before the dead-letter queue.
    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT
    #: Activities of one SQS batch that run at once (``WF_ACTIVITY_CONCURRENCY``).
    activity_concurrency: int = DEFAULT_ACTIVITY_CONCURRENCY
    #: Timers to the millisecond (``WF_PRECISE_TIMERS=1``, the local stack): they arrive
    #: early and the invocation waits; else up to a second late, and no invocation waits
    #: more than 50 ms in all (``wf/engine/waits.py``; the template's ``PreciseTimers``).
    precise_timers: bool = False
    #: Run each step's code afresh from the history held (``WF_REPLAY_EACH_STEP=1``, set
    #: by ``WorkflowRuntime.start()``): code that changes while the process runs is used.
    replay_each_step: bool = False
    #: The memory the warm executions may hold (``WF_CACHE_MB``; by default a quarter
    #: of the function's, ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``, else 128 MB).
    cache_bytes: int = DEFAULT_CACHE_BYTES
    #: Powertools' service name (logs, metrics, traces).
    service_name: str = DEFAULT_SERVICE
    #: Running on Lambda (``AWS_LAMBDA_FUNCTION_NAME``): metrics and traces are published.
    on_lambda: bool = False
    #: X-Ray tracing: on Lambda with active tracing (Lambda then names its daemon,
    #: ``AWS_XRAY_DAEMON_ADDRESS``), unless ``POWERTOOLS_TRACE_DISABLED``. Off, the X-Ray
    #: SDK is not even imported (about a third of a cold start's init).
    tracing: bool = False
    #: JSON log lines (CloudWatch), or plain text lines (``WF_LOG_FORMAT=text``, the local stack).
    json_logs: bool = True
    #: Off Lambda, the engine's counts as a log line per invocation (``WF_LOG_METRICS``:
    #: ``wf dev --verbose``), where CloudWatch would have them on Lambda.
    log_metrics: bool = False
    #: Another endpoint than AWS's for DynamoDB and SQS (the local stack, an emulator).
    dynamodb_endpoint: str | None = None
    sqs_endpoint: str | None = None
    s3_endpoint: str | None = None
    events_endpoint: str | None = None
    #: The EventBridge bus status-change events go to; ``None``: none are published.
    event_bus: str | None = None
    #: The bucket of large payloads (``WF_BUCKET``): without one, payloads are limited to
    #: what fits inline in items and messages (200 KB).
    bucket_name: str | None = None
    #: Days a terminal instance is kept (``WF_RETENTION_DAYS``; 0, the default, keeps it
    #: forever): its record then expires by DynamoDB TTL, and the function deletes the
    #: rest of it as the table's stream reports the expiry (``wf/aws/retention.py``).
    retention_days: float = 0.0
    #: Concurrency limits, from the Dapr Configuration file ``WF_DAPR_CONFIG`` names (a
    #: path relative to the function's code, ``LAMBDA_TASK_ROOT``, or absolute; the
    #: template's ``DaprConfigFile``, ``wf dev --config``): ``wf/engine/concurrency.py``.
    concurrency: ConcurrencyLimits = field(default_factory=ConcurrencyLimits)
    #: This app's ID (``WF_APP_ID``; by default the service name): what other apps call
    #: it by (``call_activity(..., app_id=...)``) and what its called work answers to.
    app_id: str = DEFAULT_SERVICE
    #: The apps this one calls and answers: their IDs and queue URLs (``WF_APPS``,
    #: ``orders=https://sqs.../orders-work,billing=...``; the template's ``PeerApps``).
    peers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        try:
            table, queue = env["WF_TABLE_NAME"], env["WF_QUEUE_URL"]
        except KeyError as exc:
            raise ConfigurationError(f"environment variable {exc.args[0]} is not set (see template.yaml)") from exc

        def number(name: str, default: int) -> int:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                return int(raw)
            except ValueError as exc:
                raise ConfigurationError(f"environment variable {name} must be a whole number, not {raw!r}") from exc

        def endpoint(service: str) -> str | None:
            return env.get(f"AWS_ENDPOINT_URL_{service.upper()}") or env.get("AWS_ENDPOINT_URL") or None

        bucket = env.get("WF_BUCKET") or None
        return cls(
            table_name=table,
            queue_url=queue,
            component=env.get("WF_COMPONENT", DEFAULT_COMPONENT),
            max_body_bytes=number(
                "WF_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES_WITH_BUCKET if bucket else DEFAULT_MAX_BODY_BYTES
            ),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            activity_margin_ms=number("WF_ACTIVITY_MARGIN_MS", DEFAULT_MARGIN_MS),
            max_receive_count=number("WF_MAX_RECEIVE_COUNT", DEFAULT_MAX_RECEIVE_COUNT),
            activity_concurrency=number("WF_ACTIVITY_CONCURRENCY", DEFAULT_ACTIVITY_CONCURRENCY),
            precise_timers=env.get("WF_PRECISE_TIMERS", "") in ("1", "true", "yes"),
            replay_each_step=env.get("WF_REPLAY_EACH_STEP", "") in ("1", "true", "yes"),
            cache_bytes=number(
                "WF_CACHE_MB",
                number("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 4 * DEFAULT_CACHE_BYTES // MB) // 4,
            )
            * MB,
            service_name=env.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE,
            on_lambda=bool(env.get("AWS_LAMBDA_FUNCTION_NAME")),
            tracing=bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))
            and bool(env.get("AWS_XRAY_DAEMON_ADDRESS"))
            and env.get("POWERTOOLS_TRACE_DISABLED", "").lower() not in ("1", "true"),
            json_logs=env.get("WF_LOG_FORMAT", "json") == "json",
            log_metrics=env.get("WF_LOG_METRICS", "") in ("1", "true", "yes"),
            dynamodb_endpoint=endpoint("dynamodb"),
            sqs_endpoint=endpoint("sqs"),
            s3_endpoint=endpoint("s3"),
            events_endpoint=endpoint("events"),
            event_bus=env.get("WF_EVENT_BUS") or None,
            bucket_name=bucket,
            retention_days=_days(env.get("WF_RETENTION_DAYS")),
            concurrency=_limits(env.get("WF_DAPR_CONFIG"), env.get("LAMBDA_TASK_ROOT")),
            app_id=env.get("WF_APP_ID") or env.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE,
            peers=parse_apps(env.get("WF_APPS", "")),
        )


def parse_apps(raw: str) -> dict[str, str]:
    """``WF_APPS``: comma-separated ``ID=QUEUE_URL`` pairs (blank: none)."""
    apps: dict[str, str] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        name, sep, url = (x.strip() for x in part.partition("="))
        parsed = urlsplit(url)
        if not sep or not name or parsed.scheme not in ("http", "https") or not parsed.netloc or not parsed.path:
            raise ConfigurationError(
                f"WF_APPS: {part!r} is not ID=QUEUE_URL (an SQS queue URL, "
                "https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"
            )
        if name in apps:
            raise ConfigurationError(f"WF_APPS names app '{name}' twice")
        apps[name] = url
    return apps


def _limits(path: str | None, code_root: str | None) -> ConcurrencyLimits:
    if not path:
        return ConcurrencyLimits()
    file = Path(path) if code_root is None else Path(code_root) / path
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigurationError(f"the Dapr Configuration WF_DAPR_CONFIG names cannot be read: {exc}") from exc
    return ConcurrencyLimits.from_dapr_configuration(text, str(path))


def _days(raw: str | None) -> float:
    if raw is None or raw.strip() == "":
        return 0.0
    try:
        days = float(raw)
    except ValueError as exc:
        raise ConfigurationError(
            f"environment variable WF_RETENTION_DAYS must be a number of days, not {raw!r}"
        ) from exc
    if not 0 <= days < 36_500 or days != days:
        raise ConfigurationError(f"WF_RETENTION_DAYS must be 0 (keep forever) or a positive number of days, not {raw}")
    return days
