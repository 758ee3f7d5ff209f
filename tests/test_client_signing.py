"""Requests to the deployed API (IAM auth) are SigV4-signed; requests to `wf dev` are not."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from wf import DaprWorkflowClient
from wf.cli import main
from wf.client import signing_region
from wf.errors import WorkflowError


class Capture(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Capture.seen.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
        payload = json.dumps({"instanceID": "i-1"}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server():
    Capture.seen.clear()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_signing_region_comes_from_api_gateway_urls() -> None:
    assert signing_region("https://abc123.execute-api.eu-west-1.amazonaws.com/Prod") == "eu-west-1"
    assert signing_region("http://127.0.0.1:3500") is None
    assert signing_region("https://workflows.example.com", "us-east-2") == "us-east-2"


def test_requests_are_signed_with_sigv4_and_the_signature_verifies(server: str, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    client = DaprWorkflowClient(server, aws_region="us-east-1")
    assert client.schedule_new_workflow("wf", input={"a": 1}, instance_id="i-1") == "i-1"
    (req,) = Capture.seen
    _assert_signed(server, req)


def _assert_signed(server: str, req: dict[str, Any]) -> None:
    auth = req["headers"]["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/execute-api/aws4_request" in auth
    # Recompute the signature for the same request and time: it must match.
    again = AWSRequest(
        method="POST",
        url=server + req["path"],
        data=req["body"],
        headers={
            "Accept": "application/json",
            "Content-Type": "application/json",
            "X-Amz-Date": req["headers"]["X-Amz-Date"],
        },
    )
    again.context["timestamp"] = req["headers"]["X-Amz-Date"]
    signer = SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "execute-api", "us-east-1")
    signature = signer.signature(signer.string_to_sign(again, signer.canonical_request(again)), again)
    assert auth.endswith(f"Signature={signature}")


def test_local_endpoints_are_not_signed_and_missing_credentials_are_explained(server: str, monkeypatch) -> None:
    DaprWorkflowClient(server).schedule_new_workflow("wf")
    assert "Authorization" not in Capture.seen[-1]["headers"]
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(WorkflowError, match="no AWS credentials"):
        DaprWorkflowClient(server, aws_region="us-east-1").schedule_new_workflow("wf")


def test_cli_signs_with_aws_region(server: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert main(["start", "wf", "--endpoint", server, "--aws-region", "us-east-1"]) == 0
    assert capsys.readouterr().out.strip() == "i-1"
    assert Capture.seen[-1]["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256")


def test_the_console_server_signs_what_it_forwards_and_keeps_the_browsers_cookies(server: str, monkeypatch) -> None:
    import urllib.request

    from tests.dev_process import console_proxy

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    with console_proxy(server, aws_region="us-east-1") as (local, proxy):
        request = urllib.request.Request(
            f"{local}/v1.0/workflows/dapr/i-1/raiseEvent/ev%201",
            data=b'{"a": 1}',
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Cookie": "session=browser",
                "X-WF-Console-Key": proxy.policy.console_key,
            },
        )
        with urllib.request.urlopen(request) as r:
            assert r.status == 202
    (req,) = Capture.seen
    assert req["path"] == "/v1.0/workflows/dapr/i-1/raiseEvent/ev%201" and req["body"] == b'{"a": 1}'
    # The browser's cookies and the console's key stay here: only the signature goes on.
    assert "Cookie" not in req["headers"] and "X-WF-Console-Key" not in req["headers"]
    _assert_signed(server, req)
