"""In-memory store, queue, blobs, metrics and status events, for the engine's tests and for users' own tests.

They implement the engine's ports with the same semantics as the AWS adapters (the
store contract tests in ``tests/test_store_contract.py`` run one suite on both)."""

from wf.testing.memory_blobs import MemoryBlobs
from wf.testing.memory_queue import MemoryQueue
from wf.testing.memory_store import MemoryStore
from wf.testing.metrics import RecordingMetrics
from wf.testing.status_events import RecordingStatusEvents

__all__ = ["MemoryBlobs", "MemoryQueue", "MemoryStore", "RecordingMetrics", "RecordingStatusEvents"]
