"""What the local servers (``wf dev`` and ``wf console``) accept, checked before a request
reaches the function or is forwarded anywhere.

Any web page the user opens can make the browser send requests to ``127.0.0.1``: a
"simple" cross-origin POST (``Content-Type: text/plain``) needs no CORS preflight, and a
DNS-rebound name lets a page read the answers too. So a local server here trusts a
request only when

- its ``Host`` names the server itself (``127.0.0.1:PORT``, ``localhost:PORT``,
  ``[::1]:PORT`` or a host the user allowed): a rebound name is refused;
- nothing in it says another site sent it: an ``Origin`` other than one of those hosts,
  or ``Sec-Fetch-Site`` other than ``same-origin``/``none``, is refused. Requests
  without either (the CLI, the clients, curl) are not a browser's and pass;
- it carries the keys the server asks for: the per-run console key (a header, which no
  cross-origin page can send without a preflight this server never grants) and, for
  ``wf dev`` with ``DAPR_API_TOKEN`` set, Dapr's ``dapr-api-token`` header.

Refusals are answered with a JSON error, as the API's own errors are. docs/security.md
says what each server trusts and why.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from wf.client import API_TOKEN_HEADER
from wf.console import INDEX_PATHS, PREFIX

log = logging.getLogger("wf.console")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: The header of the per-run console key (a custom header: cross-origin, it needs a
#: preflight, which these servers refuse).
CONSOLE_KEY_HEADER = "X-WF-Console-Key"
#: Paths served to anyone who may connect, as Dapr leaves its health check open: a probe
#: must not need the token; the console's script and style are the package's own files.
_OPEN_PATHS = frozenset({"/v1.0/healthz", "/v1.0/healthz/outbound", f"{PREFIX}/console.js", f"{PREFIX}/console.css"})
#: Loopback names a browser on this machine may use for the server.
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
#: ``Sec-Fetch-Site`` values of requests that no other site started.
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})
_SAFE_METHODS = frozenset({"GET", "HEAD"})


class Refusal(Enum):
    """Why a request was refused: its HTTP status and ``errorCode``."""

    HOST = (403, "ERR_FORBIDDEN_HOST")
    ORIGIN = (403, "ERR_FORBIDDEN_ORIGIN")
    CONSOLE_KEY = (403, "ERR_CONSOLE_KEY")
    NOT_FORWARDED = (403, "ERR_NOT_FORWARDED")
    API_TOKEN = (401, "ERR_API_TOKEN")

    @property
    def status(self) -> int:
        return self.value[0]

    @property
    def error_code(self) -> str:
        return self.value[1]


def allowed_hosts(host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """The ``Host`` values (lower case, with their port) a server listening on
    ``host:port`` answers: the loopback names, the listening host itself (unless it is a
    wildcard) and ``extra``, names the user allowed (``name`` or ``name:port``)."""
    names = set(_LOOPBACK)
    if host not in ("", "0.0.0.0", "::"):
        names.add(f"[{host}]" if ":" in host else host)
    hosts = {f"{name.lower()}:{port}" for name in names}
    for name in extra:
        name = name.strip().lower()
        if name:
            hosts.add(name if _port_of(name) is not None else f"{name}:{port}")
    return frozenset(hosts)


def _port_of(netloc: str) -> str | None:
    tail = netloc.rsplit("]", 1)[-1]
    return tail.rsplit(":", 1)[1] if ":" in tail else None


def _with_port(netloc: str, scheme: str) -> str:
    if _port_of(netloc) is not None:
        return netloc.lower()
    return f"{netloc.lower()}:{443 if scheme == 'https' else 80}"


@dataclass(frozen=True)
class GuardPolicy:
    """What one server demands.

    ``hosts``: from :func:`allowed_hosts`. ``console_key``: the per-run key the console
    page carries (in its ``<meta>``) and sends on each call. ``api_token``: with it,
    every request but the open paths needs ``dapr-api-token`` (or the console key), and
    the console page itself is served only for ``/ui?token=<it>``. ``page_key``: the
    query ``token`` the console page needs when there is no API token (``wf console``
    prints the URL with it, as Jupyter does). ``key_required``: every call outside the
    console's files needs the console key (the console proxy: nobody but its page calls
    it). ``forwards``: the ``(method, path)`` calls the server passes on (None: all)."""

    hosts: frozenset[str]
    console_key: str
    api_token: str | None = None
    page_key: str | None = None
    key_required: bool = False
    forwards: Callable[[str, str], bool] | None = None

    @staticmethod
    def new_key() -> str:
        return secrets.token_urlsafe(24)


def _matches(given: str | None, expected: str | None) -> bool:
    return given is not None and expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def _header(environ: dict[str, Any], name: str) -> str | None:
    value = environ.get("HTTP_" + name.upper().replace("-", "_"))
    return None if value is None else str(value)


def check(policy: GuardPolicy, environ: dict[str, Any]) -> tuple[Refusal, str] | None:
    """Why ``policy`` refuses the WSGI request ``environ`` (the refusal and a message),
    or None when it may be served."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    path = str(environ.get("PATH_INFO") or "/")
    host = _header(environ, "Host")
    # A browser always names the host; a request without one is no browser's.
    if host is not None and host.strip().lower() not in policy.hosts:
        return Refusal.HOST, (
            f"Host {host!r} is not this server's address (it answers {', '.join(sorted(policy.hosts))}; "
            "another name can be allowed with --allow-host)"
        )
    origin = _header(environ, "Origin")
    if origin is not None:
        parsed = urllib.parse.urlsplit(origin)
        if parsed.scheme not in ("http", "https") or _with_port(parsed.netloc, parsed.scheme) not in policy.hosts:
            return Refusal.ORIGIN, f"a request from another site ({origin}) is refused: only this server's own pages"
    site = _header(environ, "Sec-Fetch-Site")
    if site is not None and site.lower() not in _OWN_FETCH_SITES:
        return Refusal.ORIGIN, f"a request the browser marks {site} is refused: only this server's own pages"
    if path in _OPEN_PATHS:
        return None
    if path in INDEX_PATHS and method in _SAFE_METHODS:
        wanted = policy.api_token or policy.page_key
        given = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", ""))).get("token", [None])[-1]
        if wanted is not None and not _matches(given, wanted):
            what = "the DAPR_API_TOKEN" if policy.api_token else "the key of the URL the server printed"
            return Refusal.API_TOKEN, f"open the console at {PREFIX}?token=... with {what}"
        return None
    has_key = _matches(_header(environ, CONSOLE_KEY_HEADER), policy.console_key)
    if policy.forwards is not None and not policy.forwards(method, path):
        return Refusal.NOT_FORWARDED, f"{method} {path} is not a call of the console; it is not forwarded"
    if policy.key_required and not has_key:
        return Refusal.CONSOLE_KEY, f"{method} {path}: only the console's own page may call (no valid console key)"
    token = _header(environ, API_TOKEN_HEADER)
    if policy.api_token is not None and not has_key and not _matches(token, policy.api_token):
        return Refusal.API_TOKEN, f"invalid api token: send the {API_TOKEN_HEADER} header (DAPR_API_TOKEN is set)"
    return None


def guard(app: WsgiApp, policy: GuardPolicy, server: str) -> WsgiApp:
    """``app`` behind ``policy``: a refused request gets its JSON error and never reaches
    ``app``; ``server`` names the server in the log."""

    def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        refused = check(policy, environ)
        if refused is None:
            return app(environ, start_response)
        reason, message = refused
        log.warning(
            "%s refused %s %s (%s): %s",
            server,
            environ.get("REQUEST_METHOD"),
            environ.get("PATH_INFO"),
            reason.error_code,
            message,
        )
        # Drained, so that the connection stays usable for the client's next request.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)
        body = json.dumps({"errorCode": reason.error_code, "message": message}).encode()
        phrase = "Unauthorized" if reason.status == 401 else "Forbidden"
        start_response(
            f"{reason.status} {phrase}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Vary", "Origin")],
        )
        return [body]

    return guarded
