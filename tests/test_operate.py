"""Operating many instances (SPEC §1b) through lambda_handler on moto: listing with
filters and paging, history in durabletask names, rerun from an activity event, and
bulk purge, with every refusal the API documents."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from tests.aws_stack import Stack
from wf import DaprWorkflowContext, RetryPolicy, WorkflowActivityContext, WorkflowRuntime, when_all
from wf.core.history import format_time

wfr = WorkflowRuntime()
runs: Counter[tuple[str, str]] = Counter()


@wfr.activity(name="step")
def step(ctx: WorkflowActivityContext, x):
    runs[(ctx.workflow_id, str(x))] += 1
    if x == "boom":
        raise ValueError("boom went the step")
    return f"{x}!"


@wfr.workflow(name="pipeline")
def pipeline(ctx: DaprWorkflowContext, items: list):
    out = [(yield ctx.call_activity(step, input=items[0]))]
    out += yield when_all([ctx.call_activity(step, input=i) for i in items[1:3]])
    ctx.set_custom_status("waiting")
    approval = yield ctx.wait_for_external_event("approve")
    for i in items[3:]:
        out.append((yield ctx.call_activity(step, input=i)))
    return {"out": out, "approval": approval}


@wfr.workflow(name="parent")
def parent(ctx: DaprWorkflowContext, n: int):
    return (yield ctx.call_child_workflow("pipeline", input=["c1", "c2", "c3"], instance_id=f"{ctx.instance_id}-kid"))


@wfr.activity(name="flaky")
def flaky(ctx: WorkflowActivityContext, x: str) -> str:
    runs[(ctx.workflow_id, x)] += 1
    if x.startswith("bad") or runs[(ctx.workflow_id, x)] == 1:
        raise ConnectionError(f"{x} failed")
    return f"{x}!"


@wfr.workflow(name="retried")
def retried(ctx: DaprWorkflowContext, x: str):
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=2)
    return (yield ctx.call_activity(flaky, input=x, retry_policy=policy))


@wfr.workflow(name="quick")
def quick(ctx: DaprWorkflowContext, x):
    yield ctx.create_timer(timedelta(seconds=1))
    return x


P = "/v1.0/workflows/dapr"


@pytest.fixture
def stack(aws) -> Stack:
    runs.clear()
    return Stack(wfr)


def listing(stack: Stack, prefix: str = P, **query: str) -> tuple[int, dict]:
    return stack.http("GET", prefix, query=query or None)


def run_pipeline(stack: Stack, iid: str, items: list, approve: bool = True) -> None:
    assert stack.post(f"{P}/pipeline/start", json.dumps(items), query={"instanceID": iid})[0] == 202
    stack.pump()
    if approve:
        assert stack.post(f"{P}/{iid}/raiseEvent/approve", '"yes"')[0] == 202
        stack.pump()


def test_history_names_every_event_and_rerun_from_an_activity_reuses_what_came_before(stack: Stack) -> None:
    run_pipeline(stack, "src", ["a", "b", "c", "d"])
    assert stack.status("src") == "COMPLETED"
    code, body = stack.http("GET", f"{P}/src/history")
    assert code == 200 and body["instanceID"] == "src" and "continuationToken" not in body
    events = body["events"]
    types = [e["eventType"] for e in events]
    assert types[:3] == ["OrchestratorStarted", "ExecutionStarted", "TaskScheduled"]
    assert types.count("TaskScheduled") == 4 and types.count("TaskCompleted") == 4
    assert "EventRaised" in types and types[-1] == "ExecutionCompleted"
    started = events[1]
    assert started["name"] == "pipeline" and json.loads(started["input"]) == ["a", "b", "c", "d"]
    scheduled = [e for e in events if e["eventType"] == "TaskScheduled"]
    assert [e["eventId"] for e in scheduled] == [1, 2, 3, 4]  # their task IDs
    assert all(e["name"] == "step" for e in scheduled)
    done = {e["taskScheduledId"]: json.loads(e["result"]) for e in events if e["eventType"] == "TaskCompleted"}
    assert done == {1: "a!", 2: "b!", 3: "c!", 4: "d!"}
    raised = next(e for e in events if e["eventType"] == "EventRaised")
    assert raised["name"] == "approve" and json.loads(raised["data"]) == "yes"
    assert all(e["eventId"] == -1 for e in events if e["eventType"] != "TaskScheduled")
    # Paged: the pages put together are the whole history.
    pages, token = [], None
    while True:
        q = {"pageSize": "4", **({"continuationToken": token} if token else {})}
        page = stack.http("GET", f"{P}/src/history", query=q)[1]
        pages += page["events"]
        token = page.get("continuationToken")
        if not token:
            break
    assert pages == events

    # Rerun from the third activity (task 3, run beside task 2 in one when_all): the
    # first activity's result is reused, both of the fan-out's run again, with a new
    # input for task 3, and the new instance waits for its own approval.
    before = runs.copy()
    code, body = stack.http("POST", f"{P}/src/rerun", '"C"', query={"fromEventID": "3", "newInstanceID": "again"})
    assert (code, body) == (202, {"instanceID": "again"})
    stack.pump()
    assert stack.status("again") == "RUNNING"
    assert runs[("again", "a")] == 0 and runs[("again", "b")] == 1 and runs[("again", "C")] == 1
    assert runs[("again", "c")] == 0
    stack.post(f"{P}/again/raiseEvent/approve", '"second"')
    stack.pump()
    out = json.loads(stack.get("again")[1]["properties"]["dapr.workflow.output"])
    assert out == {"out": ["a!", "b!", "C!", "d!"], "approval": "second"}
    assert runs - before == Counter({("again", "b"): 1, ("again", "C"): 1, ("again", "d"): 1})
    history = stack.http("GET", f"{P}/again/history")[1]["events"]
    # The reused result is the source's own event, with the source's time.
    assert history[: len(events[:5])] == events[:5]

    # Without fromEventID: the whole workflow again, same input; or a new one.
    code, body = stack.http("POST", f"{P}/src/rerun")
    assert code == 202 and body["instanceID"] not in ("src", "again")
    stack.pump()
    assert runs[(body["instanceID"], "a")] == 1
    code, body = stack.http("POST", f"{P}/src/rerun", '["x", "y", "z"]', query={"newInstanceID": "fresh"})
    stack.pump()
    stack.post(f"{P}/fresh/raiseEvent/approve", "1")
    stack.pump()
    assert json.loads(stack.get("fresh")[1]["properties"]["dapr.workflow.output"])["out"] == ["x!", "y!", "z!"]


def test_a_rerun_activitys_new_input_is_the_input_of_its_retries_too(stack: Stack) -> None:
    assert stack.post(f"{P}/retried/start", '"bad"', query={"instanceID": "flaky-src"})[0] == 202
    stack.pump()
    assert stack.status("flaky-src") == "FAILED" and runs[("flaky-src", "bad")] == 2
    # Its first attempt with the new input fails too; the retry must send the new input
    # again, not the one the code computes (the source's).
    code, _ = stack.http(
        "POST", f"{P}/flaky-src/rerun", '"good"', query={"fromEventID": "1", "newInstanceID": "flaky-2"}
    )
    assert code == 202
    stack.pump()
    assert (runs[("flaky-2", "good")], runs[("flaky-2", "bad")]) == (2, 0)
    assert stack.status("flaky-2") == "COMPLETED"
    assert json.loads(stack.get("flaky-2")[1]["properties"]["dapr.workflow.output"]) == "good!"
    inputs = [
        e["input"] for e in stack.http("GET", f"{P}/flaky-2/history")[1]["events"] if e["eventType"] == "TaskScheduled"
    ]
    assert [json.loads(i) for i in inputs] == ["good", "good"]


def test_rerun_refusals(stack: Stack) -> None:
    run_pipeline(stack, "waits", ["a", "b", "c"], approve=False)
    run_pipeline(stack, "done", ["a", "b", "c"])

    def rerun(iid: str, **query: str) -> tuple[int, str]:
        code, body = stack.http("POST", f"{P}/{iid}/rerun", query=query or None)
        return code, body.get("errorCode", "")

    assert rerun("waits") == (409, "ERR_RERUN_WORKFLOW")
    assert rerun("nobody") == (404, "ERR_INSTANCE_ID_NOT_FOUND")
    assert rerun("done", fromEventID="99") == (400, "ERR_INVALID_EVENT_ID")
    assert rerun("done", fromEventID="two") == (400, "ERR_INVALID_EVENT_ID")
    stack.post(f"{P}/quick/start", "1", query={"instanceID": "timed"})
    stack.pump()
    code, body = stack.http("POST", f"{P}/timed/rerun", query={"fromEventID": "1"})
    assert (code, body["errorCode"]) == (400, "ERR_INVALID_EVENT_ID") and "TimerCreated" in body["message"]
    assert rerun("done", newInstanceID="waits") == (409, "ERR_INSTANCE_ID_ALREADY_EXISTS")
    assert rerun("done", newInstanceID="done") == (409, "ERR_INSTANCE_ID_ALREADY_EXISTS")
    assert rerun("done", newInstanceID="no spaces") == (400, "ERR_INSTANCE_ID_INVALID")
    assert stack.http("GET", f"{P}/nobody/history")[1]["errorCode"] == "ERR_INSTANCE_ID_NOT_FOUND"


def test_listing_filters_pages_and_refusals_under_every_prefix(stack: Stack) -> None:
    ids = []
    for n in range(12):
        stack.now += timedelta(seconds=1)
        iid = f"q{n:02d}"
        ids.append(iid)
        assert stack.post(f"{P}/quick/start", str(n), query={"instanceID": iid})[0] == 202
        if n % 3 == 0:
            stack.post(f"{P}/{iid}/terminate")
    stack.now += timedelta(seconds=1)
    stack.post(f"{P}/parent/start", "1", query={"instanceID": "p1"})
    stack.pump()
    newest = ["p1-kid", "p1", *reversed(ids)]
    for prefix in ("/v1.0-alpha1/workflows/dapr", "/v1.0-beta1/workflows/dapr", P):
        code, body = listing(stack, prefix)
        assert code == 200 and "continuationToken" not in body
        assert [i["instanceID"] for i in body["instances"]] == newest
    rows = {i["instanceID"]: i for i in listing(stack)[1]["instances"]}
    assert rows["p1-kid"]["parentInstanceID"] == "p1" and "parentInstanceID" not in rows["p1"]
    assert rows["q03"]["runtimeStatus"] == "TERMINATED" and rows["q04"]["runtimeStatus"] == "COMPLETED"
    assert rows["q04"]["workflowName"] == "quick" and rows["q04"]["lastUpdatedAt"] >= rows["q04"]["createdAt"]

    def all_ids(**query: str) -> list[str]:
        out, token = [], None
        while True:
            body = listing(stack, **query, **({"continuationToken": token} if token else {}))[1]
            out += [i["instanceID"] for i in body["instances"]]
            token = body.get("continuationToken")
            if not token:
                return out

    assert all_ids(pageSize="5") == newest
    assert all_ids(status="TERMINATED", pageSize="2") == ["q09", "q06", "q03", "q00"]
    assert all_ids(status="terminated,running") == ["p1-kid", "p1", "q09", "q06", "q03", "q00"]
    assert all_ids(name="parent") == ["p1"]
    assert all_ids(instanceIDPrefix="q1") == ["q11", "q10"]
    created = {i["instanceID"]: i["createdAt"] for i in listing(stack)[1]["instances"]}
    assert all_ids(createdFrom=created["q04"], createdTo=created["q07"], pageSize="1") == ["q07", "q06", "q05", "q04"]

    def refused(**query: str) -> tuple[int, str]:
        code, body = listing(stack, **query)
        return code, body["errorCode"]

    assert refused(status="DONE") == (400, "ERR_INVALID_FILTER")
    assert refused(createdFrom="yesterday") == (400, "ERR_INVALID_FILTER")
    assert refused(createdFrom=created["q07"], createdTo=created["q04"]) == (400, "ERR_INVALID_FILTER")
    for size in ("0", "1001", "ten"):
        assert refused(pageSize=size) == (400, "ERR_INVALID_FILTER")
    assert refused(continuationToken="garbage!") == (400, "ERR_INVALID_CONTINUATION_TOKEN")
    history_token = stack.http("GET", f"{P}/p1/history", query={"pageSize": "1"})[1]["continuationToken"]
    assert refused(continuationToken=history_token) == (400, "ERR_INVALID_CONTINUATION_TOKEN")
    assert stack.http("GET", "/v1.0/workflows/other")[1]["errorCode"] == "ERR_WORKFLOW_COMPONENT_NOT_FOUND"


def test_bulk_purge_takes_terminal_matches_with_their_children(stack: Stack) -> None:
    for n in range(5):
        stack.post(f"{P}/quick/start", str(n), query={"instanceID": f"b{n}"})
    stack.post(f"{P}/parent/start", "1", query={"instanceID": "pp"})
    stack.pump()
    run_pipeline(stack, "pp-kid-unused", ["a", "b", "c"], approve=False)  # still running
    stack.post(f"{P}/pp-kid/raiseEvent/approve", "1")
    stack.pump()
    assert stack.status("pp") == "COMPLETED"

    def purge(**query: str) -> tuple[int, dict]:
        return stack.http("POST", f"{P}/purge", query=query or None)

    assert purge()[1]["errorCode"] == "ERR_INVALID_FILTER"
    assert purge(status="RUNNING")[1]["errorCode"] == "ERR_INVALID_FILTER"
    assert purge(status="COMPLETED,SUSPENDED")[0] == 400
    code, body = purge(status="COMPLETED", name="quick", pageSize="2")
    assert (code, body["purged"]) == (202, 2) and "continuationToken" in body
    code, body = purge(status="COMPLETED", name="quick", continuationToken=body["continuationToken"])
    assert (code, body) == (202, {"purged": 3})
    assert [stack.get(f"b{n}")[0] for n in range(5)] == [404] * 5
    # The parent's purge takes its child; the running instance stays.
    cutoff = format_time(stack.now + timedelta(seconds=1))
    assert purge(status="COMPLETED", createdTo=cutoff)[1] == {"purged": 2}  # the child listed, then its parent
    assert stack.get("pp")[0] == 404 and stack.get("pp-kid")[0] == 404
    assert stack.status("pp-kid-unused") == "RUNNING"
    assert [i["instanceID"] for i in listing(stack)[1]["instances"]] == ["pp-kid-unused"]
