"""How long an invocation may wait in place, and for what: the trade-off between
promptness and cost. Lambda bills every millisecond an invocation runs, sleeping
included, while an SQS delay waits for free (in whole seconds); so on AWS an invocation
waits no more than ``BILLED_WAIT_SECONDS`` in all on the happy path and leaves longer
waits to SQS. Where time is not billed (the local stack), or where a team asks for
timers to the millisecond (``WF_PRECISE_TIMERS=1``), it waits longer to be prompt."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from wf.engine.queue import MAX_DELAY_SECONDS

#: The most an invocation waits in place in all, on the happy path, without precise timers.
BILLED_WAIT_SECONDS = 0.05


@dataclass(frozen=True)
class Waits:
    """One policy of in-place waits."""

    #: A timer that arrives at most this early is waited for; an earlier one hops
    #: (is sent again with the SQS delay left).
    timer_wait_seconds: float
    #: Timers are sent to arrive this much before they are due (the send itself takes
    #: a moment, and a timer visible late is late) ...
    timer_lead_seconds: float
    #: ... and then, SQS delaying in whole seconds, rounded up (late by less than a
    #: second, no wait) or down (early by less than a second more, waited for).
    timer_round_up: bool
    #: Pauses between reads while a message for an execution whose start is still being
    #: written waits for the write (then it is sent again, a second or more later).
    early_rechecks: tuple[float, ...]
    #: Pauses between reads while a management call's follow-up message waits for the
    #: call's own write (sent just before it, it often arrives first); then it is sent
    #: again a second later.
    follow_up_rechecks: tuple[float, ...]
    #: Only a message this young is rechecked in place; an older one is just sent again.
    early_recheck_age: float = 2.0
    #: A message for an execution newer than the stored one may have overtaken the
    #: write that creates it: it is sent again, later and later, for this long, then
    #: dropped (the start was refused, or died before writing).
    early_grace_seconds: float = 60.0
    #: How long a management call's follow-up message waits for the call's own write
    #: (rechecked, then sent again) before it records the event itself.
    follow_up_grace_seconds: float = 10.0
    #: Invocation time kept, beyond a timer's wait, to record the timer's step.
    timer_wait_reserve_ms: int = 3_000

    def has_time(self, remaining_ms: Callable[[], int] | None, seconds: float) -> bool:
        """Whether the invocation can wait ``seconds`` and still record what follows."""
        return remaining_ms is None or remaining_ms() > seconds * 1000 + self.timer_wait_reserve_ms

    def timer_delay(self, seconds: float) -> int:
        """The SQS delay of a timer due in ``seconds``, at most SQS's longest (a longer
        timer hops)."""
        ahead = seconds - self.timer_lead_seconds
        rounded = math.ceil(ahead) if self.timer_round_up else math.floor(ahead)
        return max(0, min(MAX_DELAY_SECONDS, rounded))


#: On AWS by default: within ``BILLED_WAIT_SECONDS``. A timer fires at most a second late
#: (SQS's granularity; sent to arrive just before it is due, then waited for the rest);
#: a follow-up or an early message whose write is slower waits a second in SQS, for free.
BILLED = Waits(
    timer_wait_seconds=BILLED_WAIT_SECONDS,
    timer_lead_seconds=BILLED_WAIT_SECONDS,
    timer_round_up=True,
    early_rechecks=(0.005, 0.015, 0.03),
    follow_up_rechecks=(0.005, 0.015, 0.03),
)

#: Precise timers (the local stack, or ``WF_PRECISE_TIMERS=1``): timers arrive up to a
#: second early and are waited for, so they fire to the millisecond; writes are waited
#: for up to about a second rather than a second in SQS.
PROMPT = Waits(
    timer_wait_seconds=1.5,
    timer_lead_seconds=0.2,
    timer_round_up=False,
    early_rechecks=(0.005, 0.02, 0.05, 0.1),
    follow_up_rechecks=(0.005, 0.02, 0.05, 0.1, 0.2, 0.3, 0.3),
)
