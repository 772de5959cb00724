"""Cluster layer: the flood limits' shared buckets, in Redis.

``RedisFloodBuckets`` implements ``loopgram.server.flood.SharedBuckets``: each process checks
its calls against its own token buckets, synchronously, and reports the spends of the shared
ones here; a writer task sends the spends of one event-loop turn in one Lua script, which
refills each shared bucket (a hash ``{prefix}flood:{key}`` holding its tokens and when it was
last refilled, by the callers' clocks), takes the spends -- below zero if two processes spent
the last token at once: the debt is repaid by the refill -- and answers the levels, which the
limiter's local buckets then follow. A bucket's key expires once it would have refilled
completely, when it carries no information any more.

A Redis that cannot be reached leaves each process with its own buckets (the limits hold per
process) until it is back; the spends made meanwhile are not counted there.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from loopgram.cluster.pubsub import Outage, Script, cancelling, client_for, stop_task
from loopgram.server.config import Rate
from loopgram.server.flood import Level

log = logging.getLogger(__name__)

# KEYS the buckets; ARGV four per bucket: spends, rate per second, burst, now. Levels come
# back as text (Redis turns a Lua number into an integer).
_SPEND: Final = """
local levels = {}
for i, key in ipairs(KEYS) do
  local at = (i - 1) * 4
  local spent = tonumber(ARGV[at + 1])
  local rate = tonumber(ARGV[at + 2])
  local burst = tonumber(ARGV[at + 3])
  local now = tonumber(ARGV[at + 4])
  local state = redis.call('HMGET', key, 't', 'u')
  local tokens = tonumber(state[1])
  local updated = tonumber(state[2])
  if tokens == nil or updated == nil then
    tokens = burst
    updated = now
  end
  if now > updated then
    tokens = math.min(burst, tokens + (now - updated) * rate)
    updated = now
  end
  tokens = tokens - spent
  redis.call('HSET', key, 't', string.format('%.6f', tokens), 'u', string.format('%.6f', updated))
  redis.call('PEXPIRE', key, math.ceil(((burst - tokens) / rate + 1) * 1000))
  levels[i] = string.format('%.6f', tokens)
end
return levels
"""


@dataclass(slots=True)
class _Spends:
    count: int
    rate: Rate
    now: float


class RedisFloodBuckets:
    def __init__(self, redis: Redis, *, prefix: str = "loopgram:", owns_client: bool = False):
        self._redis = redis
        self._prefix = f"{prefix}flood:"
        self._owns_client = owns_client
        self._script = Script(redis, _SPEND)
        self._level: Level | None = None
        self._queued: dict[str, _Spends] = {}
        self._ready = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._outage = Outage(
            "cannot share flood counters (each process limits alone)",
            "flood counters are shared again",
        )

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisFloodBuckets:
        return cls(client_for(url), owns_client=True, **options)

    def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write())

    async def aclose(self) -> None:
        await stop_task(self._writer)
        self._writer = None
        if self._owns_client:
            await self._redis.aclose()

    # -- SharedBuckets ----------------------------------------------------------------------

    def bind(self, level: Level) -> None:
        self._level = level

    def spent(self, key: str, rate: Rate, now: float) -> None:
        queued = self._queued.get(key)
        if queued is None:
            self._queued[key] = _Spends(1, rate, now)
        else:
            queued.count += 1
            queued.rate = rate
            queued.now = max(queued.now, now)
        self._ready.set()

    async def flushed(self) -> None:
        """Until the spends reported so far are in Redis and their levels back (tests)."""
        while self._queued or self._ready.is_set():
            await asyncio.sleep(0.005)

    # -- internals --------------------------------------------------------------------------

    async def _write(self) -> None:
        while True:
            await self._ready.wait()
            batch, self._queued = self._queued, {}
            if not batch:
                self._ready.clear()
                continue
            try:
                await self._send(batch)
            except RedisError as e:
                if cancelling():
                    raise
                self._outage.failed(e)
            else:
                self._outage.worked()
            if not self._queued:
                self._ready.clear()

    async def _send(self, batch: dict[str, _Spends]) -> None:
        keys = list(batch)
        args: list[float | int] = []
        for spends in batch.values():
            args += [spends.count, spends.rate.per_second, spends.rate.burst, spends.now]
        levels = await self._script(keys=[self._prefix + key for key in keys], args=args)
        level = self._level
        if level is None:
            return
        for key, tokens in zip(keys, levels, strict=True):
            # Spends made here while the script ran are not in its level yet.
            unsent = self._queued.get(key)
            behind = 0 if unsent is None else unsent.count
            level(key, float(tokens) - behind, batch[key].now)
