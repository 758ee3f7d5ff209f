"""What a team running the stack needs from template.yaml: alarms to a topic, logs kept
for a bounded time, a stream source that sets failing records aside, API throttling and
access logs, timeouts within API Gateway's, and customer-managed keys where asked."""

from __future__ import annotations

from tests.iam import _Tag, template


def _refs(value: object) -> set[str]:
    if isinstance(value, _Tag):
        found = value.refs()
        inner = value.value if isinstance(value.value, list) else [value.value]
        return found.union(*(_refs(v) for v in inner))
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(_refs(v) for v in value.values())) if value else set()
    return set()


def test_every_failure_signal_has_an_alarm_to_the_topic() -> None:
    tpl = template()
    res = tpl["Resources"]
    alarms = {name: r["Properties"] for name, r in res.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    watched = {(a["Namespace"], a["MetricName"]): a for a in alarms.values()}
    assert set(watched) >= {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/ApiGateway", "5XXError"),
    }
    queues = {ref for a in alarms.values() if a["Namespace"] == "AWS/SQS" for ref in _refs(a["Dimensions"])}
    assert queues == {"WorkDeadLetterQueue", "ExpiryFailureQueue"}
    for name, alarm in alarms.items():
        assert _refs(alarm["AlarmActions"]) == {"AlarmTopic", "AlarmTopicArn"}, name
        assert alarm["TreatMissingData"] == "notBreaching", name
    # The API alarm watches the API the stack names.
    api_name = res["WorkflowApi"]["Properties"]["Name"].value
    api_alarm = watched[("AWS/ApiGateway", "5XXError")]
    assert {d["Name"]: d["Value"].value for d in api_alarm["Dimensions"] if d["Name"] == "ApiName"} == {
        "ApiName": api_name
    }
    assert res["AlarmTopic"]["Condition"] == "CreateAlarmTopic"


def test_logs_stream_failures_throttling_timeouts() -> None:
    tpl = template()
    res, params = tpl["Resources"], tpl["Parameters"]
    fn = res["WorkflowFunction"]["Properties"]
    assert _refs(fn["LoggingConfig"]) == {"FunctionLogGroup"}
    assert _refs(res["FunctionLogGroup"]["Properties"]["RetentionInDays"]) == {"LogRetentionDays"}
    assert params["LogRetentionDays"]["Default"] == 30
    assert "ReservedConcurrency" in _refs(fn["ReservedConcurrentExecutions"])
    expiry = fn["Events"]["Expiry"]["Properties"]
    assert expiry["MaximumRetryAttempts"] <= 10 and expiry["BisectBatchOnFunctionError"] is True
    assert _refs(expiry["DestinationConfig"]["OnFailure"]["Destination"]) == {"ExpiryFailureQueue"}
    api = res["WorkflowApi"]["Properties"]
    (method,) = api["MethodSettings"]
    assert _refs(method) == {"ApiThrottleRateLimit", "ApiThrottleBurstLimit"}
    assert "ApiAccessLogGroup" in _refs(api["AccessLogSetting"])
    assert tpl["Globals"]["Function"]["Timeout"] <= 29  # API Gateway's integration limit
    assert res["WorkQueue"]["Properties"]["VisibilityTimeout"] == 6 * tpl["Globals"]["Function"]["Timeout"]


def test_a_customer_managed_key_encrypts_every_store_and_is_granted() -> None:
    tpl = template()
    res = tpl["Resources"]
    table = res["WorkflowTable"]["Properties"]["SSESpecification"]
    assert "KmsKeyArn" in _refs(table["KMSMasterKeyId"])
    for queue in ("WorkQueue", "WorkDeadLetterQueue", "ExpiryFailureQueue"):
        assert "KmsKeyArn" in _refs(res[queue]["Properties"]["KmsMasterKeyId"]), queue
    bucket = res["PayloadBucket"]["Properties"]["BucketEncryption"]
    assert "KmsKeyArn" in _refs(bucket)
    grants = [p for p in res["WorkflowFunction"]["Properties"]["Policies"] if isinstance(p, _Tag)]
    assert any("KmsKeyArn" in _refs(g) and "kms:GenerateDataKey" in str(g.value) for g in grants)


def test_samconfig_deploys_the_template_s_defaults() -> None:
    import tomllib

    from tests.dev_process import ROOT

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]["deploy"]["parameters"]
    params = template()["Parameters"]
    overrides = dict(item.split("=", 1) for item in config["parameter_overrides"])
    assert set(overrides) <= set(params)
    for name, value in overrides.items():
        assert value == str(params[name]["Default"]), name
    # Every parameter without a usable default is listed or explained in the file.
    text = (ROOT / "samconfig.toml").read_text()
    assert all(name in overrides or name in text for name in params)


def test_the_local_stack_keeps_the_template_s_defaults() -> None:
    """`wf dev` is a small AWS: its function timeout and the days it keeps terminal
    instances (so that its saved state stays bounded) are the template's, and the
    timers' policy is AWS's unless precise timers are asked for."""
    from wf.dev.provision import DEV_RETENTION_DAYS, FUNCTION_TIMEOUT

    tpl = template()
    params, env = tpl["Parameters"], tpl["Resources"]["WorkflowFunction"]["Properties"]["Environment"]["Variables"]
    assert params["RetentionDays"]["Default"] == DEV_RETENTION_DAYS
    assert tpl["Globals"]["Function"]["Timeout"] == FUNCTION_TIMEOUT
    assert params["PreciseTimers"]["Default"] == "false" and _refs(env["WF_PRECISE_TIMERS"]) == {"PreciseTimers"}
