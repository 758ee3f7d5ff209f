"""The API's records have one JSON mapping, which the server writes and the clients
read (wf/core/wire.py): what the server reports comes back as the same record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import wf.client
from wf.core.status import WorkflowState, WorkflowStatus
from wf.core.wire import HistoryEventType, WorkflowHistoryEvent, WorkflowSummary, state_from_json, state_to_json
from wf.engine import operate
from wf.errors import FailureDetails

T = datetime(2026, 12, 6, 10, 0, 0, 123456, tzinfo=UTC)


def test_the_client_reads_back_what_the_server_writes() -> None:
    failed = WorkflowState(
        "a&b #1",
        "order",
        WorkflowStatus.FAILED,
        T,
        T + timedelta(seconds=1),
        '{"x": 1}',
        None,
        "half",
        FailureDetails("no", "ValueError", "Traceback ..."),
    )
    done = WorkflowState("c", "order", WorkflowStatus.COMPLETED, T, T, None, '"ok"', None, None)
    for state in (failed, done):
        assert state_from_json(state_to_json(state)) == state
    # What Dapr does not report: an output of a failed instance, a failure of another.
    odd = WorkflowState("d", "w", WorkflowStatus.RUNNING, T, T, "null", "null", None, FailureDetails("m", "E"))
    assert state_from_json(state_to_json(odd)) == WorkflowState("d", "w", WorkflowStatus.RUNNING, T, T)

    row = WorkflowSummary("c-1", "child", WorkflowStatus.SUSPENDED, T, T, "p")
    assert WorkflowSummary.from_json(row.to_json()) == row
    event = WorkflowHistoryEvent(
        3, T, HistoryEventType.TASK_FAILED, "charge", 3, '"in"', None, None, FailureDetails("m", "E", "t"), "kid", T
    )
    assert WorkflowHistoryEvent.from_json(event.to_json()) == event
    assert event.to_json()["eventType"] == "TaskFailed" and event.event_type == "TaskFailed"


def test_server_and_client_share_the_records() -> None:
    assert wf.client.WorkflowSummary is WorkflowSummary
    assert wf.client.WorkflowHistoryEvent is WorkflowHistoryEvent is operate.WorkflowHistoryEvent
    assert wf.client.state_from_json is state_from_json
