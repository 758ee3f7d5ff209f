"""One botocore data loader for the process: botocore's endpoint table and service
models, parsed once, whoever makes the client.

boto3 and pynamodb each make botocore sessions of their own, and each session parses
``endpoints.json`` (about 1 MB) and the service's model again: on a cold start that was
over 150 ms of JSON parsing, about a fifth of the init, for files already parsed. The
parsed data is read-only, so sharing it changes nothing else. (The local stack's
containers share it too: a burst of cold containers parsing models held every step of
its one process up.)"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

_lock = threading.Lock()
_loader: Any = None


def shared_loader() -> Any:
    """The process's loader, and pynamodb's sessions made to use it (idempotent)."""
    global _loader
    with _lock:
        if _loader is None:
            import botocore.loaders
            import botocore.session
            import pynamodb.connection.base as base

            loader = botocore.loaders.create_loader()

            def get_session(env_vars: dict[str, Any] | None = None) -> botocore.session.Session:
                session = botocore.session.get_session(env_vars)
                session.register_component("data_loader", loader)
                return session

            setattr(base, "get_session", get_session)  # noqa: B010 (pynamodb does not export it)
            _loader = loader
        return _loader


def sqs_client(region: str, endpoint_url: str | None) -> SQSClient:
    """An SQS client whose session reads the shared loader. Made by botocore itself:
    boto3 would add its own imports (resources, s3transfer) to every cold start for
    nothing it is used for here."""
    import botocore.session

    session = botocore.session.get_session()
    session.register_component("data_loader", shared_loader())
    return cast("SQSClient", session.create_client("sqs", region_name=region, endpoint_url=endpoint_url))


def s3_client(region: str, endpoint_url: str | None) -> Any:
    """An S3 client of the shared loader, made by botocore as ``sqs_client`` is."""
    import botocore.config
    import botocore.session

    session = botocore.session.get_session()
    session.register_component("data_loader", shared_loader())
    # Path-style addressing: an emulator's endpoint has no per-bucket host names.
    config = botocore.config.Config(s3={"addressing_style": "path"}) if endpoint_url else None
    return session.create_client("s3", region_name=region, endpoint_url=endpoint_url, config=config)
