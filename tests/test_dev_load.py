"""The local stack under many simultaneous clients, as API Gateway and Lambda take
them: no connection refused or reset, no request seeing another's data, every event
applied exactly once (a `wf dev` subprocess, real HTTP)."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from tests.dev_process import wf_dev

APP = Path(__file__).parent / "apps" / "load.py"
P = "/v1.0/workflows/dapr"


def call(base: str, method: str, path: str, body: object = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def wait_done(base: str, iid: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        code, body = call(base, "GET", f"{P}/{iid}")
        if code == 200 and body["runtimeStatus"] not in ("RUNNING", "PENDING", "SUSPENDED"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    with wf_dev(tmp_path_factory.mktemp("load"), APP, "--verbose") as (base, _, lines):
        yield base, lines


def test_200_concurrent_events_to_one_instance_are_each_applied_once(dev) -> None:
    base, _ = dev
    assert call(base, "POST", f"{P}/collect/start?instanceID=c1", 200)[0] == 202
    with ThreadPoolExecutor(200) as pool:
        codes = list(pool.map(lambda i: call(base, "POST", f"{P}/c1/raiseEvent/item", i)[0], range(200)))
    assert Counter(codes) == {202: 200}
    body = wait_done(base, "c1")
    assert body["runtimeStatus"] == "COMPLETED", body
    assert sorted(json.loads(body["properties"]["dapr.workflow.output"])) == list(range(200))


def test_containers_are_processes_and_management_calls_race_in_them(dev) -> None:
    """Each container is a process of its own, not wf dev's: 20 activities at once run in
    several. Two management calls on one instance run in two containers at once, and
    their writes race: one loses (its conditional write fails: WriteConflicts in the
    container's `metrics:` log line), retries on the fresh state, and both take effect."""
    base, lines = dev
    parent = int(next(line for line in lines if line.startswith("wf dev: serving")).split("pid ")[1].split(")")[0])
    assert call(base, "POST", f"{P}/who/start?instanceID=who", 20)[0] == 202
    pids = set(json.loads(wait_done(base, "who")["properties"]["dapr.workflow.output"]))
    assert len(pids) > 1 and parent not in pids, (pids, parent)

    conflicts_before = _conflicts(lines)
    for round_ in range(5):  # until a race is lost (the first round loses one: steps take a second)
        iid = f"race{round_}"
        assert call(base, "POST", f"{P}/race/start?instanceID={iid}", 2)[0] == 202
        with ThreadPoolExecutor(2) as pool:
            codes = list(pool.map(lambda i: call(base, "POST", f"{P}/{iid}/raiseEvent/item", i)[0], range(2)))
        assert codes == [202, 202]
        body = wait_done(base, iid)
        assert sorted(json.loads(body["properties"]["dapr.workflow.output"])) == [0, 1], body  # both applied
        if _conflicts(lines) > conflicts_before:
            break
    else:
        raise AssertionError("no write race was lost in 5 rounds of two concurrent events")
    started = {line.split("pid ")[1].split(",")[0] for line in lines if " started (pid " in line}
    assert len(started) > 1 and str(parent) not in started


def _conflicts(lines: list[str]) -> int:
    """WriteConflicts counted in the containers' metrics (`metrics:` lines, --verbose)."""
    return sum(int(m) for line in list(lines) for m in re.findall(r"\bWriteConflicts=(\d+)", line))


def test_100_concurrent_starts_of_one_id_give_one_instance(dev) -> None:
    base, _ = dev
    with ThreadPoolExecutor(100) as pool:
        answers = list(pool.map(lambda i: call(base, "POST", f"{P}/pair/start?instanceID=same", i), range(100)))
    codes = Counter(code for code, _ in answers)
    assert codes == {202: 1, 409: 99}, codes
    assert all(b["errorCode"] == "ERR_INSTANCE_ID_ALREADY_EXISTS" for c, b in answers if c == 409)
    assert call(base, "POST", f"{P}/same/raiseEvent/go")[0] == 202
    body = wait_done(base, "same")
    x = json.loads(body["properties"]["dapr.workflow.input"])
    # The output is the winner's own input's, not another request's.
    assert json.loads(body["properties"]["dapr.workflow.output"]) == [x, 2 * x]


def test_50_concurrent_workflows_of_five_activities(dev) -> None:
    base, lines = dev
    with ThreadPoolExecutor(50) as pool:
        codes = list(pool.map(lambda i: call(base, "POST", f"{P}/five/start?instanceID=f{i}", 10 * i)[0], range(50)))
    assert Counter(codes) == {202: 50}
    for i in range(50):
        body = wait_done(base, f"f{i}")
        assert json.loads(body["properties"]["dapr.workflow.output"]) == [2 * (10 * i + k) for k in range(5)], body
    assert not [line for line in lines if "Traceback" in line or "the handler raised" in line]


def test_sub_second_retries_are_kept_and_non_retryable_errors_stop_them(dev) -> None:
    """50 ms apart, three attempts fit a 1 s retry timeout (they did not when waits were
    rounded up to whole seconds); NonRetryableError is not retried at all."""
    base, _ = dev
    assert call(base, "POST", f"{P}/fast_retries/start?instanceID=fast", "k")[0] == 202
    body = wait_done(base, "fast")
    assert body["runtimeStatus"] == "COMPLETED", body
    # The refusing activity ran once (it shares the key's counter: 3 + 1).
    assert json.loads(body["properties"]["dapr.workflow.output"]) == [3, 4, "NonRetryableError"]


def test_timers_fire_once_due_and_not_before(dev) -> None:
    """Sub-second timers fire after their due time (how late is bench/timers.py's job)."""
    base, _ = dev
    for i, seconds in enumerate((0.2, 0.7, 1.3)):
        assert call(base, "POST", f"{P}/timer/start?instanceID=t{i}", seconds)[0] == 202
    for i in range(3):
        body = wait_done(base, f"t{i}")
        due = datetime.fromisoformat(json.loads(body["properties"]["dapr.workflow.output"]))
        done = datetime.fromisoformat(body["lastUpdatedAt"].replace("Z", "+00:00"))
        assert body["runtimeStatus"] == "COMPLETED" and done >= due
