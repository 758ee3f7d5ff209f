"""The blob port: where payloads too large for an item or a message are kept (S3 on AWS),
and the rules that decide which payloads go there and under which key. Adapters:
``wf/aws/s3.py`` (S3), ``wf/testing/memory_blobs.py`` (in memory).

A payload is kept by reference when it is over ``OFFLOAD_BYTES``: the item or message
holds ``{"$blob": key}`` where the payload's string would be. Keys are content
addressed (a hash of the payload), so writing one again, as a step or a message retried
after a crash does, writes the same object: a reference can never name another payload.
The blob is written before the item or message that names it, so no reader ever finds a
reference to nothing.

- History payloads: ``h/<instance>/<execution>/<hash>``. They go with their execution
  (its deletion, a purge of the instance).
- Message bodies: ``m/<hash>``. A message may be delivered again for as long as SQS
  keeps it, so its body is not deleted when it is handled: the bucket's lifecycle rule
  expires ``m/`` after SQS's longest retention (template.yaml).
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from wf.errors import HistoryFormatError

#: Payloads above this many bytes are kept by reference. Above it an S3 PUT ($5 per
#: million) costs less than the DynamoDB write units the payload would take ($0.625 per
#: million per KB) and keeps items small; below it a reference would cost more than it
#: saves.
OFFLOAD_BYTES = 16 * 1024
#: The largest payload accepted with a bucket (inputs, outputs, event data, activity results).
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
#: Without a bucket payloads stay inline, in items and messages of their own limits.
MAX_INLINE_PAYLOAD_BYTES = 200_000
#: Where a reference stands for a payload in stored JSON.
REF = "$blob"


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Write ``data`` at ``key`` (overwriting: keys are content addressed)."""

    def get(self, key: str) -> bytes:
        """The bytes at ``key``; ``StoreError`` if they cannot be read (or are missing)."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every blob whose key starts with ``prefix``; returns how many."""


def content_key(prefix: str, data: bytes) -> str:
    return prefix + hashlib.sha256(data).hexdigest()[:40]


def history_prefix(instance_id: str, execution_id: str | None = None) -> str:
    """The keys of an instance's history blobs (instance IDs are letters, digits, ``_``
    and ``-``, so no prefix is another's)."""
    return f"h/{instance_id}/" if execution_id is None else f"h/{instance_id}/{execution_id}/"


MESSAGE_PREFIX = "m/"


class PayloadCodec:
    """Puts large payload strings into blobs and reads them back, for one adapter.

    ``blobs=None``: nothing is offloaded (no bucket), and reading a reference fails."""

    def __init__(self, blobs: BlobStore | None, threshold: int = OFFLOAD_BYTES) -> None:
        self.blobs = blobs
        self.threshold = threshold

    def pack(self, text: str | None, prefix: str) -> str | dict[str, Any] | None:
        """``text`` itself, or a reference to a blob holding it (when it is large)."""
        if text is None or self.blobs is None or len(text) <= self.threshold // 4:
            return text  # cheap test first: a short string cannot be over the threshold
        data = text.encode()
        if len(data) <= self.threshold:
            return text
        return {REF: self.put(data, prefix)}

    def put(self, data: bytes, prefix: str) -> str:
        """Keep ``data`` in a blob (there must be a bucket); returns its key."""
        if self.blobs is None:
            raise HistoryFormatError("no bucket is configured to keep a blob in")
        key = content_key(prefix, data)
        self.blobs.put(key, data)
        return key

    def unpack(self, value: Any) -> Any:
        """The payload ``value`` stands for: itself unless it is a reference."""
        if value.__class__ is not dict or REF not in value:
            return value
        if self.blobs is None:
            raise HistoryFormatError(f"a payload is kept in blob {value[REF]!r}, but no bucket is configured")
        return self.blobs.get(str(value[REF])).decode()
