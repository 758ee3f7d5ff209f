"""The SQS message bodies the engine sends itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from wf._history import HistoryEvent, event_from_json, event_to_json, format_time, parse_time
from wf._queue import OutMessage


class MessageKind(Enum):
    ACTIVITY = "activity"  # run an activity, then record its result
    TIMER = "timer"  # fire a timer (re-sent while its time has not come)
    EVENT = "event"  # record an inbound event (raise, pause, resume, terminate, child result)
    START_CHILD = "start_child"  # start a child once the parent's execution is recorded


@dataclass(frozen=True)
class WorkMessage:
    kind: MessageKind
    instance_id: str
    execution_id: str | None
    sent_at: datetime
    task_id: int = 0
    name: str = ""
    input: str | None = None
    fire_at: datetime | None = None
    event: HistoryEvent | None = None
    child_id: str = ""

    def to_out(self, delay_seconds: int = 0) -> OutMessage:
        body: dict[str, Any] = {
            "k": self.kind.value,
            "iid": self.instance_id,
            "exec": self.execution_id,
            "sent": format_time(self.sent_at),
        }
        if self.kind is MessageKind.ACTIVITY:
            body.update(task=self.task_id, name=self.name, input=self.input)
        elif self.kind is MessageKind.TIMER:
            assert self.fire_at is not None
            body.update(task=self.task_id, fire_at=format_time(self.fire_at))
        elif self.kind is MessageKind.START_CHILD:
            body.update(task=self.task_id, name=self.name, input=self.input, child=self.child_id)
        else:
            assert self.event is not None
            body["event"] = event_to_json(self.event)
        return OutMessage(body, delay_seconds)

    @classmethod
    def parse(cls, body: dict[str, Any]) -> WorkMessage:
        kind = MessageKind(body["k"])
        return cls(
            kind=kind,
            instance_id=body["iid"],
            execution_id=body.get("exec"),
            sent_at=parse_time(body["sent"]),
            task_id=int(body.get("task", 0)),
            name=body.get("name", ""),
            input=body.get("input"),
            fire_at=parse_time(body["fire_at"]) if "fire_at" in body else None,
            event=event_from_json(body["event"]) if "event" in body else None,
            child_id=body.get("child", ""),
        )
