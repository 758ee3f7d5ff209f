"""Workflows for the load tests of the local stack (tests/test_dev_load.py)."""

import os
import time
from datetime import timedelta

from attempts import bump, count  # tests/apps/attempts.py: the handler file's folder is on sys.path

from wf import (
    DaprWorkflowContext,
    NonRetryableError,
    RetryPolicy,
    TaskFailedError,
    WorkflowActivityContext,
    WorkflowRuntime,
    when_all,
)

wfr = WorkflowRuntime()


@wfr.activity(name="double")
def double(ctx: WorkflowActivityContext, x: int) -> int:
    return 2 * x


@wfr.workflow(name="collect")
def collect(ctx: DaprWorkflowContext, n: int):
    got = []
    for _ in range(n):
        got.append((yield ctx.wait_for_external_event("item")))
    return got


@wfr.workflow(name="race")
def race(ctx: DaprWorkflowContext, n: int):
    """``collect``, whose step for each item takes a second (not on a replay): two
    management calls that compute the same step in two containers at once both write,
    and one loses the race, however the calls happen to be timed."""
    got = []
    for _ in range(n):
        item = yield ctx.wait_for_external_event("item")
        if not ctx.is_replaying:
            time.sleep(1.0)
        got.append(item)
    return got


@wfr.workflow(name="five")
def five(ctx: DaprWorkflowContext, base: int):
    return (yield when_all([ctx.call_activity(double, input=base + i) for i in range(5)]))


@wfr.workflow(name="pair")
def pair(ctx: DaprWorkflowContext, x: int):
    yield ctx.wait_for_external_event("go")
    return [x, (yield ctx.call_activity(double, input=x))]


@wfr.workflow(name="again")
def again(ctx: DaprWorkflowContext, n: int):
    """Continues as new n times, an activity in each run; returns how many runs."""
    doubled = yield ctx.call_activity(double, input=n)
    if n > 0:
        ctx.continue_as_new(n - 1)
        return None
    return doubled


@wfr.activity(name="whoami")
def whoami(ctx: WorkflowActivityContext, seconds: float) -> int:
    """The process the activity ran in, after holding its container ``seconds``."""
    time.sleep(seconds)
    return os.getpid()


@wfr.workflow(name="who")
def who(ctx: DaprWorkflowContext, n: int):
    """n activities at once; their containers' process IDs."""
    return (yield when_all([ctx.call_activity(whoami, input=0.5) for _ in range(n)]))


lambda_handler = wfr.lambda_handler


@wfr.activity(name="fails_twice")
def fails_twice(ctx: WorkflowActivityContext, key: str) -> int:
    tries = bump(key)
    if tries < 3:
        raise RuntimeError(f"attempt {tries} fails")
    return tries


@wfr.activity(name="refuses")
def refuses(ctx: WorkflowActivityContext, key: str) -> None:
    bump(key)
    raise NonRetryableError("no point retrying")


FAST = RetryPolicy(
    first_retry_interval=timedelta(milliseconds=50), max_number_of_attempts=3, retry_timeout=timedelta(seconds=1)
)


@wfr.workflow(name="fast_retries")
def fast_retries(ctx: DaprWorkflowContext, key: str):
    """Three attempts 50 ms apart fit a 1 s retry timeout only if sub-second waits are kept."""
    attempts = yield ctx.call_activity(fails_twice, input=key, retry_policy=FAST)
    try:
        yield ctx.call_activity(refuses, input=key, retry_policy=FAST)
    except TaskFailedError as exc:
        return [attempts, count(key), exc.details.error_type]


@wfr.workflow(name="timer")
def timer(ctx: DaprWorkflowContext, seconds: float):
    """Returns when its timer was due; the caller compares it with when it completed."""
    due = ctx.current_utc_datetime + timedelta(seconds=seconds)
    yield ctx.create_timer(timedelta(seconds=seconds))
    return due.isoformat()


@wfr.workflow(name="fails")
def fails(ctx: DaprWorkflowContext, key: str):
    """Fails with the activity's error: a FAILED instance with a stack trace."""
    yield ctx.call_activity(refuses, input=key)
