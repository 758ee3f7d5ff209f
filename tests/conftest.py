from __future__ import annotations

import os

import pytest

from wf.dev import moto_fixes

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.pop("AWS_ENDPOINT_URL", None)
moto_fixes.install()


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
