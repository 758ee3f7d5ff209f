"""``BlobStore`` on S3: the payloads too large for an item or a message."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wf.errors import StoreError


class S3Blobs:
    """``BlobStore`` on one bucket (private, encrypted: template.yaml)."""

    def __init__(self, make_client: Callable[[], Any], bucket: str) -> None:
        # The client is made on first use: most invocations never meet a large payload,
        # and making it costs a cold start about 30 ms. (Any: botocore's client is typed
        # by mypy_boto3_s3, not a dependency of the function.)
        self._make_client = make_client
        self._made: Any = None
        self._lock = threading.Lock()
        self._bucket = bucket

    @property
    def _client(self) -> Any:
        if self._made is None:
            with self._lock:
                if self._made is None:
                    self._made = self._make_client()
        return self._made

    def put(self, key: str, data: bytes) -> None:
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"writing blob {key} failed: {exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            body: bytes = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"reading blob {key} failed: {exc}") from exc
        return body

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self._client.delete_objects(Bucket=self._bucket, Delete={"Objects": keys, "Quiet": True})
                    deleted += len(keys)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"deleting blobs under {prefix} failed: {exc}") from exc
        return deleted
