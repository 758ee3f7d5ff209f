"""The HTTP management API (docs/api.md) on Powertools'
event_handler resolvers.

Routes call the engine's management operations, which refuse with domain errors
(``wf/errors.py``); ``ERRORS`` below is the one table of how each becomes an HTTP
answer, registered as Powertools exception handlers. Anything else is a fault: a 500
with the operation's error code and no internal detail in the body (it is logged).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from wf.aws.event_handler import ApiGatewayResolver, NotFoundError, Response
from wf.aws.openapi import ROUTES, RouteDoc, complete
from wf.aws.settings import Settings
from wf.core.serde import encode
from wf.core.status import WorkflowStatus
from wf.core.wire import WorkflowSummary, state_to_json
from wf.engine.concurrency import parse_run_key
from wf.engine.engine import Engine
from wf.engine.manage import Signal, describe, purge, raise_with_start, signal
from wf.engine.operate import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    history,
    list_instances,
    page_size,
    purge_matching,
    rerun,
)
from wf.engine.store import InstanceQuery, InstanceSummary
from wf.errors import (
    ComponentNotFoundError,
    EventNameMissingError,
    InstanceExistsError,
    InstanceNotFoundError,
    InvalidContinuationTokenError,
    InvalidEventIdError,
    InvalidFilterError,
    InvalidInstanceIdError,
    InvalidStateError,
    MalformedRequestError,
    Operation,
    OperationFailedError,
    PayloadTooLargeError,
    RequestError,
    RouteNotFoundError,
    WorkflowError,
    WorkflowNameMissingError,
    WorkflowNotRegisteredError,
)

log = logging.getLogger("wf.api")

VERSIONS = ("v1.0-alpha1", "v1.0-beta1", "v1.0")
MAX_INSTANCE_ID_BYTES = 64
_ID_CHARS = re.compile(r"^[A-Za-z0-9_\-]+$")
_EMPTY_SEGMENT = re.compile(r"^/(?P<ver>[^/]+)/workflows/(?P<c>[^/]*)/(?P<a>[^/]*)(?:/(?P<b>[^/]*))?(?:/(?P<d>.*))?$")

#: A custom domain's base-path mapping puts its path in front of ours ("/wf/v1.0/...").
#: Anything before the first Dapr version segment that starts a route is stripped; a
#: path that starts with a version segment is never touched.
BASE_PATH = re.compile(
    r"^(?!/v1\.0(?:-alpha1|-beta1)?/)(?:/[^/]+)+?(?=/v1\.0(?:-alpha1|-beta1)?/workflows/|/v1\.0/(?:metadata|healthz|concurrency)$)"
)

#: The error code of each operation, for its refusals by status and its faults (500).
OPERATION_CODES = {
    Operation.START: "ERR_START_WORKFLOW",
    Operation.GET: "ERR_GET_WORKFLOW",
    Operation.TERMINATE: "ERR_TERMINATE_WORKFLOW",
    Operation.RAISE: "ERR_RAISE_EVENT_WORKFLOW",
    Operation.PAUSE: "ERR_PAUSE_WORKFLOW",
    Operation.RESUME: "ERR_RESUME_WORKFLOW",
    Operation.PURGE: "ERR_PURGE_WORKFLOW",
    Operation.LIST: "ERR_LIST_WORKFLOWS",
    Operation.HISTORY: "ERR_GET_WORKFLOW_HISTORY",
    Operation.RERUN: "ERR_RERUN_WORKFLOW",
}
_ID_CODES = {
    InvalidInstanceIdError.Reason.MISSING: "ERR_INSTANCE_ID_PROVIDED_MISSING",
    InvalidInstanceIdError.Reason.TOO_LONG: "ERR_INSTANCE_ID_TOO_LONG",
    InvalidInstanceIdError.Reason.INVALID: "ERR_INSTANCE_ID_INVALID",
}


def _id_code(exc: Exception) -> str:
    return _ID_CODES[exc.reason] if isinstance(exc, InvalidInstanceIdError) else "ERR_INSTANCE_ID_INVALID"


def _state_code(exc: Exception) -> str:
    return OPERATION_CODES[exc.operation] if isinstance(exc, InvalidStateError) else "ERR_INVALID_STATE"


#: How each refusal is answered: (HTTP status, Dapr error code or how to find it).
ERRORS: dict[type[WorkflowError], tuple[int, str | Callable[[Exception], str]]] = {
    InvalidInstanceIdError: (400, _id_code),
    WorkflowNameMissingError: (400, "ERR_WORKFLOW_NAME_MISSING"),
    EventNameMissingError: (400, "ERR_WORKFLOW_EVENT_NAME_MISSING"),
    ComponentNotFoundError: (400, "ERR_WORKFLOW_COMPONENT_NOT_FOUND"),
    WorkflowNotRegisteredError: (404, "ERR_WORKFLOW_NOT_FOUND"),
    InstanceNotFoundError: (404, "ERR_INSTANCE_ID_NOT_FOUND"),
    RouteNotFoundError: (404, "ERR_NOT_FOUND"),
    MalformedRequestError: (400, "ERR_MALFORMED_REQUEST"),
    InstanceExistsError: (409, "ERR_INSTANCE_ID_ALREADY_EXISTS"),
    InvalidStateError: (409, _state_code),
    InvalidFilterError: (400, "ERR_INVALID_FILTER"),
    InvalidContinuationTokenError: (400, "ERR_INVALID_CONTINUATION_TOKEN"),
    InvalidEventIdError: (400, "ERR_INVALID_EVENT_ID"),
    PayloadTooLargeError: (413, "ERR_PAYLOAD_TOO_LARGE"),
}

#: The errors routes let through to ``refused``; anything else is a fault.
REFUSALS = tuple(ERRORS)

R = TypeVar("R", bound=ApiGatewayResolver)
Handler = Callable[..., Response[str]]


def _json(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def _error(status: int, code: str, message: str) -> Response[str]:
    return _json(status, {"errorCode": code, "message": message})


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON (other languages' parsers refuse them): such a body
    # is text, like any other body that is not JSON.
    raise ValueError(f"{name} is not JSON")


def parse_body(raw: str | None) -> str | None:
    """The request body as an encoded JSON payload: JSON as is, other text as a string,
    empty as null (falsy values round-trip unchanged)."""
    if raw is None or raw == "":
        return None
    try:
        json.loads(raw, parse_constant=_no_constants)
        return raw.strip()
    except ValueError:
        return encode(raw)
    except RecursionError:
        raise MalformedRequestError("the request body's JSON is nested too deeply to decode") from None


def build_resolver(resolver: R, engine: Engine, settings: Settings) -> R:
    """Register every route of the management API, and its error answers, on ``resolver``."""
    app = resolver

    def checked(operation: Operation) -> Callable[[Handler], Handler]:
        """Checks the version and component every workflow route starts with, and marks
        a fault with the operation it hit (its error code), per request."""

        def decorate(fn: Handler) -> Handler:
            @wraps(fn)
            def wrapper(ver: str, component: str, **kwargs: str) -> Response[str]:
                if ver not in VERSIONS:
                    raise RouteNotFoundError(f"unknown API version '{ver}'")
                if component != settings.component:
                    raise ComponentNotFoundError(f"workflow component '{component}' not found")
                try:
                    return fn(**kwargs)
                except REFUSALS:
                    raise
                except Exception as exc:
                    raise OperationFailedError(operation) from exc

            return wrapper

        return decorate

    def body() -> str | None:
        try:
            raw = app.current_event.decoded_body
        except ValueError as exc:  # a base64 body that is not base64, or not UTF-8
            raise MalformedRequestError(f"the request body cannot be decoded: {exc}") from None
        if raw is not None and len(raw.encode()) > settings.max_body_bytes:
            raise PayloadTooLargeError(f"request body is larger than the limit of {settings.max_body_bytes} bytes")
        return parse_body(raw)

    documented: dict[str, RouteDoc] = {}

    def route(method: str, path: str, name: str, operation: Operation | None) -> Callable[[Handler], Handler]:
        """Register ``fn`` for ``method path`` with what the OpenAPI document says of it
        (``wf/aws/openapi.py:ROUTES[name]``)."""
        doc = ROUTES[name]

        def decorate(fn: Handler) -> Handler:
            handler = checked(operation)(fn) if operation is not None else fn
            documented[name] = doc
            fault = OPERATION_CODES[operation] if operation is not None else None
            register = app.get if method == "GET" else app.post
            register(
                path, summary=doc.summary, responses=doc.responses(VERSIONS, fault), tags=[doc.tag], operation_id=name
            )(handler)
            return handler

        return decorate

    @route("POST", "/<ver>/workflows/<component>/<name>/start", "start", Operation.START)
    def start(name: str) -> Response[str]:
        params = app.current_event.query_string_parameters or {}
        instance_id = params.get("instanceID")
        if instance_id is None:
            instance_id = str(uuid.uuid4())
        validate_instance_id(instance_id)
        if name not in engine.runtime.workflows:
            known = ", ".join(sorted(engine.runtime.workflows)) or "none"
            raise WorkflowNotRegisteredError(f"workflow '{name}' is not registered (registered: {known})")
        start_at = _time_param(params, "startAt", error=MalformedRequestError)
        if start_at is None:
            engine.start(name, instance_id, body())
        else:
            engine.schedule(name, instance_id, body(), start_at)
        return _json(202, {"instanceID": instance_id})

    @route("GET", "/<ver>/workflows/<component>/<instance_id>", "get", Operation.GET)
    def get(instance_id: str) -> Response[str]:
        return _json(200, state_to_json(describe(engine, instance_id)))

    def simple(path: str, kind: Signal, operation: Operation) -> None:
        @route("POST", f"/<ver>/workflows/<component>/<instance_id>/{path}", path, operation)
        def signal_route(instance_id: str) -> Response[str]:
            data = body() if kind is Signal.TERMINATE else None
            signal(engine, instance_id, kind, data=data)
            return _json(202, {})

    simple("terminate", Signal.TERMINATE, Operation.TERMINATE)
    simple("pause", Signal.PAUSE, Operation.PAUSE)
    simple("resume", Signal.RESUME, Operation.RESUME)

    @route("POST", "/<ver>/workflows/<component>/<instance_id>/raiseEvent/<event_name>", "raise", Operation.RAISE)
    def raise_event(instance_id: str, event_name: str) -> Response[str]:
        signal(engine, instance_id, Signal.RAISE, name=event_name, data=body())
        return _json(202, {})

    @route(
        "POST",
        "/<ver>/workflows/<component>/<name>/raiseEventWithStart/<event_name>",
        "raise_with_start",
        Operation.RAISE,
    )
    def raise_with_start_route(name: str, event_name: str) -> Response[str]:
        instance_id = params().get("instanceID")
        if instance_id is None:
            raise MalformedRequestError("raiseEventWithStart needs the instance's ID (?instanceID=...)")
        validate_instance_id(instance_id)
        if name not in engine.runtime.workflows:
            known = ", ".join(sorted(engine.runtime.workflows)) or "none"
            raise WorkflowNotRegisteredError(f"workflow '{name}' is not registered (registered: {known})")
        raw = body()
        try:
            given = json.loads(raw) if raw is not None else {}
        except ValueError:
            given = None
        if not isinstance(given, dict) or set(given) - {"input", "data"}:
            raise MalformedRequestError('the body is a JSON object: "input" (the workflow\'s), "data" (the event\'s)')
        started = raise_with_start(
            engine,
            name,
            instance_id,
            event_name,
            input=encode(given["input"]) if "input" in given else None,
            data=encode(given["data"]) if "data" in given else None,
        )
        return _json(202, {"instanceID": instance_id, "started": started})

    @route("POST", "/<ver>/workflows/<component>/<instance_id>/purge", "purge", Operation.PURGE)
    def purge_route(instance_id: str) -> Response[str]:
        purge(engine, instance_id)
        return _json(202, {})

    def params() -> dict[str, str]:
        return app.current_event.query_string_parameters or {}

    @route("GET", "/<ver>/workflows/<component>", "list", Operation.LIST)
    def list_route() -> Response[str]:
        q = params()
        page = list_instances(
            engine,
            listing_query(q),
            limit=int_param(q, "pageSize", DEFAULT_PAGE_SIZE),
            after=tokens.cursor(q.get("continuationToken")),
        )
        out: dict[str, Any] = {"instances": [summary_of(s).to_json() for s in page.instances]}
        if page.next is not None:
            out["continuationToken"] = tokens.of_cursor(page.next)
        return _json(200, out)

    @route("POST", "/<ver>/workflows/<component>/purge", "bulk_purge", Operation.PURGE)
    def bulk_purge() -> Response[str]:
        q = params()
        query = listing_query(q)
        after = tokens.cursor(q.get("continuationToken"))
        result = purge_matching(engine, query, limit=int_param(q, "pageSize", MAX_PAGE_SIZE), after=after)
        out: dict[str, Any] = {"purged": result.purged}
        if result.next is not None:
            out["continuationToken"] = tokens.of_cursor(result.next)
        return _json(202, out)

    @route("GET", "/<ver>/workflows/<component>/<instance_id>/history", "history", Operation.HISTORY)
    def history_route(instance_id: str) -> Response[str]:
        q = params()
        size = page_size(int_param(q, "pageSize", MAX_PAGE_SIZE))
        start = tokens.offset(q.get("continuationToken"))
        entries = history(engine, instance_id)
        out: dict[str, Any] = {
            "instanceID": instance_id,
            "events": [e.to_json() for e in entries[start : start + size]],
        }
        if start + size < len(entries):
            out["continuationToken"] = tokens.of_offset(start + size)
        return _json(200, out)

    @route("POST", "/<ver>/workflows/<component>/<instance_id>/rerun", "rerun", Operation.RERUN)
    def rerun_route(instance_id: str) -> Response[str]:
        q = params()
        new_id = q.get("newInstanceID")
        if new_id is None:
            new_id = str(uuid.uuid4())
        validate_instance_id(new_id)
        raw = body()
        from_event = int_param(q, "fromEventID", None, error=InvalidEventIdError) if "fromEventID" in q else None
        rerun(engine, instance_id, new_id, from_event=from_event, input=raw, new_input=raw is not None)
        return _json(202, {"instanceID": new_id})

    @route("GET", "/v1.0/metadata", "metadata", None)
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

    @route("GET", "/v1.0/healthz", "healthz", None)
    def healthz() -> Response[str]:
        return Response(status_code=204, content_type="text/plain", body="")

    @route("GET", "/v1.0/concurrency", "concurrency", None)
    def concurrency() -> Response[str]:
        usage = engine.gate.usage() if engine.gate is not None else []
        return _json(
            200,
            {
                "limits": [
                    {
                        "activity": u.activity,
                        "maxConcurrent": u.max_concurrent,
                        "running": u.running,
                        "waiting": u.waiting,
                        # Which instances' tasks hold a slot and wait for one (`wf get`).
                        "runningRuns": _runs(u.running_runs),
                        "waitingRuns": _runs(u.waiting_runs),
                    }
                    for u in usage
                ]
            },
        )

    def _runs(keys: Sequence[str]) -> list[dict[str, Any]]:
        parsed = (parse_run_key(key) for key in keys)
        return [{"instanceID": p[0], "taskID": p[1]} for p in parsed if p is not None]

    spec: list[str] = []

    def openapi_document() -> str:
        if not spec:
            generated = app.get_openapi_json_schema(title=API_TITLE, version=API_VERSION, description=API_DESCRIPTION)
            spec.append(complete(generated, documented, VERSIONS))
        return spec[0]

    @app.get("/v1.0/openapi.json", include_in_schema=False)
    def openapi_json() -> Response[str]:
        return Response(status_code=200, content_type="application/json", body=openapi_document())

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> Response[str]:
        return Response(status_code=200, content_type="text/html", body=swagger_page(openapi_document()))

    def refused(exc: Exception) -> Response[str]:
        status, code = next(answer for kind, answer in ERRORS.items() if isinstance(exc, kind))
        return _error(status, code if isinstance(code, str) else code(exc), str(exc))

    def fault(exc: Exception) -> Response[str]:
        failed = exc if isinstance(exc, OperationFailedError) else None
        code = OPERATION_CODES[failed.operation] if failed else "ERR_INTERNAL"
        cause = failed.__cause__ if failed is not None and failed.__cause__ is not None else exc
        # Domain errors are expected faults (store, queue); anything else is a bug: trace it.
        trace = None if isinstance(cause, WorkflowError) else (type(cause), cause, cause.__traceback__)
        log.error("%s: %s", code, cause, exc_info=trace)
        return _error(500, code, "the workflow API failed unexpectedly; the function's log has the details")

    def not_found_route(exc: Exception) -> Response[str]:
        return refused(missing_part(BASE_PATH.sub("", app.current_event.path), app.current_event.http_method))

    # Powertools picks the handler of the closest class in the exception's MRO.
    app.exception_handler(list(ERRORS))(refused)
    app.exception_handler(NotFoundError)(not_found_route)
    app.exception_handler(Exception)(fault)

    return app


API_TITLE = "wf-lambda workflow management API"
API_VERSION = "1.0"
API_DESCRIPTION = (
    "The Dapr Workflow management API (start, get, pause, resume, raise event, terminate, purge) "
    "and operations over many instances (list, history, rerun, bulk purge), as SPEC §1 and §1b define them."
)


def swagger_page(spec: str) -> str:
    """Powertools' Swagger UI page for ``spec``, with the UI's script and styles inline
    (shipped in Powertools: nothing is fetched from elsewhere)."""
    from aws_lambda_powertools.event_handler.openapi import swagger_ui
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    assets = Path(swagger_ui.__file__).parent
    js = (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    css = (assets / "swagger-ui.min.css").read_text(encoding="utf-8")
    return generate_swagger_html(spec.replace("</", "<\\/"), js, css, "", None)


def validate_instance_id(instance_id: str) -> None:
    reason = InvalidInstanceIdError.Reason
    if instance_id == "":
        raise InvalidInstanceIdError(reason.MISSING, "instance ID is empty")
    if len(instance_id.encode()) > MAX_INSTANCE_ID_BYTES:
        raise InvalidInstanceIdError(
            reason.TOO_LONG, f"instance ID is longer than {MAX_INSTANCE_ID_BYTES} bytes: {instance_id}"
        )
    if not _ID_CHARS.match(instance_id):
        raise InvalidInstanceIdError(
            reason.INVALID, f"instance ID '{instance_id}' is invalid: only letters, digits, '_' and '-' are allowed"
        )


def missing_part(path: str, method: str) -> WorkflowError:
    """Explain a path that matched no route: usually an empty name, ID or event name."""
    m = _EMPTY_SEGMENT.match(path)
    if m and m["ver"] in VERSIONS:
        a, b, d = m["a"], m["b"], m["d"]
        if b == "start" and a == "":
            return WorkflowNameMissingError("workflow name is empty")
        if b == "raiseEvent" and not d:
            return EventNameMissingError("event name is empty")
        if a == "" and (b in ("terminate", "pause", "resume", "purge", "raiseEvent") or b is None):
            return InvalidInstanceIdError(InvalidInstanceIdError.Reason.MISSING, "instance ID is empty")
    return RouteNotFoundError(f"no route for {method} {path}")


def int_param(
    params: dict[str, str], name: str, default: int | None, *, error: type[RequestError] = InvalidFilterError
) -> int:
    raw = params.get(name)
    if raw is None:
        if default is None:
            raise error(f"{name} is required")
        return default
    try:
        return int(raw)
    except ValueError:
        raise error(f"{name} must be an integer, not {raw!r}") from None


def _time_param(
    params: dict[str, str], name: str, *, error: type[RequestError] = InvalidFilterError
) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError:
        raise error(f"{name} must be an RFC 3339 time, not {raw!r}") from None
    # A time without an offset is taken as UTC, as every time this API reports is.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def listing_query(params: dict[str, str]) -> InstanceQuery:
    """The filters of a list or bulk purge call (SPEC §1b)."""
    statuses: set[WorkflowStatus] = set()
    for raw in (params.get("status") or "").split(","):
        if raw.strip():
            try:
                statuses.add(WorkflowStatus(raw.strip().upper()))
            except ValueError:
                known = ", ".join(s.value for s in WorkflowStatus)
                raise InvalidFilterError(f"unknown status {raw.strip()!r} (known: {known})") from None
    created_from, created_to = _time_param(params, "createdFrom"), _time_param(params, "createdTo")
    if created_from is not None and created_to is not None and created_from > created_to:
        raise InvalidFilterError("createdFrom is after createdTo")
    return InstanceQuery(
        statuses=frozenset(statuses),
        workflow_name=params.get("name") or None,
        created_from=created_from,
        created_to=created_to,
        id_prefix=params.get("instanceIDPrefix") or None,
    )


def summary_of(s: InstanceSummary) -> WorkflowSummary:
    """A listing's row as the API reports it."""
    return WorkflowSummary(s.instance_id, s.workflow_name, s.status, s.created_at, s.updated_at, s.parent_instance_id)


class _Tokens:
    """Continuation tokens: opaque to clients, base64 of what the next page needs, with
    its kind so that a history token is not taken for a listing's."""

    @staticmethod
    def _encode(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")

    @staticmethod
    def _decode(token: str, kind: str) -> dict[str, Any]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            if not isinstance(data, dict) or data.get("k") != kind:
                raise ValueError(kind)
            return data
        except (ValueError, TypeError, UnicodeDecodeError, binascii.Error):
            raise InvalidContinuationTokenError(f"continuation token {token[:40]!r} is not one this API gave") from None

    def of_cursor(self, cursor: str) -> str:
        """A listing's token: the store's own, inside this API's envelope."""
        return self._encode({"k": "list", "s": cursor})

    def cursor(self, token: str | None) -> str | None:
        if not token:
            return None
        inner = self._decode(token, "list").get("s")
        if not isinstance(inner, str):
            raise InvalidContinuationTokenError(f"continuation token {token[:40]!r} is not one this API gave")
        return inner

    def of_offset(self, offset: int) -> str:
        return self._encode({"k": "history", "o": offset})

    def offset(self, token: str | None) -> int:
        if not token:
            return 0
        offset = self._decode(token, "history").get("o")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise InvalidContinuationTokenError(f"continuation token {token[:40]!r} is not one this API gave")
        return offset


tokens = _Tokens()
