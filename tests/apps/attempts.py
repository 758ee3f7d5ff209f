"""Attempt counts that every container of a test's stack shares: a container's module
state is its own (each is a process, as on Lambda), so a count lives in a file under
the stack's temporary directory (`TMPDIR`, one per test)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _path(key: str) -> Path:
    return Path(tempfile.gettempdir()) / f"wf-attempts-{key}"


def bump(key: str) -> int:
    """One more attempt of ``key``; the count so far (attempts of one key run one at a time)."""
    fd = os.open(_path(key), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, b".")
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def count(key: str) -> int:
    try:
        return _path(key).stat().st_size
    except FileNotFoundError:
        return 0
