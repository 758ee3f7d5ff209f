"""``durabletask.worker.TaskHubGrpcWorker`` as a ``WorkflowRuntime``: ``start`` runs the
local stack in this process, on the port of ``WF_ENDPOINT``, as Dapr's runtime starts
its worker against the sidecar."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wf import WorkflowRuntime


class TaskHubGrpcWorker:
    def __init__(self, **options: Any) -> None:
        # Channel, interceptor and concurrency options are the gRPC worker's own: the
        # local stack has none of them.
        self._runtime = WorkflowRuntime()
        self._is_running = False

    def __enter__(self) -> TaskHubGrpcWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_orchestrator(self, fn: Callable[..., Any]) -> str:
        if self._is_running:
            raise RuntimeError("Orchestrators cannot be added while the worker is running.")
        self._runtime.register_workflow(fn)
        return fn.__name__

    def add_activity(self, fn: Callable[..., Any]) -> str:
        if self._is_running:
            raise RuntimeError("Activities cannot be added while the worker is running.")
        self._runtime.register_activity(fn)
        return fn.__name__

    def start(self) -> None:
        self._runtime.start()
        self._is_running = True

    def stop(self) -> None:
        self._runtime.shutdown()
        self._is_running = False
