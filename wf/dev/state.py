"""What the local stack keeps across restarts: its table and queues, saved to a file
when it stops and loaded when it starts (``wf dev --state FILE``; by default
``.wf/state.json`` in the working directory), as a deployed stack keeps its DynamoDB
table and SQS queues across deployments.

The table is read and written through DynamoDB's API (scan, batch writes). SQS has no
API that reads a delayed or in-flight message, and those are most of a workflow's
queue (its timers and retries), so the queues are read from the embedded emulator's
own records: each message's body and how long it had still to wait. Restored, it waits
the rest (SQS's 15 minutes at most; a longer timer hops again, as it would on AWS).
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from wf.errors import DevServerError

log = logging.getLogger("wf.dev")

#: Bumped when the file's shape changes; a file of another version is not loaded.
STATE_VERSION = 1
#: Where ``wf dev`` and ``WorkflowRuntime.start()`` keep it unless told otherwise.
DEFAULT_STATE_FILE = Path(".wf") / "state.json"
#: SQS's longest delay.
MAX_DELAY_SECONDS = 900


def state_file(option: str | None) -> Path | None:
    """The state file to use: ``option`` (``--state``), else ``$WF_STATE``, else the
    default; ``off`` (or ``none``, ``0``) for a stack that starts empty every time."""
    value = option if option is not None else os.environ.get("WF_STATE")
    if value is None or value == "":
        return DEFAULT_STATE_FILE
    if value.lower() in ("off", "none", "0", "false", "no"):
        return None
    return Path(value)


def save_state(
    path: Path,
    dynamodb: Any,
    table_name: str,
    queue_names: list[str],
    region: str,
    s3: Any = None,
    bucket: str | None = None,
) -> tuple[int, int]:
    """Write the table's items, the queues' messages and the payload bucket's blobs to
    ``path`` (atomically: a stop cut short leaves the previous file); returns how many
    items and messages."""
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table_name):
        items.extend(page["Items"])
    queues = {name: _messages(name, region) for name in queue_names}
    blobs: dict[str, str] = {}
    if s3 is not None and bucket:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                blobs[obj["Key"]] = base64.b64encode(body).decode()
    data = {"v": STATE_VERSION, "saved_at": time.time(), "table": items, "queues": queues, "blobs": blobs}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")))
    os.replace(tmp, path)
    return len(items), sum(len(m) for m in queues.values())


def load_state(
    path: Path,
    dynamodb: Any,
    table_name: str,
    sqs: Any,
    queue_urls: dict[str, str],
    s3: Any = None,
    bucket: str | None = None,
) -> tuple[int, int]:
    """Put back what ``save_state`` wrote into the (new, empty) table and queues; returns how
    many items and messages. No file: nothing to load."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return 0, 0
    except (OSError, ValueError) as exc:
        raise DevServerError(f"the state file {path} cannot be read ({exc}); move it away to start empty") from exc
    if data.get("v") != STATE_VERSION:
        raise DevServerError(
            f"the state file {path} was written by another version (v{data.get('v')}, this one reads "
            f"v{STATE_VERSION}); move it away to start empty"
        )
    if s3 is not None and bucket:
        # Before the items and messages that name them.
        for key, body in data.get("blobs", {}).items():
            s3.put_object(Bucket=bucket, Key=key, Body=base64.b64decode(body))
    items: list[dict[str, Any]] = data["table"]
    for start in range(0, len(items), 25):
        pending: Any = {table_name: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or None
    # Time went by while the stack was down: what was waiting then has waited that long.
    down = max(0.0, time.time() - float(data["saved_at"]))
    sent = 0
    for name, messages in data["queues"].items():
        url = queue_urls.get(name)
        if url is None:
            continue
        for start in range(0, len(messages), 10):
            batch = messages[start : start + 10]
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": m["body"],
                    "DelaySeconds": min(MAX_DELAY_SECONDS, max(0, math.ceil(m["wait"] - down))),
                }
                for i, m in enumerate(batch)
            ]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
            sent += len(entries)
    return len(items), sent


def _messages(queue_name: str, region: str) -> list[dict[str, Any]]:
    """The embedded emulator's messages of one queue: body, and seconds still to wait."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[DEFAULT_ACCOUNT_ID][region].queues.get(queue_name)
    if queue is None:
        return []
    now = time.time()
    # The emulator keeps times in milliseconds. A message in flight (its batch stopped
    # with the stack) is due again at once, as after a crash once its visibility ends.
    return [{"body": m.body, "wait": max(0.0, m.delayed_until / 1000 - now)} for m in list(queue._messages)]
