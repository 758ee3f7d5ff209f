"""Apps calling apps: this app's side of work that crosses to another app.

* Caller side: the work a start's first step deferred (``ActivityMessage`` or
  ``StartChildMessage`` naming another app) is sent there once the execution is
  recorded (``forward``), as a committed step's is at once (``Dispatcher.call``).
* Called side: an activity run for another app's instance has its result sent back
  (``reply``); a child started for it (``start_child``) reports its outcome there
  itself, as its parent's ``app_id`` says (``Dispatcher.carry_out``).
* An event whose send failed is relayed from this app's own queue (``relay``); a
  purged parent's child here is purged once it is terminal (``wf/engine/manage.py``).

Every message here may come twice or die half-way: a result that arrives twice is
recorded once (the caller's task is settled by the first), a child started twice is
started once (its record names its parent), and a send that fails is retried from a
message that is deleted only after it went through. ``docs/crash-safety.md`` rule 19.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from wf.core.commands import ScheduleActivity, StartChild
from wf.core.history import ChildFailed, HistoryEvent
from wf.engine.cache import Live
from wf.engine.dispatch import Dispatcher
from wf.engine.lifecycle import Lifecycle
from wf.engine.messages import (
    ActivityMessage,
    CalledChildMessage,
    EventMessage,
    RelayMessage,
    StartChildMessage,
    WorkMessage,
)
from wf.engine.queue import WorkQueue

log = logging.getLogger("wf.engine")


class Calls:
    """Sends, answers and relays the work apps give each other."""

    def __init__(
        self, dispatch: Dispatcher, lifecycle: Lifecycle, queue: WorkQueue, clock: Callable[[], datetime]
    ) -> None:
        self._dispatch = dispatch
        self._lifecycle = lifecycle
        self._queue = queue
        self._clock = clock

    @property
    def app_id(self) -> str:
        return self._dispatch.peers.app_id

    def is_remote(self, app_id: str | None) -> bool:
        return self._dispatch.peers.is_remote(app_id)

    def forward(self, live: Live, msg: ActivityMessage | StartChildMessage) -> None:
        """Send on work for another app that a start deferred, its execution now recorded."""
        cmd: ScheduleActivity | StartChild
        if isinstance(msg, ActivityMessage):
            cmd = ScheduleActivity(msg.task_id, msg.name, msg.input, msg.propagation, msg.app_id)
        else:
            cmd = StartChild(msg.task_id, msg.name, msg.child_id, msg.input, msg.propagation, msg.app_id)
        own = self._dispatch.send_to_apps([self._dispatch.call(live, cmd, self._clock())])
        if own:
            self._queue.send(own)

    def reply(self, msg: WorkMessage, caller: str, events: Sequence[HistoryEvent]) -> None:
        """Send what work run here for ``caller``'s instance brought (``msg`` names the
        instance and execution) to that app's queue, or to this one's to relay."""
        now = self._clock()
        sends: list[tuple[str, WorkMessage, HistoryEvent]] = []
        for event in events:
            sends.append((caller, EventMessage(msg.instance_id, msg.execution_id, now, event), event))
        own = self._dispatch.send_to_apps(sends)
        if own:
            self._queue.send(own)

    def start_child(self, msg: CalledChildMessage) -> None:
        """Start the child another app's workflow calls here; a refusal (a running
        instance with its ID, a workflow not registered here) fails its task there."""
        failure = self._lifecycle.start_child_of(msg.parent, msg.name, msg.child_id, msg.input, msg.propagated)
        if failure is not None:
            log.info("%s: child '%s' for app '%s' refused: %s", msg.child_id, msg.name, msg.caller, failure.message)
            self.reply(msg, msg.caller, [ChildFailed(self._clock(), msg.task_id, failure)])

    def relay(self, msg: RelayMessage) -> None:
        """Send a relayed event on; raises while its app's queue fails (the message is
        retried), and while the app is unknown here (then it is dead-lettered)."""
        event = EventMessage(msg.instance_id, msg.execution_id, self._clock(), msg.event)
        self._dispatch.peers.send(msg.app, [event.to_out()])
