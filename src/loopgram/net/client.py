"""asyncio driver of the client side: one TCP connection feeding a ``ClientConnection``.

:class:`Sender` owns the socket (an :class:`asyncio.Protocol`, no reader task) and the
protocol state, and turns queries into futures:

- ``request(obj)`` queues the query on the connection and returns a future for its answer.
  The first query of a loop iteration is written at once; the ones that follow in the same
  iteration leave together at its end (one ``msg_container``, one encryption), and so do the
  acks of what was received, riding with the next query instead of a packet of their own;
- the first API query of every connection is wrapped by ``wrap_first`` (the client passes
  ``invokeWithLayer(initConnection(...))``); MTProto service queries (``ping``...) never
  are: the server serves them below the API, and would not know one inside a wrapper;
- when the connection drops, the MTProto session is kept and a new connection is made with
  backoff; ``ClientConnection.start()`` re-sends the unanswered queries under their
  original ids, so the server answers each once. Queries made while disconnected wait and
  go when the connection is back. Transport error -404 (the server does not know the key)
  makes a new key and sends everything again. ``SenderListener.on_reconnected`` runs as a
  new connection resumes the session, before its first packet leaves: what the layer
  above sends then (a ping that tells the server where to push updates) goes in it;
- a ``ping_delay_disconnect`` every ``ping_interval`` keeps the connection alive, and a
  pong that does not come in time counts as a lost connection.

Time for I/O (timeouts, backoff) is the event loop's; the injected protocol clock only feeds
the ``ClientConnection`` and turns ``ack_deadline()`` into a delay. What happens above
(answers, errors, updates) is reported through :class:`SenderListener`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, cast

from loopgram import LoopgramError
from loopgram.clock import Clock, RandomBytes, system_clock, system_random
from loopgram.crypto import AuthKey, RsaPublicKey
from loopgram.mtproto.client_connection import ClientConnection
from loopgram.mtproto.errors import RemoteProtocolError
from loopgram.mtproto.events import (
    Event,
    HandshakeCompleted,
    RequestFailed,
    ResultReceived,
    SessionCreated,
    UpdateReceived,
)
from loopgram.mtproto.session import ClientSession
from loopgram.tl import TLFunction, TLObject
from loopgram.tl.mtproto import functions as mt
from loopgram.transport import TransportKind

__all__ = [
    "ConnectionLost",
    "MessageRefused",
    "ReconnectPolicy",
    "Sender",
    "SenderListener",
]

log = logging.getLogger("loopgram.client")

_NOT_FOUND: Final = -404
_SERVICE_QUERIES: Final[frozenset[type[TLObject]]] = frozenset(
    {
        mt.Ping,
        mt.PingDelayDisconnect,
        mt.GetFutureSalts,
        mt.DestroySession,
        mt.DestroyAuthKey,
        mt.RpcDropAnswer,
    }
)
"""MTProto service queries: answered below the API, so never wrapped by ``wrap_first``."""
Sleep = Callable[[float], Awaitable[None]]
ErrorFactory = Callable[[int, str, TLObject], BaseException]


class ConnectionLost(LoopgramError, ConnectionError):
    """The connection is gone and was not made again in time (or the sender was closed)
    before the query was answered."""


class MessageRefused(LoopgramError):
    """The server refused the message (``bad_msg_notification`` that re-sending cannot fix),
    or its answer could not be decoded."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """How to get a lost connection back: the first attempt at once, then after
    ``base_delay`` growing by ``factor`` up to ``max_delay``; ``retries`` attempts in all
    (``None``: forever) before pending queries fail with :class:`ConnectionLost`."""

    retries: int | None = 8
    base_delay: float = 0.05
    factor: float = 2.0
    max_delay: float = 5.0
    connect_timeout: float = 10.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (0 is the first)."""
        if attempt <= 0:
            return 0.0
        return float(min(self.max_delay, self.base_delay * self.factor ** (attempt - 1)))


class SenderListener(Protocol):
    """What the layer above learns from the sender (all called on the event loop)."""

    def on_update(self, update: TLObject | None, body: bytes) -> None:
        """A content message that answers no query (``updates``...)."""
        ...

    def on_auth_key(self, auth_key: AuthKey, salt: int, time_offset: float) -> None:
        """A key exchange made a new key (keep it to come back without a new one)."""
        ...

    def on_auth_key_lost(self) -> None:
        """The server does not know the key (-404): its login is gone too."""
        ...

    def on_session_created(self) -> None:
        """The server started a new session for us: updates may have been missed."""
        ...

    def on_connection_lost(self, reason: str) -> None:
        """The connection dropped (a reconnection follows unless the sender is closing)."""
        ...

    def on_reconnected(self) -> None:
        """A new connection carries the kept session again (not called for the first
        connection, nor for one that needs a new key). Queries made here leave in the
        connection's first packet, with the ones re-sent."""
        ...


class _Call:
    __slots__ = ("future", "origin", "request")

    def __init__(self, request: TLObject, future: asyncio.Future[Any]) -> None:
        self.request = request
        self.future = future
        self.origin = 0


class _Link(asyncio.Protocol):
    """One TCP connection; every event goes to the sender, named by this link so that a
    late event of a replaced connection is ignored."""

    __slots__ = ("_sender", "transport")

    def __init__(self, sender: Sender) -> None:
        self._sender = sender
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport. Not an isinstance check: uvloop's transports have the same
        # methods but do not derive from asyncio.Transport.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Queries are small and latency-bound: Nagle would hold them for an ack.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self._sender._on_data(self, data)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._sender._on_lost(self, "closed by the server" if exc is None else str(exc))


class Sender:
    """Queries in, answers out, over one TCP connection that is made again when lost.

    The key comes from ``session`` (an MTProto session kept from an earlier sender: same
    session id, unanswered queries re-sent), ``auth_key`` (a new session on a stored key,
    ``salt`` and ``time_offset`` as last known) or a key exchange with ``rsa_keys``.
    ``error_factory(code, message, request)`` builds the exception of an ``rpc_error``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        rsa_keys: Sequence[RsaPublicKey],
        listener: SenderListener,
        error_factory: ErrorFactory,
        auth_key: AuthKey | None = None,
        session: ClientSession | None = None,
        salt: int = 0,
        time_offset: float = 0.0,
        dc_id: int = 2,
        transport: TransportKind = TransportKind.INTERMEDIATE,
        obfuscated: bool = False,
        wrap_first: Callable[[TLFunction[Any]], TLFunction[Any]] | None = None,
        policy: ReconnectPolicy | None = None,
        ping_interval: float | None = 60.0,
        clock: Clock = system_clock,
        random_bytes: RandomBytes = system_random,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.host = host
        self.port = port
        self._rsa_keys = tuple(rsa_keys)
        self._listener = listener
        self._error_factory = error_factory
        self._auth_key = auth_key if session is None else session.auth_key
        self._session = session
        self._salt = salt
        self._time_offset = time_offset
        self._dc_id = dc_id
        self._transport_kind = transport
        self._obfuscated = obfuscated
        self._wrap_first = wrap_first
        self.policy = policy or ReconnectPolicy()
        self.ping_interval = ping_interval
        self._clock = clock
        self._random = random_bytes
        self._sleep = sleep

        self._conn: ClientConnection | None = None
        self._link: _Link | None = None
        self._needs_wrap = False
        self._calls: dict[int, _Call] = {}
        self._backlog: list[_Call] = []
        self._ready: asyncio.Event | None = None
        self._flush_handle: asyncio.Handle | None = None
        self._ack_handle: asyncio.TimerHandle | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._ping_task: asyncio.Task[None] | None = None
        self._closed = True
        self._failure: BaseException | None = None
        self._connect_error: BaseException | None = None
        self.connections = 0
        """Connections made so far (the first included)."""
        self.failed_attempts = 0
        """Reconnection attempts that failed (refused, timed out)."""
        self.writes = 0
        """Socket writes of queries (each one packet, or several queries in a container)."""
        self.bytes_sent = 0
        self.bytes_received = 0

    # -- public API ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """A connection is up and has a key (queries go out at once)."""
        return self._conn is not None and self._conn.session is not None

    @property
    def session(self) -> ClientSession | None:
        """The MTProto session (``None`` before the first key exchange completes)."""
        return self._session

    @property
    def auth_key(self) -> AuthKey | None:
        return self._auth_key

    @property
    def pending(self) -> int:
        """Queries waiting for an answer or to be sent."""
        return len(self._calls) + len(self._backlog)

    async def connect(self) -> None:
        """Make the connection and, if needed, the key; returns once queries can go."""
        if not self._closed:
            raise RuntimeError("the sender is already connected")
        self._closed = False
        self._failure = None
        self._connect_error = None
        self._ready = asyncio.Event()
        try:
            await self._open()
            await asyncio.wait_for(self._ready.wait(), self.policy.connect_timeout)
            if self._connect_error is not None:
                raise self._connect_error
        except BaseException:
            await self.close()
            raise
        if self.ping_interval:
            self._ping_task = asyncio.get_running_loop().create_task(self._ping_loop())

    def request(self, request: TLObject) -> asyncio.Future[Any]:
        """Send ``request``; the future gets its result or the exception of its error."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._closed:
            future.set_exception(self._failure or ConnectionLost("the sender is not connected"))
            return future
        call = _Call(request, future)
        if self._conn is None:
            self._backlog.append(call)
        else:
            self._send(call)
        return future

    def drop_connection(self) -> None:
        """Abort the TCP connection as a network fault would (the sender reconnects)."""
        link = self._link
        if link is not None and link.transport is not None:
            link.transport.abort()

    async def close(self) -> None:
        """Close the connection; queries still waiting fail with :class:`ConnectionLost`."""
        if self._closed and self._link is None:
            return
        self._closed = True
        for task in (self._reconnect_task, self._ping_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._reconnect_task = self._ping_task = None
        link = self._link
        if link is not None:
            self._write_out()  # what is queued, and acks: the server need not re-send
            self._detach()
            if link.transport is not None:
                link.transport.close()
        self._fail_all(ConnectionLost("the client was disconnected"))

    # -- sending ------------------------------------------------------------------------------

    def _send(self, call: _Call) -> None:
        conn = self._conn
        if conn is None:  # callers send only while connected; never silently drop a call
            raise ConnectionLost("not connected")
        request = call.request
        if (
            self._needs_wrap
            and self._wrap_first is not None
            and isinstance(request, TLFunction)
            and type(request) not in _SERVICE_QUERIES
        ):
            self._needs_wrap = False
            request = self._wrap_first(request)
        origin = conn.send_request(request)
        call.origin = origin
        self._calls[origin] = call
        if self._flush_handle is None:
            # The first query of a loop iteration leaves at once (no extra iteration of
            # latency); those that follow in the same iteration wait for the flush at its
            # end and share one packet.
            self._write_out()
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        self._write_out()

    def _write_out(self) -> None:
        conn, link = self._conn, self._link
        if conn is None or link is None or link.transport is None:
            return
        data = conn.data_to_send()
        if data:
            self.writes += 1
            self.bytes_sent += len(data)
            link.transport.write(data)
        if self._ack_handle is None:
            deadline = conn.ack_deadline()
            if deadline is not None:
                delay = min(max(deadline - self._clock(), 0.0), conn.ack_delay)
                self._ack_handle = asyncio.get_running_loop().call_later(delay, self._flush_acks)

    def _flush_acks(self) -> None:
        self._ack_handle = None
        conn, link = self._conn, self._link
        if conn is None or link is None or link.transport is None:
            return
        data = conn.data_to_send(flush_acks=True)
        if data:
            self.bytes_sent += len(data)
            link.transport.write(data)

    # -- receiving ----------------------------------------------------------------------------

    def _on_data(self, link: _Link, data: bytes) -> None:
        conn = self._conn
        if link is not self._link or conn is None:
            return
        self.bytes_received += len(data)
        try:
            events = conn.receive_data(data)
        except RemoteProtocolError as exc:
            self._handle(exc.events)
            ready = self._ready
            if exc.code == _NOT_FOUND:
                self._forget_key()
            elif ready is not None and not ready.is_set():
                # The first key exchange failed (an RSA key the server does not have...):
                # trying again would fail the same way.
                self._connect_error = ConnectionLost(f"cannot connect: {exc}")
                ready.set()
            log.info("connection to %s:%d failed: %s", self.host, self.port, exc)
            if link.transport is not None:
                link.transport.abort()  # connection_lost follows and reconnects
            return
        if events:
            self._handle(events)
        # Whatever this data calls for (acks, a query re-sent after bad_server_salt, the
        # queries callers make once woken by these answers) leaves together at the end of
        # the next iteration: acks ride with the next query instead of a packet of their own.
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def _handle(self, events: Sequence[Event]) -> None:
        calls = self._calls
        for event in events:
            kind = type(event)
            if kind is ResultReceived:
                event = cast(ResultReceived, event)
                call = calls.pop(event.msg_id, None)
                if call is None or call.future.done():
                    continue
                error = event.error
                if error is None:
                    call.future.set_result(event.result)
                else:
                    call.future.set_exception(
                        self._error_factory(error.error_code, error.error_message, call.request)
                    )
            elif kind is UpdateReceived:
                event = cast(UpdateReceived, event)
                try:
                    self._listener.on_update(event.update, event.body)
                except Exception:
                    log.exception("handling an update failed")
            elif kind is RequestFailed:
                event = cast(RequestFailed, event)
                call = calls.pop(event.msg_id, None)
                if call is not None and not call.future.done():
                    call.future.set_exception(MessageRefused(event.reason, event.error_code))
            elif kind is HandshakeCompleted:
                event = cast(HandshakeCompleted, event)
                self._auth_key = event.auth_key
                conn = self._conn
                self._session = conn.session if conn is not None else None
                self._listener.on_auth_key(event.auth_key, event.server_salt, event.time_offset)
                if self._ready is not None:
                    self._ready.set()
            elif kind is SessionCreated:
                self._listener.on_session_created()

    # -- connections --------------------------------------------------------------------------

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        link: _Link
        _, link = await asyncio.wait_for(
            loop.create_connection(lambda: _Link(self), self.host, self.port),
            self.policy.connect_timeout,
        )
        if self._closed:
            if link.transport is not None:
                link.transport.close()
            raise ConnectionLost("the sender was closed while connecting")
        options: dict[str, Any] = {
            "transport": self._transport_kind,
            "obfuscated": self._obfuscated,
            "clock": self._clock,
            "random_bytes": self._random,
            "dc_id": self._dc_id,
        }
        if self._session is not None:
            conn = ClientConnection(session=self._session, **options)
        elif self._auth_key is not None:
            conn = ClientConnection(
                auth_key=self._auth_key,
                salt=self._salt,
                time_offset=self._time_offset,
                **options,
            )
        else:
            conn = ClientConnection(rsa_keys=self._rsa_keys, **options)
        conn.start()
        self._conn = conn
        self._link = link
        self._needs_wrap = True
        resumed = self.connections > 0 and conn.session is not None
        self.connections += 1
        if conn.session is not None:
            self._session = conn.session
            if self._ready is not None:
                self._ready.set()
        backlog, self._backlog = self._backlog, []
        for call in backlog:
            if not call.future.done():
                self._send(call)
        if resumed:
            try:
                self._listener.on_reconnected()
            except Exception:
                log.exception("handling a reconnection failed")
        self._write_out()

    def _detach(self) -> None:
        """Forget the current connection (its late events are ignored from now on)."""
        for handle in (self._flush_handle, self._ack_handle):
            if handle is not None:
                handle.cancel()
        self._flush_handle = self._ack_handle = None
        conn = self._conn
        self._conn = None
        self._link = None
        if conn is not None and conn.session is not None and self._auth_key is not None:
            self._session = conn.session  # (no key: -404 made us forget it)
        # Queries the kept session will send again stay where they are (their answers keep
        # their ids); the others -- sent during a key exchange that did not finish, or under
        # a key the server forgot -- go again as new queries.
        session = self._session
        resent = set() if session is None else {p.origin for p in session.pending.values()}
        for origin in [o for o in self._calls if o not in resent]:
            self._backlog.append(self._calls.pop(origin))

    def _forget_key(self) -> None:
        self._session = None
        self._auth_key = None
        self._salt = 0
        self._listener.on_auth_key_lost()

    def _on_lost(self, link: _Link, reason: str) -> None:
        if link is not self._link:
            return
        self._detach()
        if self._closed:
            return
        log.info("connection to %s:%d lost: %s", self.host, self.port, reason)
        self._listener.on_connection_lost(reason)
        if self._reconnect_task is None:
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        policy = self.policy
        attempt = 0
        try:
            while not self._closed:
                delay = policy.delay(attempt)
                if delay:
                    await self._sleep(delay)
                try:
                    await self._open()
                    return
                except ConnectionLost:
                    return  # closed meanwhile
                except (OSError, TimeoutError) as exc:
                    attempt += 1
                    self.failed_attempts += 1
                    log.info("reconnecting to %s:%d failed: %s", self.host, self.port, exc)
                    if policy.retries is not None and attempt >= policy.retries:
                        error = ConnectionLost(
                            f"could not reconnect to {self.host}:{self.port}: {exc}"
                        )
                        self._failure = error
                        self._closed = True
                        self._fail_all(error)
                        return
        finally:
            self._reconnect_task = None

    def _fail_all(self, error: BaseException) -> None:
        calls = list(self._calls.values()) + self._backlog
        self._calls.clear()
        self._backlog.clear()
        for call in calls:
            if not call.future.done():
                call.future.set_exception(error)

    # -- keep-alive ---------------------------------------------------------------------------

    async def _ping_loop(self) -> None:
        interval = self.ping_interval
        if not interval:
            return
        while not self._closed:
            await asyncio.sleep(interval)
            if self._conn is None:
                continue
            link = self._link
            ping_id = int.from_bytes(self._random(8), "little", signed=True)
            future = self.request(
                mt.PingDelayDisconnect(ping_id=ping_id, disconnect_delay=int(interval * 1.5) + 1)
            )
            try:
                await asyncio.wait_for(future, interval / 2)
            except TimeoutError:
                if link is self._link and link is not None and link.transport is not None:
                    log.info("no pong from %s:%d: reconnecting", self.host, self.port)
                    link.transport.abort()
            except Exception:
                continue
