"""Workflows for bench/latency.py, served by `wf dev --handler bench/latency_app.py`."""

from __future__ import annotations

from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime, when_all

wfr = WorkflowRuntime()


@wfr.activity(name="step")
def step(ctx: WorkflowActivityContext, i: int) -> int:
    return i + 1


@wfr.activity(name="step_inline", inline=True)
def step_inline(ctx: WorkflowActivityContext, i: int) -> int:
    return i + 1


@wfr.workflow(name="seq10")
def seq10(ctx: DaprWorkflowContext, _: object):
    x = 0
    for _ in range(10):
        x = yield ctx.call_activity(step, input=x)
    return x


@wfr.workflow(name="seq10_inline")
def seq10_inline(ctx: DaprWorkflowContext, _: object):
    x = 0
    for _ in range(10):
        x = yield ctx.call_activity(step_inline, input=x)
    return x


@wfr.workflow(name="fan10")
def fan10(ctx: DaprWorkflowContext, _: object):
    return sum((yield when_all([ctx.call_activity(step, input=i) for i in range(10)])))


lambda_handler = wfr.lambda_handler
