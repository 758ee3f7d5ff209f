"""The end-to-end suite on AWS's own DynamoDB Local, not only on moto: `wf dev
--dynamodb URL|local` keeps its table there (queues and bucket stay on the emulator).
The README's HTTP contract, the load tests (concurrent containers racing on one
instance, fan-out and fan-in, 100 starts of one ID), continue-as-new, purge and bulk
purge, and retention (expiry of terminal instances) must hold on it as on moto."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import boto3
import pytest

from tests import test_dev_load, test_readme
from tests.dev_process import ROOT, wf_dev
from tests.test_dev_load import P, call, wait_done

LOAD = ROOT / "tests" / "apps" / "load.py"


@pytest.fixture(scope="module")
def load_dev(tmp_path_factory, dynamodb_local) -> Iterator[tuple[str, list[str]]]:
    with wf_dev(tmp_path_factory.mktemp("ddbl-load"), LOAD, "--verbose", "--dynamodb", dynamodb_local) as (
        base,
        _,
        lines,
    ):
        assert f"the table on {dynamodb_local}" in "".join(lines)
        yield base, lines


def test_the_readme_http_contract(tmp_path, dynamodb_local) -> None:
    with wf_dev(tmp_path, ROOT / "handler.py", "--dynamodb", dynamodb_local) as running:
        test_readme.test_readme_curl_sequence_returns_what_the_readme_says(running)
        test_readme.test_dapr_sdk_style_clients(running)


@pytest.mark.parametrize(
    "load_test",
    [
        test_dev_load.test_200_concurrent_events_to_one_instance_are_each_applied_once,
        test_dev_load.test_100_concurrent_starts_of_one_id_give_one_instance,
        test_dev_load.test_50_concurrent_workflows_of_five_activities,
        test_dev_load.test_containers_are_processes_and_management_calls_race_in_them,
        test_dev_load.test_sub_second_retries_are_kept_and_non_retryable_errors_stop_them,
    ],
    ids=lambda f: f.__name__.removeprefix("test_"),
)
def test_load(load_dev, load_test) -> None:
    load_test(load_dev)


def test_continue_as_new_purge_and_bulk_purge(load_dev) -> None:
    base, _ = load_dev
    assert call(base, "POST", f"{P}/again/start?instanceID=again", 5)[0] == 202
    body = wait_done(base, "again")
    assert body["runtimeStatus"] == "COMPLETED" and json.loads(body["properties"]["dapr.workflow.output"]) == 0
    assert json.loads(body["properties"]["dapr.workflow.input"]) == 0  # the last run's
    assert call(base, "POST", f"{P}/again/purge")[0] == 202
    assert call(base, "GET", f"{P}/again")[0] == 404
    for i in range(3):
        assert call(base, "POST", f"{P}/five/start?instanceID=bulk{i}", i)[0] == 202
    for i in range(3):
        wait_done(base, f"bulk{i}")
    code, purged = call(base, "POST", f"{P}/purge?status=COMPLETED")
    assert code == 202 and purged["purged"] >= 3
    assert all(call(base, "GET", f"{P}/bulk{i}")[0] == 404 for i in range(3))


def test_retention_on_dynamodb_local_started_by_wf_dev(tmp_path, dynamodb_local) -> None:
    """`--dynamodb local`, as a user runs it: wf dev starts DynamoDB Local itself."""
    with wf_dev(tmp_path, LOAD, "--dynamodb", "local", "--retention-days", "0.00003") as (base, _, lines):
        table = re.search(r"the table on (\S+)", "".join(lines))[1]
        assert table != dynamodb_local  # its own
        assert call(base, "POST", f"{P}/five/start?instanceID=short", 1)[0] == 202
        assert call(base, "POST", f"{P}/collect/start?instanceID=stays", 1)[0] == 202
        wait_done(base, "short")
        deadline = time.monotonic() + 40
        while call(base, "GET", f"{P}/short")[0] != 404:
            assert time.monotonic() < deadline, "not expired"
            time.sleep(0.5)
        ddb = boto3.client("dynamodb", endpoint_url=table, region_name="us-east-1")
        deadline = time.monotonic() + 10
        while True:
            left = ddb.query(
                TableName="wf-instances",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": "short"}},
            )["Items"]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert left == []
        assert call(base, "GET", f"{P}/stays")[1]["runtimeStatus"] == "RUNNING"
