"""Hostile HTTP input against the local stack (a `wf dev` subprocess, real HTTP):
whatever arrives, the answer is a 4xx or 2xx with a JSON body, never a 5xx, a hang, an
HTML page or a traceback. Hypothesis generates the requests (derandomized: the same
2,000+ requests every run)."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dev_process import wf_dev

EXAMPLES = 2000  # one request each: the 2,000 the suite asserts
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"]
seen: Counter[int] = Counter()

odd_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=30)
segment = st.one_of(
    st.sampled_from(
        [
            "",
            "..",
            ".",
            "%2F",
            "%2e%2e",
            "a%2Fb",
            "%00",
            "%ZZ",
            "x" * 300,
            "dapr",
            "hello_world_wf",
            "OrderProcessingWorkflow",
            "start",
            "raiseEvent",
            "purge",
            "pause",
            "resume",
            "terminate",
            "fuzz-1",
        ]
    ),
    odd_text.map(lambda t: urllib.parse.quote(t, safe="")),
    st.from_regex(r"[A-Za-z0-9_\-]{1,70}", fullmatch=True),
)
prefix = st.sampled_from(
    [
        "/v1.0/workflows/dapr",
        "/v1.0-beta1/workflows/dapr",
        "/v1.0-alpha1/workflows/dapr",
        "/v1.0/workflows/other",
        "/v2/workflows/dapr",
        "/v1.0",
        "",
        "/base/v1.0/workflows/dapr",
        "/v1.0/metadata",
        "/v1.0/healthz",
    ]
)
loose_path = st.builds(lambda p, segs: p + "".join("/" + s for s in segs), prefix, st.lists(segment, max_size=5))
route_path = st.builds(
    lambda p, target, op: f"{p}/{target}{op}",
    st.sampled_from(["/v1.0/workflows/dapr", "/v1.0-beta1/workflows/dapr", "/stage/v1.0/workflows/dapr"]),
    st.one_of(st.sampled_from(["hello_world_wf", "OrderProcessingWorkflow", "fuzz-1", "fuzz-2"]), segment),
    st.one_of(
        st.sampled_from(["/start", "", "/terminate", "/pause", "/resume", "/purge", "/raiseEvent/e", "/start/"]),
        segment.map(lambda s: "/raiseEvent/" + s),
    ),
)
path = st.one_of(route_path, route_path, route_path, loose_path)
random_query = st.lists(
    st.tuples(
        st.sampled_from(["instanceID", "instanceID", "x", "", "%00"]),
        st.one_of(st.sampled_from(["fuzz-1", "fuzz-2"]), segment, odd_text),
    ),
    max_size=3,
).map(lambda pairs: "&".join(f"{k}={urllib.parse.quote(v, safe='%')}" for k, v in pairs))
query = st.one_of(st.sampled_from(["instanceID=fuzz-1", "instanceID=fuzz-2", ""]), random_query)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | odd_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=20,
)
body = st.one_of(
    st.just(b""),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.integers(1_000, 100_000).map(lambda depth: b"[" * depth + b"]" * depth),  # too deep to decode
    st.integers(1_000, 100_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    st.binary(max_size=200),  # not UTF-8, not JSON
    st.sampled_from([b"NaN", b"[Infinity]", b'{"a":', b"\xff\xfe", b"null", b"0", b'""']),
    st.just(b"x" * 70_000),  # over the API's body limit
)
content_type = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", "", "*/*"])


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    with wf_dev(tmp_path_factory.mktemp("fuzz")) as (base, _, lines):
        yield base, lines


def send(base: str, method: str, target: str, payload: bytes, ctype: str) -> tuple[int, bytes, str]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        headers = {"Content-Type": ctype} if ctype else {}
        conn.request(method, target, body=payload or None, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(), resp.getheader("Content-Type") or ""
    finally:
        conn.close()


def check(status: int, data: bytes, ctype: str, method: str, what: str) -> None:
    seen[status] += 1
    assert status < 500, f"{what} -> {status}: {data[:300]!r}"
    if status >= 400 and method != "HEAD":
        assert ctype.startswith("application/json"), f"{what} -> {status} {ctype}: {data[:200]!r}"
        error = json.loads(data)
        assert error.get("message"), what
        assert "Traceback" not in error["message"], what


def test_fuzzed_requests_never_get_a_5xx(dev, record_property) -> None:
    base, lines = dev

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(["POST", "POST", "GET", *METHODS]), path, query, body, content_type)
    def one(method: str, p: str, q: str, payload: bytes, ctype: str) -> None:
        target = (p or "/") + (f"?{q}" if q else "")
        status, data, rtype = send(base, method, target, payload, ctype)
        check(status, data, rtype, method, f"{method} {target} ({len(payload)} bytes)")

    seen.clear()
    one()
    assert sum(seen.values()) >= 2000, seen
    record_property("figure", f"fuzz answers by status: {dict(sorted(seen.items()))}")
    assert not [line for line in lines if "Traceback" in line]


def raw(base: str, request: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        chunks = []
        while data := s.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def test_chunked_bodies_and_bad_lengths(dev) -> None:
    base, _ = dev
    host = base.split("//", 1)[1].encode()  # its own name: any other is refused (test_security.py)
    # A chunked body reaches the workflow whole.
    body = json.dumps({"Name": "Paperclips", "TotalCost": 5, "Quantity": 1}).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 7]), body[i : i + 7]) for i in range(0, len(body), 7))
    answer = raw(
        base,
        b"POST /v1.0/workflows/dapr/OrderProcessingWorkflow/start?instanceID=chunky HTTP/1.1\r\nHost: " + host + b"\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + chunked
        + b"0\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 202"), answer
    status, data, _ = send(base, "GET", "/v1.0/workflows/dapr/chunky", b"", "")
    assert json.loads(json.loads(data)["properties"]["dapr.workflow.input"]) == json.loads(body)
    # A Content-Length that is not a number gets a JSON 400, not a closed connection.
    for length in (b"abc", b"-5", b"1, 2"):
        answer = raw(
            base,
            b"POST /v1.0/workflows/dapr/x/start HTTP/1.1\r\nHost: "
            + host
            + b"\r\nContent-Length: "
            + length
            + b"\r\n\r\n{}",
        )
        head, _, rest = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), answer
        assert json.loads(rest)["message"]
