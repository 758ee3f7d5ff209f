"""Operating many instances against the real local stack (`wf dev`, HTTP): the Python
client's listing, history, rerun and bulk purge, and the CLI commands built on them."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from tests.dev_process import ROOT, wf_dev
from wf.cli import main
from wf.client import DaprWorkflowClient
from wf.core.status import WorkflowStatus
from wf.errors import WorkflowClientError

APP = ROOT / "tests" / "apps" / "load.py"
COUNT = 260


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    with wf_dev(tmp_path_factory.mktemp("operate"), APP) as (base, env, lines):
        yield base, env, lines


def wf(env: dict, base: str, *args: str) -> SimpleNamespace:
    """The `wf` command, run in this process (a subprocess per call would spend a second
    on each interpreter's imports): its exit code and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    saved_stdin, saved_endpoint = sys.stdin, os.environ.get("WF_ENDPOINT")
    os.environ["WF_ENDPOINT"] = base
    sys.stdin = io.StringIO("")  # no terminal to ask on
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --version, --help, bad usage
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdin = saved_stdin
        if saved_endpoint is None:
            os.environ.pop("WF_ENDPOINT", None)
        else:
            os.environ["WF_ENDPOINT"] = saved_endpoint
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def test_listing_250_instances_by_page_with_filters(dev, monkeypatch) -> None:
    base, env, _ = dev
    monkeypatch.setenv("WF_ENDPOINT", base)
    client = DaprWorkflowClient()  # from $WF_ENDPOINT, as the CLI
    ids = [f"op-{n:03d}" for n in range(COUNT)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: client.schedule_new_workflow("collect", input=1, instance_id=i), ids))
    terminated = ids[::4]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(client.terminate_workflow, terminated))
    for iid in terminated:
        client.wait_for_workflow_completion(iid, timeout_in_seconds=60)
    created = {i: client.get_workflow_state(i).created_at for i in ids}
    newest = sorted(ids, key=lambda i: (created[i], i), reverse=True)

    # Every instance, by pages of 37, and the index reports them in order.
    listed, token, pages = [], None, 0
    while True:
        page = client.list_workflow_instance_ids(page_size=37, continuation_token=token)
        assert len(page.instance_ids) <= 37
        listed += page.instance_ids
        pages += 1
        token = page.continuation_token
        if token is None:
            break
    assert [i for i in listed if i.startswith("op-")] == newest and pages >= COUNT // 37
    assert list(client.iter_workflow_instance_ids(page_size=100)) == listed

    # Filters, across pages: status, status and prefix, a time window.
    # (The index follows the records within about a second: retry until it has.)
    def by_status(status: WorkflowStatus) -> list[str]:
        return [s.instance_id for s in client.iter_workflow_instances(status=status, page_size=19)]

    for _ in range(50):
        if by_status(WorkflowStatus.TERMINATED) == [i for i in newest if i in terminated]:
            break
    assert by_status(WorkflowStatus.TERMINATED) == [i for i in newest if i in terminated]
    assert by_status(WorkflowStatus.RUNNING) == [i for i in newest if i not in terminated]
    rows = list(
        client.iter_workflow_instances(status=["RUNNING", "TERMINATED"], instance_id_prefix="op-1", page_size=7)
    )
    assert [r.instance_id for r in rows] == [i for i in newest if i.startswith("op-1")]
    assert {r.name for r in rows} == {"collect"}
    window = sorted(created.values())[100:150]
    got = client.list_workflow_instances(created_from=window[0], created_to=window[-1], page_size=1000).instances
    assert {s.instance_id for s in got} == {i for i in ids if window[0] <= created[i] <= window[-1]}

    # The CLI, on the same listing.
    r = wf(env, base, "list", "--status", "terminated", "--prefix", "op-", "--limit", "0", "-o", "json")
    assert r.returncode == 0, r.stderr
    assert [row["instanceID"] for row in json.loads(r.stdout)] == [i for i in newest if i in terminated]
    r = wf(env, base, "list", "--prefix", "op-", "--limit", "5", "-o", "wide")
    lines = r.stdout.splitlines()
    assert lines[0].split() == [
        "INSTANCE",
        "ID",
        "WORKFLOW",
        "STATUS",
        "CREATED",
        "(UTC)",
        "LAST",
        "UPDATED",
        "(UTC)",
        "PARENT",
    ]
    assert [line.split()[0] for line in lines[1:]] == newest[:5]
    assert "--limit 0 lists them all" in r.stderr
    r = wf(env, base, "list", "--since", "1h", "--name", "collect", "--limit", "0")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == COUNT + 1
    assert wf(env, base, "list", "--status", "DONE").returncode == 1
    assert "ERR_INVALID_FILTER" in wf(env, base, "list", "--status", "DONE").stderr
    assert wf(env, base, "list", "--since", "yesterday").returncode == 2

    # Bulk purge: refused without --yes when nobody can answer, then done.
    r = wf(env, base, "purge", "--status", "TERMINATED", "--prefix", "op-")
    assert r.returncode == 2 and f"would purge {len(terminated)} instances" in r.stderr
    r = wf(env, base, "purge", "--status", "TERMINATED", "--prefix", "op-", "--yes")
    assert (r.returncode, r.stdout.strip()) == (0, f"purged {len(terminated)} instances"), r.stderr
    assert client.get_workflow_state(terminated[0]) is None
    assert client.purge_workflows(status="TERMINATED", instance_id_prefix="op-") == 0
    with pytest.raises(WorkflowClientError) as refused:
        client.purge_workflows(status="RUNNING")
    assert refused.value.error_code == "ERR_INVALID_FILTER"
    assert wf(env, base, "purge").returncode == 2


def test_history_rerun_and_readable_failures(dev) -> None:
    base, env, _ = dev
    client = DaprWorkflowClient(base)
    client.schedule_new_workflow("fast_retries", input="h1", instance_id="hist-1")
    assert (
        client.wait_for_workflow_completion("hist-1", timeout_in_seconds=60).runtime_status is WorkflowStatus.COMPLETED
    )
    events = client.get_workflow_history("hist-1")
    kinds = [e.event_type for e in events]
    assert kinds[1] == "ExecutionStarted" and kinds[-1] == "ExecutionCompleted"
    failed = [e for e in events if e.event_type == "TaskFailed"]
    assert len(failed) == 3  # two attempts of fails_twice, one of refuses
    assert failed[-1].failure_details.error_type == "NonRetryableError"
    assert "Traceback" in failed[-1].failure_details.stack_trace
    scheduled = {e.event_id: e.name for e in events if e.event_type == "TaskScheduled"}
    assert set(scheduled.values()) == {"fails_twice", "refuses"}

    r = wf(env, base, "history", "hist-1")
    assert r.returncode == 0, r.stderr
    table = r.stdout.splitlines()
    assert table[0].split()[:4] == ["EVENT", "ID", "TIME", "(UTC)"]
    assert any("TaskFailed" in line and "NonRetryableError: no point retrying" in line for line in table)
    # The stack trace as lines, not one escaped string.
    assert any(line.startswith("Traceback (most recent call last):") for line in table)
    r = wf(env, base, "history", "hist-1", "-o", "json")
    assert [e["eventType"] for e in json.loads(r.stdout)] == kinds

    # A failed workflow: `wf get` prints its JSON, then the trace readably.
    client.schedule_new_workflow("fails", input="f1", instance_id="fail-1")
    client.wait_for_workflow_completion("fail-1", timeout_in_seconds=60)
    r = wf(env, base, "get", "fail-1")
    assert json.loads(r.stdout)["runtimeStatus"] == "FAILED"
    assert "failed: TaskFailedError" in r.stderr and "\nTraceback (most recent call last):\n" in r.stderr

    # Rerun from an activity: `five` runs its fan-out again with a new input for it.
    client.schedule_new_workflow("five", input=10, instance_id="five-1")
    assert json.loads(client.wait_for_workflow_completion("five-1").serialized_output) == [20, 22, 24, 26, 28]
    task = next(e.event_id for e in client.get_workflow_history("five-1") if e.event_type == "TaskScheduled")
    new = client.rerun_workflow_from_event("five-1", task, new_instance_id="five-2", input=100)
    assert new == "five-2"
    state = client.wait_for_workflow_completion("five-2")
    assert json.loads(state.serialized_output) == [200, 22, 24, 26, 28]
    r = wf(env, base, "rerun", "five-1", "--new-id", "five-3")
    assert (r.returncode, r.stdout.strip()) == (0, "five-3"), r.stderr
    assert json.loads(client.wait_for_workflow_completion("five-3").serialized_output) == [20, 22, 24, 26, 28]
    r = wf(env, base, "rerun", "five-1", "--from-event", "999")
    assert r.returncode == 1 and "ERR_INVALID_EVENT_ID" in r.stderr

    # The asyncio client: the same calls, awaited.
    async def from_asyncio() -> tuple[list[str], list[str], str]:
        from wf.aio import DaprWorkflowClient as AsyncClient

        aclient = AsyncClient(base)
        ids = [i async for i in aclient.iter_workflow_instance_ids(page_size=200)]
        history = [e.event_type for e in await aclient.get_workflow_history("five-1")]
        new = await aclient.rerun_workflow_from_event("five-1", new_instance_id="five-4")
        return ids, history, new

    ids, history, new = asyncio.run(from_asyncio())
    assert {"five-1", "five-2", "hist-1", "fail-1"} <= set(ids) and history[1] == "ExecutionStarted"
    assert new == "five-4"

    # Waiting with a timeout ends with its own exit code.
    client.schedule_new_workflow("collect", input=1, instance_id="slow-1")
    r = wf(env, base, "get", "slow-1", "--wait", "--timeout", "0.5")
    assert r.returncode == 4 and "still RUNNING" in r.stderr


def test_cli_version_help_and_completion(dev) -> None:
    base, env, _ = dev
    r = wf(env, base, "--version")
    assert r.returncode == 0 and r.stdout.startswith("wf ")
    for command in ("list", "history", "rerun", "purge", "get", "start", "dev"):
        r = wf(env, base, command, "--help")
        assert r.returncode == 0
        # Every option has a help line, and those with a default show it.
        assert "(default:" in r.stdout or command in ("history",)
    assert "4  `get --wait --timeout S`" in wf(env, base, "--help").stdout
    script = wf(env, base, "completion", "bash").stdout
    check = subprocess.run(
        ["bash", "-c", script + '\nCOMP_WORDS=(wf lis); COMP_CWORD=1; _wf; echo "${COMPREPLY[@]}"'],
        capture_output=True,
        text=True,
    )
    assert check.stdout.split() == ["list"]
    check = subprocess.run(
        ["bash", "-c", script + '\nCOMP_WORDS=(wf list --st); COMP_CWORD=2; _wf; echo "${COMPREPLY[@]}"'],
        capture_output=True,
        text=True,
    )
    assert check.stdout.split() == ["--status"]
    assert wf(env, base, "completion", "zsh").stdout.startswith("#compdef wf")


def test_wf_console_serves_the_console_and_forwards_the_api(dev) -> None:
    """`wf console --endpoint URL`'s server: the console's files, and the console's calls
    passed on to the API (unsigned here: a local endpoint), the API's errors as they are.
    What it refuses: tests/test_security.py."""
    import urllib.error
    import urllib.request

    from tests.dev_process import console_proxy

    base, _, _ = dev
    with console_proxy(base) as (local, proxy):
        with urllib.request.urlopen(proxy.url) as r:
            assert r.status == 200 and "text/html" in r.headers["Content-Type"] and b"console.js" in r.read()
        with urllib.request.urlopen(f"{local}/ui/console.js") as r:
            assert "javascript" in r.headers["Content-Type"]
        client = DaprWorkflowClient(base)
        client.schedule_new_workflow("five", input=3, instance_id="via-console")
        client.wait_for_workflow_completion("via-console")

        def forwarded(path: str) -> tuple[int, dict]:
            headers = {"X-WF-Console-Key": proxy.policy.console_key, "Accept": "application/json"}
            try:
                with urllib.request.urlopen(urllib.request.Request(local + path, headers=headers)) as r:
                    return r.status, json.load(r)
            except urllib.error.HTTPError as exc:
                return exc.code, json.load(exc)

        status, got = forwarded("/v1.0/workflows/dapr/via-console")
        assert status == 200 and json.loads(got["properties"]["dapr.workflow.output"]) == [6, 8, 10, 12, 14]
        status, listed = forwarded("/v1.0/workflows/dapr?instanceIDPrefix=via-console")
        assert status == 200 and [i["workflowName"] for i in listed["instances"]] == ["five"]
        status, missing = forwarded("/v1.0/workflows/dapr/nobody-here/history")
        assert status == 404 and missing["errorCode"] == "ERR_INSTANCE_ID_NOT_FOUND"
