"""Durable workflows on AWS Lambda with the Dapr Python authoring API.

A Dapr workflow moves here by changing one import::

    from wf import WorkflowRuntime, DaprWorkflowContext, WorkflowActivityContext
"""

from wf._context import DaprWorkflowContext, WorkflowActivityContext
from wf._errors import FailureDetails, NonDeterminismError, TaskFailedError, WorkflowError
from wf._retry import RetryPolicy
from wf._runtime import WorkflowRuntime
from wf._status import WorkflowState, WorkflowStatus
from wf._task import Task, when_all, when_any
from wf.client import DaprWorkflowClient

__all__ = [
    "DaprWorkflowClient",
    "DaprWorkflowContext",
    "FailureDetails",
    "NonDeterminismError",
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
