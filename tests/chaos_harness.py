"""Chaos on the real store: many workflows mixing every feature, run by several
containers over DynamoDB (moto, in process) and a queue with SQS's worst manners, while
AWS calls fail at random and containers die mid-batch; then drained and checked.

* **Faults:** every store and queue call fails with probability ``fault_rate``, half of
  them before taking effect and half after (the caller sees an error for a write that
  happened). With probability ``crash_rate`` a call kills its container instead: the
  whole batch comes back (receive count + 1) and the container is replaced by a cold one.
* **Queue:** at-least-once with SQS's receive counts, visibility timeout and redrive to
  a dead-letter queue after ``max_receive_count`` deliveries; batches drawn at random
  from what is visible (out of order), some messages held back (late), some delivered
  twice, once to each of two containers in a row (a duplicate while the first is in flight).
* **Status events:** published to EventBridge (moto) through a publisher with the same
  faults; a rule sends them to a queue, read at the end: every instance's final status
  change must be there, once by its ``eventId`` (a publication that failed after taking
  effect, or whose invocation died before taking its marker off, is made again with the
  same ID: counted apart).
* **Clients:** management calls retry on errors as a client would (a raise-event retried
  after an ambiguous failure may be applied twice: that is the documented exception,
  counted apart).

Seeded and on a virtual clock: the same seed gives the same run. Used by
``tests/test_chaos.py`` (small) and ``bench/chaos.py`` (1,000 workflows).
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from tests.aws_stack import subscribe_to_status_events
from wf import DaprWorkflowContext, RetryPolicy, TaskFailedError, WorkflowActivityContext, WorkflowRuntime, when_all
from wf.aws.app import make_handler
from wf.aws.dynamodb import DynamoStore
from wf.aws.settings import Settings
from wf.aws.slots import DynamoSlots
from wf.aws.status_events import EventBridgeStatusEvents
from wf.aws.table import make_item_model
from wf.core.history import EventRaised, WorkflowStarted
from wf.core.status import WorkflowStatus
from wf.dev import moto_fixes
from wf.dev.provision import ensure_resources
from wf.engine.concurrency import ActivityGate, ConcurrencyLimits, activity_scope
from wf.engine.engine import Engine
from wf.engine.manage import Signal, purge, signal
from wf.engine.queue import OutMessage
from wf.errors import (
    InstanceExistsError,
    InstanceNotFoundError,
    InvalidStateError,
    QueueError,
    StatusEventsError,
    StoreError,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
moto_fixes.install()

# -- the workflows ----------------------------------------------------------------------

wfr = WorkflowRuntime()
#: Activity runs by (instance, activity, input): what ran, however often.
RUNS: Counter[tuple[str, str, str]] = Counter()


#: ``square`` runs under a deployment-wide concurrency limit (a Dapr Configuration's
#: ``activityConcurrencyLimits``), its slots in the table under the same faults.
SQUARE_LIMIT = 8
LIMITS = ConcurrencyLimits(activity_names={"square": SQUARE_LIMIT})
#: Per run of ``square``: (slots of its limit held at that moment, whether this run holds one).
SLOT_CHECKS: list[tuple[int, bool]] = []
#: The slots as stored, read without faults (set by ``Chaos``).
PROBE: list[Any] = []


@wfr.activity(name="square")
def square(ctx: WorkflowActivityContext, x: int) -> int:
    RUNS[(ctx.workflow_id, "square", json.dumps(x))] += 1
    if PROBE:
        slots, now = PROBE
        owners, _ = slots.usage(activity_scope("square"), now())
        mine = any(o.startswith(f"{ctx.workflow_id}#") and f"#{ctx.task_id}@" in o for o in owners)
        SLOT_CHECKS.append((len(owners), mine))
    return x * x


@wfr.activity(name="flaky")
def flaky(ctx: WorkflowActivityContext, key: str) -> str:
    """Fails on its first run for each key, then succeeds (a retry policy brings it through)."""
    RUNS[(ctx.workflow_id, "flaky", json.dumps(key))] += 1
    if RUNS[(ctx.workflow_id, "flaky", json.dumps(key))] == 1:
        raise RuntimeError(f"flaky {key}: first attempt fails")
    return key.upper()


@wfr.activity(name="inline_add", inline=True)
def inline_add(ctx: WorkflowActivityContext, pair: list[int]) -> int:
    RUNS[(ctx.workflow_id, "inline_add", json.dumps(pair))] += 1
    return pair[0] + pair[1]


RETRY = RetryPolicy(first_retry_interval=timedelta(seconds=2), max_number_of_attempts=3)


@wfr.workflow(name="child_sum")
def child_sum(ctx: DaprWorkflowContext, n: int):
    return sum((yield when_all([ctx.call_activity(square, input=n * 100 + i) for i in range(3)])))


@wfr.workflow(name="mix")
def mix(ctx: DaprWorkflowContext, args: dict[str, Any]):
    """Fan-out, retries, an inline activity, a timer, a child, an event, continue-as-new."""
    n, gen = args["n"], args.get("gen", 0)
    squares = yield when_all([ctx.call_activity(square, input=n * 10 + i) for i in range(1 + n % 4)])
    loud = yield ctx.call_activity(flaky, input=f"{ctx.instance_id}-{gen}", retry_policy=RETRY)
    added = yield ctx.call_activity(inline_add, input=[sum(squares), gen])
    yield ctx.create_timer(timedelta(seconds=5 + n % 7))
    child = yield ctx.call_child_workflow(child_sum, input=n, instance_id=f"{ctx.instance_id}-c{gen}")
    token = yield ctx.wait_for_external_event("approve")
    if gen == 0 and n % 3 == 0:
        ctx.continue_as_new({"n": n, "gen": 1, "carried": [added, child, token]})
        return None
    return {
        "n": n,
        "gen": gen,
        "added": added,
        "child": child,
        "loud": loud,
        "token": token,
        "carried": args.get("carried"),
    }


@wfr.workflow(name="pausable")
def pausable(ctx: DaprWorkflowContext, n: int):
    first = yield ctx.call_activity(square, input=n)
    token = yield ctx.wait_for_external_event("approve")
    return [first, token]


@wfr.workflow(name="doomed")
def doomed(ctx: DaprWorkflowContext, n: int):
    yield ctx.call_activity(square, input=n)
    raise ValueError(f"doomed {n}")


@wfr.workflow(name="victim")
def victim(ctx: DaprWorkflowContext, n: int):
    yield ctx.call_activity(square, input=n)
    try:
        yield ctx.wait_for_external_event("never", timeout=timedelta(days=30))
    except TaskFailedError:
        pass
    return "not terminated"


def expected_mix(iid: str, n: int, tokens: list[str]) -> dict[str, Any]:
    def one(gen: int, token: str, carried: Any) -> dict[str, Any]:
        squares = sum((n * 10 + i) ** 2 for i in range(1 + n % 4))
        child = sum((n * 100 + i) ** 2 for i in range(3))
        return {
            "n": n,
            "gen": gen,
            "added": squares + gen,
            "child": child,
            "loud": f"{iid}-{gen}".upper(),
            "token": token,
            "carried": carried,
        }

    if n % 3 == 0:
        first = one(0, tokens[0], None)
        return one(1, tokens[1], [first["added"], first["child"], tokens[0]])
    return one(0, tokens[0], None)


# -- faults -------------------------------------------------------------------------------


class Crash(BaseException):
    """The container dies (not an ``Exception``: nothing in the engine catches it)."""


@dataclass
class Faults:
    rng: random.Random
    fault_rate: float
    crash_rate: float
    enabled: bool = True
    injected: Counter[str] = field(default_factory=Counter)
    #: Status changes (eventIds) a fault struck between their publication and their
    #: marker's removal: the publication took effect but answered with an error, or the
    #: removal did not happen (failed before, or the container died at it, leaving the
    #: batch's later markers on too). Only these may arrive twice (rule 17 of
    #: docs/crash-safety.md).
    at_risk: set[str] = field(default_factory=set)
    #: The eventIds of the last publication that took effect, in order.
    _published: list[str] = field(default_factory=list)

    def _struck(self, name: str, when: str, args: tuple[Any, ...]) -> None:
        if name == "publish" and when == "after":
            self.at_risk.update(c.event_id for c in args[0])
        elif name == "announced" and when in ("before", "crash"):
            event_id = "/".join(map(str, args))
            if event_id in self._published:
                self.at_risk.update(self._published[self._published.index(event_id) :])

    def wrap(self, target: Any, error: type[Exception]) -> Any:
        faults = self

        class Faulty:
            def __getattr__(self, name: str) -> Any:
                real = getattr(target, name)
                if not callable(real) or name.startswith("_"):
                    return real

                def call(*args: Any, **kwargs: Any) -> Any:
                    roll = faults.rng.random() if faults.enabled else 1.0
                    if roll < faults.crash_rate:
                        faults.injected["crash"] += 1
                        faults._struck(name, "crash", args)
                        raise Crash(name)
                    if roll < faults.crash_rate + faults.fault_rate / 2:
                        faults.injected["before"] += 1
                        faults._struck(name, "before", args)
                        raise error(f"injected fault before {name}: ThrottlingException")
                    result = real(*args, **kwargs)
                    if name == "publish":
                        faults._published = [c.event_id for c in args[0]]
                    if roll < faults.crash_rate + faults.fault_rate:
                        faults.injected["after"] += 1
                        faults._struck(name, "after", args)
                        raise error(f"injected fault after {name}: InternalServerError")
                    return result

                return call

        return Faulty()


# -- the queue ----------------------------------------------------------------------------


@dataclass
class Msg:
    id: str
    body: str
    visible_at: datetime
    receives: int = 0


class ChaosQueue:
    """SQS semantics on the virtual clock, with its bad manners turned up."""

    def __init__(self, clock: Any, rng: random.Random, max_receive_count: int, visibility: timedelta) -> None:
        self._clock, self._rng = clock, rng
        self.max_receive_count, self.visibility = max_receive_count, visibility
        self.messages: dict[str, Msg] = {}
        self.dead: list[Msg] = []
        self.sent = 0
        self._n = 0

    def send(self, messages: list[OutMessage]) -> None:
        now = self._clock()
        for m in messages:
            self._n += 1
            late = timedelta(seconds=self._rng.choice([0, 0, 0, 0, 1, 3])) if self._rng.random() < 0.2 else timedelta()
            mid = f"m{self._n}"
            self.messages[mid] = Msg(mid, json.dumps(m.body), now + timedelta(seconds=m.delay_seconds) + late)
        self.sent += len(messages)

    def read(self, body: str) -> dict[str, Any]:
        return json.loads(body)

    def receive(self, limit: int = 10) -> list[Msg]:
        now = self._clock()
        visible = [m for m in self.messages.values() if m.visible_at <= now]
        batch = self._rng.sample(visible, min(limit, len(visible), self._rng.randint(1, limit)))
        for m in batch:
            m.receives += 1
            m.visible_at = now + self.visibility
        return batch

    def done(self, msg: Msg) -> None:
        self.messages.pop(msg.id, None)

    def ack(self, receipts: list[str]) -> None:
        """Delete received messages by receipt handle (here, their IDs) before their
        batch reports, as ``SqsQueue.ack`` does."""
        for receipt in receipts:
            self.messages.pop(receipt, None)

    def failed(self, msg: Msg) -> None:
        if msg.id not in self.messages:
            return
        if msg.receives >= self.max_receive_count:
            self.dead.append(self.messages.pop(msg.id))
        else:
            msg.visible_at = self._clock() + timedelta(seconds=1)

    def next_visible(self) -> datetime | None:
        return min((m.visible_at for m in self.messages.values()), default=None)


# -- the run ------------------------------------------------------------------------------


@dataclass
class Report:
    workflows: int
    seconds: float
    invocations: int
    completed: int
    lost: int
    stuck: int
    failed: int
    wrong: int
    duplicated_events: int
    dead_letters: int
    faults: dict[str, int]
    activity_runs: int
    scheduled_activities: int
    runs_for_unrecorded: int
    retried_raises: int
    problems: list[str]
    #: Instances whose final status change was not received exactly once (by eventId)
    #: with the status they ended in.
    status_events_wrong: int = 0
    #: Status events received again with an eventId already received.
    status_event_repeats: int = 0
    #: Repeats of changes no fault struck between publication and unmarking
    #: (``Faults.at_risk``): each is a bug.
    status_event_unexplained_repeats: int = 0
    #: Runs of the limited activity (``square``), the most slots of its limit held at
    #: once during one, and runs that held none of them (each a bug).
    limited_runs: int = 0
    most_slots_held: int = 0
    runs_without_a_slot: int = 0

    @property
    def rerun_rate(self) -> float:
        return self.activity_runs / max(1, self.scheduled_activities)

    def lines(self) -> list[str]:
        return [
            f"workflows: {self.workflows} in {self.seconds:.1f} s ({self.invocations} invocations)",
            f"faults injected: {self.faults}",
            f"completed as expected: {self.completed}",
            f"lost: {self.lost}  stuck: {self.stuck}  failed: {self.failed}  wrong outputs: {self.wrong}",
            f"events applied twice: {self.duplicated_events} "
            f"(raise-event calls that took effect but answered with an error: {self.retried_raises})",
            f"dead-lettered messages: {self.dead_letters}",
            f"activity runs per scheduled activity: {self.rerun_rate:.3f} "
            f"({self.activity_runs} runs / {self.scheduled_activities} scheduled)",
            f"activity runs for executions never recorded: {self.runs_for_unrecorded}",
            f"final status events missing or wrong: {self.status_events_wrong} "
            f"(received again with their eventId: {self.status_event_repeats}, "
            f"of which after no fault between publication and unmarking: {self.status_event_unexplained_repeats})",
            f"limited activity ('square', at most {SQUARE_LIMIT} at once): {self.limited_runs} runs, "
            f"at most {self.most_slots_held} slots held during one, runs without a slot: {self.runs_without_a_slot}",
        ]


class Chaos:
    def __init__(
        self,
        workflows: int,
        *,
        seed: int = 7,
        fault_rate: float = 0.10,
        crash_rate: float = 0.01,
        containers: int = 4,
        max_receive_count: int = 5,
    ) -> None:
        self.n = workflows
        self.rng = random.Random(seed)
        self.now = T0
        self.faults = Faults(random.Random(seed + 1), fault_rate, crash_rate)
        self.queue = ChaosQueue(lambda: self.now, random.Random(seed + 2), max_receive_count, timedelta(seconds=30))
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        res = ensure_resources(ddb, sqs)
        self.settings = Settings(res.table_name, res.queue_url, max_receive_count=max_receive_count)
        item = make_item_model(res.table_name, "us-east-1", None)
        self.real_store = DynamoStore(item)
        self.store = self.faults.wrap(self.real_store, StoreError)
        self.slots = self.faults.wrap(DynamoSlots(item), StoreError)
        PROBE[:] = [DynamoSlots(item), lambda: self.now]
        self.faulty_queue = self.faults.wrap(self.queue, QueueError)
        self.events_queue = subscribe_to_status_events(queue="chaos-status-events")
        self.status_events = self.faults.wrap(
            EventBridgeStatusEvents(lambda: boto3.client("events", region_name="us-east-1"), "default"),
            StatusEventsError,
        )
        # Time-ordered, as in production, with a counter instead of random bits: the
        # same seed gives the same run.
        self._ids = itertools.count()
        self.new_id = lambda: f"{int(self.now.timestamp() * 1000):012x}{next(self._ids):08x}"
        self.containers = [self._container() for _ in range(containers)]
        self.invocations = 0
        self.raises: Counter[str] = Counter()  # raise-event calls per token
        self.ambiguous = 0  # raise-event calls that took effect but answered with an error
        self.tokens: dict[str, list[str]] = defaultdict(list)
        self.expected: dict[str, Any] = {}
        self.purged: set[str] = set()
        self.problems: list[str] = []

    def _container(self) -> tuple[Engine, Any]:
        engine = Engine(
            wfr,
            self.store,
            self.faulty_queue,
            clock=lambda: self.now,
            new_id=self.new_id,
            max_receive_count=self.settings.max_receive_count,
            sleep=lambda _: None,
            activity_margin_ms=1_000,
            status_events=self.status_events,
            concurrency=ActivityGate(LIMITS, self.slots, lambda: self.now, self.new_id),
        )
        return engine, make_handler(engine, self.settings, ack=self.faulty_queue.ack)

    # -- clients (retrying as a client would) --------------------------------------------

    def _client(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        engine = self.rng.choice(self.containers)[0]
        for _ in range(50):
            try:
                return fn(engine, *args, **kwargs)
            except (StoreError, QueueError):
                continue
            except Crash:
                engine = self._replace(engine)
        raise AssertionError("a management call failed 50 times in a row")

    def _replace(self, engine: Engine) -> Engine:
        i = next(i for i, (e, _) in enumerate(self.containers) if e is engine)
        self.containers[i] = self._container()
        return self.containers[i][0]

    def start(self, name: str, iid: str, data: Any) -> None:
        def once(engine: Engine) -> None:
            try:
                engine.start(name, iid, json.dumps(data))
            except InstanceExistsError:
                # An earlier attempt took effect but answered with an error: it is ours
                # if it holds our input.
                meta = self.real_store.get_meta(iid)
                first = engine.lifecycle.first_events(meta) if meta else ()
                started = next((e for e in first if isinstance(e, WorkflowStarted)), None)
                if started is None or json.loads(started.input or "null") != data:
                    raise

        self._client(once)

    def raise_event(self, iid: str, token: str) -> None:
        def once(engine: Engine) -> None:
            self.raises[token] += 1
            before = set(self.queue.messages)
            try:
                signal(engine, iid, Signal.RAISE, name="approve", data=json.dumps(token))
            except (Crash, StoreError, QueueError):
                # The client cannot tell a call that failed from one that took effect
                # and then reported an error, or died (retrying that one raises the
                # event twice: the documented exception). The harness can: the call took
                # effect if it sent a message carrying the event (a follow-up, which
                # records it if the call could not, or the event itself), and only a
                # call that did not is retried, so that outputs can be checked exactly.
                if any(self._carries(m, iid, token) for mid, m in self.queue.messages.items() if mid not in before):
                    self.ambiguous += 1
                    return
                raise

        self._client(once)

    @staticmethod
    def _carries(msg: Msg, iid: str, token: str) -> bool:
        body = json.loads(msg.body)
        return body.get("iid") == iid and body.get("event", {}).get("data") == json.dumps(token)

    def manage(self, iid: str, kind: Signal) -> None:
        def once(engine: Engine) -> None:
            try:
                signal(engine, iid, kind)
            except InvalidStateError:
                pass

        self._client(once)

    def purge(self, iid: str) -> bool:
        def once(engine: Engine) -> bool:
            try:
                purge(engine, iid)
            except InvalidStateError:
                return False
            except InstanceNotFoundError:
                pass
            return True

        return bool(self._client(once))

    # -- delivery ----------------------------------------------------------------------

    def deliver_one_batch(self) -> bool:
        batch = self.queue.receive()
        if not batch:
            return False
        twice = [m for m in batch if self.rng.random() < 0.05]
        self._invoke(batch)
        if twice:
            self._invoke(twice)  # delivered again while the first delivery was in flight
        return True

    def _invoke(self, batch: list[Msg]) -> None:
        i = self.rng.randrange(len(self.containers))
        engine, handler = self.containers[i]
        records = [
            {
                "messageId": m.id,
                "receiptHandle": m.id,
                "body": m.body,
                "attributes": {"ApproximateReceiveCount": str(m.receives), "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:wf-work",
                "awsRegion": "us-east-1",
            }
            for m in batch
        ]
        self.invocations += 1
        try:
            result = handler({"Records": records}, _Context())
        except Crash:
            self.containers[i] = self._container()
            for m in batch:
                self.queue.failed(m)
            return
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for m in batch:
            (self.queue.failed if m.id in failed else self.queue.done)(m)

    def pump(self, rounds: int) -> bool:
        """Deliver up to ``rounds`` batches, moving the clock on when nothing is visible;
        True once the queue is empty."""
        for _ in range(rounds):
            if not self.deliver_one_batch():
                nxt = self.queue.next_visible()
                if nxt is None:
                    return True
                self.now = max(self.now, nxt)
        return False

    # -- the scenario --------------------------------------------------------------------

    def run(self) -> Report:
        started = time.monotonic()
        RUNS.clear()
        SLOT_CHECKS.clear()
        ids = [f"w{i:04d}" for i in range(self.n)]
        kinds = {
            iid: ("victim" if i % 10 == 9 else "pausable" if i % 10 == 8 else "doomed" if i % 10 == 7 else "mix")
            for i, iid in enumerate(ids)
        }
        for i, iid in enumerate(ids):
            kind = kinds[iid]
            self.start(kind, iid, {"n": i} if kind == "mix" else i)
            self.pump(self.rng.randint(0, 3))
        # Let work run, then steer: events, pauses, terminations, purges.
        for _ in range(3):
            self.pump(self.n)
            self.now += timedelta(seconds=20)
        for i, iid in enumerate(ids):
            kind = kinds[iid]
            if kind == "pausable":
                self.manage(iid, Signal.PAUSE)
                self.pump(2)
                self._raise(iid)
                self.pump(2)
                self.manage(iid, Signal.RESUME)
            elif kind == "victim":
                self.manage(iid, Signal.TERMINATE)
            elif kind == "mix":
                self._raise(iid)
            self.pump(1)
        self._drain()
        # Continued-as-new instances wait for a second event.
        for i, iid in enumerate(ids):
            if kinds[iid] == "mix" and i % 3 == 0:
                self._raise(iid)
                self.pump(1)
        self._drain()
        for iid in ids:
            if kinds[iid] == "victim" and self.purge(iid):
                self.purged.add(iid)
        self._drain()
        return self._report(ids, kinds, time.monotonic() - started)

    def _raise(self, iid: str) -> None:
        token = f"{iid}-t{len(self.tokens[iid])}"
        self.tokens[iid].append(token)
        self.raise_event(iid, token)

    def _drain(self, max_rounds: int = 200_000) -> None:
        if not self.pump(max_rounds):
            self.problems.append("the queue did not drain")

    # -- checking ------------------------------------------------------------------------

    def _report(self, ids: list[str], kinds: dict[str, str], seconds: float) -> Report:
        self.faults.enabled = False
        lost = stuck = failed = wrong = completed = duplicated = 0
        engine = self.containers[0][0]
        engine.forget_all()
        for i, iid in enumerate(ids):
            meta = self.real_store.get_meta(iid)
            if iid in self.purged:
                if meta is not None:
                    self.problems.append(f"{iid}: purged but still there")
                continue
            if meta is None:
                lost += 1
                self.problems.append(f"{iid}: lost")
                continue
            status, _ = engine.status_of(meta)
            live = engine.load(iid)
            history = live.history if live else []
            applied = Counter(json.loads(e.data) for e in history if isinstance(e, EventRaised) and e.data)
            duplicated += sum(1 for token, n in applied.items() if n > self.raises[token])
            if not status.is_terminal:
                stuck += 1
                self.problems.append(f"{iid}: stuck {status.value}")
                continue
            kind = kinds[iid]
            if kind in ("victim", "doomed"):
                want_status = WorkflowStatus.TERMINATED if kind == "victim" else WorkflowStatus.FAILED
                ok = status is want_status
                if not ok:
                    self.problems.append(f"{iid}: {status.value}, not {want_status.value}")
            elif status is not WorkflowStatus.COMPLETED:
                failed += 1
                self.problems.append(f"{iid}: {status.value} {live.execution.failure if live else ''}")
                continue
            else:
                out = json.loads(live.execution.output or "null") if live else None
                tokens = self.tokens[iid]
                want = expected_mix(iid, i, tokens) if kind == "mix" else [i * i, tokens[0]]
                ok = out == want
                if not ok:
                    self.problems.append(f"{iid}: output {out} != {want}")
            completed += ok
            wrong += not ok
        events_wrong, repeats, unexplained = self._check_status_events(ids, kinds)
        scheduled = expected_activities(ids, kinds)
        runs = sum(n for key, n in RUNS.items() if key in scheduled)
        unrecorded = sum(n for key, n in RUNS.items() if key not in scheduled and kinds.get(key[0]) != "victim")
        return Report(
            workflows=self.n,
            seconds=seconds,
            invocations=self.invocations,
            completed=completed,
            lost=lost,
            stuck=stuck + len(self.queue.dead),
            failed=failed,
            wrong=wrong,
            duplicated_events=duplicated,
            dead_letters=len(self.queue.dead),
            faults=dict(self.faults.injected),
            activity_runs=runs,
            scheduled_activities=sum(scheduled.values()),
            runs_for_unrecorded=unrecorded,
            retried_raises=self.ambiguous,
            status_events_wrong=events_wrong,
            status_event_repeats=repeats,
            status_event_unexplained_repeats=unexplained,
            limited_runs=len(SLOT_CHECKS),
            most_slots_held=max((held for held, _ in SLOT_CHECKS), default=0),
            runs_without_a_slot=sum(1 for _, mine in SLOT_CHECKS if not mine),
            problems=self.problems + [f"dead letter after {m.receives}: {m.body[:200]}" for m in self.queue.dead],
        )

    def _check_status_events(self, ids: list[str], kinds: dict[str, str]) -> tuple[int, int, int]:
        sqs = boto3.client("sqs", region_name="us-east-1")
        details: list[dict[str, Any]] = []
        while msgs := sqs.receive_message(QueueUrl=self.events_queue, MaxNumberOfMessages=10).get("Messages", []):
            for m in msgs:
                details.append(json.loads(m["Body"])["detail"])
                sqs.delete_message(QueueUrl=self.events_queue, ReceiptHandle=m["ReceiptHandle"])
        distinct = {d["eventId"]: d for d in details}
        final = {"mix": "COMPLETED", "pausable": "COMPLETED", "doomed": "FAILED", "victim": "TERMINATED"}
        wrong = 0
        for iid in ids:
            ends = [
                d["newStatus"]
                for d in distinct.values()
                if d["instanceId"] == iid and d["newStatus"] in ("COMPLETED", "FAILED", "TERMINATED")
            ]
            if ends != [final[kinds[iid]]]:
                wrong += 1
                self.problems.append(f"{iid}: final status events {ends}, not [{final[kinds[iid]]}]")
        seen = Counter(d["eventId"] for d in details)
        unexplained = [e for e, n in seen.items() if n > 1 and e not in self.faults.at_risk]
        self.problems += [
            f"{e}: received {seen[e]} times, no fault between publication and unmarking" for e in unexplained
        ]
        return wrong, len(details) - len(distinct), sum(seen[e] - 1 for e in unexplained)


def expected_activities(ids: list[str], kinds: dict[str, str]) -> Counter[tuple[str, str, str]]:
    """Every activity the workflows schedule, by (instance, name, input): how often.
    (Victims are left out: how far one gets before its termination varies.)"""
    want: Counter[tuple[str, str, str]] = Counter()
    for n, iid in enumerate(ids):
        if kinds[iid] in ("pausable", "doomed"):
            want[(iid, "square", json.dumps(n))] += 1
        if kinds[iid] != "mix":
            continue
        gens = 2 if n % 3 == 0 else 1
        squares = [n * 10 + i for i in range(1 + n % 4)]
        for gen in range(gens):
            for x in squares:
                want[(iid, "square", json.dumps(x))] += 1
            want[(iid, "flaky", json.dumps(f"{iid}-{gen}"))] += 2  # fails once, retried once
            want[(iid, "inline_add", json.dumps([sum(x * x for x in squares), gen]))] += 1
            for i in range(3):
                want[(f"{iid}-c{gen}", "square", json.dumps(n * 100 + i))] += 1
    return want


class _Context:
    function_name = "wf"
    aws_request_id = "chaos"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:wf"
    memory_limit_in_mb = 512

    def get_remaining_time_in_millis(self) -> int:
        return 29_000  # the template's function timeout (a slot is leased 5 s past it)
