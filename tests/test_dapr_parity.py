"""Parity with the Dapr Python SDK (dapr-ext-workflow 1.18, durabletask-dapr 0.17) where
SPEC is silent: payloads encoded as the SDK encodes them, custom status stored as set,
uncaught task failures in the SDK's words, typed inputs, ``async def`` activities."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import NamedTuple

import pytest
from pydantic import BaseModel

from tests.aws_stack import Stack
from tests.driver import Driver
from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime, when_all
from wf.core.history import ActivityScheduled

wfr = WorkflowRuntime()
P = "/v1.0-beta1/workflows/dapr"


@dataclass
class Order:
    name: str
    qty: int


@dataclass
class Shipment:
    order: Order
    express: bool = False


class Item(BaseModel):
    name: str
    cost: float


class Point(NamedTuple):
    x: int
    y: int


seen: dict[str, object] = {}


@wfr.activity(name="typed_order")
def typed_order(ctx: WorkflowActivityContext, order: Order) -> Order:
    seen["typed_order"] = order
    return Order(order.name.upper(), order.qty * 2)


@wfr.activity(name="untyped")
def untyped(ctx: WorkflowActivityContext, value):
    seen["untyped"] = value
    return value


@wfr.activity(name="priced")
def priced(ctx: WorkflowActivityContext, item: Item | None) -> Item:
    seen["priced"] = item
    assert item is not None
    return Item(name=item.name, cost=item.cost * 2)


@wfr.activity(name="no_input")
def no_input(ctx: WorkflowActivityContext) -> str:
    return "called without input"


@wfr.activity(name="slow_double")
async def slow_double(ctx: WorkflowActivityContext, n: int) -> int:
    await asyncio.sleep(0.01)
    return n * 2


@wfr.workflow(name="typed_flow")
def typed_flow(ctx: DaprWorkflowContext, shipment: Shipment):
    seen["workflow_input"] = shipment
    doubled = yield ctx.call_activity(typed_order, input=shipment.order)
    echoed = yield ctx.call_activity(untyped, input=shipment.order)
    item = yield ctx.call_activity(priced, input=Item(name=doubled.name, cost=1.5))
    plain = yield ctx.call_activity(no_input, input="ignored")
    asyncs = yield when_all([ctx.call_activity(slow_double, input=i) for i in range(3)])
    return {"doubled": doubled, "echoed_qty": echoed.qty, "item": item, "plain": plain, "asyncs": asyncs}


@wfr.workflow(name="lists")
def lists(ctx: DaprWorkflowContext, _):
    ctx.set_custom_status("foobaz")
    yield ctx.call_activity(untyped, input=["a", "b", "c"])
    return ["a", "b", "c"]


@wfr.workflow(name="point")
def point(ctx: DaprWorkflowContext, _):
    return Point(1, 2)


@wfr.activity(name="fails")
def fails(ctx: WorkflowActivityContext, _) -> None:
    raise ValueError("bad input")


@wfr.workflow(name="fails_uncaught")
def fails_uncaught(ctx: DaprWorkflowContext, _):
    yield ctx.call_activity(fails)


@wfr.workflow(name="parent_of_failure")
def parent_of_failure(ctx: DaprWorkflowContext, _):
    yield ctx.call_child_workflow(fails_uncaught, instance_id="kid")


def test_payloads_are_encoded_as_the_sdk_encodes_them() -> None:
    d = Driver(wfr)
    d.start("lists")
    d.run()
    inst = d.instances["wf1"]
    assert inst.execution.output == json.dumps(["a", "b", "c"]) == '["a", "b", "c"]'
    scheduled = next(e for e in inst.history if isinstance(e, ActivityScheduled))
    assert scheduled.input == '["a", "b", "c"]'
    # Named tuples as the SDK's encoder has them: an object marked as auto-serialized.
    d.start("point", iid="p")
    assert json.loads(d.instances["p"].execution.output) == {"x": 1, "y": 2, "__durabletask_autoobject__": True}


def test_typed_inputs_dataclasses_models_and_async_activities() -> None:
    seen.clear()
    d = Driver(wfr)
    d.start("typed_flow", {"order": {"name": "clips", "qty": 3}, "express": True})
    d.run()
    assert seen["workflow_input"] == Shipment(Order("clips", 3), True)  # nested dataclass rebuilt
    assert seen["typed_order"] == Order("clips", 3)
    # Untyped: the SDK's SimpleNamespace for an object it marked, attribute access works.
    assert isinstance(seen["untyped"], SimpleNamespace) and seen["untyped"].qty == 3
    assert seen["priced"] == Item(name="CLIPS", cost=1.5)  # Optional[Model] unwrapped
    out = json.loads(d.instances["wf1"].execution.output)
    assert out == {
        "doubled": {"name": "CLIPS", "qty": 6, "__durabletask_autoobject__": True},
        "echoed_qty": 3,
        "item": {"name": "CLIPS", "cost": 3.0},  # models are plain objects (no marker)
        "plain": "called without input",
        "asyncs": [0, 2, 4],
    }


def test_a_typed_input_that_does_not_fit_fails_at_the_boundary() -> None:
    d = Driver(wfr)
    d.start("typed_flow", {"order": {"name": "clips", "qty": 3}, "colour": "red"})
    f = d.failure()
    assert f.error_type == "TypeError" and "no field(s) colour" in f.message


def test_uncaught_failures_read_as_the_sdk_reports_them() -> None:
    d = Driver(wfr)
    d.start("fails_uncaught")
    d.run()
    f = d.failure()
    assert (f.error_type, f.message) == ("TaskFailedError", "wf1: Activity task #1 failed: bad input")
    assert "ValueError: bad input" in f.stack_trace
    d.start("parent_of_failure", iid="parent")
    d.run()
    f = d.failure("parent")
    assert f.error_type == "TaskFailedError"
    assert f.message == "Sub-orchestration task #1 failed: kid: Activity task #1 failed: bad input"


@pytest.fixture
def stack(aws):
    return Stack(wfr)


def test_custom_status_and_outputs_read_back_as_set_over_http(stack: Stack) -> None:
    assert stack.post(f"{P}/lists/start", query={"instanceID": "l1"})[0] == 202
    stack.pump()
    props = stack.get("l1")[1]["properties"]
    assert props["dapr.workflow.custom_status"] == "foobaz"
    assert props["dapr.workflow.output"] == '["a", "b", "c"]'
    # A raw HTTP input passes through as given.
    assert stack.post(f"{P}/lists/start", '{"a":1}', query={"instanceID": "l2"})[0] == 202
    assert stack.get("l2")[1]["properties"]["dapr.workflow.input"] == '{"a":1}'


@wfr.workflow(name="deterministic")
def deterministic(ctx: DaprWorkflowContext, _):
    first = [str(ctx.uuid4()), str(ctx.new_guid()), ctx.now_with_sequence().isoformat()]
    yield ctx.create_timer(ctx.current_utc_datetime)
    second = [
        ctx.now_with_sequence().isoformat(),
        ctx.random_int(0, 1000),
        ctx.random_string(8),
        ctx.random_choice(["a", "b", "c"]),
    ]
    return first + second


def test_deterministic_helpers_give_the_same_values_on_replay() -> None:
    """The SDK's context helpers: UUIDs (the SDK's v5 of instance, time and count),
    sequenced timestamps and seeded randomness, the same when replayed cold."""
    import uuid as _uuid

    d = Driver(wfr)  # the driver replays every step cold and compares
    d.start("deterministic", iid="det")
    d.run()
    out = json.loads(d.instances["det"].execution.output)
    t0 = d.instances["det"].history[0].timestamp
    assert out[0] == str(_uuid.uuid5(_uuid.UUID("9e952958-5e33-4daf-827f-2fa12937b875"), f"det_{t0.isoformat()}_0"))
    assert out[0] != out[1] and out[2] < out[3]
    from wf.core.execution import Execution

    cold = Execution(wfr.workflows, "det")
    cold.replay(d.instances["det"].history)
    assert json.loads(cold.output) == out


@wfr.workflow(name="other_app")
def other_app(ctx: DaprWorkflowContext, _):
    yield ctx.call_activity("remote", app_id="billing")


def test_what_is_not_supported_says_so() -> None:
    d = Driver(wfr)
    d.start("other_app", iid="o")
    assert "app_id='billing'" in d.failure("o").message
    with pytest.raises(NotImplementedError, match="named workflow versions"):
        wfr.versioned_workflow(name="x", is_latest=True)


def _versions():
    """The same workflow before and after a patch (two deployments of one name)."""
    old, new = WorkflowRuntime(), WorkflowRuntime()
    for rt in (old, new):
        rt.activity(name="first")(lambda ctx, x: x)
        rt.activity(name="added")(lambda ctx, x: x * 10)

    @old.workflow(name="versioned")
    def before(ctx: DaprWorkflowContext, x: int):
        a = yield ctx.call_activity("first", input=x)
        yield ctx.wait_for_external_event("go")
        return ["v1", a]

    @new.workflow(name="versioned")
    def after(ctx: DaprWorkflowContext, x: int):
        a = yield ctx.call_activity("first", input=x)
        if ctx.is_patched("add-step"):
            a = yield ctx.call_activity("added", input=a)
            yield ctx.wait_for_external_event("go")
            return ["v2", a]
        yield ctx.wait_for_external_event("go")
        return ["v1", a]

    return old, new


def test_is_patched_keeps_running_instances_on_their_old_path() -> None:
    """Workflow versioning by patches, as the SDK has it: an instance started before the
    patch replays and finishes on the old path (no non-determinism), one started after
    takes the new path, and its history records the patch for its replays."""
    from wf.core.execution import Execution
    from wf.core.history import EventRaised, TurnStarted
    from wf.core.serde import encode

    old, new = _versions()
    d = Driver(old)
    d.start("versioned", 1, iid="running")
    d.run()  # waits for "go", recorded by the old code
    history = list(d.instances["running"].history)
    upgraded = Execution(new.workflows, "running")
    upgraded.replay(history)  # the new code replays the old history
    done = upgraded.step([EventRaised(d.now, "go", encode(None), "g1")], d.now)
    assert done.failure is None and json.loads(done.output) == ["v1", 1]

    d2 = Driver(new)  # replays every step cold and compares
    d2.start("versioned", 2, iid="fresh")
    d2.run()
    d2.raise_event("fresh", "go")
    assert d2.output("fresh") == ["v2", 20]
    recorded = [e.patches for e in d2.instances["fresh"].history if isinstance(e, TurnStarted) and e.patches]
    assert recorded == [("add-step",)]
