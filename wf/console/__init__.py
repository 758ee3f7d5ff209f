"""The web console: static assets (HTML, CSS and plain JavaScript, shipped in the
package: nothing is fetched from elsewhere) served at ``/ui`` by ``wf dev``, and by
``wf console --endpoint URL`` beside a forwarder of the API calls to a deployed stack
(``wf/console/proxy.py``). The console itself runs in the browser, on the API of SPEC
§1 and §1b."""

from __future__ import annotations

from importlib import resources

PREFIX = "/ui"

_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}


def asset(path: str) -> tuple[bytes, str] | None:
    """The asset at request path ``path`` (``/ui``, ``/ui/``, ``/ui/console.js``, ...) with
    its content type, or None if ``path`` is not the console's."""
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        return None
    name = path[len(PREFIX) :].lstrip("/") or "index.html"
    if name not in _TYPES:
        return None
    data = resources.files(__package__).joinpath("assets", name).read_bytes()
    return data, _TYPES[name]
