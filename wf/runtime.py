"""``WorkflowRuntime``: the Dapr-named registry an application declares its workflows on,
its AWS Lambda entry point, and Dapr's ``start()``/``shutdown()`` for running them in
this process.

The registry itself is pure (``wf/core/registry.py``); this top-level class adds
``lambda_handler``, which has the AWS layer build the app from the registry on first
use, and ``start``, which runs the local stack (``wf/dev``) in this process. Both import
their layers when called, so that importing ``wf`` or declaring workflows does no AWS
work.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from typing import Any

from wf.core.registry import Registry

log = logging.getLogger("wf")

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class WorkflowRuntime(Registry):
    """Registry of the workflows and activities of one application.

    ``lambda_handler`` is the AWS Lambda entry point serving them
    (``lambda_handler = wfr.lambda_handler`` in the function's handler file).
    """

    def __init__(self) -> None:
        super().__init__()
        self._app: Any = None
        self._stack: Any = None

    def lambda_handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """The AWS Lambda entry: API Gateway (REST v1, HTTP v2) and SQS events."""
        if self._app is None:
            # Imported on first use: authoring code stays free of AWS.
            from wf.aws.app import build_app
            from wf.aws.settings import Settings

            self._app = build_app(self, Settings.from_env())
        result: dict[str, Any] = self._app(event, context)
        return result

    def start(self) -> None:
        """Run this application's workflows and activities, as Dapr's
        ``WorkflowRuntime.start()`` starts its worker beside the app: here the local stack
        (an embedded AWS emulator, the API and the SQS event source, as ``wf dev`` runs
        them) is started in this process on ``$WF_ENDPOINT`` (default
        http://127.0.0.1:3500), where ``DaprWorkflowClient()`` finds it. Returns once it
        serves. AWS calls of this process then go to the emulator unless
        ``AWS_ENDPOINT_URL`` names another one.

        Where the workflows run elsewhere (on Lambda itself, or ``$WF_ENDPOINT`` naming a
        deployed API), the function runs them and ``start`` does nothing."""
        if self._stack is not None:
            return
        from wf.client import DEFAULT_ENDPOINT  # not at import: the function never needs the client

        endpoint = urllib.parse.urlsplit(os.environ.get("WF_ENDPOINT") or DEFAULT_ENDPOINT)
        if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or endpoint.hostname not in LOCAL_HOSTS:
            log.info("WorkflowRuntime.start: the workflows run where %s is served; nothing to start here", endpoint)
            return
        from wf.dev.server import LocalStack
        from wf.dev.state import state_file

        # Kept across restarts (as a Dapr sidecar's state store keeps them), and each
        # step runs the code registered now: an application may change it as it runs.
        stack = LocalStack(
            self.lambda_handler,
            endpoint.port or 80,
            endpoint.hostname or "127.0.0.1",
            state_file=state_file(None),
            replay_each_step=True,
            api_token=os.environ.get("DAPR_API_TOKEN"),  # as Dapr's sidecar honours it
        )
        stack.start()
        self._stack = stack

    def shutdown(self) -> None:
        """Stop what ``start`` started (the batches in flight get a second to finish)."""
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.stop()
