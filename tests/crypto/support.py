"""Shared helpers of the crypto tests: seeded randomness."""

from __future__ import annotations

import random
from collections.abc import Callable


def seeded(seed: int) -> Callable[[int], bytes]:
    """A deterministic ``random_bytes`` stand-in."""
    return random.Random(seed).randbytes
