"""``WorkQueue`` on SQS."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from wf.engine.blobs import MESSAGE_PREFIX, REF, BlobStore, content_key
from wf.engine.queue import MAX_DELAY_SECONDS, OutMessage
from wf.errors import PayloadTooLargeError, QueueError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

#: The host of a queue URL on AWS (``sqs.REGION.amazonaws.com``, or the legacy
#: ``REGION.queue.amazonaws.com``), which names its region.
_AWS_HOST = re.compile(r"^(?:sqs\.([a-z0-9-]+)|([a-z0-9-]+)\.queue)\.amazonaws\.com(?:\.cn)?$")

#: SQS's largest batch of one SendMessageBatch.
BATCH = 10
#: SQS's limit of one message, and of one SendMessageBatch with all its entries.
MAX_BATCH_BYTES = 256 * 1024
#: A body larger than this goes to the bucket, the message naming it. Up to SQS's limit
#: a body stays inline: SQS bills a request per 64 KB, so even 256 KB cost four
#: requests ($1.60 per million), less than an S3 PUT and GET ($5.40 per million).
MAX_INLINE_BODY_BYTES = MAX_BATCH_BYTES - 2048


class SqsQueue:
    """Sends with ``SendMessageBatch`` (10 per request): a fan-out costs a tenth. A body
    over ``MAX_INLINE_BODY_BYTES`` is kept in the bucket (``m/`` keys,
    ``wf/engine/blobs.py``) and the message names it; ``read`` gives it back."""

    def __init__(self, make_client: Callable[[], SQSClient], queue_url: str, blobs: BlobStore | None = None) -> None:
        # The client is made on first use: an invocation that sends nothing (a GET) does
        # not make it, which is a fifth of a cold start's init.
        self._make_client = make_client
        self._made: SQSClient | None = None
        self._lock = threading.Lock()
        self._url = queue_url
        self._blobs = blobs

    @property
    def _client(self) -> SQSClient:
        made = self._made
        if made is None:
            with self._lock:
                if self._made is None:
                    self._made = self._make_client()
                made = self._made
        return made

    def _body(self, message: OutMessage) -> str:
        text = json.dumps(message.body, separators=(",", ":"))
        if len(text) <= MAX_INLINE_BODY_BYTES:  # ensure_ascii JSON: characters are bytes
            return text
        if self._blobs is None:
            raise PayloadTooLargeError(
                f"a work message of {len(text):,} bytes is over SQS's limit and no bucket is configured (WF_BUCKET)"
            )
        data = text.encode()
        key = content_key(MESSAGE_PREFIX, data)
        self._blobs.put(key, data)
        head = {k: message.body[k] for k in ("k", "iid", "exec", "sent") if k in message.body}
        return json.dumps({**head, REF: key}, separators=(",", ":"))

    def read(self, body: str) -> dict[str, Any]:
        """A received message's body as it was sent (fetched, if it was sent by reference)."""
        data: dict[str, Any] = json.loads(body)
        key = data.get(REF) if isinstance(data, dict) else None
        if key is None or self._blobs is None:
            return data
        full: dict[str, Any] = json.loads(self._blobs.get(str(key)))
        return full

    def send(self, messages: Sequence[OutMessage]) -> None:
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {
                "Id": "0",
                "MessageBody": self._body(m),
                "DelaySeconds": max(0, min(MAX_DELAY_SECONDS, m.delay_seconds)),
            }
            for m in messages
        ]
        batch: list[SendMessageBatchRequestEntryTypeDef] = []
        size = 0
        for entry in entries:
            if batch and (len(batch) == BATCH or size + len(entry["MessageBody"]) > MAX_BATCH_BYTES):
                self._send(batch)
                batch, size = [], 0
            batch.append({**entry, "Id": str(len(batch))})
            size += len(entry["MessageBody"])
        if batch:
            self._send(batch)

    def _send(self, entries: list[SendMessageBatchRequestEntryTypeDef]) -> None:
        try:
            if len(entries) == 1:
                e = entries[0]
                self._client.send_message(
                    QueueUrl=self._url, MessageBody=e["MessageBody"], DelaySeconds=e.get("DelaySeconds", 0)
                )
                return
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


def queue_endpoint(queue_url: str, default_region: str) -> tuple[str, str | None]:
    """The region and endpoint to send to ``queue_url`` through: an AWS queue's own
    region on AWS's endpoint; any other URL's origin (an emulator's: another app's
    ``wf dev``), in ``default_region``."""
    parts = urlsplit(queue_url)
    found = _AWS_HOST.match(parts.hostname or "")
    if found:
        return found.group(1) or found.group(2), None
    return default_region, f"{parts.scheme}://{parts.netloc}"
