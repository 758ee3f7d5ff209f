"""HTTP clients for the workflow management API.

``DaprWorkflowClient`` has the method names of ``dapr.ext.workflow.DaprWorkflowClient``;
``DaprClient`` has the seed's ``dapr.clients.DaprClient`` workflow methods.  Both speak
plain HTTP (standard library only) to a ``wf dev`` stack or an API Gateway URL.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wf.core.context import registered_name
from wf.core.history import format_time, parse_time
from wf.core.serde import encode
from wf.core.status import WorkflowState, WorkflowStatus
from wf.core.wire import WorkflowHistoryEvent, WorkflowSummary, state_from_json
from wf.errors import CredentialsError, EndpointUnreachableError, WorkflowClientError

__all__ = [
    "API_PREFIX",
    "API_TOKEN_HEADER",
    "DEFAULT_ENDPOINT",
    "DaprClient",
    "DaprWorkflowClient",
    "GetWorkflowResponse",
    "InstanceIdPage",
    "StartWorkflowResponse",
    "WorkflowApi",
    "WorkflowHistoryEvent",
    "WorkflowInstancePage",
    "WorkflowSummary",
    "api_token_headers",
    "signing_region",
    "state_from_json",
]

DEFAULT_ENDPOINT = "http://127.0.0.1:3500"
API_PREFIX = "/v1.0"


_EXECUTE_API = re.compile(r"^https://[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(/|$)")


def signing_region(endpoint: str, aws_region: str | None = None) -> str | None:
    """The region to SigV4-sign requests for: given, or that of an API Gateway URL (the
    template's API uses IAM auth); ``None`` means unsigned (``wf dev``)."""
    if aws_region:
        return aws_region
    match = _EXECUTE_API.match(endpoint)
    return match.group(1) if match else None


#: Dapr's API token header; sent with every call when ``DAPR_API_TOKEN`` is set, as Dapr's
#: SDKs send it (``wf dev`` then demands it: docs/security.md).
API_TOKEN_HEADER = "dapr-api-token"


def api_token_headers() -> dict[str, str]:
    """The ``dapr-api-token`` header of ``$DAPR_API_TOKEN``, or none when it is unset."""
    token = os.environ.get("DAPR_API_TOKEN")
    return {API_TOKEN_HEADER: token} if token else {}


class WorkflowApi:
    """The management API's routes, JSON in and JSON out, as the server answers them:
    what ``DaprWorkflowClient``, ``DaprClient``, the ``wf`` CLI and the console's proxy
    are built on. Requests to an API Gateway URL are SigV4-signed; ``$DAPR_API_TOKEN``
    is sent when set. Errors: ``WorkflowClientError`` (the API's answer),
    ``EndpointUnreachableError``, ``CredentialsError``."""

    def __init__(self, endpoint: str, component: str, timeout: float, aws_region: str | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.component = component
        self.timeout = timeout
        self.sign_region = signing_region(self.endpoint, aws_region)
        self.token_headers = api_token_headers()

    def _signed(
        self, region: str, method: str, url: str, data: bytes | None, headers: dict[str, str]
    ) -> dict[str, str]:
        # Imported here: only calls to a deployed API need botocore.
        import botocore.session
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        credentials = botocore.session.get_session().get_credentials()
        if credentials is None:
            raise CredentialsError(
                f"no AWS credentials found to sign requests to {self.endpoint} (the API uses IAM auth)"
            )
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
        return dict(request.headers.items())

    def call(
        self, method: str, path: str, body: Any = None, *, raw: bool = False, send_null: bool = False
    ) -> tuple[int, Any]:
        """Send ``body`` (JSON; a string as text/plain with ``raw``) to ``path``; returns
        the status and the JSON answer (``None`` when empty)."""
        data: bytes | None = None
        headers = {"Accept": "application/json", **self.token_headers}
        if body is not None or send_null:
            if isinstance(body, str) and raw:
                data, headers["Content-Type"] = body.encode(), "text/plain"
            else:
                data, headers["Content-Type"] = encode(body).encode(), "application/json"
        url = self.endpoint + path
        if self.sign_region is not None:
            headers = self._signed(self.sign_region, method, url, data, headers)
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
                return response.status, json.loads(payload) if payload else None
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                err = json.loads(payload)
                code, message = err.get("errorCode", "ERR_UNKNOWN"), err.get("message", "")
            except ValueError:
                code, message = "ERR_UNKNOWN", payload.decode(errors="replace")
            raise WorkflowClientError(exc.code, code, message) from exc
        except (urllib.error.URLError, OSError) as exc:
            # URLError: refused, DNS, TLS; a bare OSError: reset or timed out mid-answer.
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise EndpointUnreachableError(f"cannot reach the workflow API at {self.endpoint}: {reason}") from exc

    def collection(self, query: dict[str, str], *parts: str) -> str:
        """The component's own path (listing, bulk purge), with a query string."""
        base = f"{API_PREFIX}/workflows/{urllib.parse.quote(self.component, safe='')}"
        path = "/".join((base, *(urllib.parse.quote(p, safe="") for p in parts)))
        return path + ("?" + urllib.parse.urlencode(query) if query else "")

    def path(self, *parts: str) -> str:
        """An instance's or a workflow's path: each part percent-encoded (an ID may hold
        ``&``, ``#``, spaces or slashes)."""
        quoted = "/".join(urllib.parse.quote(p, safe="") for p in parts)
        return f"{API_PREFIX}/workflows/{urllib.parse.quote(self.component, safe='')}/{quoted}"


#: No new input given (``None`` is an input: JSON null).
_UNSET: Any = object()


class DaprWorkflowClient:
    """Manage workflow instances over HTTP (``dapr.ext.workflow.DaprWorkflowClient`` names)."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        host: str | None = None,
        port: str | int | None = None,
        component: str = "dapr",
        timeout: float = 30.0,
        aws_region: str | None = None,
    ) -> None:
        """``endpoint`` is a base URL; Dapr's ``host``/``port`` keywords work too.
        The default is ``$WF_ENDPOINT``, else http://127.0.0.1:3500 (``wf dev``).  Requests to an API Gateway URL
        are SigV4-signed with the standard AWS credentials (``aws_region`` forces it)."""
        if endpoint is None:
            endpoint = os.environ.get("WF_ENDPOINT") or DEFAULT_ENDPOINT
            if host is not None or port is not None:
                base = host or "127.0.0.1"
                endpoint = f"{base if '://' in base else 'http://' + base}:{port or 3500}"
        self._http = WorkflowApi(endpoint, component, timeout, aws_region)

    def schedule_new_workflow(
        self,
        workflow: Callable[..., Any] | str,
        *,
        input: Any = None,
        instance_id: str | None = None,
        start_at: datetime | None = None,
    ) -> str:
        """Start a workflow; returns its instance ID. With ``start_at`` (a naive time is
        UTC, as in Dapr's SDK) it starts then, and is ``PENDING`` until then."""
        path = self._http.path(registered_name(workflow), "start")
        query = {"instanceID": instance_id} if instance_id is not None else {}
        if start_at is not None:
            query["startAt"] = format_time(start_at if start_at.tzinfo else start_at.replace(tzinfo=UTC))
        if query:
            path += "?" + urllib.parse.urlencode(query)
        _, body = self._http.call("POST", path, input)
        return str(body["instanceID"])

    def get_workflow_state(self, instance_id: str, *, fetch_payloads: bool = True) -> WorkflowState | None:
        """The instance's state, or ``None`` if there is no such instance."""
        try:
            _, body = self._http.call("GET", self._http.path(instance_id))
        except WorkflowClientError as exc:
            if exc.status == 404:
                return None
            raise
        state = state_from_json(body)
        if not fetch_payloads:
            state = WorkflowState(
                state.instance_id, state.name, state.runtime_status, state.created_at, state.last_updated_at
            )
        return state

    def _wait(
        self, instance_id: str, done: Callable[[WorkflowState], bool], fetch_payloads: bool, timeout: float
    ) -> WorkflowState | None:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            state = self.get_workflow_state(instance_id, fetch_payloads=fetch_payloads)
            if state is not None and done(state):
                return state
            if time.monotonic() >= deadline:
                raise TimeoutError(f"workflow {instance_id} did not reach the awaited state in {timeout}s")
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def wait_for_workflow_start(
        self, instance_id: str, *, fetch_payloads: bool = False, timeout_in_seconds: float = 60
    ) -> WorkflowState | None:
        return self._wait(
            instance_id, lambda s: s.runtime_status is not WorkflowStatus.PENDING, fetch_payloads, timeout_in_seconds
        )

    def wait_for_workflow_completion(
        self, instance_id: str, *, fetch_payloads: bool = True, timeout_in_seconds: float = 60
    ) -> WorkflowState | None:
        return self._wait(instance_id, lambda s: s.runtime_status.is_terminal, fetch_payloads, timeout_in_seconds)

    def raise_workflow_event(self, instance_id: str, event_name: str, *, data: Any = None) -> None:
        self._http.call("POST", self._http.path(instance_id, "raiseEvent", event_name), data)

    def raise_workflow_event_with_start(
        self,
        workflow: Callable[..., Any] | str,
        instance_id: str,
        event_name: str,
        *,
        input: Any = None,
        data: Any = None,
    ) -> bool:
        """Raise an event on ``instance_id``, starting ``workflow`` there first (with
        ``input``, the event in its first step) if there is no instance, or only a
        terminal one: one call, no race between a start and an event (signal-with-start).
        Returns whether it started the instance."""
        path = self._http.path(registered_name(workflow), "raiseEventWithStart", event_name)
        path += "?" + urllib.parse.urlencode({"instanceID": instance_id})
        body = {k: v for k, v in (("input", input), ("data", data)) if v is not None}
        _, answer = self._http.call("POST", path, body)
        return bool(answer["started"])

    def terminate_workflow(self, instance_id: str, *, output: Any = None) -> None:
        self._http.call("POST", self._http.path(instance_id, "terminate"), output)

    def pause_workflow(self, instance_id: str) -> None:
        self._http.call("POST", self._http.path(instance_id, "pause"))

    def resume_workflow(self, instance_id: str) -> None:
        self._http.call("POST", self._http.path(instance_id, "resume"))

    def purge_workflow(self, instance_id: str) -> None:
        self._http.call("POST", self._http.path(instance_id, "purge"))

    # -- operating many instances (SPEC §1b) ------------------------------------------

    def list_workflow_instances(
        self,
        *,
        status: WorkflowStatus | str | Iterable[WorkflowStatus | str] | None = None,
        name: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        instance_id_prefix: str | None = None,
        page_size: int | None = None,
        continuation_token: str | None = None,
    ) -> WorkflowInstancePage:
        """One page of instances, newest first, filtered by any of: runtime status (one
        or several), workflow name, creation time window and instance ID prefix."""
        query = _filters(status, name, created_from, created_to, instance_id_prefix)
        if page_size is not None:
            query["pageSize"] = str(page_size)
        if continuation_token:
            query["continuationToken"] = continuation_token
        _, body = self._http.call("GET", self._http.collection(query))
        return WorkflowInstancePage(
            [WorkflowSummary.from_json(i) for i in body.get("instances", [])], body.get("continuationToken")
        )

    def iter_workflow_instances(self, *, page_size: int | None = None, **filters: Any) -> Iterator[WorkflowSummary]:
        """Every instance ``list_workflow_instances(**filters)`` matches, page by page."""
        token: str | None = None
        while True:
            page = self.list_workflow_instances(page_size=page_size, continuation_token=token, **filters)
            yield from page.instances
            token = page.continuation_token
            if not token:
                return

    def list_workflow_instance_ids(
        self, *, page_size: int | None = None, continuation_token: str | None = None
    ) -> InstanceIdPage:
        """One page of instance IDs, newest first (the Dapr SDK's name)."""
        page = self.list_workflow_instances(page_size=page_size, continuation_token=continuation_token)
        return InstanceIdPage([s.instance_id for s in page.instances], page.continuation_token)

    def iter_workflow_instance_ids(self, *, page_size: int | None = None) -> Iterator[str]:
        """Every instance ID, page by page."""
        for summary in self.iter_workflow_instances(page_size=page_size):
            yield summary.instance_id

    def get_workflow_history(self, instance_id: str) -> list[WorkflowHistoryEvent]:
        """The instance's history, every page of it (durabletask event names)."""
        return [WorkflowHistoryEvent.from_json(e) for e in self.get_workflow_history_json(instance_id)]

    def get_workflow_history_json(self, instance_id: str) -> list[dict[str, Any]]:
        """The instance's history as the API sends it (JSON objects), every page of it."""
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            path = self._http.path(instance_id, "history")
            if token:
                path += "?" + urllib.parse.urlencode({"continuationToken": token})
            _, body = self._http.call("GET", path)
            events.extend(body.get("events", []))
            token = body.get("continuationToken")
            if not token:
                return events

    def rerun_workflow_from_event(
        self,
        instance_id: str,
        event_id: int | None = None,
        *,
        new_instance_id: str | None = None,
        input: Any = _UNSET,
    ) -> str:
        """Start a new instance from terminal ``instance_id``'s history up to activity
        event ``event_id`` (a ``TaskScheduled`` event's ID), which runs again (with
        ``input``, if given); ``event_id=None`` reruns the workflow from the start.
        Returns the new instance's ID."""
        query: dict[str, str] = {}
        if event_id is not None:
            query["fromEventID"] = str(event_id)
        if new_instance_id is not None:
            query["newInstanceID"] = new_instance_id
        path = self._http.path(instance_id, "rerun")
        if query:
            path += "?" + urllib.parse.urlencode(query)
        _, body = self._http.call("POST", path, None if input is _UNSET else input, send_null=input is None)
        return str(body["instanceID"])

    def purge_workflows(
        self,
        *,
        status: WorkflowStatus | str | Iterable[WorkflowStatus | str],
        name: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        instance_id_prefix: str | None = None,
    ) -> int:
        """Purge every terminal instance the filters match (with its children), in calls
        of up to 1,000; returns how many were purged."""
        query = _filters(status, name, created_from, created_to, instance_id_prefix)
        total = 0
        while True:
            _, body = self._http.call("POST", self._http.collection(query, "purge"))
            total += int(body.get("purged", 0))
            token = body.get("continuationToken")
            if not token or not body.get("purged"):
                return total
            query["continuationToken"] = token


def _filters(
    status: WorkflowStatus | str | Iterable[WorkflowStatus | str] | None,
    name: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    prefix: str | None,
) -> dict[str, str]:
    query: dict[str, str] = {}
    if status is not None:
        many = [status] if isinstance(status, (str, WorkflowStatus)) else list(status)
        query["status"] = ",".join(s.value if isinstance(s, WorkflowStatus) else str(s) for s in many)
    if name:
        query["name"] = name
    if created_from is not None:
        query["createdFrom"] = format_time(created_from)
    if created_to is not None:
        query["createdTo"] = format_time(created_to)
    if prefix:
        query["instanceIDPrefix"] = prefix
    return query


@dataclass(frozen=True)
class WorkflowInstancePage:
    instances: list[WorkflowSummary]
    #: Pass to the next call for the next page; None on the last page.
    continuation_token: str | None


@dataclass(frozen=True)
class InstanceIdPage:
    instance_ids: list[str]
    continuation_token: str | None


@dataclass(frozen=True)
class StartWorkflowResponse:
    instance_id: str


@dataclass(frozen=True)
class GetWorkflowResponse:
    instance_id: str
    workflow_name: str
    created_at: datetime
    last_updated_at: datetime
    runtime_status: str
    properties: dict[str, str] = field(default_factory=dict)


class DaprClient:
    """The seed's ``DaprClient`` workflow methods, over HTTP."""

    def __init__(self, endpoint: str | None = None, *, timeout: float = 30.0, aws_region: str | None = None) -> None:
        """``endpoint`` defaults to ``$WF_ENDPOINT``, else http://127.0.0.1:3500."""
        self._endpoint = endpoint or os.environ.get("WF_ENDPOINT") or DEFAULT_ENDPOINT
        self._timeout = timeout
        self._aws_region = aws_region

    def __enter__(self) -> DaprClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release (one HTTP connection per call); kept for Dapr's ``with DaprClient() as d``."""

    def _http(self, component: str) -> WorkflowApi:
        return WorkflowApi(self._endpoint, component, self._timeout, self._aws_region)

    def start_workflow(
        self,
        workflow_component: str,
        workflow_name: str,
        input: Any = None,
        instance_id: str | None = None,
        workflow_options: dict[str, str] | None = None,
    ) -> StartWorkflowResponse:
        http = self._http(workflow_component)
        path = http.path(workflow_name, "start")
        if instance_id:
            path += "?" + urllib.parse.urlencode({"instanceID": instance_id})
        _, body = http.call("POST", path, input)
        return StartWorkflowResponse(str(body["instanceID"]))

    def get_workflow(self, instance_id: str, workflow_component: str) -> GetWorkflowResponse:
        http = self._http(workflow_component)
        _, body = http.call("GET", http.path(instance_id))
        return GetWorkflowResponse(
            instance_id=body["instanceID"],
            workflow_name=body["workflowName"],
            created_at=parse_time(body["createdAt"]),
            last_updated_at=parse_time(body["lastUpdatedAt"]),
            runtime_status=body["runtimeStatus"],
            properties=dict(body.get("properties") or {}),
        )

    def _post(self, component: str, *parts: str, body: Any = None) -> None:
        http = self._http(component)
        http.call("POST", http.path(*parts), body)

    def pause_workflow(self, instance_id: str, workflow_component: str) -> None:
        self._post(workflow_component, instance_id, "pause")

    def resume_workflow(self, instance_id: str, workflow_component: str) -> None:
        self._post(workflow_component, instance_id, "resume")

    def raise_workflow_event(
        self, instance_id: str, workflow_component: str, event_name: str, event_data: Any = None
    ) -> None:
        self._post(workflow_component, instance_id, "raiseEvent", event_name, body=event_data)

    def purge_workflow(self, instance_id: str, workflow_component: str) -> None:
        self._post(workflow_component, instance_id, "purge")

    def terminate_workflow(self, instance_id: str, workflow_component: str) -> None:
        self._post(workflow_component, instance_id, "terminate")
