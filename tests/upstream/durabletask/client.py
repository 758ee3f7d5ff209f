"""``durabletask.client``: ``TaskHubGrpcClient`` over ``DaprWorkflowClient`` (the HTTP
API), its states and statuses as this project's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from wf import DaprWorkflowClient, WorkflowState
from wf import WorkflowStatus as OrchestrationStatus

__all__ = ["OrchestrationState", "OrchestrationStatus", "TaskHubGrpcClient"]

OrchestrationState = WorkflowState


class TaskHubGrpcClient:
    def __init__(self, **options: Any) -> None:
        self._client = DaprWorkflowClient()

    def __enter__(self) -> TaskHubGrpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass

    def schedule_new_orchestration(
        self, orchestrator: Callable[..., Any] | str, *, input: Any = None, instance_id: str | None = None
    ) -> str:
        return self._client.schedule_new_workflow(orchestrator, input=input, instance_id=instance_id)

    def get_orchestration_state(self, instance_id: str, *, fetch_payloads: bool = True) -> WorkflowState | None:
        return self._client.get_workflow_state(instance_id, fetch_payloads=fetch_payloads)

    def wait_for_orchestration_start(
        self, instance_id: str, *, fetch_payloads: bool = False, timeout: float = 60
    ) -> WorkflowState | None:
        return self._client.wait_for_workflow_start(
            instance_id, fetch_payloads=fetch_payloads, timeout_in_seconds=timeout
        )

    def wait_for_orchestration_completion(
        self, instance_id: str, *, fetch_payloads: bool = True, timeout: float = 60
    ) -> WorkflowState | None:
        return self._client.wait_for_workflow_completion(
            instance_id, fetch_payloads=fetch_payloads, timeout_in_seconds=timeout
        )

    def raise_orchestration_event(self, instance_id: str, event_name: str, *, data: Any = None) -> None:
        self._client.raise_workflow_event(instance_id, event_name, data=data)

    def terminate_orchestration(self, instance_id: str, *, output: Any = None, recursive: bool = True) -> None:
        if not recursive:
            pytest.xfail(
                "unsupported half: non-recursive terminate: Dapr's HTTP API terminates a workflow's children with it"
            )
        self._client.terminate_workflow(instance_id, output=output)

    def suspend_orchestration(self, instance_id: str) -> None:
        self._client.pause_workflow(instance_id)

    def resume_orchestration(self, instance_id: str) -> None:
        self._client.resume_workflow(instance_id)

    def purge_orchestration(self, instance_id: str, recursive: bool = True) -> None:
        if not recursive:
            pytest.xfail("unsupported half: non-recursive purge: Dapr's HTTP API purges a workflow's children with it")
        self._client.purge_workflow(instance_id)
