"""Cluster layer: one Redis pub/sub channel read for as long as a process runs.

Every shared seam that listens (the pending-call table's answers, the update fan-out, the Bot
API queues' signals) does it the same way:
subscribe, say so once Redis confirmed it (a process must not make itself reachable before it
can hear), hand each message's bytes on, and ride out a dropped connection -- redis-py
reconnects and subscribes again on the next read, and ``resubscribed`` tells the owner, whose
messages of the outage are lost (pub/sub is at-most-once) and who may want to catch up.

Every client of a process comes from ``client_for``: bounded connect and command timeouts
and one quick retry, so that a Redis that is down or unreachable fails a call within seconds
(the caller answers an error) instead of holding it. ``Script`` runs the seams' Lua scripts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import NoScriptError, RedisError
from redis.maint_notifications import MaintNotificationsConfig

log = logging.getLogger(__name__)

RECONNECT_DELAY = 0.5
"""Seconds between reads while the connection is down (real time: this is a driver)."""


STOP_RETRY = 0.5
"""Seconds between the cancels of a task that is being stopped (see ``stop_task``)."""

POOL_SIZE = 64
"""Connections of one process's client. Commands beyond them wait for a free one: redis-py's
default pool refuses with ``MaxConnectionsError`` past 100 commands in flight, which 100 users
pressing at once reach (one ``SET`` each, plus the bots' answers and the fan-out)."""

POOL_WAIT = 10.0
"""Seconds a command may wait for a free connection before it fails."""

CONNECT_TIMEOUT = 2.0
"""Seconds a connection to Redis may take to open (an unreachable host: the OS would wait
minutes)."""
COMMAND_TIMEOUT = 5.0
"""Seconds a command's answer may take (a pub/sub read waits without it)."""
RETRIES = 1
"""Retries of a command that lost its connection (Redis restarted: the pool's connections
are all dead, the retry opens a new one); redis-py's default, three with backoff of up to
ten seconds, would hold a caller for long while Redis is down."""


def client_for(url: str) -> Redis:
    """A client for ``url`` (``redis://host:port/db``) whose pool waits instead of refusing,
    with the timeouts and retries above."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_SIZE,
        timeout=POOL_WAIT,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=COMMAND_TIMEOUT,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), RETRIES),
        # redis-py 8 asks every new connection for "maintenance notifications" (Redis 8,
        # managed services); a Redis 7 left such a connection waiting for its answer.
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
    )
    return Redis.from_pool(pool)


def cancelling() -> bool:
    """Whether the current task is being cancelled: redis-py turns a cancel that comes while
    it opens a connection into a ``ConnectionError``, which a loop that rides out Redis's
    errors must not take for one."""
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel a writer or listener task and wait until it ended (``None``: nothing ran).

    Cancelled again until it ends: redis-py catches a cancel that comes while it opens a
    connection and carries on, so one cancel may be lost."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait((task,), timeout=STOP_RETRY)
    if not task.cancelled():
        task.exception()  # retrieved: the owner reported it when it mattered


class Outage:
    """One warning when Redis starts failing a background writer and one when it works
    again, instead of one per failed write (a writer retries on every turn)."""

    __slots__ = ("_back", "_failing", "_lost")

    def __init__(self, lost: str, back: str | None = None) -> None:
        self._failing = False
        self._lost = lost
        self._back = back

    def failed(self, error: RedisError) -> None:
        if not self._failing:
            log.warning("%s: %s", self._lost, error)
        self._failing = True

    def worked(self) -> None:
        if self._failing and self._back is not None:
            log.warning("%s", self._back)
        self._failing = False


class Script:
    """A Lua script run by its SHA1 with ``EVALSHA``, loaded on the first ``NOSCRIPT``.

    Not redis-py's ``register_script``: its call checks the client against protocol classes
    with ``isinstance``, which cost a press more Python time than the whole command.
    """

    __slots__ = ("_redis", "_sha", "_source")

    def __init__(self, redis: Redis, source: str) -> None:
        self._redis = redis
        self._source = source
        self._sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await self._redis.evalsha(self._sha, len(keys), *keys, *args)
        except NoScriptError:
            # A Redis restarted (or new) knows no scripts yet.
            await self._redis.script_load(self._source)
            return await self._redis.evalsha(self._sha, len(keys), *keys, *args)


class Listener:
    """A task reading one channel; ``ready()`` returns once subscribed, or raises why not."""

    def __init__(
        self,
        redis: Redis,
        channel: str,
        received: Callable[[bytes], None],
        resubscribed: Callable[[], None] | None = None,
    ) -> None:
        self._subscribed = asyncio.Event()
        self.task = asyncio.ensure_future(
            listen(redis, channel, self._subscribed, received, resubscribed)
        )

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
        await stop_task(self.task)


async def listen(
    redis: Redis,
    channel: str,
    subscribed: asyncio.Event,
    received: Callable[[bytes], None],
    resubscribed: Callable[[], None] | None = None,
) -> None:
    """Read ``channel`` forever (cancel the task to stop); ``subscribed`` is set once Redis
    confirmed the subscription, ``received`` gets each message's data. A first subscription
    that fails ends the task with the error; a connection lost later is ridden out, and
    ``resubscribed`` is called once the subscription is confirmed again."""
    pubsub = redis.pubsub()
    lost = False
    try:
        await pubsub.subscribe(channel)
        while True:
            try:
                message = await pubsub.get_message(timeout=None)
            except RedisError:
                if cancelling():
                    raise
                if not lost:
                    log.warning("lost the pub/sub connection to %s; reconnecting", channel)
                lost = True
                await asyncio.sleep(RECONNECT_DELAY)
                continue
            if message is None:
                continue
            if message["type"] == "subscribe":
                subscribed.set()
                if lost:
                    lost = False
                    log.warning("subscribed to %s again", channel)
                    if resubscribed is not None:
                        resubscribed()
            elif message["type"] == "message":
                try:
                    received(message["data"])
                except Exception:
                    # One bad message must not end the channel for the whole process.
                    log.exception("a message on %s could not be handled", channel)
    finally:
        await pubsub.aclose()
