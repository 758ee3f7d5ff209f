"""Deterministic stand-ins for randomness and the clock inside workflow code, as the
Dapr SDK's context offers them (``durabletask.deterministic``): the same values on
every replay, derived from the instance ID, the step's time and a per-call counter.
The UUIDs match the SDK's (and durabletask-dotnet's ``NewGuid``) for the same inputs."""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import datetime

#: durabletask's namespace for deterministic UUIDs (v5).
UUID_NAMESPACE = uuid.UUID("9e952958-5e33-4daf-827f-2fa12937b875")


def seeded_random(instance_id: str, at: datetime) -> random.Random:
    """A PRNG seeded from the instance ID and the step's time (whole seconds)."""
    combined = f"{instance_id}:{int(at.timestamp())}"
    seed = int.from_bytes(hashlib.sha256(combined.encode("utf-8")).digest()[:8], byteorder="big")
    return random.Random(seed)


def uuid_v5(instance_id: str, at: datetime, counter: int) -> uuid.UUID:
    """The SDK's deterministic UUID: v5 of ``{instance}_{time ISO}_{counter}``."""
    return uuid.uuid5(UUID_NAMESPACE, f"{instance_id}_{at.isoformat()}_{counter}")
