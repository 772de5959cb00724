"""Cluster layer: one Redis pub/sub channel read for as long as a process runs.

Both shared seams (the pending-call table's answers, the update fan-out) listen the same way:
subscribe, say so once Redis confirmed it (a process must not make itself reachable before it
can hear), hand each message's bytes on, and ride out a dropped connection -- redis-py
reconnects and subscribes again on the next read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RECONNECT_DELAY = 0.5
"""Seconds between reads while the connection is down (real time: this is a driver)."""


POOL_SIZE = 64
"""Connections of one process's client. Commands beyond them wait for a free one: redis-py's
default pool refuses with ``MaxConnectionsError`` past 100 commands in flight, which 100 users
pressing at once reach (one ``SET`` each, plus the bots' answers and the fan-out)."""

POOL_WAIT = 10.0
"""Seconds a command may wait for a free connection before it fails."""


def client_for(url: str) -> Redis:
    """A client for ``url`` (``redis://host:port/db``) whose pool waits instead of refusing."""
    pool = BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=POOL_WAIT)
    return Redis.from_pool(pool)


class Listener:
    """A task reading one channel; ``ready()`` returns once subscribed, or raises why not."""

    def __init__(self, redis: Redis, channel: str, received: Callable[[bytes], None]) -> None:
        self._subscribed = asyncio.Event()
        self.task = asyncio.ensure_future(listen(redis, channel, self._subscribed, received))

    async def ready(self) -> None:
        if self._subscribed.is_set():
            return
        waiter = asyncio.ensure_future(self._subscribed.wait())
        try:
            await asyncio.wait((self.task, waiter), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if not self._subscribed.is_set():
            # The first subscription failed (Redis unreachable): say so instead of waiting.
            self.task.result()
            raise RuntimeError("the pub/sub listener stopped before subscribing")

    async def aclose(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except (asyncio.CancelledError, Exception):
            pass


async def listen(
    redis: Redis, channel: str, subscribed: asyncio.Event, received: Callable[[bytes], None]
) -> None:
    """Read ``channel`` forever (cancel the task to stop); ``subscribed`` is set once Redis
    confirmed the subscription, ``received`` gets each message's data. A first subscription
    that fails ends the task with the error; a connection lost later is ridden out."""
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(channel)
        while True:
            try:
                message = await pubsub.get_message(timeout=None)
            except RedisError:
                log.warning("lost the pub/sub connection to %s; reconnecting", channel)
                await asyncio.sleep(RECONNECT_DELAY)
                continue
            if message is None:
                continue
            if message["type"] == "subscribe":
                subscribed.set()
            elif message["type"] == "message":
                received(message["data"])
    finally:
        await pubsub.aclose()
