"""The queue port: how the engine sends itself work. Adapters: ``wf/aws/sqs.py`` (SQS),
``wf/testing/memory_queue.py`` (in memory)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

#: SQS's longest delivery delay; longer timers hop through several messages.
MAX_DELAY_SECONDS = 900


@dataclass(frozen=True)
class OutMessage:
    body: dict[str, Any]
    delay_seconds: int = 0


class WorkQueue(Protocol):
    def send(self, messages: Sequence[OutMessage]) -> None:
        """Send every message, or raise ``QueueError``."""

    def read(self, body: str) -> dict[str, Any]:
        """A received message's body as it was sent (large bodies travel by reference)."""
