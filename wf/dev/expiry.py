"""DynamoDB's TTL and the table's stream event source, as the local stack's emulator
has neither: items whose ``expire_at`` has passed are deleted, and each instance
record so deleted is reported to the function as Lambda's DynamoDB event source would
(a ``REMOVE`` by ``dynamodb.amazonaws.com``, with the old image), so that retention
(``wf/aws/retention.py``) runs here as on AWS, only promptly: DynamoDB deletes within
a day or two of the due time, this within ``interval`` seconds.

A report the function fails is kept and delivered again with the next round, as the
event source retries a stream batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from wf.aws.table import META, PK, SK, TTL_ATTRIBUTE

log = logging.getLogger("wf.dev")

#: Seconds between two sweeps of the table, at least.
DEFAULT_INTERVAL = 2.0
#: The most of its time the sweeper may take: a sweep scans the whole table (moto has
#: nothing to find the due items by), so a large table is swept less often, not
#: continually under the table's lock while every other call waits.
MAX_SHARE = 0.05
#: Records per stream batch (the template's ``BatchSize``).
BATCH = 100


class TtlSweeper:
    def __init__(
        self,
        dynamodb: Any,
        table_name: str,
        invoke: Callable[[dict[str, Any], Any], dict[str, Any]],
        context: Callable[[], Any],
        *,
        region: str = "us-east-1",
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._invoke = invoke
        self._context = context
        self._region = region
        self._interval = interval
        self._clock = clock
        self._timer = timer
        self._pending: list[dict[str, Any]] = []
        self._sequence = 0
        self._arn = f"arn:aws:dynamodb:{region}:000000000000:table/{table_name}/stream/local"

    def run(self, stop: threading.Event) -> None:
        wait = self._interval
        while not stop.wait(wait):
            started = self._timer()
            try:
                self.sweep()
            except Exception:
                log.exception("ttl: sweeping the table failed; trying again")
            wait = max(self._interval, (self._timer() - started) / MAX_SHARE)

    def sweep(self) -> int:
        """Delete what is due; report the instance records among it. Returns how many
        items were deleted."""
        now = int(self._clock())
        pages = self._dynamodb.get_paginator("scan").paginate(
            TableName=self._table,
            FilterExpression="#ttl <= :now",
            ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
            ExpressionAttributeValues={":now": {"N": str(now)}},
        )
        deleted = 0
        for page in pages:
            for item in page["Items"]:
                key = {PK: item[PK], SK: item[SK]}
                try:
                    # Conditional, as TTL is: an item rewritten since (restarted) stays.
                    old = self._dynamodb.delete_item(
                        TableName=self._table,
                        Key=key,
                        ConditionExpression="#ttl <= :now",
                        ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                        ExpressionAttributeValues={":now": {"N": str(now)}},
                        ReturnValues="ALL_OLD",
                    ).get("Attributes")
                except self._dynamodb.exceptions.ConditionalCheckFailedException:
                    continue
                if old is None:
                    continue
                deleted += 1
                if old[SK].get("S") == META:
                    self._pending.append(self._record(key, old))
        self._report()
        return deleted

    def _record(self, key: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        self._sequence += 1
        return {
            "eventID": f"local-{self._sequence}",
            "eventName": "REMOVE",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
            "dynamodb": {
                "ApproximateCreationDateTime": int(self._clock()),
                "Keys": key,
                "OldImage": old,
                "SequenceNumber": str(self._sequence),
                "SizeBytes": 0,
                "StreamViewType": "OLD_IMAGE",
            },
            "eventSourceARN": self._arn,
        }

    def _report(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
            try:
                result = self._invoke({"Records": batch}, self._context())
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            except Exception:
                log.exception("ttl: the handler raised: the expiries will be reported again")
                failed = {r["dynamodb"]["SequenceNumber"] for r in batch}
            again = [r for r in batch if r["dynamodb"]["SequenceNumber"] in failed]
            for r in batch:
                if r not in again:
                    log.info("ttl %s: expired and deleted", r["dynamodb"]["Keys"][PK]["S"])
            if again:
                self._pending = again + self._pending
                return
