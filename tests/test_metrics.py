"""On Lambda the engine's counts become CloudWatch metrics (EMF), one document per invocation."""

from __future__ import annotations

import json

from wf._metrics import Metric, PowertoolsMetrics


def test_powertools_metrics_flush_one_emf_document(capsys) -> None:
    metrics = PowertoolsMetrics(namespace="wf-test")
    metrics.flush()
    assert capsys.readouterr().out == ""  # nothing counted, nothing published
    metrics.count(Metric.STEPS_COMMITTED)
    metrics.count(Metric.STEPS_COMMITTED)
    metrics.count(Metric.WRITE_CONFLICTS)
    metrics.flush()
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    emf = doc["_aws"]["CloudWatchMetrics"][0]
    assert emf["Namespace"] == "wf-test"
    assert {m["Name"] for m in emf["Metrics"]} == {"StepsCommitted", "WriteConflicts"}
    assert doc["StepsCommitted"] == [1.0, 1.0]  # one sample per count
    assert doc["WriteConflicts"] in (1.0, [1.0])


def test_on_lambda_each_invocation_publishes_its_counts(aws, monkeypatch, capsys) -> None:
    import boto3

    from tests.aws_stack import load_event
    from wf import WorkflowRuntime
    from wf._provision import ensure_resources

    res = ensure_resources(
        boto3.client("dynamodb", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    )
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "wf")
    monkeypatch.setenv("WF_TABLE_NAME", res.table_name)
    monkeypatch.setenv("WF_QUEUE_URL", res.queue_url)
    wfr = WorkflowRuntime()

    @wfr.workflow(name="OrderProcessingWorkflow")
    def plain(ctx, order):
        return order["Name"]

    event = load_event("start.json")
    assert wfr.lambda_handler(event, None)["statusCode"] == 202
    out = capsys.readouterr().out
    docs = [json.loads(line) for line in out.splitlines() if line.startswith("{") and "_aws" in line]
    assert docs, out
    names = {m["Name"] for d in docs for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"WorkflowsStarted", "WorkflowsCompleted"} <= names  # a plain workflow completes inside start
    assert docs[-1]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "wf"
