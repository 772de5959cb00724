"""Server layer: flood limits, one token bucket per (caller, method) on the injected clock.

A caller that empties its bucket gets ``420 FLOOD_WAIT_X`` with X the whole seconds until the
next call would be allowed; the refused call costs nothing, as on Telegram.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from loopgram.mtproto.deps import Clock
from loopgram.server.config import Rate
from loopgram.server.errors import FloodWait


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class FloodLimiter:
    """``check(caller, method)`` spends one token or raises ``FloodWait``.

    ``rate_for(method)`` gives each method's ``Rate``. Buckets that have refilled completely
    carry no information, so they are dropped whenever the table grows past ``max_buckets``.
    """

    def __init__(
        self, clock: Clock, rate_for: Callable[[str], Rate], *, max_buckets: int = 100_000
    ) -> None:
        self._clock = clock
        self._rate_for = rate_for
        self._max_buckets = max_buckets
        self._buckets: dict[tuple[Hashable, str], _Bucket] = {}

    def check(self, caller: Hashable, method: str) -> None:
        rate = self._rate_for(method)
        now = self._clock()
        key = (caller, method)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_buckets:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(float(rate.burst), now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(rate.burst), bucket.tokens + elapsed * rate.per_second)
            bucket.updated = now
        if bucket.tokens < 1.0:
            wait = (1.0 - bucket.tokens) / rate.per_second
            raise FloodWait(max(1, math.ceil(wait)))
        bucket.tokens -= 1.0

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self._rate_for(key[1]).per_second
            >= self._rate_for(key[1]).burst
        ]
        for key in full:
            del self._buckets[key]
