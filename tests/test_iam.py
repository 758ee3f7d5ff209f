"""Every AWS operation the function makes is granted by template.yaml (moto enforces no
IAM: without this, a new call would fail only once deployed). The calls are recorded
over the whole run (tests/iam.py; this test runs last) and over a round of its own
through lambda_handler: start, activities, timers, events, a child, continue-as-new,
pause, terminate, purge, bulk purge, rerun, large payloads in the bucket, the stream's
expiry of a record."""

from __future__ import annotations

import copy
import json

from tests import iam

# As modules: their test functions imported by name would be collected here again.
from tests import test_aws_lifecycles as lifecycles
from tests import test_large_payloads as large
from tests.aws_stack import Stack, load_event

P = "/v1.0-beta1/workflows/dapr"


def test_every_call_the_function_makes_is_granted_by_the_template() -> None:
    from moto import mock_aws

    for round_ in (
        lifecycles.test_chain_fan_out_and_inline,
        lifecycles.test_retry_then_success_and_retries_exhausted,
        lifecycles.test_events_before_and_after_the_wait_and_timeout,
        lifecycles.test_child_workflow_and_recursive_terminate,
        lifecycles.test_continue_as_new_with_carried_events,
        lifecycles.test_pause_buffers_until_resume,
        lifecycles.test_redelivery_after_a_crash_is_harmless,
    ):
        with mock_aws():  # each round on AWS of its own, as each test is
            round_(Stack(lifecycles.wfr, retention_days=1, event_bus="default"))
    with mock_aws():
        _operate_many()
    _check(set(iam.RECORDED), iam.granted())


def _operate_many() -> None:
    stack = Stack(large.wfr, max_body_bytes=16 * 1024 * 1024, bucket=True, retention_days=1)
    large.test_large_input_result_event_and_output_round_trip_by_reference(stack)
    # Operating many: list, history, rerun, bulk purge; and the stream's expiry.
    assert stack.post(f"{P}/large/start", json.dumps("x"), query={"instanceID": "op"})[0] == 202
    stack.pump()
    stack.post(f"{P}/op/raiseEvent/more", json.dumps("y"))
    stack.pump()
    assert stack.http("GET", "/v1.0/workflows/dapr", query={"status": "COMPLETED"})[0] == 200
    assert stack.http("GET", "/v1.0/workflows/dapr/op/history")[0] == 200
    assert stack.http("POST", "/v1.0/workflows/dapr/op/rerun", query={"newInstanceID": "op2"})[0] == 202
    stack.pump()
    event = copy.deepcopy(load_event("ttl_expired.json"))
    event["Records"][0]["dynamodb"]["Keys"]["pk"]["S"] = "op2"
    event["Records"][0]["dynamodb"]["OldImage"]["pk"]["S"] = "op2"
    stack.handler(event, None)
    assert stack.http("POST", "/v1.0/workflows/dapr/purge", query={"status": "COMPLETED"})[0] == 202


def _check(recorded: set[iam.Call], grants: set[tuple[str, str]]) -> None:
    assert {c.action for c in recorded} >= {"dynamodb:PutItem", "sqs:SendMessage", "s3:PutObject"}, recorded
    missing = sorted({(c.action, c.resource, c.operation) for c in recorded if (c.action, c.resource) not in grants})
    assert not missing, "calls template.yaml does not grant the function (action, resource, operation): " + "; ".join(
        f"{a} on {r} ({o})" for a, r, o in missing
    )
