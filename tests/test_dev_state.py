"""``wf dev`` keeps its instances across restarts (``--state``): what is in the table and
on the queues when it stops, timers still waiting included, is there when it starts
again, in this process or another; ``off`` starts empty."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.dev_process import eventually, free_port
from wf import DaprWorkflowClient, DaprWorkflowContext, WorkflowRuntime, WorkflowStatus
from wf.dev.server import LocalStack
from wf.dev.state import DEFAULT_STATE_FILE, state_file
from wf.errors import EndpointUnreachableError

wfr = WorkflowRuntime()


@wfr.activity(name="double")
def double(ctx: Any, x: int) -> int:
    return 2 * x


@wfr.workflow(name="sleeper")
def sleeper(ctx: DaprWorkflowContext, x: int):
    doubled = yield ctx.call_activity("double", input=x)
    yield ctx.create_timer(timedelta(seconds=8))
    approved = yield ctx.wait_for_external_event("approve")
    return [doubled, approved]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1.0/healthz", timeout=2) as r:
            return r.status == 204
    except OSError:
        return False


def _stack(port: int, state: Path | None) -> LocalStack:
    stack = LocalStack(wfr.lambda_handler, port, state_file=state)
    stack.start()
    return stack


def _wait(client: DaprWorkflowClient, iid: str, until: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get_workflow_state(iid)
        if state is not None and until(state):
            return state
        time.sleep(0.1)
    raise AssertionError(f"{iid}: {client.get_workflow_state(iid)}")


def test_instances_and_their_timers_survive_a_restart(tmp_path: Path) -> None:
    path, port = tmp_path / "state.json", free_port()
    client = DaprWorkflowClient(f"http://127.0.0.1:{port}")
    stack = _stack(port, path)
    try:
        client.schedule_new_workflow("sleeper", input=21, instance_id="kept")
        client.schedule_new_workflow("sleeper", input=1, instance_id="done")
        # The activity runs; then the 8 s timers wait on the queue.
        for iid in ("kept", "done"):
            eventually(
                lambda iid=iid: any(e.event_type == "TimerCreated" for e in client.get_workflow_history(iid)),
                f"{iid}'s timer is created",
            )
    finally:
        stack.stop()
    saved = json.loads(path.read_text())
    timers = [m for m in saved["queues"]["wf-work"] if json.loads(m["body"])["k"] == "timer"]
    assert saved["table"] and len(timers) == 2, "the table and the waiting timers are saved"
    assert all(0 < m["wait"] <= 8 for m in timers)

    stack = _stack(port, path)  # restarted on the same port at once
    try:
        assert client.get_workflow_state("kept").runtime_status is WorkflowStatus.RUNNING
        client.raise_workflow_event("kept", "approve", data="yes")
        state = client.wait_for_workflow_completion("kept", timeout_in_seconds=30)
        assert state.runtime_status is WorkflowStatus.COMPLETED
        assert json.loads(state.serialized_output) == [42, "yes"]
    finally:
        stack.stop()


def test_state_off_starts_empty(tmp_path: Path) -> None:
    port = free_port()
    client = DaprWorkflowClient(f"http://127.0.0.1:{port}")
    stack = _stack(port, None)
    try:
        client.schedule_new_workflow("sleeper", input=1, instance_id="gone")
    finally:
        stack.stop()
    stack = _stack(port, None)
    try:
        assert client.get_workflow_state("gone") is None
    finally:
        stack.stop()


def test_state_file_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WF_STATE", raising=False)
    assert state_file(None) == DEFAULT_STATE_FILE
    assert state_file("off") is None
    assert state_file(str(tmp_path / "s.json")) == tmp_path / "s.json"
    monkeypatch.setenv("WF_STATE", "none")
    assert state_file(None) is None


def test_ctrl_c_in_a_terminal_saves_the_instances(tmp_path: Path) -> None:
    """Ctrl-C reaches every process of the terminal's group, the emulator's too: it
    waits for ``wf dev`` to save before it stops, so the next ``wf dev`` has them."""
    import os
    import signal
    import subprocess
    import sys

    from tests.dev_process import ROOT

    state, port = tmp_path / "state.json", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["WF_STATE"] = str(state)
    client = DaprWorkflowClient(f"http://127.0.0.1:{port}")

    def wf_dev() -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wf.cli", "dev", "--port", str(port), "--handler", str(ROOT / "handler.py")],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # a group of its own, as a terminal's foreground job
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                client.get_workflow_state("probe")
                return proc
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def ctrl_c(proc: subprocess.Popen[str]) -> None:
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0

    proc = wf_dev()
    try:
        client.schedule_new_workflow("hello_world_wf", input=1, instance_id="kept")
        _wait(client, "kept", lambda s: s.runtime_status is WorkflowStatus.RUNNING)
    finally:
        ctrl_c(proc)
    proc = wf_dev()
    try:
        assert client.get_workflow_state("kept").runtime_status is WorkflowStatus.RUNNING
    finally:
        ctrl_c(proc)


def test_closing_its_terminal_saves_the_instances(tmp_path: Path) -> None:
    """A closed terminal hangs up on ``wf dev`` (SIGHUP, and writes to it fail): it
    saves, as on Ctrl-C, so the next ``wf dev`` has the instances."""
    import os
    import select
    import signal
    import subprocess
    import sys

    from tests.dev_process import ROOT

    state, port = tmp_path / "state.json", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["WF_STATE"] = str(state)
    argv = [sys.executable, "-m", "wf.cli", "dev", "--port", str(port), "--handler", str(ROOT / "handler.py")]
    pid, terminal = os.forkpty()  # the child's controlling terminal, as a terminal window's
    if pid == 0:  # pragma: no cover - the child
        os.chdir(tmp_path)
        os.execve(sys.executable, argv, env)
    shown = b""
    deadline = time.monotonic() + 60
    while b"serving" not in shown and time.monotonic() < deadline:
        if select.select([terminal], [], [], 1)[0]:
            shown += os.read(terminal, 4096)
    assert b"serving" in shown, shown.decode(errors="replace")
    client = DaprWorkflowClient(f"http://127.0.0.1:{port}")
    client.schedule_new_workflow("hello_world_wf", input=1, instance_id="kept")
    _wait(client, "kept", lambda s: s.runtime_status is WorkflowStatus.RUNNING)
    # The window closed: its shell passes the hangup on to the whole job (the emulator
    # too), and the terminal is gone, so writing to it fails.
    os.killpg(pid, signal.SIGHUP)
    os.close(terminal)
    deadline = time.monotonic() + 30
    while (ended := os.waitpid(pid, os.WNOHANG))[0] == 0:
        assert time.monotonic() < deadline, "wf dev did not stop on hangup"
        time.sleep(0.1)
    assert os.waitstatus_to_exitcode(ended[1]) == 0
    assert "kept" in state.read_text()
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert client.get_workflow_state("kept").runtime_status is WorkflowStatus.RUNNING
                break
            except EndpointUnreachableError:  # not serving yet
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def test_a_restart_on_the_same_port_at_once_and_log_lines_a_developer_can_read(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """Stopped, `wf dev` is gone in well under a second (shown at the end of the run, not asserted: a
    timing) and the next one binds the same port at once. Its log tells a failed
    activity from a completed one, with the failure's type and message, says why a
    workflow failed, and has no line per polling GET unless --verbose."""
    import signal
    import subprocess
    import sys

    from tests.dev_process import ROOT, wf_dev

    app = ROOT / "tests" / "apps" / "load.py"
    port = free_port()
    with wf_dev(tmp_path, app, port=port) as (base, _, lines):
        client = DaprWorkflowClient(base)
        client.schedule_new_workflow("fails", input="k", instance_id="bad")
        assert client.wait_for_workflow_completion("bad", timeout_in_seconds=60).runtime_status.value == "FAILED"
        client.schedule_new_workflow("five", input=1, instance_id="good")
        client.wait_for_workflow_completion("good", timeout_in_seconds=60)
        eventually(lambda: "good: activity 'double' (task 1) completed" in "".join(lines), "the activity's log line")
    log = "".join(lines)
    emulator = re.search(r"embedded AWS emulator on (\S+)", log)
    assert "bad: activity 'refuses' (task 1) failed: NonRetryableError: no point retrying" in log
    assert "fails bad: RUNNING -> FAILED: TaskFailedError:" in log
    assert "good: activity 'double' (task 1) completed" in log
    assert "POST /v1.0/workflows/dapr/fails/start?instanceID=bad -> 202" in log
    assert "GET /v1.0/workflows/dapr/bad -> 200" not in log  # the client's polling
    assert "sqs activity" not in log

    with wf_dev(tmp_path, app, "--verbose", port=port) as (base, _, lines):
        DaprWorkflowClient(base).get_workflow_state("bad")
        eventually(
            lambda: "GET /v1.0/workflows/dapr/bad -> 200" in "".join(lines), "the verbose request line"
        )  # and it kept "bad" across the restart
    assert re.search(r"restored \d+ items and \d+ messages from .* \(\d+\.\d MB;", "".join(lines))  # and said how much
    # Its emulator where it was: the queue URLs other apps' `wf dev`s hold (--peer) stay right.
    assert emulator is not None and f"embedded AWS emulator on {emulator.group(1)}" in "".join(lines)

    durations = []
    for _ in range(2):
        proc = subprocess.Popen(
            [sys.executable, "-m", "wf.cli", "dev", "--port", str(port), "--handler", str(app)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:  # bound the same port at once (else it says "in use" and exits)
            assert "in use" not in line
            if "serving" in line:
                break
        eventually(lambda: _healthy(port), "it answers")  # stopped while it serves, not while it starts
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        durations.append(time.monotonic() - started)
    record_property("figure", f"wf dev stopped in {', '.join(f'{d * 1000:.0f} ms' for d in durations)}")
