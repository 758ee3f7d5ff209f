"""The users' test kit (``wf.testing.WorkflowTestEnvironment``): workflows run in memory
on a virtual clock that skips over timers and retries; activities can be replaced; the
history can be read and replayed against the code as it is, or as it will be."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from wf import DaprWorkflowContext, RetryPolicy, WorkflowActivityContext, WorkflowRuntime, when_all
from wf.core.status import WorkflowStatus
from wf.errors import NonDeterminismError
from wf.testing import WorkflowTestEnvironment

wfr = WorkflowRuntime()
T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
calls: list[str] = []


@wfr.activity(name="charge")
def charge(ctx: WorkflowActivityContext, amount: int) -> str:
    calls.append(f"charge {amount}")
    raise RuntimeError("the real payment API is not reachable from a test")


@wfr.activity(name="flaky")
def flaky(ctx: WorkflowActivityContext, _: None) -> str:
    calls.append("flaky")
    if calls.count("flaky") < 3:
        raise RuntimeError("not yet")
    return "at last"


@wfr.workflow(name="subscription")
def subscription(ctx: DaprWorkflowContext, amount: int):
    yield ctx.create_timer(timedelta(days=30))
    first = yield ctx.call_activity(charge, input=amount)
    yield ctx.create_timer(timedelta(days=7))
    reminder = yield ctx.wait_for_external_event("renew")
    late = yield ctx.call_activity(
        flaky, retry_policy=RetryPolicy(first_retry_interval=timedelta(hours=1), max_number_of_attempts=3)
    )
    both = yield when_all([ctx.call_activity(charge, input=1), ctx.call_activity(charge, input=2)])
    return [first, reminder, late, both, ctx.current_utc_datetime.isoformat()]


def test_a_month_of_timers_retries_and_an_event_in_memory_with_a_mock() -> None:
    calls.clear()
    paid: list[int] = []

    def fake_charge(ctx: WorkflowActivityContext, amount: int) -> str:
        paid.append(amount)
        return f"paid {amount}"

    with WorkflowTestEnvironment(wfr, start=T0, activities={"charge": fake_charge}) as env:
        client = env.client()
        iid = client.schedule_new_workflow(subscription, input=10, instance_id="sub-1")
        state = client.get_workflow_state(iid)
        assert state is not None and state.runtime_status is WorkflowStatus.RUNNING and env.now == T0
        # Nothing will bring the event: waiting says so rather than hang.
        with pytest.raises(TimeoutError, match="external event"):
            client.wait_for_workflow_completion(iid)
        assert env.now == T0 + timedelta(days=37)
        client.raise_workflow_event(iid, "renew", data="yes")
        state = client.wait_for_workflow_completion(iid)
        assert state is not None and state.runtime_status is WorkflowStatus.COMPLETED, state
        first, reminder, late, both, finished = json.loads(state.serialized_output)
        assert (first, reminder, late, sorted(both)) == ("paid 10", "yes", "at last", ["paid 1", "paid 2"])
        # The two retries waited their hour each (Dapr's default backoff coefficient, 1) in virtual time.
        assert datetime.fromisoformat(finished) == T0 + timedelta(days=37, hours=2)
        assert sorted(paid) == [1, 2, 10] and calls == ["flaky"] * 3  # the real charge never ran
        kinds = [e.event_type for e in client.get_workflow_history(iid)]
        assert kinds.count("TimerCreated") == 4 and kinds.count("EventRaised") == 1
        env.assert_replays(iid)


def test_a_code_change_that_breaks_in_flight_instances_is_found_before_a_deploy() -> None:
    with WorkflowTestEnvironment(wfr, start=T0, activities={"charge": lambda ctx, amount: "ok"}) as env:
        client = env.client()
        client.schedule_new_workflow(subscription, input=5, instance_id="in-flight")
        env.advance(timedelta(days=31))  # charged, waiting on the 7-day timer
        env.assert_replays("in-flight")  # the code as it is replays it

        changed = WorkflowRuntime()  # the next version renames the activity it calls first
        changed.activity(name="bill")(charge)
        changed.activity(name="flaky")(flaky)

        @changed.workflow(name="subscription")
        def subscription_v2(ctx: DaprWorkflowContext, amount: int):
            yield ctx.create_timer(timedelta(days=30))
            yield ctx.call_activity("bill", input=amount)
            return None

        with pytest.raises(NonDeterminismError, match=r"charge.*bill|bill.*charge"):
            env.assert_replays("in-flight", runtime=changed)


def test_scheduled_starts_pause_and_terminate_in_the_kit() -> None:
    with WorkflowTestEnvironment(wfr, start=T0, activities={"charge": lambda ctx, amount: "ok"}) as env:
        client = env.client()
        client.schedule_new_workflow(subscription, input=1, instance_id="later", start_at=T0 + timedelta(days=2))
        assert client.get_workflow_state("later").runtime_status is WorkflowStatus.PENDING
        started = client.wait_for_workflow_start("later")
        assert started.runtime_status is WorkflowStatus.RUNNING and env.now == T0 + timedelta(days=2)
        client.pause_workflow("later")
        assert client.get_workflow_state("later").runtime_status is WorkflowStatus.SUSPENDED
        client.resume_workflow("later")
        client.terminate_workflow("later", output="stopped")
        assert client.get_workflow_state("later").runtime_status is WorkflowStatus.TERMINATED
        client.purge_workflow("later")
        assert client.get_workflow_state("later") is None
