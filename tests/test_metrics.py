"""On Lambda the engine's counts become CloudWatch metrics (EMF), one document per invocation,
and each SQS message an X-Ray span annotated with its instance."""

from __future__ import annotations

import contextlib
import json
import types

from wf.aws.metrics import PowertoolsMetrics
from wf.engine.metrics import Metric


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
    from wf.dev.provision import ensure_resources

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


class _FakeTracer:
    """Records what the Lambda wiring asks of Powertools' Tracer."""

    def __init__(self, service: str) -> None:
        self.provider = self
        self.wrapped = False
        self.spans: list[tuple[str, dict[str, str]]] = []

    def capture_lambda_handler(self, fn, capture_response: bool = True):  # type: ignore[no-untyped-def]
        self.wrapped = True
        return fn

    @contextlib.contextmanager
    def in_subsegment(self, name: str):  # type: ignore[no-untyped-def]
        annotations: dict[str, str] = {}
        self.spans.append((name, annotations))
        yield types.SimpleNamespace(put_annotation=annotations.__setitem__)


def test_on_lambda_each_message_is_a_traced_span_annotated_with_its_instance(aws, monkeypatch) -> None:
    import aws_lambda_powertools
    import boto3

    from tests.aws_stack import load_event
    from wf import WorkflowActivityContext, WorkflowRuntime
    from wf.dev.provision import ensure_resources

    sqs = boto3.client("sqs", region_name="us-east-1")
    res = ensure_resources(boto3.client("dynamodb", region_name="us-east-1"), sqs)
    for k, v in {
        "AWS_LAMBDA_FUNCTION_NAME": "wf",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",  # what Lambda sets with active tracing
        "WF_TABLE_NAME": res.table_name,
        "WF_QUEUE_URL": res.queue_url,
    }.items():
        monkeypatch.setenv(k, v)
    tracers: list[_FakeTracer] = []
    monkeypatch.setattr(
        aws_lambda_powertools, "Tracer", lambda service: tracers.append(_FakeTracer(service)) or tracers[-1]
    )
    wfr = WorkflowRuntime()

    @wfr.activity(name="Notify")
    def notify(ctx: WorkflowActivityContext, text: str) -> str:
        return text

    @wfr.workflow(name="OrderProcessingWorkflow")
    def order(ctx, order):
        return (yield ctx.call_activity(notify, input=order["Name"]))

    assert wfr.lambda_handler(load_event("start.json"), None)["statusCode"] == 202
    msg = sqs.receive_message(QueueUrl=res.queue_url, AttributeNames=["All"])["Messages"][0]
    event = load_event("sqs_event.json")
    event["Records"][0].update(messageId=msg["MessageId"], body=msg["Body"])
    assert wfr.lambda_handler(event, None) == {"batchItemFailures": []}
    (tracer,) = tracers
    assert tracer.wrapped
    assert tracer.spans == [("## activity message", {"instance_id": "12345678", "name": "Notify"})]

    # Without active tracing (no daemon named), or with Powertools' switch off, no
    # tracer is made: the X-Ray SDK costs a third of a cold start.
    for env in ({"AWS_XRAY_DAEMON_ADDRESS": ""}, {"POWERTOOLS_TRACE_DISABLED": "true"}):
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            fresh = WorkflowRuntime()
            fresh.workflow(name="OrderProcessingWorkflow")(order)
            assert fresh.lambda_handler(load_event("get.json"), None)["statusCode"] == 200
    assert len(tracers) == 1
