"""Error types of the engine; every engine error derives from :class:`WorkflowError`."""

from __future__ import annotations

import traceback
from dataclasses import dataclass


class WorkflowError(Exception):
    """Root of every error raised by the engine."""


@dataclass(frozen=True)
class FailureDetails:
    """Why a workflow, activity or child workflow failed (Dapr's ``FailureDetails``)."""

    message: str
    error_type: str
    stack_trace: str | None = None

    @classmethod
    def from_exception(cls, exc: BaseException) -> FailureDetails:
        if isinstance(exc, TaskFailedError):
            # Re-raised task failures keep the original type so callers can match on it.
            return cls(exc.details.message, exc.details.error_type, exc.details.stack_trace)
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(str(exc), type(exc).__name__, trace)

    def to_json(self) -> dict[str, str | None]:
        return {"message": self.message, "error_type": self.error_type, "stack_trace": self.stack_trace}

    @classmethod
    def from_json(cls, data: dict[str, str | None]) -> FailureDetails:
        return cls(str(data["message"]), str(data["error_type"]), data.get("stack_trace"))


class TaskFailedError(WorkflowError):
    """Raised at the ``yield`` of an activity or child workflow that failed."""

    def __init__(self, message: str, details: FailureDetails) -> None:
        super().__init__(message)
        self._details = details

    @property
    def details(self) -> FailureDetails:
        return self._details


class NonDeterminismError(WorkflowError):
    """The workflow code no longer matches the history it is replayed against."""


class WorkflowNotRegisteredError(WorkflowError):
    """A workflow or activity name that the runtime does not know."""
