"""Every error of ``wf`` in one place; all derive from :class:`WorkflowError`.

This module is the bottom of the package: it imports nothing from ``wf``, so every
layer (core, engine, aws, dev, client) may raise these. Failure kinds that end up
recorded in history (``FailureDetails.error_type``) are classes here too, named by
:func:`FailureDetails.of`, never spelled as bare strings.

How each error becomes an HTTP answer is decided in one table of the AWS layer
(``wf/aws/http.py``); how the CLI turns them into exit codes, in ``wf/cli.py``.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from enum import Enum


class WorkflowError(Exception):
    """Root of every error raised by ``wf``."""


@dataclass(frozen=True)
class FailureDetails:
    """Why a workflow, activity or child workflow failed (Dapr's ``FailureDetails``)."""

    message: str
    error_type: str
    stack_trace: str | None = None

    @classmethod
    def from_exception(cls, exc: BaseException) -> FailureDetails:
        """The failure of ``exc``: its type's name, message and traceback. A task
        failure the workflow did not catch is a ``TaskFailedError`` (as in Dapr), its
        stack trace followed by the failed task's own details."""
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        if isinstance(exc, TaskFailedError):
            inner = exc.details
            trace += f"\nCaused by the task's failure: {inner.error_type}: {inner.message}\n"
            if inner.stack_trace:
                trace += inner.stack_trace
        return cls(str(exc), type(exc).__name__, trace)

    @classmethod
    def of(cls, kind: type[BaseException], message: str) -> FailureDetails:
        """A failure the engine records itself (no stack trace): ``kind`` names its type."""
        return cls(message, kind.__name__)

    def to_json(self) -> dict[str, str | None]:
        return {"message": self.message, "error_type": self.error_type, "stack_trace": self.stack_trace}

    @classmethod
    def from_json(cls, data: dict[str, str | None]) -> FailureDetails:
        return cls(str(data["message"]), str(data["error_type"]), data.get("stack_trace"))


# -- raised into workflow code, or recorded as a failure kind ----------------------------


class TaskFailedError(WorkflowError):
    """Raised at the ``yield`` of an activity or child workflow that failed."""

    def __init__(self, message: str, details: FailureDetails) -> None:
        super().__init__(message)
        self._details = details

    @property
    def details(self) -> FailureDetails:
        return self._details


class NonRetryableError(WorkflowError):
    """Raise it from an activity or child workflow to fail its task at once, whatever
    the retry policy (the Dapr SDK's ``NonRetryableError``; any class so named counts)."""


class NonDeterminismError(WorkflowError):
    """The workflow code no longer matches the history it is replayed against."""


class WorkflowNotRegisteredError(WorkflowError):
    """A workflow or activity name that the runtime does not know."""


class PayloadTooLargeError(WorkflowError):
    """A payload (request body, step, queued input) over the limit that applies to it."""


class PayloadEncodingError(WorkflowError, ValueError):
    """A value cannot be encoded as JSON (an object of no JSON type, NaN, infinity)."""


class ActivityTimeoutError(WorkflowError):
    """An activity was still running when its invocation had to finish (the function's
    timeout bounds every run)."""


class ActivityAbandonedError(WorkflowError):
    """An activity whose every delivery died unfinished (timeout, out of memory)."""


class WorkflowLoopError(WorkflowError):
    """A workflow that continued as new too often in one step without waiting."""


class WorkflowTerminated(WorkflowError):
    """A child workflow that was terminated, as its parent sees it."""


class HistoryFormatError(WorkflowError):
    """A stored history event that this version of the engine cannot read."""


# -- management requests ---------------------------------------------------------------


class RequestError(WorkflowError):
    """A management request that is refused as made (nothing was changed)."""


class InvalidInstanceIdError(RequestError):
    """An instance ID that is empty, too long or has characters other than letters,
    digits, ``_`` and ``-``."""

    class Reason(Enum):
        MISSING = "missing"
        TOO_LONG = "too long"
        INVALID = "invalid"

    def __init__(self, reason: InvalidInstanceIdError.Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class WorkflowNameMissingError(RequestError):
    """A start without a workflow name."""


class EventNameMissingError(RequestError):
    """A raise without an event name."""


class ComponentNotFoundError(RequestError):
    """A workflow component other than the configured one."""


class RouteNotFoundError(RequestError):
    """A request that matches no operation of the API."""


class InstanceNotFoundError(RequestError):
    """No instance with this ID."""

    def __init__(self, instance_id: str) -> None:
        super().__init__(f"unable to find workflow with the provided instance ID: {instance_id}")
        self.instance_id = instance_id


class MalformedRequestError(RequestError):
    """A request body the API cannot read (nested too deeply to decode)."""


class InstanceExistsError(RequestError):
    """Start on an instance ID whose instance (or one of its children) is still running."""


class InvalidFilterError(RequestError):
    """A listing or bulk purge filter that cannot be applied: an unknown status, a time
    that is not RFC 3339, a page size out of range, a bulk purge of running instances."""


class InvalidContinuationTokenError(RequestError):
    """A continuation token this API did not hand out (or for another listing)."""


class InvalidEventIdError(RequestError):
    """A rerun from an event the source's history does not have, or that is not an
    activity's ``TaskScheduled``."""


class Operation(Enum):
    """The management operations, for errors that depend on which one was refused."""

    START = "start"
    GET = "get"
    TERMINATE = "terminate"
    RAISE = "raise"
    PAUSE = "pause"
    RESUME = "resume"
    PURGE = "purge"
    LIST = "list"
    HISTORY = "history"
    RERUN = "rerun"


class InvalidStateError(RequestError):
    """An operation the instance's status does not allow (pause or resume of a terminal
    instance, purge of a running one)."""

    def __init__(self, operation: Operation, message: str) -> None:
        super().__init__(message)
        self.operation = operation


class OperationFailedError(WorkflowError):
    """A management operation that failed for a reason other than a refusal (a fault of
    the store, the queue or the code); the cause is chained."""

    def __init__(self, operation: Operation) -> None:
        super().__init__(f"{operation.value} failed unexpectedly")
        self.operation = operation


# -- infrastructure ----------------------------------------------------------------------


class ConfigurationError(WorkflowError):
    """The function's configuration is missing or malformed."""


class StoreError(WorkflowError):
    """The store failed in a way the engine does not handle."""


class ConflictError(WorkflowError):
    """A conditional write lost a race: someone else wrote first."""


class UnknownMessageKindError(WorkflowError):
    """A queued message of a kind this version does not know (left for a newer one)."""


class QueueError(WorkflowError):
    """Sending work to the queue failed."""


class UnknownAppError(WorkflowError):
    """An ``app_id`` this app has no address for (``WF_APPS``; ``wf dev --peer``): the
    task that names it fails with this, for the workflow's retry policy or handler."""


# -- clients and the local stack ---------------------------------------------------------


class StatusEventsError(WorkflowError):
    """Status-change events could not all be published (EventBridge refused or failed
    some); the steps that made them keep their markers and are published again."""


class WorkflowClientError(WorkflowError):
    """The API answered with an error (``status``, ``error_code``, ``message``)."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message


class EndpointUnreachableError(WorkflowError):
    """The workflow API could not be reached at all (no answer, refused, DNS)."""


class CredentialsError(WorkflowError):
    """No AWS credentials to sign requests to a deployed API with."""


class FunctionError(WorkflowError):
    """The local stack's invocation of the function failed as a Lambda invocation fails:
    the handler raised, or its container died (API Gateway answers 502; an SQS batch
    comes back whole)."""


class FunctionTimeoutError(FunctionError):
    """The invocation ran past the function's timeout and its container was ended, as
    Lambda ends it."""


class DevServerError(WorkflowError):
    """The local stack cannot start; the message says why. ``usage`` marks a mistake in
    the command line (exit code 2) rather than the machine's state (exit code 3)."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage
