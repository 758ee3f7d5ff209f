"""A fan-out of a limited activity, for tests/test_concurrency_limits.py: each run writes
its start and end times to a file of its own in $MARKS_DIR."""

from __future__ import annotations

import os
import time
import uuid

from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime, when_all

wfr = WorkflowRuntime()


@wfr.activity(name="slow_step")
def slow_step(ctx: WorkflowActivityContext, n: int) -> int:
    began = time.time()
    time.sleep(0.3)
    with open(os.path.join(os.environ["MARKS_DIR"], uuid.uuid4().hex), "w") as f:
        f.write(f"{began} {time.time()}")
    return n


@wfr.workflow(name="fan")
def fan(ctx: DaprWorkflowContext, n: int):
    return sum((yield when_all([ctx.call_activity(slow_step, input=i) for i in range(n)])))


lambda_handler = wfr.lambda_handler
