"""``wf console --endpoint URL``: the console for a deployed stack. A local server gives
the browser the console's files and forwards its API calls to ``URL``, SigV4-signed as
the CLI signs them (the template's API uses IAM auth), so no credentials reach the
browser and the browser needs no CORS from the API."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from wf.client import _Http
from wf.console import asset
from wf.errors import DevServerError

log = logging.getLogger("wf.console")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
#: Request headers passed on to the API (others, such as the browser's cookies, are not).
_FORWARDED = (("Content-Type", "CONTENT_TYPE"), ("Accept", "HTTP_ACCEPT"))


def console_app(
    endpoint: str, *, aws_region: str | None = None, timeout: float = 30.0
) -> Callable[..., Iterable[bytes]]:
    """The WSGI app: the console's files at ``/ui``, every other request forwarded."""
    http = _Http(endpoint, "dapr", timeout, aws_region)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "/")
        found = asset(path) if method in ("GET", "HEAD") else None
        if found is not None:
            data, content_type = found
            start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(data)))])
            return [data]
        if path == "/":
            start_response("302 Found", [("Location", "/ui"), ("Content-Length", "0")])
            return [b""]
        query = environ.get("QUERY_STRING", "")
        url = http.endpoint + path + (f"?{query}" if query else "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        headers: dict[str, str] = {h: str(environ[key]) for h, key in _FORWARDED if key in environ}
        if http.sign_region is not None:
            headers = http._signed(http.sign_region, method, url, body, headers)
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                status, payload, content_type = resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            status, payload, content_type = exc.code, exc.read(), exc.headers.get("Content-Type", "")
        except (urllib.error.URLError, OSError) as exc:
            log.warning("%s %s: the API cannot be reached: %s", method, path, exc)
            status, content_type = 502, "application/json"
            payload = b'{"errorCode": "ERR_BAD_GATEWAY", "message": "the workflow API cannot be reached"}'
        start_response(
            f"{status} Forwarded",
            [("Content-Type", content_type or "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    return app


def serve(endpoint: str, port: int, host: str = "127.0.0.1", *, aws_region: str | None = None) -> None:
    """Serve the console for ``endpoint`` on ``host:port`` until interrupted."""
    try:
        import waitress
    except ImportError as exc:  # the local stack's HTTP server, of the dev extra
        raise DevServerError("wf console needs waitress: pip install 'wf-lambda[dev]'", usage=True) from exc

    print(f"wf console: http://{host}:{port}/ui for {endpoint}", flush=True)
    waitress.serve(console_app(endpoint, aws_region=aws_region), host=host, port=port, threads=8)
