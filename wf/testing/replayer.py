"""Replaying stored histories against the code as it is now, before a deploy: what
``wf replay`` runs, and what a pytest of saved histories calls.

    replayer = Replayer(wfr)
    for outcome in replayer.replay_files(["histories/"]):
        assert outcome.ok, outcome.describe()

A history is what the API reports (``GET .../history``; ``wf history ID -o json``
writes it): a JSON list of events, whose instance ID is the file's name (``ID.json``),
or an object ``{"instanceID": ..., "events": [...]}``. Replay is plain Python in the
caller's thread: a breakpoint in the workflow's code stops there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wf.core.registry import Registry
from wf.core.reported import divergence
from wf.core.wire import WorkflowHistoryEvent
from wf.errors import HistoryFormatError

__all__ = ["ReplayOutcome", "Replayer"]


@dataclass(frozen=True)
class ReplayOutcome:
    """One history replayed: where it came from, and where the code parted from it
    (``None``: the code reproduces it)."""

    source: str
    instance_id: str
    events: int
    divergence: str | None

    @property
    def ok(self) -> bool:
        return self.divergence is None

    def describe(self) -> str:
        what = f"{self.instance_id} ({self.events} events, {self.source})"
        return f"ok        {what}" if self.ok else f"DIVERGES  {what}: {self.divergence}"


class Replayer:
    """Replays histories with ``runtime``'s workflows (the code to be deployed)."""

    def __init__(self, runtime: Registry) -> None:
        self._workflows = runtime.workflows

    def replay(
        self, instance_id: str, events: Sequence[WorkflowHistoryEvent | dict[str, Any]], *, source: str = ""
    ) -> ReplayOutcome:
        """Replay one instance's reported history (records, or their JSON)."""
        reported = [e if isinstance(e, WorkflowHistoryEvent) else WorkflowHistoryEvent.from_json(e) for e in events]
        parted = divergence(self._workflows, instance_id, reported)
        return ReplayOutcome(source or instance_id, instance_id, len(reported), parted)

    def replay_file(self, path: str | Path) -> ReplayOutcome:
        """Replay a history file (see the module's docs)."""
        file = Path(path)
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise HistoryFormatError(f"{file}: not a history file ({exc})") from exc
        if isinstance(data, dict) and isinstance(data.get("events"), list):
            return self.replay(str(data.get("instanceID") or file.stem), data["events"], source=str(file))
        if isinstance(data, list):
            return self.replay(file.stem, data, source=str(file))
        raise HistoryFormatError(f"{file}: a history is a list of events, or an object with `events`")

    def replay_files(self, paths: Iterable[str | Path]) -> list[ReplayOutcome]:
        """Replay each file, and each ``*.json`` of each folder, in name order."""
        files: list[Path] = []
        for path in map(Path, paths):
            files += sorted(path.glob("*.json")) if path.is_dir() else [path]
        return [self.replay_file(f) for f in files]
