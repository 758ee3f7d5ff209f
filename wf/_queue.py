"""The work queue: a small protocol, the SQS adapter and an in-memory one."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from wf._errors import WorkflowError

#: SQS's longest delivery delay; longer timers hop through several messages.
MAX_DELAY_SECONDS = 900


class QueueError(WorkflowError):
    """Sending work to the queue failed."""


@dataclass(frozen=True)
class OutMessage:
    body: dict[str, Any]
    delay_seconds: int = 0


class WorkQueue(Protocol):
    def send(self, messages: Sequence[OutMessage]) -> None: ...


class SqsQueue:
    """Sends with ``SendMessageBatch`` (10 per request): a fan-out costs a tenth."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, messages: Sequence[OutMessage]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": json.dumps(m.body, separators=(",", ":")),
                    "DelaySeconds": max(0, min(MAX_DELAY_SECONDS, m.delay_seconds)),
                }
                for i, m in enumerate(chunk)
            ]
            try:
                if len(entries) == 1:
                    e = entries[0]
                    self._client.send_message(
                        QueueUrl=self._url, MessageBody=e["MessageBody"], DelaySeconds=e["DelaySeconds"]
                    )
                    continue
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                raise QueueError(f"sending {len(entries)} message(s) to SQS failed: {exc}") from exc
            failed = response.get("Failed") or []
            if failed:
                raise QueueError(f"SQS rejected {len(failed)} message(s): {failed[0].get('Message')}")


class MemoryQueue:
    """In-memory ``WorkQueue``: messages are kept for a test to deliver."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, OutMessage]] = []

    def send(self, messages: Sequence[OutMessage]) -> None:
        self.messages.extend((uuid.uuid4().hex, m) for m in messages)
