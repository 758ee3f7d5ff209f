"""Lambda's SQS event source for the in-process benches: a received batch handed to the
handler as an SQS event (shaped like ``events/sqs_event.json``), its successes deleted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RECORD = json.loads((Path(__file__).resolve().parent.parent / "events" / "sqs_event.json").read_text())["Records"][0]


def deliver(handler: Any, sqs: Any, queue_url: str, msgs: list[dict[str, Any]]) -> set[str]:
    """Invoke ``handler`` with ``msgs`` and delete those it did not report failed (as
    Lambda does); returns the failed message IDs."""
    records = [
        dict(
            RECORD,
            messageId=m["MessageId"],
            receiptHandle=m["ReceiptHandle"],
            body=m["Body"],
            attributes=dict(RECORD["attributes"], ApproximateReceiveCount=m["Attributes"]["ApproximateReceiveCount"]),
        )
        for m in msgs
    ]
    failed = {f["itemIdentifier"] for f in handler({"Records": records}, None)["batchItemFailures"]}
    done = [m for m in msgs if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
        )
    return failed
