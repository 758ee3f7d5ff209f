"""When an activity may start: never so late that it would carry an invocation past its
timeout.

Lambda kills an invocation at its timeout, and with it every record of its SQS batch
that was not reported done: they come back with a higher receive count, as if each of
them had crashed, and enough of those fail an activity as abandoned. So an activity (queued
or inline) starts only if the invocation has more time left than a margin, or than
1.5 times the longest run of that activity this container has seen, if that is longer.
An activity that may not start is handed to a fresh SQS message instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Headroom over the longest run seen: durations vary from run to run.
HEADROOM = 1.5
#: The default margin: an activity starts only with more time left than this.
DEFAULT_MARGIN_MS = 5_000


class ActivityBudget:
    def __init__(self, margin_ms: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.margin_ms = margin_ms
        self._monotonic = monotonic
        self._longest_ms: dict[str, float] = {}

    def needed_ms(self, name: str) -> float:
        """The time an invocation must have left to start activity ``name``."""
        return max(float(self.margin_ms), HEADROOM * self._longest_ms.get(name, 0.0))

    def may_start(self, name: str, remaining_ms: Callable[[], int] | None) -> bool:
        """``remaining_ms`` is the Lambda context's clock; None (no deadline) always may."""
        return remaining_ms is None or remaining_ms() > self.needed_ms(name)

    def timed(self, name: str, run: Callable[[], T]) -> T:
        """Run an activity, remembering how long it took."""
        started = self._monotonic()
        try:
            return run()
        finally:
            elapsed = (self._monotonic() - started) * 1000
            self._longest_ms[name] = max(self._longest_ms.get(name, 0.0), elapsed)
