"""A test kit for workflow authors: ``WorkflowTestEnvironment`` runs an application's
workflows in memory, on a virtual clock that skips ahead when nothing is left to do but
wait, behind a client with the ``DaprWorkflowClient`` methods.

    with WorkflowTestEnvironment(wfr) as env:
        client = env.client()
        iid = client.schedule_new_workflow(order, input={"id": 1})
        state = client.wait_for_workflow_completion(iid)  # a 30-day timer takes no time

It is the engine itself (``wf.engine``) over the in-memory store and queue: the same
replay, steps and commands as on AWS, without AWS, moto, HTTP or threads. Work is done
inside the client's calls, in the caller's thread: a breakpoint in a workflow or an
activity stops there. Messages (activities, timers, events) are handled in the order
they fall due; ``wait_for_workflow_completion`` (and ``advance``) move the clock to the
next one due when nothing is left to run now.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from wf.core.context import registered_name
from wf.core.propagation import DEFAULT_APP_ID
from wf.core.registry import Registry
from wf.core.reported import replay_divergence
from wf.core.serde import encode
from wf.core.status import WorkflowState, WorkflowStatus
from wf.core.wire import WorkflowHistoryEvent
from wf.engine.engine import Engine
from wf.engine.manage import Signal, describe, purge, raise_with_start, signal
from wf.engine.messages import WorkMessage
from wf.engine.operate import history, recorded_history
from wf.engine.queue import OutMessage
from wf.errors import InstanceNotFoundError, NonDeterminismError
from wf.testing.memory_store import MemoryStore

__all__ = ["TestWorkflowClient", "WorkflowTestEnvironment"]


class _VirtualQueue:
    """An app's queue on the environment's clock: a message is due ``delay_seconds``
    after it was sent, and handled once the clock has reached that. The apps' queues
    share one heap (``due``), so that their messages are handled in the order they fall
    due, each by its own app."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        app: str,
        due: list[tuple[datetime, int, str, str]],
        order: itertools.count[int],
    ) -> None:
        self._clock, self._app, self._order = clock, app, order
        self.due = due

    def send(self, messages: Sequence[OutMessage]) -> None:
        now = self._clock()
        for m in messages:
            # Through JSON, as SQS carries it: what cannot be sent fails here too.
            body = json.dumps(m.body)
            heapq.heappush(self.due, (now + timedelta(seconds=m.delay_seconds), next(self._order), self._app, body))

    def read(self, body: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(body)
        return data


class WorkflowTestEnvironment:
    """Runs ``runtime``'s workflows in memory, skipping time (see the module's docs).

    ``start``: the virtual clock's first reading (default: now, UTC). ``activities``:
    replacements by activity name (a mock, a fake), as ``replace_activity`` does.
    ``apps``: the other apps the workflows call (``app_id=...``), by ID, each its own
    runtime, store and queue here, as deployed apps are; ``app_id``: this one's ID."""

    def __init__(
        self,
        runtime: Registry,
        *,
        start: datetime | None = None,
        activities: Mapping[str, Callable[..., Any]] | None = None,
        app_id: str = DEFAULT_APP_ID,
        apps: Mapping[str, Registry] | None = None,
    ) -> None:
        self._registry = runtime.with_activities(activities or {})
        self._now = (start or datetime.now(UTC)).astimezone(UTC)
        self._ids = itertools.count()
        registries = {app_id: self._registry, **{name: r.with_activities({}) for name, r in (apps or {}).items()}}
        due: list[tuple[datetime, int, str, str]] = []
        order = itertools.count()
        queues = {name: _VirtualQueue(lambda: self._now, name, due, order) for name in registries}
        self._queue = queues[app_id]
        self._stores = {name: MemoryStore() for name in registries}
        self.store = self._stores[app_id]
        self._engines = {
            name: Engine(
                registry,
                self._stores[name],
                queues[name],
                clock=lambda: self._now,
                # Time-ordered, as the engine wants IDs, and the same in every run.
                new_id=lambda: f"{int(self._now.timestamp() * 1000):012x}{next(self._ids):08x}",
                # Timers to the millisecond: the engine's waits move the virtual clock.
                precise_timers=True,
                sleep=self._sleep,
                app_id=name,
                peers={other: q for other, q in queues.items() if other != name},
            )
            for name, registry in registries.items()
        }
        self._engine = self._engines[app_id]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._queue.due.clear()

    # -- time ---------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The virtual clock's reading (what workflows see as ``current_utc_datetime``)."""
        return self._now

    def _sleep(self, seconds: float) -> None:
        self._now += timedelta(seconds=max(0.0, seconds))

    def run(self) -> int:
        """Handle every message due now (and what they set going now); returns how many."""
        handled = 0
        while self._queue.due and self._queue.due[0][0] <= self._now:
            _, _, app, body = heapq.heappop(self._queue.due)
            self._engines[app].handle(WorkMessage.parse(self._queue.read(body)))
            handled += 1
        return handled

    def advance(self, span: timedelta) -> None:
        """Let ``span`` of virtual time go by, handling what falls due in it, in order."""
        until = self._now + span
        self.run()
        while self._queue.due and self._queue.due[0][0] <= until:
            self._now = max(self._now, self._queue.due[0][0])
            self.run()
        self._now = until
        self.run()

    def skip_to_next(self) -> bool:
        """Move the clock to the next message due (a timer, a retry, a scheduled start)
        and handle it; False when none is waiting."""
        if not self._queue.due:
            return False
        self._now = max(self._now, self._queue.due[0][0])
        self.run()
        return True

    # -- the application ----------------------------------------------------------------

    def client(self) -> TestWorkflowClient:
        """A client with the ``DaprWorkflowClient`` methods, working in this environment."""
        return TestWorkflowClient(self)

    def replace_activity(self, activity: Callable[..., Any] | str, replacement: Callable[..., Any]) -> None:
        """Run ``replacement`` wherever the workflows call ``activity`` (a function or
        its registered name), from now on."""
        self._registry.replace_activity(registered_name(activity), replacement)

    def history(self, instance_id: str) -> list[WorkflowHistoryEvent]:
        """The instance's history, as ``wf history`` and the API report it."""
        return history(self._engine, instance_id)

    def assert_replays(self, instance_id: str, runtime: Registry | None = None) -> None:
        """Replay the instance's recorded history from scratch, as a cold container
        would, with the code registered now (or ``runtime``'s: the next version of the
        code, to learn before a deploy whether in-flight instances survive it); raises
        ``NonDeterminismError`` (naming what the history has and what the code did) if
        the code does not reproduce it."""
        meta = self.store.get_meta(instance_id)
        if meta is None:
            raise InstanceNotFoundError(instance_id)
        workflows = (runtime or self._registry).workflows
        parted = replay_divergence(workflows, instance_id, recorded_history(self._engine, meta))
        if parted is not None:
            raise NonDeterminismError(f"{instance_id}: {parted}")

    @property
    def engine(self) -> Engine:
        return self._engine

    def app(self, app_id: str) -> TestWorkflowClient:
        """A client of another app of ``apps`` (its instances: a child it ran, ...)."""
        return TestWorkflowClient(self, self._engines[app_id])


class TestWorkflowClient:
    """``DaprWorkflowClient``'s methods over a :class:`WorkflowTestEnvironment`: inputs,
    outputs and event data are JSON as over HTTP; waits skip virtual time."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, env: WorkflowTestEnvironment, engine: Engine | None = None) -> None:
        self._env = env
        self._engine = engine or env.engine

    def schedule_new_workflow(
        self,
        workflow: Callable[..., Any] | str,
        *,
        input: Any = None,
        instance_id: str | None = None,
        start_at: datetime | None = None,
    ) -> str:
        """Start a workflow (at ``start_at``: PENDING until then); returns its instance ID."""
        iid = instance_id or f"wf-{next(self._env._ids):08x}"
        name, data = registered_name(workflow), None if input is None else encode(input)
        if start_at is None:
            self._engine.start(name, iid, data)
        else:
            self._engine.schedule(name, iid, data, start_at if start_at.tzinfo else start_at.replace(tzinfo=UTC))
        self._env.run()
        return iid

    def get_workflow_state(self, instance_id: str, *, fetch_payloads: bool = True) -> WorkflowState | None:
        """The instance's state, or ``None`` if there is no such instance."""
        try:
            return describe(self._engine, instance_id)
        except InstanceNotFoundError:
            return None

    def wait_for_workflow_start(
        self, instance_id: str, *, timeout_in_seconds: float | None = None
    ) -> WorkflowState | None:
        """Its state once it is no longer PENDING (virtual time skipped to its start;
        ``timeout_in_seconds`` is virtual time; default: as long as it takes)."""
        return self._wait(instance_id, lambda s: s.runtime_status is not WorkflowStatus.PENDING, timeout_in_seconds)

    def wait_for_workflow_completion(
        self, instance_id: str, *, timeout_in_seconds: float | None = None
    ) -> WorkflowState | None:
        """Its state once terminal, skipping virtual time over its timers and retries
        (``timeout_in_seconds`` is virtual time; default: as long as it takes). Raises
        ``TimeoutError`` when it waits for what no message will bring (an event)."""
        return self._wait(instance_id, lambda s: s.runtime_status.is_terminal, timeout_in_seconds)

    def _wait(
        self, instance_id: str, done: Callable[[WorkflowState], bool], timeout: float | None
    ) -> WorkflowState | None:
        deadline = None if timeout is None else self._env.now + timedelta(seconds=timeout)
        while True:
            self._env.run()
            state = self.get_workflow_state(instance_id)
            if state is None or done(state):
                return state
            if not self._env._queue.due:
                raise TimeoutError(
                    f"{instance_id} is {state.runtime_status.value} and nothing is due that would move it on "
                    "(it waits for an external event, or is suspended)"
                )
            if deadline is not None and self._env._queue.due[0][0] > deadline:
                self._env._now = deadline
                raise TimeoutError(f"{instance_id} is still {state.runtime_status.value} after {timeout} s")
            self._env.skip_to_next()

    def raise_workflow_event(self, instance_id: str, event_name: str, *, data: Any = None) -> None:
        signal(self._engine, instance_id, Signal.RAISE, name=event_name, data=None if data is None else encode(data))
        self._env.run()

    def raise_workflow_event_with_start(
        self,
        workflow: Callable[..., Any] | str,
        instance_id: str,
        event_name: str,
        *,
        input: Any = None,
        data: Any = None,
    ) -> bool:
        """Raise an event, starting the workflow first if there is no instance (or a
        terminal one); returns whether it started it."""
        started = raise_with_start(
            self._engine,
            registered_name(workflow),
            instance_id,
            event_name,
            input=None if input is None else encode(input),
            data=None if data is None else encode(data),
        )
        self._env.run()
        return started

    def terminate_workflow(self, instance_id: str, *, output: Any = None) -> None:
        signal(self._engine, instance_id, Signal.TERMINATE, data=None if output is None else encode(output))
        self._env.run()

    def pause_workflow(self, instance_id: str) -> None:
        signal(self._engine, instance_id, Signal.PAUSE)
        self._env.run()

    def resume_workflow(self, instance_id: str) -> None:
        signal(self._engine, instance_id, Signal.RESUME)
        self._env.run()

    def purge_workflow(self, instance_id: str) -> None:
        purge(self._engine, instance_id)

    def get_workflow_history(self, instance_id: str) -> list[WorkflowHistoryEvent]:
        return history(self._engine, instance_id)
