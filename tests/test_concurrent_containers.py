"""Several Lambda containers, each with its own warm cache, work on the same instances:
whichever container gets a message, nothing may be lost or recorded twice."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.test_fault_injection import EXPECTED, SETTINGS, ft, sqs_record  # noqa: F401 - registers the workflows
from tests.test_fault_injection import wfr as ft_runtime
from wf import DaprWorkflowContext, PropagationScope, WorkflowActivityContext, WorkflowRuntime, when_any
from wf.aws.app import make_handler
from wf.core.history import ActivityCompleted, ChildCompleted, TimerFired, WorkflowCompleted
from wf.core.serde import decode, encode
from wf.engine.engine import Engine
from wf.engine.manage import Signal, describe, signal
from wf.engine.messages import WorkMessage
from wf.errors import ConflictError, StoreError
from wf.testing import MemoryQueue, MemoryStore


def containers_for(
    store: MemoryStore, queue: MemoryQueue, clock: list[datetime], runtime: WorkflowRuntime = ft_runtime
) -> Callable[[], Engine]:
    """A factory of engines ("Lambda containers") sharing one store, queue and clock."""
    ids = itertools.count()

    def engine() -> Engine:
        return Engine(
            runtime,
            store,
            queue,
            clock=lambda: clock[0],
            new_id=lambda: f"{int(clock[0].timestamp() * 1000):012x}{next(ids):08x}",
            sleep=lambda _: None,
        )

    return engine


def check_completed_exactly_once(store: MemoryStore) -> None:
    meta = store.metas["wf"]
    history = list(meta.first_step) + [e for s in store.load_steps("wf", meta.execution_id) for e in s.events]
    done = Counter(e.task_id for e in history if isinstance(e, (ActivityCompleted, TimerFired, ChildCompleted)))
    assert all(n == 1 for n in done.values()), done
    final = [e for e in history if isinstance(e, WorkflowCompleted)]
    assert len(final) == 1, [type(e).__name__ for e in history][-6:]
    assert decode(final[0].output) == EXPECTED
    # The summary (and so the status index) ends on the final state, never an older one.
    assert meta.status.value == "COMPLETED"


@pytest.mark.parametrize("batch", [1, 4], ids=["one-by-one", "batches"])
@pytest.mark.parametrize("seed", range(25))
def test_messages_spread_over_containers_with_stale_caches(seed: int, batch: int) -> None:
    """``batch`` > 1: random batches of messages through the containers' Lambda handlers."""
    rng = random.Random(seed)
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    store, queue = MemoryStore(), MemoryQueue()
    engine = containers_for(store, queue, clock)

    containers = [engine() for _ in range(3)]
    handlers = [make_handler(c, SETTINGS) for c in containers]
    containers[0].start("ft", "wf", encode(None))
    raised = False
    for _ in range(500):
        if not queue.messages:
            if raised:
                break
            signal(rng.choice(containers), "wf", Signal.RAISE, name="go", data=encode("now"))
            raised = True
            continue
        taken = [queue.messages.pop(rng.randrange(len(queue.messages))) for _ in range(min(batch, len(queue.messages)))]
        clock[0] += timedelta(seconds=max(out.delay_seconds for _, out in taken) or 0.001)
        if batch == 1:
            rng.choice(containers).handle(WorkMessage.parse(taken[0][1].body))
            continue
        records = [sqs_record(i, out, 1) for i, (_, out) in enumerate(taken)]
        failed = rng.choice(handlers)({"Records": records}, None)["batchItemFailures"]
        queue.messages.extend(taken[int(f["itemIdentifier"])] for f in failed)
    check_completed_exactly_once(store)
    assert store.metas["wf:0006"].status.value == "COMPLETED"


class _InterleavingStore(MemoryStore):
    """Yields the GIL around every store call so that concurrent steps interleave."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self._rng = rng

    def __getattribute__(self, name: str):  # type: ignore[no-untyped-def]
        attr = object.__getattribute__(self, name)
        if name.startswith("_") or not callable(attr):
            return attr
        rng = object.__getattribute__(self, "_rng")

        def call(*a, **k):  # type: ignore[no-untyped-def]
            time.sleep(rng.random() * 0.0005)
            result = attr(*a, **k)
            time.sleep(rng.random() * 0.0005)
            return result

        return call


@pytest.mark.parametrize("trial", range(12))
def test_containers_running_at_the_same_time(trial: int) -> None:
    rng = random.Random(trial)
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    store, queue = _InterleavingStore(rng), MemoryQueue()
    lock = threading.Lock()
    engine = containers_for(store, queue, clock)

    engine().start("ft", "wf", encode(None))
    signal(engine(), "wf", Signal.RAISE, name="go", data=encode("now"))
    idle = [0]
    errors: list[BaseException] = []

    def container() -> None:
        own = engine()
        while idle[0] < 200:
            with lock:
                item = queue.messages.pop(rng.randrange(len(queue.messages))) if queue.messages else None
                if item is not None:
                    clock[0] += timedelta(seconds=item[1].delay_seconds or 0.001)
            if item is None:
                idle[0] += 1
                time.sleep(0.001)
                continue
            idle[0] = 0
            try:
                own.handle(WorkMessage.parse(item[1].body))
            except ConflictError:
                with lock:
                    queue.messages.append(item)  # the record failed: SQS delivers it again
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    in_threads(container, 3, timeout=60)
    assert not errors, errors
    check_completed_exactly_once(store)


def in_threads(target: Callable[[], None], n: int, *, timeout: float) -> None:
    """Run ``target`` in ``n`` threads at once ("containers"), until each returns."""
    threads = [threading.Thread(target=target) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)


class _CountingStore(MemoryStore):
    """Counts the steps read, and the reads (round trips on DynamoDB) that load them."""

    def __init__(self) -> None:
        super().__init__()
        self.steps_read = self.reads = 0
        self._together = False

    def get_meta(self, instance_id: str):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().get_meta(instance_id)

    def read_execution(self, instance_id: str, execution_id: str, after: int = -1):  # type: ignore[no-untyped-def]
        self.reads += 1
        self._together = True
        try:
            return super().read_execution(instance_id, execution_id, after)
        finally:
            self._together = False

    def load_steps(self, instance_id: str, execution_id: str, after: int = 0):  # type: ignore[no-untyped-def]
        self.reads += not self._together
        steps = super().load_steps(instance_id, execution_id, after)
        self.steps_read += len(steps)
        return steps


def test_a_container_behind_the_table_reads_only_the_steps_it_missed() -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    store, queue = _CountingStore(), MemoryQueue()
    engine = containers_for(store, queue, clock)
    a, b = engine(), engine()
    a.start("ft", "wf", encode(None))

    def next_message() -> WorkMessage:
        _, out = queue.messages.pop(0)
        clock[0] += timedelta(seconds=out.delay_seconds)
        return WorkMessage.parse(out.body)

    a.handle(next_message())  # activity 1: a holds the instance, warm
    a.handle(next_message())  # the fan-out's first result, still warm
    reads = store.reads
    b.handle(next_message())  # b (cold) records the second result
    assert store.reads - reads == 1  # the record and the steps in one read
    before = store.steps_read
    a.handle(next_message())  # a's view is one step behind: its write loses, it reloads
    assert store.steps_read - before == 1  # only b's step, not the whole history
    while queue.messages:
        (a if len(queue.messages) % 2 else b).handle(next_message())
        if not queue.messages and store.metas["wf"].status.value == "RUNNING":
            signal(a, "wf", Signal.RAISE, name="go", data=encode("now"))
    check_completed_exactly_once(store)


loop_rt = WorkflowRuntime()
effects: list[str] = []


@loop_rt.activity(name="side_effect")
def side_effect(ctx: WorkflowActivityContext, what: str) -> str:
    effects.append(what)
    return what


@loop_rt.workflow(name="loop")
def loop(ctx: DaprWorkflowContext, n: int):
    timeout = ctx.create_timer(timedelta(minutes=5))
    winner = yield when_any([ctx.wait_for_external_event("next"), timeout])
    if winner is timeout:
        yield ctx.call_activity(side_effect, input=f"timed out in generation {n}")
        return "timed out"
    if n < 2:
        ctx.continue_as_new(n + 1)
        return None
    return "done"


@loop_rt.workflow(name="race")
def race(ctx: DaprWorkflowContext, n: int):
    work = ctx.call_activity(side_effect, input=f"work of generation {n}")
    winner = yield when_any([ctx.wait_for_external_event("next"), work])
    if winner is work:
        yield ctx.call_activity(side_effect, input=f"after the work of generation {n}")
        return "worked"
    if n < 1:
        ctx.continue_as_new(n + 1)
        return None
    return "done"


def _continued_by_b(workflow: str) -> tuple[list[datetime], MemoryStore, MemoryQueue, Engine, Engine, str]:
    """Containers a and b hold the same view of a new instance of ``workflow``; b then
    records the event that continues it as new. Returns the old execution's ID last."""
    effects.clear()
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    store, queue = MemoryStore(), MemoryQueue()
    engine = containers_for(store, queue, clock, loop_rt)
    a, b = engine(), engine()
    a.start(workflow, "wf", encode(0))
    assert b.load("wf") is not None  # b is warm too, at the same step
    old = store.metas["wf"].execution_id
    signal(b, "wf", Signal.RAISE, name="next", data=encode(None))  # b records it at once
    b.handle(_take(queue, "event"))  # and carries out what follows, from its follow-up message
    assert store.metas["wf"].execution_id != old  # continued as new
    return clock, store, queue, a, b, old


def _take(queue: MemoryQueue, kind: str) -> WorkMessage:
    for i, (_, out) in enumerate(queue.messages):
        if out.body["k"] == kind:
            del queue.messages[i]
            return WorkMessage.parse(out.body)
    raise AssertionError(f"no {kind} message in {queue.messages}")


@pytest.mark.parametrize("later", [timedelta(seconds=1), timedelta(hours=1)], ids=["at-once", "an-hour-later"])
def test_a_container_behind_a_continue_as_new_cannot_act_for_the_old_execution(later: timedelta) -> None:
    """Containers a and b hold the same view. b records the event that continues the
    instance as new; the old execution's timeout then reaches a, whose view says the
    wait is still open. a must not record the timeout nor run its activity, whether
    the timer fires at once or after the old execution's items are long gone."""
    clock, store, queue, a, b, old = _continued_by_b("loop")
    stale_timer = _take(queue, "timer")
    assert stale_timer.execution_id == old
    clock[0] += later
    if later > timedelta(minutes=15):
        # The new generation times out too and finishes: its final record drops the
        # old execution's items, which are by now old enough to go.
        b.handle(_take(queue, "timer"))
        b.handle(_take(queue, "activity"))
        assert store.metas["wf"].status.value == "COMPLETED"
        assert ("wf", old) not in store.steps and store.metas["wf"].superseded == ()
    clock[0] = max(clock[0], stale_timer.fire_at or clock[0])
    a.handle(stale_timer)
    while any(out.body["k"] == "activity" for _, out in queue.messages):
        a.handle(_take(queue, "activity"))
    assert "timed out in generation 0" not in effects
    assert all(seq == 1 for seq in store.steps.get(("wf", old), {}))  # at most the seal, no step of a's


def test_a_step_racing_a_continue_as_new_cannot_commit_to_the_old_execution() -> None:
    """a and b hold the same view; b continues the instance as new on an event while a,
    moments later, records the old execution's activity result. The continue-as-new
    took the old execution's next step number, so a's write fails and a reloads."""
    _, store, queue, a, b, old = _continued_by_b("race")
    old_work = _take(queue, "activity")
    assert old_work.execution_id == old
    a.handle(old_work)  # the activity runs (it was scheduled), its result is dropped
    assert effects == ["work of generation 0"]
    assert list(store.steps[("wf", old)]) == [1]  # only b's seal
    while queue.messages:
        (a if len(queue.messages) % 2 else b).handle(_take(queue, queue.messages[0][1].body["k"]))
        if not queue.messages and store.metas["wf"].status.value == "RUNNING":
            signal(a, "wf", Signal.RAISE, name="next", data=encode(None))
    assert "after the work of generation 0" not in effects
    assert store.metas["wf"].status.value == "COMPLETED"


# -- a management call that dies after recording its step ------------------------------

api_rt = WorkflowRuntime()


@api_rt.activity(name="stamp")
def stamp(ctx: WorkflowActivityContext, value: str) -> str:
    effects.append(f"stamp {value}")
    return value.upper()


@api_rt.workflow(name="approval")
def approval(ctx: DaprWorkflowContext, gen: int):
    ctx.create_timer(timedelta(days=1))  # open all along: no repair may send it again
    token = yield ctx.wait_for_external_event("go")
    if gen == 0 and token == "again":
        ctx.continue_as_new(1)
        return None
    return (yield ctx.call_activity(stamp, input=f"{gen}-{token}"))


class _DiesAtWrite(MemoryStore):
    """A store whose next step write after ``arm()`` kills the container, before or
    after the write takes effect."""

    armed: str | None = None

    def append_step(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self._dies(super().append_step, *args, **kwargs)

    def continue_as_new(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self._dies(super().continue_as_new, *args, **kwargs)

    def _dies(self, write, *args, **kwargs):  # type: ignore[no-untyped-def]
        when, self.armed = self.armed, None
        if when == "before":
            raise KeyboardInterrupt("the API call's container died")
        result = write(*args, **kwargs)
        if when == "after":
            raise KeyboardInterrupt("the API call's container died")
        return result


@pytest.mark.parametrize("dies", [None, "before", "after"], ids=["lives", "dies-before-its-write", "dies-after"])
@pytest.mark.parametrize("token", ["yes", "again"], ids=["plain-step", "continue-as-new"])
def test_a_management_call_leaves_exactly_its_steps_follow_up_to_its_message(token: str, dies: str | None) -> None:
    """A raise is recorded by the API call itself; what its step sets going (an
    activity; or, continuing as new, the new generation's timer) is left to the
    follow-up message sent just before the write. Whether the call lives or dies before
    or after writing, the worker that takes that message carries out what that step
    owes and nothing else (not the day-long timer of an earlier step)."""
    effects.clear()
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    store, queue = _DiesAtWrite(), MemoryQueue()
    engine = containers_for(store, queue, clock, api_rt)
    engine().start("approval", "wf", encode(0))
    queue.messages.clear()  # the first step's day-long timer, sent
    store.armed = dies
    if dies:
        with pytest.raises(KeyboardInterrupt):
            signal(engine(), "wf", Signal.RAISE, name="go", data=encode(token))
    else:
        signal(engine(), "wf", Signal.RAISE, name="go", data=encode(token))
    [(_, follow_up)] = queue.messages  # the call sent its follow-up and nothing else
    assert follow_up.body["follow_up"] and follow_up.delay_seconds == 0
    queue.messages.clear()
    engine().handle(WorkMessage.parse(follow_up.body))
    if dies == "before":
        # The event is not recorded: the message waits for the call's write a while,
        # and then records the event itself.
        [(_, again)] = queue.messages
        assert again.body["follow_up"] and again.delay_seconds == 1
        queue.messages.clear()
        clock[0] += timedelta(seconds=11)
        engine().handle(WorkMessage.parse(again.body))
    assert [out.body["k"] for _, out in queue.messages] == (["activity"] if token == "yes" else ["timer"])
    if token == "again":
        queue.messages.clear()
        signal(engine(), "wf", Signal.RAISE, name="go", data=encode("yes"))  # to generation 1
    while queue.messages:
        _, out = queue.messages.pop(0)
        if out.body["k"] in ("activity", "event"):
            engine().handle(WorkMessage.parse(out.body))
    assert store.metas["wf"].status.value == "COMPLETED"
    assert effects == ["stamp 0-yes"] if token == "yes" else ["stamp 1-yes"]


def test_a_get_racing_a_continue_as_new_reads_the_new_execution() -> None:
    """A get reads the instance record just before a continue-as-new commits, then the
    old execution's last step: the seal, which records nothing. It reads the record
    again and reports the new execution (this was an IndexError, a 500)."""
    effects.clear()
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    store, queue = MemoryStore(), MemoryQueue()
    engine = containers_for(store, queue, clock, loop_rt)
    a = engine()
    a.start("loop", "wf", encode(0))
    before = store.metas["wf"]
    signal(a, "wf", Signal.RAISE, name="next", data=encode(None))  # continues as new
    assert store.metas["wf"].execution_id != before.execution_id
    reads = [before]
    real_get_meta = store.get_meta
    store.get_meta = lambda iid: reads.pop() if reads else real_get_meta(iid)  # type: ignore[method-assign]
    view = describe(engine(), "wf")
    assert view.runtime_status.value == "RUNNING" and not reads


class _RefusesNextWrite(MemoryStore):
    refuse = False

    def append_step(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.refuse:
            self.refuse = False
            raise StoreError("throttled")
        return super().append_step(*args, **kwargs)


def test_follow_ups_delivered_together_each_stand_for_their_own_call() -> None:
    """A pause is recorded by its call; a raise made while paused fails to write, so
    only its follow-up message carries it. SQS hands both follow-ups over in one batch:
    the pause's step is found recorded, and that must not stand for the raise, which is
    recorded in its own right (found by chaos: the event was lost, the workflow stuck)."""
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    store, queue = _RefusesNextWrite(), MemoryQueue()
    engine = containers_for(store, queue, clock, api_rt)
    engine().start("approval", "wf", encode(0))
    queue.messages.clear()
    signal(engine(), "wf", Signal.PAUSE)
    store.refuse = True
    signal(engine(), "wf", Signal.RAISE, name="go", data=encode("yes"))
    follow_ups = [out for _, out in queue.messages]
    assert [out.body["event"]["k"] for out in follow_ups] == ["Suspended", "EventRaised"]
    queue.messages.clear()
    clock[0] += timedelta(seconds=11)  # the raise's call is long gone
    batch = {"Records": [sqs_record(f"m{i}", out, 1) for i, out in enumerate(follow_ups)]}
    make_handler(engine(), SETTINGS)(batch, None)
    signal(engine(), "wf", Signal.RESUME)
    while queue.messages:
        _, out = queue.messages.pop(0)
        if out.body["k"] in ("activity", "event"):
            engine().handle(WorkMessage.parse(out.body))
    assert store.metas["wf"].status.value == "COMPLETED"


fan_in_runtime = WorkflowRuntime()


@fan_in_runtime.activity(name="double")
def double(ctx: WorkflowActivityContext, i: int) -> int:
    return 2 * i


@fan_in_runtime.workflow(name="fan_in")
def fan_in(ctx: DaprWorkflowContext, n: int):
    from wf import when_all

    return sum((yield when_all([ctx.call_activity(double, input=i) for i in range(n)])))


def test_results_that_lose_a_race_wait_in_the_inbox_and_are_recorded_in_one_step() -> None:
    from wf.engine.messages import ActivityMessage, InboxMessage

    store, queue, clock = MemoryStore(), MemoryQueue(), [datetime(2026, 1, 1, tzinfo=UTC)]
    make = containers_for(store, queue, clock, fan_in_runtime)
    a, b = make(), make()
    a.start("fan_in", "fi", encode(8))
    work = [WorkMessage.parse(m.body) for _, m in queue.messages]
    queue.messages.clear()
    acts = [m for m in work if isinstance(m, ActivityMessage)]
    assert len(acts) == 8
    b.load("fi")  # b's view is now behind what a records next

    def results(engine: Engine, msgs: list[ActivityMessage]) -> None:
        events = [e for m in msgs for e in engine.events_for(m)]
        engine.advance(msgs, events)

    results(a, acts[0:2])
    results(b, acts[2:4])  # loses the race once, then leaves its results in the inbox
    results(b, acts[4:6])  # contended: straight to the inbox, no write attempted
    assert [len(evs) for _, evs in store.load_inbox("fi", store.metas["fi"].execution_id)] == [2, 2]
    inbox = [WorkMessage.parse(m.body) for _, m in queue.messages]
    assert [type(m) for m in inbox] == [InboxMessage]  # one message while one is pending
    queue.messages.clear()
    steps_before = len(store.load_steps("fi", store.metas["fi"].execution_id))
    # The first inbox message's invocation dies after its commit, before taking the
    # entries out: its redelivery finds them recorded, and takes them out.
    real_delete = store.delete_inbox
    store.delete_inbox = lambda *a, **k: (_ for _ in ()).throw(StoreError("died"))  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        a.handle(inbox[0])
    store.delete_inbox = real_delete  # type: ignore[method-assign]
    assert len(store.load_steps("fi", store.metas["fi"].execution_id)) == steps_before + 1  # four results, one step
    a.handle(inbox[0], receive_count=2)
    assert store.load_inbox("fi", store.metas["fi"].execution_id) == []
    # Handled, the notice is gone: the next entry sends a message of its own.
    results(b, acts[6:7])
    (again,) = [WorkMessage.parse(m.body) for _, m in queue.messages]
    queue.messages.clear()
    b.handle(again)
    results(a, acts[7:8])
    check = replayed(store, "fi")
    assert check.output == encode(sum(2 * i for i in range(8)))
    history = list(store.metas["fi"].first_step) + [
        e for s in store.load_steps("fi", store.metas["fi"].execution_id) for e in s.events
    ]
    assert sorted(e.task_id for e in history if isinstance(e, ActivityCompleted)) == list(range(1, 9))


def replayed(store: MemoryStore, iid: str):  # noqa: ANN201
    from wf.core.execution import Execution

    meta = store.metas[iid]
    ex = Execution(fan_in_runtime.workflows, iid)
    ex.replay(list(meta.first_step) + [e for s in store.load_steps(iid, meta.execution_id) for e in s.events])
    return ex


@fan_in_runtime.workflow(name="two_steps_under_a_timer")
def two_steps_under_a_timer(ctx: DaprWorkflowContext, _: object):
    ctx.call_activity(double, input=0)  # open all along: two activities are open at each step
    first = yield ctx.call_activity(double, input=1)
    second = yield ctx.call_activity(double, input=first)
    return second


def test_an_inbox_recorded_by_a_container_behind_the_table_is_not_lost() -> None:
    """Found by the Dapr JS SDK test: the inbox's handler held a warm view that did not
    know the task yet (another container had scheduled it), saw nothing to record, and
    took the entry out. It reads the table before deciding so."""
    from wf.engine.messages import ActivityMessage, InboxMessage

    store, queue, clock = MemoryStore(), MemoryQueue(), [datetime(2026, 1, 1, tzinfo=UTC)]
    make = containers_for(store, queue, clock, fan_in_runtime)
    a, b, c = make(), make(), make()
    a.start("two_steps_under_a_timer", "ts", encode(None))
    c.load("ts")  # c's view: the first step only
    (first,) = [
        m
        for _, out in queue.messages
        if isinstance(m := WorkMessage.parse(out.body), ActivityMessage) and m.input == "1"
    ]
    queue.messages.clear()
    a.advance([first], a.events_for(first))  # records the first result, schedules the second
    (second,) = [m for _, out in queue.messages if isinstance(m := WorkMessage.parse(out.body), ActivityMessage)]
    queue.messages.clear()
    b.fan_in.lost_race("ts", store.metas["ts"].execution_id)  # b lost a race here a moment ago
    b.advance([second], b.events_for(second))
    (inbox,) = [WorkMessage.parse(out.body) for _, out in queue.messages]
    assert isinstance(inbox, InboxMessage)
    c.handle(inbox)
    assert store.load_inbox("ts", store.metas["ts"].execution_id) == []
    history = list(store.metas["ts"].first_step) + [
        e for s in store.load_steps("ts", store.metas["ts"].execution_id) for e in s.events
    ]
    assert decode(next(e.output for e in history if isinstance(e, WorkflowCompleted))) == 4


prop_runtime = WorkflowRuntime()


@prop_runtime.activity(name="first")
def _first(ctx: WorkflowActivityContext, x: int) -> int:
    return x + 1


@prop_runtime.activity(name="reader")
def _reader(ctx: WorkflowActivityContext, _: None) -> list:
    caller = ctx.get_propagated_history().get_workflows()[-1]
    first = caller.get_last_activity_by_name("first")
    return [first.completed, first.output]


@prop_runtime.workflow(name="prop")
def _prop(ctx: DaprWorkflowContext, x: int):
    yield ctx.call_activity(_first, input=x)
    return (yield ctx.call_activity(_reader, input=None, propagation=PropagationScope.OWN_HISTORY))


def test_an_activity_run_by_a_container_behind_the_table_propagates_the_history_of_its_step() -> None:
    """Container a holds the instance from before `first` completed; b recorded that and
    scheduled `reader`; a runs `reader`: what it propagates is the history up to the step
    that scheduled it (with `first` completed), not a's stale view."""
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    store, queue = MemoryStore(), MemoryQueue()
    engine = containers_for(store, queue, clock, prop_runtime)
    a, b = engine(), engine()
    a.start("prop", "p", encode(1))  # a is warm: `first` scheduled

    def next_message() -> WorkMessage:
        _, out = queue.messages.pop(0)
        return WorkMessage.parse(out.body)

    b.handle(next_message())  # b runs `first`, records it, schedules `reader`
    a.handle(next_message())  # a, still warm from the start, runs `reader`
    while queue.messages:
        b.handle(next_message())
    meta = store.metas["p"]
    output = [e for s in store.load_steps("p", meta.execution_id) for e in s.events if isinstance(e, WorkflowCompleted)]
    assert decode(output[0].output) == [True, "2"]
