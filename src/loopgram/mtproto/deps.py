"""MTProto layer: what protocol code takes from outside — time and randomness.

Protocol code never reads the system clock or ``os.urandom`` itself: drivers pass these in,
tests pass a fake clock they advance and seeded randomness (``loopgram.mtproto.deps``).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable

Clock = Callable[[], float]
"""Returns the current Unix time in seconds (float)."""

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
