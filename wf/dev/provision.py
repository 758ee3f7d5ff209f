"""Creates the table and queues as template.yaml defines them (local stack and tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from wf.aws.settings import Settings
from wf.aws.table import table_definition

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

TABLE_NAME = "wf-instances"
QUEUE_NAME = "wf-work"
BUCKET_NAME = "wf-payloads"
#: template.yaml's lifecycle: message bodies (``m/``) outlive SQS's longest retention.
MESSAGE_BLOB_DAYS = 15
#: template.yaml's function timeout (Globals.Function.Timeout), in seconds.
FUNCTION_TIMEOUT = 29  # API Gateway's integration limit, as the template's
VISIBILITY_TIMEOUT = 6 * FUNCTION_TIMEOUT  # as AWS recommends
#: What the local stack's calls sign with where no credentials are configured (an
#: emulator takes any), and its region.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
LOCAL_REGION = "us-east-1"
#: template.yaml's ``RetentionDays`` default: ``wf dev`` keeps terminal instances as long.
DEV_RETENTION_DAYS = 90
#: The template's default: the engine must know the queue's redrive count.
MAX_RECEIVE_COUNT = Settings.max_receive_count


@dataclass(frozen=True)
class Resources:
    table_name: str
    queue_url: str
    dlq_url: str
    #: The payload bucket, if one was asked for (``s3`` given to ``ensure_resources``).
    bucket_name: str | None = None


def ensure_bucket(s3: Any, bucket_name: str = BUCKET_NAME) -> str:
    """The payload bucket as template.yaml defines it: private, encrypted, message bodies
    expiring."""
    try:
        s3.create_bucket(Bucket=bucket_name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_public_access_block(
        Bucket=bucket_name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket_name,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "message-bodies",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "m/"},
                    "Expiration": {"Days": MESSAGE_BLOB_DAYS},
                }
            ]
        },
    )
    return bucket_name


def ensure_resources(
    dynamodb: DynamoDBClient,
    sqs: SQSClient,
    *,
    table_name: str = TABLE_NAME,
    queue_name: str = QUEUE_NAME,
    s3: Any = None,
    visibility_timeout: int = VISIBILITY_TIMEOUT,
) -> Resources:
    """Create what is missing; leave what exists (the bucket only with ``s3``), but for
    the queue's visibility timeout (six times the function's, as the template's)."""
    try:
        dynamodb.create_table(**table_definition(table_name))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    dlq_url = sqs.create_queue(QueueName=f"{queue_name}-dlq", Attributes={"SqsManagedSseEnabled": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes: Any = {
        "VisibilityTimeout": str(visibility_timeout),
        "SqsManagedSseEnabled": "true",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}),
    }
    try:
        queue_url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
    except ClientError as exc:
        if "QueueAlreadyExists" not in exc.response["Error"]["Code"]:
            raise
        queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes=attributes)
    bucket = ensure_bucket(s3) if s3 is not None else None
    return Resources(table_name, queue_url, dlq_url, bucket)
