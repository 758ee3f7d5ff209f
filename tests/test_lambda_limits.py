"""Lambda's and API Gateway's limits on the local stack (`wf dev`, real HTTP), as the
deployed stack applies them: 6 MB each way, the function's timeout, and a JSON answer
with an `errorCode` for every refusal, the HTTP server's own included."""

from __future__ import annotations

import json
import socket
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.dev_process import ROOT, wf_dev
from tests.test_security import call

APP = ROOT / "tests" / "apps" / "limits.py"
P = "/v1.0/workflows/dapr"
LIMIT = 6 * 1024 * 1024
TIMEOUT = 4  # the function's timeout here (--timeout), in seconds: a 2 MB start must fit in it on a loaded machine


@pytest.fixture(scope="module")
def dev(tmp_path_factory) -> Iterator[tuple[str, list[str]]]:
    with wf_dev(tmp_path_factory.mktemp("limits"), APP, "--timeout", str(TIMEOUT)) as (base, _env, lines):
        yield base, lines


def raw(base: str, request: bytes, send_body: bytes = b"") -> bytes:
    url = urllib.parse.urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=60) as s:
        s.sendall(request)
        for start in range(0, len(send_body), 1 << 20):
            s.sendall(send_body[start : start + (1 << 20)])
        chunks = []
        while chunk := s.recv(1 << 16):
            chunks.append(chunk)
    return b"".join(chunks)


def test_requests_over_6_mb_get_413_with_the_limit_named(dev) -> None:
    base, _ = dev
    host = urllib.parse.urlsplit(base).netloc.encode()
    for size in (LIMIT + 1, 7 * 1024 * 1024, 12 * 1024 * 1024):
        body = b'"' + b"x" * (size - 2) + b'"'
        answer = raw(
            base,
            b"POST "
            + f"{P}/twice/start?instanceID=big{size}".encode()
            + b" HTTP/1.1\r\nHost: "
            + host
            + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n",
            body,
        )  # the whole body sent, the answer read: no reset
        head, _, rest = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413"), head
        error = json.loads(rest)
        assert error["errorCode"] == "ERR_PAYLOAD_TOO_LARGE" and "6,291,456 bytes" in error["message"], error
    # Just under: the body fits, but the event it makes (headers, path) is what counts.
    status, data, _ = call(base, "POST", f"{P}/twice/start?instanceID=edge", b'"' + b"y" * (LIMIT - 100) + b'"')
    assert status == 413 and "its Lambda event" in data["message"]
    status, data, _ = call(base, "GET", f"{P}/big{LIMIT + 1}")
    assert status == 404  # nothing was started


def test_no_answer_is_over_6_mb_and_the_payloads_can_still_be_read(dev) -> None:
    base, _ = dev
    text = "z" * (2 * 1024 * 1024)
    status, _, _ = call(base, "POST", f"{P}/twice/start?instanceID=large", json.dumps(text).encode())
    assert status == 202
    deadline = time.monotonic() + 60
    while True:  # the GET is over the limit once the output is in: input 2 MB + output 4 MB
        status, data, resp = call(base, "GET", f"{P}/large")
        if status != 200:
            break
        assert time.monotonic() < deadline, data["runtimeStatus"]
        time.sleep(0.2)
    assert status == 500 and data["errorCode"] == "ERR_RESPONSE_TOO_LARGE", data
    assert "6,291,456 bytes" in data["message"] and "history?pageSize=1" in data["message"]
    assert int(resp.headers["Content-Length"]) < 1000
    # One event a page: each payload comes back whole.
    token, payloads = None, []
    while True:
        path = f"{P}/large/history?pageSize=1" + (f"&continuationToken={token}" if token else "")
        status, page, resp = call(base, "GET", path)
        assert status == 200 and int(resp.headers["Content-Length"]) <= LIMIT
        payloads += [e.get("input") or e.get("result") for e in page["events"] if e.get("input") or e.get("result")]
        token = page.get("continuationToken")
        if not token:
            break
    assert json.loads(payloads[0]) == text and json.loads(payloads[-1]) == text + text


def test_the_function_timeout_ends_an_invocation_as_lambda_does(dev) -> None:
    base, lines = dev
    # An HTTP invocation past the timeout: API Gateway's answer to a failed function.
    status, data, _ = call(base, "POST", f"{P}/slow_code/start?instanceID=slow-code", str(TIMEOUT + 2).encode())
    assert status == 502 and data["errorCode"] == "ERR_FUNCTION_FAILED", data
    assert f"Task timed out after {TIMEOUT:.2f} seconds" in data["message"]
    # Its container was ended; the next request gets another, at once.
    started = time.monotonic()
    status, _, _ = call(base, "GET", "/v1.0/healthz")
    assert status == 204 and time.monotonic() - started < TIMEOUT
    assert call(base, "GET", f"{P}/slow-code")[0] == 404  # nothing was committed: the client may retry
    # A run from SQS that times out: the batch fails, its message comes back after the
    # visibility timeout (six times the function's), and the next run completes it.
    status, _, _ = call(base, "POST", f"{P}/slow_later/start?instanceID=slow-later", str(TIMEOUT + 2).encode())
    assert status == 202
    deadline = time.monotonic() + 6 * TIMEOUT + 60
    while True:
        status, data, _ = call(base, "GET", f"{P}/slow-later")
        if status == 200 and data["runtimeStatus"] == "COMPLETED":
            break
        assert time.monotonic() < deadline, data
        time.sleep(0.5)
    log = "".join(lines)
    assert "Task timed out" in log and "comes back after the visibility timeout" in log, log[-3000:]


def test_the_http_servers_own_refusals_are_json_with_an_error_code(dev) -> None:
    base, _ = dev
    host = urllib.parse.urlsplit(base).netloc.encode()
    for request in (
        b"get /v1.0/healthz HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n",  # a lowercase method
        b"POST /v1.0/healthz HTTP/1.1\r\nHost: " + host + b"\r\nContent-Length: abc\r\nConnection: close\r\n\r\n",
        b"GET /v1.0/healthz HTTP/1.1\r\nHost: " + host + b"\r\nBad Header\r\nConnection: close\r\n\r\n",
    ):
        head, _, rest = raw(base, request).partition(b"\r\n\r\n")
        assert head.split(b" ")[1].startswith(b"4"), head
        assert json.loads(rest)["errorCode"], rest


def test_a_handler_whose_init_outlives_the_timeout_stops_wf_dev_with_the_reason(tmp_path) -> None:
    """The first container starts with the stack: an init that does not finish within
    the function's timeout is reported then, not at the first request."""
    import os
    import subprocess
    import sys

    from tests.dev_process import free_port

    handler = tmp_path / "slow_init.py"
    handler.write_text("import time\ntime.sleep(30)\nlambda_handler = None\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(TMPDIR=str(tmp_path), WF_STATE="off")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "wf.cli",
            "dev",
            "--handler",
            str(handler),
            "--timeout",
            "1",
            "--port",
            str(free_port()),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "init did not finish in 1.00 seconds" in done.stderr, done.stderr
