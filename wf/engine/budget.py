"""When an activity may start: never so late that it would carry an invocation past its
timeout.

Lambda kills an invocation at its timeout, and with it every record of its SQS batch
that was not reported done: they come back with a higher receive count, as if each of
them had crashed, and enough of those fail an activity as abandoned. So an activity (queued
or inline) starts only if the invocation has more time left than a margin, or than
1.5 times the longest run of that activity this container has seen, if that is longer.
An activity that may not start is handed to a fresh SQS message instead.

Neither the margin nor the reserve below is more than a fair share of the longest time
an invocation has had in this container (about the function's timeout): with a
timeout under the margin, a fresh invocation must still run the activity, not hand it
on forever.

An activity that has started but runs on towards the timeout (it hangs, or a call it
makes does) is not waited for past a last reserve of the invocation's time: its task
fails with ``ActivityTimeoutError``, which the workflow can catch or retry, and the
rest of the batch is still recorded. Its thread is left behind (Python cannot stop
one); Lambda freezes it with the container, and whatever it returns is ignored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from wf.errors import ActivityTimeoutError

T = TypeVar("T")

#: Headroom over the longest run seen: durations vary from run to run.
HEADROOM = 1.5
#: The default margin: an activity starts only with more time left than this.
DEFAULT_MARGIN_MS = 5_000
#: The time kept to record results once a hanging activity is given up on.
MAX_RESERVE_MS = 2_000


class ActivityBudget:
    def __init__(self, margin_ms: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.margin_ms = margin_ms
        self._monotonic = monotonic
        self._longest_ms: dict[str, float] = {}
        #: The most time left an invocation has been seen with here (about the timeout).
        self._horizon_ms = 0.0

    def needed_ms(self, name: str) -> float:
        """The time an invocation must have left to start activity ``name``."""
        return max(float(self.margin_ms), HEADROOM * self._longest_ms.get(name, 0.0))

    def may_start(self, name: str, remaining_ms: Callable[[], int] | None) -> bool:
        """``remaining_ms`` is the Lambda context's clock; None (no deadline) always may."""
        if remaining_ms is None:
            return True
        left = float(remaining_ms())
        self._horizon_ms = max(self._horizon_ms, left)
        return left > min(self.needed_ms(name), self._horizon_ms / 2)

    def _reserve_ms(self, remaining: float) -> float:
        self._horizon_ms = max(self._horizon_ms, remaining)
        return min(self.margin_ms, MAX_RESERVE_MS, self._horizon_ms / 4)

    def timed(self, name: str, run: Callable[[], T], remaining_ms: Callable[[], int] | None = None) -> T:
        """Run an activity, remembering how long it took; with a deadline, raise
        ``ActivityTimeoutError`` if it is still running when the reserve is reached."""
        if remaining_ms is None:
            started = self._monotonic()
            try:
                return run()
            finally:
                self._remember(name, started)
        return self.timed_all([(name, run)], remaining_ms)[0]()

    def timed_all(
        self, runs: Sequence[tuple[str, Callable[[], T]]], remaining_ms: Callable[[], int] | None
    ) -> list[Callable[[], T]]:
        """Run activities concurrently, each in a thread of its own, under one deadline
        (the invocation's, less the reserve); for each, a getter that returns its result
        or raises its error, or ``ActivityTimeoutError`` if it was still running."""
        allowed_ms: int | None = None
        if remaining_ms is not None:
            left = float(remaining_ms())
            allowed_ms = int(left - self._reserve_ms(left))
        deadline = None if allowed_ms is None else self._monotonic() + max(0, allowed_ms) / 1000
        slots = [_Slot(name, run, self) for name, run in runs]
        for slot in slots:
            slot.thread.start()
        for slot in slots:
            slot.thread.join(None if deadline is None else max(0.0, deadline - self._monotonic()))
            if slot.thread.is_alive() and allowed_ms is not None:
                # Given up on: at least this long, for the next decision to start it.
                self._longest_ms[slot.name] = max(self._longest_ms.get(slot.name, 0.0), float(allowed_ms))
        return [slot.getter(allowed_ms) for slot in slots]

    def _remember(self, name: str, started: float) -> None:
        elapsed = (self._monotonic() - started) * 1000
        self._longest_ms[name] = max(self._longest_ms.get(name, 0.0), elapsed)


class _Slot(Generic[T]):
    """One activity's thread and what it came to."""

    def __init__(self, name: str, run: Callable[[], T], budget: ActivityBudget) -> None:
        self.name = name
        self._outcome: list[T] = []
        self._error: list[BaseException] = []

        def target() -> None:
            started = budget._monotonic()
            try:
                self._outcome.append(run())
            except BaseException as exc:  # handed to the caller's thread as is
                self._error.append(exc)
            finally:
                budget._remember(name, started)

        # A daemon thread: one that never returns must not keep the process alive.
        self.thread = threading.Thread(target=target, name=f"activity-{name}", daemon=True)

    def getter(self, allowed_ms: int | None) -> Callable[[], T]:
        error, outcome = list(self._error), list(self._outcome)

        def get() -> T:
            if error:
                raise error[0]
            if outcome:
                return outcome[0]
            raise ActivityTimeoutError(
                f"activity '{self.name}' was still running after {max(0, allowed_ms or 0) / 1000:.1f} s, when its "
                "invocation had to finish; an activity must finish within the function's timeout (split the work, "
                "or raise the timeout)"
            )

        return get
