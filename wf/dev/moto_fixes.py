"""moto, made to behave as DynamoDB and SQS do under the local stack's load.

* **Partition-local queries.** moto answers a ``Query`` on a table's primary key by
  sorting *every* item of the table and then keeping those of the asked partition, so
  each query costs O(n log n) in the table's size: with a few thousand instances a
  history read takes a tenth of a second and the local stack (and the chaos run) slows
  quadratically. DynamoDB reads one partition. While a primary-key query runs, the
  table's item listing yields only the asked partition, already in key order. Results
  are identical (moto filters that listing by the same hash key and sorts it by range
  key afterwards). An index query likewise reads only the items of its index key, from
  a map of the table by that key that is rebuilt after writes, each item projected as
  the index holds it (moto would copy every whole item, payloads included, and then
  project it); scans are left alone.
* **Projections without a round trip.** moto projects an item onto an index by
  converting the whole item to Python values and back. An index's attributes are
  top-level names, so the projection keeps the item's attributes of those names. With
  the projection before the copy (above), the API's answer for a page of 1,000
  instances went from 0.72-1.14 s to 0.61-0.73 s, and with the actions listed once
  (below) to 0.36-0.55 s.
* **Atomic conditional writes.** moto checks a write's condition and then writes, with
  nothing in between to stop another thread: two containers' conditional puts of the
  same step item could both succeed, the second overwriting the first (a step, and the
  events in it, lost). DynamoDB applies each write atomically. Table operations of a
  process are serialized (reads too, so that none sees half an update).
* **Atomic queue operations.** moto's ``ReceiveMessage`` takes no lock, so pollers
  receiving at the same moment are handed the same message (each with a higher receive
  count): SQS hands a visible message to one receiver. And a delete rebuilds the queue's
  message list from a copy: a delete at the same moment as another is undone (the
  message comes back after its visibility timeout), a send at the same moment as a
  delete is lost. Receives, sends, deletes and visibility changes of a process are
  serialized; the long-poll wait happens outside the lock, so one poller's wait blocks
  no other. A long
  poll also wakes when a delayed message becomes visible (moto's waits only for new
  messages), so that timers arrive on time.
* **Sends and receives in constant time per message.** For each message it takes or
  hands out, moto reads a queue attribute by building *all* of them, the message
  counts included, each a pass over every message: O(n) per message, so a queue
  holding a wide fan-out's 10,000 messages is filled and emptied quadratically slowly.
  The retention period is read from the queue itself, and the counts (SQS calls them
  approximate, and they lag on SQS by up to a minute) are kept for a second, or twenty
  times as long as they took to count, so that counting is at most a twentieth of the
  queue's work. And a receive no longer lists every visible message (reading the clock
  once per message) to hand out ten: the queue's visible messages are walked lazily,
  with the clock read once. A delete finds its message by its receipt handle (an index
  kept as messages are received), not by asking every message of the queue whether it
  ever had that handle.
* **Requests routed without a directory walk.** The moto server finds each request's
  service by listing moto's package directory (a ``listdir`` and some 150 ``isdir``
  calls), under one lock that every request of the process takes: without this, a
  console page of 1,000 instances (112 index queries) took 1.13-1.15 s, against
  0.76-0.97 s with it (measured when this was added). The listing is read once.
  Likewise the actions a handler class answers, which moto listed with
  ``inspect.getmembers`` on every request (about 1 ms of each request: a GetItem took
  3.3-3.7 ms without this, 2.7 ms with it).
* **Items encoded as JSON directly.** moto 5.2 serializes a response by walking the
  operation's output shape, attribute by attribute of every item: two thirds of a
  query's time. A read's items are already in DynamoDB's JSON form (``{"S": ...}``), so
  the rest of the response goes through moto's serializer and the items are added to
  its JSON as they are (binary values base64-encoded, as the serializer does them).
  ``tests/test_moto_fixes.py`` checks that both ways give the same response.

Installed by ``wf dev`` and by the test and bench harnesses that run moto in process.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

_state = threading.local()
_installed = False
_lock = threading.Lock()
_receiving = threading.RLock()  # every operation on a queue's messages (batches call singles)
_writing = threading.RLock()  # transactions call the single-item writes


def install() -> None:
    """Patch moto once per process (idempotent; a no-op without moto)."""
    global _installed
    with _lock:
        if _installed:
            return
        try:
            from moto.dynamodb.models import DynamoDBBackend
            from moto.dynamodb.models.table import Table
            from moto.sqs.models import SQSBackend
        except ImportError:  # moto is a dev dependency; production never runs this
            return
        _partition_queries(Table)
        _atomic_table_operations(DynamoDBBackend)
        _atomic_receives(SQSBackend)
        _retention_without_counting(SQSBackend)
        _counts_kept_briefly()
        _visible_walked_lazily()
        _deletes_by_handle()
        _listings_read_once()
        _items_encoded_directly()
        _index_items_projected_directly()
        _installed = True


def _listings_read_once() -> None:
    import functools

    from moto import backends
    from moto.core import responses

    # Neither the package's directories nor a handler class's methods (the actions it
    # answers) change while the process runs; moto lists both on every request.
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    actions = functools.cache(responses.method_names_from_class)  # type: ignore[attr-defined]
    responses.method_names_from_class = actions  # type: ignore[attr-defined]


#: The reads whose responses carry items, and the response member that holds them.
ITEM_MEMBERS = {"Query": "Items", "Scan": "Items", "GetItem": "Item", "BatchGetItem": "Responses"}


def _items_encoded_directly() -> None:
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler

    original: Callable[..., Any] = DynamoHandler.serialized

    def serialized(self: Any, action_result: Any) -> Any:
        result = action_result.result
        member = ITEM_MEMBERS.get(self._get_action())
        if member is None or not isinstance(result, dict) or member not in result:
            return original(self, action_result)
        rest = {k: v for k, v in result.items() if k != member}
        status, headers, body = original(self, ActionResult(rest))
        response = json.loads(body) if body else {}
        response[member] = result[member]
        return status, headers, json.dumps(response, default=_base64, separators=(",", ":"))

    DynamoHandler.serialized = serialized  # type: ignore[method-assign]
    DynamoHandler.wf_unpatched_serialized = original  # type: ignore[attr-defined]  # what tests compare against


def _index_items_projected_directly() -> None:
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict
    from moto.dynamodb.models.table import SecondaryIndex

    original: Callable[..., Any] = SecondaryIndex.project

    def project(self: Any, item: Any) -> Any:
        kind = (self.projection or {}).get("ProjectionType")
        if kind not in ("KEYS_ONLY", "INCLUDE"):
            return original(self, item)
        # The index's attributes are top-level names, so the projection is the item's
        # attributes of those names. Its values are the item's own: every caller copies
        # what it answers. (moto converts the whole item to Python values and back.)
        names = {*self.table_key_attrs, *self.schema_key_attrs}
        if kind == "INCLUDE":
            names.update(self.projection.get("NonKeyAttributes", []))
        projected: Any = Item.__new__(Item)
        projected.hash_key = item.hash_key
        projected.range_key = item.range_key
        # dict's own update: LimitedSizeDict's per-key size check would re-add the sizes
        # of the attributes so far for each one (the item passed it when it was written).
        projected.attrs = LimitedSizeDict({k: v for k, v in item.attrs.items() if k in names})
        return projected

    SecondaryIndex.project = project  # type: ignore[method-assign]
    SecondaryIndex.wf_unpatched_project = original  # type: ignore[attr-defined]  # what tests compare against


def _base64(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class _IndexQuery(NamedTuple):
    """The index query under way in this thread."""

    table: Any
    index: Any
    attribute: str  # the index's hash key
    value: Any  # the queried value of it


def _partition_queries(table: Any) -> None:
    original_query: Callable[..., Any] = table.query
    original_all_items: Callable[..., Any] = table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # index_name is the 8th parameter after self (7th after hash_key).
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name and hash_key is not None:
            index, attribute = _index_and_hash_attribute(self, index_name)
            if attribute is not None:
                previous = getattr(_state, "index", None)
                _state.index = _IndexQuery(self, index, attribute, hash_key)
                try:
                    return original_query(self, hash_key, *args, **kwargs)
                finally:
                    _state.index = previous
        if index_name or hash_key is None or not self.range_key_attr:
            return original_query(self, hash_key, *args, **kwargs)
        previous = getattr(_state, "partition", None)
        _state.partition = (self, hash_key)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _state.partition = previous

    def all_items(self: Any) -> Any:
        index = getattr(_state, "index", None)
        if index is not None and index.table is self:
            # An index query: the items of that index key only, from a map of the table
            # by that attribute, built once per generation of the table's writes (a
            # listing's hundred-odd queries would each walk every item of it). Each comes
            # projected as the index holds it, which is what moto copies before it
            # projects (copying the whole item, its payloads included, first) and what
            # DynamoDB's 1 MB page limit counts on an index.
            items = _by_attribute(self, index.attribute).get(_key_of(index.value), [])
            return [index.index.project(item) for item in items]
        partition = getattr(_state, "partition", None)
        if partition is not None and partition[0] is self:
            # ``items`` is a defaultdict: ``get`` so that a read creates no partition.
            items = self.items.get(partition[1], {})
            return sorted(items.values(), key=lambda item: item.range_key)
        return original_all_items(self)

    table.query = query
    table.all_items = all_items


#: Bumped by every write to any table: the maps ``_by_attribute`` built before are stale.
_generation = [0]
_maps: weakref.WeakKeyDictionary[Any, dict[str, tuple[int, dict[Any, list[Any]]]]] = weakref.WeakKeyDictionary()
_WRITES = frozenset({"put_item", "update_item", "delete_item", "transact_write_items"})


def _index_and_hash_attribute(table: Any, index_name: str) -> tuple[Any, str | None]:
    for index in [*(table.global_indexes or []), *(table.indexes or [])]:
        if index.name == index_name:
            return index, next((k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"), None)
    return None, None


def _key_of(value: Any) -> Any:
    return (value.type, str(value.value)) if hasattr(value, "type") else value


def _by_attribute(table: Any, attribute: str) -> dict[Any, list[Any]]:
    """The table's items by their value of ``attribute`` (in the table's order), as of
    the last write; called under ``_writing``."""
    maps = _maps.setdefault(table, {})
    cached = maps.get(attribute)
    if cached is not None and cached[0] == _generation[0]:
        return cached[1]
    out: dict[Any, list[Any]] = {}
    for item in _every_item(table):
        value = item.attrs.get(attribute) if hasattr(item, "attrs") else None
        if value is not None:
            out.setdefault(_key_of(value), []).append(item)
    maps[attribute] = (_generation[0], out)
    return out


def _every_item(table: Any) -> list[Any]:
    """The table's items, whatever query of this thread is under way."""
    previous = getattr(_state, "index", None)
    _state.index = None
    try:
        return list(table.all_items())
    finally:
        _state.index = previous


def _atomic_table_operations(backend: Any) -> None:
    for name in ("put_item", "update_item", "delete_item", "transact_write_items", "get_item", "query", "scan"):
        original = getattr(backend, name, None)
        if original is None:
            continue

        def locked(
            *args: Any, __original: Callable[..., Any] = original, __write: bool = name in _WRITES, **kwargs: Any
        ) -> Any:
            with _writing:
                if __write:
                    _generation[0] += 1
                return __original(*args, **kwargs)

        setattr(backend, name, locked)


def _atomic_receives(backend: Any) -> None:
    original: Callable[..., Any] = backend.receive_message

    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            with _receiving:
                result = original(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            left = deadline - time.monotonic()
            if result or left <= 0:
                return result
            # A delayed message (a timer) becomes visible without notifying waiters:
            # wait until the next one is due, or a new message comes.
            queue = self.get_queue(queue_name)
            waited = time.monotonic()
            queue.wait_for_messages(min(left, _until_next_visible(queue)))
            if time.monotonic() - waited < 0.002:
                time.sleep(0.005)  # visible, yet not ours (another poller's): do not spin

    backend.receive_message = receive_message
    for name in ("send_message", "delete_message", "change_message_visibility", "purge_queue"):
        setattr(backend, name, _serialized(getattr(backend, name)))


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    def serialized(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _receiving:
            return method(self, *args, **kwargs)

    return serialized


def _until_next_visible(queue: Any) -> float:
    """Seconds until the next of the queue's messages becomes visible (its delay or
    visibility timeout over); 1 if none is pending."""
    now_ms = time.time() * 1000
    pending = [max(m.visible_at, m.delayed_until) for m in list(queue._messages)]
    future = [at for at in pending if at > now_ms]
    return max(0.0, (min(future) - now_ms) / 1000) if future else 1.0


def _retention_without_counting(backend: Any) -> None:
    from moto.core.utils import unix_time

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        return bool(int(queue.message_retention_period) + message.sent_timestamp / 1000 > unix_time())

    backend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period


#: How long a queue's approximate message counts are kept (``_counts_kept_briefly``), at
#: least, and in multiples of the time counting took.
COUNTS_KEPT_SECONDS = 1.0
COUNTS_KEPT_FACTOR = 20


def _counts_kept_briefly() -> None:
    from moto.sqs.models import Queue

    for name in (
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    ):
        original = getattr(Queue, name).fget

        def kept(self: Any, original: Callable[[Any], int] = original, name: str = name) -> int:
            cache = self.__dict__.setdefault("_wf_counts", {})
            now = time.monotonic()
            hit = cache.get(name)
            if hit is not None and now < hit[0]:
                return int(hit[1])
            value = original(self)
            took = time.monotonic() - now
            cache[name] = (now + max(COUNTS_KEPT_SECONDS, COUNTS_KEPT_FACTOR * took), value)
            return int(value)

        setattr(Queue, name, property(kept))


class _Visible:
    """A queue's visible messages, walked on demand (``Queue.messages``: iterated by a
    receive until it has its ten, counted by the approximate counts, tested for truth by
    a long poll's wait)."""

    def __init__(self, messages: list[Any], now_ms: float) -> None:
        self._messages, self._now = messages, now_ms

    def __iter__(self) -> Any:
        now = self._now
        return (m for m in self._messages if now > m.visible_at and now >= m.delayed_until)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return any(True for _ in self)


def _visible_walked_lazily() -> None:
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Queue

    def messages(self: Any) -> _Visible:
        return _Visible(self._messages, unix_time_millis())

    Queue.messages = property(messages)  # type: ignore[method-assign,assignment]


#: Received messages by receipt handle (``_deletes_by_handle``).
_by_handle: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()


def _deletes_by_handle() -> None:
    from moto.sqs.exceptions import ReceiptHandleIsInvalid
    from moto.sqs.models import Message, Queue

    original: Callable[..., None] = Message.mark_received

    def mark_received(self: Any, visibility_timeout: int | None = None) -> None:
        original(self, visibility_timeout)
        _by_handle[self.receipt_handle] = self

    def delete_message(self: Any, receipt_handle: str) -> None:
        if receipt_handle in self.deleted_messages:
            return  # deleted already: as moto (and SQS) allow
        message = _by_handle.get(receipt_handle)
        try:
            if message is None:
                raise ValueError(receipt_handle)
            self._messages.remove(message)  # by identity: C speed, under the queue lock
        except ValueError:
            raise ReceiptHandleIsInvalid() from None
        self.pending_messages.discard(message)
        self.deleted_messages.update(message.all_receipt_handles)

    Message.mark_received = mark_received  # type: ignore[method-assign]
    Queue.delete_message = delete_message  # type: ignore[method-assign]
