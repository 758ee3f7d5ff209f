"""App 'billing' of tests/test_apps_calling_apps.py's two `wf dev`s."""

from __future__ import annotations

from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime

wfr = WorkflowRuntime()


@wfr.activity(name="charge")
def charge(ctx: WorkflowActivityContext, cents: int) -> str:
    return f"billing charged {cents} for {ctx.workflow_id}"


@wfr.workflow(name="invoice")
def invoice(ctx: DaprWorkflowContext, cents: int):
    charged = yield ctx.call_activity("charge", input=cents * 2)
    confirmed = yield ctx.call_activity("confirm", input=cents * 2, app_id="orders")  # and back
    return [charged, confirmed]


@wfr.workflow(name="reconcile")
def reconcile(ctx: DaprWorkflowContext, total: int):
    # Started in billing: calls an activity of orders.
    return (yield ctx.call_activity("confirm", input=total, app_id="orders"))


lambda_handler = wfr.lambda_handler
