"""Typed payloads at the boundary of user code, as the Dapr Python SDK has them.

A workflow or activity whose input parameter is annotated with a dataclass or a model
(anything with ``model_dump`` and ``model_validate``: pydantic v2, SQLModel, ...)
receives an instance of it, rebuilt from the decoded JSON; ``Optional[X]`` and
``X | None`` are unwrapped. Without such an annotation the input is the plain decoded
value (objects the SDK marked as auto-serialized arrive as ``SimpleNamespace``, see
``wf/core/serde.py``). A function that declares no input parameter is called with the
context alone, whatever the input (Dapr's rule).
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from functools import lru_cache
from types import SimpleNamespace, UnionType
from typing import Any

from wf.core.serde import AUTO_SERIALIZED


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """How a user function takes its input."""

    #: Declares a parameter after the context: called with the input, even ``None``.
    accepts_input: bool
    #: The dataclass or model annotated on it, if any.
    cls: type | None = None


def is_model_class(cls: Any) -> bool:
    """Whether ``cls`` implements the model protocol (``model_dump`` + ``model_validate``)."""
    return (
        inspect.isclass(cls)
        and callable(getattr(cls, "model_dump", None))
        and callable(getattr(cls, "model_validate", None))
    )


def _typed_class(annotation: Any) -> type | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            return None
        annotation = args[0]
    if is_model_class(annotation) or (inspect.isclass(annotation) and dataclasses.is_dataclass(annotation)):
        return annotation  # type: ignore[no-any-return]
    return None


def input_spec(fn: Callable[..., Any]) -> InputSpec:
    """How ``fn(ctx, input)`` takes its input (cached: replays call it at every step)."""
    try:
        return _cached_spec(fn)
    except TypeError:  # an unhashable callable object
        return _input_spec(fn)


def _input_spec(fn: Callable[..., Any]) -> InputSpec:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return InputSpec(True)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    if len(positional) < 2:
        return InputSpec(False)
    param = positional[1]
    annotation = param.annotation
    if annotation is inspect.Parameter.empty:
        return InputSpec(True)
    if isinstance(annotation, str):
        try:
            annotation = typing.get_type_hints(fn).get(param.name, annotation)
        except Exception:  # an annotation naming what is not importable: untyped
            return InputSpec(True)
    return InputSpec(True, _typed_class(annotation))


_cached_spec = lru_cache(maxsize=1024)(_input_spec)


def coerce(value: Any, cls: type) -> Any:
    """``value`` (decoded JSON) as an instance of the dataclass or model ``cls``;
    ``TypeError`` if it cannot be one, so that it fails at the boundary."""
    if value is None or isinstance(value, cls):
        return value
    if isinstance(value, SimpleNamespace):
        value = vars(value)
    if not isinstance(value, dict):
        raise TypeError(f"cannot make a {cls.__name__} of a {type(value).__name__}; expected a JSON object")
    fields = {k: v for k, v in value.items() if k != AUTO_SERIALIZED}
    if is_model_class(cls):
        return cls.model_validate(fields)  # type: ignore[attr-defined]
    return _dataclass(cls, fields)


def _dataclass(cls: type, fields: dict[str, Any]) -> Any:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
    kwargs = {}
    for name, raw in fields.items():
        nested = _typed_class(hints.get(name))
        kwargs[name] = coerce(raw, nested) if nested is not None else raw
    return cls(**kwargs)


def call_user(fn: Callable[..., Any], ctx: object, value: Any) -> Any:
    """Call ``fn(ctx, value)`` with the input typed as its annotation asks, or ``fn(ctx)``
    when it declares no input."""
    spec = input_spec(fn)
    if not spec.accepts_input:
        return fn(ctx)
    if spec.cls is not None:
        value = coerce(value, spec.cls)
    return fn(ctx, value)
