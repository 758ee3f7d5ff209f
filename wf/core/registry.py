"""The authoring registry: where workflows and activities are registered (Dapr names),
and how one activity is run. Pure: the engine reads it, the AWS layer builds the Lambda
app from it (``wf/aws/app.py``), and ``wf.WorkflowRuntime`` adds the Lambda entry."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, overload

from wf.core.context import WorkflowActivityContext, registered_name
from wf.core.history import ActivityCompleted, ActivityFailed, Propagated
from wf.core.serde import decode, encode
from wf.core.typed import call_user
from wf.core.versions import WorkflowEntry, WorkflowVersions
from wf.errors import FailureDetails, WorkflowNotRegisteredError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ActivitySpec:
    fn: Callable[..., Any]
    #: Run in the invocation that schedules it (no SQS hop) while it has time.
    inline: bool


class Registry:
    """Registry of the workflows and activities of one application."""

    def __init__(self) -> None:
        self._workflows: dict[str, WorkflowEntry] = {}
        self._activities: dict[str, ActivitySpec] = {}

    # -- registration -------------------------------------------------------------

    def register_workflow(self, fn: Callable[..., Any], *, name: str | None = None) -> None:
        """Register a workflow function (generator or plain) under ``name``."""
        wf_name = name or registered_name(fn)
        if name:
            fn.__dict__["_dapr_alternate_name"] = name
        self._workflows[wf_name] = fn

    def register_versioned_workflow(
        self, fn: Callable[..., Any], *, name: str, version_name: str | None = None, is_latest: bool
    ) -> None:
        """Register ``fn`` as version ``version_name`` (default: the function's name) of
        workflow ``name``; ``is_latest=True`` makes new instances run it. Instances run
        the version they started with until they end (``STALLED`` while it is missing)."""
        if not name:
            raise ValueError("versioned_workflow needs the workflow's name (name=...)")
        entry = self._workflows.get(name)
        if entry is None or not isinstance(entry, WorkflowVersions):
            if entry is not None:
                raise ValueError(f"workflow '{name}' is registered without versions; it cannot also have versions")
            entry = self._workflows[name] = WorkflowVersions(name)
        entry.add(version_name if version_name is not None else fn.__name__, fn, is_latest=is_latest)
        fn.__dict__["_dapr_alternate_name"] = name

    def register_activity(self, fn: Callable[..., Any], *, name: str | None = None, inline: bool = False) -> None:
        """Register an activity; ``inline=True`` runs it in the invocation that schedules it."""
        act_name = name or registered_name(fn)
        if name:
            fn.__dict__["_dapr_alternate_name"] = name
        self._activities[act_name] = ActivitySpec(fn, inline)

    @overload
    def workflow(self, __fn: F) -> F: ...

    @overload
    def workflow(self, *, name: str | None = None) -> Callable[[F], F]: ...

    def workflow(self, __fn: F | None = None, *, name: str | None = None) -> F | Callable[[F], F]:
        """Decorator registering a workflow; returns the function unchanged."""

        def decorate(fn: F) -> F:
            self.register_workflow(fn, name=name)
            return fn

        return decorate(__fn) if __fn is not None else decorate

    @overload
    def activity(self, __fn: F) -> F: ...

    @overload
    def activity(self, *, name: str | None = None, inline: bool = False) -> Callable[[F], F]: ...

    def activity(self, __fn: F | None = None, *, name: str | None = None, inline: bool = False) -> F | Callable[[F], F]:
        """Decorator registering an activity; returns the function unchanged."""

        def decorate(fn: F) -> F:
            self.register_activity(fn, name=name, inline=inline)
            return fn

        return decorate(__fn) if __fn is not None else decorate

    def versioned_workflow(
        self, __fn: F | None = None, *, name: str, version_name: str | None = None, is_latest: bool
    ) -> Any:
        """Decorator registering a named version of workflow ``name`` (see
        ``register_versioned_workflow``); returns the function unchanged."""

        def decorate(fn: F) -> F:
            self.register_versioned_workflow(fn, name=name, version_name=version_name, is_latest=is_latest)
            return fn

        return decorate(__fn) if __fn is not None else decorate

    def with_activities(self, replacements: Mapping[str, Callable[..., Any]]) -> Registry:
        """A copy of this registry (its own from now on), with ``replacements`` run in
        place of the activities of those names (a test's mocks)."""
        copy = Registry()
        copy._workflows = dict(self._workflows)
        copy._activities = dict(self._activities)
        for name, fn in replacements.items():
            copy.replace_activity(name, fn)
        return copy

    def replace_activity(self, name: str, fn: Callable[..., Any]) -> None:
        """Run ``fn`` in place of the registered activity ``name`` (inline or not, as it was)."""
        spec = self._activities.get(name)
        if spec is None:
            known = ", ".join(sorted(self._activities)) or "none"
            raise WorkflowNotRegisteredError(f"activity '{name}' is not registered (registered: {known})")
        self._activities[name] = ActivitySpec(fn, spec.inline)

    @property
    def workflows(self) -> Mapping[str, WorkflowEntry]:
        return self._workflows

    @property
    def activities(self) -> Mapping[str, ActivitySpec]:
        return self._activities

    # -- execution ---------------------------------------------------------------

    def run_activity(
        self,
        name: str,
        workflow_id: str,
        task_id: int,
        input: str | None,
        now: datetime,
        propagated: Propagated | None = None,
    ) -> ActivityCompleted | ActivityFailed:
        """Run one activity and turn its outcome into the history event that records it;
        ``propagated``: the caller's history, if it asked for it to go along."""
        spec = self._activities.get(name)
        if spec is None:
            known = ", ".join(sorted(self._activities)) or "none"
            exc = WorkflowNotRegisteredError(f"activity '{name}' is not registered (registered: {known})")
            return ActivityFailed(now, task_id, FailureDetails.from_exception(exc))
        try:
            result = call_user(spec.fn, WorkflowActivityContext(workflow_id, task_id, propagated), decode(input))
            if inspect.isawaitable(result):
                # An ``async def`` activity: run to completion on a loop of its own (each
                # activity runs in a thread of its own, see wf/engine/budget.py).
                import asyncio  # only for async activities: not a cold start's import

                result = asyncio.run(_awaited(result))
            return ActivityCompleted(now, task_id, encode(result))
        except Exception as exc:
            return ActivityFailed(now, task_id, FailureDetails.from_exception(exc))


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
