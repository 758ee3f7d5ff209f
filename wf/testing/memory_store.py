"""In-memory ``InstanceStore`` with the same conditional semantics as the DynamoDB one."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from wf.core.history import HistoryEvent
from wf.engine.store import (
    InstanceMeta,
    InstancePage,
    InstanceQuery,
    ListCursor,
    StepRecord,
    newest_first,
    summary_of,
)
from wf.errors import ConflictError


class MemoryStore:
    """In-memory ``InstanceStore`` with the same conditional semantics as DynamoDB."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.metas: dict[str, InstanceMeta] = {}
        self.steps: dict[tuple[str, str], dict[int, StepRecord]] = {}
        self.inboxes: dict[tuple[str, str], dict[str, tuple[HistoryEvent, ...]]] = {}
        self.notices: dict[tuple[str, str], datetime] = {}

    def get_meta(self, instance_id: str) -> InstanceMeta | None:
        return self.metas.get(instance_id)

    def put_meta(self, meta: InstanceMeta, *, replaces: str | None) -> None:
        with self._lock:
            current = self.metas.get(meta.instance_id)
            if (current is None) != (replaces is None) or (current and current.execution_id != replaces):
                raise ConflictError(f"instance {meta.instance_id} changed concurrently")
            self.metas[meta.instance_id] = meta

    def continue_as_new(
        self, meta: InstanceMeta, *, replaces: str, seal: StepRecord, first: StepRecord | None = None
    ) -> None:
        with self._lock:
            current = self.metas.get(meta.instance_id)
            if (
                current is None
                or current.execution_id != replaces
                or seal.seq in self.steps.get((meta.instance_id, replaces), {})
                or (first is not None and first.seq in self.steps.get((meta.instance_id, meta.execution_id), {}))
            ):
                raise ConflictError(f"instance {meta.instance_id} changed concurrently")
            self.steps.setdefault((meta.instance_id, replaces), {})[seal.seq] = seal
            if first is not None:
                self.steps.setdefault((meta.instance_id, meta.execution_id), {})[first.seq] = first
            self.metas[meta.instance_id] = meta

    def update_meta(self, meta: InstanceMeta) -> None:
        with self._lock:
            current = self.metas.get(meta.instance_id)
            if current is None or current.execution_id != meta.execution_id or current.synced_seq >= meta.synced_seq:
                raise ConflictError(f"instance {meta.instance_id} changed concurrently")
            self.metas[meta.instance_id] = meta

    def append_step(self, instance_id: str, execution_id: str, step: StepRecord) -> None:
        with self._lock:
            steps = self.steps.setdefault((instance_id, execution_id), {})
            if step.seq in steps:
                raise ConflictError(f"step {step.seq} of {instance_id} already written")
            steps[step.seq] = step

    def load_steps(self, instance_id: str, execution_id: str, after: int = -1) -> list[StepRecord]:
        steps = self.steps.get((instance_id, execution_id), {})
        return [steps[k] for k in sorted(steps) if k > after]

    def read_execution(
        self, instance_id: str, execution_id: str, after: int = -1
    ) -> tuple[InstanceMeta | None, list[StepRecord]]:
        with self._lock:
            return self.metas.get(instance_id), self.load_steps(instance_id, execution_id, after)

    def get_step(self, instance_id: str, execution_id: str, seq: int) -> StepRecord | None:
        return self.steps.get((instance_id, execution_id), {}).get(seq)

    def announced(self, instance_id: str, execution_id: str, seq: int) -> None:
        with self._lock:
            meta = self.metas.get(instance_id)
            if seq == 0 and meta is not None and meta.execution_id == execution_id:
                self.metas[instance_id] = meta.with_(pending=None)
            steps = self.steps.get((instance_id, execution_id), {})
            if seq in steps:
                steps[seq] = replace(steps[seq], pending=None)

    def last_step(self, instance_id: str, execution_id: str) -> StepRecord | None:
        steps = self.load_steps(instance_id, execution_id)
        return steps[-1] if steps else None

    def delete_execution(self, instance_id: str, execution_id: str) -> None:
        self.steps.pop((instance_id, execution_id), None)
        self.inboxes.pop((instance_id, execution_id), None)
        self.notices.pop((instance_id, execution_id), None)

    def put_inbox(self, instance_id: str, execution_id: str, token: str, events: Sequence[HistoryEvent]) -> bool:
        with self._lock:
            self.inboxes.setdefault((instance_id, execution_id), {})[token] = tuple(events)
        return True

    def inbox_noticed(self, instance_id: str, execution_id: str, now: datetime, stale_after: float) -> bool:
        pending = self.notices.get((instance_id, execution_id))
        return pending is not None and (now - pending).total_seconds() < stale_after

    def note_inbox(self, instance_id: str, execution_id: str, now: datetime) -> None:
        with self._lock:
            self.notices[(instance_id, execution_id)] = now

    def clear_inbox_notice(self, instance_id: str, execution_id: str) -> None:
        with self._lock:
            self.notices.pop((instance_id, execution_id), None)

    def load_inbox(self, instance_id: str, execution_id: str) -> list[tuple[str, tuple[HistoryEvent, ...]]]:
        with self._lock:
            return sorted(self.inboxes.get((instance_id, execution_id), {}).items())

    def delete_inbox(self, instance_id: str, execution_id: str, tokens: Sequence[str]) -> None:
        with self._lock:
            inbox = self.inboxes.get((instance_id, execution_id), {})
            for token in tokens:
                inbox.pop(token, None)

    def list_instances(self, query: InstanceQuery, *, limit: int, after: str | None = None) -> InstancePage:
        with self._lock:
            rows = [summary_of(m) for m in self.metas.values()]
        rows = sorted((r for r in rows if query.matches(r)), key=newest_first, reverse=True)
        if after is not None:
            position, _ = ListCursor.parse(after)
            rows = [r for r in rows if newest_first(r) < (position.created_at, position.instance_id)]
        page = tuple(rows[:limit])
        more = len(rows) > limit
        return InstancePage(page, ListCursor(page[-1].created_at, page[-1].instance_id).token() if more else None)

    def purge(self, instance_id: str, execution_id: str) -> int:
        with self._lock:
            meta = self.metas.get(instance_id)
            if meta is not None and meta.execution_id != execution_id:
                raise ConflictError(f"instance {instance_id} changed concurrently")
            count = 1 if self.metas.pop(instance_id, None) else 0
            return count + self._delete_executions(instance_id, execution_id)

    def expired(self, instance_id: str, execution_ids: Sequence[str]) -> int:
        with self._lock:
            return self._delete_executions(instance_id, max(execution_ids))

    def _delete_executions(self, instance_id: str, newest: str) -> int:
        """The items of execution ``newest`` and every older one (IDs sort by time)."""
        count = 0
        for key in [k for k in self.steps if k[0] == instance_id and k[1] <= newest]:
            count += len(self.steps.pop(key))
        for key in [k for k in self.inboxes if k[0] == instance_id and k[1] <= newest]:
            count += len(self.inboxes.pop(key))
        for key in [k for k in self.notices if k[0] == instance_id and k[1] <= newest]:
            count += self.notices.pop(key) is not None
        return count
