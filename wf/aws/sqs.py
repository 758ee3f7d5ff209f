"""``WorkQueue`` on SQS."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from wf.engine.queue import MAX_DELAY_SECONDS, OutMessage
from wf.errors import QueueError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

#: SQS's largest batch of one SendMessageBatch.
BATCH = 10


class SqsQueue:
    """Sends with ``SendMessageBatch`` (10 per request): a fan-out costs a tenth."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, messages: Sequence[OutMessage]) -> None:
        for start in range(0, len(messages), BATCH):
            chunk = messages[start : start + BATCH]
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
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
                        QueueUrl=self._url, MessageBody=e["MessageBody"], DelaySeconds=e.get("DelaySeconds", 0)
                    )
                    continue
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                raise QueueError(f"sending {len(entries)} message(s) to SQS failed: {exc}") from exc
            failed = response.get("Failed") or []
            if failed:
                raise QueueError(f"SQS rejected {len(failed)} message(s): {failed[0].get('Message')}")

    def ack(self, receipt_handles: Sequence[str]) -> None:
        """Delete received messages now, before their batch reports (work handed on to
        fresh messages: its original must not come back if the invocation dies)."""
        for start in range(0, len(receipt_handles), BATCH):
            chunk = receipt_handles[start : start + BATCH]
            try:
                response = self._client.delete_message_batch(
                    QueueUrl=self._url, Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)]
                )
            except (BotoCoreError, ClientError) as exc:
                raise QueueError(f"deleting {len(chunk)} message(s) from SQS failed: {exc}") from exc
            failed = response.get("Failed") or []
            if failed:
                raise QueueError(f"SQS did not delete {len(failed)} message(s): {failed[0].get('Message')}")
