"""A pure, in-memory driver for the replay core: runs commands with a fake clock.

It keeps every instance both warm (one live ``Execution``) and checks, after each
step, that a cold replay of the stored history reaches the same status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from wf import WorkflowRuntime
from wf.core.commands import Command, NotifyParent, ScheduleActivity, ScheduleTimer, StartChild, TerminateChild
from wf.core.execution import Execution, run_step
from wf.core.history import (
    ChildCompleted,
    ChildFailed,
    EventRaised,
    HistoryEvent,
    ParentRef,
    Resumed,
    Suspended,
    TimerFired,
    WorkflowStarted,
    WorkflowTerminated,
)
from wf.core.serde import decode, encode
from wf.core.status import WorkflowStatus
from wf.core.step import StepResult

T0 = datetime(2026, 1, 12, 21, 31, 13, tzinfo=UTC)


@dataclass
class Instance:
    iid: str
    execution: Execution
    history: list[HistoryEvent] = field(default_factory=list)
    last: StepResult | None = None
    generation: int = 0
    steps: list[tuple[int, tuple[HistoryEvent, ...], datetime, StepResult]] = field(default_factory=list)


class Driver:
    def __init__(self, wfr: WorkflowRuntime, *, check_cold: bool = True) -> None:
        self.wfr = wfr
        self.now = T0
        self.instances: dict[str, Instance] = {}
        self.activities: list[tuple[str, int, ScheduleActivity]] = []
        self.timers: list[tuple[str, int, ScheduleTimer]] = []
        self.check_cold = check_cold

    # -- instance operations -----------------------------------------------------------
    def start(self, name: str, input: Any = None, iid: str = "wf1", parent: ParentRef | None = None) -> StepResult:
        inst = Instance(iid, Execution(self.wfr.workflows, iid))
        self.instances[iid] = inst
        return self.deliver(iid, WorkflowStarted(self.now, name, encode(input), parent))

    def deliver(self, iid: str, *events: HistoryEvent) -> StepResult:
        inst = self.instances[iid]
        before = len(inst.history)
        result = inst.execution.step(list(events), self.now)
        inst.steps.append((before, events, self.now, result))
        if result.new_generation:
            inst.history = list(result.events)
            inst.generation += 1
        else:
            inst.history.extend(result.events)
        inst.last = result if result.events or inst.last is None else inst.last
        if self.check_cold:
            cold = Execution(self.wfr.workflows, iid)
            cold.replay(inst.history)
            assert cold.status == inst.execution.status, (cold.status, inst.execution.status)
            assert cold.history_length == len(inst.history) == inst.execution.history_length
        self._dispatch(iid, inst.generation, result.commands)
        return result

    def raise_event(self, iid: str, name: str, data: Any = None) -> StepResult:
        return self.deliver(iid, EventRaised(self.now, name, encode(data)))

    def suspend(self, iid: str) -> StepResult:
        return self.deliver(iid, Suspended(self.now))

    def resume(self, iid: str) -> StepResult:
        return self.deliver(iid, Resumed(self.now))

    def terminate(self, iid: str, output: Any = None) -> StepResult:
        return self.deliver(iid, WorkflowTerminated(self.now, encode(output)))

    def status(self, iid: str = "wf1") -> WorkflowStatus:
        return self.instances[iid].execution.status

    def output(self, iid: str = "wf1") -> Any:
        return decode(self.instances[iid].execution.output)

    def failure(self, iid: str = "wf1") -> Any:
        return self.instances[iid].execution.failure

    # -- command execution ---------------------------------------------------------------
    def _dispatch(self, iid: str, generation: int, commands: tuple[Command, ...]) -> None:
        for cmd in commands:
            if isinstance(cmd, ScheduleActivity):
                self.activities.append((iid, generation, cmd))
            elif isinstance(cmd, ScheduleTimer):
                self.timers.append((iid, generation, cmd))
            elif isinstance(cmd, StartChild):
                self.start(cmd.name, decode(cmd.input), cmd.instance_id, ParentRef(iid, str(generation), cmd.task_id))
            elif isinstance(cmd, TerminateChild):
                if cmd.instance_id in self.instances:
                    self.terminate(cmd.instance_id)
            elif isinstance(cmd, NotifyParent):
                if cmd.failure is None:
                    ev: HistoryEvent = ChildCompleted(self.now, cmd.parent.task_id, cmd.result)
                else:
                    ev = ChildFailed(self.now, cmd.parent.task_id, cmd.failure)
                self.deliver(cmd.parent.instance_id, ev)

    def run_activity(self, index: int = 0) -> StepResult | None:
        iid, generation, cmd = self.activities.pop(index)
        inst = self.instances[iid]
        event = self.wfr.run_activity(cmd.name, iid, cmd.task_id, cmd.input, self.now)
        if inst.generation != generation:
            return None
        return self.deliver(iid, event)

    def fire_next_timer(self) -> StepResult | None:
        self.timers.sort(key=lambda t: t[2].fire_at)
        iid, generation, cmd = self.timers.pop(0)
        if cmd.fire_at > self.now:
            self.now = cmd.fire_at
        if self.instances[iid].generation != generation:
            return None
        return self.deliver(iid, TimerFired(self.now, cmd.task_id))

    def advance(self, delta: timedelta) -> None:
        self.now += delta

    def run(self, *, max_steps: int = 100_000) -> None:
        """Run activities first, then timers in time order, until nothing is left."""
        for _ in range(max_steps):
            if self.activities:
                self.run_activity(0)
            elif self.timers:
                self.fire_next_timer()
            else:
                return
        raise AssertionError("workflow did not quiesce")

    def cold_step(self, iid: str, *events: HistoryEvent) -> StepResult:
        """What a cold replay of the stored history would produce for ``events``."""
        return run_step(self.wfr.workflows, iid, self.instances[iid].history, list(events), self.now)
