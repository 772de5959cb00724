"""Node layer: the composition root -- ``LoopgramServer`` builds storage, services, the
MTProto listener and the HTTP listener (Bot API and web page) from a configuration, and starts
and stops them.

``LoopgramServer`` is what ``loopgram serve``, ``loopgram demo``, the pytest fixture and
embedding code run::

    async with LoopgramServer(data_dir="./loopgram-data", port=0) as server:
        token = server.create_bot("examplebot")
        ...  # point clients at server.host, server.port, trusting server.public_key_pem

One port serves every MTProto transport (the ``ServerTransport`` of each connection detects
it); :class:`~loopgram.node.links.ServerApp` runs the RPCs of its links through the core.

The RSA key is generated on first start and kept in the data directory's settings, with the
host and port last listened on (``loopgram info`` reads them).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final

from loopgram import LoopgramError, tl
from loopgram.clock import Clock, RandomBytes, system_clock, system_random
from loopgram.crypto import SERVER_EXPONENT_BITS, RsaPrivateKey, generate_keypair, generate_pq
from loopgram.mtproto.handshake import PrecomputedPool
from loopgram.mtproto.server_connection import ServerConnection
from loopgram.net import Limits, Listener, raise_open_file_limit
from loopgram.node.facts import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    LAST_BOT_API_URL,
    LAST_HOST,
    LAST_PORT,
    LAST_WEB_URL,
    ServerFacts,
    advertised,
    load_rsa_key,
    remember_bot_token,
)
from loopgram.node.links import ServerApp
from loopgram.server.config import ServerConfig, ServerInfo
from loopgram.server.core import ServerCore
from loopgram.server.hub import UpdateHub
from loopgram.server.pending import PendingCalls
from loopgram.server.session_store import DurableSessionStore
from loopgram.storage import Account, Storage, open_storage
from loopgram.storage.sqlite import Synchronous
from loopgram.tl import layers
from loopgram.transport import ServerTransport

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from loopgram.botapi import BotApiGateway, BotApiServer
    from loopgram.cluster import (
        RedisFloodBuckets,
        RedisHub,
        RedisPendingCalls,
        RedisQueueSignals,
    )
    from loopgram.cluster.hub import OriginHub
    from loopgram.web import WebFrontend

__all__ = ["LoopgramServer"]

log = logging.getLogger("loopgram.server")


CHECKPOINT_INTERVAL: Final = 60.0
"""Seconds between saves of the live sessions' state (see ``session_store``)."""
RELEASE_DELAY: Final = 0.5
"""Seconds the sessions of closed connections wait to be saved together."""


class LoopgramServer:
    """A loopgram server in this process: storage, RSA key, listener, core, timers.

    ``data_dir`` holds the SQLite database (created if missing); ``None`` keeps everything
    in memory (tests). ``storage`` passes an opened storage instead (not closed on stop).
    ``port`` 0 picks a free port (read ``server.port`` after start); a sequence of ports
    (``LOW_PORTS``: below 32768, which every client can store) one of them that is free,
    tried at random (``port_rng``, at most ``port_attempts`` times). ``advertised_host`` is
    what ``help.getConfig`` tells clients (default: ``host``, or 127.0.0.1 for a wildcard).
    ``answer_timeout`` is the callback-answer window in seconds (``ServerConfig``'s
    ``callback_timeout``, 15 s by default). ``clock`` and ``random_bytes`` are injected into
    everything protocol-shaped; a fake clock is moved by the test, and ``tick()`` applies
    the callback deadlines at once. ``rsa_key`` overrides the stored key (tests share one
    to skip generating it). ``redis_url`` makes this one of several processes over the same
    storage: pending calls and update fan-out go through Redis (``loopgram.cluster``), under
    keys and channels starting with ``redis_prefix``.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        storage: Storage | None = None,
        host: str = DEFAULT_HOST,
        port: int | Sequence[int] = DEFAULT_PORT,
        port_rng: random.Random | None = None,
        port_attempts: int = 64,
        advertised_host: str | None = None,
        clock: Clock = system_clock,
        random_bytes: RandomBytes = system_random,
        answer_timeout: float | None = None,
        config: ServerConfig | None = None,
        limits: Limits | None = None,
        rsa_key: RsaPrivateKey | None = None,
        hub: UpdateHub | None = None,
        synchronous: Synchronous = "FULL",
        pool_size: int = 32,
        raise_file_limit: bool = True,
        bot_api_port: int | None = None,
        web: bool = True,
        redis_url: str | None = None,
        redis_prefix: str = "loopgram:",
    ) -> None:
        if data_dir is not None and storage is not None:
            raise ValueError("pass data_dir or storage, not both")
        self.data_dir = None if data_dir is None else Path(data_dir)
        self.host = host
        self._requested_port = port
        self._port_rng = port_rng
        self._port_attempts = port_attempts
        self._raise_file_limit = raise_file_limit
        self._advertised = advertised_host
        self.clock = clock
        self.random_bytes = random_bytes
        config = config or ServerConfig()
        if answer_timeout is not None:
            config = _replace_timeout(config, answer_timeout)
        self.config = config
        self.limits = limits or Limits()
        self._rsa_key = rsa_key
        self._hub = hub
        self._synchronous = synchronous
        self._given_storage = storage
        self._storage: Storage | None = storage
        self._core: ServerCore | None = None
        self._app: ServerApp | None = None
        self._store: DurableSessionStore | None = None
        self._listener: Listener | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped: asyncio.Event | None = None
        self._keypairs = PrecomputedPool(
            lambda: generate_keypair(random_bytes, bits=SERVER_EXPONENT_BITS), size=pool_size
        )
        self._pqs = PrecomputedPool(lambda: generate_pq(random_bytes), size=pool_size)
        self._filling = False
        self._released = asyncio.Event()
        self.port = port if isinstance(port, int) else 0
        self.started_at = 0.0
        # The Bot API front door (loopgram.botapi): None = off, 0 = a free port.
        self.bot_api_port = bot_api_port
        self._bot_api: BotApiServer | None = None
        # A process of a cluster without a Bot API still queues its updates (see below).
        self._queue_only: BotApiGateway | None = None
        self.web = web
        self._web: WebFrontend | None = None
        # Several processes: pending calls and update fan-out through Redis (loopgram.cluster).
        self.redis_url = redis_url
        self._redis_prefix = redis_prefix
        self._redis: Redis | None = None
        self._flood: RedisFloodBuckets | None = None
        self._shared: list[
            RedisHub | RedisPendingCalls | RedisQueueSignals | RedisFloodBuckets
        ] = []

    # -- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> LoopgramServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Open the storage, load (or make) the key, listen, then accept."""
        if self._listener is not None:
            raise RuntimeError("the server is already started")
        if self._raise_file_limit:
            # Each connection holds a descriptor: the listener's cap follows the limit, so
            # take all the process may have (the soft limit is often 1024 of a far higher
            # hard one).
            raise_open_file_limit()
        storage = self._storage
        if storage is None:
            target: str | os.PathLike[str] = "memory:" if self.data_dir is None else self.data_dir
            storage = open_storage(
                target,
                clock=self.clock,
                random_bytes=self.random_bytes,
                synchronous=self._synchronous,
            )
            self._storage = storage
        if self._rsa_key is None:
            self._rsa_key = load_rsa_key(storage)
        try:
            hub, calls = await self._shared_state()
        except BaseException:
            if self._given_storage is None:
                storage.close()
                self._storage = None
            raise
        store = DurableSessionStore(storage, clock=self.clock, random_bytes=self.random_bytes)
        self._store = store
        rsa_keys = [self._rsa_key]
        clock, random_bytes = self.clock, self.random_bytes
        keypair, pq = self._keypairs.take, self._pqs.take
        # A key exchange lives about as long as a connection that has not opened yet.
        handshake_timeout = self.limits.opening_timeout

        def make_connection(transport: ServerTransport) -> ServerConnection:
            return ServerConnection(
                store,
                rsa_keys=rsa_keys,
                clock=clock,
                random_bytes=random_bytes,
                transport=transport,
                keypair=keypair,
                pq=pq,
                handshake_timeout=handshake_timeout,
            )

        # The application needs the core, the core needs the port (help.getConfig): bind
        # first, accept only once everything is wired.
        app = ServerApp(store, clock=clock)
        app.on_key_created = self._refill_soon
        app.on_released = self._flush_soon
        self._app = app
        listener = Listener(
            app,
            make_connection,
            limits=self.limits,
            clock=clock,
            random_bytes=random_bytes,
        )
        try:
            await listener.start(
                self.host,
                self._requested_port,
                start_serving=False,
                rng=self._port_rng,
                attempts=self._port_attempts,
            )
        except BaseException:
            # A port already taken, say: a storage opened here is closed again, so that the
            # caller may try another port (or give up) without a connection left open.
            if self._given_storage is None:
                storage.close()
                self._storage = None
            await self._close_shared()
            raise
        self._listener = listener
        self.port = listener.port
        info = ServerInfo(host=self.advertised_host, port=self.port)
        core = ServerCore(
            storage,
            clock=clock,
            random_bytes=random_bytes,
            config=self.config,
            info=info,
            hub=hub,
            decode=layers.read,
            calls=calls,
        )
        self._core = core
        app.core = core
        if self._flood is not None:
            core.limiter.share(self._flood)  # the flood buckets every process spends from
        settings = storage.settings
        settings.set(LAST_HOST, self.advertised_host.encode())
        settings.set(LAST_PORT, str(self.port).encode())
        self._stopped = asyncio.Event()
        self._tasks = [
            asyncio.create_task(core.run_timers(), name="loopgram-timers"),
            asyncio.create_task(self._checkpoints(), name="loopgram-checkpoints"),
        ]
        await self._start_bot_api(core)
        await listener.start_serving()
        self.started_at = time.time()
        self._refill_soon()
        log.info("listening on %s:%d", self.host, self.port)

    async def _shared_state(self) -> tuple[UpdateHub | None, PendingCalls | None]:
        """The hub and pending-call table: Redis-backed with ``redis_url`` (raises when Redis
        cannot be reached), else the in-process defaults (``None``)."""
        if self.redis_url is None:
            return self._hub, None
        # Imported here: a single process never loads the Redis client.
        from loopgram.cluster import (
            RedisFloodBuckets,
            RedisHub,
            RedisPendingCalls,
            RedisQueueSignals,
        )
        from loopgram.cluster.pubsub import client_for

        # One client (one connection pool) for everything this process keeps in Redis.
        redis = self._redis = client_for(self.redis_url)
        prefix = self._redis_prefix
        flood = RedisFloodBuckets(redis, prefix=prefix)
        flood.start()
        self._shared.append(flood)
        self._flood = flood
        calls = RedisPendingCalls(redis, self.clock, prefix=prefix)
        self._shared.append(calls)
        if self._hub is not None:
            return self._hub, calls
        hub = RedisHub(redis, prefix=prefix, node_id=calls.node_id)
        try:
            await hub.start()
            self._shared.append(hub)
            queue_signals = RedisQueueSignals(redis, prefix=prefix, node_id=calls.node_id)
            await queue_signals.start()
            self._shared.append(queue_signals)
        except BaseException:
            await self._close_shared()
            raise
        return hub, calls

    async def _close_shared(self) -> None:
        for shared in reversed(self._shared):
            await shared.aclose()
        self._shared = []
        self._flood = None
        redis, self._redis = self._redis, None
        if redis is not None:
            await redis.aclose()

    async def stop(self) -> None:
        """Stop accepting, close the connections, save the sessions, close the storage."""
        listener = self._listener
        if listener is None:
            return
        self._listener = None
        await self._stop_bot_api()
        await listener.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._app is not None:
            await self._app.close()
        await self._close_shared()
        if self._store is not None:
            # A flush cancelled above may still be writing in its thread: let it land first,
            # so that the final snapshots are the last word.
            await self._store.wait_flushed()
            self._store.checkpoint()
        if self._given_storage is None and self._storage is not None:
            self._storage.close()
            self._storage = None
        if self._stopped is not None:
            self._stopped.set()
        log.info("stopped")

    async def serve_forever(self) -> None:
        """Wait until :meth:`stop` is called (from a signal handler, say)."""
        if self._stopped is None:
            raise RuntimeError("the server is not started")
        await self._stopped.wait()

    # -- facts --------------------------------------------------------------------------------

    @property
    def advertised_host(self) -> str:
        return self._advertised or advertised(self.host)

    @property
    def rsa_key(self) -> RsaPrivateKey:
        if self._rsa_key is None:
            raise RuntimeError("the server is not started")
        return self._rsa_key

    @property
    def public_key_pem(self) -> str:
        return self.rsa_key.public_key.to_pem()

    @property
    def fingerprint(self) -> int:
        return self.rsa_key.public_key.fingerprint

    @property
    def facts(self) -> ServerFacts:
        return ServerFacts(
            self.advertised_host,
            self.port,
            self.public_key_pem,
            self.fingerprint,
            self.bot_api_url,
            self.web_url,
        )

    @property
    def core(self) -> ServerCore:
        if self._core is None:
            raise RuntimeError("the server is not started")
        return self._core

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            raise RuntimeError("the server is not started")
        return self._storage

    @property
    def connections(self) -> int:
        """Open client connections."""
        return 0 if self._listener is None else len(self._listener.links)

    @property
    def running(self) -> bool:
        return self._listener is not None

    @property
    def bot_api_url(self) -> str | None:
        """Base URL of the Bot API (``{url}/bot<token>/<method>``); ``None`` when off."""
        return None if self._bot_api is None else self._bot_api.url

    @property
    def web_url(self) -> str | None:
        """The web page's address (``loopgram.web``, on the Bot API's listener, with the
        access token when the listener is not on loopback); ``None`` when off."""
        if self._bot_api is None or self._web is None:
            return None
        return self._web.url(self._bot_api.url)

    # -- accounts and time --------------------------------------------------------------------

    def create_bot(self, username: str, first_name: str | None = None) -> str:
        """A new bot whose username is ``username`` (ending in ``bot``); its token."""
        token = self.core.create_bot(username, first_name).token
        remember_bot_token(self.core.storage, token)
        return token

    def create_user(
        self, phone: str, first_name: str | None = None, last_name: str | None = None
    ) -> Account:
        """A user account for ``phone`` (it signs in with the login code, ``12345``)."""
        return self.core.create_user(phone, first_name, last_name)

    def tick(self) -> int:
        """Apply the callback-answer and inline-query deadlines by the clock now; how many
        presses and queries expired (a test that moves a fake clock calls this instead of
        waiting for the timer)."""
        return len(self.core.tick())

    # -- internals ----------------------------------------------------------------------------

    async def _start_bot_api(self, core: ServerCore) -> None:
        if self.bot_api_port is None:
            core.storage.settings.delete(LAST_BOT_API_URL)
            core.storage.settings.delete(LAST_WEB_URL)
            if self._shared:
                # One of several processes queues the Bot API updates that arise in it even
                # when it serves no Bot API: the bots poll the others.
                self._queue_only = self._gateway(core)
                self._queue_only.restore()
            return
        from loopgram.botapi import BotApiServer

        gateway = self._gateway(core)
        frontend = None
        if self.web:
            from loopgram.web import WebFrontend, is_loopback

            # The page lets its visitor act as any user: off loopback it wants a token.
            token = None if is_loopback(self.host) else secrets.token_urlsafe(18)
            frontend = WebFrontend(core, token=token)
        server = BotApiServer(
            gateway,
            self.host,
            self.bot_api_port,
            mount=None if frontend is None else frontend.mount,
        )
        try:
            gateway.restore()
            await server.start()
        except OSError as exc:
            gateway.close()
            await self.stop()
            # Not an OSError: callers that report the MTProto port for those must not here.
            raise LoopgramError(
                f"cannot serve the Bot API on {self.host}:{self.bot_api_port} "
                f"({exc.strerror or exc}): pick another port with --bot-api-port "
                "(0: any free one)"
            ) from exc
        except BaseException:
            gateway.close()
            await self.stop()
            raise
        self._bot_api = server
        self._web = frontend
        self.bot_api_port = server.port
        core.storage.settings.set(LAST_BOT_API_URL, server.url.encode())
        if frontend is None:
            core.storage.settings.delete(LAST_WEB_URL)
        else:
            core.storage.settings.set(LAST_WEB_URL, frontend.url(server.url).encode())

    def _gateway(self, core: ServerCore) -> BotApiGateway:
        from loopgram.botapi import BotApiGateway
        from loopgram.botapi.queue import NO_PEERS, QueueSignals

        # Several processes: each queues the Bot API updates that arose in it and signals
        # the others (loopgram.cluster); alone, the gateway's defaults.
        origin: OriginHub | None = None
        queue_signals: QueueSignals = NO_PEERS
        if self._shared:
            from loopgram.cluster import RedisHub, RedisQueueSignals

            for shared in self._shared:
                if isinstance(shared, RedisHub):
                    origin = shared.origin
                elif isinstance(shared, RedisQueueSignals):
                    queue_signals = shared
        gateway = BotApiGateway(
            core,
            clock=self.clock,
            random_bytes=self.random_bytes,
            signals=queue_signals,
            queue_hub=origin,
        )
        if origin is not None:
            origin.unheard = gateway.unheard
        return gateway

    async def _stop_bot_api(self) -> None:
        server, self._bot_api = self._bot_api, None
        self._web = None
        queue_only, self._queue_only = self._queue_only, None
        if queue_only is not None:
            queue_only.close()
        if server is not None:
            await server.stop()

    async def _checkpoints(self) -> None:
        """Save session state every minute, and soon after connections close."""
        wake = self._released
        while True:
            # Not wait_for: on Python 3.11 it swallows a cancel that comes as the event is
            # set (stop() closing connections does both), and stop() then waited forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CHECKPOINT_INTERVAL):
                    await wake.wait()
            if wake.is_set():
                # Let the other connections closing at about the same time join the batch.
                await asyncio.sleep(RELEASE_DELAY)
                wake.clear()
            if self._store is not None:
                await self._store.flush()

    def _flush_soon(self) -> None:
        self._released.set()

    def _refill_soon(self) -> None:
        """Top up the handshake pools in a worker thread, off the event loop's path."""
        if self._filling or self._listener is None:
            return
        low = self._keypairs.size // 2
        if len(self._keypairs) > low and len(self._pqs) > low:
            return
        self._filling = True
        task = asyncio.get_running_loop().create_task(self._refill())
        self._tasks.append(task)
        task.add_done_callback(self._tasks_prune)

    def _tasks_prune(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)

    async def _refill(self) -> None:
        try:
            await asyncio.to_thread(self._keypairs.fill)
            await asyncio.to_thread(self._pqs.fill)
        except OSError as exc:
            # Out of file descriptors, say (a lazy import opens files): key exchanges then
            # compute their values inline, and the next new key tries again.
            log.warning("could not refill the key-exchange pools: %s", exc)
        finally:
            self._filling = False


def _replace_timeout(config: ServerConfig, timeout: float) -> ServerConfig:
    return dataclasses.replace(config, callback_timeout=timeout)


# The TL registry is needed by every connection: load it with the module, not on the first
# client (which would otherwise pay for it inside its key exchange).
tl.read(b"\xb5\x75\x72\x99")
