"""Workflows for the load tests of the local stack (tests/test_dev_load.py)."""

from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime, when_all

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


@wfr.workflow(name="five")
def five(ctx: DaprWorkflowContext, base: int):
    return (yield when_all([ctx.call_activity(double, input=base + i) for i in range(5)]))


@wfr.workflow(name="pair")
def pair(ctx: DaprWorkflowContext, x: int):
    yield ctx.wait_for_external_event("go")
    return [x, (yield ctx.call_activity(double, input=x))]


lambda_handler = wfr.lambda_handler
