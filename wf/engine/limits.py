"""Size limits of the AWS services behind the engine, checked before a step is stored.

A step has no size limit of its own: one too large for an item is stored across
several (``wf/aws/dynamodb.py``). What is limited is each payload: with a bucket, up to
``MAX_PAYLOAD_BYTES`` (kept there by reference, ``wf/engine/blobs.py``); without one,
up to ``MAX_INLINE_PAYLOAD_BYTES``, inline in items and messages."""

from __future__ import annotations

import json

from wf.core.step import StepResult
from wf.engine.blobs import MAX_INLINE_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES
from wf.engine.store import PAYLOAD_FIELDS

#: Without a bucket the instance record holds the output, failure and custom status
#: inline: DynamoDB's 400 KB item, less room for keys and attributes.
MAX_RECORD_BYTES = 350_000

__all__ = ["MAX_INLINE_PAYLOAD_BYTES", "MAX_PAYLOAD_BYTES", "oversize", "payload_size"]


def payload_size(value: str | None, limit: int) -> int:
    """``value``'s size in bytes, measured only if it could be over ``limit`` (hot path:
    UTF-8 takes at most four bytes a character)."""
    if value is None or 4 * len(value) <= limit:
        return 0 if value is None else len(value)
    return len(value.encode())


def _advice(limit: int) -> str:
    if limit < MAX_PAYLOAD_BYTES:
        return "configure a bucket (WF_BUCKET) for payloads up to 10 MB, or pass smaller payloads"
    return "keep large data in S3 and pass its key"


def oversize(result: StepResult, max_payload: int = MAX_INLINE_PAYLOAD_BYTES) -> str | None:
    """Why this step cannot be stored or its work sent, or ``None`` if it can."""
    status_bytes = payload_size(result.custom_status, max_payload)
    if status_bytes > max_payload:
        return (
            f"a custom status of {status_bytes:,} bytes exceeds the {max_payload:,}-byte limit; "
            "keep the custom status small (a progress note, not data)"
        )
    for event in result.events:
        for name in PAYLOAD_FIELDS:
            size = payload_size(getattr(event, name, None), max_payload)
            if size > max_payload:
                return (
                    f"a payload ({event.kind.value} {name}) of {size:,} bytes exceeds the {max_payload:,}-byte "
                    f"limit of a payload; {_advice(max_payload)}"
                )
    for cmd in result.commands:
        size = payload_size(getattr(cmd, "input", None), max_payload)
        if size > max_payload:
            return (
                f"the input of '{getattr(cmd, 'name', '?')}' is {size:,} bytes, over the "
                f"{max_payload:,}-byte limit of a payload; {_advice(max_payload)}"
            )
    if max_payload <= MAX_INLINE_PAYLOAD_BYTES:
        record = status_bytes + payload_size(result.output, max_payload)
        if result.failure is not None:
            record += len(json.dumps(result.failure.to_json()).encode())
        if record > MAX_RECORD_BYTES:
            return (
                f"the instance record would hold {record:,} bytes (output, failure and custom status), over "
                f"the {MAX_RECORD_BYTES:,}-byte limit of an item; {_advice(max_payload)}"
            )
    return None
