"""``async def`` workflows: every task the context returns is awaited; ``when_all`` and
``when_any`` too; a failed task raises ``TaskFailedError`` at the ``await``; continue-as-
new, ``is_replaying``, custom status, patches and named versions behave as in a generator
workflow; awaiting anything else fails the workflow with a clear error. Replay is the
generator's: the executor drives the coroutine, no event loop runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.dev_process import wf_dev
from wf import (
    DaprWorkflowContext,
    RetryPolicy,
    TaskFailedError,
    WorkflowActivityContext,
    WorkflowRuntime,
    when_all,
    when_any,
)
from wf.client import DaprWorkflowClient
from wf.core.status import WorkflowStatus
from wf.testing import WorkflowTestEnvironment

wfr = WorkflowRuntime()
T0 = datetime(2026, 12, 6, tzinfo=UTC)
replays: list[bool] = []


@wfr.activity(name="square")
def square(ctx: WorkflowActivityContext, x: int) -> int:
    return x * x


@wfr.activity(name="refuse")
async def refuse(ctx: WorkflowActivityContext, x: int) -> int:  # activities may be async too
    raise ValueError(f"no {x}")


@wfr.workflow(name="child")
async def child(ctx: DaprWorkflowContext, x: int) -> int:
    return await ctx.call_activity(square, input=x) + 1


@wfr.workflow(name="everything")
async def everything(ctx: DaprWorkflowContext, n: int):
    replays.append(ctx.is_replaying)
    ctx.set_custom_status("started")
    first = await ctx.call_activity(square, input=n)
    kid = await ctx.call_child_workflow(child, input=n, instance_id=f"{ctx.instance_id}-kid")
    await ctx.create_timer(timedelta(hours=1))
    fanned = await when_all([ctx.call_activity(square, input=i) for i in range(4)])
    try:
        await ctx.call_activity(
            refuse,
            input=n,
            retry_policy=RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=2),
        )
        refused = None
    except TaskFailedError as exc:
        refused = str(exc)
    approval = ctx.wait_for_external_event("approve")
    winner = await when_any([approval, ctx.create_timer(timedelta(days=1))])
    approved = winner is approval and await approval
    patched = ctx.is_patched("extra")
    ctx.set_custom_status("done")
    if n > 1:
        ctx.continue_as_new(n - 1)
        return None
    return [first, kid, sum(fanned), "no 1" in (refused or ""), approved, patched]


@wfr.workflow(name="loop_bad")
async def loop_bad(ctx: DaprWorkflowContext, _: None):
    import asyncio

    await asyncio.sleep(0.1)  # no event loop runs a workflow


class Elsewhere:
    """An awaitable of another library's (it hands its loop something of its own)."""

    def __await__(self):
        return (yield "a future of another loop")


@wfr.workflow(name="foreign")
async def foreign(ctx: DaprWorkflowContext, _: None):
    await Elsewhere()


@wfr.versioned_workflow(name="versioned", is_latest=True)
async def versioned_v2(ctx: DaprWorkflowContext, x: int):
    return ["v2", await ctx.call_activity(square, input=x)]


def test_an_async_workflow_uses_every_feature_and_replays(tmp_path: Path) -> None:
    with WorkflowTestEnvironment(wfr, start=T0) as env:
        client = env.client()
        client.schedule_new_workflow(everything, input=2, instance_id="a")
        for _ in range(2):  # a generation each (it continues as new once), each waiting for approval
            env.advance(timedelta(hours=2))
            client.raise_workflow_event("a", "approve", data=True)
        state = client.wait_for_workflow_completion("a")
        assert state is not None and state.runtime_status is WorkflowStatus.COMPLETED, state
        assert json.loads(state.serialized_output) == [1, 2, 14, True, True, True]
        assert state.serialized_custom_status == "done"
        assert True in replays and False in replays  # replayed between steps, as a generator
        env.assert_replays("a")
        kinds = [e.event_type for e in client.get_workflow_history("a")]
        assert "TaskFailed" in kinds and "SubOrchestrationInstanceCreated" in kinds

        client.schedule_new_workflow(loop_bad, instance_id="bad")
        bad = client.wait_for_workflow_completion("bad")
        assert bad is not None and bad.runtime_status is WorkflowStatus.FAILED
        assert bad.failure_details.error_type == "TypeError"
        assert "asyncio" in bad.failure_details.message and "create_timer" in bad.failure_details.message
        client.schedule_new_workflow(foreign, instance_id="foreign")
        other = client.wait_for_workflow_completion("foreign")
        assert other is not None and other.failure_details.error_type == "TypeError"
        assert "awaited a str" in other.failure_details.message

        client.schedule_new_workflow("versioned", input=3, instance_id="v")
        assert json.loads(client.wait_for_workflow_completion("v").serialized_output) == ["v2", 9]


def test_an_async_workflow_runs_through_wf_dev(tmp_path: Path) -> None:
    handler = tmp_path / "app.py"
    handler.write_text(
        "from datetime import timedelta\n"
        "from wf import WorkflowRuntime, when_all\n"
        "wfr = WorkflowRuntime()\n\n"
        "@wfr.activity(name='double')\ndef double(ctx, x):\n    return 2 * x\n\n"
        "@wfr.workflow(name='hello')\nasync def hello(ctx, x):\n"
        "    y = await ctx.call_activity(double, input=x)\n"
        "    await ctx.create_timer(timedelta(seconds=1))\n"
        "    both = await when_all([ctx.call_activity(double, input=y), ctx.call_activity(double, input=1)])\n"
        "    go = await ctx.wait_for_external_event('go')\n"
        "    return [both, go]\n\n"
        "lambda_handler = wfr.lambda_handler\n"
    )
    with wf_dev(tmp_path, handler) as (base, _env, _lines):
        client = DaprWorkflowClient(base)
        client.schedule_new_workflow("hello", input=3, instance_id="h")
        client.raise_workflow_event("h", "go", data="yes")
        state = client.wait_for_workflow_completion("h", timeout_in_seconds=30)
        assert state is not None and state.runtime_status is WorkflowStatus.COMPLETED
        assert json.loads(state.serialized_output) == [[12, 2], "yes"]
