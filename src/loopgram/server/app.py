"""Server layer: the server application -- ``ServerCore`` on the network, and its lifecycle.

``LoopgramServer`` is what ``loopgram serve``, ``loopgram demo``, the pytest fixture and
embedding code run::

    async with LoopgramServer(data_dir="./loopgram-data", port=0) as server:
        token = server.create_bot("examplebot")
        ...  # point clients at server.host, server.port, trusting server.public_key_pem

One port serves every MTProto transport (the ``ServerTransport`` of each connection detects
it). ``ServerApp`` is the glue between the links of ``loopgram.net`` and the core:

- each MTProto session (auth key, session id) seen on a connection gets a
  ``SessionContext``, whose update sink writes to whichever connection carries the session
  now (a client that reconnects moves its session to the new connection);
- each RPC starts at once (``ServerCore.start``); one that waits -- a
  ``getBotCallbackAnswer`` waiting for the bot -- goes on as its own task, so it never
  holds up the queries behind it; ``rpc_drop_answer`` cancels the task. A query belongs to
  its MTProto session, not to the TCP connection: if the connection drops, the query runs
  on, its answer waits in the session's outbox, and the client gets it when it comes back
  on the same session (its copy of the query, re-sent under the same ``msg_id``, is a
  duplicate the server ignores);
- answers and updates are written in the session's layer (``invokeWithLayer``), and leave
  together when they become ready in the same loop iteration;
- a connection's sessions stop receiving updates when it closes, and are saved (once their
  running queries are done).

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
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from loopgram import LoopgramError, tl
from loopgram.crypto import SERVER_EXPONENT_BITS, RsaPrivateKey, generate_keypair, generate_pq
from loopgram.mtproto.deps import Clock, RandomBytes, system_clock, system_random
from loopgram.mtproto.errors import LocalProtocolError
from loopgram.mtproto.events import (
    AuthKeyCreated,
    DisconnectRequested,
    Event,
    MessageRejected,
    RequestCancelled,
    RequestReceived,
    SessionCreated,
    SessionDestroyed,
)
from loopgram.mtproto.handshake import PrecomputedPool
from loopgram.mtproto.server_connection import ServerConnection
from loopgram.net import LOW_PORTS, Limits, Link, Listener, raise_open_file_limit
from loopgram.ratelog import RateLimitedLog
from loopgram.server.config import ServerConfig, ServerInfo
from loopgram.server.context import SessionContext
from loopgram.server.core import ServerCore
from loopgram.server.dispatch import Answer
from loopgram.server.errors import INTERNAL
from loopgram.server.hub import UpdateHub
from loopgram.server.session_store import DurableSessionStore
from loopgram.storage import RSA_PRIVATE_KEY_PEM, Account, Storage, open_storage
from loopgram.storage.sqlite import Synchronous
from loopgram.tl import TLObject, layers
from loopgram.tl.abcs import Updates
from loopgram.transport import ServerTransport

if TYPE_CHECKING:
    from loopgram.botapi import BotApiServer
    from loopgram.web import WebFrontend

__all__ = [
    "DEFAULT_DATA_DIR",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LAST_BOT_API_URL",
    "LAST_HOST",
    "LAST_PORT",
    "LAST_WEB_URL",
    "LOW_PORTS",
    "LoopgramServer",
    "ServerApp",
    "ServerFacts",
    "ever_served",
    "load_facts",
    "load_rsa_key",
    "recall_bot_token",
    "remember_bot_token",
]

log = logging.getLogger("loopgram.server")
rpc_log = logging.getLogger("loopgram.rpc")

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 20443
"""Below 32768 (some clients keep the port in a signed 16-bit field) and unprivileged."""
DEFAULT_DATA_DIR: Final = "loopgram-data"

LAST_HOST: Final = "server.last_host"
LAST_PORT: Final = "server.last_port"
"""Settings keys: where the server last listened (``loopgram info``)."""
LAST_BOT_API_URL: Final = "server.last_bot_api_url"
"""Settings key: the Bot API's base URL of the last server, absent if it had none."""
LAST_WEB_URL: Final = "server.last_web_url"
"""Settings key: the web page's address of the last server (with its access token, if it
needed one: the data directory holds secrets enough already), absent if it had none."""

CHECKPOINT_INTERVAL: Final = 60.0
"""Seconds between saves of the live sessions' state (see ``session_store``)."""
RELEASE_DELAY: Final = 0.5
"""Seconds the sessions of closed connections wait to be saved together."""

_LOGIN_METHODS: Final = frozenset({"auth.signIn", "auth.signUp", "auth.importBotAuthorization"})
_WILDCARD_HOSTS: Final = frozenset({"", "0.0.0.0", "::"})


# -- facts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerFacts:
    """What a client needs to connect: address and the RSA key to trust."""

    host: str
    port: int
    public_key_pem: str
    fingerprint: int
    """The key's fingerprint as the signed 64-bit value sent in ``resPQ``."""
    bot_api_url: str | None = None
    """The Bot API's base URL (``{url}/bot<token>/<method>``), ``None`` without one."""
    web_url: str | None = None
    """The web page (on the Bot API's listener), ``None`` without one."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "public_key_pem": self.public_key_pem,
            "fingerprint": self.fingerprint,
            "bot_api_url": self.bot_api_url,
            "web_url": self.web_url,
        }

    def describe(self) -> str:
        """The human-readable block ``loopgram serve`` and ``loopgram info`` print."""
        unsigned = self.fingerprint & 0xFFFFFFFFFFFFFFFF
        return (
            f"host: {self.host}\n"
            f"port: {self.port}\n"
            f"fingerprint: {self.fingerprint} (0x{unsigned:016x})\n"
            f"bot api: {self.bot_api_url or 'off'}\n"
            f"web: {self.web_url or 'off'}\n"
            f"public key:\n{self.public_key_pem.rstrip()}\n"
        )


def load_rsa_key(storage: Storage) -> RsaPrivateKey:
    """The server's RSA key from the settings, generated and stored on first use.

    ``setdefault`` makes two processes starting at once (``serve`` and ``info``) agree on
    one key.
    """
    pem = storage.settings.get(RSA_PRIVATE_KEY_PEM)
    if pem is None:
        fresh = RsaPrivateKey.generate().to_pem().encode("ascii")
        pem = storage.settings.setdefault(RSA_PRIVATE_KEY_PEM, fresh)
    return RsaPrivateKey.from_pem(pem)


def load_facts(storage: Storage) -> ServerFacts:
    """The facts of a data directory: its key, and where its server listened last (or the
    defaults if it never ran)."""
    key = load_rsa_key(storage)
    host_raw = storage.settings.get(LAST_HOST)
    port_raw = storage.settings.get(LAST_PORT)
    host = host_raw.decode() if host_raw else DEFAULT_HOST
    port = int(port_raw.decode()) if port_raw else DEFAULT_PORT
    url_raw = storage.settings.get(LAST_BOT_API_URL)
    url = url_raw.decode() if url_raw else None
    web_raw = storage.settings.get(LAST_WEB_URL)
    web_url = web_raw.decode() if web_raw else None
    return ServerFacts(
        host, port, key.public_key.to_pem(), key.public_key.fingerprint, url, web_url
    )


BOT_TOKEN_PREFIX: Final = "bot.token."
"""Settings key prefix (``bot.token.<bot id>``): the last token made for each bot, so that
``loopgram bot token NAME`` can print it again. The accounts table keeps only a token's
hash, for logins; a copy here adds nothing to what the data directory already gives away
(it holds the RSA private key and the login secret, enough to impersonate the server)."""


def remember_bot_token(storage: Storage, token: str) -> None:
    """Keep ``token`` (``<bot id>:<secret>``) for :func:`recall_bot_token`."""
    bot_id, _, _ = token.partition(":")
    storage.settings.set(BOT_TOKEN_PREFIX + bot_id, token.encode())


def recall_bot_token(storage: Storage, bot_id: int) -> str | None:
    """The last token made for the bot, if it was made with this data directory's tools."""
    raw = storage.settings.get(f"{BOT_TOKEN_PREFIX}{bot_id}")
    return None if raw is None else raw.decode()


def ever_served(storage: Storage) -> bool:
    """Whether a server has ever listened with this storage (it records where)."""
    return storage.settings.get(LAST_PORT) is not None


def _advertised(host: str) -> str:
    return DEFAULT_HOST if host in _WILDCARD_HOSTS else host


# -- the application ---------------------------------------------------------------------------

Serialize = Callable[[TLObject], bytes]
_ENCODERS: dict[int, Serialize] = {}


def _encoder(layer: int | None) -> Serialize:
    """Writes objects in the layout of the session's layer (the newest if unknown)."""
    if layer is None or layer >= layers.NEWEST:
        return bytes
    encoder = _ENCODERS.get(layer)
    if encoder is None:
        try:
            shipped = layers.nearest_layer(layer)
        except layers.UnsupportedLayerError:
            shipped = layers.NEWEST  # the dispatcher refuses such a layer anyway
        if shipped == layers.NEWEST:
            encoder = bytes
        else:

            def encoder(obj: TLObject, _layer: int = shipped) -> bytes:
                return layers.serialize(obj, _layer)

        _ENCODERS[layer] = encoder
    return encoder


class _LiveSession:
    """A session with a ``SessionContext``, and the link that carries it now."""

    __slots__ = ("context", "key", "link")

    def __init__(self, key: tuple[int, int], link: Link) -> None:
        self.key = key
        self.link = link
        self.context: SessionContext | None = None


class ServerApp:
    """The :class:`~loopgram.net.LinkHandler` that runs RPCs through a ``ServerCore``.

    ``clock`` times the rate limit of what clients can make it log.
    """

    def __init__(
        self,
        store: DurableSessionStore,
        core: ServerCore | None = None,
        *,
        clock: Clock = system_clock,
    ) -> None:
        self._core = core
        self.store = store
        # A result that does not encode is a bug, but one a client can hit again and again:
        # one traceback per method a minute.
        self._limited_log = RateLimitedLog(log, clock=clock)
        self._live: dict[tuple[int, int], _LiveSession] = {}
        self._by_link: dict[Link, set[tuple[int, int]]] = {}
        # Running queries by (auth key, session, msg_id), and how many each session has.
        self._running: dict[tuple[int, int, int], asyncio.Task[None]] = {}
        self._busy: dict[tuple[int, int], int] = {}
        self.requests = 0
        self.on_key_created: Callable[[], None] | None = None
        self.on_released: Callable[[], None] | None = None

    @property
    def core(self) -> ServerCore:
        if self._core is None:
            raise RuntimeError("the application has no core yet")
        return self._core

    @core.setter
    def core(self, core: ServerCore) -> None:
        self._core = core

    @property
    def live_sessions(self) -> int:
        return len(self._live)

    # -- LinkHandler --------------------------------------------------------------------------

    def link_opened(self, link: Link) -> None:
        self._by_link[link] = set()

    def events_received(self, link: Link, events: list[Event]) -> None:
        # What one read brought is served as one step: its requests' storage reads share
        # one check for other writers' commits (three per callback press otherwise).
        with self.core.storage.reading():
            self._serve_events(link, events)

    def _serve_events(self, link: Link, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, RequestReceived):
                self._on_request(link, event)
            elif isinstance(event, SessionCreated):
                self._bind(link, (event.auth_key_id, event.session_id))
            elif isinstance(event, RequestCancelled):
                task = self._running.get((event.auth_key_id, event.session_id, event.msg_id))
                if task is not None:
                    task.cancel()
            elif isinstance(event, DisconnectRequested):
                link.disconnect_after(event.delay)
            elif isinstance(event, SessionDestroyed):
                self._drop((event.auth_key_id, event.session_id))
            elif isinstance(event, AuthKeyCreated):
                log.debug("connection #%d: auth key %#x created", link.number, event.auth_key_id)
                if self.on_key_created is not None:
                    self.on_key_created()
            elif isinstance(event, MessageRejected):
                log.debug(
                    "connection #%d: message %#x refused with code %d",
                    link.number,
                    event.msg_id,
                    event.error_code,
                )
        # A client back on a new connection may send only pings at first: its session moved
        # here all the same, and so must the updates for it.
        connection = link.connection
        for session in connection.sessions:
            if session.owner is connection and session.announced:
                key = (session.auth_key_id, session.session_id)
                live = self._live.get(key)
                if live is None or live.link is not link:
                    self._bind(link, key)

    def link_closed(self, link: Link) -> None:
        keys = self._by_link.pop(link, set())
        for key in keys:
            live = self._live.get(key)
            if live is not None and live.link is link:
                self._drop(key)
        connection = link.connection
        # A session with queries still running stays in memory: their answers go to it, and
        # it is released when the last one ends (see _finished).
        self.store.release(
            s
            for s in connection.sessions
            if s.owner is connection and not self._busy.get((s.auth_key_id, s.session_id))
        )
        if self.on_released is not None:
            self.on_released()

    async def close(self) -> None:
        """Cancel the running queries (server shutdown) and wait for them."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- sessions ---------------------------------------------------------------------------

    def _bind(self, link: Link, key: tuple[int, int]) -> _LiveSession:
        live = self._live.get(key)
        if live is None:
            live = self._live[key] = _LiveSession(key, link)
            live.context = self.core.open_session(key[0], key[1], lambda u: self._push(live, u))
        elif live.link is not link:
            old = self._by_link.get(live.link)
            if old is not None:
                old.discard(key)
            live.link = link
        self._by_link.setdefault(link, set()).add(key)
        return live

    def _drop(self, key: tuple[int, int]) -> None:
        live = self._live.pop(key, None)
        if live is None:
            return
        links = self._by_link.get(live.link)
        if links is not None:
            links.discard(key)
        if live.context is not None:
            live.context.close()

    def _push(self, live: _LiveSession, updates: Updates) -> None:
        context = live.context
        link = live.link
        if context is None or link.closed:
            return
        data = _encoder(context.layer)(updates)
        try:
            link.connection.send_update(data, session_id=live.key[1])
        except LocalProtocolError:
            return  # the session is not (yet) announced on this connection
        link.flush_soon()

    # -- requests -----------------------------------------------------------------------------

    def _on_request(self, link: Link, event: RequestReceived) -> None:
        live = self._live.get((event.auth_key_id, event.session_id))
        if live is None or live.link is not link:
            live = self._bind(link, (event.auth_key_id, event.session_id))
        self.requests += 1
        context = live.context
        if context is None:  # pragma: no cover - _bind always sets it
            return
        started = time.perf_counter()
        outcome = self.core.start(context, event.request, event.body, event.msg_id)
        if isinstance(outcome, Answer):
            self._reply(link, live, context, event.msg_id, outcome, started)
            return
        key = (event.auth_key_id, event.session_id, event.msg_id)
        task = link.spawn(key, self._serve(link, live, event, outcome, started), outlive=True)
        self._running[key] = task
        session_key = key[:2]
        self._busy[session_key] = self._busy.get(session_key, 0) + 1
        task.add_done_callback(lambda done: self._finished(link, key, done))

    def _finished(self, link: Link, key: tuple[int, int, int], task: asyncio.Task[None]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        session_key = (key[0], key[1])
        left = self._busy.get(session_key, 1) - 1
        if left > 0:
            self._busy[session_key] = left
            return
        self._busy.pop(session_key, None)
        if link.closed and session_key not in self._live:
            # The last query of a session whose connection is gone: it can be saved now.
            connection = link.connection
            self.store.release(
                s
                for s in connection.sessions
                if s.owner is connection and (s.auth_key_id, s.session_id) == session_key
            )
            if self.on_released is not None:
                self.on_released()

    async def _serve(
        self,
        link: Link,
        live: _LiveSession,
        event: RequestReceived,
        rest: Coroutine[Any, Any, Answer],
        started: float,
    ) -> None:
        context = live.context
        if context is None:  # pragma: no cover - _bind always sets it
            rest.close()
            return
        answer = await rest
        self._reply(link, live, context, event.msg_id, answer, started)

    def _reply(
        self,
        link: Link,
        live: _LiveSession,
        context: SessionContext,
        msg_id: int,
        answer: Answer,
        started: float,
    ) -> None:
        connection = link.connection
        try:
            if answer.error is not None:
                connection.send_error(msg_id, answer.error.code, answer.error.message)
            else:
                try:
                    data = answer.encode(_encoder(context.layer))
                except Exception:
                    self._limited_log.error(
                        ("encode", answer.method),
                        "%s: the result does not encode",
                        answer.method,
                        exc_info=True,
                    )
                    error = INTERNAL()
                    connection.send_error(msg_id, error.code, error.message)
                else:
                    connection.send_result(msg_id, data)
        except LocalProtocolError:
            return  # the query is no longer waiting here (dropped by the client)
        # The session may have moved to another connection meanwhile (or be offline): the
        # answer was queued on the session, and the connection that carries it now writes it
        # (a connection it comes back on later re-sends its outbox).
        current = self._live.get(live.key)
        if current is not None:
            current.link.flush_soon()
        link.flush_soon()
        self._log(link, context, answer, time.perf_counter() - started)

    @staticmethod
    def _log(link: Link, context: SessionContext, answer: Answer, elapsed: float) -> None:
        account = context.account
        if answer.method in _LOGIN_METHODS and answer.error is None and account is not None:
            kind = "bot" if account.is_bot else "user"
            name = f"@{account.username}" if account.username else account.phone or ""
            log.info("connection #%d: logged in as %s %d %s", link.number, kind, account.id, name)
        # At INFO, the default of `loopgram serve`: a bot developer watching the server wants
        # each call of the bot under test and its outcome. The check keeps the formatting off
        # the path when nothing listens (in-process servers, benchmarks).
        if rpc_log.isEnabledFor(logging.INFO):
            who = account.id if account is not None else "-"
            outcome = "ok" if answer.error is None else str(answer.error)
            rpc_log.info(
                "#%d %s %s -> %s (%.1f ms)",
                link.number,
                who,
                answer.method or "?",
                outcome,
                elapsed * 1000,
            )


# -- the server ------------------------------------------------------------------------------


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
    to skip generating it).
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
        self.web = web
        self._web: WebFrontend | None = None

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
            hub=self._hub,
            decode=layers.read,
        )
        self._core = core
        app.core = core
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
        return self._advertised or _advertised(self.host)

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
            return
        from loopgram.botapi import BotApiGateway, BotApiServer

        gateway = BotApiGateway(core, clock=self.clock, random_bytes=self.random_bytes)
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

    async def _stop_bot_api(self) -> None:
        server, self._bot_api = self._bot_api, None
        self._web = None
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
