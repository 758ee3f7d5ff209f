"""Workflows for the tests of Lambda's limits on the local stack (tests/test_lambda_limits.py)."""

import os
import time

from attempts import bump  # tests/apps/attempts.py: the handler file's folder is on sys.path

from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime

wfr = WorkflowRuntime()


@wfr.workflow(name="twice")
def twice(ctx: DaprWorkflowContext, text: str):
    """An output twice its input: an instance whose GET is twice as large again."""
    return text + text


@wfr.activity(name="slow_once")
def slow_once(ctx: WorkflowActivityContext, seconds: float) -> int:
    """Outlives the function's timeout on its first attempt; the next one is quick."""
    if bump("slow_once") == 1:
        time.sleep(seconds)
    return os.getpid()


@wfr.workflow(name="slow_activity")
def slow_activity(ctx: DaprWorkflowContext, seconds: float):
    return (yield ctx.call_activity(slow_once, input=seconds))


@wfr.workflow(name="slow_code")
def slow_code(ctx: DaprWorkflowContext, seconds: float):
    """Workflow code that outlives the function's timeout (a start runs it at once)."""
    time.sleep(seconds)
    return "never"


@wfr.activity(name="quick")
def quick(ctx: WorkflowActivityContext, _: None) -> str:
    return "quick"


@wfr.workflow(name="slow_later")
def slow_later(ctx: DaprWorkflowContext, seconds: float):
    """After its activity (its next step runs from SQS), code that outlives the
    function's timeout the first time only."""
    yield ctx.call_activity(quick)
    if not ctx.is_replaying and bump("slow_later") == 1:
        time.sleep(seconds)
    return "done"


lambda_handler = wfr.lambda_handler
