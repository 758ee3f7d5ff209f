"""Function containers as threads of one process, for the stack an application starts
in itself (``WorkflowRuntime.start()``); ``wf dev`` runs each container as a process
(``wf/dev/processes.py``). Each invocation runs in a container that no other invocation
is using at that moment.

Lambda never runs two invocations in one container at once; the engine relies on it
(its warm cache, Powertools' resolver, which holds the current event). The local stack
serves many HTTP clients and SQS batches at the same time, so it keeps a pool: an
invocation takes an idle container, or a new one up to the concurrency limit, or waits
for one; each container is a whole app built from the workflow registry, with caches
of its own, as a cold start builds one.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from wf.core.registry import Registry

log = logging.getLogger("wf.dev")

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

#: Containers at most, when not configured: Lambda's concurrency, scaled to a laptop.
DEFAULT_CONCURRENCY = 48


def app_factory(handler: LambdaHandler) -> tuple[Callable[[], LambdaHandler], int]:
    """How to build a fresh container for ``handler``, and how many may run at once.

    ``wfr.lambda_handler`` of a ``WorkflowRuntime`` builds a new app per container. Any
    other function cannot be copied: it is used as one container, one invocation at a
    time."""
    registry = getattr(handler, "__self__", None)
    if isinstance(registry, Registry):
        from wf.aws.app import build_app
        from wf.aws.settings import Settings

        return (lambda: build_app(registry, Settings.from_env())), DEFAULT_CONCURRENCY
    return (lambda: handler), 1


class LambdaContext:
    """The context object an invocation gets, as Lambda's: the time left before the
    function's timeout, and the request's names."""

    function_name = "wf-local"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:wf-local"
    memory_limit_in_mb = 512

    def __init__(self, timeout_s: float = 30.0, request_id: str = "local") -> None:
        self._deadline = time.monotonic() + timeout_s
        self.aws_request_id = request_id

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Containers:
    """Runs each invocation in a container of its own (see the module's docstring)."""

    def __init__(self, factory: Callable[[], LambdaHandler], concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self._factory = factory
        self._limit = max(1, concurrency)
        self._idle: list[LambdaHandler] = []
        self._count = 0
        self._cond = threading.Condition()

    @property
    def started(self) -> int:
        """Containers built so far (cold starts)."""
        return self._count

    def invoke(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        handler = self._acquire()
        try:
            return handler(event, context)
        finally:
            with self._cond:
                self._idle.append(handler)
                self._cond.notify()

    def _acquire(self) -> LambdaHandler:
        with self._cond:
            while not self._idle and self._count >= self._limit:
                self._cond.wait()
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            handler = self._factory()
            # A container's app (botocore and pynamodb models, the engine) lives as long
            # as the stack: out of the collector's sight, a full collection of the
            # process (all containers) stops every thread for a tenth of a second,
            # which a burst of timers due together would feel.
            gc.freeze()
            return handler
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
