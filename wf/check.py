"""`wf check --endpoint URL`: a short end-to-end round against a deployed stack (or
`wf dev`), through its API as any client calls it (SigV4-signed for an API Gateway URL):
a start, an activity, a timer, a child workflow, an external event, a terminate, and the
purge of its own instances. It says what failed, and what that suggests."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from wf.client import DaprWorkflowClient
from wf.core.status import WorkflowStatus
from wf.engine import selfcheck
from wf.errors import WorkflowError


@dataclass(frozen=True)
class Outcome:
    step: str
    ok: bool
    seconds: float
    detail: str = ""


class CheckFailed(Exception):
    """A step of the round did not hold; the message says what was seen."""


class Check:
    """One round; each step after the first needs the ones before it."""

    def __init__(self, client: DaprWorkflowClient, *, timeout: float = 60.0) -> None:
        self.client = client
        self.timeout = timeout
        token = secrets.token_hex(4)
        self.token = token
        self.instance_id = f"wf-check-{token}"
        self.victim_id = f"wf-check-{token}-t"

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("start", self._start),
            ("raise an event", self._raise),
            ("activity, timer, child and event: COMPLETED", self._complete),
            ("terminate", self._terminate),
            ("purge its instances", self._purge),
        ]

    def run(self, out: TextIO) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            outcomes = self._run(out)
        finally:
            if len(outcomes) < len(self.steps()) or not all(o.ok for o in outcomes):
                self._clean_up()
        return outcomes

    def _clean_up(self) -> None:
        """Best effort, after a round that stopped early: its instances ended and purged."""
        for iid in (self.victim_id, self.instance_id):
            for call in (self.client.terminate_workflow, self.client.purge_workflow):
                with contextlib.suppress(WorkflowError, OSError):  # gone already, or the endpoint is down
                    call(iid)

    def _run(self, out: TextIO) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for name, step in self.steps():
            started = time.monotonic()
            try:
                detail = step()
            except (CheckFailed, WorkflowError, TimeoutError, OSError, ValueError) as exc:
                outcomes.append(Outcome(name, False, time.monotonic() - started, f"{type(exc).__name__}: {exc}"))
                print(f"FAILED  {name} ({outcomes[-1].seconds:.1f} s): {outcomes[-1].detail}", file=out, flush=True)
                break
            outcomes.append(Outcome(name, True, time.monotonic() - started, detail))
            print(
                f"ok      {name} ({outcomes[-1].seconds:.1f} s){'  ' + detail if detail else ''}", file=out, flush=True
            )
        return outcomes

    def _start(self) -> str:
        self.client.schedule_new_workflow(selfcheck.WORKFLOW, input=self.token, instance_id=self.instance_id)
        state = self.client.wait_for_workflow_start(self.instance_id, timeout_in_seconds=self.timeout)
        if state is None:
            raise CheckFailed("the started instance is not found")
        return self.instance_id

    def _raise(self) -> str:
        self.client.raise_workflow_event(self.instance_id, selfcheck.EVENT, data=self.token)
        return ""

    def _complete(self) -> str:
        state = self.client.wait_for_workflow_completion(self.instance_id, timeout_in_seconds=self.timeout)
        if state is None:
            raise CheckFailed("the instance is gone")
        if state.runtime_status is not WorkflowStatus.COMPLETED:
            failure = state.failure_details.message if state.failure_details else ""
            raise CheckFailed(
                f"it ended {state.runtime_status.value} {failure}; if activities never ran, the work "
                "queue's event source is not invoking the function (the dead-letter queue, the function's log)"
            )
        output = json.loads(state.serialized_output or "null")
        if output != selfcheck.expected_output(self.token):
            raise CheckFailed(f"output {output!r}, not {selfcheck.expected_output(self.token)!r}")
        return ""

    def _terminate(self) -> str:
        self.client.schedule_new_workflow(selfcheck.WAITER, input=self.token, instance_id=self.victim_id)
        self.client.wait_for_workflow_start(self.victim_id, timeout_in_seconds=self.timeout)
        self.client.terminate_workflow(self.victim_id)
        state = self.client.wait_for_workflow_completion(self.victim_id, timeout_in_seconds=self.timeout)
        if state is None or state.runtime_status is not WorkflowStatus.TERMINATED:
            raise CheckFailed(f"it is {state.runtime_status.value if state else 'gone'}, not TERMINATED")
        return ""

    def _purge(self) -> str:
        for iid in (self.instance_id, self.victim_id):
            self.client.purge_workflow(iid)
        left = [
            iid
            for iid in (self.instance_id, f"{self.instance_id}-child", self.victim_id)
            if self.client.get_workflow_state(iid) is not None
        ]
        if left:
            raise CheckFailed(f"still there after the purge: {left}")
        return ""


def run_check(client: DaprWorkflowClient, out: TextIO, *, timeout: float = 60.0) -> bool:
    """Run one round, printing a line per step; whether every step held."""
    outcomes = Check(client, timeout=timeout).run(out)
    ok = len(outcomes) == len(Check(client).steps()) and all(o.ok for o in outcomes)
    print("check passed" if ok else "check FAILED", file=out, flush=True)
    return ok
