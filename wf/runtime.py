"""``WorkflowRuntime``: the Dapr-named registry an application declares its workflows on,
and its AWS Lambda entry point.

The registry itself is pure (``wf/core/registry.py``); this top-level class adds only
``lambda_handler``, which has the AWS layer build the app from the registry on first
use, so that importing ``wf`` or declaring workflows does no AWS work.
"""

from __future__ import annotations

from typing import Any

from wf.core.registry import Registry


class WorkflowRuntime(Registry):
    """Registry of the workflows and activities of one application.

    ``lambda_handler`` is the AWS Lambda entry point serving them
    (``lambda_handler = wfr.lambda_handler`` in the function's handler file).
    """

    def __init__(self) -> None:
        super().__init__()
        self._app: Any = None

    def lambda_handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """The AWS Lambda entry: API Gateway (REST v1, HTTP v2) and SQS events."""
        if self._app is None:
            # Imported on first use: authoring code stays free of AWS.
            from wf.aws.app import build_app
            from wf.aws.settings import Settings

            self._app = build_app(self, Settings.from_env())
        result: dict[str, Any] = self._app(event, context)
        return result
