"""``wf console --endpoint URL``: the console for a deployed stack. A local server gives
the browser the console's files and forwards its API calls to ``URL``, SigV4-signed as
the CLI signs them (the template's API uses IAM auth), so no credentials reach the
browser and the browser needs no CORS from the API.

It signs with the user's credentials, so it forwards only what the console's own page
sends: the console's calls (:func:`is_console_call`), each carrying this run's key,
which the page got from the server (``wf/console/guard.py``; the page itself is served
only at the URL the server prints, as Jupyter serves its notebooks)."""

from __future__ import annotations

import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from wf.client import WorkflowApi
from wf.console import asset, asset_headers
from wf.console.guard import GuardPolicy, allowed_hosts, guard
from wf.errors import DevServerError

log = logging.getLogger("wf.console")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
#: Request headers passed on to the API (others, such as the browser's cookies, are not).
_FORWARDED = (("Content-Type", "CONTENT_TYPE"), ("Accept", "HTTP_ACCEPT"))

#: The console's calls (wf/console/assets/console.js), on raw (still encoded) paths.
_SEGMENT = r"[^/]+"
_CONSOLE_CALLS = (
    ("GET", re.compile(r"/v1\.0/metadata")),
    ("GET", re.compile(r"/v1\.0/concurrency")),
    ("GET", re.compile(rf"/v1\.0/workflows/{_SEGMENT}(/{_SEGMENT}(/history)?)?")),
    ("POST", re.compile(rf"/v1\.0/workflows/{_SEGMENT}/{_SEGMENT}/(pause|resume|terminate|purge|rerun)")),
    ("POST", re.compile(rf"/v1\.0/workflows/{_SEGMENT}/{_SEGMENT}/raiseEvent/{_SEGMENT}")),
)


def is_console_call(method: str, raw_path: str) -> bool:
    """Whether ``method raw_path`` is one of the console's calls (and nothing else: no
    start, no bulk purge, no other path of the API, no dot segments)."""
    segments = raw_path.split("/")
    if any(urllib.parse.unquote(s) in (".", "..") for s in segments):
        return False
    return any(method == m and pattern.fullmatch(raw_path) for m, pattern in _CONSOLE_CALLS)


class ConsoleProxy:
    """The WSGI app of ``wf console``: the console's files at ``/ui`` and its calls
    forwarded to ``endpoint``, behind the guard; ``url`` is the page's address."""

    def __init__(
        self,
        endpoint: str,
        *,
        port: int,
        host: str = "127.0.0.1",
        allow_hosts: Iterable[str] = (),
        aws_region: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._http = WorkflowApi(endpoint, "dapr", timeout, aws_region)
        self._timeout = timeout
        key = GuardPolicy.new_key()
        self.policy = GuardPolicy(
            allowed_hosts(host, port, allow_hosts),
            key,
            page_key=key,
            key_required=True,
            forwards=lambda method, path: is_console_call(method, path),
        )
        self.url = f"http://{host}:{port}/ui?token={key}"
        self._app = guard(self._serve, self.policy, "wf console")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # The guard matches the raw path: what is forwarded is what was checked.
        environ["PATH_INFO"] = _raw_path(environ)
        return self._app(environ, start_response)

    def _serve(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ["PATH_INFO"]
        found = asset(path, self.policy.console_key) if method in ("GET", "HEAD") else None
        if found is not None:
            data, content_type = found
            start_response("200 OK", asset_headers(content_type, len(data)))
            return [] if method == "HEAD" else [data]
        http = self._http
        query = environ.get("QUERY_STRING", "")
        url = http.endpoint + path + (f"?{query}" if query else "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        headers: dict[str, str] = {h: str(environ[key]) for h, key in _FORWARDED if key in environ}
        headers.update(http.token_headers)
        if http.sign_region is not None:
            headers = http._signed(http.sign_region, method, url, body, headers)
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as resp:
                status, payload, content_type = resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            status, payload, content_type = exc.code, exc.read(), exc.headers.get("Content-Type", "")
        except (urllib.error.URLError, OSError) as exc:
            log.warning("%s %s: the API cannot be reached: %s", method, path, exc)
            status, content_type = 502, "application/json"
            payload = b'{"errorCode": "ERR_BAD_GATEWAY", "message": "the workflow API cannot be reached"}'
        start_response(
            f"{status} Forwarded",
            [
                ("Content-Type", content_type or "application/json"),
                ("Content-Length", str(len(payload))),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
        return [payload]


def _raw_path(environ: dict[str, Any]) -> str:
    """The request's path as sent (waitress decodes ``PATH_INFO``; an event name with a
    space or a ``%2F`` must reach the API as the page encoded it)."""
    uri = environ.get("REQUEST_URI")
    if uri:
        return str(urllib.parse.urlsplit(str(uri)).path) or "/"
    return urllib.parse.quote(str(environ.get("PATH_INFO") or "/"))


def serve(
    endpoint: str,
    port: int,
    host: str = "127.0.0.1",
    *,
    aws_region: str | None = None,
    allow_hosts: Iterable[str] = (),
) -> None:
    """Serve the console for ``endpoint`` on ``host:port`` until interrupted."""
    try:
        import waitress
    except ImportError as exc:  # the local stack's HTTP server, of the dev extra
        raise DevServerError("wf console needs waitress: pip install 'wf-lambda[dev]'", usage=True) from exc

    proxy = ConsoleProxy(endpoint, port=port, host=host, allow_hosts=allow_hosts, aws_region=aws_region)
    print(f"wf console: open {proxy.url} (the console of {endpoint}; this run's address)", flush=True)
    waitress.serve(proxy, host=host, port=port, threads=8)
