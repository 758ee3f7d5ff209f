"""Retention: a terminal instance is kept ``WF_RETENTION_DAYS`` days, then deleted.

Its record carries the table's TTL attribute (``expire_at``, set by the write that
makes it terminal, so retention costs no write of its own); DynamoDB deletes the record
when it is due, for free, and reports the deletion on the table's stream. This handler
takes those reports and deletes the rest of the instance: its step items and their
blobs. Each child is an instance of its own, with its own record and TTL, and goes the
same way.

Only a TTL deletion of a record counts (the event source's filter passes nothing else,
and each record is checked again here): a purge deletes a record too, and its items
itself. A report handled twice deletes nothing more the second time; one that fails is
reported as the batch's failure and delivered again (the stream keeps it 24 hours).
Until it is handled, the items left cost storage only: nothing reads an instance whose
record is gone.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from wf.aws.table import EXECUTION_ID, META, PK, SK, SUPERSEDED, WORKFLOW_NAME
from wf.engine.store import Retention

log = logging.getLogger("wf.engine")

#: The stream's ``userIdentity`` of a deletion by TTL.
TTL_PRINCIPAL = "dynamodb.amazonaws.com"


def is_expiry(record: Any) -> bool:
    """Whether a stream record (Powertools' ``DynamoDBRecord``) reports an instance
    record deleted by TTL."""
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecordEventName

    identity = record.user_identity or {}
    stream = record.dynamodb
    return (
        record.event_name is DynamoDBRecordEventName.REMOVE
        and identity.get("type") == "Service"
        and identity.get("principalId") == TTL_PRINCIPAL
        and stream is not None
        and stream.keys.get(SK) == META
    )


def expire_batch(store: Retention, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One batch of the table's stream: each expired record's instance deleted, failures
    reported per record."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def handle(record: Any) -> None:
        if not is_expiry(record):
            return
        old = record.dynamodb.old_image
        instance_id, execution_id = str(old[PK]), str(old[EXECUTION_ID])
        superseded = [str(e) for e, _ in json.loads(str(old.get(SUPERSEDED) or "[]"))]
        deleted = store.expired(instance_id, [execution_id, *superseded])
        log.info("%s %s: expired (retention): %d items deleted", old.get(WORKFLOW_NAME), instance_id, deleted)

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    response = process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    return dict(response)
