"""Property: for random workflow programs and random delivery orders, replaying every
prefix of the produced history gives the same step results, and the warm path's final
output equals a cold replay's."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.driver import Driver
from wf import DaprWorkflowContext, TaskFailedError, WorkflowActivityContext, WorkflowRuntime, when_all, when_any
from wf.core.execution import Execution, run_step
from wf.core.history import TimerFired
from wf.core.serde import decode

wfr = WorkflowRuntime()


@wfr.activity(name="ok")
def ok(ctx: WorkflowActivityContext, value: Any) -> Any:
    return value


@wfr.activity(name="bad")
def bad(ctx: WorkflowActivityContext, value: Any) -> None:
    raise ValueError(f"bad {value}")


def _task(ctx: DaprWorkflowContext, op: list[Any]):
    kind = op[0]
    if kind == "act":
        return ctx.call_activity("bad" if op[2] else "ok", input=op[1])
    if kind == "timer":
        return ctx.create_timer(timedelta(seconds=op[1]))
    return ctx.wait_for_external_event(op[1])


@wfr.workflow(name="prog")
def prog(ctx: DaprWorkflowContext, program: list[list[Any]]):
    trace: list[Any] = []
    for op in program:
        try:
            if op[0] == "all":
                trace.append((yield when_all([_task(ctx, o) for o in op[1]])))
            elif op[0] == "any":
                tasks = [_task(ctx, o) for o in op[1]]
                winner = yield when_any(tasks)
                trace.append(tasks.index(winner))
            else:
                trace.append((yield _task(ctx, op)))
        except TaskFailedError as e:
            trace.append(f"F:{e.details.message}")
        ctx.set_custom_status(str(len(trace)))
    return trace


@wfr.workflow(name="aprog")
async def aprog(ctx: DaprWorkflowContext, program: list[list[Any]]):
    """``prog`` as an ``async def`` workflow: the same program, awaited."""
    trace: list[Any] = []
    for op in program:
        try:
            if op[0] == "all":
                trace.append(await when_all([_task(ctx, o) for o in op[1]]))
            elif op[0] == "any":
                tasks = [_task(ctx, o) for o in op[1]]
                winner = await when_any(tasks)
                trace.append(tasks.index(winner))
            else:
                trace.append(await _task(ctx, op))
        except TaskFailedError as e:
            trace.append(f"F:{e.details.message}")
        ctx.set_custom_status(str(len(trace)))
    return trace


leaf = st.one_of(
    st.tuples(st.just("act"), st.integers(0, 9), st.booleans()),
    st.tuples(st.just("timer"), st.integers(1, 100)),
    st.tuples(st.just("event"), st.sampled_from(["a", "B"])),
)
op = st.one_of(leaf, st.tuples(st.sampled_from(["all", "any"]), st.lists(leaf, min_size=1, max_size=4)))
program_st = st.lists(op, min_size=1, max_size=8).map(
    lambda ops: [list(o) if o[0] in ("act", "timer", "event") else [o[0], [list(x) for x in o[1]]] for o in ops]
)


def _events_needed(program: list[list[Any]]) -> list[str]:
    names = []
    for o in program:
        for leaf_op in o[1] if o[0] in ("all", "any") else [o]:
            if leaf_op[0] == "event":
                names.append(leaf_op[1])
    return names


@pytest.mark.parametrize("workflow", ["prog", "aprog"])  # a generator, and async def
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=program_st, seed=st.integers(0, 2**32 - 1))
def test_every_prefix_replays_to_the_same_step(workflow: str, program: list[list[Any]], seed: int) -> None:
    rng = random.Random(seed)
    d = Driver(wfr, check_cold=False)
    d.start(workflow, program)
    pending_events = _events_needed(program)
    for _ in range(500):
        choices = []
        if d.activities:
            choices.append("act")
        if d.timers:
            choices.append("timer")
        if pending_events:
            choices.append("event")
        if not choices:
            break
        pick = rng.choice(choices)
        if pick == "act":
            d.run_activity(rng.randrange(len(d.activities)))
        elif pick == "timer":
            iid, _, cmd = d.timers.pop(rng.randrange(len(d.timers)))
            d.now = max(d.now, cmd.fire_at) + timedelta(milliseconds=rng.randint(0, 5))
            d.deliver(iid, TimerFired(d.now, cmd.task_id))
        else:
            name = pending_events.pop(rng.randrange(len(pending_events)))
            d.raise_event("wf1", name.upper() if rng.random() < 0.5 else name, rng.choice([0, "", None, name]))
    inst = d.instances["wf1"]
    history = inst.history
    for before, events, now, result in inst.steps:
        cold = run_step(wfr.workflows, "wf1", history[:before], list(events), now)
        assert cold.events == result.events
        assert cold.commands == result.commands
        assert cold.status == result.status
        if result.events:
            assert history[before : before + len(result.events)] == list(result.events)
    final = Execution(wfr.workflows, "wf1")
    final.replay(history)
    assert final.status == inst.execution.status
    assert decode(final.output) == decode(inst.execution.output)
    assert final.custom_status == inst.execution.custom_status
