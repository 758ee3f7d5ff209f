"""Every route of SPEC section 1 and its status codes, through lambda_handler; the
events/ files as `sam local invoke -e` would send them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
import yaml

import handler as demo
from tests.aws_stack import Stack, load_event
from wf.aws.table import table_definition

P = "/v1.0-beta1/workflows/dapr"


@pytest.fixture
def stack(aws):
    return Stack(demo.wfr, max_body_bytes=1000)


def test_events_directory_drives_the_seed_sequence(stack: Stack) -> None:
    code, body = stack.invoke(load_event("start.json"))
    assert (code, body) == (202, {"instanceID": "12345678"})
    stack.pump(advance_time=False)
    code, body = stack.invoke(load_event("get.json"))
    assert code == 200 and body["runtimeStatus"] == "RUNNING"
    assert body["workflowName"] == "OrderProcessingWorkflow"
    assert json.loads(body["properties"]["dapr.workflow.input"]) == {
        "Name": "Paperclips",
        "TotalCost": 99.95,
        "Quantity": 4,
    }
    assert body["properties"]["dapr.workflow.custom_status"] == "waiting for approval"
    assert body["createdAt"].endswith("Z") and "." in body["createdAt"]
    assert stack.invoke(load_event("pause.json")) == (202, {})
    stack.pump(advance_time=False)
    assert stack.invoke(load_event("get_http_api_v2.json"))[1]["runtimeStatus"] == "SUSPENDED"
    assert stack.invoke(load_event("resume.json")) == (202, {})
    stack.pump(advance_time=False)
    assert stack.status("12345678") == "RUNNING"
    assert stack.invoke(load_event("raise_event.json")) == (202, {})
    stack.pump(advance_time=False)
    body = stack.get("12345678")[1]
    assert body["runtimeStatus"] == "COMPLETED"
    assert json.loads(body["properties"]["dapr.workflow.output"])["processed"] is True
    assert stack.invoke(load_event("terminate.json")) == (202, {})
    assert stack.invoke(load_event("purge.json")) == (202, {})
    assert stack.invoke(load_event("get.json"))[0] == 404


def test_sqs_event_file_is_handled(stack: Stack) -> None:
    stack.invoke(load_event("start.json"))
    stack.pump(advance_time=False)
    result = stack.handler(load_event("sqs_event.json"), None)
    assert result == {"batchItemFailures": []}
    stack.pump(advance_time=False)
    assert stack.status("12345678") == "COMPLETED"


@pytest.mark.parametrize("ver", ["v1.0-alpha1", "v1.0-beta1", "v1.0"])
def test_every_route_and_error_code(stack: Stack, ver: str) -> None:
    p = f"/{ver}/workflows/dapr"
    code, body = stack.post(f"{p}/hello_world_wf/start")
    assert code == 202 and len(body["instanceID"]) == 36  # a UUID4
    iid = body["instanceID"]
    assert stack.http("GET", f"{p}/{iid}")[0] == 200

    def err(method: str, path: str, body: str | None = None, query=None) -> tuple[int, str]:
        code, resp = stack.http(method, path, body, query)
        return code, resp["errorCode"]

    assert err("POST", f"{p}/hello_world_wf/start", query={"instanceID": "x" * 65}) == (400, "ERR_INSTANCE_ID_TOO_LONG")
    assert err("POST", f"{p}/hello_world_wf/start", query={"instanceID": "a b!"}) == (400, "ERR_INSTANCE_ID_INVALID")
    assert err("POST", f"{p}/hello_world_wf/start", query={"instanceID": ""}) == (
        400,
        "ERR_INSTANCE_ID_PROVIDED_MISSING",
    )
    assert err("POST", f"{p}//start") == (400, "ERR_WORKFLOW_NAME_MISSING")
    code, resp = stack.post(f"{p}/nope/start")
    assert (code, resp["errorCode"]) == (404, "ERR_WORKFLOW_NOT_FOUND") and "hello_world_wf" in resp["message"]
    assert err("POST", f"/{ver}/workflows/other/hello_world_wf/start") == (400, "ERR_WORKFLOW_COMPONENT_NOT_FOUND")
    assert err("POST", f"{p}/{iid}/raiseEvent/") == (400, "ERR_WORKFLOW_EVENT_NAME_MISSING")
    for op in ("terminate", "pause", "resume", "purge", "raiseEvent/e"):
        code, resp = stack.http("POST", f"{p}/missing/{op}")
        assert (code, resp["errorCode"]) == (404, "ERR_INSTANCE_ID_NOT_FOUND")
        assert resp["message"] == "unable to find workflow with the provided instance ID: missing"
    code, resp = stack.http("GET", f"{p}/missing")
    assert (code, resp["errorCode"]) == (404, "ERR_INSTANCE_ID_NOT_FOUND")
    assert err("POST", f"{p}/hello_world_wf/start", query={"instanceID": iid}) == (
        409,
        "ERR_INSTANCE_ID_ALREADY_EXISTS",
    )
    assert err("POST", f"{p}/{iid}/purge") == (409, "ERR_PURGE_WORKFLOW")
    assert err("POST", f"{p}/{iid}/raiseEvent/e", "x" * 1001) == (413, "ERR_PAYLOAD_TOO_LARGE")
    assert stack.http("POST", f"{p}/{iid}/raiseEvent/event1", "")[0] == 202
    assert stack.http("POST", f"{p}/{iid}/pause")[0] == 202
    assert stack.http("POST", f"{p}/{iid}/resume")[0] == 202
    assert stack.http("POST", f"{p}/{iid}/terminate")[0] == 202
    assert stack.status(iid) == "TERMINATED"  # recorded before the call answered
    # The refused start's messages (its 409 above) now look like those of a start still
    # in flight, and are kept for the grace period before they are dropped.
    stack.now += timedelta(seconds=61)
    stack.pump(advance_time=False)
    assert err("POST", f"{p}/{iid}/pause") == (409, "ERR_PAUSE_WORKFLOW")
    assert err("POST", f"{p}/{iid}/resume") == (409, "ERR_RESUME_WORKFLOW")
    assert stack.http("POST", f"{p}/{iid}/purge")[0] == 202
    assert stack.http("GET", "/v1.0/metadata")[0] == 200 and stack.http("GET", "/v1.0/metadata")[1]
    assert stack.http("GET", "/v1.0/healthz")[0] == 204


def test_unexpected_fault_is_a_500_with_the_operation_code(stack: Stack) -> None:
    def broken(*a, **k):
        raise RuntimeError("dynamodb is down")

    stack.engine.store.get_meta = broken  # type: ignore[method-assign]
    stack.engine.store.put_meta = broken  # type: ignore[method-assign]
    code, resp = stack.get("any")
    assert (code, resp["errorCode"]) == (500, "ERR_GET_WORKFLOW")
    code, resp = stack.post(f"{P}/hello_world_wf/start", query={"instanceID": "z"})
    assert (code, resp["errorCode"]) == (500, "ERR_START_WORKFLOW")


def test_bodies_falsy_values_round_trip(stack: Stack) -> None:
    for i, raw in enumerate(["0", "false", '""', "[]", "hello", ""]):
        stack.post(f"{P}/hello_world_wf/start", raw, query={"instanceID": f"b{i}"})
        props = stack.get(f"b{i}")[1]["properties"]
        expected = {"0": "0", "false": "false", '""': '""', "[]": "[]", "hello": '"hello"', "": None}[raw]
        assert props.get("dapr.workflow.input") == expected


def test_custom_domain_base_path_and_http_api_stage(stack: Stack) -> None:
    # A base-path mapping ("/orders") prefixes REST event paths; a named HTTP API stage
    # prefixes rawPath. Both must reach the same routes and error codes.
    assert stack.post(f"/orders{P}/hello_world_wf/start", "1", query={"instanceID": "bp"}) == (
        202,
        {"instanceID": "bp"},
    )
    assert stack.http("GET", f"/orders/api{P}/bp")[1]["instanceID"] == "bp"
    assert stack.post(f"/orders{P}//start")[1]["errorCode"] == "ERR_WORKFLOW_NAME_MISSING"
    assert stack.http("GET", "/orders/v1.0/healthz")[0] == 204
    event = load_event("get_http_api_v2.json")
    event["rawPath"] = f"/prod{P}/bp"
    event["requestContext"]["stage"] = "prod"
    assert stack.invoke(event)[1]["instanceID"] == "bp"
    # A workflow may be named like a version segment: nothing before the first one is eaten.
    assert stack.post(f"{P}/v1.0/start")[1]["errorCode"] == "ERR_WORKFLOW_NOT_FOUND"


def test_template_matches_what_the_code_reads(aws) -> None:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    tpl = yaml.load((Path(__file__).parent.parent / "template.yaml").read_text(), Loader=Loader)
    res = tpl["Resources"]
    env = res["WorkflowFunction"]["Properties"]["Environment"]["Variables"]
    assert {"WF_TABLE_NAME", "WF_QUEUE_URL", "WF_COMPONENT", "WF_MAX_BODY_BYTES", "WF_MAX_RECEIVE_COUNT"} <= set(env)
    from wf.aws.settings import Settings
    from wf.dev.provision import FUNCTION_TIMEOUT, VISIBILITY_TIMEOUT, ensure_resources
    from wf.engine.engine import DEFAULT_MAX_RECEIVE_COUNT

    assert tpl["Globals"]["Function"]["Timeout"] == FUNCTION_TIMEOUT

    # The queue wf dev makes and the engine's default agree with the template's (the
    # engine records an activity as abandoned at the last delivery before the DLQ).
    default = tpl["Parameters"]["MaxReceiveCount"]["Default"]
    assert default == DEFAULT_MAX_RECEIVE_COUNT == Settings("t", "q").max_receive_count
    sqs = boto3.client("sqs", region_name="us-east-1")
    made = ensure_resources(boto3.client("dynamodb", region_name="us-east-1"), sqs)
    redrive = sqs.get_queue_attributes(QueueUrl=made.queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert json.loads(redrive["RedrivePolicy"])["maxReceiveCount"] == default
    assert res["WorkQueue"]["Properties"]["VisibilityTimeout"] == VISIBILITY_TIMEOUT
    assert res["WorkflowFunction"]["Properties"]["Handler"] == "handler.lambda_handler"
    assert res["WorkflowFunction"]["Properties"]["Events"]["Work"]["Properties"]["FunctionResponseTypes"] == [
        "ReportBatchItemFailures"
    ]
    table = res["WorkflowTable"]["Properties"]
    ours = table_definition("t")
    assert table["KeySchema"] == ours["KeySchema"]
    assert table["AttributeDefinitions"] == ours["AttributeDefinitions"]
    assert table["GlobalSecondaryIndexes"] == ours["GlobalSecondaryIndexes"]
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    runtime = tpl["Globals"]["Function"]["Runtime"]
    assert runtime.startswith("python") and tuple(map(int, runtime.removeprefix("python").split("."))) >= (3, 12)
    # `sam build` installs the wheels of the function's platform (compiled ones included).
    makefile = (Path(__file__).parent.parent / "Makefile").read_text()
    architecture = tpl["Parameters"]["Architecture"]
    assert f"WF_ARCHITECTURE ?= {architecture['Default']}" in makefile
    for name in architecture["AllowedValues"]:
        arch = {"arm64": "aarch64", "x86_64": "x86_64"}[name]
        assert f"PLATFORM_{name} = manylinux2014_{arch}" in makefile
    version = tpl["Globals"]["Function"]["Runtime"].removeprefix("python")
    assert "--platform $(PLATFORM_$(WF_ARCHITECTURE))" in makefile and f"--python-version {version}" in makefile
    # Bytecode only of the runtime's own Python (the build machine's would be ignored).
    assert "--no-compile" in makefile and f"RUNTIME_PYTHON = python{version}" in makefile
