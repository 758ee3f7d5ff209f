"""In-memory ``WorkQueue``: messages are kept for a test to deliver."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from wf.engine.queue import OutMessage


class MemoryQueue:
    def __init__(self) -> None:
        self.messages: list[tuple[str, OutMessage]] = []

    def send(self, messages: Sequence[OutMessage]) -> None:
        self.messages.extend((uuid.uuid4().hex, m) for m in messages)

    def read(self, body: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(body)
        return data
