"""Raise-event-with-start (signal-with-start): one call raises an event on an instance,
starting it first (the event in its first step) when there is none or only a terminal
one; two calls at once start it once and both events are recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.aws_stack import Stack
from wf import DaprWorkflowContext, WorkflowRuntime
from wf.engine.manage import raise_with_start
from wf.testing import WorkflowTestEnvironment

P = "/v1.0-beta1/workflows/dapr"
wfr = WorkflowRuntime()


@wfr.workflow(name="cart")
def cart(ctx: DaprWorkflowContext, owner: str):
    items: list[Any] = []
    while True:
        item = yield ctx.wait_for_external_event("add")
        if item == "checkout":
            return [owner, items]
        items.append(item)


@pytest.fixture
def stack(aws) -> Stack:
    return Stack(wfr)


def call(stack: Stack, iid: str, body: Any) -> tuple[int, Any]:
    return stack.post(f"{P}/cart/raiseEventWithStart/add", json.dumps(body), query={"instanceID": iid})


def test_the_first_call_starts_the_instance_with_its_event_and_the_next_raise_to_it(stack: Stack) -> None:
    assert call(stack, "c", {"input": "ann", "data": "apple"}) == (202, {"instanceID": "c", "started": True})
    assert call(stack, "c", {"input": "ignored", "data": "pear"}) == (202, {"instanceID": "c", "started": False})
    assert call(stack, "c", {"data": "checkout"})[1]["started"] is False
    stack.pump()
    body = stack.get("c")[1]
    assert body["runtimeStatus"] == "COMPLETED"
    assert json.loads(body["properties"]["dapr.workflow.output"]) == ["ann", ["apple", "pear"]]
    history = stack.http("GET", f"{P}/c/history")[1]["events"]
    # The start and its event were recorded in one step.
    assert [e["eventType"] for e in history[:3]] == ["OrchestratorStarted", "ExecutionStarted", "EventRaised"]
    # A terminal instance is started again, with the new event.
    assert call(stack, "c", {"input": "bob", "data": "checkout"})[1]["started"] is True
    stack.pump()
    assert json.loads(stack.get("c")[1]["properties"]["dapr.workflow.output"]) == ["bob", []]


def test_two_calls_at_once_start_it_once_and_both_events_count(stack: Stack) -> None:
    other = Stack(wfr)  # another container, on the same table and queue
    store = stack.engine.store
    real_get_meta = store.get_meta
    raced: list[Any] = []

    def get_meta(iid: str) -> Any:
        found = real_get_meta(iid)
        if found is None and not raced:
            # The other container's call starts it between this call's read and its start
            # (its engine called directly: one process resolves one HTTP event at a time).
            raced.append(None)
            raced[0] = raise_with_start(other.engine, "cart", "r", "add", input='"first"', data='"apple"')
        return found

    store.get_meta = get_meta  # type: ignore[method-assign]
    status, answer = call(stack, "r", {"input": "second", "data": "pear"})
    store.get_meta = real_get_meta  # type: ignore[method-assign]
    assert raced == [True]
    assert (status, answer["started"]) == (202, False)
    call(stack, "r", {"data": "checkout"})
    stack.pump()
    assert json.loads(stack.get("r")[1]["properties"]["dapr.workflow.output"]) == ["first", ["apple", "pear"]]


def test_what_it_refuses(stack: Stack) -> None:
    assert stack.post(f"{P}/cart/raiseEventWithStart/add", "{}")[1]["errorCode"] == "ERR_MALFORMED_REQUEST"
    assert call(stack, "x", ["not", "an", "object"])[1]["errorCode"] == "ERR_MALFORMED_REQUEST"
    assert call(stack, "x", {"inputs": 1})[1]["errorCode"] == "ERR_MALFORMED_REQUEST"
    status, err = stack.post(f"{P}/nope/raiseEventWithStart/add", "{}", query={"instanceID": "x"})
    assert (status, err["errorCode"]) == (404, "ERR_WORKFLOW_NOT_FOUND")
    assert stack.get("x")[0] == 404


def test_the_kit_s_client_has_it_too() -> None:
    with WorkflowTestEnvironment(wfr) as env:
        client = env.client()
        assert client.raise_workflow_event_with_start(cart, "k", "add", input="kim", data="fig") is True
        assert client.raise_workflow_event_with_start(cart, "k", "add", data="checkout") is False
        state = client.wait_for_workflow_completion("k")
        assert json.loads(state.serialized_output) == ["kim", ["fig"]]
