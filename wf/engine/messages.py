"""The SQS message bodies the engine sends itself: one class per kind of work, all
with the instance and execution they are for."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar, Self

from wf.core.history import (
    HistoryEvent,
    ParentRef,
    Propagated,
    PropagationScope,
    event_from_json,
    event_to_json,
    format_time,
    parse_time,
)
from wf.engine.queue import OutMessage
from wf.errors import UnknownMessageKindError


class MessageKind(Enum):
    ACTIVITY = "activity"  # run an activity, then record its result
    TIMER = "timer"  # fire a timer (re-sent while its time has not come)
    EVENT = "event"  # record an inbound event (raise, pause, resume, terminate, child result)
    START_CHILD = "start_child"  # start a child once the parent's execution is recorded
    RETRY = "retry"  # step a stalled instance again, with the code deployed now
    DISPATCH = "dispatch"  # send the work a wide step still owes, for a range of its tasks
    INBOX = "inbox"  # record the results waiting in an instance's inbox, in one step
    ANNOUNCE = "announce"  # publish a first step's status change its start did not
    SCHEDULED = "scheduled"  # start a PENDING instance once its time has come
    CALLED_ACTIVITY = "called_activity"  # run an activity for another app's instance, answer there
    CALLED_CHILD = "called_child"  # start a child for another app's instance
    RELAY = "relay"  # send an event on to another app's instance (its direct send failed)
    PURGE_CHILD = "purge_child"  # purge a child whose parent (in another app) was purged


@dataclass(frozen=True)
class WorkMessage:
    """What every message has; ``parse`` gives the message of the body's kind."""

    kind: ClassVar[MessageKind]
    instance_id: str
    #: ``None`` for management events, which are for whatever execution is current.
    execution_id: str | None
    sent_at: datetime
    #: How many times this work was handed on to a fresh message after a transient
    #: error (the SQS receive count counts only deliveries that died).
    attempt: int = field(default=0, kw_only=True)
    #: Deliveries of earlier copies of this work that died (handed on before SQS's
    #: last delivery, so that a run of unlucky batches does not dead-letter it).
    crashes: int = field(default=0, kw_only=True)

    def retried(self) -> Self:
        """This work again, one attempt later."""
        return replace(self, attempt=self.attempt + 1)

    def _fields(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_out(self, delay_seconds: int = 0) -> OutMessage:
        body: dict[str, Any] = {
            "k": self.kind.value,
            "iid": self.instance_id,
            "exec": self.execution_id,
            "sent": format_time(self.sent_at),
        }
        if self.attempt:
            body["try"] = self.attempt
        if self.crashes:
            body["died"] = self.crashes
        body.update(self._fields())
        return OutMessage(body, delay_seconds)

    @staticmethod
    def parse(body: dict[str, Any]) -> Message:
        """The message of ``body``; raises ``UnknownMessageKindError`` for a kind this
        version does not know (a newer version may), other errors for garbage."""
        try:
            kind = MessageKind(body["k"])
        except ValueError:
            raise UnknownMessageKindError(f"unknown message kind {body['k']!r}") from None
        head = (str(body["iid"]), body.get("exec"), parse_time(body["sent"]))
        attempt, crashes = int(body.get("try", 0)), int(body.get("died", 0))
        msg: Message
        if kind is MessageKind.ACTIVITY:
            msg = ActivityMessage(
                *head,
                int(body["task"]),
                body["name"],
                body.get("input"),
                _scope(body),
                int(body.get("waited", 0)),
                body.get("app"),
            )
        elif kind is MessageKind.TIMER:
            msg = TimerMessage(*head, int(body["task"]), parse_time(body["fire_at"]))
        elif kind is MessageKind.START_CHILD:
            msg = StartChildMessage(
                *head, int(body["task"]), body["name"], body.get("input"), body["child"], _scope(body), body.get("app")
            )
        elif kind is MessageKind.CALLED_ACTIVITY:
            msg = CalledActivityMessage(
                *head,
                body["caller"],
                int(body["task"]),
                body["name"],
                body.get("input"),
                _propagated(body),
                int(body.get("waited", 0)),
            )
        elif kind is MessageKind.CALLED_CHILD:
            msg = CalledChildMessage(
                *head,
                body["caller"],
                int(body["task"]),
                body["name"],
                body.get("input"),
                body["child"],
                _propagated(body),
            )
        elif kind is MessageKind.RELAY:
            msg = RelayMessage(*head, body["app"], event_from_json(body["event"]))
        elif kind is MessageKind.PURGE_CHILD:
            msg = PurgeChildMessage(*head, ParentRef.from_json(body["parent"]))
        elif kind is MessageKind.RETRY:
            msg = RetryMessage(*head)
        elif kind is MessageKind.INBOX:
            msg = InboxMessage(*head)
        elif kind is MessageKind.ANNOUNCE:
            msg = AnnounceMessage(*head)
        elif kind is MessageKind.SCHEDULED:
            msg = ScheduledStartMessage(*head, parse_time(body["at"]))
        elif kind is MessageKind.DISPATCH:
            msg = DispatchMessage(*head, int(body["first"]), int(body["last"]))
        else:
            msg = EventMessage(*head, event_from_json(body["event"]), follow_up=bool(body.get("follow_up")))
        return replace(msg, attempt=attempt, crashes=crashes) if attempt or crashes else msg


def _scope(body: dict[str, Any]) -> PropagationScope | None:
    return PropagationScope(int(body["prop"])) if "prop" in body else None


def _propagated(body: dict[str, Any]) -> Propagated | None:
    return Propagated.from_json(body["propagated"]) if "propagated" in body else None


@dataclass(frozen=True)
class ActivityMessage(WorkMessage):
    kind: ClassVar[MessageKind] = MessageKind.ACTIVITY
    task_id: int
    name: str
    input: str | None
    #: The caller's history goes along: read from the store when the activity runs,
    #: not carried in the message (it may be large).
    propagation: PropagationScope | None = None
    #: Times it found a concurrency limit full and was sent again to wait
    #: (``wf/engine/concurrency.py``): each wait is longer.
    waited: int = 0
    #: The app that runs it, when another (``call_activity(app_id=...)``): this app's
    #: worker checks the execution is recorded, then sends it there
    #: (``CalledActivityMessage``). Only a start's first step sends it so; a committed
    #: step sends the called activity at once.
    app_id: str | None = None

    def _fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"task": self.task_id, "name": self.name, "input": self.input}
        if self.propagation is not None:
            fields["prop"] = self.propagation.value
        if self.waited:
            fields["waited"] = self.waited
        if self.app_id is not None:
            fields["app"] = self.app_id
        return fields


@dataclass(frozen=True)
class TimerMessage(WorkMessage):
    kind: ClassVar[MessageKind] = MessageKind.TIMER
    task_id: int
    fire_at: datetime

    def _fields(self) -> dict[str, Any]:
        return {"task": self.task_id, "fire_at": format_time(self.fire_at)}


@dataclass(frozen=True)
class StartChildMessage(WorkMessage):
    kind: ClassVar[MessageKind] = MessageKind.START_CHILD
    task_id: int
    name: str
    input: str | None
    child_id: str
    propagation: PropagationScope | None = None
    #: The app it runs in, when another: sent there once the parent's execution is
    #: recorded (``CalledChildMessage``).
    app_id: str | None = None

    def _fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"task": self.task_id, "name": self.name, "input": self.input, "child": self.child_id}
        if self.propagation is not None:
            fields["prop"] = self.propagation.value
        if self.app_id is not None:
            fields["app"] = self.app_id
        return fields


@dataclass(frozen=True)
class CalledActivityMessage(WorkMessage):
    """An activity another app's workflow calls (``call_activity(app_id=...)``): run
    here, its result sent to the ``caller`` app's queue as an event for the instance
    and execution this message names (theirs, not this app's)."""

    kind: ClassVar[MessageKind] = MessageKind.CALLED_ACTIVITY
    caller: str
    task_id: int
    name: str
    input: str | None
    #: The caller's history, carried along: this app cannot read the caller's table.
    propagated: Propagated | None = None
    waited: int = 0

    def _fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"caller": self.caller, "task": self.task_id, "name": self.name, "input": self.input}
        if self.propagated is not None:
            fields["propagated"] = self.propagated.to_json()
        if self.waited:
            fields["waited"] = self.waited
        return fields


@dataclass(frozen=True)
class CalledChildMessage(WorkMessage):
    """A child workflow another app's workflow starts here (``call_child_workflow(
    app_id=...)``); the instance and execution named are the parent's, in the
    ``caller`` app, where the child reports its outcome."""

    kind: ClassVar[MessageKind] = MessageKind.CALLED_CHILD
    caller: str
    task_id: int
    name: str
    input: str | None
    child_id: str
    propagated: Propagated | None = None

    @property
    def parent(self) -> ParentRef:
        return ParentRef(self.instance_id, self.execution_id or "", self.task_id, self.caller)

    def _fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "caller": self.caller,
            "task": self.task_id,
            "name": self.name,
            "input": self.input,
            "child": self.child_id,
        }
        if self.propagated is not None:
            fields["propagated"] = self.propagated.to_json()
        return fields


@dataclass(frozen=True)
class RelayMessage(WorkMessage):
    """An event for an instance of the ``app`` app (a called activity's result, a
    child's outcome, a child's termination) whose direct send failed: kept in this
    app's queue, and sent on from there until it goes through (or, for an app not
    known here, dead-lettered: kept, not lost)."""

    kind: ClassVar[MessageKind] = MessageKind.RELAY
    app: str
    event: HistoryEvent

    def _fields(self) -> dict[str, Any]:
        return {"app": self.app, "event": event_to_json(self.event)}


@dataclass(frozen=True)
class PurgeChildMessage(WorkMessage):
    """Purge this app's instance ``instance_id``, a child of ``parent`` (an instance of
    another app, just purged), once it is terminal, and only if it is still that
    parent's child."""

    kind: ClassVar[MessageKind] = MessageKind.PURGE_CHILD
    parent: ParentRef

    def _fields(self) -> dict[str, Any]:
        return {"parent": self.parent.to_json()}


@dataclass(frozen=True)
class EventMessage(WorkMessage):
    kind: ClassVar[MessageKind] = MessageKind.EVENT
    event: HistoryEvent
    #: Sent by a management call that records the event itself
    #: (``wf/engine/manage.py:signal``): the worker carries out what that one step owes
    #: (and records the event, if the call died before it could).
    follow_up: bool = field(default=False, kw_only=True)

    def _fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"event": event_to_json(self.event)}
        if self.follow_up:
            fields["follow_up"] = True
        return fields


@dataclass(frozen=True)
class RetryMessage(WorkMessage):
    """Step a ``STALLED`` instance with no new event: the code deployed now may replay
    it (the version or patch it was missing is back). Sent by the local stack when it
    starts, as Dapr's runtime retries stalled workflows when it restarts."""

    kind: ClassVar[MessageKind] = MessageKind.RETRY

    def _fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class DispatchMessage(WorkMessage):
    """Send the work that history owes for tasks ``first``..``last`` (those still open):
    what a wide step could not send within one invocation's share (``wf/engine/dispatch.py``)."""

    kind: ClassVar[MessageKind] = MessageKind.DISPATCH
    first_task: int
    last_task: int

    def _fields(self) -> dict[str, Any]:
        return {"first": self.first_task, "last": self.last_task}


@dataclass(frozen=True)
class InboxMessage(WorkMessage):
    """Record what waits in the execution's inbox (``InstanceStore.put_inbox``): results
    that lost a race to commit, left for one step to take together."""

    kind: ClassVar[MessageKind] = MessageKind.INBOX

    def _fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class AnnounceMessage(WorkMessage):
    """Publish the status change an execution's first step made (it ended at once), if
    it is still marked on the instance record: sent, delayed, by the start before it
    writes the record, for the case its invocation dies before publishing
    (``docs/crash-safety.md``, rule 17)."""

    kind: ClassVar[MessageKind] = MessageKind.ANNOUNCE

    def _fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class ScheduledStartMessage(WorkMessage):
    """Start the ``PENDING`` instance of a scheduled start (its record's execution) at
    ``start_at``: sent, delayed, before the record is written; sent again while the time
    is further off than SQS can delay."""

    kind: ClassVar[MessageKind] = MessageKind.SCHEDULED
    start_at: datetime

    def _fields(self) -> dict[str, Any]:
        return {"at": format_time(self.start_at)}


Message = (
    ActivityMessage
    | TimerMessage
    | StartChildMessage
    | EventMessage
    | RetryMessage
    | DispatchMessage
    | InboxMessage
    | AnnounceMessage
    | ScheduledStartMessage
    | CalledActivityMessage
    | CalledChildMessage
    | RelayMessage
    | PurgeChildMessage
)
