"""durabletask-python's ``client``, ``task`` and ``worker`` names over this project's
public API, so that upstream's end-to-end tests run with only their imports changed
(``from tests.upstream.durabletask import client, task, worker``). Each name maps to
what Dapr's Python SDK builds on it: the worker is a ``WorkflowRuntime``, started and
stopped; the client a ``DaprWorkflowClient`` over the HTTP API."""
