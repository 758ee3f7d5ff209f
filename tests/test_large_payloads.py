"""Steps of any width and payloads of up to 10 MB, through ``lambda_handler`` on moto:
steps stored across several items, large payloads in the bucket by reference, purge
deleting both, and a crash between a step's parts and its commit."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.aws_stack import Stack
from wf import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime, when_all
from wf.engine.store import StepRecord
from wf.errors import ConflictError, StoreError

P = "/v1.0-beta1/workflows/dapr"
MB = 1024 * 1024

wfr = WorkflowRuntime()


@wfr.activity(name="grow")
def grow(ctx: WorkflowActivityContext, blob: str) -> str:
    return blob + "!" * MB  # an activity result over a megabyte


@wfr.activity(name="echo")
def echo(ctx: WorkflowActivityContext, x: str) -> str:
    return x


@wfr.workflow(name="large")
def large(ctx: DaprWorkflowContext, blob: str):
    grown = yield ctx.call_activity(grow, input=blob)
    extra = yield ctx.wait_for_external_event("more")
    return grown + extra  # an output of input + result + event


@wfr.workflow(name="wide")
def wide(ctx: DaprWorkflowContext, n: int):
    results = yield when_all([ctx.call_activity(echo, input=f"{i:04d}" + "x" * 1000) for i in range(n)])
    return hashlib.sha256("".join(results).encode()).hexdigest()


@wfr.activity(name="huge")
def huge(ctx: WorkflowActivityContext, n: int) -> str:
    return "z" * n


@wfr.workflow(name="bloat")
def bloat(ctx: DaprWorkflowContext, n: int):
    return len((yield ctx.call_activity(huge, input=n)))


def _item_bytes(item: dict) -> int:
    return len(json.dumps(item).encode())


def started(stack: Stack, name: str, iid: str, body: str) -> None:
    assert stack.post(f"{P}/{name}/start", body, query={"instanceID": iid}) == (202, {"instanceID": iid})


@pytest.fixture
def stack(aws):
    return Stack(wfr, max_body_bytes=16 * MB, bucket=True)


def test_large_input_result_event_and_output_round_trip_by_reference(stack: Stack) -> None:
    blob = "é" + "a" * MB  # 1 MB in, 3 MB out: an answer of 4 MB, under Lambda's 6 MB
    started(stack, "large", "big", json.dumps(blob))
    stack.pump()
    assert stack.post(f"{P}/big/raiseEvent/more", json.dumps("e" * MB))[0] == 202
    stack.pump()
    body = stack.get("big")[1]
    assert body["runtimeStatus"] == "COMPLETED", body
    assert json.loads(body["properties"]["dapr.workflow.output"]) == blob + "!" * MB + "e" * MB
    assert json.loads(body["properties"]["dapr.workflow.input"]) == blob
    items = stack.table_items()
    assert max(_item_bytes(i) for i in items) < 100_000  # every payload went by reference
    keys = stack.blob_keys()
    assert any(k.startswith("h/big/") for k in keys)  # history payloads
    assert any(k.startswith("m/") for k in keys)  # the activity message's body
    # A cold container reads it all back from the items and the bucket.
    stack.engine.forget_all()
    live = stack.engine.load("big")
    assert live is not None and live.execution.output == json.dumps(blob + "!" * MB + "e" * MB)
    # Purge deletes the instance's items and history blobs (message bodies expire).
    assert stack.post(f"{P}/big/purge")[0] == 202
    assert not [i for i in stack.table_items() if i["pk"]["S"] == "big"]
    assert not [k for k in stack.blob_keys() if k.startswith("h/big/")]


def test_an_answer_over_6_mb_is_an_error_that_says_how_to_read_the_payloads(stack: Stack) -> None:
    """Lambda returns at most 6 MB (API Gateway would answer a bare 502): the function
    answers ERR_RESPONSE_TOO_LARGE itself, and each payload reads back from its history
    one event at a time."""
    blob = "b" * (2 * MB)
    started(stack, "large", "huge", json.dumps(blob))
    stack.pump()
    assert stack.post(f"{P}/huge/raiseEvent/more", json.dumps("e" * MB))[0] == 202
    stack.pump()
    status, body = stack.get("huge")  # 2 MB in, 4 MB out
    assert status == 500 and body["errorCode"] == "ERR_RESPONSE_TOO_LARGE", body
    assert "6,291,456 bytes" in body["message"] and "pageSize=1" in body["message"]
    out = []
    token = None
    while True:
        query = {"pageSize": "1", **({"continuationToken": token} if token else {})}
        status, page = stack.http("GET", "/v1.0/workflows/dapr/huge/history", query=query)
        assert status == 200
        out += [e.get("result") for e in page["events"] if e["eventType"] == "ExecutionCompleted"]
        token = page.get("continuationToken")
        if not token:
            break
    assert json.loads(out[0]) == blob + "!" * MB + "e" * MB


def test_a_payload_over_10_mb_fails_its_task_naming_the_limit(stack: Stack) -> None:
    started(stack, "bloat", "over", str(10 * MB + 1))
    stack.pump()
    body = stack.get("over")[1]
    assert body["runtimeStatus"] == "FAILED"
    message = body["properties"]["dapr.workflow.failure.error_message"]
    assert "10,485,763 bytes" in message  # the JSON string, quotes included and "10,485,760-byte limit" in message


def test_a_wide_fan_out_is_stored_across_items_and_survives_a_crash_before_its_commit(
    aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = Stack(wfr)  # no bucket: 1 KB inputs stay inline, the step spans items
    store = stack.engine.store
    real_put = type(store)._put
    crashed: list[str] = []

    def put(self, item, condition, what):  # noqa: ANN001
        # The first time a step with parts is committed, die after its parts are written.
        if item.parts and not crashed:
            crashed.append(item.sk)
            raise StoreError("the invocation died here")
        return real_put(self, item, condition, what)

    monkeypatch.setattr(type(store), "_put", put)
    # The start's first step is the wide one: its call dies after the parts, before the
    # step item; the client's retry starts it, and the first attempt's work is dropped.
    assert stack.post(f"{P}/wide/start", "400", query={"instanceID": "w"})[0] == 500
    started(stack, "wide", "w", "400")
    stack.pump()
    body = stack.get("w")[1]
    assert body["runtimeStatus"] == "COMPLETED", body
    expected = hashlib.sha256("".join(f"{i:04d}" + "x" * 1000 for i in range(400)).encode()).hexdigest()
    assert json.loads(body["properties"]["dapr.workflow.output"]) == expected
    assert crashed, "no step spanned several items"
    items = [i for i in stack.table_items() if i["pk"]["S"] == "w"]
    parts = [i for i in items if i["sk"]["S"].startswith("P#")]
    assert parts and max(_item_bytes(i) for i in items) < 100_000
    # The crashed attempt's parts are left behind under a token no step item names:
    # a cold replay ignores them, and purge deletes them with the rest.
    tokens = {i["sk"]["S"].split("#")[3] for i in parts}
    committed = {i["part_token"]["S"] for i in items if "part_token" in i}
    assert committed < tokens
    stack.engine.forget_all()
    live = stack.engine.load("w")
    assert live is not None and live.execution.output == json.dumps(expected)
    assert stack.post(f"{P}/w/purge")[0] == 202
    assert not [i for i in stack.table_items() if i["pk"]["S"] == "w"]


def test_two_writers_of_one_wide_step_commit_one_whole_step(aws) -> None:
    stack = Stack(wfr)
    started(stack, "wide", "race", "3")
    live = stack.engine.load("race")
    assert live is not None
    meta, store = live.meta, stack.engine.store
    ours = live.history[:1] * 5000  # wide enough for several items, told apart by content
    theirs = live.history[-1:] * 5000
    store.append_step("race", meta.execution_id, StepRecord(5, tuple(ours), meta.status))
    with pytest.raises(ConflictError):
        store.append_step("race", meta.execution_id, StepRecord(5, tuple(theirs), meta.status))
    step = store.get_step("race", meta.execution_id, 5)
    assert step is not None and list(step.events) == ours
    # The loser deleted its parts: only the winner's remain.
    parts = [i for i in stack.table_items() if i["sk"]["S"].startswith(f"P#{meta.execution_id}#00000005#")]
    assert parts and len({i["sk"]["S"].split("#")[3] for i in parts}) == 1


def test_a_wide_start_sends_a_bounded_share_and_dispatch_messages_send_the_rest(aws) -> None:
    stack = Stack(wfr)
    sent: list[dict] = []
    real_send = stack.engine.queue.send

    def send(messages):  # noqa: ANN001, ANN202
        sent.extend(m.body for m in messages)
        real_send(messages)

    stack.engine.queue.send = send  # type: ignore[method-assign]
    started(stack, "wide", "fan", "1200")
    kinds = [b["k"] for b in sent]
    # The start request: 100 activities and 10 dispatch messages (11 SendMessageBatch calls).
    assert kinds.count("activity") == 100 and kinds.count("dispatch") == 10
    ranges = [(b["first"], b["last"]) for b in sent if b["k"] == "dispatch"]
    assert sum(1 + hi - lo for lo, hi in ranges) == 1100
    stack.pump(max_rounds=2000)
    body = stack.get("fan")[1]
    assert body["runtimeStatus"] == "COMPLETED", body
    expected = hashlib.sha256("".join(f"{i:04d}" + "x" * 1000 for i in range(1200)).encode()).hexdigest()
    assert json.loads(body["properties"]["dapr.workflow.output"]) == expected
    activities = [b["task"] for b in sent if b["k"] == "activity"]
    assert sorted(set(activities)) == list(range(1, 1201))  # every task sent, none lost


def test_with_a_bucket_a_wide_step_is_one_blob_that_its_step_item_names(stack: Stack) -> None:
    started(stack, "wide", "wb", "300")
    stack.pump()
    assert (
        json.loads(stack.get("wb")[1]["properties"]["dapr.workflow.output"])
        == hashlib.sha256("".join(f"{i:04d}" + "x" * 1000 for i in range(300)).encode()).hexdigest()
    )
    items = [i for i in stack.table_items() if i["pk"]["S"] == "wb"]
    assert not [i for i in items if i["sk"]["S"].startswith("P#")]
    assert any("events" in json.loads(i["refs"]["S"]) for i in items if "refs" in i)
    stack.engine.forget_all()
    live = stack.engine.load("wb")
    assert live is not None and len(live.history) > 600
