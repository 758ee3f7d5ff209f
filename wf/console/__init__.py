"""The web console: static assets (HTML, CSS and plain JavaScript, shipped in the
package: nothing is fetched from elsewhere) served at ``/ui`` by ``wf dev``, and by
``wf console --endpoint URL`` beside a forwarder of the API calls to a deployed stack
(``wf/console/proxy.py``). The console itself runs in the browser, on the API of SPEC
§1 and §1b."""

from __future__ import annotations

from importlib import resources

PREFIX = "/ui"
#: The request paths of the console's page (the HTML, which carries the per-run key).
INDEX_PATHS = frozenset({PREFIX, PREFIX + "/", PREFIX + "/index.html"})
#: Where the page's HTML holds the per-run console key (``wf/console/guard.py``).
_KEY_SLOT = b'<meta name="wf-console-key" content="">'

#: What the page may load and who may frame it: only its own files (a script injected
#: into it would not run; no other site can frame its buttons under a user's clicks).
_SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    # The page carries this run's key: a cached copy would carry the last run's.
    ("Cache-Control", "no-store"),
)

_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}


def asset(path: str, console_key: str = "") -> tuple[bytes, str] | None:
    """The asset at request path ``path`` (``/ui``, ``/ui/``, ``/ui/console.js``, ...) with
    its content type, or None if ``path`` is not the console's. The page's HTML carries
    ``console_key``, which its script sends with each call."""
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        return None
    name = path[len(PREFIX) :].lstrip("/") or "index.html"
    if name not in _TYPES:
        return None
    data = resources.files(__package__).joinpath("assets", name).read_bytes()
    if name == "index.html":
        # The key is URL-safe base64 (wf/console/guard.py): nothing in it needs escaping.
        data = data.replace(_KEY_SLOT, _KEY_SLOT.replace(b'""', b'"' + console_key.encode() + b'"'))
    return data, _TYPES[name]


def asset_headers(content_type: str, length: int) -> list[tuple[str, str]]:
    """The response headers of a console asset."""
    return [("Content-Type", content_type), ("Content-Length", str(length)), *_SECURITY_HEADERS]
