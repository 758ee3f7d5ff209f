"""Partition-local table queries for moto's DynamoDB.

moto answers a ``Query`` on a table's primary key by sorting *every* item of the table
and then keeping those of the asked partition, so each query costs O(n log n) in the
table's size: with a few thousand instances a history read takes a tenth of a second and
the local stack (and the chaos run) slows quadratically. DynamoDB reads one partition.
:func:`install` makes moto do the same: while a primary-key query runs, the table's item
listing yields only the asked partition, already in key order. Results are identical
(moto filters that listing by the same hash key and sorts it by range key afterwards);
index queries and scans are left alone.

Installed by ``wf dev`` and by the test and bench harnesses that run moto in process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_state = threading.local()
_installed = False
_lock = threading.Lock()


def install() -> None:
    """Patch moto's ``Table`` once per process (idempotent; a no-op without moto)."""
    global _installed
    with _lock:
        if _installed:
            return
        try:
            from moto.dynamodb.models.table import Table
        except ImportError:  # moto is a dev dependency; production never runs this
            return
        original_query: Callable[..., Any] = Table.query
        original_all_items: Callable[..., Any] = Table.all_items

        def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
            # index_name is the 8th parameter after self (7th after hash_key).
            index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
            if index_name or hash_key is None or not self.range_key_attr:
                return original_query(self, hash_key, *args, **kwargs)
            previous = getattr(_state, "partition", None)
            _state.partition = (self, hash_key)
            try:
                return original_query(self, hash_key, *args, **kwargs)
            finally:
                _state.partition = previous

        def all_items(self: Any) -> Any:
            partition = getattr(_state, "partition", None)
            if partition is not None and partition[0] is self:
                # ``items`` is a defaultdict: ``get`` so that a read creates no partition.
                items = self.items.get(partition[1], {})
                return sorted(items.values(), key=lambda item: item.range_key)
            return original_all_items(self)

        Table.query = query  # type: ignore[method-assign]
        Table.all_items = all_items  # type: ignore[method-assign]
        _installed = True
