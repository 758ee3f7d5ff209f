"""Golden histories checked into tests/golden: one good, one non-deterministic."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.driver import T0
from tests.test_core_semantics import wfr
from wf import DaprWorkflowContext, WorkflowRuntime, WorkflowStatus
from wf.core.execution import Execution, run_step
from wf.core.history import ActivityCompleted, HistoryEvent, HistoryFormatError, event_from_json, event_to_json
from wf.engine.store import events_from_str, events_to_str

GOLDEN = Path(__file__).parent / "golden"


def load(name: str) -> tuple[str, list[HistoryEvent]]:
    data = json.loads((GOLDEN / name).read_text())
    return data["instance_id"], [event_from_json(e) for e in data["history"]]


def test_good_history_replays_to_its_recorded_outcome_and_round_trips() -> None:
    iid, history = load("chain_good.json")
    execution = Execution(wfr.workflows, iid)
    execution.replay(history)
    assert execution.status is WorkflowStatus.COMPLETED
    assert execution.output == '["Hello a!","Hello b!"]'
    assert [event_from_json(event_to_json(e)) for e in history] == history
    # Nothing more to do for a completed instance.
    assert run_step(wfr.workflows, iid, history, [], T0).events == ()


def test_good_history_prefix_gives_the_recorded_next_commands() -> None:
    iid, history = load("chain_good.json")
    prefix = history[:3]  # started, first activity scheduled
    result = run_step(wfr.workflows, iid, prefix, [ActivityCompleted(T0, 1, '"Hello a!"')], T0)
    assert [type(c).__name__ for c in result.commands] == ["ScheduleActivity"]
    assert result.commands[0].name == "hello"  # type: ignore[union-attr]


def test_non_deterministic_history_fails_naming_both_sides() -> None:
    iid, history = load("chain_nondeterministic.json")
    result = run_step(wfr.workflows, iid, history, [ActivityCompleted(T0, 2, '"x"')], T0)
    assert result.status is WorkflowStatus.FAILED
    assert result.failure is not None
    assert result.failure.error_type == "NonDeterminismError"
    assert "activity 'greet'" in result.failure.message and "activity 'hello'" in result.failure.message
    assert result.commands == ()


def test_changed_task_kind_and_position_are_non_deterministic() -> None:
    iid, history = load("chain_good.json")
    changed = WorkflowRuntime()

    @changed.workflow(name="chain")
    def chain_with_timer(ctx: DaprWorkflowContext, names: list[str]):
        yield ctx.create_timer(timedelta(seconds=1))

    r = run_step(changed.workflows, iid, history[:3], [], T0)
    assert r.failure is not None and r.failure.error_type == "NonDeterminismError"
    assert "activity 'hello'" in r.failure.message and "timer" in r.failure.message

    shorter = WorkflowRuntime()

    @shorter.workflow(name="chain")
    def chain_nothing(ctx: DaprWorkflowContext, names: list[str]):
        yield ctx.wait_for_external_event("never")

    r = run_step(shorter.workflows, iid, history[:3], [], T0)
    assert r.failure is not None and "did not schedule anything" in r.failure.message

    extra = WorkflowRuntime()

    @extra.workflow(name="chain")
    def chain_extra(ctx: DaprWorkflowContext, names: list[str]):
        ctx.create_timer(timedelta(seconds=5))
        yield ctx.call_activity("hello", input="a")

    r = run_step(extra.workflows, iid, history[:3], [], T0)
    assert r.failure is not None and "scheduled timer there" in r.failure.message
    assert [type(e).__name__ for e in r.events] == ["TurnStarted", "WorkflowFailed"]


def test_the_golden_histories_replay_alike_with_the_workflow_written_async() -> None:
    """A history recorded by the generator workflow replays with its ``async def`` twin
    to the same outcome, and the non-deterministic one fails naming both sides too: the
    two styles are one replay."""
    twin = WorkflowRuntime()

    @twin.activity(name="hello")
    def hello(ctx, name: str) -> str:
        return f"Hello {name}!"

    @twin.workflow(name="chain")
    async def chain(ctx: DaprWorkflowContext, names: list[str]):
        return [await ctx.call_activity("hello", input=n) for n in names]

    iid, history = load("chain_good.json")
    execution = Execution(twin.workflows, iid)
    execution.replay(history)
    assert (execution.status, execution.output) == (WorkflowStatus.COMPLETED, '["Hello a!","Hello b!"]')
    assert run_step(twin.workflows, iid, history, [], T0).events == ()
    prefix_step = run_step(twin.workflows, iid, history[:3], [ActivityCompleted(T0, 1, '"Hello a!"')], T0)
    assert [(type(c).__name__, c.name) for c in prefix_step.commands] == [("ScheduleActivity", "hello")]  # type: ignore[union-attr]

    iid, history = load("chain_nondeterministic.json")
    result = run_step(twin.workflows, iid, history, [ActivityCompleted(T0, 2, '"x"')], T0)
    assert result.failure is not None and result.failure.error_type == "NonDeterminismError"
    assert "activity 'greet'" in result.failure.message and "activity 'hello'" in result.failure.message


def test_stored_steps_round_trip_compactly_and_old_ones_still_read() -> None:
    _, history = load("chain_good.json")
    # Steps as the engine stores them: each starts with its TurnStarted.
    starts = [i for i, e in enumerate(history) if e.kind.value == "TurnStarted"] + [len(history)]
    for a, b in zip(starts, starts[1:], strict=False):
        step = tuple(history[a:b])
        stored = events_to_str(step)
        assert events_from_str(stored) == step
        plain = json.dumps([event_to_json(e) for e in step], separators=(",", ":"))
        assert events_from_str(plain) == step  # items written before the compact form
        assert len(stored) < len(plain)
    with pytest.raises(HistoryFormatError):
        events_from_str('{"v": 1, "e": [{"k": "TurnStarted"}]}')
