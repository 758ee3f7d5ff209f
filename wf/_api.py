"""The HTTP management API (SPEC section 1) on Powertools' event_handler resolvers."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

from wf._engine import Engine
from wf._errors import WorkflowError
from wf._lifecycle import InstanceExistsError
from wf._manage import ApiError, Signal, get_view, purge, signal
from wf._serde import encode
from wf._settings import Settings

log = logging.getLogger("wf.api")

VERSIONS = ("v1.0-alpha1", "v1.0-beta1", "v1.0")
MAX_INSTANCE_ID_BYTES = 64
_ID_CHARS = re.compile(r"^[A-Za-z0-9_\-]+$")
_EMPTY_SEGMENT = re.compile(r"^/(?P<ver>[^/]+)/workflows/(?P<c>[^/]*)/(?P<a>[^/]*)(?:/(?P<b>[^/]*))?(?:/(?P<d>.*))?$")

#: A custom domain's base-path mapping puts its path in front of ours ("/wf/v1.0/...").
#: Anything before the first Dapr version segment that starts a route is stripped; a
#: path that starts with a version segment is never touched.
BASE_PATH = re.compile(
    r"^(?!/v1\.0(?:-alpha1|-beta1)?/)(?:/[^/]+)+?(?=/v1\.0(?:-alpha1|-beta1)?/workflows/|/v1\.0/(?:metadata|healthz)$)"
)

R = TypeVar("R", bound=ApiGatewayResolver)
Handler = Callable[..., Response[str]]


def _json(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def _error(err: ApiError) -> Response[str]:
    return _json(err.status, {"errorCode": err.code, "message": err.message})


def parse_body(raw: str | None) -> str | None:
    """The request body as an encoded JSON payload: JSON as is, other text as a string,
    empty as null (falsy values round-trip unchanged)."""
    if raw is None or raw == "":
        return None
    try:
        json.loads(raw)
        return raw.strip()
    except ValueError:
        return encode(raw)


def build_resolver(resolver: R, engine: Engine, settings: Settings) -> R:
    """Register every route of SPEC section 1 on ``resolver``."""
    app = resolver

    def operation(code: str) -> Callable[[Handler], Handler]:
        def decorate(fn: Handler) -> Handler:
            @wraps(fn)
            def wrapper(ver: str, component: str, **kwargs: str) -> Response[str]:
                try:
                    if ver not in VERSIONS:
                        raise ApiError(404, "ERR_NOT_FOUND", f"unknown API version '{ver}'")
                    if component != settings.component:
                        raise ApiError(
                            400, "ERR_WORKFLOW_COMPONENT_NOT_FOUND", f"workflow component '{component}' not found"
                        )
                    return fn(**kwargs)
                except ApiError as err:
                    return _error(err)
                except Exception as exc:
                    # Domain errors are expected faults (store, queue); anything else is a bug.
                    log.error("%s: %s", code, exc, exc_info=not isinstance(exc, WorkflowError))
                    return _error(ApiError(500, code, f"{type(exc).__name__}: {exc}"))

            return wrapper

        return decorate

    def body() -> str | None:
        raw = app.current_event.decoded_body
        if raw is not None and len(raw.encode()) > settings.max_body_bytes:
            raise ApiError(
                413,
                "ERR_PAYLOAD_TOO_LARGE",
                f"request body is larger than the limit of {settings.max_body_bytes} bytes",
            )
        return parse_body(raw)

    @app.post("/<ver>/workflows/<component>/<name>/start")
    @operation("ERR_START_WORKFLOW")
    def start(name: str) -> Response[str]:
        params = app.current_event.query_string_parameters or {}
        instance_id = params.get("instanceID")
        if instance_id is None:
            instance_id = str(uuid.uuid4())
        validate_instance_id(instance_id)
        if name not in engine.runtime.workflows:
            known = ", ".join(sorted(engine.runtime.workflows)) or "none"
            raise ApiError(404, "ERR_WORKFLOW_NOT_FOUND", f"workflow '{name}' is not registered (registered: {known})")
        payload = body()
        try:
            engine.start(name, instance_id, payload)
        except InstanceExistsError as exc:
            raise ApiError(409, "ERR_INSTANCE_ID_ALREADY_EXISTS", str(exc)) from exc
        return _json(202, {"instanceID": instance_id})

    @app.get("/<ver>/workflows/<component>/<instance_id>")
    @operation("ERR_GET_WORKFLOW")
    def get(instance_id: str) -> Response[str]:
        return _json(200, get_view(engine, instance_id))

    def simple(path: str, kind: Signal, code: str) -> None:
        @app.post(f"/<ver>/workflows/<component>/<instance_id>/{path}")
        @operation(code)
        def route(instance_id: str) -> Response[str]:
            data = body() if kind is Signal.TERMINATE else None
            signal(engine, instance_id, kind, data=data)
            return _json(202, {})

    simple("terminate", Signal.TERMINATE, "ERR_TERMINATE_WORKFLOW")
    simple("pause", Signal.PAUSE, "ERR_PAUSE_WORKFLOW")
    simple("resume", Signal.RESUME, "ERR_RESUME_WORKFLOW")

    @app.post("/<ver>/workflows/<component>/<instance_id>/raiseEvent/<event_name>")
    @operation("ERR_RAISE_EVENT_WORKFLOW")
    def raise_event(instance_id: str, event_name: str) -> Response[str]:
        signal(engine, instance_id, Signal.RAISE, name=event_name, data=body())
        return _json(202, {})

    @app.post("/<ver>/workflows/<component>/<instance_id>/purge")
    @operation("ERR_PURGE_WORKFLOW")
    def purge_route(instance_id: str) -> Response[str]:
        purge(engine, instance_id)
        return _json(202, {})

    @app.get("/v1.0/metadata")
    def metadata() -> Response[str]:
        return _json(
            200,
            {
                "id": "wf-lambda",
                "runtimeVersion": "wf-lambda/0.1",
                "actors": [],
                "components": [{"name": settings.component, "type": "workflow.dapr", "version": "v1"}],
                "extended": {"workflows": ",".join(sorted(engine.runtime.workflows))},
            },
        )

    @app.get("/v1.0/healthz")
    def healthz() -> Response[str]:
        return Response(status_code=204, content_type="text/plain", body="")

    @app.not_found
    def not_found_route(exc: Exception) -> Response[str]:
        return _error(missing_part(BASE_PATH.sub("", app.current_event.path), app.current_event.http_method))

    return app


def validate_instance_id(instance_id: str) -> None:
    if instance_id == "":
        raise ApiError(400, "ERR_INSTANCE_ID_PROVIDED_MISSING", "instance ID is empty")
    if len(instance_id.encode()) > MAX_INSTANCE_ID_BYTES:
        raise ApiError(
            400, "ERR_INSTANCE_ID_TOO_LONG", f"instance ID is longer than {MAX_INSTANCE_ID_BYTES} bytes: {instance_id}"
        )
    if not _ID_CHARS.match(instance_id):
        raise ApiError(
            400,
            "ERR_INSTANCE_ID_INVALID",
            f"instance ID '{instance_id}' is invalid: only letters, digits, '_' and '-' are allowed",
        )


def missing_part(path: str, method: str) -> ApiError:
    """Explain a path that matched no route: usually an empty name, ID or event name."""
    m = _EMPTY_SEGMENT.match(path)
    if m and m["ver"] in VERSIONS:
        a, b, d = m["a"], m["b"], m["d"]
        if b == "start" and a == "":
            return ApiError(400, "ERR_WORKFLOW_NAME_MISSING", "workflow name is empty")
        if b == "raiseEvent" and not d:
            return ApiError(400, "ERR_WORKFLOW_EVENT_NAME_MISSING", "event name is empty")
        if a == "" and (b in ("terminate", "pause", "resume", "purge", "raiseEvent") or b is None):
            return ApiError(400, "ERR_INSTANCE_ID_PROVIDED_MISSING", "instance ID is empty")
    return ApiError(404, "ERR_NOT_FOUND", f"no route for {method} {path}")
