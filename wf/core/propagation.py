"""Reading propagated history (the SDK's ``PropagatedHistory``): what a child workflow
or an activity sees of the workflows that called it with
``propagation=PropagationScope.OWN_HISTORY`` or ``LINEAGE``.

The same queries as ``dapr.ext.workflow.propagation``: workflows of the chain (oldest
ancestor first, the immediate caller last), and within one, its activities and child
workflows by name with their outcome. Payloads are the JSON strings history holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wf.core.history import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    ChildCompleted,
    ChildCreated,
    ChildFailed,
    HistoryChunk,
    HistoryEvent,
    Propagated,
    PropagationScope,
    WorkflowStarted,
)
from wf.errors import FailureDetails, WorkflowError

#: The app ID a propagated chunk names unless the engine is given another (the function's
#: Powertools service name, as a Dapr app's ``--app-id``).
DEFAULT_APP_ID = "wf"


class PropagationNotFoundError(WorkflowError, LookupError):
    """A query of propagated history found nothing of that name."""


@dataclass(frozen=True)
class ActivityResult:
    """One activity call of a propagated workflow: ``input``/``output`` as JSON strings,
    ``error`` set if it failed."""

    name: str
    started: bool
    completed: bool
    failed: bool
    input: str | None
    output: str | None
    error: FailureDetails | None


@dataclass(frozen=True)
class ChildWorkflowResult:
    """One child workflow call of a propagated workflow."""

    name: str
    started: bool
    completed: bool
    failed: bool
    output: str | None
    error: FailureDetails | None


def _outcome(
    events: tuple[HistoryEvent, ...], task_id: int, child: bool
) -> tuple[bool, bool, str | None, FailureDetails | None]:
    done, failed, output, error = False, False, None, None
    ok, bad = (ChildCompleted, ChildFailed) if child else (ActivityCompleted, ActivityFailed)
    for e in events:
        if isinstance(e, ok) and e.task_id == task_id:
            done, output = True, e.result
        elif isinstance(e, bad) and e.task_id == task_id:
            failed, error = True, e.failure
    return done, failed, output, error


@dataclass(frozen=True)
class WorkflowResult:
    """One workflow's part of the propagated history; queries return calls in the
    order they were made, the ``get_last_*`` ones the latest."""

    instance_id: str
    app_id: str
    name: str
    _events: tuple[HistoryEvent, ...] = field(repr=False)

    @property
    def events(self) -> tuple[HistoryEvent, ...]:
        return self._events

    def get_activities_by_name(self, name: str) -> list[ActivityResult]:
        out = []
        for e in self._events:
            if isinstance(e, ActivityScheduled) and e.name == name:
                done, failed, output, error = _outcome(self._events, e.task_id, child=False)
                out.append(ActivityResult(name, True, done, failed, e.input, output, error))
        return out

    def get_last_activity_by_name(self, name: str) -> ActivityResult:
        """Raises ``PropagationNotFoundError`` if it called no activity ``name``."""
        found = self.get_activities_by_name(name)
        if not found:
            raise PropagationNotFoundError(
                f"no activity named {name!r} in propagated history for workflow {self.name!r}"
            )
        return found[-1]

    def get_child_workflows_by_name(self, name: str) -> list[ChildWorkflowResult]:
        out = []
        for e in self._events:
            if isinstance(e, ChildCreated) and e.name == name:
                done, failed, output, error = _outcome(self._events, e.task_id, child=True)
                out.append(ChildWorkflowResult(name, True, done, failed, output, error))
        return out

    def get_last_child_workflow_by_name(self, name: str) -> ChildWorkflowResult:
        """Raises ``PropagationNotFoundError`` if it started no child workflow ``name``."""
        found = self.get_child_workflows_by_name(name)
        if not found:
            raise PropagationNotFoundError(
                f"no child workflow named {name!r} in propagated history for workflow {self.name!r}"
            )
        return found[-1]


class PropagatedHistory:
    """The history propagated to a child workflow or an activity. ``events``: all of
    it, oldest ancestor first; ``scope``: the scope the caller asked for."""

    def __init__(self, propagated: Propagated) -> None:
        self.scope = propagated.scope
        self._chunks = propagated.chunks
        self.events: list[HistoryEvent] = [e for c in self._chunks for e in c.events]

    def get_app_ids(self) -> list[str]:
        return list(dict.fromkeys(c.app_id for c in self._chunks))

    def get_events_by_app_id(self, app_id: str) -> list[HistoryEvent]:
        return [e for c in self._chunks if c.app_id == app_id for e in c.events]

    def get_events_by_instance_id(self, instance_id: str) -> list[HistoryEvent]:
        return [e for c in self._chunks if c.instance_id == instance_id for e in c.events]

    def get_events_by_workflow_name(self, workflow_name: str) -> list[HistoryEvent]:
        return [e for c in self._chunks if c.workflow_name == workflow_name for e in c.events]

    def get_workflows(self) -> list[WorkflowResult]:
        return [_result(c) for c in self._chunks]

    def get_workflows_by_name(self, name: str) -> list[WorkflowResult]:
        return [_result(c) for c in self._chunks if c.workflow_name == name]

    def get_last_workflow_by_name(self, name: str) -> WorkflowResult:
        """Raises ``PropagationNotFoundError`` if no workflow ``name`` is in the chain."""
        found = self.get_workflows_by_name(name)
        if not found:
            raise PropagationNotFoundError(f"no workflow named {name!r} in propagated history")
        return found[-1]


def _result(chunk: HistoryChunk) -> WorkflowResult:
    return WorkflowResult(chunk.instance_id, chunk.app_id, chunk.workflow_name, chunk.events)


def propagate(
    scope: PropagationScope | None,
    history: list[HistoryEvent],
    task_id: int,
    *,
    app_id: str,
    instance_id: str,
) -> Propagated | None:
    """What a workflow with ``history`` propagates to the call it scheduled as
    ``task_id``: its own events up to the end of the step that scheduled it (what it had
    recorded when it made the call), after what it was propagated itself for
    ``LINEAGE``. Its own part leaves out what it received, so nothing nests."""
    if scope is None or scope is PropagationScope.NONE:
        return None
    end = len(history)
    for i, e in enumerate(history):
        if isinstance(e, (ActivityScheduled, ChildCreated)) and e.task_id == task_id:
            end = next((j for j in range(i + 1, len(history)) if history[j].kind.value == "TurnStarted"), len(history))
            break
    started = next((e for e in history if isinstance(e, WorkflowStarted)), None)
    received = started.propagated if started is not None else None
    own = tuple(_without_received(e) for e in history[:end])
    chunk = HistoryChunk(app_id, instance_id, started.name if started else "", own)
    ancestors = received.chunks if scope is PropagationScope.LINEAGE and received is not None else ()
    return Propagated(scope, (*ancestors, chunk))


def _without_received(event: HistoryEvent) -> HistoryEvent:
    if isinstance(event, WorkflowStarted) and event.propagated is not None:
        return WorkflowStarted(event.timestamp, event.name, event.input, event.parent, event.seen)
    return event
