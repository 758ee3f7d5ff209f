"""The README's quickstart, run for real: a `wf dev` subprocess (embedded moto server,
real HTTP), the curl sequence with its documented answers, the Dapr SDK-style calls and
the people CLI."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.dev_process import ROOT, free_port, wf_dev
from wf import DaprWorkflowClient, WorkflowStatus
from wf.client import DaprClient

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$")


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    with wf_dev(tmp_path_factory.mktemp("wfdev")) as running:
        yield running


def readme_calls() -> list[tuple[list[str], dict]]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Quickstart")[1].split("```bash")[1].split("```")[0]
    calls, command = [], ""
    for line in block.strip().splitlines():
        if line.startswith("# "):
            calls.append((shlex.split(command), json.loads(line[2:])))
            command = ""
        else:
            command += line.rstrip("\\") + " "
    return calls


def run_curl(args: list[str], base: str) -> dict:
    method, url, data, headers = "GET", "", None, {}
    it = iter(args[1:])
    for a in it:
        if a == "-X":
            method = next(it)
        elif a == "-H":
            k, v = next(it).split(": ", 1)
            headers[k] = v
        elif a == "-d":
            data = next(it).encode()
        elif a.startswith("http"):
            url = a.replace("http://localhost:3500", base)
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


def test_readme_curl_sequence_returns_what_the_readme_says(dev) -> None:
    base, _, lines = dev
    check_readme_curl_sequence(base)
    # One readable line per request and per state change.
    log = "".join(lines)
    assert "POST /v1.0-beta1/workflows/dapr/OrderProcessingWorkflow/start?instanceID=12345678 -> 202" in log
    assert "OrderProcessingWorkflow 12345678: RUNNING -> SUSPENDED" in log
    assert "OrderProcessingWorkflow 12345678: RUNNING -> COMPLETED" in log
    # Its status-change events, published to the emulator's EventBridge.
    assert "event: OrderProcessingWorkflow 12345678: RUNNING -> SUSPENDED" in log
    assert "event: OrderProcessingWorkflow 12345678: RUNNING -> COMPLETED" in log


def check_readme_curl_sequence(base: str, settle_s: float = 15) -> None:
    """The README's quickstart curl calls against ``base``, each answering as documented
    (a GET may take ``settle_s`` to show a change its 202 accepted)."""
    calls = readme_calls()
    assert len(calls) == 10
    for args, expected in calls:
        deadline = time.monotonic() + settle_s
        while True:
            actual = run_curl(args, base)
            comparable = dict(actual)
            for key in ("createdAt", "lastUpdatedAt"):
                if key in expected:
                    assert TIMESTAMP.match(actual.get(key, "")), actual
                    comparable[key] = expected[key]
            is_get = "-X" not in args
            if comparable == expected or not is_get or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # pause/resume/raise are applied a moment after their 202
        assert comparable == expected, (args, actual)


def test_dapr_sdk_style_clients(dev) -> None:
    base, _, _ = dev
    # The JS SDK polls metadata first, then uses /v1.0-beta1 with component dapr,
    # strings as text/plain and objects as JSON.
    with urllib.request.urlopen(base + "/v1.0/metadata") as r:
        assert json.loads(r.read())
    host, port = base.removeprefix("http://").split(":")
    client = DaprWorkflowClient(host=host, port=port)  # Dapr's constructor keywords
    iid = client.schedule_new_workflow("hello_world_wf", input={"who": "js"})
    assert client.wait_for_workflow_start(iid, timeout_in_seconds=10) is not None
    req = urllib.request.Request(
        f"{base}/v1.0-beta1/workflows/dapr/{iid}/raiseEvent/event1",
        data=b"hello",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(req) as r:
        assert r.status == 202
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=20)
    assert state is not None and state.runtime_status is WorkflowStatus.COMPLETED
    assert json.loads(state.serialized_output or "") == "Hello World!"
    seed = DaprClient(base)
    started = seed.start_workflow("dapr", "hello_world_wf", input=0, instance_id="seed-1")
    got = seed.get_workflow(started.instance_id, "dapr")
    assert got.workflow_name == "hello_world_wf" and got.properties["dapr.workflow.input"] == "0"
    seed.terminate_workflow("seed-1", "dapr")
    client.wait_for_workflow_completion("seed-1", timeout_in_seconds=10)
    seed.purge_workflow("seed-1", "dapr")
    assert client.get_workflow_state("seed-1") is None


def wf_cli(env: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wf.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_people_cli(dev) -> None:
    base, env, _ = dev
    env = {**env, "WF_ENDPOINT": base}
    r = wf_cli(env, "start", "hello_world_wf", "--id", "cli-1", "--input", "hi")
    assert (r.returncode, r.stdout.strip()) == (0, "cli-1")
    r = wf_cli(env, "start", "nope")
    assert r.returncode == 1 and "ERR_WORKFLOW_NOT_FOUND" in r.stderr
    assert wf_cli(env, "raise", "cli-1", "EVENT1", "--data", "x").returncode == 0
    r = wf_cli(env, "get", "cli-1", "--wait", "--timeout", "30")
    assert r.returncode == 0 and json.loads(r.stdout)["runtimeStatus"] == "COMPLETED"
    r = wf_cli(env, "invoke", "events/get.json")
    assert r.returncode == 1 and json.loads(r.stdout)["statusCode"] == 404  # 12345678 was purged
    # Another port: no stack of ours there (nor any other's taken for it).
    other = f"http://127.0.0.1:{free_port()}"
    r = wf_cli(env, "invoke", "events/get.json", "--endpoint", other)
    assert r.returncode == 3 and f"no local stack of yours serves {other}" in r.stderr, r.stderr
    r = wf_cli(env, "get", "x", "--endpoint", f"http://127.0.0.1:{free_port()}")
    assert r.returncode == 3 and "cannot reach" in r.stderr


def test_the_real_dapr_js_sdk_works_unchanged(dev, dapr_js) -> None:
    base, _, _ = dev
    run = dapr_js(base.rsplit(":", 1)[1])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "dapr js sdk: ok" in run.stdout


def test_wf_dev_uses_an_existing_emulator_from_aws_endpoint_url(tmp_path) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    emulator = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    emulator.start()
    try:
        host, port = emulator.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        api_port = free_port()
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint,
            "TMPDIR": str(tmp_path),
            "WF_STATE": str(tmp_path / "wf-state.json"),
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "wf.cli", "dev", "--port", str(api_port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            client = DaprWorkflowClient(f"http://127.0.0.1:{api_port}")
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.schedule_new_workflow("hello_world_wf", instance_id="ext-1")
                    break
                except Exception:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.3)
            client.raise_workflow_event("ext-1", "event1", data=1)
            state = client.wait_for_workflow_completion("ext-1", timeout_in_seconds=20)
            assert state is not None and state.runtime_status is WorkflowStatus.COMPLETED
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=20)
        assert "embedded AWS emulator" not in out
        ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        items = ddb.query(
            TableName="wf-instances", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "ext-1"}}
        )["Items"]
        assert any(i["sk"]["S"] == "META" for i in items)
    finally:
        emulator.stop()


def test_wf_dev_explains_what_stops_it(tmp_path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "WF_STATE": str(tmp_path / "wf-state.json")}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        r = wf_cli(env, "dev", "--port", port)
    assert r.returncode == 3 and f"port {port} on 127.0.0.1 is in use" in r.stderr
    r = wf_cli(env, "dev", "--port", str(free_port()), "--handler", str(tmp_path / "missing.py"))
    assert r.returncode == 2 and "does not exist" in r.stderr
    (tmp_path / "app.py").write_text("x = 1\n")
    r = wf_cli(env, "dev", "--port", str(free_port()), "--handler", str(tmp_path / "app.py"))
    assert r.returncode == 2 and "has no lambda_handler" in r.stderr


def test_wf_check_passes_on_a_working_stack_and_says_what_failed(dev) -> None:
    base, env, _ = dev
    r = wf_cli({**env, "WF_ENDPOINT": base}, "check")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["ok"] * 5 + ["check"] and lines[-1] == "check passed", lines
    iid = lines[0].split()[-1]
    assert iid.startswith("wf-check-")
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(f"{base}/v1.0-beta1/workflows/dapr/{iid}")
    assert gone.value.code == 404  # its instances purged
    r = wf_cli(env, "check", "--endpoint", base, "--component", "nope")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED  start" in r.stdout and "ERR_WORKFLOW_COMPONENT_NOT_FOUND" in r.stdout, r.stdout
    assert r.stdout.endswith("check FAILED\n")


def test_cli_instance_ids_are_sent_as_given(dev) -> None:
    """An ID with URL characters is the ID, not a query or a fragment: refused whole as
    invalid (exit 1, the API's error), never cut short into another instance's ID."""
    base, env, _ = dev
    env = {**env, "WF_ENDPOINT": base}
    for iid in ("abc&x=1", "q#frag", "bad id!"):
        r = wf_cli(env, "start", "hello_world_wf", "--id", iid)
        assert r.returncode == 1, (iid, r.stdout, r.stderr)
        assert "ERR_INSTANCE_ID_INVALID" in r.stderr and "Traceback" not in r.stderr, r.stderr
    for cut in ("abc", "q", "bad"):
        assert wf_cli(env, "get", cut).returncode == 1  # nothing started under a cut ID


def test_help_says_each_default_once() -> None:
    for command in ("dev", "start", "list", "purge", "check", "console", "invoke"):
        r = wf_cli(dict(os.environ), command, "--help")
        text = " ".join(r.stdout.split())
        assert r.returncode == 0 and "(default: None)" not in text and "(default: False)" not in text, text
        assert not re.search(r"\(default:[^()]*(\([^()]*\))?[^()]*\) \(default:", text), text


def test_the_readme_s_workflow_and_its_test_run_as_written(tmp_path) -> None:
    """The README's "Writing a workflow" file and "Testing a workflow" test, copied as a
    reader would (app.py, test_app.py), pass under pytest in a folder of their own."""
    import re
    import sys

    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    app = next(b for b in blocks if "lambda_handler = wfr.lambda_handler" in b and "hello_world_wf" in b)
    test = next(b for b in blocks if "WorkflowTestEnvironment" in b)
    (tmp_path / "app.py").write_text(app)
    (tmp_path / "test_app.py").write_text(test)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "test_app.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 passed" in run.stdout
