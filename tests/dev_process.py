"""A `wf dev` subprocess for tests: the real local stack (embedded moto server, real HTTP)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def eventually(check: Callable[[], object], what: str, timeout: float = 30) -> None:
    """Wait until ``check()`` is true (polled every 50 ms), failing with ``what`` after
    ``timeout`` seconds: for what a test must see happen, instead of a fixed sleep."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


def post_json(base: str, path: str, body: object) -> None:
    """POST ``body`` as JSON to a local stack; it must be accepted (202)."""
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 202


def get_json(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return json.loads(r.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def wf_dev(
    tmp: Path, handler: Path = ROOT / "handler.py", *args: str, port: int | None = None
) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    """Run `wf dev` until the block ends; yields (base URL, its environment, its log lines)."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["TMPDIR"] = str(tmp)
    env["WF_STATE"] = str(tmp / "wf-state.json")  # each test's stack starts empty
    proc = subprocess.Popen(
        [sys.executable, "-m", "wf.cli", "dev", "--port", str(port), "--handler", str(handler), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []  # wf dev's log, read as it is written
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/v1.0/healthz", timeout=2) as r:
                if r.status == 204:
                    break
        except OSError:  # not listening yet, or its first (cold) answer took longer than 2 s
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("wf dev did not start:\n" + "".join(lines))
        time.sleep(0.2)
    try:
        yield base, env, lines
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
    assert proc.returncode == 0, "".join(lines)
    assert "wf dev: stopping" in "".join(lines)


@contextlib.contextmanager
def console_proxy(endpoint: str, **options: object) -> Iterator[tuple[str, object]]:
    """`wf console --endpoint ENDPOINT`'s server, in a thread of this process, until the
    block ends; yields (its base URL, its ConsoleProxy)."""
    import waitress

    from wf.console.proxy import ConsoleProxy

    port = free_port()
    app = ConsoleProxy(endpoint, port=port, **options)  # type: ignore[arg-type]
    server = waitress.create_server(app, host="127.0.0.1", port=port, threads=4)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        from wf.dev.server import close_server

        close_server(server)
        loop.join(timeout=5)


def unavailable(reason: str) -> None:
    """A test that cannot run here: it skips, saying why; in CI (``WF_CI`` set, as
    .ci/run sets it), where everything it needs is installed, it fails instead."""
    if os.environ.get("WF_CI") or os.environ.get("WF_REQUIRE_DYNAMODB_LOCAL"):
        pytest.fail(f"required in CI (WF_CI): {reason}")
    pytest.skip(reason)
