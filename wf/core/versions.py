"""Named workflow versions (the SDK's ``versioned_workflow``): several functions under
one workflow name, one of them the latest. A new instance runs the latest; its first
step records that version's name, and every replay of it runs that version again, so
an instance started on old code finishes on old code while new ones take the new."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wf.errors import WorkflowNotRegisteredError


class VersionNotAvailable(Exception):
    """The version an execution started with is not registered (it stalls, it does
    not fail: registering that version again lets it carry on)."""


@dataclass
class WorkflowVersions:
    """The versions registered under one workflow name."""

    name: str
    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    latest: str | None = None

    def add(self, version: str, fn: Callable[..., Any], *, is_latest: bool) -> None:
        if version in self.functions:
            raise ValueError(f"The version '{version}' of '{self.name}' workflow already exists.")
        self.functions[version] = fn
        if is_latest:
            self.latest = version

    def resolve(self, recorded: str | None) -> tuple[str, Callable[..., Any]]:
        """The version to run: the one history recorded, else the latest."""
        version = recorded if recorded is not None else self.latest
        if version is None:
            raise WorkflowNotRegisteredError(
                f"workflow '{self.name}' has versions ({', '.join(sorted(self.functions))}) but none is "
                "registered with is_latest=True, so a new instance has none to run"
            )
        fn = self.functions.get(version)
        if fn is None:
            known = ", ".join(sorted(self.functions)) or "none"
            raise VersionNotAvailable(
                f"version '{version}' of workflow '{self.name}' is not registered (registered: {known})"
            )
        return version, fn


#: What a workflow name is registered as: one function, or named versions of it.
WorkflowEntry = Callable[..., Any] | WorkflowVersions
