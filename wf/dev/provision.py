"""Creates the table and queues as template.yaml defines them (local stack and tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from wf.aws.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

TABLE_NAME = "wf-instances"
QUEUE_NAME = "wf-work"
VISIBILITY_TIMEOUT = 180  # six times the function timeout, as AWS recommends
#: The template's default: the engine must know the queue's redrive count.
MAX_RECEIVE_COUNT = Settings.max_receive_count


@dataclass(frozen=True)
class Resources:
    table_name: str
    queue_url: str
    dlq_url: str


def table_definition(table_name: str) -> dict[str, Any]:
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "status_key", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by_status",
                "KeySchema": [
                    {"AttributeName": "status_key", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["workflow_name"]},
            }
        ],
        "SSESpecification": {"Enabled": True},
    }


def ensure_resources(
    dynamodb: DynamoDBClient, sqs: SQSClient, *, table_name: str = TABLE_NAME, queue_name: str = QUEUE_NAME
) -> Resources:
    """Create what is missing; leave what exists."""
    try:
        dynamodb.create_table(**table_definition(table_name))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    dlq_url = sqs.create_queue(QueueName=f"{queue_name}-dlq", Attributes={"SqsManagedSseEnabled": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=queue_name,
        Attributes={
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT),
            "SqsManagedSseEnabled": "true",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}),
        },
    )["QueueUrl"]
    return Resources(table_name, queue_url, dlq_url)
