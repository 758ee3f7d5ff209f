"""Workflows for the console's browser tests (tests/test_console.py)."""

from datetime import timedelta

from attempts import bump  # tests/apps/attempts.py: the handler file's folder is on sys.path

from wf import DaprWorkflowContext, RetryPolicy, WorkflowActivityContext, WorkflowRuntime, when_all

wfr = WorkflowRuntime()


@wfr.activity(name="greet")
def greet(ctx: WorkflowActivityContext, name: str) -> str:
    return f"Hello, {name}!"


@wfr.activity(name="flaky")
def flaky(ctx: WorkflowActivityContext, key: str) -> int:
    tries = bump(key)
    if tries < 2:
        raise ConnectionError(f"try {tries} of {key} failed")
    return tries


@wfr.activity(name="square")
def square(ctx: WorkflowActivityContext, n: int) -> int:
    return n * n


@wfr.workflow(name="approval")
def approval(ctx: DaprWorkflowContext, name: str):
    """Greets, retries a flaky step, waits on a timer and for an "approve" event."""
    hello = yield ctx.call_activity(greet, input=name)
    policy = RetryPolicy(first_retry_interval=timedelta(milliseconds=100), max_number_of_attempts=3)
    tries = yield ctx.call_activity(flaky, input=ctx.instance_id, retry_policy=policy)
    yield ctx.create_timer(timedelta(milliseconds=200))
    ctx.set_custom_status("waiting for approval")
    decision = yield ctx.wait_for_external_event("approve")
    return {"hello": hello, "tries": tries, "decision": decision}


@wfr.workflow(name="family")
def family(ctx: DaprWorkflowContext, name: str):
    return (yield ctx.call_child_workflow(approval, input=name, instance_id=f"{ctx.instance_id}-child"))


@wfr.workflow(name="wide")
def wide(ctx: DaprWorkflowContext, n: int):
    """n activities at once: a history of about 2n events."""
    return sum((yield when_all([ctx.call_activity(square, input=i) for i in range(n)])))


@wfr.workflow(name="idle")
def idle(ctx: DaprWorkflowContext, _):
    return (yield ctx.wait_for_external_event("never"))


@wfr.activity(name="explode")
def explode(ctx: WorkflowActivityContext, text: str) -> None:
    raise ValueError(text)


@wfr.workflow(name="hostile")
def hostile(ctx: DaprWorkflowContext, text: str):
    """Puts its input (hostile HTML, for the console's XSS test) everywhere the console
    shows text: custom status, event data, an activity's input, the failure message."""
    ctx.set_custom_status(text)
    data = yield ctx.wait_for_external_event("go")
    yield ctx.call_activity(explode, input=data)


lambda_handler = wfr.lambda_handler
