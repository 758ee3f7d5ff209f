"""For users' tests: ``WorkflowTestEnvironment``, which runs an application's workflows in
memory on a virtual clock that skips time (``wf/testing/environment.py``). And the
in-memory store, queue, blobs, metrics and status events it and the engine's tests use.

They implement the engine's ports with the same semantics as the AWS adapters (the
store contract tests in ``tests/test_store_contract.py`` run one suite on both)."""

from wf.testing.environment import TestWorkflowClient, WorkflowTestEnvironment
from wf.testing.memory_blobs import MemoryBlobs
from wf.testing.memory_queue import MemoryQueue
from wf.testing.memory_slots import MemorySlots
from wf.testing.memory_store import MemoryStore
from wf.testing.metrics import RecordingMetrics
from wf.testing.replayer import Replayer, ReplayOutcome
from wf.testing.status_events import RecordingStatusEvents

__all__ = [
    "MemoryBlobs",
    "MemoryQueue",
    "MemorySlots",
    "MemoryStore",
    "RecordingMetrics",
    "RecordingStatusEvents",
    "ReplayOutcome",
    "Replayer",
    "TestWorkflowClient",
    "WorkflowTestEnvironment",
]
