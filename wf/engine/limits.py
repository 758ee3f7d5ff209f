"""Size limits of the AWS services behind the engine, checked before a step is stored."""

from __future__ import annotations

import json

from wf.core.step import StepResult
from wf.engine.store import events_to_str

#: DynamoDB items are limited to 400 KB and SQS messages to 256 KiB; leave room for keys,
#: attributes and the message envelope.
MAX_STEP_BYTES = 350_000
MAX_MESSAGE_PAYLOAD_BYTES = 200_000
#: Generous room for an event's envelope (kind, timestamp, ids, names) in JSON.
_EVENT_OVERHEAD = 400
_PAYLOAD_FIELDS = ("input", "result", "output", "data", "name", "status", "failure")


def _rough_size(result: StepResult) -> int:
    """An upper bound of the step's JSON size that does not serialize it (hot path)."""
    total = 0
    for event in result.events:
        total += _EVENT_OVERHEAD
        for name in _PAYLOAD_FIELDS:
            value = getattr(event, name, None)
            if isinstance(value, str):
                # JSON escaping at most doubles a string's length; UTF-8 at most quadruples it.
                total += 8 * len(value)
            elif value is not None:  # failure details
                total += 8 * len(value.message) + 8 * len(value.stack_trace or "") + len(value.error_type)
    return total


def _custom_status_bytes(result: StepResult) -> int:
    status = result.custom_status
    if status is None:
        return 0
    return len(status.encode())


def oversize(result: StepResult) -> str | None:
    """Why this step cannot be stored or its work sent, or ``None`` if it can.

    The step item holds the events and the custom status beside them (and the status's
    own event); the instance record holds the output, failure and custom status."""
    status_bytes = _custom_status_bytes(result)
    if status_bytes > MAX_MESSAGE_PAYLOAD_BYTES:
        return (
            f"a custom status of {status_bytes:,} bytes exceeds the {MAX_MESSAGE_PAYLOAD_BYTES:,}-byte limit; "
            "keep the custom status small (a progress note, not data)"
        )
    size = _rough_size(result) + status_bytes
    if size > MAX_STEP_BYTES:
        # Close to the limit: measure exactly.
        size = len(events_to_str(result.events).encode()) + status_bytes
    record = status_bytes + len((result.output or "").encode())
    if result.failure is not None:
        record += len(json.dumps(result.failure.to_json()).encode())
    size = max(size, record)
    if size > MAX_STEP_BYTES:
        return (
            f"a workflow step of {size:,} bytes exceeds the {MAX_STEP_BYTES:,}-byte limit of a history item; "
            "pass smaller payloads (keep large data in S3 and pass its key)"
        )
    for cmd in result.commands:
        payload = getattr(cmd, "input", None) or ""
        if len(payload.encode()) > MAX_MESSAGE_PAYLOAD_BYTES:
            return (
                f"the input of '{getattr(cmd, 'name', '?')}' is {len(payload.encode()):,} bytes, over the "
                f"{MAX_MESSAGE_PAYLOAD_BYTES:,}-byte limit of a queued message; pass a smaller payload"
            )
    return None
