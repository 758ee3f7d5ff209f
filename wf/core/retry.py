"""Retry policy for activities and child workflows (Dapr's ``RetryPolicy``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from wf.errors import FailureDetails, NonRetryableError

#: A failure of this type is never retried, whatever the policy (as in the Dapr SDK,
#: which matches the name: any exception class so named counts).
NON_RETRYABLE = NonRetryableError.__name__


class RetryPolicy:
    """How often and how fast a failed activity or child workflow is retried.

    ``max_number_of_attempts`` counts attempts (1 means never retry).  Waits happen on
    durable timers (sub-second ones too) and ``retry_timeout`` is measured in workflow
    time from the first attempt, so replays make the same decisions. Failures whose type
    is in ``non_retryable_error_types`` (classes or names), or is named
    ``NonRetryableError``, are not retried.
    """

    def __init__(
        self,
        *,
        first_retry_interval: timedelta,
        max_number_of_attempts: int,
        backoff_coefficient: float | None = 1.0,
        max_retry_interval: timedelta | None = None,
        retry_timeout: timedelta | None = None,
        non_retryable_error_types: Iterable[type[BaseException] | str] | None = None,
    ) -> None:
        if first_retry_interval < timedelta(0):
            raise ValueError("first_retry_interval must be >= 0")
        if max_number_of_attempts < 1:
            raise ValueError("max_number_of_attempts must be >= 1")
        if backoff_coefficient is not None and backoff_coefficient < 1:
            raise ValueError("backoff_coefficient must be >= 1")
        if max_retry_interval is not None and max_retry_interval < timedelta(0):
            raise ValueError("max_retry_interval must be >= 0")
        if retry_timeout is not None and retry_timeout < timedelta(0):
            raise ValueError("retry_timeout must be >= 0")
        self._first_retry_interval = first_retry_interval
        self._max_number_of_attempts = max_number_of_attempts
        self._backoff_coefficient = backoff_coefficient
        self._max_retry_interval = max_retry_interval
        self._retry_timeout = retry_timeout
        names: set[str] = set()
        for item in non_retryable_error_types or ():
            names.add(item if isinstance(item, str) else item.__name__)
        self._non_retryable = frozenset(names)

    @property
    def first_retry_interval(self) -> timedelta:
        return self._first_retry_interval

    @property
    def max_number_of_attempts(self) -> int:
        return self._max_number_of_attempts

    @property
    def backoff_coefficient(self) -> float | None:
        return self._backoff_coefficient

    @property
    def max_retry_interval(self) -> timedelta | None:
        return self._max_retry_interval

    @property
    def retry_timeout(self) -> timedelta | None:
        return self._retry_timeout

    @property
    def non_retryable_error_types(self) -> frozenset[str]:
        return self._non_retryable

    def next_delay(
        self, attempt: int, failure: FailureDetails, first_attempt_at: datetime, now: datetime
    ) -> timedelta | None:
        """The wait before attempt ``attempt + 1``, or ``None`` when no retry is left.

        ``attempt`` is the number of attempts made so far (1 after the first failure).
        """
        if failure.error_type in self._non_retryable or failure.error_type == NON_RETRYABLE:
            return None
        if attempt >= self._max_number_of_attempts:
            return None
        coefficient = self._backoff_coefficient or 1.0
        delay = self._first_retry_interval * (coefficient ** (attempt - 1))
        if self._max_retry_interval is not None and delay > self._max_retry_interval:
            delay = self._max_retry_interval
        if self._retry_timeout is not None and now + delay > first_attempt_at + self._retry_timeout:
            return None
        return delay
