"""JSON payload encoding: dataclasses and pydantic models become objects; never pickle."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from wf.errors import PayloadEncodingError


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # pydantic v2
        return dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"payload of type {type(value).__name__} is not JSON serializable")


def encode(value: Any) -> str:
    """Encode a payload as a JSON string (``None`` becomes ``"null"``); raises
    ``PayloadEncodingError`` for what JSON cannot hold (NaN and infinity included: other
    languages' JSON parsers refuse them)."""
    try:
        return json.dumps(value, default=_default, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise PayloadEncodingError(f"the value is not JSON-serializable: {exc}") from exc


def decode(payload: str | None) -> Any:
    """Decode a JSON payload; an absent payload is ``None``."""
    if payload is None:
        return None
    return json.loads(payload)
