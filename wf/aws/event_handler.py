"""Powertools' API Gateway resolvers, imported without the rest of Powertools.

Two package ``__init__``s of Powertools import far more than this function runs:
``event_handler``'s imports every resolver Powertools has (AppSync, Bedrock, VPC
Lattice, ...; AppSync's brings asyncio), and ``utilities.data_classes``'s every event
class of every AWS service, about 60 ms of a cold start between them. Here both
packages are registered without running their ``__init__``, with the few names
``api_gateway`` asks of them taken from the submodules that define them. Anything that
later asks such a package for another name (``from aws_lambda_powertools.event_handler
import X``, as Powertools' own OpenAPI modules do) runs the real ``__init__`` then,
once, so every name is still there for whoever wants it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from typing import Any

import aws_lambda_powertools  # noqa: F401 (the parent package, before its children)

#: The packages deferred, each with the submodule that defines each name asked of the
#: package while it is incomplete: the names ``api_gateway`` imports from it, and those
#: that the package's own submodules import from it at module level. Were one of these
#: missing, a submodule imported on its own would run the real ``__init__`` from inside
#: its own import, and the ``__init__`` would fail on that half-made submodule.
#: tests/test_cold_start.py checks the map against the installed Powertools: every such
#: import is in it, and each name is the object the real ``__init__`` exports.
DEFERRED: Mapping[str, Mapping[str, str]] = {
    "aws_lambda_powertools.utilities.data_classes": {
        "ALBEvent": "alb_event",
        "S3Event": "s3_event",
        "APIGatewayProxyEvent": "api_gateway_proxy_event",
        "APIGatewayProxyEventV2": "api_gateway_proxy_event",
        "BedrockAgentEvent": "bedrock_agent_event",
        "LambdaFunctionUrlEvent": "lambda_function_url_event",
        "VPCLatticeEvent": "vpc_lattice",
        "VPCLatticeEventV2": "vpc_lattice",
    },
    "aws_lambda_powertools.event_handler": {
        "ApiGatewayResolver": "api_gateway",
        "Response": "api_gateway",
    },
}


def _defer_init(name: str, names: Mapping[str, str]) -> None:
    """Register package ``name`` without running its ``__init__`` (unless imported
    already); ``names`` are looked up in their submodules when first asked for."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:  # pragma: no cover - Powertools is a dependency
        raise ImportError(f"{name} is not installed")
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def lookup(attribute: str) -> Any:
        if attribute in names:
            value = getattr(importlib.import_module(f"{name}.{names[attribute]}"), attribute)
            setattr(package, attribute, value)
            return value
        # A submodule is not there until imported: saying so lets ``from package import
        # submodule`` import it (the import system asks with getattr first).
        if attribute.startswith("__") or importlib.util.find_spec(f"{name}.{attribute}") is not None:
            raise AttributeError(attribute)
        # Any other name: run the real __init__ into the module, once (the submodules
        # it imports are loaded already, or load now).
        del package.__getattr__
        loader.exec_module(package)
        return getattr(package, attribute)

    package.__getattr__ = lookup  # type: ignore[method-assign]
    sys.modules[name] = package
    parent, _, child = name.rpartition(".")
    importlib.import_module(parent)
    setattr(sys.modules[parent], child, package)  # as the import system does


for _name, _names in DEFERRED.items():
    _defer_init(_name, _names)

from aws_lambda_powertools.event_handler.api_gateway import (  # noqa: E402
    APIGatewayHttpResolver,
    ApiGatewayResolver,
    APIGatewayRestResolver,
    Response,
)
from aws_lambda_powertools.event_handler.exceptions import NotFoundError  # noqa: E402

__all__ = [
    "DEFERRED",
    "APIGatewayHttpResolver",
    "APIGatewayRestResolver",
    "ApiGatewayResolver",
    "NotFoundError",
    "Response",
]
