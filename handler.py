"""The Lambda entry point and the demo workflows (the seed's ``hello_world_wf`` and
``OrderProcessingWorkflow``).  Deploy with ``Handler: handler.lambda_handler``."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from wf import DaprWorkflowContext, RetryPolicy, TaskFailedError, WorkflowActivityContext, WorkflowRuntime

log = logging.getLogger("handler")
wfr = WorkflowRuntime()

#: Orders costing more than this wait for an "approval" event.
APPROVAL_THRESHOLD = 50.0
APPROVAL_TIMEOUT = timedelta(hours=24)


@wfr.activity(name="hello_act")
def hello_act(ctx: WorkflowActivityContext, wf_input: int) -> int:
    log.info("hello_act %s", wf_input)
    return wf_input


@wfr.workflow(name="hello_world_wf")
def hello_world_wf(ctx: DaprWorkflowContext, wf_input: Any):
    yield ctx.call_activity(hello_act, input=1)
    yield ctx.call_activity(hello_act, input=10)
    yield ctx.wait_for_external_event("event1")
    yield ctx.call_activity(hello_act, input=100)
    yield ctx.call_activity(hello_act, input=1000)
    return "Hello World!"


@wfr.activity(name="NotifyActivity", inline=True)
def notify(ctx: WorkflowActivityContext, message: str) -> None:
    log.info("notify: %s", message)


@wfr.activity(name="ReserveInventoryActivity")
def reserve_inventory(ctx: WorkflowActivityContext, order: dict[str, Any]) -> dict[str, Any]:
    return {"success": int(order.get("Quantity", 0)) <= 1000, "item": order.get("Name")}


@wfr.activity(name="ProcessPaymentActivity")
def process_payment(ctx: WorkflowActivityContext, order: dict[str, Any]) -> dict[str, Any]:
    return {"paid": order.get("TotalCost"), "order": ctx.workflow_id}


@wfr.activity(name="UpdateInventoryActivity")
def update_inventory(ctx: WorkflowActivityContext, order: dict[str, Any]) -> None:
    if int(order.get("Quantity", 0)) <= 0:
        raise ValueError("quantity must be positive")


@wfr.workflow(name="OrderProcessingWorkflow")
def order_processing(ctx: DaprWorkflowContext, order: dict[str, Any]):
    name, cost = order.get("Name", "?"), float(order.get("TotalCost", 0))
    yield ctx.call_activity(notify, input=f"Received order {ctx.instance_id} for {order.get('Quantity')} {name}")
    ctx.set_custom_status("reserving inventory")
    reserved = yield ctx.call_activity(reserve_inventory, input=order)
    if not reserved["success"]:
        yield ctx.call_activity(notify, input=f"Insufficient inventory for {name}")
        return {"processed": False, "reason": "insufficient inventory"}
    if cost > APPROVAL_THRESHOLD:
        ctx.set_custom_status("waiting for approval")
        try:
            approval = yield ctx.wait_for_external_event("approval", timeout=APPROVAL_TIMEOUT)
        except TimeoutError:
            yield ctx.call_activity(notify, input=f"Order {ctx.instance_id} was not approved in time")
            return {"processed": False, "reason": "approval timed out"}
        if approval is False or (isinstance(approval, dict) and not approval.get("approved", True)):
            return {"processed": False, "reason": "rejected"}
    ctx.set_custom_status("processing payment")
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=3)
    payment = yield ctx.call_activity(process_payment, input=order, retry_policy=policy)
    try:
        yield ctx.call_activity(update_inventory, input=order)
    except TaskFailedError as exc:
        return {"processed": False, "reason": exc.details.message}
    yield ctx.call_activity(notify, input=f"Order {ctx.instance_id} has completed")
    ctx.set_custom_status("done")
    return {"processed": True, "payment": payment}


lambda_handler = wfr.lambda_handler
