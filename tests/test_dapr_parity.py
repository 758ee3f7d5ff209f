"""Parity with the Dapr Python SDK (dapr-ext-workflow 1.18, durabletask-dapr 0.17) where
SPEC is silent: payloads encoded as the SDK encodes them, custom status stored as set,
uncaught task failures in the SDK's words, typed inputs, ``async def`` activities."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest
from pydantic import BaseModel

import wf
from tests.aws_stack import Stack
from tests.driver import Driver
from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime, when_all
from wf.core.history import ActivityScheduled
from wf.core.status import WorkflowStatus
from wf.engine.store import InstanceQuery

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
    yield when_all([ctx.call_activity("remote", app_id="billing"), ctx.call_child_workflow("kid", app_id="crm")])


def test_a_call_to_another_app_is_recorded_with_its_app() -> None:
    from wf.core.commands import ScheduleActivity, StartChild
    from wf.core.execution import Execution
    from wf.core.history import ActivityScheduled, ChildCreated, WorkflowStarted

    now = datetime(2026, 1, 1, tzinfo=UTC)
    step = Execution(wfr.workflows, "o").step([WorkflowStarted(now, "other_app")], now)
    assert [(type(c), c.app_id) for c in step.commands if isinstance(c, ScheduleActivity | StartChild)] == [
        (ScheduleActivity, "billing"),
        (StartChild, "crm"),
    ]
    recorded = [e for e in step.events if isinstance(e, ActivityScheduled | ChildCreated)]
    assert [e.app_id for e in recorded] == ["billing", "crm"]
    cold = Execution(wfr.workflows, "o")
    cold.replay(step.events)  # the app is part of what replays
    assert [c.app_id for c in cold.pending_commands() if isinstance(c, ScheduleActivity | StartChild)] == [
        "billing",
        "crm",
    ]


def _redeploy(d: Driver, runtime: WorkflowRuntime) -> None:
    """New code, as a new deployment has it: every instance rebuilt cold from history."""
    from wf.core.execution import Execution

    d.wfr = runtime
    for inst in d.instances.values():
        inst.execution = Execution(runtime.workflows, inst.iid)
        inst.execution.replay(inst.history)


def _versioned(*versions: str, latest: str | None) -> WorkflowRuntime:
    rt = WorkflowRuntime()
    rt.activity(name="say")(lambda ctx, x: x)
    for v in versions:

        def body(ctx: DaprWorkflowContext, _: Any, v: str = v):
            first = yield ctx.call_activity("say", input=f"{v} started")
            yield ctx.wait_for_external_event("go")
            return [first, f"{v} finished"]

        body.__name__ = v
        rt.versioned_workflow(body, name="flow", is_latest=v == latest)
    return rt


def test_named_versions_keep_an_instance_on_the_version_it_started_with() -> None:
    """``versioned_workflow`` as in the SDK: a new instance runs the latest version, and
    one started on an older version replays and finishes on it; with that version gone
    it stalls (``STALLED``, events still recorded) and carries on once it is back."""
    from wf.core.history import StallReason, TurnStarted

    d = Driver(_versioned("v1", latest="v1"))
    d.start("flow", iid="old")
    d.run()
    assert [e.version for e in d.instances["old"].history if isinstance(e, TurnStarted)] == ["v1", None]

    _redeploy(d, _versioned("v1", "v2", latest="v2"))
    d.start("flow", iid="new")
    d.run()
    d.raise_event("old", "go")
    d.raise_event("new", "go")
    assert d.output("old") == ["v1 started", "v1 finished"]
    assert d.output("new") == ["v2 started", "v2 finished"]

    d.start("flow", iid="stranded")
    d.run()  # on v2
    _redeploy(d, _versioned("v3", latest="v3"))
    assert d.status("stranded") is WorkflowStatus.STALLED  # replaying needs v2
    stalled = d.raise_event("stranded", "go")
    assert d.status("stranded") is WorkflowStatus.STALLED and stalled.commands == ()
    assert d.instances["stranded"].execution.stall is not None
    assert d.instances["stranded"].execution.stall[0] is StallReason.VERSION_NOT_AVAILABLE
    assert "version 'v2' of workflow 'flow' is not registered (registered: v3)" in stalled.events[-1].description
    assert d.raise_event("stranded", "other").events[-1].kind.value == "Stalled"  # recorded, still stalled

    _redeploy(d, _versioned("v2", "v3", latest="v3"))
    assert d.status("stranded") is WorkflowStatus.STALLED
    d.deliver("stranded")  # a retry: no new event, the code now replays
    assert d.status("stranded") is WorkflowStatus.COMPLETED
    assert d.output("stranded") == ["v2 started", "v2 finished"]

    no_latest = _versioned("v1", latest=None)
    d2 = Driver(no_latest)
    d2.start("flow", iid="none")
    assert d2.status("none") is WorkflowStatus.FAILED
    assert "none is registered with is_latest=True" in d2.failure("none").message
    with pytest.raises(ValueError, match="already exists"):
        no_latest.versioned_workflow(lambda ctx: None, name="flow", version_name="v1", is_latest=False)


def test_a_patch_removed_from_running_code_stalls_until_it_is_back() -> None:
    """Dapr's rule: the patches history recorded must lead those the code applies, in
    order. Code that dropped one stalls, its events kept, and carries on with them
    once code applying the patch is deployed again."""
    from wf.core.history import StallReason

    def runtime(with_patch: bool, reorder: bool = False) -> WorkflowRuntime:
        rt = WorkflowRuntime()

        @rt.workflow(name="patched")
        def patched(ctx: DaprWorkflowContext, _: Any):
            names = ["p2", "p1"] if reorder else ["p1", "p2"]
            if with_patch:
                for n in names:
                    ctx.is_patched(n)
            got = yield ctx.wait_for_external_event("go")
            return got

        return rt

    d = Driver(runtime(True))
    d.start("patched", iid="p")
    _redeploy(d, runtime(False))
    stalled = d.raise_event("p", "go", 7)
    assert d.status("p") is WorkflowStatus.STALLED
    assert d.instances["p"].execution.stall[0] is StallReason.PATCH_MISMATCH
    assert stalled.events[-1].description == "Patch mismatch. History patches: [p1, p2], current patches: []. "
    _redeploy(d, runtime(True, reorder=True))
    again = d.deliver("p")  # still a mismatch: a new one, so recorded (as Dapr does)
    assert again.events[-1].description.endswith("current patches: [p2, p1]. ")
    assert d.deliver("p").events == ()  # the same mismatch, nothing new: no write
    assert d.status("p") is WorkflowStatus.STALLED
    _redeploy(d, runtime(True))
    d.deliver("p")
    assert d.status("p") is WorkflowStatus.COMPLETED and d.output("p") == 7


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


# -- history propagation, through the engine (children and activities on the queue) ----

prop = WorkflowRuntime()


@prop.activity(name="check")
def check(ctx: WorkflowActivityContext, x: int) -> int:
    return x + 1


@prop.activity(name="audit")
def audit(ctx: WorkflowActivityContext, _: Any) -> Any:
    history = ctx.get_propagated_history()
    if history is None:
        return None
    return [w.name for w in history.get_workflows()]


@prop.workflow(name="grandchild")
def grandchild(ctx: DaprWorkflowContext, _: Any):
    history = ctx.get_propagated_history()
    names = [w.name for w in history.get_workflows()] if history else None
    seen = yield ctx.call_activity("audit", propagation=wf.PropagationScope.LINEAGE)
    return {"names": names, "activity_saw": seen}


@prop.workflow(name="middle")
def middle(ctx: DaprWorkflowContext, scope_name: str):
    history = ctx.get_propagated_history()
    top = history.get_last_workflow_by_name("top")
    checked = top.get_last_activity_by_name("check")
    with pytest.raises(wf.PropagationNotFoundError, match="no activity named 'missing'"):
        top.get_last_activity_by_name("missing")
    deeper = yield ctx.call_child_workflow("grandchild", propagation=wf.PropagationScope[scope_name])
    return {"check": [checked.completed, checked.input, checked.output], "scope": history.scope.name, **deeper}


@prop.workflow(name="top")
def top(ctx: DaprWorkflowContext, scope_name: str):
    yield ctx.call_activity("check", input=41)
    plain = yield ctx.call_activity("audit")
    below = yield ctx.call_child_workflow("middle", input=scope_name, propagation=wf.PropagationScope.OWN_HISTORY)
    return {"plain_activity_saw": plain, **below}


@pytest.mark.parametrize(
    ("scope", "chain"),
    [("LINEAGE", ["top", "middle"]), ("OWN_HISTORY", ["middle"])],
)
def test_history_propagation_reaches_children_and_activities(aws: Any, scope: str, chain: list[str]) -> None:
    """The SDK's ``PropagationScope``: a child sees what its parent recorded before the
    call (an activity's input and output); ``LINEAGE`` hands on the ancestors too,
    ``OWN_HISTORY`` only the caller; an activity called without it sees nothing."""
    stack = Stack(prop)
    assert stack.post(f"{P}/top/start", json.dumps(scope), query={"instanceID": f"t-{scope}"})[0] == 202
    stack.pump()
    body = stack.get(f"t-{scope}")[1]
    assert body["runtimeStatus"] == "COMPLETED", body
    out = json.loads(body["properties"]["dapr.workflow.output"])
    assert out == {
        "plain_activity_saw": None,
        "check": [True, "41", "42"],
        "scope": "OWN_HISTORY",
        "names": chain,
        "activity_saw": [*chain, "grandchild"],
    }


def test_a_stalled_instance_waits_for_its_version_and_a_retry_carries_it_on(aws: Any) -> None:
    """Over the engine: a deployment without the version an instance started on leaves it
    ``STALLED`` (HTTP and the status index say so, the raise that found it so is kept);
    the deployment that brings the version back carries it on when a retry message
    comes (``wf dev`` sends one per stalled instance when it starts, as Dapr's runtime
    retries stalled workflows on restart), and so does its next event."""
    from wf.engine.messages import RetryMessage

    first = Stack(_versioned("v1", latest="v1"))
    assert first.post(f"{P}/flow/start", query={"instanceID": "s1"})[0] == 202
    assert first.post(f"{P}/flow/start", query={"instanceID": "s2"})[0] == 202
    first.pump()

    without = Stack(_versioned("v2", latest="v2"))
    for iid in ("s1", "s2"):
        assert without.post(f"{P}/{iid}/raiseEvent/go", "1")[0] == 202
    without.pump()
    assert without.status("s1") == "STALLED" and without.status("s2") == "STALLED"
    query = InstanceQuery(statuses=frozenset({WorkflowStatus.STALLED}))
    stalled = {s.instance_id for s in without.engine.store.list_instances(query, limit=10).instances}
    assert stalled == {"s1", "s2"}

    back = Stack(_versioned("v1", "v2", latest="v2"))
    back.engine.queue.send([RetryMessage("s1", None, back.now).to_out()])
    back.pump()
    assert back.status("s1") == "COMPLETED"
    assert json.loads(back.get("s1")[1]["properties"]["dapr.workflow.output"]) == ["v1 started", "v1 finished"]
    assert back.status("s2") == "STALLED"  # no retry yet: its next event is one
    assert back.post(f"{P}/s2/raiseEvent/other", "2")[0] == 202
    back.pump()
    assert back.status("s2") == "COMPLETED"
