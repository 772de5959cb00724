"""Cluster layer: update fan-out between server processes over Redis pub/sub (minimal).

``RedisHub`` is an ``UpdateHub`` (``loopgram.server.hub``): it delivers to the sessions of
this process through a ``LocalHub`` and publishes every update on one channel,
``{prefix}updates``, which every process of the cluster reads and hands to its own sessions of
that account. So a bot connected to one process gets the press a user made on another, and a
user sees the bot's message wherever each is connected.

Deliberately minimal, the first step of the fan-out:

- one channel for all accounts: every process reads every update (fine for a few processes;
  per-account channels would lift it);
- presence is not shared: ``online`` answers ``True`` for every account, so services never
  skip an account that is connected elsewhere -- at the cost of rendering updates for
  accounts nobody is connected to (they are in the log for ``getDifference`` either way);
- ``publish`` is synchronous like the rules that call it: a writer task sends the updates to
  Redis in the order they were published, all those published meanwhile in one round trip;
  pub/sub is at-most-once, so a process that is unreachable for a moment misses what was
  said meanwhile, and its clients catch up with ``updates.getDifference`` as after any gap.

``origin`` is a second hub whose subscribers get only the updates published *in this
process*: a consumer that every process runs for the same account and that must act once
per update -- the Bot API queues, written by the process where the update arose -- subscribes
there. Its ``unheard`` hook gets what is published for an account nobody subscribed there,
so that such a consumer can take on an account another process just told it about (the
telling may still be on its way).
"""

from __future__ import annotations

import asyncio
import logging
import struct
import uuid
from collections.abc import Callable, Hashable
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from loopgram import tl
from loopgram.cluster.pubsub import Listener, Outage, cancelling, client_for, stop_task
from loopgram.server.hub import LocalHub, Subscription, UpdateSink
from loopgram.tl.abcs import Updates

log = logging.getLogger(__name__)

_HEADER: Final = struct.Struct("<qB")
"""account id, length of the sending process's id; then that id and the updates' TL bytes."""
WRITE_BATCH: Final = 256
"""Most updates the writer sends in one round trip."""


class OriginHub(LocalHub):
    """The updates published in this process (``RedisHub.origin``)."""

    def __init__(self) -> None:
        super().__init__()
        self.unheard: Callable[[int, Updates], None] | None = None
        """Gets the updates of an account nobody subscribed here."""

    def publish(self, account_id: int, updates: Updates, *, exclude: Hashable = None) -> int:
        delivered = super().publish(account_id, updates, exclude=exclude)
        if not delivered and self.unheard is not None and not self.online(account_id):
            self.unheard(account_id, updates)
        return delivered


class RedisHub:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "loopgram:",
        node_id: str | None = None,
        owns_client: bool = False,
    ) -> None:
        self._redis = redis
        self._channel = f"{prefix}updates"
        self.node_id = node_id or uuid.uuid4().hex
        self._origin = self.node_id.encode()
        if len(self._origin) > 255:
            raise ValueError("node_id is longer than 255 bytes")
        self._owns_client = owns_client
        self._local = LocalHub()
        self.origin = OriginHub()
        """Subscribers here get the updates published in this process only."""
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._listener: Listener | None = None
        self._writer: asyncio.Task[None] | None = None
        self._outage = Outage(
            "cannot publish updates to the other processes",
            "publishing updates to the other processes again",
        )

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisHub:
        return cls(client_for(url), owns_client=True, **options)

    async def start(self) -> None:
        """Listen to the other processes (returns once subscribed; raises if Redis cannot be
        reached) and start the writer."""
        self._listener = Listener(self._redis, self._channel, self._received)
        try:
            await self._listener.ready()
        except BaseException:
            await self.aclose()
            raise
        self._writer = asyncio.ensure_future(self._write())

    async def aclose(self) -> None:
        await stop_task(self._writer)
        self._writer = None
        if self._listener is not None:
            await self._listener.aclose()
            self._listener = None
        if self._owns_client:
            await self._redis.aclose()

    # -- UpdateHub --------------------------------------------------------------------------------

    def subscribe(self, account_id: int, key: Hashable, sink: UpdateSink) -> Subscription:
        return self._local.subscribe(account_id, key, sink)

    def publish(self, account_id: int, updates: Updates, *, exclude: Hashable = None) -> int:
        delivered = self._local.publish(account_id, updates, exclude=exclude)
        self.origin.publish(account_id, updates, exclude=exclude)
        self._outbox.put_nowait(
            _HEADER.pack(account_id, len(self._origin)) + self._origin + bytes(updates)
        )
        return delivered

    def online(self, account_id: int) -> bool:
        # Presence is not shared between processes yet: anyone may be connected elsewhere.
        return True

    # -- internals --------------------------------------------------------------------------------

    async def _write(self) -> None:
        outbox = self._outbox
        while True:
            batch = [await outbox.get()]
            while not outbox.empty() and len(batch) < WRITE_BATCH:
                batch.append(outbox.get_nowait())
            try:
                if len(batch) == 1:
                    await self._redis.publish(self._channel, batch[0])
                else:
                    # One round trip for what a busy turn published, in order.
                    pipe = self._redis.pipeline(transaction=False)
                    for message in batch:
                        pipe.publish(self._channel, message)
                    await pipe.execute()
            except RedisError as e:
                if cancelling():
                    raise
                self._outage.failed(e)
            else:
                self._outage.worked()

    def _received(self, data: bytes) -> None:
        try:
            account_id, origin_len = _HEADER.unpack_from(data)
            start = _HEADER.size
            if data[start : start + origin_len] == self._origin:
                return  # our own: delivered here when published
            updates = tl.read(data[start + origin_len :])
        except (struct.error, tl.TLDecodeError):
            log.warning("dropped an undecodable update on %s", self._channel, exc_info=True)
            return
        self._local.publish(account_id, updates)
