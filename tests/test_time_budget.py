"""Nothing carries an invocation past its timeout: activities, queued or inline, start
only while their invocation has time for them; the rest go to fresh messages.

Activities here take 10 s of a fake invocation clock; the function's timeout is 30 s.
The stack fails any invocation that would have outlived it (tests/aws_stack.py).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.aws_stack import Stack
from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime, when_all
from wf.engine.metrics import Metric

wfr = WorkflowRuntime()
P = "/v1.0-beta1/workflows/dapr"
runs: Counter[tuple[str, int]] = Counter()
current: list[Stack] = []


def take_ten_seconds(ctx: WorkflowActivityContext, x: int) -> int:
    runs[(ctx.workflow_id, ctx.task_id)] += 1
    current[0].elapsed_ms += 10_000
    return x


wfr.activity(name="slow")(take_ten_seconds)
wfr.activity(name="slow_inline", inline=True)(take_ten_seconds)


@wfr.workflow(name="fan_slow")
def fan_slow(ctx: DaprWorkflowContext, n: int):
    return sum((yield when_all([ctx.call_activity("slow", input=i) for i in range(n)])))


@wfr.workflow(name="chain_inline")
def chain_inline(ctx: DaprWorkflowContext, n: int):
    total = 0
    for i in range(n):
        total += yield ctx.call_activity("slow_inline", input=i)
    total += sum((yield when_all([ctx.call_activity("slow_inline", input=i) for i in range(4)])))
    return total


@pytest.fixture
def stack(aws):
    runs.clear()
    s = Stack(wfr)
    # The fake clock adds up each activity's 10 s: run them one wave of one at a time,
    # so that every further wave must find time left (concurrency: tests/test_fanout.py).
    s.engine.activity_concurrency = 1
    current[:] = [s]
    return s


def finished(stack: Stack, iid: str) -> object:
    body = stack.get(iid)[1]
    assert body["runtimeStatus"] == "COMPLETED", body
    return json.loads(body["properties"]["dapr.workflow.output"])


def test_a_batch_of_queued_activities_never_outlives_the_invocation(stack: Stack) -> None:
    stack.post(f"{P}/fan_slow/start", "6", query={"instanceID": "f"})
    # All six activity messages arrive in one batch: 60 s of work for a 30 s invocation.
    stack.pump()
    assert finished(stack, "f") == 15
    assert sorted(runs.values()) == [1] * 6  # each ran once: none was cut off
    assert stack.metrics.counts[Metric.ACTIVITIES_DEFERRED] > 0
    assert stack.metrics.counts[Metric.ACTIVITIES_ABANDONED] == 0


def test_inline_activities_stop_when_the_invocation_runs_short(stack: Stack) -> None:
    stack.post(f"{P}/chain_inline/start", "5", query={"instanceID": "c"})
    stack.pump()
    assert finished(stack, "c") == 10 + 6
    assert sorted(runs.values()) == [1] * 9
    # 90 s of inline work in 30 s invocations: handed on through fresh messages.
    assert stack.metrics.counts[Metric.ACTIVITIES_DEFERRED] >= 3
