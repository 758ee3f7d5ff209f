"""One botocore data loader for the process: botocore's endpoint table and service
models, parsed once, whoever makes the client.

boto3 and pynamodb each make botocore sessions of their own, and each session parses
``endpoints.json`` (about 1 MB) and the service's model again: on a cold start that was
over 150 ms of JSON parsing, about a fifth of the init, for files already parsed. The
parsed data is read-only, so sharing it changes nothing else. (The local stack's
containers share it too: a burst of cold containers parsing models held every step of
its one process up.)

The loader also answers "is this service known?" without listing every service:
botocore asks that before loading each model, and its answer stats every directory
of its data, about 2,700 ``stat`` calls and 45 ms per cold start.)"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
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

            loader = _loader_class(botocore.loaders.Loader)(file_loader=_file_loader(botocore.loaders.JSONFileLoader))

            def get_session(env_vars: dict[str, Any] | None = None) -> botocore.session.Session:
                session = botocore.session.get_session(env_vars)
                session.register_component("data_loader", loader)
                return session

            setattr(base, "get_session", get_session)  # noqa: B010 (pynamodb does not export it)
            _loader = loader
        return _loader


def _file_loader(base: type[Any]) -> Any:
    """``base`` (botocore's ``JSONFileLoader``) parsing with orjson: the endpoint table
    and a service's model are 2 MB of JSON, which the standard library's parser takes
    twice as long over. The data is the same (plain dicts keep the file's order, as
    botocore's ``OrderedDict`` did)."""
    import orjson

    class OrjsonFileLoader(base):  # type: ignore[misc]
        def _load_file(self, full_path: str, open_method: Any) -> Any:
            if not os.path.isfile(full_path):
                return None
            with open_method(full_path, "rb") as fp:
                return orjson.loads(fp.read())

    return OrjsonFileLoader()


def _loader_class(base: type[Any]) -> type[Any]:
    """``base`` (botocore's ``Loader``), with ``list_available_services`` made lazy."""

    class Listing(Sequence[str]):
        """The services of one model type: membership is looked up for the one name
        asked about; the whole list is built only if iterated (as for an error)."""

        def __init__(self, loader: Any, type_name: str) -> None:
            self._loader = loader
            self._type_name = type_name
            self._all: list[str] | None = None

        def __contains__(self, name: object) -> bool:
            if not isinstance(name, str) or not name or os.sep in name or name.startswith("."):
                return False
            for path in self._loader.search_paths:
                directory = os.path.join(path, name)
                if os.path.isdir(directory) and any(
                    self._loader.file_loader.exists(os.path.join(directory, version, self._type_name))
                    for version in os.listdir(directory)
                ):
                    return True
            return False

        def _listed(self) -> list[str]:
            if self._all is None:
                self._all = base.list_available_services(self._loader, self._type_name)
            return self._all

        def __getitem__(self, index: Any) -> Any:
            return self._listed()[index]

        def __len__(self) -> int:
            return len(self._listed())

    class LazyListingLoader(base):  # type: ignore[misc]
        def list_available_services(self, type_name: str) -> Sequence[str]:
            return Listing(self, type_name)

    return LazyListingLoader


def sqs_client(region: str, endpoint_url: str | None) -> SQSClient:
    """An SQS client whose session reads the shared loader. Made by botocore itself:
    boto3 would add its own imports (resources, s3transfer) to every cold start for
    nothing it is used for here."""
    import botocore.session

    session = botocore.session.get_session()
    session.register_component("data_loader", shared_loader())
    return cast("SQSClient", session.create_client("sqs", region_name=region, endpoint_url=endpoint_url))


def events_client(region: str, endpoint_url: str | None) -> Any:
    """An EventBridge client of the shared loader, made by botocore as ``sqs_client`` is."""
    import botocore.session

    session = botocore.session.get_session()
    session.register_component("data_loader", shared_loader())
    return session.create_client("events", region_name=region, endpoint_url=endpoint_url)


def s3_client(region: str, endpoint_url: str | None) -> Any:
    """An S3 client of the shared loader, made by botocore as ``sqs_client`` is."""
    import botocore.config
    import botocore.session

    session = botocore.session.get_session()
    session.register_component("data_loader", shared_loader())
    # Path-style addressing: an emulator's endpoint has no per-bucket host names.
    config = botocore.config.Config(s3={"addressing_style": "path"}) if endpoint_url else None
    return session.create_client("s3", region_name=region, endpoint_url=endpoint_url, config=config)
