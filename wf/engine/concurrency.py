"""Concurrency limits on activity executions, read from a Dapr Configuration's
``spec.workflow`` (``docs/api.md``, "Concurrency limits"), and the gate that enforces them.

A limit across the deployment (``globalMaxConcurrentActivityInvocations``, and each
``activityConcurrencyLimits`` entry: one activity name) is a number of *slots*, kept in
the store (``Slots``). An activity about to run takes a slot of every limit it falls
under, all or nothing, each leased until its invocation's deadline: a container that
dies holding one (out of memory, its timeout) lets the lease run out, and the slot is
free again. A run gives its slots back as it ends. An activity that finds a limit full
does not run: its message comes back after a delay (``wait_seconds``: 1 s, doubling up to 8 s), queued in
SQS as Dapr and Cloudflare Workflows hold such work back, never refused or lost; each
wait is noted, so that what waits can be counted (``usage``; ``wf limits``).

Per container: ``maxConcurrentActivityInvocations`` caps how many of a batch's activities
run at once in one container (Dapr's is per sidecar; here a container is the unit a
replica is). ``maxConcurrentWorkflowInvocations`` holds by construction: a Lambda
container runs one invocation, so one workflow step, at a time. Limits on workflow
executions across the deployment (``globalMaxConcurrentWorkflowInvocations``,
``workflowConcurrencyLimits``) are refused with a clear error rather than ignored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from wf.errors import ConfigurationError

#: The scope of the global activity limit, and the prefix of each name's scope.
ALL_ACTIVITIES = "activity"
#: How long an activity that found a limit full waits in SQS before it tries again: 1 s,
#: doubling with each wait up to MAX_WAIT_SECONDS. A slot freed sits idle at most that
#: long, and a long wait costs a try (an invocation, a read of the slots) per 8 s, not
#: per second: a 1,000-way fan-out under a limit of 5 does not poll 1,000 times a second.
WAIT_SECONDS = 1
MAX_WAIT_SECONDS = 8
#: A wait counts as waiting (``usage``) for this long after it was noted: a little
#: over the longest wait, so that work retrying is counted without a gap.
WAITING_FRESH = timedelta(seconds=MAX_WAIT_SECONDS + 2)


def wait_seconds(waited: int, draw: Callable[[int, int], int] = lambda low, high: high) -> int:
    """The delay before the next try of a run that has waited ``waited`` times: up to 1 s,
    2 s, 4 s, then 8 s, drawn with ``draw(low, high)`` (``random.randint``): a fan-out's
    runs that found the limit full together then come back spread over those seconds,
    not all at once to find it full again."""
    return draw(WAIT_SECONDS, min(MAX_WAIT_SECONDS, WAIT_SECONDS << min(waited, 8)))


_WORKFLOW_KEYS = ("globalMaxConcurrentWorkflowInvocations", "workflowConcurrencyLimits")


def activity_scope(name: str) -> str:
    return f"{ALL_ACTIVITIES}:{name}"


@dataclass(frozen=True)
class ConcurrencyLimits:
    """The limits, as Dapr's Configuration names them (``None``: no limit)."""

    #: ``maxConcurrentActivityInvocations``: at once in one container.
    activities_per_container: int | None = None
    #: ``maxConcurrentWorkflowInvocations``: at once in one container (always 1 here).
    workflows_per_container: int | None = None
    #: ``globalMaxConcurrentActivityInvocations``: at once across the deployment.
    activities: int | None = None
    #: ``activityConcurrencyLimits``: at once across the deployment, by activity name.
    activity_names: Mapping[str, int] = field(default_factory=dict)

    @property
    def any_global(self) -> bool:
        return self.activities is not None or bool(self.activity_names)

    def scopes_for(self, activity: str) -> list[tuple[str, int]]:
        """The deployment-wide limits a run of ``activity`` takes a slot of: (scope,
        slots), the narrowest first."""
        scopes: list[tuple[str, int]] = []
        if activity in self.activity_names:
            scopes.append((activity_scope(activity), self.activity_names[activity]))
        if self.activities is not None:
            scopes.append((ALL_ACTIVITIES, self.activities))
        return scopes

    def limited(self, activity: str) -> bool:
        return bool(self.scopes_for(activity))

    def all_scopes(self) -> list[tuple[str, str | None, int]]:
        """Every deployment-wide limit: (scope, activity name or None for all, slots)."""
        rows: list[tuple[str, str | None, int]] = []
        if self.activities is not None:
            rows.append((ALL_ACTIVITIES, None, self.activities))
        rows += [(activity_scope(name), name, n) for name, n in sorted(self.activity_names.items())]
        return rows

    @classmethod
    def from_dapr_configuration(cls, text: str, source: str = "the configuration") -> ConcurrencyLimits:
        """The limits of a Dapr Configuration document (YAML, as ``dapr run --config``
        reads it). Raises ``ConfigurationError`` for what is malformed, and for the
        workflow-execution limits across the deployment, which are not enforced here."""
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"{source} is not valid YAML: {exc}") from exc
        if doc is None:
            return cls()
        if not isinstance(doc, dict):
            raise ConfigurationError(f"{source} is not a Dapr Configuration (a YAML mapping)")
        kind = doc.get("kind")
        if kind is not None and kind != "Configuration":
            raise ConfigurationError(f"{source} is a {kind!r}, not a Dapr Configuration")
        spec = doc.get("spec") or {}
        workflow = spec.get("workflow") if isinstance(spec, dict) else None
        if workflow is None:
            return cls()
        if not isinstance(workflow, dict):
            raise ConfigurationError(f"{source}: spec.workflow must be a mapping")
        unsupported = [key for key in _WORKFLOW_KEYS if workflow.get(key) not in (None, [], 0)]
        if unsupported:
            raise ConfigurationError(
                f"{source}: {', '.join(unsupported)} (limits on workflow executions across the deployment) "
                "are not supported here; limit activities instead (globalMaxConcurrentActivityInvocations, "
                "activityConcurrencyLimits), or remove them"
            )
        return cls(
            activities_per_container=_limit(workflow, "maxConcurrentActivityInvocations", source),
            workflows_per_container=_limit(workflow, "maxConcurrentWorkflowInvocations", source),
            activities=_limit(workflow, "globalMaxConcurrentActivityInvocations", source),
            activity_names=_named(workflow.get("activityConcurrencyLimits"), source),
        )


def _limit(workflow: Mapping[str, Any], key: str, source: str) -> int | None:
    value = workflow.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{source}: spec.workflow.{key} must be a whole number of at least 1, not {value!r}")
    return value


def _named(entries: Any, source: str) -> dict[str, int]:
    if entries is None:
        return {}
    where = f"{source}: spec.workflow.activityConcurrencyLimits"
    if not isinstance(entries, list):
        raise ConfigurationError(f"{where} must be a list of {{name, maxConcurrent}}")
    limits: dict[str, int] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise ConfigurationError(f"{where}: each entry needs a name, got {entry!r}")
        value = _limit(entry, "maxConcurrent", where)
        if value is None:
            raise ConfigurationError(f"{where}: {entry['name']!r} has no maxConcurrent")
        if entry["name"] in limits:
            raise ConfigurationError(f"{where}: {entry['name']!r} is listed twice")
        limits[entry["name"]] = value
    return limits


@dataclass(frozen=True)
class Lease:
    """A slot of a limit, held by one run until it is given back or ``until`` passes."""

    scope: str
    slot: int
    owner: str


class Slots(Protocol):
    """The slots of the deployment-wide limits, leased (the store's table holds them)."""

    def take(self, scope: str, slots: int, owner: str, now: datetime, until: datetime) -> Lease | None:
        """A slot of ``scope`` (one of ``slots``) free now (never taken, given back, or
        its lease over), leased to ``owner`` until ``until``; None if all are held."""

    def give_back(self, lease: Lease) -> None:
        """Free ``lease``'s slot, if ``lease.owner`` still holds it."""

    def release(self, scope: str, owner: str) -> None:
        """Free any slot of ``scope`` that ``owner`` holds (a take that failed with an
        error may have landed)."""

    def note_waiting(self, scope: str, key: str, now: datetime) -> None:
        """``key`` (a run) found ``scope`` full at ``now`` and waits."""

    def usage(self, scope: str, now: datetime) -> tuple[list[str], list[str]]:
        """(the owners of the slots held now, the runs noted waiting within ``WAITING_FRESH``)."""


@dataclass(frozen=True)
class Usage:
    """One deployment-wide limit and its use now (``wf limits``); a run is named
    ``instance#execution#task`` (``run_key``)."""

    activity: str | None  # None: all activities
    max_concurrent: int
    running_runs: tuple[str, ...]
    waiting_runs: tuple[str, ...]

    @property
    def running(self) -> int:
        return len(self.running_runs)

    @property
    def waiting(self) -> int:
        return len(self.waiting_runs)


def run_key(instance_id: str, execution_id: str | None, task_id: int) -> str:
    """How a run of an activity is named to its limits (a slot's owner, a waiting note)."""
    return f"{instance_id}#{execution_id}#{task_id}"


def parse_run_key(key: str) -> tuple[str, int] | None:
    """The instance and task a run's name says (``run_key``); None for a name of another
    shape (a slot taken by an earlier version, whose owners were bare IDs)."""
    parts = key.rsplit("#", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0], int(parts[2])


class ActivityGate:
    """Takes and gives back the slots of the activities' deployment-wide limits."""

    def __init__(
        self, limits: ConcurrencyLimits, slots: Slots, clock: Callable[[], datetime], new_id: Callable[[], str]
    ) -> None:
        self.limits = limits
        self._slots, self._clock, self._new_id = slots, clock, new_id

    def enter(self, activity: str, run: str, lease_for: timedelta) -> list[Lease] | None:
        """The slots a run of ``activity`` needs, taken all or nothing (``[]`` when it
        falls under no limit); None, holding nothing, when a limit is full (noted as
        waiting under ``run``, the run's name for that)."""
        scopes = self.limits.scopes_for(activity)
        if not scopes:
            return []
        now = self._clock()
        # The run's name first: what holds a slot can be told (``usage``).
        owner = f"{run}@{self._new_id()}"
        held: list[Lease] = []
        scope = ""
        try:
            for scope, slots in scopes:
                lease = self._slots.take(scope, slots, owner, now, now + lease_for)
                if lease is None:
                    self.leave(held)
                    held = []
                    self._slots.note_waiting(scope, run, now)
                    return None
                held.append(lease)
        except BaseException:
            self.leave(held)
            # A take whose write landed but answered with an error holds a slot nobody
            # will give back: free it now rather than at the end of its lease.
            with contextlib.suppress(Exception):
                self._slots.release(scope, owner)
            raise
        return held

    def leave(self, leases: Sequence[Lease]) -> None:
        """Give ``leases`` back; one that cannot be (the store failed) runs out by itself."""
        for lease in leases:
            try:
                self._slots.give_back(lease)
            except Exception:
                continue

    def usage(self) -> list[Usage]:
        now = self._clock()
        rows = []
        for scope, name, slots in self.limits.all_scopes():
            owners, noted = self._slots.usage(scope, now)
            running = tuple(sorted(o.rpartition("@")[0] or o for o in owners))
            # A run noted waiting may have got its slot since (the note stays fresh a while).
            waiting = tuple(sorted(set(noted) - set(running)))
            rows.append(Usage(name, slots, running, waiting))
        return rows
