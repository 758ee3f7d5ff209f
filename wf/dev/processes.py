"""Function containers as processes, as Lambda runs them (``wf dev``).

Each container is a process of its own (an execution environment): it imports the
handler file once (its cold start), then serves one event at a time, HTTP requests and
SQS batches alike, for as long as the stack runs. An invocation takes an idle
container, or starts a new one while fewer than the concurrency limit exist, or waits
for one. Nothing is shared between containers but what Lambda's share: the AWS
resources. Module-level state of the user's code is each container's own, and two
management calls on one instance really run at the same time.

A container gets its configuration as Lambda gives it, as its environment (the table,
queues and endpoint of the stack), not from the parent's. An invocation that outlives
the function's timeout is ended as Lambda ends it: the container is killed (a thread
could not be), and the caller gets :class:`~wf.errors.FunctionTimeoutError`; the next
invocation starts a new container.

Containers are forked from a server process that has imported the AWS SDK, Powertools
and ``wf`` already (``multiprocessing``'s forkserver): a local cold start costs the
handler's own import and the app's build, not the interpreter's start.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from wf.dev.containers import LambdaContext
from wf.errors import FunctionError, FunctionTimeoutError

log = logging.getLogger("wf.dev")

#: Imported once by the server the containers are forked from (the function's own
#: dependencies; the user's handler file is imported by each container).
_PRELOAD = [
    "boto3",
    "botocore.session",
    "pynamodb.connection",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
    "wf",
    "wf.aws.app",
    "wf.aws.http",
    "wf.aws.batch",
    "wf.aws.dynamodb",
    "wf.aws.sqs",
    "wf.dev.processes",
]


@dataclass(frozen=True)
class FunctionConfig:
    """The function as the template configures it: its handler file, its environment
    (what ``Environment.Variables`` and the stack's resources give it), its timeout."""

    handler_file: Path
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 30.0
    memory_mb: int = 512
    #: The local stack's log settings for the container's own log lines.
    verbose: bool = False


@dataclass(eq=False)  # each container is itself (kept in a set)
class _Container:
    number: int
    process: Any  # multiprocessing's Process of the forkserver context
    conn: Connection


class ProcessContainers:
    """Runs each invocation in a container process of its own (module docstring)."""

    def __init__(self, config: FunctionConfig, concurrency: int) -> None:
        self._config = config
        self._limit = max(1, concurrency)
        self._idle: list[_Container] = []
        self._all: set[_Container] = set()
        self._started = 0
        self._cond = threading.Condition()
        self._closed = False
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(_PRELOAD)

    @property
    def started(self) -> int:
        """Containers started so far (cold starts)."""
        return self._started

    def invoke(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Invoke the function with ``event`` in an idle container (or a new one); its
        result, or :class:`FunctionError` (it raised, or its process died), or
        :class:`FunctionTimeoutError` (it ran out of time and was ended)."""
        container = self._acquire()
        healthy = False
        try:
            result = self._run(container, event)
            healthy = True
            return result
        except FunctionError as exc:
            healthy = not isinstance(exc, FunctionTimeoutError) and container.process.is_alive()
            raise
        finally:
            self._release(container, healthy)

    def _run(self, container: _Container, event: dict[str, Any]) -> dict[str, Any]:
        timeout = self._config.timeout_s
        try:
            container.conn.send((event, int(timeout * 1000)))
            if not container.conn.poll(timeout):
                raise FunctionTimeoutError(
                    f"Task timed out after {timeout:.2f} seconds (container {container.number} ended)"
                )
            kind, payload = container.conn.recv()
        except (EOFError, OSError) as exc:
            raise FunctionError(f"container {container.number} exited during the invocation: {exc!r}") from exc
        if kind == "error":
            raise FunctionError(f"{payload['errorType']}: {payload['errorMessage']}")
        result: dict[str, Any] = payload
        return result

    def _acquire(self) -> _Container:
        with self._cond:
            while not self._closed and not self._idle and len(self._all) >= self._limit:
                self._cond.wait()
            if self._closed:
                raise FunctionError("the local stack is stopping")
            if self._idle:
                return self._idle.pop()  # the most recently used, as Lambda reuses warm ones
            self._started += 1
            number = self._started
            placeholder = _Container(number, None, None)  # type: ignore[arg-type]
            self._all.add(placeholder)
        try:
            parent, child = self._ctx.Pipe()
            process = self._ctx.Process(
                target=_container_main,
                args=(child, self._config, number),
                name=f"wf-container-{number}",
                daemon=True,
            )
            process.start()
            child.close()
            container = _Container(number, process, parent)
            _ready(container, self._config.timeout_s)
        except BaseException:
            with self._cond:
                self._all.discard(placeholder)
                self._cond.notify()
            raise
        with self._cond:
            self._all.discard(placeholder)
            self._all.add(container)
        return container

    def _release(self, container: _Container, healthy: bool) -> None:
        if not healthy:
            _end(container)
        with self._cond:
            if healthy and not self._closed:
                self._idle.append(container)
            else:
                self._all.discard(container)
                if self._closed:
                    _end(container)
            self._cond.notify()

    def close(self) -> None:
        """End every idle container (busy ones end when their invocation returns)."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            for container in idle:
                self._all.discard(container)
            self._cond.notify_all()
        for container in idle:
            _end(container)

    def warm(self) -> None:
        """Start one container now and keep it idle (its init errors are raised here:
        :class:`FunctionError`)."""
        container = self._acquire()
        self._release(container, True)

    def pids(self) -> list[int]:
        """The containers' process IDs (for tests and ``--verbose``)."""
        with self._cond:
            return [c.process.pid for c in self._all if c.process is not None]


def _ready(container: _Container, timeout_s: float) -> None:
    """Wait for a new container's init (its handler imported); its error, if it failed
    or did not finish within the function's timeout (as an invocation's would)."""
    try:
        if not container.conn.poll(timeout_s):
            _end(container)
            raise FunctionTimeoutError(f"the function's init did not finish in {timeout_s:.2f} seconds")
        kind, payload = container.conn.recv()
    except (EOFError, OSError) as exc:
        _end(container)
        raise FunctionError(f"container {container.number} exited during its init") from exc
    if kind != "ready":
        _end(container)
        raise FunctionError(f"the function's init failed: {payload}")


def _end(container: _Container) -> None:
    with contextlib.suppress(OSError):
        container.conn.close()
    if container.process is not None and container.process.is_alive():
        container.process.kill()
        container.process.join(timeout=5)


def _container_main(conn: Connection, config: FunctionConfig, number: int) -> None:
    """A container's life: configured, the handler imported once, then one event at a
    time until the stack closes its end of the pipe."""
    os.environ.update(config.environment)
    from wf.dev.logs import configure_logging
    from wf.dev.server import load_handler

    # Ctrl-C and a closed terminal reach the whole process group: the stack stops its
    # containers itself, after the batches in flight.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    configure_logging()
    started = time.monotonic()
    try:
        handler = load_handler(str(config.handler_file))
    except Exception as exc:
        log.error("container %d: init failed\n%s", number, traceback.format_exc().rstrip())
        conn.send(("init_error", f"{type(exc).__name__}: {exc}"))
        return
    init_ms = (time.monotonic() - started) * 1000
    log.info("container %d started (pid %d, init %.0f ms)", number, os.getpid(), init_ms)
    conn.send(("ready", os.getpid()))
    requests = 0
    while True:
        try:
            event, remaining_ms = conn.recv()
        except (EOFError, OSError):
            return
        requests += 1
        context = LambdaContext(remaining_ms / 1000, request_id=f"local-{number}-{requests}")
        began = time.monotonic()
        try:
            result = handler(event, context)
        except Exception as exc:
            # As Lambda: the error and its stack trace go to the function's log; the
            # caller gets its type and message.
            log.error("container %d: the handler raised\n%s", number, traceback.format_exc().rstrip())
            conn.send(("error", {"errorType": type(exc).__name__, "errorMessage": str(exc)}))
            continue
        if config.verbose:
            log.info(
                "container %d: REPORT %s duration %.1f ms",
                number,
                context.aws_request_id,
                (time.monotonic() - began) * 1000,
            )
        conn.send(("ok", result))
