"""The Dapr Python SDK's workflow examples, run unchanged but for their imports.

Ported from dapr/python-sdk (tests/upstream/NOTICE): the examples of examples/workflow/
(in ``examples/``), and the expected output of upstream's tests/examples/test_workflow.py
and of the examples README (its ``expected_stdout_lines``), kept as they are. Upstream
runs each example with ``dapr run -- python3 example.py`` beside a Dapr sidecar; here
it is ``python3 example.py`` alone: its ``wfr.start()`` starts the local stack in the
example's own process, on the port of ``WF_ENDPOINT``, where its ``DaprWorkflowClient()``
finds it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dev_process import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = Path(__file__).resolve().parent / "examples"

# --- upstream: tests/examples/test_workflow.py ------------------------------------------

EXPECTED_TASK_CHAINING = [
    "Step 1: Received input: 42.",
    "Step 2: Received input: 43.",
    "Step 3: Received input: 86.",
    "Workflow completed! Status: WorkflowStatus.COMPLETED",
]

EXPECTED_FAN_OUT_FAN_IN = [
    "Final result: 110.",
]

EXPECTED_SIMPLE = [
    "Hi Counter!",
    "New counter value is: 1!",
    "New counter value is: 11!",
    "Retry count value is: 0!",
    "Retry count value is: 1! This print statement verifies retry",
    "Get response from hello_world_wf after pause call: SUSPENDED",
    "Get response from hello_world_wf after resume call: RUNNING",
    "New counter value is: 111!",
    "New counter value is: 1111!",
    "Workflow completed! Result: Completed",
]

EXPECTED_HISTORY_PROPAGATION = [
    "*** validating merchant merchant-42",
    "*** process_payment received parent context for merchant 'merchant-42'",
    "*** log_summary saw parent on app",
    'validate_merchant -> completed=True output={"merchant_id": "merchant-42", "valid": true}',
    "*** workflow completed: status=COMPLETED",
]

# Defaults: 5 async activities, 2048B in / 1024B out each, so 5 * 1024 = 5120 bytes aggregated.
EXPECTED_ASYNC_ACTIVITIES = [
    "[async] payload 0: 2048B in -> 1024B out",
    "[sync] 5 results, 5120 bytes",
    "Workflow completed! Status: COMPLETED",
    "Workflow result: 5 results, 5120 bytes",
]

# --- upstream: examples/workflow/README.md (expected_stdout_lines and expected output) ---

EXPECTED_SIMPLE_README = [
    "Hi Counter!",
    "New counter value is: 1!",
    "New counter value is: 11!",
    "Retry count value is: 0!",
    "Retry count value is: 1! This print statement verifies retry",
    "Appending 1 to child_orchestrator_string!",
    "Appending a to child_orchestrator_string!",
    "Appending a to child_orchestrator_string!",
    "Appending 2 to child_orchestrator_string!",
    "Appending b to child_orchestrator_string!",
    "Appending b to child_orchestrator_string!",
    "Appending 3 to child_orchestrator_string!",
    "Appending c to child_orchestrator_string!",
    "Appending c to child_orchestrator_string!",
    "Get response from hello_world_wf after pause call: SUSPENDED",
    "Get response from hello_world_wf after resume call: RUNNING",
    "New counter value is: 111!",
    "New counter value is: 1111!",
    "Workflow completed! Result: Completed",
]

EXPECTED_FAN_OUT_FAN_IN_README = (
    [f"Processing work item: {i}." for i in range(1, 11)]
    + [f"Work item {i} processed. Result: {2 * i}." for i in range(1, 11)]
    + ["Final result: 110."]
)

EXPECTED_PYDANTIC = [
    "[workflow] received order O-100 for Acme amount=42.0",
    "[activity] approving order O-100",
    "[workflow] activity returned approved=True",
    "[client] workflow output: order_id=O-100 approved=True message=auto-approved",
]

EXPECTED_HUMAN_APPROVAL_APPROVED = ["Workflow completed! Result: \"Approved by 'Me'\""]
EXPECTED_HUMAN_APPROVAL_TIMED_OUT = ["*** Workflow timed out!"]
EXPECTED_CHILD_WORKFLOW = ["*** Calling child workflow", "*** Child workflow", "called"]


def run(
    example: str,
    *args: str,
    timeout: float = 90,
    stdin: str | None = None,
    state: Path | None = None,
    port: int | None = None,
) -> str:
    """``python3 example.py`` in the examples folder, its stack on a port of its own;
    returns what it printed (stdout and stderr, as ``dapr run`` shows both). ``state``:
    the stack's state file, for runs that pick up where another left off (else none)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["WF_ENDPOINT"] = f"http://127.0.0.1:{port or free_port()}"
    env["WF_STATE"] = str(state) if state is not None else "off"
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, example, *args],
        cwd=EXAMPLES,
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    return output


def test_task_chaining():
    output = run("task_chaining.py")
    for line in EXPECTED_TASK_CHAINING:
        assert line in output, f"Missing in output: {line}"


def test_fan_out_fan_in():
    output = run("fan_out_fan_in.py")
    for line in EXPECTED_FAN_OUT_FAN_IN + EXPECTED_FAN_OUT_FAN_IN_README:
        assert line in output, f"Missing in output: {line}"


def test_simple_workflow():
    output = run("simple.py")
    for line in EXPECTED_SIMPLE + EXPECTED_SIMPLE_README:
        assert line in output, f"Missing in output: {line}"


def test_simple_workflow_with_the_asyncio_client():
    output = run("simple_aio_client.py")
    for line in EXPECTED_SIMPLE_README:
        assert line in output, f"Missing in output: {line}"


def test_history_propagation():
    output = run("history_propagation.py")
    for line in EXPECTED_HISTORY_PROPAGATION:
        if line not in output:  # the whole output: pytest's assertion message cuts it short
            pytest.fail(f"Missing in output: {line}\n--- output ---\n{output}")


def test_async_activities():
    output = run("async_activities.py")
    for line in EXPECTED_ASYNC_ACTIVITIES:
        assert line in output, f"Missing in output: {line}"


def test_pydantic_models():
    output = run("pydantic_models.py")
    for line in EXPECTED_PYDANTIC:
        assert line in output, f"Missing in output: {line}"


def test_child_workflow():
    output = run("child_workflow.py")
    for line in EXPECTED_CHILD_WORKFLOW:
        assert line in output, f"Missing in output: {line}"


def test_human_approval_approved_and_timed_out():
    output = run("human_approval.py", stdin="\n")
    for line in EXPECTED_HUMAN_APPROVAL_APPROVED:
        assert line in output, f"Missing in output: {line}"
    output = run("human_approval.py", "--timeout", "3")
    for line in EXPECTED_HUMAN_APPROVAL_TIMED_OUT:
        assert line in output, f"Missing in output: {line}"


# Upstream's expected lines (examples/workflow/README.md, "Run the versioning example").
EXPECTED_VERSIONING_PART1 = [
    "test1: triggering workflow",
    "test1: Received workflow call for version1",
    "test1: Finished workflow for version1",
    "test2: triggering workflow",
    "test2: Received workflow call for version1",
    "test2: Finished workflow for version1",
    "test3: triggering workflow",
    "test3: Received workflow call for version2",
    "test3: Finished workflow for version2",
    "test4: start",
    "test4: patch1 is patched",
    "test5: start",
    "test5: patch1 is not patched",
    "test5: patch2 is patched",
    "test6: start",
    "test6: patch1 is patched",
    "test6: patch2 is patched",
    "test7: Received workflow call for version1",
    "test7: Workflow is stalled",
    "test8: Workflow is stalled",
]
EXPECTED_VERSIONING_PART2 = [
    "test100: part2",
    "test100: Finished stalled version1 workflow",
    "test100: Finished stalled patching workflow",
]


def test_versioning(tmp_path: Path):
    """Two processes, as upstream runs it (``dapr run ... part1``, then ``part2``): the
    second restarts the runtime on the first one's state, with the code that fixes its
    stalled workflows, and they finish."""
    state, port = tmp_path / "state.json", free_port()
    output = run("versioning.py", "part1", state=state, port=port)
    for line in EXPECTED_VERSIONING_PART1:
        assert line in output, f"Missing in output: {line}"
    output = run("versioning.py", "part2", state=state, port=port)
    for line in EXPECTED_VERSIONING_PART2:
        assert line in output, f"Missing in output: {line}"
