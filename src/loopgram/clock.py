"""Root module: time and randomness, as every layer takes them from outside.

Protocol code, services and storage never read the system clock or ``os.urandom``
themselves: whoever builds them passes these in (drivers the system ones, tests a
:class:`FakeClock` they advance and :func:`seeded_random`). It stands on nothing of ours, so
that services and storage need not import ``mtproto`` for them.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable

__all__ = ["Clock", "FakeClock", "RandomBytes", "seeded_random", "system_clock", "system_random"]

Clock = Callable[[], float]
"""Returns the current Unix time in seconds (float); storage truncates it to whole seconds."""

RandomBytes = Callable[[int], bytes]
"""Returns n random bytes."""

system_clock: Clock = time.time
system_random: RandomBytes = os.urandom


class FakeClock:
    """A clock that only moves when told to (``advance``); start defaults to a fixed date."""

    def __init__(self, start: float = 1_764_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def seeded_random(seed: int) -> RandomBytes:
    """Deterministic bytes for tests and vectors (not for production keys)."""
    rng = random.Random(seed)
    return rng.randbytes
