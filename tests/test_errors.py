"""Every failure kind is a class of wf/errors.py; refusals reach HTTP through one table,
faults answer 500 without internal detail, and the CLI tells "cannot reach" apart."""

from __future__ import annotations

import inspect

import pytest

import handler as demo
import wf.errors
from tests.aws_stack import Stack
from wf.aws.http import ERRORS
from wf.cli import EXIT_API_ERROR, EXIT_UNREACHABLE, main
from wf.errors import (
    ActivityAbandonedError,
    FailureDetails,
    PayloadTooLargeError,
    RequestError,
    WorkflowError,
)

P = "/v1.0-beta1/workflows/dapr"


def test_every_error_derives_from_the_one_root() -> None:
    classes = [c for _, c in inspect.getmembers(wf.errors, inspect.isclass) if issubclass(c, BaseException)]
    assert len(classes) > 20
    assert all(issubclass(c, WorkflowError) for c in classes)
    # Every refusal of a management request has its HTTP answer.
    refusals = {c for c in classes if issubclass(c, RequestError) and c is not RequestError}
    assert refusals <= set(ERRORS)
    assert PayloadTooLargeError in ERRORS


def test_recorded_failure_kinds_are_named_by_their_class() -> None:
    failure = FailureDetails.of(ActivityAbandonedError, "gone")
    assert (failure.error_type, failure.message, failure.stack_trace) == ("ActivityAbandonedError", "gone", None)


def test_a_fault_answers_500_without_internal_detail(aws) -> None:
    stack = Stack(demo.wfr)

    def broken(*a, **k):
        raise RuntimeError("secret internal detail: table arn:aws:dynamodb:...")

    stack.engine.store.get_meta = broken  # type: ignore[method-assign]
    code, body = stack.get("any")
    assert (code, body["errorCode"]) == (500, "ERR_GET_WORKFLOW")
    assert "secret" not in body["message"] and "RuntimeError" not in body["message"]
    # A refusal keeps its own message.
    stack.engine.store.get_meta = lambda iid: None  # type: ignore[method-assign]
    code, body = stack.http("POST", f"{P}/nope/pause")
    assert (code, body["errorCode"]) == (404, "ERR_INSTANCE_ID_NOT_FOUND") and "nope" in body["message"]


def test_cli_exit_codes_tell_unreachable_from_other_errors(monkeypatch, capsys, tmp_path) -> None:
    # Nothing listens on port 9 of this machine: the endpoint cannot be reached.
    assert main(["get", "x", "--endpoint", "http://127.0.0.1:9"]) == EXIT_UNREACHABLE
    assert "cannot reach" in capsys.readouterr().err
    # A deployed API without credentials to sign with: reachable or not, that is not the cause.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    url = "https://abc123.execute-api.us-east-1.amazonaws.com/Prod"
    assert main(["get", "x", "--endpoint", url]) == EXIT_API_ERROR
    err = capsys.readouterr().err
    assert "no AWS credentials" in err and "wf dev" not in err


@pytest.mark.parametrize("argv", [["start"], ["get"]])
def test_cli_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
