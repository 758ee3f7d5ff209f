"""What the local servers accept (docs/security.md): `wf dev` and `wf console`'s signing
proxy refuse what a web page can make a browser send them (a cross-site "simple" POST, a
DNS-rebound Host), the proxy forwards only the console's own calls with this run's key,
and `wf dev` honours Dapr's DAPR_API_TOKEN; the CLI and both clients work as before.
The browser's side of this (a hostile page, hostile payloads) is in tests/test_console.py."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.dev_process import ROOT, console_proxy, wf_dev
from wf.cli import main
from wf.client import DaprWorkflowClient
from wf.console.guard import GuardPolicy, Refusal, allowed_hosts, check
from wf.console.proxy import ConsoleProxy, is_console_call
from wf.errors import WorkflowClientError

APP = ROOT / "tests" / "apps" / "console.py"


def call(
    base: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict | None, http.client.HTTPResponse]:
    """One raw request: any Host, Origin or path, as a browser or a forger sends it."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    headers = {"Host": url.netloc, **(headers or {})}
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = None
    return resp.status, data, resp


@pytest.fixture(scope="module")
def dev(tmp_path_factory) -> Iterator[tuple[str, DaprWorkflowClient, list[str]]]:
    with wf_dev(tmp_path_factory.mktemp("security"), APP) as (base, _env, lines):
        yield base, DaprWorkflowClient(base), lines


@pytest.fixture
def proxy(dev) -> Iterator[tuple[str, ConsoleProxy]]:
    with console_proxy(dev[0]) as running:
        yield running  # type: ignore[misc]


def _victims(client: DaprWorkflowClient, tag: str) -> tuple[str, str]:
    """A waiting instance (``tag``) and a terminated one (``tag``-done), the targets."""
    running, done = tag, f"{tag}-done"
    client.schedule_new_workflow("idle", input=1, instance_id=running)
    client.schedule_new_workflow("idle", input=1, instance_id=done)
    client.terminate_workflow(done)
    client.wait_for_workflow_completion(done)
    client.wait_for_workflow_start(running)
    return running, done


def _forgeries(running: str, done: str) -> list[tuple[str, str]]:
    """A page's "simple" POSTs (text/plain, no preflight): terminate, raise, bulk purge."""
    return [
        ("POST", f"/v1.0-beta1/workflows/dapr/{running}/terminate"),
        ("POST", f"/v1.0-beta1/workflows/dapr/{running}/raiseEvent/never"),
        ("POST", f"/v1.0/workflows/dapr/{running}/pause"),
        ("POST", "/v1.0/workflows/dapr/purge?status=TERMINATED"),
        ("POST", f"/v1.0/workflows/dapr/{done}/purge"),
    ]


def _untouched(client: DaprWorkflowClient, running: str, done: str) -> None:
    state = client.get_workflow_state(running)
    assert state is not None and state.runtime_status.name == "RUNNING"
    assert not [e for e in client.get_workflow_history(running) if e.event_type == "EventRaised"]
    assert client.get_workflow_state(done) is not None  # not purged


def test_wf_dev_refuses_cross_site_requests_and_foreign_hosts_which_take_no_effect(dev) -> None:
    base, client, lines = dev
    running, done = _victims(client, "victim")
    port = urllib.parse.urlsplit(base).port
    plain = {"Content-Type": "text/plain"}
    cross_site = [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame, a file: page
        {"Origin": f"http://127.0.0.1:{port + 1}"},  # another local server's page
        {"Origin": f"http://evil.example:{port}"},
        {"Sec-Fetch-Site": "cross-site"},  # a browser that sent no Origin
        {"Sec-Fetch-Site": "same-site"},  # localhost:OTHER is the same site
    ]
    for method, path in _forgeries(running, done):
        for marks in cross_site:
            status, data, resp = call(base, method, path, b"forged", {**plain, **marks})
            assert status == 403, (path, marks, status, data)
            assert data["errorCode"] == "ERR_FORBIDDEN_ORIGIN" and resp.headers["Content-Type"] == "application/json"
        # DNS rebinding: a page of evil.example, whose name now points at 127.0.0.1.
        for host in (f"evil.example:{port}", f"127.0.0.1.nip.io:{port}", f"localhost:{port + 1}", "localhost"):
            status, data, _ = call(base, method, path, b"forged", {**plain, "Host": host})
            assert status == 403 and data["errorCode"] == "ERR_FORBIDDEN_HOST", (path, host, status, data)
            assert "--allow-host" in data["message"]
    status, data, _ = call(base, "GET", f"/v1.0/workflows/dapr/{running}", headers={"Host": f"evil.example:{port}"})
    assert status == 403 and data["errorCode"] == "ERR_FORBIDDEN_HOST"  # nothing read back either
    _untouched(client, running, done)
    assert any("wf dev refused POST" in line and "ERR_FORBIDDEN_ORIGIN" in line for line in lines)

    # Its own pages and every name of the loopback pass; so do requests with no Origin.
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
        own = {"Host": host, "Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}
        status, data, _ = call(base, "GET", f"/v1.0/workflows/dapr/{running}", headers=own)
        assert status == 200 and data["runtimeStatus"] == "RUNNING", (host, data)
    status, _, _ = call(base, "POST", f"/v1.0/workflows/dapr/{running}/pause", b"", {"Origin": base})
    assert status == 202
    status, _, _ = call(base, "POST", f"/v1.0/workflows/dapr/{running}/resume", b"", {"Sec-Fetch-Site": "none"})
    assert status == 202
    # The CLI and the Python client (the JS client: tests/test_readme.py) as before.
    assert main(["raise", running, "never", "--data", '"ok"', "--endpoint", base]) == 0
    assert json.loads(client.wait_for_workflow_completion(running).serialized_output) == "ok"
    assert main(["purge", done, "--endpoint", base]) == 0


def test_the_console_proxy_forwards_only_the_consoles_own_calls(dev, proxy) -> None:
    base, client, _ = dev
    local, app = proxy
    running, done = _victims(client, "proxied")
    key = {"X-WF-Console-Key": app.policy.console_key}

    # The page: only at the address the proxy printed, and it carries the key.
    status, data, _ = call(local, "GET", "/ui")
    assert status == 401 and data["errorCode"] == "ERR_API_TOKEN" and "?token=" in data["message"]
    status, _, _ = call(local, "GET", "/ui?token=wrong")
    assert status == 401
    page = urllib.parse.urlsplit(app.url)
    assert page.path == "/ui" and page.netloc == urllib.parse.urlsplit(local).netloc
    conn = http.client.HTTPConnection(page.hostname, page.port)
    conn.request("GET", f"{page.path}?{page.query}")
    resp = conn.getresponse()
    html = resp.read().decode()
    assert resp.status == 200 and f'<meta name="wf-console-key" content="{app.policy.console_key}">' in html
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"
    status, _, resp = call(local, "GET", "/ui/console.js")  # the script is the package's own file
    assert status == 200 and "javascript" in resp.headers["Content-Type"]

    # Forged: from another site, from a rebound name, or with no key even with no Origin.
    for method, path in _forgeries(running, done):
        for headers, code in (
            ({"Origin": "https://evil.example", **key}, "ERR_FORBIDDEN_ORIGIN"),
            ({"Host": "evil.example:80", **key}, "ERR_FORBIDDEN_HOST"),
            ({}, None),  # no key: refused (the console's calls) or not forwarded (bulk purge)
            ({"X-WF-Console-Key": "guessed"}, None),
        ):
            status, data, _ = call(local, method, path, b"forged", {"Content-Type": "text/plain", **headers})
            assert status == 403, (path, headers, status, data)
            assert data["errorCode"] in ((code,) if code else ("ERR_CONSOLE_KEY", "ERR_NOT_FORWARDED")), data
    _untouched(client, running, done)

    # What the console never calls is not forwarded, key or not.
    for method, path in (
        ("POST", "/v1.0/workflows/dapr/idle/start?instanceID=by-proxy"),
        ("POST", "/v1.0/workflows/dapr/purge?status=TERMINATED"),
        ("GET", "/v1.0/openapi.json"),
        ("GET", "/docs"),
        ("GET", f"/v1.0-beta1/workflows/dapr/{running}"),
        ("DELETE", f"/v1.0/workflows/dapr/{running}"),
        ("GET", f"/v1.0/workflows/dapr/{running}/../../../openapi.json"),
        ("GET", f"/v1.0/workflows/dapr/%2e%2e/{running}"),
        ("PUT", f"/v1.0/workflows/dapr/{running}/pause"),
    ):
        status, data, _ = call(local, method, path, b"", key)
        assert status == 403 and data["errorCode"] == "ERR_NOT_FORWARDED", (method, path, data)
    assert client.get_workflow_state("by-proxy") is None  # not started

    # The console's own calls, with the key, are forwarded (encoded paths as encoded).
    for method, path, want in (
        ("GET", "/v1.0/metadata", 200),
        ("GET", "/v1.0/workflows/dapr?instanceIDPrefix=proxied", 200),
        ("GET", f"/v1.0/workflows/dapr/{running}", 200),
        ("GET", f"/v1.0/workflows/dapr/{running}/history", 200),
        ("POST", f"/v1.0/workflows/dapr/{running}/pause", 202),
        ("POST", f"/v1.0/workflows/dapr/{running}/resume", 202),
        ("POST", f"/v1.0/workflows/dapr/{running}/raiseEvent/a%20note", 202),
    ):
        status, data, _ = call(local, method, path, b"", {**key, "Origin": local, "Sec-Fetch-Site": "same-origin"})
        assert status == want, (method, path, status, data)
    names = [e.name for e in client.get_workflow_history(running) if e.event_type == "EventRaised"]
    assert names == ["a note"]
    status, data, _ = call(local, "POST", f"/v1.0/workflows/dapr/{running}/terminate", b"", key)
    assert status == 202
    assert client.wait_for_workflow_completion(running).runtime_status.name == "TERMINATED"


def test_wf_dev_honours_dapr_api_token_and_the_clients_send_it(tmp_path, monkeypatch, dapr_js) -> None:
    token = "s3cret-token"
    monkeypatch.setenv("DAPR_API_TOKEN", token)
    with wf_dev(tmp_path) as (base, env, lines):  # its health check passed with no token
        monkeypatch.delenv("DAPR_API_TOKEN")
        for headers in ({}, {"dapr-api-token": "wrong"}, {"dapr-api-token": ""}):
            status, data, _ = call(base, "GET", "/v1.0/workflows/dapr", headers=headers)
            assert status == 401 and data["errorCode"] == "ERR_API_TOKEN", (headers, data)
        status, data, _ = call(base, "POST", "/v1.0/workflows/dapr/hello_world_wf/start?instanceID=no-token", b"1")
        assert status == 401
        with pytest.raises(WorkflowClientError) as refused:
            DaprWorkflowClient(base).get_workflow_state("no-token")
        assert refused.value.status == 401 and refused.value.error_code == "ERR_API_TOKEN"
        status, _, _ = call(base, "GET", "/v1.0/healthz")  # open, as Dapr's
        assert status == 204

        # The clients send $DAPR_API_TOKEN: the Python client, the CLI, Dapr's JS SDK.
        monkeypatch.setenv("DAPR_API_TOKEN", token)
        client = DaprWorkflowClient(base)
        client.schedule_new_workflow("hello_world_wf", input="tok", instance_id="with-token")
        client.raise_workflow_event("with-token", "event1", data="go")
        assert client.wait_for_workflow_completion("with-token").runtime_status.name == "COMPLETED"
        assert main(["get", "with-token", "--endpoint", base]) == 0
        run = dapr_js(base.rsplit(":", 1)[1], {**env, "DAPR_API_TOKEN": token})
        assert run.returncode == 0 and "dapr js sdk: ok" in run.stdout, run.stdout + run.stderr
        run = dapr_js(base.rsplit(":", 1)[1], {k: v for k, v in env.items() if k != "DAPR_API_TOKEN"})
        assert run.returncode != 0  # and without it, refused

        # The console: its page only for ?token=..., then its key stands for the token.
        status, data, _ = call(base, "GET", "/ui")
        assert status == 401 and "DAPR_API_TOKEN" in data["message"]
        status, _, _ = call(base, "GET", f"/ui?token={token}")
        assert status == 200
        conn = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]))
        conn.request("GET", f"/ui?token={token}")
        html = conn.getresponse().read().decode()
        console_key = html.split('name="wf-console-key" content="', 1)[1].split('"', 1)[0]
        assert len(console_key) >= 32
        status, data, _ = call(
            base, "GET", "/v1.0/workflows/dapr/with-token", headers={"X-WF-Console-Key": console_key}
        )
        assert status == 200 and data["runtimeStatus"] == "COMPLETED"

        # The console proxy passes the token on to the API it forwards to.
        with console_proxy(base) as (local, app):
            key = {"X-WF-Console-Key": app.policy.console_key}
            status, data, _ = call(local, "GET", "/v1.0/workflows/dapr/with-token", headers=key)
            assert status == 200 and data["instanceID"] == "with-token"
    log = "".join(lines)
    assert "/ui?token=$DAPR_API_TOKEN" in log and token not in log  # where it goes, never the token itself


def test_hosts_a_server_answers() -> None:
    hosts = allowed_hosts("127.0.0.1", 3500, ["dev.internal", "box:8443", " "])
    assert hosts == {
        "127.0.0.1:3500",
        "localhost:3500",
        "[::1]:3500",
        "dev.internal:3500",
        "box:8443",
    }
    assert "0.0.0.0:3500" not in allowed_hosts("0.0.0.0", 3500)
    assert "[fe80::1]:80" in allowed_hosts("fe80::1", 80)
    policy = GuardPolicy(hosts, "k" * 32)

    def refusal(**headers: str) -> Refusal | None:
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/v1.0/workflows/dapr/x/terminate"}
        environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
        found = check(policy, environ)
        return None if found is None else found[0]

    assert refusal() is None  # no browser: the CLI, curl
    assert refusal(host="dev.internal:3500", origin="http://dev.internal:3500") is None
    assert refusal(host="box:8443", origin="https://box:8443") is None
    assert refusal(host="box:8443", origin="https://box") is Refusal.ORIGIN  # port 443, not 8443
    assert refusal(host="localhost:3500", origin="http://localhost:3500.evil.example") is Refusal.ORIGIN
    assert refusal(host="localhost:3500", origin="ftp://localhost:3500") is Refusal.ORIGIN
    assert refusal(host="evil:3500") is Refusal.HOST


def test_what_the_console_calls_is_what_the_proxy_forwards() -> None:
    """Every call in console.js is on the proxy's list (a new call would otherwise be
    refused in the browser with ERR_NOT_FORWARDED)."""
    script = (ROOT / "wf" / "console" / "assets" / "console.js").read_text()
    calls = {
        ("GET", "/v1.0/workflows/dapr"): 'api("GET", ""',
        ("GET", "/v1.0/workflows/dapr/i-1"): 'api("GET", `/${encodeURIComponent(id)}`',
        ("GET", "/v1.0/workflows/dapr/i-1/history"): "/history`",
        ("GET", "/v1.0/metadata"): 'call("/v1.0/metadata")',
        ("GET", "/v1.0/concurrency"): 'call("/v1.0/concurrency")',
        ("POST", "/v1.0/workflows/dapr/i-1/raiseEvent/ev%20x"): 'path("raiseEvent")',
        **{
            ("POST", f"/v1.0/workflows/dapr/i-1/{a}"): f'path("{a}")'
            for a in ("pause", "resume", "terminate", "rerun", "purge")
        },
    }
    for (method, path), snippet in calls.items():
        assert snippet in script, snippet
        assert is_console_call(method, path), (method, path)
    assert script.count('api("') + script.count('call("') == 14  # no call the list above misses
