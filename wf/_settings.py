"""Settings of the AWS runtime, read once from the environment and injected."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    table_name: str
    queue_url: str
    component: str = "dapr"
    max_body_bytes: int = 64 * 1024
    region: str = "us-east-1"
    #: An activity starts only if its invocation has more time left than this (and than
    #: 1.5 times its longest run seen); otherwise it goes to a fresh SQS message.
    activity_margin_ms: int = 5_000
    #: The queue's redrive ``maxReceiveCount``: the last delivery before the dead-letter queue.
    max_receive_count: int = 5

    @classmethod
    def from_env(cls) -> Settings:
        try:
            table, queue = os.environ["WF_TABLE_NAME"], os.environ["WF_QUEUE_URL"]
        except KeyError as exc:
            raise RuntimeError(f"environment variable {exc.args[0]} is not set (see template.yaml)") from exc
        return cls(
            table_name=table,
            queue_url=queue,
            component=os.environ.get("WF_COMPONENT", "dapr"),
            max_body_bytes=int(os.environ.get("WF_MAX_BODY_BYTES", str(64 * 1024))),
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            activity_margin_ms=int(os.environ.get("WF_ACTIVITY_MARGIN_MS", "5000")),
            max_receive_count=int(os.environ.get("WF_MAX_RECEIVE_COUNT", "5")),
        )
