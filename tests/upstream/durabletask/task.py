"""``durabletask.task``: the authoring names, as this project's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wf import (
    DaprWorkflowContext as OrchestrationContext,
)
from wf import (
    FailureDetails,
    NonRetryableError,
    RetryPolicy,
    Task,
    TaskFailedError,
    when_all,
    when_any,
)
from wf import (
    WorkflowActivityContext as ActivityContext,
)
from wf.core.context import registered_name

__all__ = [
    "ActivityContext",
    "FailureDetails",
    "NonRetryableError",
    "OrchestrationContext",
    "RetryPolicy",
    "Task",
    "TaskFailedError",
    "get_name",
    "when_all",
    "when_any",
]


def get_name(fn: Callable[..., Any]) -> str:
    """The name an orchestrator or activity is registered under."""
    return registered_name(fn)
