"""The workflow table's schema, in one place: the layout of its items, the pynamodb
model the store (``wf/aws/dynamodb.py``) reads and writes them with, the names other
parts read from the raw table (its stream, the local stack's TTL), and its CreateTable
definition (the local stack; ``template.yaml`` declares the same).

Layout (partition key ``pk`` = instance ID):
- ``sk = "META"``: the instance record; ``status_key``/``created_at`` feed the
  ``by_status`` index that listings query (workflow name projected). The index key is
  the status plus one of ``STATUS_SHARDS`` shards of the instance ID: a status alone
  would put every running instance in one index partition, whose write limit (about
  1,000 per second) would then cap starts and completions for the whole table.
- ``sk = "H#<execution>#<seq>"``: one item per step, written once with
  ``attribute_not_exists``: two invocations racing on an instance cannot both commit.
- A step whose events exceed ``PART_BYTES`` (a wide fan-out's): with a bucket, its
  events are one blob (content addressed, ``wf/engine/blobs.py``) that the step item
  names; without one, ``sk = "P#<execution>#<seq>#<token>#<n>"`` items hold the rest of
  them, ``PART_BYTES`` each, under a token of that writer's own. Either is written
  first; the step item, written last and conditionally as always, names it: it is the
  commit. What no step item names (a writer that lost the race, or died before its
  step item) is never read; the loser deletes its parts, a purge or the execution's
  deletion the rest. The bucket is preferred: one PUT ($5 per million) against a write
  unit per KB ($0.625 per million each, 10,000 for a 10 MB step), and no partition's
  write throughput (1,000 units a second per instance) to wait for.

- ``pk = "LIMIT#<scope>"`` (no instance ID has a ``#``): a concurrency limit's slots,
  ``sk = "S#<n>"``, each leased to one run at a time, and ``sk = "W#<run>"``, a note
  that a run waits for one (``wf/aws/slots.py``).

- ``sk = "I#<execution>#<token>"``: the execution's inbox: results that lost a race to
  commit, left for one step to take together (``wf/engine/engine.py``); deleted once
  recorded. ``sk = "N#<execution>"``: when the inbox's message was sent, while it is
  pending (so that one message, not one per entry, records them).

Payloads over ``wf/engine/blobs.py:OFFLOAD_BYTES`` are kept in the bucket, the items
holding references: no item is ever near DynamoDB's 400 KB.
"""

from __future__ import annotations

import zlib
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from wf.core.status import WorkflowStatus

#: The key attributes: the instance ID, and what an item is of it.
PK, SK = "pk", "sk"
#: The time-to-live attribute (epoch seconds): set on a terminal instance's record.
TTL_ATTRIBUTE = "expire_at"
#: The listing index, and the attributes it projects beside its keys.
STATUS_INDEX = "by_status"
INDEX_ATTRIBUTES = ("workflow_name", "updated_at", "parent")
#: Attributes of an instance record that an expiry's stream image is read for.
EXECUTION_ID, SUPERSEDED, WORKFLOW_NAME, STATUS = "execution_id", "superseded", "workflow_name", "wf_status"

META = "META"


def make_item_model(table_name: str, region: str, host: str | None) -> type[Model]:
    """A pynamodb model bound to one table (the table name is configuration)."""

    class ByStatus(GlobalSecondaryIndex[Any]):  # type: ignore[no-untyped-call]
        class Meta:
            index_name = STATUS_INDEX
            projection = IncludeProjection(list(INDEX_ATTRIBUTES))

        status_key = UnicodeAttribute(hash_key=True)
        created_at = UnicodeAttribute(range_key=True)

    class Item(Model):
        class Meta:
            pass

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        execution_id = UnicodeAttribute(null=True)
        workflow_name = UnicodeAttribute(null=True)
        wf_status = UnicodeAttribute(null=True)
        status_key = UnicodeAttribute(null=True)
        created_at = UnicodeAttribute(null=True)
        updated_at = UnicodeAttribute(null=True)
        output = UnicodeAttribute(null=True)
        failure = UnicodeAttribute(null=True)
        custom_status = UnicodeAttribute(null=True)
        parent = UnicodeAttribute(null=True)
        first_step = UnicodeAttribute(null=True)
        events = UnicodeAttribute(null=True)
        step_status = UnicodeAttribute(null=True)
        synced_seq = NumberAttribute(null=True)
        superseded = UnicodeAttribute(null=True)
        #: The record's or step's own payloads kept in the bucket: field name to blob key.
        refs = UnicodeAttribute(null=True)
        #: When a terminal instance's record expires (epoch seconds; the table's TTL
        #: attribute): the rest of the instance is deleted as the stream reports it.
        expire_at = NumberAttribute(null=True)
        #: A step stored in several items: how many, and the token of their keys.
        parts = NumberAttribute(null=True)
        part_token = UnicodeAttribute(null=True)
        #: A step's status change not yet published (``wf/engine/status_events.py``).
        announce = UnicodeAttribute(null=True)
        #: A scheduled start's time and input (a PENDING instance's record).
        start_at = UnicodeAttribute(null=True)
        input = UnicodeAttribute(null=True)
        #: A concurrency limit's slot (``wf/aws/slots.py``): who holds it, and until
        #: when (epoch milliseconds); for a waiting run's note, until when it counts.
        lease_owner = UnicodeAttribute(null=True)
        lease_until = NumberAttribute(null=True)
        by_status = ByStatus()

    Item.Meta.table_name = table_name  # type: ignore[attr-defined]
    Item.Meta.region = region  # type: ignore[attr-defined]
    if host:
        Item.Meta.host = host  # type: ignore[attr-defined]
    return Item


STATUS_SHARDS = 16
#: The statuses an instance record can hold, which a listing without a status filter
#: reads: CONTINUED_AS_NEW marks a sealed execution's last step, never a record (the
#: record moves to the next execution), and nothing ends CANCELED.
RECORDED_STATUSES = frozenset(WorkflowStatus) - {WorkflowStatus.CONTINUED_AS_NEW, WorkflowStatus.CANCELED}


def status_key(status: WorkflowStatus, instance_id: str) -> str:
    """The ``by_status`` index key of an instance: its status and its shard."""
    return f"{status.value}#{zlib.crc32(instance_id.encode()) % STATUS_SHARDS:02d}"


def step_key(execution_id: str, seq: int) -> str:
    return f"H#{execution_id}#{seq:08d}"


def part_prefix(execution_id: str, seq: int, token: str) -> str:
    return f"P#{execution_id}#{seq:08d}#{token}#"


def table_definition(table_name: str) -> dict[str, Any]:
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": PK, "AttributeType": "S"},
            {"AttributeName": SK, "AttributeType": "S"},
            {"AttributeName": "status_key", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": "status_key", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": list(INDEX_ATTRIBUTES),
                },
            }
        ],
        "SSESpecification": {"Enabled": True},
    }
