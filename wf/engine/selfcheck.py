"""The workflows `wf check` runs against a deployed stack (or `wf dev`): every app
serves them beside its own (``wf/aws/app.py`` registers them), so that a deploy can be
checked end to end without deploying anything for it. Named ``wf.check*``; they touch
nothing but their own instances."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

from wf.core.context import DaprWorkflowContext, WorkflowActivityContext
from wf.core.registry import Registry

WORKFLOW = "wf.check"
CHILD = "wf.check.child"
WAITER = "wf.check.wait"
ACTIVITY = "wf.check.echo"
EVENT = "wf.check.go"
#: How long the check workflow waits for its event before failing.
EVENT_TIMEOUT = timedelta(minutes=5)


def echo(ctx: WorkflowActivityContext, value: str) -> str:
    return value


def check(ctx: DaprWorkflowContext, token: str) -> Generator[Any, Any, dict[str, Any]]:
    """An activity, a timer, a child (with its own activity) and an external event."""
    echoed = yield ctx.call_activity(echo, input=token)
    yield ctx.create_timer(timedelta(seconds=1))
    child = yield ctx.call_child_workflow(check_child, input=token, instance_id=f"{ctx.instance_id}-child")
    event = yield ctx.wait_for_external_event(EVENT, timeout=EVENT_TIMEOUT)
    return {"activity": echoed, "child": child, "event": event}


def check_child(ctx: DaprWorkflowContext, token: str) -> Generator[Any, Any, str]:
    result: str = yield ctx.call_activity(echo, input=f"child {token}")
    return result


def wait(ctx: DaprWorkflowContext, token: str) -> Generator[Any, Any, None]:
    """Waits for an event that never comes: the check terminates it."""
    yield ctx.wait_for_external_event("wf.check.never")


def expected_output(token: str) -> dict[str, Any]:
    return {"activity": token, "child": f"child {token}", "event": token}


def register(registry: Registry) -> None:
    """Add the check's workflows and activity (where the app has none of those names)."""
    if WORKFLOW in registry.workflows:
        return
    registry.register_activity(echo, name=ACTIVITY)
    registry.register_workflow(check, name=WORKFLOW)
    registry.register_workflow(check_child, name=CHILD)
    registry.register_workflow(wait, name=WAITER)
