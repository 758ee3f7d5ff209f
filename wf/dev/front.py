"""The local stack's API Gateway: a WSGI app, served by waitress, that turns each HTTP
request into a REST API (payload v1) proxy event and invokes the function with it.

Waitress parses HTTP (chunked bodies, Content-Length, pipelining, a listen backlog of
1024); what it refuses as malformed HTTP it answers itself, with a JSON body here
(``JsonErrorTask``), as API Gateway answers with ``{"message": ...}``.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http import HTTPStatus
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask

from wf.aws.app import MAX_SYNC_PAYLOAD_BYTES
from wf.console import asset, asset_headers
from wf.console.guard import GuardPolicy, guard
from wf.errors import FunctionError

log = logging.getLogger("wf.dev")

Invoke = Callable[[dict[str, Any], Any], dict[str, Any]]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]

#: What the HTTP server reads at most; larger bodies get its own 413 (API Gateway's own
#: limit is 10 MB; Lambda's, below, is smaller and answered by the app).
MAX_BODY_BYTES = 64 * 1024 * 1024
#: API Gateway's integration timeout: it answers 504 when the function has not by then.
INTEGRATION_TIMEOUT_S = 29.0
_READ_CHUNK = 1 << 20


def _error(code: int, error_code: str, message: str) -> tuple[int, bytes]:
    return code, json.dumps({"errorCode": error_code, "message": message}).encode()


def to_event(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The API Gateway REST proxy event of a request (``raw_path`` with its query)."""
    url = urllib.parse.urlsplit(raw_path)
    pairs = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
    multi: dict[str, list[str]] = {}
    for k, v in pairs:
        multi.setdefault(k, []).append(v)
    text = body.decode("utf-8", errors="replace") if body else None
    return {
        "resource": "/{proxy+}",
        "path": urllib.parse.unquote(url.path),
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        # API Gateway passes the last value of a repeated parameter, and all of them.
        "queryStringParameters": {k: vs[-1] for k, vs in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": {"proxy": url.path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": url.path,
            "stage": "local",
            "requestId": f"local-{time.time_ns()}",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": text,
        "isBase64Encoded": False,
    }


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").title(): str(value) for key, value in environ.items() if key.startswith("HTTP_")
    }
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers[name] = str(environ[key])
    return headers


def _status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Status"


def wsgi_app(
    invoke: Invoke, context: Callable[[], Any], policy: GuardPolicy, verbose: bool = True
) -> Callable[..., Iterable[bytes]]:
    """The WSGI app invoking the function once per request, behind ``policy``
    (``wf/console/guard.py``: what it accepts from a browser), with Lambda's and API
    Gateway's limits: 6 MB each way, the integration timeout (docs/api.md)."""
    # The invocation runs beside the request's thread, so that the request can be
    # answered at API Gateway's timeout while the function runs on to its own.
    calls = ThreadPoolExecutor(max_workers=64, thread_name_prefix="wf-dev-invoke")

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        found = asset(environ.get("PATH_INFO", ""), policy.console_key) if method in ("GET", "HEAD") else None
        if found is not None:  # the console: files of the package, not the function's
            data, content_type = found
            start_response("200 OK", asset_headers(content_type, len(data)))
            return [] if method == "HEAD" else [data]
        raw = environ.get("REQUEST_URI") or urllib.parse.quote(environ.get("PATH_INFO", "/"))
        if environ.get("QUERY_STRING") and "?" not in raw:
            raw += "?" + environ["QUERY_STRING"]
        headers: list[tuple[str, str]] = [("Content-Type", "application/json")]
        body = _read_body(environ)
        if body is None:
            code, payload = _too_large(int(environ.get("CONTENT_LENGTH") or 0), "its body")
        else:
            event = to_event(method, raw, _headers(environ), body)
            size = _size_near_limit(event, len(body))
            if size > MAX_SYNC_PAYLOAD_BYTES:
                code, payload = _too_large(size, "its Lambda event")
            else:
                code, payload, headers = _answer(calls, invoke, event, context)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(payload))))
        start_response(_status_line(code), headers)
        if verbose or code >= 400 or method != "GET":
            log.info("%s %s -> %s", method, raw, code)
        return [] if method == "HEAD" else [payload]

    return guard(app, policy, "wf dev")


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The request's body, or None (read and dropped) when it is over Lambda's limit."""
    stream = environ["wsgi.input"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > MAX_SYNC_PAYLOAD_BYTES:
        while stream.read(_READ_CHUNK):  # drained: the client gets the answer, not a reset
            pass
        return None
    body: bytes = stream.read()
    return None if len(body) > MAX_SYNC_PAYLOAD_BYTES else body


def _size_near_limit(payload: dict[str, Any], body_chars: int) -> int:
    """``payload``'s size as Lambda counts it (its JSON), measured only when its body
    could bring it near the limit: JSON escaping at most sextuples a character, and the
    rest of an event (headers, path) is a few kilobytes. Otherwise 0."""
    if 6 * body_chars + 65_536 < MAX_SYNC_PAYLOAD_BYTES:
        return 0
    return len(json.dumps(payload))


def _too_large(size: int, what: str) -> tuple[int, bytes]:
    return _error(
        413,
        "ERR_PAYLOAD_TOO_LARGE",
        f"the request is too large: {what} is {size:,} bytes, over Lambda's limit of {MAX_SYNC_PAYLOAD_BYTES:,} "
        "bytes (6 MB) for a synchronous invocation",
    )


def _answer(
    calls: ThreadPoolExecutor, invoke: Invoke, event: dict[str, Any], context: Callable[[], Any]
) -> tuple[int, bytes, list[tuple[str, str]]]:
    """The function's answer to ``event``, or API Gateway's when there is none in time,
    the function failed, or its answer is over Lambda's response limit."""
    plain = [("Content-Type", "application/json")]
    future = calls.submit(invoke, event, context())
    try:
        resp = future.result(timeout=INTEGRATION_TIMEOUT_S)
    except FutureTimeout:
        log.warning("no answer from the function in %.0f s: 504, as API Gateway answers", INTEGRATION_TIMEOUT_S)
        return (
            *_error(
                504,
                "ERR_GATEWAY_TIMEOUT",
                f"Endpoint request timed out: the function did not answer within API Gateway's "
                f"{INTEGRATION_TIMEOUT_S:.0f} s",
            ),
            plain,
        )
    except Exception as exc:  # what API Gateway answers when the function itself fails
        if not isinstance(exc, FunctionError):
            log.exception("the handler raised")
        return (*_error(502, "ERR_FUNCTION_FAILED", f"Internal server error: the function failed ({exc})"), plain)
    if _size_near_limit(resp, len(resp.get("body") or "")) > MAX_SYNC_PAYLOAD_BYTES:
        return (
            *_error(
                502,
                "ERR_FUNCTION_FAILED",
                f"Internal server error: the function's response is over Lambda's limit of "
                f"{MAX_SYNC_PAYLOAD_BYTES:,} bytes (6 MB)",
            ),
            plain,
        )
    code = int(resp["statusCode"])
    payload = (resp.get("body") or "").encode()
    headers = [(k, str(v)) for k, v in (resp.get("headers") or {}).items()]
    headers += [(k, str(v)) for k, vs in (resp.get("multiValueHeaders") or {}).items() for v in vs]
    return code, payload, headers


class JsonErrorTask(ErrorTask):  # type: ignore[misc]
    """Waitress's answer to malformed HTTP, with a JSON body."""

    #: The ``errorCode`` of each of waitress's own refusals.
    ERROR_CODES = {400: "ERR_MALFORMED_REQUEST", 413: "ERR_PAYLOAD_TOO_LARGE", 431: "ERR_HEADERS_TOO_LARGE"}

    def execute(self) -> None:
        error = self.request.error
        code = self.ERROR_CODES.get(error.code, "ERR_MALFORMED_REQUEST" if error.code < 500 else "ERR_INTERNAL")
        body = json.dumps({"errorCode": code, "message": f"{error.reason}: {error.body}"}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):  # type: ignore[misc]
    error_task_class = JsonErrorTask


def http_server(app: Callable[..., Iterable[bytes]], host: str, port: int, threads: int) -> BaseWSGIServer:
    """Bind the API's server (SO_REUSEADDR: a restart reuses the port at once)."""
    server = create_server(
        app,
        # A map of its own: waitress's default is one per process, which would tie the
        # loops of successive stacks of one process (WorkflowRuntime.start) together.
        map={},
        host=host,
        port=port,
        threads=threads,
        backlog=1024,
        connection_limit=1000,
        max_request_body_size=MAX_BODY_BYTES,
        channel_timeout=60,
        ident="wf-dev",
        clear_untrusted_proxy_headers=True,
    )
    server.channel_class = JsonErrorChannel
    return server
