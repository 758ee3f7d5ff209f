"""Semantics of SPEC section 2, driven through the pure replay core."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.driver import T0, Driver
from wf import (
    DaprWorkflowContext,
    RetryPolicy,
    TaskFailedError,
    WorkflowActivityContext,
    WorkflowRuntime,
    WorkflowStatus,
    when_all,
    when_any,
)
from wf.core.execution import Execution, run_step
from wf.core.history import ActivityScheduled, EventRaised, Resumed, Suspended, TimerCreated, WorkflowStarted
from wf.core.serde import encode

wfr = WorkflowRuntime()
calls: dict[str, int] = {}


@wfr.activity(name="hello")
def hello(ctx: WorkflowActivityContext, name: str) -> str:
    return f"Hello {name}!"


@wfr.activity(name="flaky")
def flaky(ctx: WorkflowActivityContext, fail_times: int) -> str:
    key = f"{ctx.workflow_id}"
    calls[key] = calls.get(key, 0) + 1
    if calls[key] <= fail_times:
        raise ValueError(f"attempt {calls[key]} failed")
    return f"ok after {calls[key]}"


@wfr.activity(name="boom")
def boom(ctx: WorkflowActivityContext, kind: str) -> None:
    if kind == "key":
        raise KeyError("nope")
    raise ValueError("bad value")


@wfr.workflow(name="chain")
def chain(ctx: DaprWorkflowContext, names: list[str]):
    out = []
    for n in names:
        out.append((yield ctx.call_activity(hello, input=n)))
    return out


def test_chain_completes_with_outputs_in_order() -> None:
    d = Driver(wfr)
    d.start("chain", ["a", "b", "c"])
    d.run()
    assert d.status() is WorkflowStatus.COMPLETED
    assert d.output() == ["Hello a!", "Hello b!", "Hello c!"]


@wfr.workflow(name="fan")
def fan(ctx: DaprWorkflowContext, n: int):
    results = yield when_all([ctx.call_activity("hello", input=str(i)) for i in range(n)])
    return results


def test_when_all_returns_results_in_input_order_whatever_the_completion_order() -> None:
    d = Driver(wfr)
    d.start("fan", 5)
    for index in (4, 0, 2, 0, 0):  # complete out of order
        d.run_activity(index)
    assert d.output() == [f"Hello {i}!" for i in range(5)]


@wfr.workflow(name="fan_fail")
def fan_fail(ctx: DaprWorkflowContext, _):
    tasks = [
        ctx.call_activity("hello", input="x"),
        ctx.call_activity("boom", input="key"),
        ctx.call_activity("boom", input="v"),
    ]
    try:
        yield when_all(tasks)
    except TaskFailedError as e:
        return {"err": e.details.error_type, "done": [t.is_complete for t in tasks]}


def test_when_all_waits_for_every_child_then_raises_the_first_failure() -> None:
    d = Driver(wfr)
    d.start("fan_fail", None)
    d.run_activity(2)  # ValueError first
    assert d.status() is WorkflowStatus.RUNNING  # still waiting for the others
    d.run_activity(1)
    d.run_activity(0)
    assert d.output() == {"err": "ValueError", "done": [True, True, True]}


@wfr.workflow(name="race")
def race(ctx: DaprWorkflowContext, _):
    a = ctx.call_activity("hello", input="a")
    t = ctx.create_timer(timedelta(hours=1))
    winner = yield when_any([a, t])
    return "activity" if winner == a else "timer"


def test_when_any_returns_the_first_task_and_late_completions_are_harmless() -> None:
    d = Driver(wfr)
    d.start("race", None)
    d.fire_next_timer()
    assert d.output() == "timer"
    d.run_activity(0)  # late completion: ignored, nothing recorded
    assert d.status() is WorkflowStatus.COMPLETED
    d2 = Driver(wfr)
    d2.start("race", None, "wf2")
    d2.run_activity(0)
    assert d2.output("wf2") == "activity"


@wfr.workflow(name="retry")
def retry_wf(ctx: DaprWorkflowContext, args: dict):
    policy = RetryPolicy(
        first_retry_interval=timedelta(seconds=10),
        max_number_of_attempts=args["attempts"],
        backoff_coefficient=2.0,
        max_retry_interval=timedelta(seconds=30),
        retry_timeout=timedelta(seconds=args.get("timeout", 3600)),
    )
    try:
        return (yield ctx.call_activity("flaky", input=args["fail"], retry_policy=policy))
    except TaskFailedError as e:
        return f"failed: {e.details.message}"


def test_retry_waits_on_durable_timers_then_succeeds() -> None:
    calls.clear()
    d = Driver(wfr)
    d.start("retry", {"attempts": 5, "fail": 3}, "r1")
    d.run()
    assert d.output("r1") == "ok after 4"
    timers = [e for e in d.instances["r1"].history if isinstance(e, TimerCreated)]
    # 10s, 20s, then capped at 30s: the backoff and the cap, in workflow time.
    gaps = [(t.fire_at - t.timestamp).total_seconds() for t in timers]
    assert gaps == [10, 20, 30]


def test_max_number_of_attempts_counts_attempts() -> None:
    calls.clear()
    d = Driver(wfr)
    d.start("retry", {"attempts": 3, "fail": 10}, "r2")
    d.run()
    assert d.output("r2") == "failed: attempt 3 failed"
    assert calls["r2"] == 3


def test_retry_timeout_is_measured_in_workflow_time() -> None:
    calls.clear()
    d = Driver(wfr)
    d.start("retry", {"attempts": 10, "fail": 10, "timeout": 25}, "r3")
    d.run()
    # attempt 1 at t0, retry after 10s (t0+10), next would be t0+30 > t0+25: stop.
    assert d.output("r3") == "failed: attempt 2 failed"


@wfr.workflow(name="nonretry")
def nonretry(ctx: DaprWorkflowContext, _):
    policy = RetryPolicy(
        first_retry_interval=timedelta(seconds=1), max_number_of_attempts=5, non_retryable_error_types=[KeyError]
    )
    try:
        yield ctx.call_activity("boom", input="key", retry_policy=policy)
    except TaskFailedError as e:
        return e.details.error_type


def test_non_retryable_error_types_stop_retries() -> None:
    d = Driver(wfr)
    d.start("nonretry", None)
    d.run()
    assert d.output() == "KeyError"
    assert not [e for e in d.instances["wf1"].history if isinstance(e, TimerCreated)]


@wfr.workflow(name="events")
def events_wf(ctx: DaprWorkflowContext, n: int):
    got = []
    for _ in range(n):
        got.append((yield ctx.wait_for_external_event("Approval")))
    return got


def test_events_raised_before_the_wait_are_buffered_fifo_case_insensitively_falsy_too() -> None:
    d = Driver(wfr)
    d.start("events", 5)
    d.raise_event("wf1", "approval", 0)
    d.raise_event("wf1", "APPROVAL", False)
    d.raise_event("wf1", "Approval", "")
    d.raise_event("wf1", "approval", [])
    d.raise_event("wf1", "other", "ignored")
    d.raise_event("wf1", "approval", None)
    assert d.output() == [0, False, "", [], None]


@wfr.workflow(name="early_events")
def early_events(ctx: DaprWorkflowContext, _):
    yield ctx.create_timer(timedelta(minutes=5))
    a = yield ctx.wait_for_external_event("e")
    b = yield ctx.wait_for_external_event("e")
    return [a, b]


def test_events_before_the_workflow_waits_are_not_lost() -> None:
    d = Driver(wfr)
    d.start("early_events", None)
    d.raise_event("wf1", "E", 1)
    d.raise_event("wf1", "e", 2)
    d.run()
    assert d.output() == [1, 2]


@wfr.workflow(name="approval")
def approval(ctx: DaprWorkflowContext, _):
    try:
        return (yield ctx.wait_for_external_event("ok", timeout=timedelta(minutes=10)))
    except TimeoutError as e:
        first = str(e)
    again = yield ctx.wait_for_external_event("ok")
    return [first, again]


def test_wait_for_external_event_with_timeout() -> None:
    d = Driver(wfr)
    d.start("approval", None)
    d.raise_event("wf1", "ok", "yes")
    assert d.output() == "yes"
    d2 = Driver(wfr)
    d2.start("approval", None)
    d2.fire_next_timer()
    assert d2.now == T0 + timedelta(minutes=10)
    assert d2.status() is WorkflowStatus.RUNNING
    d2.raise_event("wf1", "ok", "late")  # goes to the second wait, not the timed-out one
    assert d2.output() == ["timed out waiting for external event 'ok'", "late"]


@wfr.workflow(name="timers")
def timers(ctx: DaprWorkflowContext, _):
    start = ctx.current_utc_datetime
    yield ctx.create_timer(timedelta(hours=2))
    yield ctx.create_timer(datetime(2026, 1, 13, 0, 0, 0))  # naive: UTC
    yield ctx.create_timer(datetime(2026, 1, 13, 2, 0, 0, tzinfo=timezone(timedelta(hours=1))))
    return [start.isoformat(), ctx.current_utc_datetime.isoformat()]


def test_timers_from_timedelta_naive_and_aware_datetimes() -> None:
    d = Driver(wfr)
    d.start("timers", None)
    d.run()
    fires = [e.fire_at for e in d.instances["wf1"].history if isinstance(e, TimerCreated)]
    assert fires == [
        T0 + timedelta(hours=2),
        datetime(2026, 1, 13, 0, 0, tzinfo=UTC),
        datetime(2026, 1, 13, 1, 0, tzinfo=UTC),
    ]
    assert d.output() == [T0.isoformat(), "2026-01-13T01:00:00+00:00"]


@wfr.workflow(name="plain")
def plain(ctx: DaprWorkflowContext, x: int) -> int:
    return x * 2


@wfr.workflow(name="noinput")
def noinput(ctx: DaprWorkflowContext):
    return (yield ctx.call_activity("hello", input="none"))


def test_plain_function_and_input_less_workflows() -> None:
    d = Driver(wfr)
    d.start("plain", 21)
    assert d.output() == 42
    d.start("noinput", None, "wf2")
    d.run()
    assert d.output("wf2") == "Hello none!"


@wfr.workflow(name="crash")
def crash(ctx: DaprWorkflowContext, _):
    yield ctx.call_activity("hello", input="x")
    raise RuntimeError("kaput")


@wfr.workflow(name="badyield")
def badyield(ctx: DaprWorkflowContext, _):
    yield 42


def test_unhandled_exception_and_non_task_yield_fail_the_workflow() -> None:
    d = Driver(wfr)
    d.start("crash", None)
    d.run()
    assert d.status() is WorkflowStatus.FAILED
    f = d.failure()
    assert (f.error_type, f.message) == ("RuntimeError", "kaput")
    assert "raise RuntimeError" in f.stack_trace
    d.start("badyield", None, "wf2")
    f = d.failure("wf2")
    assert f.error_type == "TypeError" and "yielded a int (42)" in f.message


@wfr.workflow(name="unhandled_task_failure")
def unhandled_task_failure(ctx: DaprWorkflowContext, _):
    yield ctx.call_activity("boom", input="v")


def test_uncaught_task_failure_fails_as_the_sdk_reports_it() -> None:
    """Dapr's form: TaskFailedError, ``<id>: Activity task #N failed: <inner message>``,
    the task's own error type and trace kept in the stack trace."""
    d = Driver(wfr)
    d.start("unhandled_task_failure", None)
    d.run()
    f = d.failure()
    assert f.error_type == "TaskFailedError"
    assert f.message.startswith("wf1: Activity task #1 failed: ")
    assert "ValueError" in f.stack_trace and "Traceback" in f.stack_trace


@wfr.workflow(name="suspendable")
def suspendable(ctx: DaprWorkflowContext, _):
    a = yield ctx.call_activity("hello", input="a")
    e = yield ctx.wait_for_external_event("go")
    return [a, e]


def test_suspension_buffers_everything_until_resume() -> None:
    d = Driver(wfr)
    d.start("suspendable", None)
    d.suspend("wf1")
    assert d.status() is WorkflowStatus.SUSPENDED
    d.run_activity(0)
    d.raise_event("wf1", "go", "now")
    assert d.status() is WorkflowStatus.SUSPENDED  # nothing ran
    d.resume("wf1")
    assert d.output() == ["Hello a!", "now"]


def test_terminate_is_final_and_terminating_twice_is_a_no_op() -> None:
    d = Driver(wfr)
    d.start("suspendable", None)
    r = d.terminate("wf1", {"why": "test"})
    assert d.status() is WorkflowStatus.TERMINATED
    assert r.output == '{"why": "test"}'
    assert d.terminate("wf1").events == ()
    assert d.run_activity(0) is not None and d.status() is WorkflowStatus.TERMINATED


@wfr.workflow(name="parent")
def parent(ctx: DaprWorkflowContext, n: int):
    a = yield ctx.call_child_workflow(chain, input=["x"])
    b = yield ctx.call_child_workflow("chain", input=["y"], instance_id="my-child")
    return a + b


def test_child_workflows_default_and_explicit_ids() -> None:
    d = Driver(wfr)
    d.start("parent", 1, "p")
    d.run()
    assert d.output("p") == ["Hello x!", "Hello y!"]
    assert set(d.instances) == {"p", "p:0001", "my-child"}


@wfr.workflow(name="long_parent")
def long_parent(ctx: DaprWorkflowContext, _):
    return (yield ctx.call_child_workflow("events", input=1))


def test_terminate_reaches_running_children() -> None:
    d = Driver(wfr)
    d.start("long_parent", None, "p")
    assert d.status("p:0001") is WorkflowStatus.RUNNING
    d.terminate("p")
    assert d.status("p") is WorkflowStatus.TERMINATED
    assert d.status("p:0001") is WorkflowStatus.TERMINATED


@wfr.workflow(name="counter")
def counter(ctx: DaprWorkflowContext, state: dict):
    got = yield ctx.wait_for_external_event("tick")
    state = {"n": state["n"] + 1, "seen": state["seen"] + [got]}
    if state["n"] >= 3:
        return state
    ctx.continue_as_new(state, save_events=True)


def test_continue_as_new_carries_every_buffered_event_including_falsy() -> None:
    d = Driver(wfr)
    d.start("counter", {"n": 0, "seen": []})
    # three events in one step: the first is consumed, 0 and "" are carried over.
    r = d.deliver(
        "wf1",
        EventRaised(d.now, "tick", encode(False)),
        EventRaised(d.now, "tick", encode(0)),
        EventRaised(d.now, "TICK", encode("")),
    )
    assert r.new_generation
    assert d.output() == {"n": 3, "seen": [False, 0, ""]}
    assert isinstance(d.instances["wf1"].history[1], WorkflowStarted)


@wfr.workflow(name="status")
def status_wf(ctx: DaprWorkflowContext, _):
    ctx.set_custom_status("step 1")
    yield ctx.create_timer(timedelta(seconds=1))
    ctx.set_custom_status("step 2")
    return None


def test_custom_status_is_recorded_when_it_changes() -> None:
    d = Driver(wfr)
    r = d.start("status", None)
    assert r.custom_status == "step 1"
    d.run()
    assert d.instances["wf1"].last.custom_status == "step 2"


def test_replay_is_deterministic_and_is_replaying_is_set() -> None:
    seen: list[bool] = []
    local = WorkflowRuntime()

    @local.workflow(name="w")
    def w(ctx: DaprWorkflowContext, _):
        seen.append(ctx.is_replaying)
        yield ctx.create_timer(timedelta(seconds=1))
        seen.append(ctx.is_replaying)

    d = Driver(local, check_cold=False)
    d.start("w", None)
    d.fire_next_timer()
    assert seen == [False, False]
    seen.clear()
    d.cold_step("wf1")
    assert seen == [True, True]


def test_step_with_nothing_new_appends_nothing() -> None:
    d = Driver(wfr)
    d.start("events", 1)
    r = d.cold_step("wf1")
    assert r.events == () and r.commands == ()
    # A duplicate activity result is ignored, not recorded.
    d2 = Driver(wfr)
    d2.start("chain", ["a"])
    iid, gen, cmd = d2.activities[0]
    ev = wfr.run_activity(cmd.name, iid, cmd.task_id, cmd.input, d2.now)
    d2.run_activity(0)
    assert d2.deliver("wf1", ev).events == ()


def test_unknown_workflow_fails_with_the_registered_names() -> None:
    r = run_step(wfr.workflows, "x", [], [WorkflowStarted(T0, "nope", None)], T0)
    assert r.status is WorkflowStatus.FAILED
    assert r.failure is not None and "'nope' is not registered" in r.failure.message


def test_retry_policy_validation() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=1, backoff_coefficient=0.5)


def test_scheduled_events_record_names_and_inputs() -> None:
    d = Driver(wfr)
    d.start("chain", ["q"])
    sched = [e for e in d.instances["wf1"].history if isinstance(e, ActivityScheduled)]
    assert [(s.task_id, s.name, s.input) for s in sched] == [(1, "hello", '"q"')]


@wfr.workflow(name="two_events")
def two_events(ctx: DaprWorkflowContext, _):
    first = yield ctx.wait_for_external_event("a")
    second = yield ctx.wait_for_external_event("a")
    return [first, second]


def test_management_events_delivered_twice_count_once() -> None:
    """SQS may deliver a raise, pause or resume again: the same ID is recorded once,
    on the warm execution and on one replayed from history alike (the driver checks)."""
    d = Driver(wfr)
    d.start("two_events")
    assert d.deliver("wf1", EventRaised(d.now, "a", encode(1), "e1")).events
    assert d.deliver("wf1", EventRaised(d.now, "a", encode(1), "e1")).events == ()
    d.deliver("wf1", Suspended(d.now, "p1"))
    d.deliver("wf1", Resumed(d.now, "r1"))
    # The pause comes again after the resume: not paused again.
    assert d.deliver("wf1", Suspended(d.now, "p1")).events == ()
    assert d.status() is WorkflowStatus.RUNNING
    # A cold replay knows the IDs too.
    inst = d.instances["wf1"]
    cold = Execution(wfr.workflows, "wf1")
    cold.replay(inst.history)
    assert cold.step([EventRaised(d.now, "a", encode(1), "e1")], d.now).events == ()
    d.deliver("wf1", EventRaised(d.now, "a", encode(2), "e2"))
    assert d.output() == [1, 2]


def test_a_pause_of_a_paused_instance_is_recorded_for_its_id() -> None:
    d = Driver(wfr)
    d.start("two_events")
    d.deliver("wf1", Suspended(d.now, "p1"))
    assert d.deliver("wf1", Suspended(d.now, "p2")).events  # no change, but recorded
    d.deliver("wf1", Resumed(d.now, "r1"))
    assert d.deliver("wf1", Suspended(d.now, "p2")).events == ()
    assert d.status() is WorkflowStatus.RUNNING


def test_pause_and_resume_apply_in_the_order_issued_not_delivered() -> None:
    """A client pauses, then resumes; SQS delivers the resume first. The pause, issued
    earlier (IDs are time-ordered), is recorded and changes nothing: still running,
    here and in a cold replay. A newer pause still pauses."""
    d = Driver(wfr)
    d.start("two_events")
    d.deliver("wf1", Resumed(d.now, "0002"))
    assert d.deliver("wf1", Suspended(d.now, "0001")).events  # recorded for its ID
    assert d.status() is WorkflowStatus.RUNNING
    cold = Execution(wfr.workflows, "wf1")
    cold.replay(d.instances["wf1"].history)
    assert cold.status is WorkflowStatus.RUNNING
    d.deliver("wf1", Suspended(d.now, "0003"))
    assert d.status() is WorkflowStatus.SUSPENDED
    d.deliver("wf1", EventRaised(d.now, "a", encode(1), "e1"))
    d.deliver("wf1", Resumed(d.now, "0004"))
    d.deliver("wf1", EventRaised(d.now, "a", encode(2), "e2"))
    assert d.output() == [1, 2]


seen_live: list[str] = []


@wfr.workflow(name="noted")
def noted(ctx: DaprWorkflowContext, _):
    token = yield ctx.wait_for_external_event("go")
    if not ctx.is_replaying:
        seen_live.append(token)  # a side effect the SDK's docs guard with is_replaying
    new_path = ctx.is_patched("v2")
    return [token, new_path]


def test_a_step_tried_again_after_a_lost_write_race_is_replaying_for_the_code() -> None:
    """A step lost its write race and is stepped again from the recorded history: the
    code already ran for its event, so it sees ``is_replaying`` and its guarded side
    effect is not repeated; a patch first met there still takes the new path."""
    seen_live.clear()
    d = Driver(wfr)
    d.start("noted")
    history = list(d.instances["wf1"].history)
    event = EventRaised(d.now, "go", encode("t"), "e1")
    first = Execution(wfr.workflows, "wf1")
    first.replay(history)
    first.step([event], d.now)  # its write is refused: another container moved first
    again = Execution(wfr.workflows, "wf1")
    again.replay(history)
    result = again.step([event], d.now, replaying=True)
    assert seen_live == ["t"]
    assert again.output == encode(["t", True]) and result.events
