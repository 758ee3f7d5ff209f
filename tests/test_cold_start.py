"""What the cold start leaves out must still be there when asked for: the Powertools
packages imported without their ``__init__`` (``wf/aws/event_handler.py``) and the
botocore loader that answers for one service without listing them all
(``wf/aws/sessions.py``). Each check runs in a fresh interpreter, as a cold start does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _fresh(code: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_deferred_packages_give_the_real_init_s_names_and_load_nothing_else_first() -> None:
    out = _fresh(
        """
import json, sys
import wf.aws.event_handler as eh
before = sorted(m for m in sys.modules if m.startswith("aws_lambda_powertools"))
picked = {pkg: {n: getattr(sys.modules[pkg], n) for n in names} for pkg, names in eh.DEFERRED.items()}
# Asking for a name outside the map runs the package's real __init__.
from aws_lambda_powertools.utilities.data_classes import SQSEvent
from aws_lambda_powertools.event_handler import AppSyncResolver, Response
import aws_lambda_powertools.event_handler.openapi.params  # asks the package for Response
same = all(getattr(sys.modules[pkg], n) is v for pkg, names in picked.items() for n, v in names.items())
alls = {pkg: sorted(getattr(sys.modules[pkg], "__all__", [])) for pkg in eh.DEFERRED}
print(json.dumps({"before": before, "same": same, "response": Response is eh.Response, "alls": alls,
                  "asyncio": "asyncio" in sys.modules}))
"""
    )
    loaded = set(out["before"])
    assert "aws_lambda_powertools.event_handler.appsync" not in loaded
    assert "aws_lambda_powertools.utilities.data_classes.sqs_event" not in loaded
    assert "aws_lambda_powertools.event_handler.api_gateway" in loaded
    # The names taken from submodules are the very objects the real __init__ exports.
    assert out["same"] and out["response"]
    assert "AppSyncResolver" in out["alls"]["aws_lambda_powertools.event_handler"]
    assert "SQSEvent" in out["alls"]["aws_lambda_powertools.utilities.data_classes"]


def _module_level_imports_from(package: str) -> dict[str, set[str]]:
    """Names each submodule of ``package`` imports from the package itself at module
    level (not under ``if TYPE_CHECKING``, not inside functions)."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if path == root / "__init__.py":
            continue
        parts = path.relative_to(root).with_suffix("").parts
        here = ".".join((package, *parts[:-1]))  # the package a relative import starts from
        body = list(ast.parse(path.read_text()).body)
        while body:
            node = body.pop(0)
            if isinstance(node, ast.Try):
                body.extend(node.body)
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:
                    base = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                    module = f"{base}.{module}" if module else base
                if module == package:
                    found.setdefault(str(path.relative_to(root)), set()).update(a.name for a in node.names)
    return found


def test_every_name_asked_of_a_deferred_package_by_its_own_submodules_is_mapped() -> None:
    from wf.aws.event_handler import DEFERRED

    for package, names in DEFERRED.items():
        asked = _module_level_imports_from(package)
        assert asked, package  # the walk found the package's own imports at all
        for module, wanted in asked.items():
            # A submodule name is imported as such; any other name must be mapped.
            missing = {n for n in wanted if n not in names and not _is_submodule(package, n)}
            assert not missing, f"{package}.{module} imports {missing}: add them to DEFERRED"


def _is_submodule(package: str, name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"{package}.{name}") is not None


def test_powertools_modules_import_on_their_own_after_the_deferral() -> None:
    # Each in a fresh interpreter where only the deferral ran before: the SQS batch
    # utilities (their sqs_event asks the deferred package for S3Event), the OpenAPI
    # modules (their params ask for Response), and Bedrock's resolver.
    for module in (
        "aws_lambda_powertools.utilities.batch",
        "aws_lambda_powertools.utilities.data_classes.sqs_event",
        "aws_lambda_powertools.event_handler.openapi.params",
        "aws_lambda_powertools.event_handler.bedrock_agent",
        "aws_lambda_powertools.utilities.data_classes.kinesis_firehose_event",
    ):
        out = _fresh(f"import json, wf.aws.event_handler, {module}; print(json.dumps({{'ok': True}}))")
        assert out == {"ok": True}, module


def test_the_shared_loader_knows_services_as_botocore_s_own_does() -> None:
    out = _fresh(
        """
import json
import botocore.exceptions, botocore.loaders, botocore.session
from wf.aws.sessions import shared_loader
loader = shared_loader()
plain = botocore.loaders.create_loader()
listing = loader.list_available_services("service-2")
known = {s: s in listing for s in ("dynamodb", "sqs", "s3", "no-such-service", "", "../botocore", ".")}
same_list = list(listing) == plain.list_available_services("service-2")
models = all(
    loader.load_service_model(s, t) == plain.load_service_model(s, t)
    for s in ("dynamodb", "sqs", "s3") for t in ("service-2", "endpoint-rule-set-1")
)
same_endpoints = loader.load_data("endpoints") == plain.load_data("endpoints")
session = botocore.session.get_session()
session.register_component("data_loader", loader)
client = session.create_client("dynamodb", region_name="eu-west-3", aws_access_key_id="x", aws_secret_access_key="x")
try:
    session.create_client("no-such-service", region_name="us-east-1")
    unknown = "made"
except botocore.exceptions.UnknownServiceError as exc:
    unknown = str(exc)
print(json.dumps({"known": known, "same_list": same_list, "models": models, "endpoints": same_endpoints,
                  "url": client.meta.endpoint_url, "unknown": unknown}))
"""
    )
    assert out["known"] == {
        "dynamodb": True,
        "sqs": True,
        "s3": True,
        "no-such-service": False,
        "": False,
        "../botocore": False,
        ".": False,
    }
    assert out["same_list"] and out["models"] and out["endpoints"]
    assert out["url"] == "https://dynamodb.eu-west-3.amazonaws.com"
    # The error still names every valid service, as botocore's does.
    assert "Unknown service: 'no-such-service'" in out["unknown"] and "dynamodb" in out["unknown"]
