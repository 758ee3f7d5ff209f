"""Status-change events to an EventBridge bus (``WF_EVENT_BUS``; the template's
``EventBusName``, default the account's ``default`` bus): ``source`` ``wf.workflows``,
``detail-type`` ``Workflow Status Change``, the detail of ``StatusChange.detail``."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wf.engine.status_events import DETAIL_TYPE, SOURCE, StatusChange
from wf.errors import StatusEventsError

log = logging.getLogger("wf.events")

#: PutEvents takes at most ten entries per call.
MAX_ENTRIES = 10
#: Entry errors worth trying again; any other refuses the event for what it is.
TRANSIENT = frozenset({"InternalFailure", "ThrottlingException", "ServiceUnavailable"})


class EventBridgeStatusEvents:
    """Publishes to one bus; the client is made at the first publication (a container
    that never sees a status change never makes it)."""

    def __init__(self, client: Callable[[], Any], bus_name: str) -> None:
        self._make_client = client
        self._client: Any = None
        self.bus_name = bus_name

    def publish(self, changes: Sequence[StatusChange]) -> None:
        if self._client is None:
            self._client = self._make_client()
        for i in range(0, len(changes), MAX_ENTRIES):
            chunk = changes[i : i + MAX_ENTRIES]
            entries = [
                {
                    "Source": SOURCE,
                    "DetailType": DETAIL_TYPE,
                    "Detail": json.dumps(change.detail()),
                    "EventBusName": self.bus_name,
                    "Time": change.at,
                }
                for change in chunk
            ]
            try:
                response = self._client.put_events(Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                raise StatusEventsError(f"publishing {len(chunk)} status events failed: {exc}") from exc
            refused: set[str] = set()
            if response.get("FailedEntryCount"):
                results = response.get("Entries", [])
                failed = [(c, e) for c, e in zip(chunk, results, strict=False) if e.get("ErrorCode")]
                if any(e["ErrorCode"] in TRANSIENT for _, e in failed):
                    codes = sorted({str(e["ErrorCode"]) for _, e in failed})
                    raise StatusEventsError(f"EventBridge refused {len(failed)} of {len(chunk)} status events: {codes}")
                for change, entry in failed:
                    refused.add(change.event_id)
                    # Refused for what it is: sending it again would be refused again,
                    # and would hold up the instance's messages. Said, and let go.
                    log.error(
                        "status event %s refused by EventBridge, not published: %s %s",
                        change.event_id,
                        entry.get("ErrorCode"),
                        entry.get("ErrorMessage", ""),
                    )
            for change in (c for c in chunk if c.event_id not in refused):
                log.info(
                    "event: %s %s: %s -> %s",
                    change.workflow_name,
                    change.instance_id,
                    change.old.value,
                    change.new.value,
                )
