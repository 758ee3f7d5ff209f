"""Workflows for bench/fanout.py, served by `wf dev --handler bench/fanout_app.py`."""

from __future__ import annotations

import time
from typing import Any

from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime, when_all

wfr = WorkflowRuntime()


@wfr.activity(name="sleepy")
def sleepy(ctx: WorkflowActivityContext, seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@wfr.workflow(name="fan")
def fan(ctx: DaprWorkflowContext, args: dict[str, Any]):
    done = yield when_all([ctx.call_activity(sleepy, input=args["seconds"]) for _ in range(args["n"])])
    return len(done)


lambda_handler = wfr.lambda_handler
