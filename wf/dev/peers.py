"""The other apps a local stack's workflows call (``wf dev --peer NAME=URL``).

Deployed, an app knows another by its queue's URL (``WF_APPS``, the template's
``PeerApps``). Locally, the other app is another ``wf dev``, whose queue is in its own
emulator: ``--peer billing=http://127.0.0.1:3501`` names that ``wf dev``'s API, and its
queue's URL is read from what it publishes for ``wf invoke`` (``stack_file``) once it
has started. A URL with a path is a queue's URL already (a deployed app's queue, which
a local app may call with the credentials it has)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from wf.errors import DevServerError

log = logging.getLogger("wf.dev")

#: How long a starting ``wf dev`` waits for the ``wf dev``s it calls to start (they
#: may be started at the same time, each waiting for the other's API).
PEER_WAIT_SECONDS = 60.0
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_peer(text: str) -> tuple[str, str]:
    """``NAME=URL`` of ``--peer``."""
    name, sep, url = (part.strip() for part in text.partition("="))
    parts = urlsplit(url)
    if not sep or not name or parts.scheme not in ("http", "https") or not parts.netloc:
        raise DevServerError(
            f"--peer {text!r}: expected NAME=URL, the URL of that app's `wf dev` (http://127.0.0.1:PORT) "
            "or of its queue",
            usage=True,
        )
    return name, url.rstrip("/") if not parts.path.strip("/") else url


def resolve_peers(
    peers: Mapping[str, str],
    stack_file: Callable[[int], Path],
    *,
    stop: threading.Event | None = None,
    wait_s: float = PEER_WAIT_SECONDS,
) -> dict[str, str]:
    """Each peer's queue URL: given, or read from its ``wf dev`` once that answers."""
    queues: dict[str, str] = {}
    deadline = time.monotonic() + wait_s
    for name, url in peers.items():
        parts = urlsplit(url)
        if parts.path.strip("/"):
            queues[name] = url
            continue
        if parts.hostname not in _LOOPBACK or parts.port is None:
            raise DevServerError(f"--peer {name}={url}: another app's `wf dev` runs on this machine: give its port")
        said = False
        while True:
            queue = _published_queue(parts.hostname, parts.port, name, stack_file)
            if queue is not None:
                queues[name] = queue
                log.info("app '%s': its queue is %s", name, queue)
                break
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                raise DevServerError(f"--peer {name}={url}: no `wf dev` answered there within {wait_s:g} s")
            if not said:
                log.info("waiting for app '%s' (a `wf dev` on %s) to start", name, url)
                said = True
            time.sleep(0.2)  # `wf dev`'s own start, before any container: nothing billed
    return queues


def _published_queue(host: str, port: int, name: str, stack_file: Callable[[int], Path]) -> str | None:
    # Its port taken (a `wf dev` binds it first thing) and its resources published: its
    # API itself may not answer yet, as it waits for this app in turn.
    try:
        socket.create_connection((host, port), timeout=2).close()
        state = json.loads(stack_file(port).read_text())
    except (OSError, ValueError):
        return None
    app = state.get("WF_APP_ID") or "wf"
    if app != name:
        raise DevServerError(
            f"--peer {name}=http://{host}:{port}: the `wf dev` there is app '{app}', not '{name}' (its --app-id)",
            usage=True,
        )
    queue = state.get("WF_QUEUE_URL")
    return str(queue) if queue else None
