"""The contexts handed to workflow and activity code (Dapr names and semantics), and
how user functions are called with them."""

from __future__ import annotations

import string
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from wf.core.deterministic import seeded_random, uuid_v5
from wf.core.history import Propagated, PropagationScope
from wf.core.propagation import PropagatedHistory
from wf.core.retry import RetryPolicy
from wf.core.serde import encode
from wf.core.task import Task

if TYPE_CHECKING:  # the core draws no randomness: wf/core/deterministic.py seeds it
    import random
    import uuid

T = TypeVar("T")


def registered_name(fn_or_name: Callable[..., Any] | str) -> str:
    """The name a workflow or activity is registered under."""
    if isinstance(fn_or_name, str):
        return fn_or_name
    alt = getattr(fn_or_name, "_dapr_alternate_name", None)
    return alt if isinstance(alt, str) else fn_or_name.__name__


@dataclass(slots=True)
class Turn:
    """The step being run: its time (the workflow's deterministic 'now') and whether it
    is being replayed from history. Shared by an execution, its task book and its context."""

    now: datetime
    replaying: bool = False
    #: The step's code already ran for its new events once, in a step that was not
    #: recorded (a lost write race): ``is_replaying`` is true for the user's code, while
    #: patch decisions still follow what history recorded.
    rerun: bool = False


@dataclass(slots=True)
class Patches:
    """``is_patched`` decisions (the SDK's): a patch is on for a run of the code that
    first met it live, and for replays of steps recorded with it; off when replaying a
    step recorded before it existed. Each decision holds for the whole execution."""

    #: Patches recorded by the steps replayed so far (``TurnStarted.patches``).
    recorded: set[str] = field(default_factory=set)
    #: The same, in the order history recorded them.
    history: list[str] = field(default_factory=list)
    decided: dict[str, bool] = field(default_factory=dict)
    #: The patches this run of the code applied, in order: history's must lead them.
    applied: list[str] = field(default_factory=list)
    #: Applied live in the current step: recorded with it.
    new: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Directives:
    """What the workflow code asked of its execution besides tasks."""

    #: Set by ``continue_as_new``: the new input (encoded) and whether unread events carry over.
    continue_with: tuple[str, bool] | None = None
    custom_status: str | None = None
    patches: Patches = field(default_factory=Patches)


class Scheduler(Protocol):
    """Where the context schedules tasks (the execution's task book)."""

    def schedule_activity(
        self,
        name: str,
        input: Any,
        retry_policy: RetryPolicy | None,
        propagation: PropagationScope | None = None,
        app_id: str | None = None,
    ) -> Task[Any]: ...

    def schedule_child(
        self,
        name: str,
        input: Any,
        instance_id: str | None,
        retry_policy: RetryPolicy | None,
        propagation: PropagationScope | None = None,
        app_id: str | None = None,
    ) -> Task[Any]: ...

    def schedule_timer(self, fire_at: datetime) -> Task[None]: ...

    def wait_event(self, name: str, timeout: timedelta | None) -> Task[Any]: ...


class DaprWorkflowContext:
    """What a workflow function receives as its first argument."""

    __slots__ = ("_directives", "_instance_id", "_scheduler", "_timestamps", "_turn", "_uuids", "propagated")

    def __init__(self, instance_id: str, turn: Turn, scheduler: Scheduler, directives: Directives) -> None:
        #: What the parent propagated (its ``WorkflowStarted``), set before the code runs.
        self.propagated: Propagated | None = None
        self._instance_id = instance_id
        self._turn = turn
        self._scheduler = scheduler
        self._directives = directives
        # Per-call counters, from 0 at every replay (the SDK's): same values each time.
        self._uuids = 0
        self._timestamps = 0

    @property
    def instance_id(self) -> str:
        return self._instance_id

    @property
    def current_utc_datetime(self) -> datetime:
        """Deterministic 'now': the time the current step started, from history."""
        return self._turn.now

    @property
    def is_replaying(self) -> bool:
        return self._turn.replaying or self._turn.rerun

    # -- deterministic helpers (the SDK's ``DeterministicContextMixin``) ----------------

    def now(self) -> datetime:
        """``current_utc_datetime``."""
        return self._turn.now

    def now_with_sequence(self) -> datetime:
        """``current_utc_datetime`` plus one microsecond per earlier call: ordered,
        unique and the same on replay (for telemetry)."""
        offset = timedelta(microseconds=self._timestamps)
        self._timestamps += 1
        return self._turn.now + offset

    def current_utc_datetime_with_sequence(self) -> datetime:
        """``now_with_sequence``."""
        return self.now_with_sequence()

    def random(self) -> random.Random:
        """A PRNG seeded from the instance ID and the step's time: the same on replay."""
        return seeded_random(self._instance_id, self._turn.now)

    def uuid4(self) -> uuid.UUID:
        """A UUID that is the same on replay (the SDK's v5 of instance, time and count)."""
        value = uuid_v5(self._instance_id, self._turn.now, self._uuids)
        self._uuids += 1
        return value

    def new_guid(self) -> uuid.UUID:
        """``uuid4``."""
        return self.uuid4()

    def random_string(self, length: int, *, alphabet: str | None = None) -> str:
        """Random text of ``length`` characters (letters and digits unless ``alphabet``)."""
        if length < 0:
            raise ValueError("length must be non-negative")
        chars = alphabet if alphabet is not None else string.ascii_letters + string.digits
        if not chars:
            raise ValueError("alphabet must not be empty")
        rnd = self.random()
        return "".join(chars[rnd.randrange(0, len(chars))] for _ in range(length))

    def random_int(self, min_value: int = 0, max_value: int = 2**31 - 1) -> int:
        """A random integer in ``[min_value, max_value]``."""
        if min_value > max_value:
            raise ValueError("min_value must be <= max_value")
        return self.random().randint(min_value, max_value)

    def random_choice(self, sequence: Sequence[T]) -> T:
        """A random element of a non-empty sequence."""
        if not sequence:
            raise IndexError("Cannot choose from empty sequence")
        return self.random().choice(sequence)

    def is_patched(self, patch_name: str) -> bool:
        """Whether to take the patched code path (the SDK's workflow versioning): true
        for instances that reach this call with new code, false while replaying steps
        recorded by code from before the patch; the same answer for the rest of the
        execution. ``if ctx.is_patched("v2"): new else: old``."""
        patches = self._directives.patches
        decided = patches.decided.get(patch_name)
        if decided is not None:
            return decided
        applied = patch_name in patches.recorded or not self._turn.replaying
        patches.decided[patch_name] = applied
        if applied:
            patches.applied.append(patch_name)
        if applied and patch_name not in patches.recorded:
            patches.recorded.add(patch_name)
            patches.new.append(patch_name)
        return applied

    def get_propagated_history(self) -> PropagatedHistory | None:
        """The history the parent propagated (``call_child_workflow(propagation=...)``);
        ``None`` if it propagated none. Part of this workflow's history, so the same
        on every replay."""
        return None if self.propagated is None else PropagatedHistory(self.propagated)

    def call_activity(
        self,
        activity: Callable[..., Any] | str,
        *,
        input: Any = None,
        retry_policy: RetryPolicy | None = None,
        app_id: str | None = None,
        propagation: PropagationScope | None = None,
    ) -> Task[Any]:
        """Schedule an activity; ``yield`` the task for its result. ``propagation``:
        let it read this workflow's history (``ctx.get_propagated_history()``).
        ``app_id``: run it in that app (another deployed stack, or ``wf dev``; see
        docs/api.md "Apps calling apps"); its result or failure comes back here."""
        _check(app_id, propagation)
        return self._scheduler.schedule_activity(registered_name(activity), input, retry_policy, propagation, app_id)

    def call_child_workflow(
        self,
        workflow: Callable[..., Any] | str,
        *,
        input: Any = None,
        instance_id: str | None = None,
        retry_policy: RetryPolicy | None = None,
        app_id: str | None = None,
        propagation: PropagationScope | None = None,
    ) -> Task[Any]:
        """Start a child workflow (default ID ``f"{parent}:{seq:04x}"``); ``yield`` for its
        output. ``propagation``: let it read this workflow's history. ``app_id``: start
        it in that app, where it is stored and managed."""
        _check(app_id, propagation)
        return self._scheduler.schedule_child(
            registered_name(workflow), input, instance_id, retry_policy, propagation, app_id
        )

    def call_sub_orchestrator(
        self,
        orchestrator: Callable[..., Any] | str,
        *,
        input: Any = None,
        instance_id: str | None = None,
        retry_policy: RetryPolicy | None = None,
        app_id: str | None = None,
        propagation: PropagationScope | None = None,
    ) -> Task[Any]:
        """durabletask's name for ``call_child_workflow``, which Dapr's context reaches
        through its pass-through to the durabletask context."""
        return self.call_child_workflow(
            orchestrator,
            input=input,
            instance_id=instance_id,
            retry_policy=retry_policy,
            app_id=app_id,
            propagation=propagation,
        )

    def create_timer(self, fire_at: datetime | timedelta) -> Task[None]:
        """A durable timer; naive datetimes are taken as UTC."""
        if isinstance(fire_at, timedelta):
            when = self._turn.now + fire_at
        elif fire_at.tzinfo is None:
            when = fire_at.replace(tzinfo=UTC)
        else:
            when = fire_at.astimezone(UTC)
        return self._scheduler.schedule_timer(when)

    def wait_for_external_event(self, name: str, *, timeout: timedelta | None = None) -> Task[Any]:
        """Wait for an event raised on this instance (names are case-insensitive).

        With ``timeout``, the task fails with :class:`TimeoutError` if no event arrives
        within that much workflow time.
        """
        return self._scheduler.wait_event(name, timeout)

    def continue_as_new(self, new_input: Any, *, save_events: bool = False) -> None:
        """Restart this instance with fresh history; ``save_events`` carries unread events over."""
        self._directives.continue_with = (encode(new_input), save_events)

    def set_custom_status(self, custom_status: str | None) -> None:
        """Set the status shown by a get, stored as given (``"foobaz"`` reads back as
        ``foobaz``). Other values are JSON-encoded, as the Dapr SDK does (deprecated
        there too); one that is not JSON raises ``PayloadEncodingError`` here."""
        if custom_status is not None and not isinstance(custom_status, str):
            warnings.warn(
                "Passing a non-str value to set_custom_status is deprecated; pass a string "
                "(it is JSON-encoded for now, as the Dapr SDK does)",
                DeprecationWarning,
                stacklevel=2,
            )
            custom_status = encode(custom_status)
        self._directives.custom_status = custom_status


def _check(app_id: Any, propagation: Any) -> None:
    if app_id is not None and (not isinstance(app_id, str) or not app_id):
        raise TypeError(f"app_id must be a non-empty string or None, not {app_id!r}")
    if propagation is not None and not isinstance(propagation, PropagationScope):
        raise TypeError(f"propagation must be a PropagationScope or None, not {propagation!r}")


class WorkflowActivityContext:
    """What an activity function receives as its first argument."""

    __slots__ = ("_propagated", "_task_id", "_workflow_id")

    def __init__(self, workflow_id: str, task_id: int, propagated: Propagated | None = None) -> None:
        self._workflow_id = workflow_id
        self._task_id = task_id
        self._propagated = propagated

    def get_propagated_history(self) -> PropagatedHistory | None:
        """The calling workflow's history, if it called with ``propagation=...``."""
        return None if self._propagated is None else PropagatedHistory(self._propagated)

    @property
    def workflow_id(self) -> str:
        return self._workflow_id

    @property
    def task_id(self) -> int:
        return self._task_id
