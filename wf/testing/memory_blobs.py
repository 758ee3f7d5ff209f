"""In-memory ``BlobStore``."""

from __future__ import annotations

import threading

from wf.errors import StoreError


class MemoryBlobs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.blobs: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self.blobs[key] = data

    def get(self, key: str) -> bytes:
        try:
            return self.blobs[key]
        except KeyError:
            raise StoreError(f"blob {key} does not exist") from None

    def delete_prefix(self, prefix: str) -> int:
        with self._lock:
            keys = [k for k in self.blobs if k.startswith(prefix)]
            for k in keys:
                del self.blobs[k]
        return len(keys)
