"""The local stack's moto patches give the answers moto itself gives (wf/dev/moto_fixes.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import SecondaryIndex
from moto.dynamodb.responses import DynamoHandler

ITEMS: list[dict[str, Any]] = [
    {
        "pk": f"p{n % 2}",
        "sk": f"s{n:02d}",
        "gsi": "g",
        "s": "text é ✓",
        "n": Decimal("12.5") * n,
        "b": bytes([n, 0, 255]),
        "bool": n % 3 == 0,
        "null": None,
        "l": ["a", Decimal(1), {"m": b"\x01"}],
        "m": {"inner": {"deep": [True, None]}},
        "ss": {"x", "y"},
        "ns": {Decimal(1), Decimal(2)},
        "bs": {b"\x00", b"\x02"},
    }
    for n in range(12)
]


def _reads(client: Any) -> list[dict[str, Any]]:
    key = {"pk": {"S": "p0"}, "sk": {"S": "s02"}}
    answers = [
        client.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p0"}}),
        client.query(
            TableName="t",
            IndexName="by_gsi",
            KeyConditionExpression="gsi = :g",
            ExpressionAttributeValues={":g": {"S": "g"}},
            Limit=5,
            ScanIndexForward=False,
            ReturnConsumedCapacity="TOTAL",
        ),
        client.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "none"}}),
        client.query(
            TableName="t",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "p1"}},
            Select="COUNT",
        ),
        client.query(
            TableName="t",
            IndexName="by_gsi",
            KeyConditionExpression="gsi = :g AND sk > :s",
            FilterExpression="attribute_exists(b) AND NOT begins_with(pk, :p)",
            ExpressionAttributeValues={":g": {"S": "g"}, ":s": {"S": "s03"}, ":p": {"S": "p1"}},
        ),
        client.query(
            TableName="t",
            IndexName="by_keys",
            KeyConditionExpression="gsi = :g",
            ExpressionAttributeValues={":g": {"S": "g"}},
            ExclusiveStartKey={"gsi": {"S": "g"}, "n": {"N": "25"}, "pk": {"S": "p0"}, "sk": {"S": "s02"}},
        ),
        client.scan(TableName="t", Limit=7),
        client.get_item(TableName="t", Key=key),
        client.get_item(TableName="t", Key={"pk": {"S": "p0"}, "sk": {"S": "absent"}}),
        client.batch_get_item(RequestItems={"t": {"Keys": [key, {"pk": {"S": "p1"}, "sk": {"S": "s03"}}]}}),
    ]
    for answer in answers:
        answer.pop("ResponseMetadata")
    return answers


@pytest.fixture
def client() -> Any:
    with mock_aws():
        c = boto3.client("dynamodb", region_name="us-east-1")
        c.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                *({"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "gsi")),
                {"AttributeName": "n", "AttributeType": "N"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_gsi",
                    "KeySchema": [
                        {"AttributeName": "gsi", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["b", "m"]},
                },
                {
                    "IndexName": "by_keys",
                    "KeySchema": [
                        {"AttributeName": "gsi", "KeyType": "HASH"},
                        {"AttributeName": "n", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        table = boto3.resource("dynamodb", region_name="us-east-1").Table("t")
        for item in ITEMS:
            table.put_item(Item=item)
        yield c


def test_items_encoded_and_projected_directly_answer_as_moto_does(client, monkeypatch) -> None:
    patched = _reads(client)
    assert patched[0]["Items"][1]["b"] == {"B": bytes([2, 0, 255])}  # binary survives
    assert sorted(patched[1]["Items"][0]) == ["b", "gsi", "m", "pk", "sk"]  # the INCLUDE projection
    assert [i["sk"]["S"] for i in patched[4]["Items"]] == ["s04", "s06", "s08", "s10"]  # filtered on it
    assert sorted(patched[5]["Items"][0]) == ["gsi", "n", "pk", "sk"]  # KEYS_ONLY, after the start key
    assert [i["n"]["N"] for i in patched[5]["Items"]][:2] == ["37.5", "50.0"]
    monkeypatch.setattr(DynamoHandler, "serialized", DynamoHandler.wf_unpatched_serialized)
    monkeypatch.setattr(SecondaryIndex, "project", SecondaryIndex.wf_unpatched_project)
    assert _reads(client) == patched
