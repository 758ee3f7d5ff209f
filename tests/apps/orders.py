"""App 'orders' of tests/test_apps_calling_apps.py's two `wf dev`s: its workflow calls
app 'billing''s activity and child workflow; billing's child calls back its activity."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from wf import DaprWorkflowContext, RetryPolicy, TaskFailedError, WorkflowActivityContext, WorkflowRuntime

wfr = WorkflowRuntime()


@wfr.activity(name="confirm")
def confirm(ctx: WorkflowActivityContext, total: int) -> str:
    return f"orders confirmed {total} for {ctx.workflow_id}"


@wfr.workflow(name="order")
def order(ctx: DaprWorkflowContext, cents: int):
    charged = yield ctx.call_activity("charge", input=cents, app_id="billing")
    invoiced = yield ctx.call_child_workflow(
        "invoice", input=cents, instance_id=f"inv-{ctx.instance_id}", app_id="billing"
    )
    try:
        yield ctx.call_activity(
            "charge",
            input=cents,
            app_id="shipping",
            retry_policy=RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=2),
        )
        unknown: Any = "reached shipping?"
    except TaskFailedError as exc:
        unknown = exc.details.error_type
    return [charged, invoiced, unknown]


lambda_handler = wfr.lambda_handler
