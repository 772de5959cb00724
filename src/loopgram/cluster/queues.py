"""Cluster layer: the Bot API queues' signals between server processes, over Redis.

``RedisQueueSignals`` implements the gateway's ``QueueSignals`` seam (``loopgram.botapi.queue``,
matched by shape: this layer does not import a front door). The queues themselves are rows in
the shared database; what crosses processes here is only what lives in one process's memory:

- signals, on one channel ``{prefix}botapi``: every process reads every signal (a few bytes:
  a kind and a bot id) and hands those of the others to its gateway. ``send`` never waits:
  the signals of one event-loop turn leave together in one ``PUBLISH``. A ``queued`` signal
  is sent after the update's commit, so the poll it wakes finds the update. Pub/sub is
  at-most-once: after the connection was lost and is back, the gateway is told to reread
  (``resync``) instead of trusting what it remembers;
- the webhook deliverer: one key per bot, ``{prefix}botapi:deliverer:{bot}``, holds the id of
  the process delivering that bot's webhook, with an expiry of ``LEASE`` seconds. A process
  takes it when it is free, and a task renews every right the process holds each
  ``RENEWAL`` seconds (one Lua script does both), also while a slow webhook keeps a post
  waiting; a process that died lets it expire and another takes over. A Redis that cannot
  be reached makes nobody the deliverer: webhooks pause rather than risk a double delivery.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from loopgram.cluster.pubsub import Listener, Outage, Script, cancelling, client_for, stop_task

log = logging.getLogger(__name__)

LEASE: Final = 15.0
"""Seconds a webhook deliverer's right lasts without renewal (a dead process's bots wait at
most this long for another to take over)."""
RENEWAL: Final = 5.0
"""Seconds between renewals of the rights held (well inside ``LEASE``), and between the
attempts of the other processes to take a right."""

RESYNC: Final = "resync"
"""What the gateway is told after signals may have been lost (``botapi.queue.RESYNC``)."""

# KEYS[1] the deliverer key; ARGV[1] this process, ARGV[2] the lease in milliseconds.
_TAKE_OR_RENEW: Final = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RESIGN: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

SignalHandler = Callable[[str, int], None]


class RedisQueueSignals:
    lease_renewal: float

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "loopgram:",
        node_id: str | None = None,
        owns_client: bool = False,
        lease: float = LEASE,
        renewal: float = RENEWAL,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._channel = f"{prefix}botapi"
        self.node_id = node_id or uuid.uuid4().hex
        if "|" in self.node_id:
            raise ValueError("a node id must not contain '|'")
        self._owns_client = owns_client
        self._lease_ms = max(1, int(lease * 1000))
        self.lease_renewal = renewal
        self._take_or_renew = Script(redis, _TAKE_OR_RENEW)
        self._resign = Script(redis, _RESIGN)
        self._handler: SignalHandler | None = None
        # Signals of this turn, in order without repeats, and the writer's wake-up.
        self._outbox: dict[tuple[str, int], None] = {}
        self._ready = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._listener: Listener | None = None
        # The bots whose webhook this process delivers, and the task renewing those rights.
        self._held: set[int] = set()
        self._renewer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._outage = Outage("cannot signal Bot API queue changes to the others")

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisQueueSignals:
        return cls(client_for(url), owns_client=True, **options)

    async def start(self) -> None:
        """Listen to the other processes (returns once subscribed; raises if Redis cannot be
        reached) and start the writer."""
        self._listener = Listener(self._redis, self._channel, self._received, self._resync)
        try:
            await self._listener.ready()
        except BaseException:
            await self.aclose()
            raise
        self._writer = asyncio.ensure_future(self._write())
        self._renewer = asyncio.ensure_future(self._renew())

    async def aclose(self) -> None:
        await stop_task(self._writer)
        self._writer = None
        await stop_task(self._renewer)
        self._renewer = None
        for bot_id in list(self._held):
            self.resign(bot_id)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._listener is not None:
            await self._listener.aclose()
            self._listener = None
        if self._owns_client:
            await self._redis.aclose()

    # -- QueueSignals -----------------------------------------------------------------------

    def bind(self, handler: SignalHandler) -> None:
        self._handler = handler

    def send(self, kind: str, bot_id: int) -> None:
        self._outbox[(kind, bot_id)] = None
        self._ready.set()

    async def deliverer(self, bot_id: int) -> bool:
        if bot_id in self._held:
            return True  # the renewer keeps it
        if await self._take(bot_id):
            self._held.add(bot_id)
            return True
        return False

    def resign(self, bot_id: int) -> None:
        if bot_id not in self._held:
            return
        self._held.discard(bot_id)
        task = asyncio.ensure_future(self._give_up(bot_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- internals --------------------------------------------------------------------------

    def _deliverer_key(self, bot_id: int) -> str:
        return f"{self._prefix}botapi:deliverer:{bot_id}"

    async def _take(self, bot_id: int) -> bool:
        """Take or renew the right to deliver the bot's webhook; whether this process has it."""
        try:
            won = await self._take_or_renew(
                keys=[self._deliverer_key(bot_id)], args=[self.node_id, self._lease_ms]
            )
        except RedisError:
            log.warning("could not take the webhook delivery of bot %d", bot_id)
            return False
        return bool(won)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.lease_renewal)
            for bot_id in list(self._held):
                if not await self._take(bot_id):
                    # Expired meanwhile (Redis away for long) and taken elsewhere: stop.
                    self._held.discard(bot_id)

    async def _give_up(self, bot_id: int) -> None:
        try:
            await self._resign(keys=[self._deliverer_key(bot_id)], args=[self.node_id])
        except RedisError:
            log.info("could not hand back the webhook delivery of bot %d", bot_id)

    async def _write(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            batch, self._outbox = self._outbox, {}
            if not batch:
                continue
            body = ",".join(f"{kind}:{bot_id}" for kind, bot_id in batch)
            try:
                await self._redis.publish(self._channel, f"{self.node_id}|{body}".encode())
            except RedisError as e:
                if cancelling():
                    raise
                self._outage.failed(e)
            else:
                self._outage.worked()

    def _received(self, data: bytes) -> None:
        origin, _, body = data.decode(errors="replace").partition("|")
        if origin == self.node_id or self._handler is None:
            return
        for item in body.split(","):
            kind, _, bot = item.partition(":")
            try:
                bot_id = int(bot)
            except ValueError:
                log.warning("dropped an unreadable Bot API signal %r", item)
                continue
            self._handler(kind, bot_id)

    def _resync(self) -> None:
        # Whatever was deliverer here may have expired meanwhile: ask again next time.
        self._held.clear()
        if self._handler is not None:
            self._handler(RESYNC, 0)
