"""When a failed delivery is tried again: the schedule's next step, spread by jitter."""

from __future__ import annotations

import random
from collections.abc import Sequence


def next_wait(
    *, failed_attempts: int, schedule: Sequence[float], jitter: float, rng: random.Random | None = None
) -> float | None:
    """Seconds until the next attempt after `failed_attempts` failures, or None once the schedule is spent."""
    if failed_attempts < 1 or failed_attempts > len(schedule):
        return None
    step = schedule[failed_attempts - 1]
    spread = (rng or random).uniform(-jitter, jitter)
    return step * (1 + spread)
