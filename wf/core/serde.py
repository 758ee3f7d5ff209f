"""JSON payload encoding as the Dapr Python SDK does it (never pickle).

``json.dumps`` with its default separators. Models (``model_dump`` + ``model_validate``:
pydantic v2 and the like) become plain objects; dataclasses, named tuples and
``SimpleNamespace`` become objects marked as auto-serialized, which decode back as
``SimpleNamespace`` (attribute access, as the SDK gives them) unless the receiving
parameter is annotated with a type (``wf/core/typed.py``). Datetimes become ISO 8601
text, sets lists.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from wf.errors import PayloadEncodingError

#: The SDK's marker of an object it serialized from a dataclass, named tuple or namespace.
AUTO_SERIALIZED = "__durabletask_autoobject__"


def _dump_model(value: Any) -> Any:
    try:
        return value.model_dump(mode="json")
    except TypeError:  # a model-like class without pydantic's ``mode``
        return value.model_dump()


def _default(value: Any) -> Any:
    if callable(getattr(value, "model_dump", None)) and callable(getattr(value, "model_validate", None)):
        return _dump_model(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {**dataclasses.asdict(value), AUTO_SERIALIZED: True}
    if isinstance(value, SimpleNamespace):
        return {**vars(value), AUTO_SERIALIZED: True}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"payload of type {type(value).__name__} is not JSON serializable")


def encode(value: Any) -> str:
    """Encode a payload as a JSON string (``None`` becomes ``"null"``); raises
    ``PayloadEncodingError`` for what JSON cannot hold (NaN and infinity included: other
    languages' JSON parsers refuse them)."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # a named tuple, as the SDK does
        value = {**value._asdict(), AUTO_SERIALIZED: True}
    try:
        # Default separators, as the Dapr SDK encodes (``json.dumps(value)``), so that a
        # serialized output reads the same here and there.
        return json.dumps(value, default=_default, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise PayloadEncodingError(f"the value is not JSON-serializable: {exc}") from exc


def _object(d: dict[str, Any]) -> Any:
    if d.pop(AUTO_SERIALIZED, False):
        return SimpleNamespace(**d)
    return d


def decode(payload: str | None) -> Any:
    """Decode a JSON payload for user code; an absent payload is ``None``, objects
    marked as auto-serialized are ``SimpleNamespace``."""
    if payload is None:
        return None
    return json.loads(payload, object_hook=_object)
