"""The shapes of library internals our patches rely on, pinned: one test per patch.

Where our code reaches into a library's private parts (names starting with ``_``,
module state, methods replaced on its classes, arguments read by position), a new
release can change that part without a word in its changelog. The patch then breaks,
or worse goes on silently doing nothing. Each test here fails, naming the patch and
the library, as soon as the shape it relies on has changed; what the patches *do* is
tested elsewhere (tests/test_cold_start.py, tests/test_openapi.py,
tests/test_moto_fixes.py and the local-stack tests).

Inventory (patch: what of the library it touches):

* wf/aws/event_handler.py:_defer_init: registers Powertools' ``event_handler`` and
  ``utilities.data_classes`` packages without running their ``__init__`` (run later by
  the package's loader), each name asked of them taken from the submodule ``DEFERRED``
  maps it to; imports four names from ``event_handler.api_gateway`` and ``NotFoundError``
  from ``event_handler.exceptions``.
* wf/aws/sessions.py:shared_loader: replaces pynamodb's module global
  ``pynamodb.connection.base.get_session`` (which ``Connection.session`` calls), forwards
  ``env_vars`` to botocore's ``get_session``, registers botocore's ``"data_loader"``
  component.
* wf/aws/sessions.py:_file_loader: overrides botocore's private
  ``JSONFileLoader._load_file(full_path, open_method)``, which ``load_file`` calls.
* wf/aws/sessions.py:_loader_class: overrides botocore's ``Loader.list_available_services``
  with a lazy sequence, reading ``Loader.search_paths`` and ``Loader.file_loader.exists``;
  ``load_service_model`` must only test membership in it.
* wf/aws/http.py:swagger_page: Powertools' internal ``openapi.swagger_ui`` module, its
  asset files, and ``generate_swagger_html``'s first five parameters, passed by position.
* wf/dev/moto_fixes.py:_partition_queries: replaces moto's ``Table.query`` (reads
  ``index_name`` as the 8th positional argument) and ``Table.all_items``, which
  ``Table.query`` reads through; reads ``Table.items``/``range_key_attr``/``indexes``/
  ``global_indexes``, ``SecondaryIndex.name``/``schema``, ``DynamoType.type``/``value``.
* wf/dev/moto_fixes.py:_atomic_table_operations: wraps seven ``DynamoDBBackend`` methods
  (silently skipping any that is missing).
* wf/dev/moto_fixes.py:_atomic_receives: replaces ``SQSBackend.receive_message`` (same
  parameters, calls the original by position) and wraps four other backend methods; uses
  ``get_queue``, ``Queue.wait_for_messages`` and ``Queue._messages``' ``visible_at``/
  ``delayed_until``.
* wf/dev/moto_fixes.py:_retention_without_counting: replaces
  ``SQSBackend.is_message_valid_based_on_retention_period``; reads
  ``Queue.message_retention_period`` and ``Message.sent_timestamp``.
* wf/dev/moto_fixes.py:_counts_kept_briefly: wraps the getters of three ``Queue``
  properties (``approximate_number_of_messages*``).
* wf/dev/moto_fixes.py:_visible_walked_lazily: replaces the ``Queue.messages`` property
  with an iterable over ``Queue._messages`` (no indexing).
* wf/dev/moto_fixes.py:_deletes_by_handle: replaces ``Message.mark_received`` and
  ``Queue.delete_message``; uses ``Queue._messages``/``pending_messages``/
  ``deleted_messages``, ``Message.receipt_handle``/``all_receipt_handles``,
  ``ReceiptHandleIsInvalid``.
* wf/dev/moto_fixes.py:_listings_read_once: replaces the module functions
  ``moto.backends.list_of_moto_modules`` and ``moto.core.responses.method_names_from_class``
  (so their callers must look them up in those modules at call time).
* wf/dev/moto_fixes.py:_items_encoded_directly: replaces ``serialized`` on
  ``DynamoHandler`` (inherited from ``BaseResponse``); calls ``_get_action`` and
  ``ActionResult``.
* wf/dev/moto_fixes.py:_index_items_projected_directly: replaces ``SecondaryIndex.project``;
  builds ``Item`` with ``__new__`` and sets its three attributes; ``LimitedSizeDict``.
* wf/dev/state.py:_messages: moto's ``sqs_backends``, ``DEFAULT_ACCOUNT_ID``,
  ``SQSBackend.queues``, ``Queue._messages``, ``Message.body``/``delayed_until``.
* wf/dev/server.py:close_server: waitress's ``server._map`` (the private
  socket map), ``server.trigger.pull_trigger``, ``server.task_dispatcher.shutdown(timeout=)``,
  ``wasyncore.dispatcher.close``.
* wf/dev/front.py:JsonErrorTask/JsonErrorChannel/http_server: waitress's internal hooks
  ``HTTPChannel.error_task_class`` and ``BaseWSGIServer.channel_class``, the ``ErrorTask``
  it replaces (``execute`` and the ``Task`` state it sets), ``Error``'s fields, and
  ``create_server(map=...)``.
* wf/cli.py:completion_script: argparse's private ``ArgumentParser._actions`` and
  ``argparse._SubParsersAction``.
* bench/_meter.py:DynamoMeter.installed: replaces pynamodb's private
  ``Connection._make_api_call(operation_name, operation_kwargs)``.
* tests/iam.py:install: replaces botocore's private
  ``BaseClient._make_api_call(operation_name, api_params)``.

Several of those methods are replaced in this very process (tests/conftest.py installs
the moto patches and tests/iam.py's), so methods are read from the libraries' source
files (``_library_def``), never from the patched classes; data attributes are read from
fresh instances.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib
import importlib.util
import inspect
import sys
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Any

POWERTOOLS = f"aws-lambda-powertools {version('aws-lambda-powertools')}"
BOTOCORE = f"botocore {version('botocore')}"
PYNAMODB = f"pynamodb {version('pynamodb')}"
MOTO = f"moto {version('moto')}"
WAITRESS = f"waitress {version('waitress')}"


def need(ok: object, patch: str, what: str) -> None:
    """Fail, naming the patch, when the library no longer has what the patch needs."""
    assert ok, f"{patch} relies on {what}; the installed library has changed that: adapt the patch or drop it"


def _import(name: str, patch: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise AssertionError(f"{patch} relies on module {name}, which no longer imports: {exc}") from None


# -- Reading a library's source (what it defines, whatever is patched in this process) --


def _read(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


@functools.cache
def _parsed(path: str) -> ast.Module:
    return ast.parse(_read(path))


def _module_source(module: str) -> ast.Module:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"no module {module}"
    return _parsed(spec.origin)


def _class_source(cls: type) -> ast.ClassDef | None:
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:  # a builtin
        return None
    if path is None:
        return None
    return next((n for n in ast.walk(_parsed(path)) if isinstance(n, ast.ClassDef) and n.name == cls.__name__), None)


def _sources(cls: type) -> list[ast.ClassDef]:
    """The source of each class of ``cls``'s MRO, ``cls`` first."""
    return [node for klass in cls.__mro__ if klass is not object and (node := _class_source(klass)) is not None]


def _library_def(cls: type, name: str) -> ast.FunctionDef | None:
    """Method ``name`` as the library's source defines it for ``cls`` (along its MRO)."""
    for node in _sources(cls):
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == name and not _is_setter(item):
                return item
    return None


def _module_def(module: str, name: str) -> ast.FunctionDef | None:
    tree = _module_source(module)
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)


def _is_setter(node: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter") for d in node.decorator_list)


def _is_property(node: ast.FunctionDef | None) -> bool:
    return node is not None and any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list)


def _params(node: ast.FunctionDef | None) -> list[str]:
    """Parameter names in order (``*args``/``**kwargs`` with their stars)."""
    if node is None:
        return []
    a = node.args
    out = [x.arg for x in (*a.posonlyargs, *a.args)]
    out += [f"*{a.vararg.arg}"] if a.vararg else (["*"] if a.kwonlyargs else [])
    out += [x.arg for x in a.kwonlyargs]
    out += [f"**{a.kwarg.arg}"] if a.kwarg else []
    return out


def _signature(fn: Any) -> list[str]:
    return list(inspect.signature(fn).parameters)


def _calls(node: ast.AST | None, callee: str) -> list[ast.Call]:
    """The calls in ``node`` of ``callee`` as written (``self.all_items``)."""
    if node is None:
        return []
    return [c for c in ast.walk(node) if isinstance(c, ast.Call) and ast.unparse(c.func) == callee]


def _sets(cls: type, attribute: str) -> bool:
    """Whether a method of ``cls`` (along its MRO) assigns ``self.<attribute>``."""
    return any(
        isinstance(n, ast.Attribute)
        and isinstance(n.ctx, ast.Store)
        and n.attr == attribute
        and isinstance(n.value, ast.Name)
        and n.value.id == "self"
        for node in _sources(cls)
        for n in ast.walk(node)
    )


# -- wf/aws ---------------------------------------------------------------------------------

DEFER_INIT = f"wf/aws/event_handler.py:_defer_init (on {POWERTOOLS})"


def test_event_handler_defer_init__powertools_packages_and_the_submodules_defining_their_names() -> None:
    from wf.aws.event_handler import DEFERRED

    for package, names in DEFERRED.items():
        spec = importlib.util.find_spec(package)
        need(
            spec is not None
            and spec.submodule_search_locations
            and str(spec.origin).endswith("__init__.py")
            and hasattr(spec.loader, "exec_module"),
            DEFER_INIT,
            f"{package} being a regular package whose __init__.py its loader runs later into the module "
            f"registered first (its spec is now {spec!r})",
        )
        for name, submodule in names.items():
            module = _import(f"{package}.{submodule}", DEFER_INIT)
            need(hasattr(module, name), DEFER_INIT, f"{package}.{submodule} defining {name} (DEFERRED maps it there)")
    api = _import("aws_lambda_powertools.event_handler.api_gateway", DEFER_INIT)
    for name in ("APIGatewayHttpResolver", "ApiGatewayResolver", "APIGatewayRestResolver", "Response"):
        need(hasattr(api, name), DEFER_INIT, f"aws_lambda_powertools.event_handler.api_gateway defining {name}")
    exceptions = _import("aws_lambda_powertools.event_handler.exceptions", DEFER_INIT)
    need(hasattr(exceptions, "NotFoundError"), DEFER_INIT, "event_handler.exceptions defining NotFoundError")


SHARED_LOADER = f"wf/aws/sessions.py:shared_loader (on {PYNAMODB} and {BOTOCORE})"


def test_sessions_shared_loader__pynamodb_module_global_get_session() -> None:
    import botocore.session
    from pynamodb.connection.base import Connection

    base = _module_source("pynamodb.connection.base")
    bound = any(
        (isinstance(n, ast.ImportFrom) and any(a.name == "get_session" and a.asname is None for a in n.names))
        or (isinstance(n, ast.FunctionDef) and n.name == "get_session")
        for n in base.body
    )
    need(bound, SHARED_LOADER, "pynamodb.connection.base binding get_session as a module global (it is replaced)")
    calls = _calls(_library_def(Connection, "session"), "get_session")
    need(
        calls and all(len(c.args) <= 1 and not c.keywords for c in calls),
        SHARED_LOADER,
        "pynamodb's Connection.session calling the module global get_session() (with env_vars at most)",
    )
    need(
        _signature(botocore.session.get_session) == ["env_vars"],
        SHARED_LOADER,
        f"botocore.session.get_session(env_vars) (now {_signature(botocore.session.get_session)})",
    )
    need(
        _signature(botocore.session.Session.register_component) == ["self", "name", "component"],
        SHARED_LOADER,
        "botocore's Session.register_component(name, component)",
    )
    asked = [
        c
        for node in _sources(botocore.session.Session)
        for c in _calls(node, "self.get_component")
        if c.args and isinstance(c.args[0], ast.Constant) and c.args[0].value == "data_loader"
    ]
    need(asked, SHARED_LOADER, "botocore's Session reading its loader as the 'data_loader' component")


FILE_LOADER = f"wf/aws/sessions.py:_file_loader (on {BOTOCORE})"


def test_sessions_file_loader__botocore_JSONFileLoader_private_load_file() -> None:
    from botocore.loaders import JSONFileLoader, Loader

    load_file = _library_def(JSONFileLoader, "_load_file")
    need(
        _params(load_file) == ["self", "full_path", "open_method"],
        FILE_LOADER,
        f"botocore's private JSONFileLoader._load_file(self, full_path, open_method) (now {_params(load_file)})",
    )
    calls = _calls(_library_def(JSONFileLoader, "load_file"), "self._load_file")
    need(
        calls and all(len(c.args) == 2 and not c.keywords for c in calls),
        FILE_LOADER,
        "botocore's JSONFileLoader.load_file reading each file through self._load_file(path, open_method)",
    )
    need("file_loader" in _signature(Loader.__init__), FILE_LOADER, "botocore's Loader(file_loader=...)")


LOADER_CLASS = f"wf/aws/sessions.py:_loader_class (on {BOTOCORE})"


def test_sessions_loader_class__botocore_Loader_list_available_services() -> None:
    from botocore.loaders import JSONFileLoader, Loader

    need(
        _params(_library_def(Loader, "list_available_services")) == ["self", "type_name"],
        LOADER_CLASS,
        "botocore's Loader.list_available_services(self, type_name)",
    )
    need(
        isinstance(inspect.getattr_static(Loader, "search_paths", None), property),
        LOADER_CLASS,
        "botocore's Loader.search_paths property",
    )
    need(_sets(Loader, "file_loader"), LOADER_CLASS, "botocore's Loader keeping its file loader as .file_loader")
    need(
        _params(_library_def(JSONFileLoader, "exists")) == ["self", "file_path"],
        LOADER_CLASS,
        "botocore's JSONFileLoader.exists(self, file_path) (a path without its extension)",
    )
    # The listing is lazy: load_service_model must only ask whether a name is in it.
    model = _library_def(Loader, "load_service_model") or ast.Module([], [])
    listed = {
        t.id
        for n in ast.walk(model)
        if isinstance(n, ast.Assign) and _calls(n.value, "self.list_available_services")
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    tested = any(
        isinstance(n, ast.Compare)
        and isinstance(n.ops[0], (ast.In, ast.NotIn))
        and isinstance(n.comparators[0], ast.Name)
        and n.comparators[0].id in listed
        for n in ast.walk(model)
    )
    need(
        listed and tested,
        LOADER_CLASS,
        "botocore's Loader.load_service_model testing `name in self.list_available_services(type_name)`",
    )


SWAGGER = f"wf/aws/http.py:swagger_page (on {POWERTOOLS})"


def test_http_swagger_page__powertools_swagger_ui_assets_and_positional_parameters() -> None:
    swagger_ui = _import("aws_lambda_powertools.event_handler.openapi.swagger_ui", SWAGGER)
    assets = Path(str(swagger_ui.__file__)).parent
    for name in ("swagger-ui-bundle.min.js", "swagger-ui.min.css"):
        need((assets / name).is_file(), SWAGGER, f"Powertools shipping {name} beside openapi/swagger_ui/__init__.py")
    generate: Any = getattr(swagger_ui, "generate_swagger_html", None)
    need(generate is not None, SWAGGER, "openapi.swagger_ui.generate_swagger_html")
    parameters = list(inspect.signature(generate).parameters.values())
    names = [p.name for p in parameters]
    need(
        names[:5] == ["spec", "swagger_js", "swagger_css", "swagger_base_url", "oauth2_config"]
        and all(p.default is not inspect.Parameter.empty for p in parameters[5:]),
        SWAGGER,
        f"generate_swagger_html(spec, swagger_js, swagger_css, swagger_base_url, oauth2_config, ...), "
        f"passed by position (now {names})",
    )


# -- wf/dev/moto_fixes.py ---------------------------------------------------------------------


def _moto_patch(function: str) -> str:
    return f"wf/dev/moto_fixes.py:{function} (on {MOTO})"


def _queue() -> Any:
    from moto.sqs.models import Queue

    queue: Any = Queue  # abstract to mypy (a CloudFormation attribute), not to Python
    return queue("shape", "us-east-1", "123456789012")


def _message() -> Any:
    from moto.sqs.models import Message

    return Message("id", "body")


PARTITION = _moto_patch("_partition_queries")


def test_moto_fixes_partition_queries__moto_Table_query_and_all_items() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import SecondaryIndex, Table

    query = _library_def(Table, "query")
    params = _params(query)
    need(
        params[:2] == ["self", "hash_key"] and params[8:9] == ["index_name"],
        PARTITION,
        f"moto's Table.query(self, hash_key, ...) with index_name 8th, read as args[6] (now {params})",
    )
    need(_calls(query, "self.all_items"), PARTITION, "moto's Table.query reading the items through self.all_items()")
    need(_params(_library_def(Table, "all_items")) == ["self"], PARTITION, "moto's Table.all_items(self)")
    passed = _calls(_library_def(DynamoDBBackend, "query"), "table.query")
    need(
        passed
        and all(
            (len(c.args) > 7 and ast.unparse(c.args[7]) == "index_name")
            or any(k.arg == "index_name" for k in c.keywords)
            for c in passed
        ),
        PARTITION,
        "moto's DynamoDBBackend.query passing index_name to table.query 8th by position (or by name)",
    )
    for attribute in ("items", "range_key_attr", "indexes", "global_indexes"):
        need(_sets(Table, attribute), PARTITION, f"moto's Table.{attribute}")
    for attribute in ("name", "schema"):
        need(_sets(SecondaryIndex, attribute), PARTITION, f"moto's SecondaryIndex.{attribute}")
    value = DynamoType({"S": "x"})
    need((value.type, value.value) == ("S", "x"), PARTITION, "moto's DynamoType.type and .value")


ATOMIC_TABLE = _moto_patch("_atomic_table_operations")


def test_moto_fixes_atomic_table_operations__moto_DynamoDBBackend_methods() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in ("put_item", "update_item", "delete_item", "transact_write_items", "get_item", "query", "scan"):
        # The patch skips a missing one without a word: that operation would then run unlocked.
        need(_library_def(DynamoDBBackend, name), ATOMIC_TABLE, f"moto's DynamoDBBackend.{name}")


ATOMIC_RECEIVES = _moto_patch("_atomic_receives")


def test_moto_fixes_atomic_receives__moto_SQSBackend_receive_message() -> None:
    from moto.sqs.models import Queue, SQSBackend

    receive = _params(_library_def(SQSBackend, "receive_message"))
    need(
        receive
        == ["self", "queue_name", "count", "wait_seconds_timeout", "visibility_timeout", "message_attribute_names"],
        ATOMIC_RECEIVES,
        f"moto's SQSBackend.receive_message with exactly the parameters of its replacement (now {receive})",
    )
    for name in ("send_message", "delete_message", "change_message_visibility", "purge_queue"):
        need(_library_def(SQSBackend, name), ATOMIC_RECEIVES, f"moto's SQSBackend.{name}")
    need(_params(_library_def(SQSBackend, "get_queue")) == ["self", "queue_name"], ATOMIC_RECEIVES, "get_queue")
    need(
        _params(_library_def(Queue, "wait_for_messages")) == ["self", "timeout"],
        ATOMIC_RECEIVES,
        "moto's Queue.wait_for_messages(self, timeout)",
    )
    need(isinstance(_queue()._messages, list), ATOMIC_RECEIVES, "moto's Queue._messages (a list)")
    message = _message()
    need(
        isinstance(message.visible_at, float) and isinstance(message.delayed_until, float),
        ATOMIC_RECEIVES,
        "moto's Message.visible_at and .delayed_until (milliseconds)",
    )


RETENTION = _moto_patch("_retention_without_counting")


def test_moto_fixes_retention_without_counting__moto_is_message_valid_based_on_retention_period() -> None:
    from moto.core import utils
    from moto.sqs.models import SQSBackend

    name = "is_message_valid_based_on_retention_period"
    need(
        _params(_library_def(SQSBackend, name)) == ["self", "queue_name", "message"],
        RETENTION,
        f"moto's SQSBackend.{name}(self, queue_name, message)",
    )
    need(
        _calls(_library_def(SQSBackend, "receive_message"), f"self.{name}"),
        RETENTION,
        f"moto's receive_message asking self.{name}",
    )
    need(hasattr(_queue(), "message_retention_period"), RETENTION, "moto's Queue.message_retention_period")
    need(hasattr(_message(), "sent_timestamp"), RETENTION, "moto's Message.sent_timestamp")
    need(callable(getattr(utils, "unix_time", None)), RETENTION, "moto.core.utils.unix_time")


COUNTS = _moto_patch("_counts_kept_briefly")


def test_moto_fixes_counts_kept_briefly__moto_Queue_approximate_count_properties() -> None:
    from moto.sqs.models import Queue

    for name in (
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    ):
        need(_is_property(_library_def(Queue, name)), COUNTS, f"moto's Queue.{name} being a property")


VISIBLE = _moto_patch("_visible_walked_lazily")


def test_moto_fixes_visible_walked_lazily__moto_Queue_messages_property() -> None:
    from moto.core import utils
    from moto.sqs.models import Queue, SQSBackend

    need(_is_property(_library_def(Queue, "messages")), VISIBLE, "moto's Queue.messages being a property")
    need(isinstance(_queue()._messages, list), VISIBLE, "moto's Queue._messages (a list)")
    need(
        any(
            isinstance(n, ast.For) and ast.unparse(n.iter) == "queue.messages"
            for n in ast.walk(_library_def(SQSBackend, "receive_message") or ast.Module([], []))
        ),
        VISIBLE,
        "moto's receive_message iterating queue.messages",
    )
    # The replacement iterates, counts and tests for truth; it cannot be indexed.
    models = _module_source("moto.sqs.models")
    indexed = [
        ast.unparse(n)
        for n in ast.walk(models)
        if isinstance(n, ast.Subscript) and ast.unparse(n.value) in ("self.messages", "queue.messages")
    ]
    need(not indexed, VISIBLE, f"moto never indexing Queue.messages (now: {indexed})")
    need(callable(getattr(utils, "unix_time_millis", None)), VISIBLE, "moto.core.utils.unix_time_millis")


DELETES = _moto_patch("_deletes_by_handle")


def test_moto_fixes_deletes_by_handle__moto_Message_mark_received_and_Queue_delete_message() -> None:
    from moto.sqs.exceptions import ReceiptHandleIsInvalid
    from moto.sqs.models import Message, Queue, SQSBackend

    need(
        _params(_library_def(Message, "mark_received")) == ["self", "visibility_timeout"],
        DELETES,
        "moto's Message.mark_received(self, visibility_timeout=None)",
    )
    need(
        _params(_library_def(Queue, "delete_message")) == ["self", "receipt_handle"],
        DELETES,
        "moto's Queue.delete_message(self, receipt_handle)",
    )
    need(
        _calls(_library_def(SQSBackend, "delete_message"), "queue.delete_message"),
        DELETES,
        "moto's SQSBackend.delete_message deleting through queue.delete_message",
    )
    queue, message = _queue(), _message()
    need(isinstance(queue._messages, list), DELETES, "moto's Queue._messages (a list)")
    need(isinstance(queue.pending_messages, set), DELETES, "moto's Queue.pending_messages (a set)")
    need(isinstance(queue.deleted_messages, set), DELETES, "moto's Queue.deleted_messages (a set)")
    need(hasattr(message, "receipt_handle"), DELETES, "moto's Message.receipt_handle")
    need(isinstance(message.all_receipt_handles, list), DELETES, "moto's Message.all_receipt_handles")
    need(isinstance(ReceiptHandleIsInvalid(), Exception), DELETES, "moto's ReceiptHandleIsInvalid()")


LISTINGS = _moto_patch("_listings_read_once")


def test_moto_fixes_listings_read_once__moto_list_of_moto_modules_and_method_names_from_class() -> None:
    from moto.core import utils

    need(
        _module_def("moto.backends", "list_of_moto_modules") is not None
        and _params(_module_def("moto.backends", "list_of_moto_modules")) == [],
        LISTINGS,
        "moto.backends.list_of_moto_modules()",
    )
    app = _module_source("moto.moto_server.werkzeug_app")
    need(
        _calls(app, "backends.list_of_moto_modules"),
        LISTINGS,
        "moto's server calling backends.list_of_moto_modules() through the module (replaced there)",
    )
    responses = _module_source("moto.core.responses")
    imported = any(
        isinstance(n, ast.ImportFrom) and any(a.name == "method_names_from_class" and not a.asname for a in n.names)
        for n in responses.body
    )
    calls = _calls(responses, "method_names_from_class")
    need(
        imported and calls and all(len(c.args) == 1 for c in calls),
        LISTINGS,
        "moto.core.responses calling its module global method_names_from_class(cls) (replaced there)",
    )
    need(_signature(utils.method_names_from_class) == ["clazz"], LISTINGS, "method_names_from_class(clazz)")


ITEMS_ENCODED = _moto_patch("_items_encoded_directly")


def test_moto_fixes_items_encoded_directly__moto_BaseResponse_serialized() -> None:
    from moto.core.responses import ActionResult, BaseResponse
    from moto.dynamodb.responses import DynamoHandler

    need(
        _params(_library_def(DynamoHandler, "serialized")) == ["self", "action_result"],
        ITEMS_ENCODED,
        "moto's DynamoHandler.serialized(self, action_result) (from BaseResponse)",
    )
    need(_params(_library_def(DynamoHandler, "_get_action")) == ["self"], ITEMS_ENCODED, "moto's _get_action(self)")
    need(
        _calls(_library_def(BaseResponse, "call_action"), "self.serialized"),
        ITEMS_ENCODED,
        "moto's BaseResponse.call_action answering through self.serialized(...)",
    )
    need(ActionResult({"a": 1}).result == {"a": 1}, ITEMS_ENCODED, "moto's ActionResult(result).result")


PROJECTED = _moto_patch("_index_items_projected_directly")


def test_moto_fixes_index_items_projected_directly__moto_SecondaryIndex_project_and_Item() -> None:
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.table import SecondaryIndex

    need(
        _params(_library_def(SecondaryIndex, "project")) == ["self", "item"],
        PROJECTED,
        "moto's SecondaryIndex.project(self, item)",
    )
    for attribute in ("projection", "table_key_attrs", "schema_key_attrs"):
        need(_sets(SecondaryIndex, attribute), PROJECTED, f"moto's SecondaryIndex.{attribute}")
    # The patch makes an Item with __new__ and sets these three: an Item with more state
    # would come out of it half made.
    item = dynamo_type.Item(dynamo_type.DynamoType({"S": "h"}), None, {"a": {"S": "x"}})
    need(
        set(vars(item)) == {"hash_key", "range_key", "attrs"},
        PROJECTED,
        f"moto's Item holding hash_key, range_key and attrs only (now {sorted(vars(item))})",
    )
    need(
        isinstance(getattr(dynamo_type, "LimitedSizeDict", None), type)
        and issubclass(dynamo_type.LimitedSizeDict, dict),
        PROJECTED,
        "moto.dynamodb.models.dynamo_type.LimitedSizeDict (a dict)",
    )


# -- wf/dev (other) ------------------------------------------------------------------------------

STATE = f"wf/dev/state.py:_messages (on {MOTO})"


def test_dev_state_messages__moto_sqs_backends_and_Queue_private_messages() -> None:
    from moto.core.base_backend import BackendDict

    models = _import("moto.sqs.models", STATE)
    core_models = _import("moto.core.models", STATE)
    need(
        isinstance(getattr(core_models, "DEFAULT_ACCOUNT_ID", None), str), STATE, "moto.core.models.DEFAULT_ACCOUNT_ID"
    )
    need(isinstance(getattr(models, "sqs_backends", None), BackendDict), STATE, "moto.sqs.models.sqs_backends")
    need(_sets(models.SQSBackend, "queues"), STATE, "moto's SQSBackend.queues")
    need(isinstance(_queue()._messages, list), STATE, "moto's Queue._messages (a list)")
    message = _message()
    need((message.body, message.delayed_until) == ("body", 0.0), STATE, "moto's Message.body and .delayed_until")


CLOSE_SERVER = f"wf/dev/server.py:close_server (on {WAITRESS})"


def test_dev_server_close_server__waitress_private_socket_map_trigger_and_dispatcher() -> None:
    from waitress import task, trigger, wasyncore
    from waitress.server import BaseWSGIServer

    need(_sets(wasyncore.dispatcher, "_map"), CLOSE_SERVER, "waitress's dispatcher._map (its private socket map)")
    for attribute in ("trigger", "task_dispatcher"):
        need(_sets(BaseWSGIServer, attribute), CLOSE_SERVER, f"waitress's BaseWSGIServer.{attribute}")
    need(
        _signature(trigger.trigger.pull_trigger) == ["self", "thunk"],
        CLOSE_SERVER,
        "waitress's trigger.pull_trigger(self, thunk)",
    )
    need(
        "timeout" in _signature(task.ThreadedTaskDispatcher.shutdown),
        CLOSE_SERVER,
        "waitress's ThreadedTaskDispatcher.shutdown(timeout=...)",
    )
    need(
        _signature(wasyncore.dispatcher.close) == ["self"], CLOSE_SERVER, "waitress's wasyncore.dispatcher.close(self)"
    )


FRONT = f"wf/dev/front.py:JsonErrorTask, JsonErrorChannel and http_server (on {WAITRESS})"


def test_dev_front_json_error_task__waitress_error_task_and_channel_class_hooks() -> None:
    from waitress import utilities
    from waitress.channel import HTTPChannel
    from waitress.server import BaseWSGIServer, create_server
    from waitress.task import ErrorTask, Task

    need(HTTPChannel.error_task_class is ErrorTask, FRONT, "waitress's HTTPChannel.error_task_class hook")
    need(
        _calls(_library_def(HTTPChannel, "service"), "self.error_task_class"),
        FRONT,
        "waitress's HTTPChannel.service making its error task from self.error_task_class",
    )
    need(BaseWSGIServer.channel_class is HTTPChannel, FRONT, "waitress's BaseWSGIServer.channel_class hook")
    need(
        _calls(_library_def(BaseWSGIServer, "handle_accept"), "self.channel_class"),
        FRONT,
        "waitress's server making each channel from self.channel_class",
    )
    need(_signature(ErrorTask.execute) == ["self"], FRONT, "waitress's ErrorTask.execute(self)")
    need(
        hasattr(Task, "status") and hasattr(Task, "content_length") and _sets(Task, "response_headers"),
        FRONT,
        "waitress's Task.status, .content_length and .response_headers",
    )
    need(_signature(Task.set_close_on_finish) == ["self"], FRONT, "waitress's Task.set_close_on_finish()")
    need(_signature(Task.write) == ["self", "data"], FRONT, "waitress's Task.write(data)")
    error = utilities.Error("why")
    need(
        isinstance(error.code, int) and isinstance(error.reason, str) and error.body == "why",
        FRONT,
        "waitress's utilities.Error .code, .reason and .body",
    )
    need("map" in _signature(create_server), FRONT, "waitress's create_server(map=...)")


# -- elsewhere --------------------------------------------------------------------------------------

COMPLETION = f"wf/cli.py:completion_script (on argparse, Python {sys.version_info.major}.{sys.version_info.minor})"


def test_cli_completion_script__argparse_private_actions() -> None:
    parser = argparse.ArgumentParser()
    parser.add_subparsers().add_parser("run").add_argument("--fast")
    actions = getattr(parser, "_actions", None)
    need(isinstance(actions, list), COMPLETION, "argparse's ArgumentParser._actions")
    kind: Any = getattr(argparse, "_SubParsersAction", None)
    need(isinstance(kind, type), COMPLETION, "argparse._SubParsersAction")
    sub = [a for a in actions or [] if isinstance(a, kind)]
    need(sub and "run" in sub[0].choices, COMPLETION, "the subparsers action's .choices, by name")
    options = [o for a in sub[0].choices["run"]._actions for o in a.option_strings]
    need("--fast" in options, COMPLETION, "each action's .option_strings")


METER = f"bench/_meter.py:DynamoMeter.installed (on {PYNAMODB})"


def test_bench_meter_installed__pynamodb_Connection_private_make_api_call() -> None:
    from pynamodb.connection.base import Connection

    params = _params(_library_def(Connection, "_make_api_call"))
    need(
        params == ["self", "operation_name", "operation_kwargs"],
        METER,
        f"pynamodb's private Connection._make_api_call(self, operation_name, operation_kwargs) (now {params})",
    )
    need(
        _calls(_library_def(Connection, "dispatch"), "self._make_api_call"),
        METER,
        "pynamodb's Connection.dispatch calling self._make_api_call",
    )


IAM = f"tests/iam.py:install (on {BOTOCORE})"


def test_tests_iam_install__botocore_BaseClient_private_make_api_call() -> None:
    from botocore.client import BaseClient

    params = _params(_library_def(BaseClient, "_make_api_call"))
    need(
        params == ["self", "operation_name", "api_params"],
        IAM,
        f"botocore's private BaseClient._make_api_call(self, operation_name, api_params) (now {params})",
    )
    need(
        _calls(_module_source("botocore.client"), "self._make_api_call"),
        IAM,
        "botocore's client methods calling self._make_api_call",
    )
