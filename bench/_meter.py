"""Request metering for the cost benchmark: what AWS would bill, counted on moto.

Moto answers requests but reports no consumed capacity, so the units are computed here
from the requests themselves, following DynamoDB's published rules:

* A write costs one unit per KB of the item (at least one), whether its condition
  holds or not: a failed conditional write is billed too. In a transaction, twice.
* Each global secondary index costs extra writes: one when an item enters or leaves
  the index or its projected attributes change, two when its index key changes
  (delete the old entry, put the new one), none when the index entry stays the same.
  To tell these apart the meter keeps the index image of every item it has seen.
* A read costs one unit per 4 KB returned (at least one); eventually consistent, half.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pynamodb.connection.base import Connection

Image = tuple[tuple[str, str], ...]


def _size(value: dict[str, Any]) -> int:
    ((kind, v),) = value.items()
    if kind in ("S", "N"):
        return len(str(v).encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k) + _size(x) + 1 for k, x in v.items())
    if kind == "L":
        return 3 + sum(_size(x) + 1 for x in v)
    return len(json.dumps(v))


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values, in bytes."""
    return sum(len(name.encode()) + _size(value) for name, value in item.items())


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    #: Projected non-key attributes; None projects every attribute.
    projected: tuple[str, ...] | None

    def image(self, item: dict[str, Any] | None) -> Image | None:
        """The entry ``item`` has in this index, or None if it is not in it."""
        if item is None or any(k not in item for k in self.keys):
            return None
        names = sorted(item) if self.projected is None else [*self.keys, *self.projected]
        return tuple((n, json.dumps(item[n], sort_keys=True)) for n in names if n in item)

    def write_units(self, before: dict[str, Any] | None, after: dict[str, Any] | None) -> int:
        old, new = self.image(before), self.image(after)
        if old == new:
            return 0
        if old is not None and new is not None and old[: len(self.keys)] != new[: len(self.keys)]:
            return 2
        return 1


class DynamoMeter:
    """Counts the read and write units of a table's requests made through pynamodb."""

    def __init__(self, table: dict[str, Any], counter: Counter[str]) -> None:
        self.counter = counter
        self.table_keys = tuple(k["AttributeName"] for k in table["KeySchema"])
        self.indexes = [
            Index(
                gsi["IndexName"],
                tuple(k["AttributeName"] for k in gsi["KeySchema"]),
                None
                if gsi["Projection"]["ProjectionType"] == "ALL"
                else tuple(gsi["Projection"].get("NonKeyAttributes", [])),
            )
            for gsi in table.get("GlobalSecondaryIndexes", [])
        ]
        self.items: dict[tuple[str, ...], dict[str, Any]] = {}
        #: Called with the number of history steps written so far, after each one.
        self.on_step: Callable[[int], None] | None = None
        self.steps_written = 0
        #: The largest item written (bytes, as DynamoDB sizes it).
        self.largest_item = 0

    def _key(self, item: dict[str, Any]) -> tuple[str, ...]:
        return tuple(json.dumps(item[k], sort_keys=True) for k in self.table_keys)

    def _write(self, key_or_item: dict[str, Any], new: dict[str, Any] | None, succeeded: bool, factor: int = 1) -> None:
        key = self._key(key_or_item)
        old = self.items.get(key)
        sized = new if new is not None else old or key_or_item
        size = item_size(sized)
        if new is not None:
            self.largest_item = max(self.largest_item, size)
        self.counter["wru"] += factor * max(1, math.ceil(size / 1024))
        if not succeeded:
            return
        for index in self.indexes:
            units = index.write_units(old, new)
            self.counter["wru"] += units
            self.counter["wru_index"] += units
        if new is None:
            self.items.pop(key, None)
        else:
            self.items[key] = new
            if new.get("sk", {}).get("S", "").startswith("H#"):
                self.steps_written += 1
                if self.on_step is not None:
                    self.on_step(self.steps_written)

    def _remove_attributes(self, kwargs: dict[str, Any], succeeded: bool) -> None:
        """An UpdateItem that removes attributes (the engine's only one: a step's status
        change marked published), billed by the larger of the item before and after."""
        expression = str(kwargs.get("UpdateExpression", ""))
        if not expression.startswith("REMOVE ") or " SET " in expression:
            raise NotImplementedError(f"the meter prices only REMOVE updates, not {expression!r}")
        names = kwargs.get("ExpressionAttributeNames", {})
        removed = {names.get(n.strip(), n.strip()) for n in expression.removeprefix("REMOVE ").split(",")}
        key = self._key(kwargs["Key"])
        old = self.items.get(key)
        self.counter["wru"] += max(1, math.ceil(item_size(old or kwargs["Key"]) / 1024))
        if succeeded and old is not None:
            new = {k: v for k, v in old.items() if k not in removed}
            for index in self.indexes:
                units = index.write_units(old, new)
                self.counter["wru"] += units
                self.counter["wru_index"] += units
            self.items[key] = new

    def _read(self, items: list[dict[str, Any]], consistent: bool) -> None:
        units = max(1, math.ceil(sum(item_size(i) for i in items) / 4096))
        self.counter["rru"] += units * (1.0 if consistent else 0.5)

    def observe(self, operation: str, kwargs: dict[str, Any], result: Any, succeeded: bool) -> None:
        if not succeeded and operation in ("PutItem", "DeleteItem", "TransactWriteItems"):
            self.counter["failed_writes"] += 1  # a condition that did not hold (or a fault)
        if operation == "PutItem":
            self._write(kwargs["Item"], kwargs["Item"], succeeded)
        elif operation == "DeleteItem":
            self._write(kwargs["Key"], None, succeeded)
        elif operation == "BatchWriteItem":
            for requests in kwargs["RequestItems"].values():
                for r in requests:
                    if "PutRequest" in r:
                        self._write(r["PutRequest"]["Item"], r["PutRequest"]["Item"], succeeded)
                    else:
                        self._write(r["DeleteRequest"]["Key"], None, succeeded)
        elif operation == "TransactWriteItems":
            # Each item of a transaction costs twice; a cancelled one is billed too.
            for entry in kwargs["TransactItems"]:
                ((kind, request),) = entry.items()
                if kind == "Put":
                    self._write(request["Item"], request["Item"], succeeded, factor=2)
                elif kind == "Delete":
                    self._write(request["Key"], None, succeeded, factor=2)
                else:
                    raise NotImplementedError(f"the meter does not price a transaction's {kind}")
        elif operation == "UpdateItem":
            self._remove_attributes(kwargs, succeeded)
        elif operation == "GetItem" and succeeded:
            self._read([result["Item"]] if "Item" in result else [], bool(kwargs.get("ConsistentRead")))
        elif operation == "Query" and succeeded:
            self._read(result.get("Items", []), bool(kwargs.get("ConsistentRead")))

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Meter every pynamodb request made inside the block."""
        original: Callable[..., Any] = Connection._make_api_call

        def metered(conn: Any, operation: str, kwargs: dict[str, Any]) -> Any:
            try:
                result = original(conn, operation, kwargs)
            except Exception:
                self.observe(operation, kwargs, None, succeeded=False)
                raise
            self.observe(operation, kwargs, result, succeeded=True)
            return result

        Connection._make_api_call = metered  # type: ignore[method-assign]
        try:
            yield
        finally:
            Connection._make_api_call = original  # type: ignore[method-assign]


class MeteredSqs:
    """An SQS client that counts its requests (each is billed, batches included; SQS bills
    a request per 64 KB of payload sent)."""

    def __init__(self, client: Any, counter: Counter[str]) -> None:
        self._client = client
        self._counter = counter

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._client, name)

        def call(**kw: Any) -> Any:
            bodies = [e["MessageBody"] for e in kw.get("Entries", []) if "MessageBody" in e]
            if "MessageBody" in kw:
                bodies.append(kw["MessageBody"])
            size = sum(len(b.encode()) for b in bodies)
            self._counter["sqs"] += max(1, math.ceil(size / (64 * 1024)))
            return fn(**kw)

        return call


class MeteredS3:
    """An S3 client that counts its billed requests: PUT and LIST (``s3_put``), GET
    (``s3_get``); DELETE is free."""

    def __init__(self, client: Any, counter: Counter[str]) -> None:
        self._client = client
        self._counter = counter

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._client, name)
        kind = {"put_object": "s3_put", "list_objects_v2": "s3_put", "get_object": "s3_get"}.get(name)
        if kind is None:
            return fn

        def call(*a: Any, **kw: Any) -> Any:
            self._counter[kind] += 1
            return fn(*a, **kw)

        return call


#: Typical latency of one AWS call from a function in the same region (ms), for the
#: compute an invocation is billed while it waits on its calls (on moto here they take
#: the emulator's time instead, which is subtracted). Stated assumptions, not measured:
#: DynamoDB single-item and query calls and SQS calls take single-digit milliseconds.
TYPICAL_CALL_MS = {"dynamodb": 6.0, "sqs": 8.0, "s3": 20.0, "events": 10.0}


class ComputeMeter:
    """What Lambda would bill each invocation for: its own CPU time (the process's, less
    the emulator's work inside each AWS call), plus each AWS call's typical latency, plus
    every second the engine sleeps; rounded up to the millisecond per invocation."""

    def __init__(self) -> None:
        self.billed_ms = 0
        self.calls: Counter[str] = Counter()
        self.slept_s = 0.0
        self._inside = 0
        self._emulator_cpu = 0.0

    def sleep(self, seconds: float) -> None:
        if self._inside:
            self.slept_s += seconds
        time.sleep(seconds)

    def wrap(self, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def invoke(event: Any, context: Any) -> Any:
            start, slept = time.process_time(), self.slept_s
            latency = sum(self.calls[s] * TYPICAL_CALL_MS.get(s, 10.0) for s in self.calls)
            emulator = self._emulator_cpu
            self._inside += 1
            try:
                return handler(event, context)
            finally:
                self._inside -= 1
                own = time.process_time() - start - (self._emulator_cpu - emulator)
                waited = sum(self.calls[s] * TYPICAL_CALL_MS.get(s, 10.0) for s in self.calls) - latency
                self.billed_ms += math.ceil(max(0.0, own) * 1000 + waited + (self.slept_s - slept) * 1000)

        return invoke

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Count (and time apart) every AWS call made inside an invocation."""
        import botocore.client

        original: Callable[..., Any] = botocore.client.BaseClient._make_api_call
        meter = self

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if not meter._inside:
                return original(client, operation, params)
            meter.calls[client.meta.service_model.service_name] += 1
            started = time.thread_time()
            try:
                return original(client, operation, params)
            finally:
                meter._emulator_cpu += time.thread_time() - started

        botocore.client.BaseClient._make_api_call = counted  # type: ignore[method-assign]
        try:
            yield
        finally:
            botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
