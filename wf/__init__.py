"""Durable workflows on AWS Lambda with the Dapr Python authoring API.

A Dapr workflow moves here by changing one import::

    from wf import WorkflowRuntime, DaprWorkflowContext, WorkflowActivityContext

The package's layers and where each kind of change goes: ``docs/architecture.md``.
"""

from typing import TYPE_CHECKING, Any

from wf.core.context import DaprWorkflowContext, WorkflowActivityContext
from wf.core.history import PropagationScope
from wf.core.propagation import PropagatedHistory, PropagationNotFoundError
from wf.core.retry import RetryPolicy
from wf.core.status import WorkflowState, WorkflowStatus
from wf.core.task import Task, when_all, when_any
from wf.errors import FailureDetails, NonDeterminismError, NonRetryableError, TaskFailedError, WorkflowError
from wf.runtime import WorkflowRuntime

if TYPE_CHECKING:
    from wf.client import DaprWorkflowClient


def __getattr__(name: str) -> Any:
    # The HTTP client (urllib, http.client) is loaded when first named: the Lambda
    # function never uses it, and its imports were a tenth of a cold start's init.
    if name == "DaprWorkflowClient":
        from wf.client import DaprWorkflowClient

        return DaprWorkflowClient
    raise AttributeError(f"module 'wf' has no attribute {name!r}")


__all__ = [
    "DaprWorkflowClient",
    "DaprWorkflowContext",
    "FailureDetails",
    "NonDeterminismError",
    "NonRetryableError",
    "PropagatedHistory",
    "PropagationNotFoundError",
    "PropagationScope",
    "RetryPolicy",
    "Task",
    "TaskFailedError",
    "WorkflowActivityContext",
    "WorkflowError",
    "WorkflowRuntime",
    "WorkflowState",
    "WorkflowStatus",
    "when_all",
    "when_any",
]
