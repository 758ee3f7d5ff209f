"""``DaprWorkflowClient`` for asyncio code (``dapr.ext.workflow.aio`` names): the same
calls as ``wf.client.DaprWorkflowClient``, awaited; each runs in a worker thread so that
the event loop is never blocked on HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from wf.client import DaprWorkflowClient as _SyncClient
from wf.client import InstanceIdPage, WorkflowHistoryEvent, WorkflowInstancePage
from wf.core.status import WorkflowState

__all__ = ["DaprWorkflowClient"]


class DaprWorkflowClient:
    """Manage workflow instances from asyncio code; arguments as the synchronous client's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._sync = _SyncClient(*args, **kwargs)

    async def schedule_new_workflow(
        self,
        workflow: Callable[..., Any] | str,
        *,
        input: Any = None,
        instance_id: str | None = None,
        start_at: datetime | None = None,
    ) -> str:
        return await asyncio.to_thread(
            self._sync.schedule_new_workflow, workflow, input=input, instance_id=instance_id, start_at=start_at
        )

    async def get_workflow_state(self, instance_id: str, *, fetch_payloads: bool = True) -> WorkflowState | None:
        return await asyncio.to_thread(self._sync.get_workflow_state, instance_id, fetch_payloads=fetch_payloads)

    async def wait_for_workflow_start(
        self, instance_id: str, *, fetch_payloads: bool = False, timeout_in_seconds: float = 60
    ) -> WorkflowState | None:
        return await asyncio.to_thread(
            self._sync.wait_for_workflow_start,
            instance_id,
            fetch_payloads=fetch_payloads,
            timeout_in_seconds=timeout_in_seconds,
        )

    async def wait_for_workflow_completion(
        self, instance_id: str, *, fetch_payloads: bool = True, timeout_in_seconds: float = 60
    ) -> WorkflowState | None:
        return await asyncio.to_thread(
            self._sync.wait_for_workflow_completion,
            instance_id,
            fetch_payloads=fetch_payloads,
            timeout_in_seconds=timeout_in_seconds,
        )

    async def raise_workflow_event(self, instance_id: str, event_name: str, *, data: Any = None) -> None:
        await asyncio.to_thread(self._sync.raise_workflow_event, instance_id, event_name, data=data)

    async def raise_workflow_event_with_start(
        self,
        workflow: Callable[..., Any] | str,
        instance_id: str,
        event_name: str,
        *,
        input: Any = None,
        data: Any = None,
    ) -> bool:
        return await asyncio.to_thread(
            self._sync.raise_workflow_event_with_start, workflow, instance_id, event_name, input=input, data=data
        )

    async def terminate_workflow(self, instance_id: str, *, output: Any = None) -> None:
        await asyncio.to_thread(self._sync.terminate_workflow, instance_id, output=output)

    async def pause_workflow(self, instance_id: str) -> None:
        await asyncio.to_thread(self._sync.pause_workflow, instance_id)

    async def resume_workflow(self, instance_id: str) -> None:
        await asyncio.to_thread(self._sync.resume_workflow, instance_id)

    async def purge_workflow(self, instance_id: str) -> None:
        await asyncio.to_thread(self._sync.purge_workflow, instance_id)

    # -- operating many instances: as the synchronous client's, the iterators as lists --

    async def list_workflow_instances(self, **kwargs: Any) -> WorkflowInstancePage:
        return await asyncio.to_thread(self._sync.list_workflow_instances, **kwargs)

    async def list_workflow_instance_ids(
        self, *, page_size: int | None = None, continuation_token: str | None = None
    ) -> InstanceIdPage:
        return await asyncio.to_thread(
            self._sync.list_workflow_instance_ids, page_size=page_size, continuation_token=continuation_token
        )

    async def iter_workflow_instance_ids(self, *, page_size: int | None = None) -> AsyncIterator[str]:
        """Every instance ID, a page fetched (in a worker thread) as the last is used up."""
        token: str | None = None
        while True:
            page = await self.list_workflow_instance_ids(page_size=page_size, continuation_token=token)
            for instance_id in page.instance_ids:
                yield instance_id
            token = page.continuation_token
            if not token:
                return

    async def get_workflow_history(self, instance_id: str) -> list[WorkflowHistoryEvent]:
        return await asyncio.to_thread(self._sync.get_workflow_history, instance_id)

    async def rerun_workflow_from_event(self, instance_id: str, event_id: int | None = None, **kwargs: Any) -> str:
        return await asyncio.to_thread(self._sync.rerun_workflow_from_event, instance_id, event_id, **kwargs)

    async def purge_workflows(self, **kwargs: Any) -> int:
        return await asyncio.to_thread(self._sync.purge_workflows, **kwargs)
