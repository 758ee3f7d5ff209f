"""The console's timeline (wf/console/assets/console.js: ``spansOf``), run by Node on
histories shaped as the API's history route gives them: what is labelled a retry."""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.dev_process import ROOT, unavailable

T = "2026-01-01T00:00:0{}Z"


def spans(events: list[dict]) -> list[dict]:
    source = (ROOT / "wf" / "console" / "assets" / "console.js").read_text()
    start = source.index("function spansOf(events) {")
    depth, end = 0, start
    for end, ch in enumerate(source[start:], start):  # the function, braces matched
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth == 0 and ch == "}":
            break
    node = shutil.which("node")
    if node is None:
        unavailable("Node is needed to run the console's timeline code (Debian's nodejs)")
    script = source[start : end + 1] + f"\nconsole.log(JSON.stringify(spansOf({json.dumps(events)})));"
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout)


def scheduled(i: int, name: str, x: int, t: int) -> dict:
    return {"eventId": i, "eventType": "TaskScheduled", "name": name, "input": json.dumps(x), "timestamp": T.format(t)}


def done(i: int, t: int, failed: bool = False) -> dict:
    if failed:
        return {
            "eventType": "TaskFailed",
            "taskScheduledId": i,
            "timestamp": T.format(t),
            "failureDetails": {"errorType": "E", "message": "m"},
        }
    return {"eventType": "TaskCompleted", "taskScheduledId": i, "result": "1", "timestamp": T.format(t)}


def test_a_fan_out_of_one_activity_is_five_calls_not_retries() -> None:
    events = [scheduled(i, "square", i, 1) for i in range(5)] + [done(i, 2) for i in range(5)]
    assert [s["attempt"] for s in spans(events)] == [1, 1, 1, 1, 1]


def test_a_call_after_its_failure_with_the_same_input_is_its_next_attempt() -> None:
    events = [
        scheduled(0, "charge", 7, 1),
        scheduled(1, "charge", 8, 1),  # another call of the fan-out: its own
        done(0, 2, failed=True),
        done(1, 2),
        scheduled(2, "charge", 7, 3),  # the retry of call 0
        done(2, 4, failed=True),
        scheduled(3, "charge", 7, 5),  # and its third attempt
        done(3, 6),
        scheduled(4, "charge", 7, 7),  # a later call after the success: its own
        done(4, 8),
    ]
    assert [s["attempt"] for s in spans(events)] == [1, 1, 2, 3, 1]
