"""The AWS operations the function makes, recorded while the tests run it, and the IAM
actions that template.yaml grants it (tests/test_iam.py compares the two).

moto enforces no IAM, so a new call without its grant would pass every other test and
fail only when deployed. Every botocore call is seen here (``BaseClient._make_api_call``,
which boto3 and pynamodb both go through); a call counts as the function's when the
innermost frame of ours on the stack is in ``wf/aws/`` or ``wf/engine/`` (the local
stack, the tests' own set-up and the emulator are not the function)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
_FUNCTION = (str(ROOT / "wf" / "aws") + "/", str(ROOT / "wf" / "engine") + "/", str(ROOT / "wf" / "core") + "/")
_OURS = (str(ROOT / "wf") + "/", str(ROOT / "tests") + "/")
#: Stand-ins the tests put between the function and its clients (aws_stack's SQS client
#: without delays): the call is still the function's.
_TRANSPARENT = (str(ROOT / "tests" / "aws_stack.py"),)


@dataclass(frozen=True)
class Call:
    action: str  # the IAM action that authorizes it, e.g. "sqs:SendMessage"
    resource: str  # the template's logical ID of what it acts on
    operation: str  # the API operation made, e.g. "SendMessageBatch"


RECORDED: set[Call] = set()
#: Local names of the template's resources (wf/dev/provision.py makes them so).
_LOGICAL = {
    "wf-instances": "WorkflowTable",
    "wf-work": "WorkQueue",
    "wf-work-dlq": "WorkDeadLetterQueue",
    "wf-payloads": "PayloadBucket",
    # The bus status events go to: the template's parameter names it.
    "default": "EventBusName",
}
#: Operations authorized by another action (a batch by its single-message action).
_AUTHORIZED_BY = {
    ("sqs", "SendMessageBatch"): ["SendMessage"],
    ("sqs", "DeleteMessageBatch"): ["DeleteMessage"],
    ("sqs", "ChangeMessageVisibilityBatch"): ["ChangeMessageVisibility"],
    ("s3", "ListObjectsV2"): ["ListBucket"],
    ("s3", "ListObjects"): ["ListBucket"],
    ("s3", "DeleteObjects"): ["DeleteObject"],
    ("s3", "HeadObject"): ["GetObject"],
}
_TRANSACT_ITEM = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _target(service: str, params: dict[str, Any]) -> str:
    name = params.get("TableName") or params.get("Bucket") or str(params.get("QueueUrl", "")).rsplit("/", 1)[-1]
    if service == "events" and params.get("Entries"):
        name = params["Entries"][0].get("EventBusName", "default")
    if service == "dynamodb" and "RequestItems" in params:
        name = next(iter(params["RequestItems"]))
    # A test's own copy of the table (the store contract's, one per test) is the table.
    name = "wf-instances" if str(name).startswith("wf-instances-") else str(name)
    return _LOGICAL.get(name, f"?{name}")


def calls_of(service: str, operation: str, params: dict[str, Any]) -> list[Call]:
    """The IAM actions (and resources) a call needs."""
    if service == "dynamodb" and operation == "TransactWriteItems":
        found = []
        for item in params.get("TransactItems", []):
            ((kind, spec),) = item.items()
            found.append(Call(f"dynamodb:{_TRANSACT_ITEM[kind]}", _target(service, spec), operation))
        return found
    actions = _AUTHORIZED_BY.get((service, operation), [operation])
    return [Call(f"{service}:{a}", _target(service, params), operation) for a in actions]


def _is_function_call() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(_OURS) and name not in _TRANSPARENT:
            return name.startswith(_FUNCTION)
        frame = frame.f_back  # type: ignore[assignment]
    return False


def install() -> None:
    """Record the function's calls from now on (idempotent)."""
    import botocore.client

    original = botocore.client.BaseClient._make_api_call
    if getattr(original, "_wf_iam", False):
        return

    def recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if _is_function_call():
            service = self.meta.service_model.signing_name or self.meta.service_model.service_name
            RECORDED.update(calls_of(service, operation_name, api_params))
        return original(self, operation_name, api_params)

    recording._wf_iam = True  # type: ignore[attr-defined]
    botocore.client.BaseClient._make_api_call = recording


class _Tag:
    def __init__(self, tag: str, value: Any) -> None:
        self.tag, self.value = tag, value

    def refs(self) -> set[str]:
        """The logical IDs this intrinsic refers to (``!GetAtt X.Arn``, ``!Sub "${X.Arn}/*"``)."""
        if self.tag == "GetAtt":
            return {str(self.value).split(".")[0]}
        if self.tag == "Ref":
            return {str(self.value)}
        if self.tag == "Sub":
            import re

            return {m.split(".")[0] for m in re.findall(r"\$\{([^}]+)\}", str(self.value))}
        return set()


def template() -> dict[str, Any]:
    class Loader(yaml.SafeLoader):
        pass

    def construct(loader: Any, suffix: str, node: Any) -> _Tag:
        if isinstance(node, yaml.ScalarNode):
            return _Tag(suffix, loader.construct_scalar(node))
        if isinstance(node, yaml.SequenceNode):
            return _Tag(suffix, loader.construct_sequence(node))
        return _Tag(suffix, loader.construct_mapping(node))

    Loader.add_multi_constructor("!", construct)
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)  # type: ignore[no-any-return]


#: What SAM grants for each event source type (its managed policies for them).
_EVENT_SOURCE_ACTIONS = {
    "SQS": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
    "DynamoDB": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
}


def granted(function: str = "WorkflowFunction") -> set[tuple[str, str]]:
    """The (action, logical ID) pairs the template allows the function."""
    tpl = template()
    props = tpl["Resources"][function]["Properties"]
    grants: set[tuple[str, str]] = set()
    for policy in props.get("Policies", []):
        if isinstance(policy, _Tag) and policy.tag == "If":
            policy = policy.value[1]  # granted when its condition holds (a parameter set)
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            if statement.get("Effect") != "Allow":
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            refs = set().union(*(r.refs() for r in resources if isinstance(r, _Tag)))
            grants |= {(a, ref) for a in actions for ref in refs}
    for event in props.get("Events", {}).values():
        kind = event["Type"]
        source = event["Properties"].get("Queue") or event["Properties"].get("Stream")
        refs = source.refs() if isinstance(source, _Tag) else set()
        grants |= {(a, ref) for a in _EVENT_SOURCE_ACTIONS.get(kind, []) for ref in refs}
    return grants
