"""asyncio driver of the server side: a listener and one :class:`Link` per TCP connection.

A :class:`Link` is an :class:`asyncio.Protocol` (not a stream pair: no reader task and no
buffers per connection, which keeps a thousand idle clients cheap). It feeds every chunk the
socket delivers to its ``ServerConnection``, hands the events to the application
(:class:`LinkHandler`), and writes what ``data_to_send()`` returns. It also owns what only
I/O can know about:

- the ack timer: acknowledgements wait up to ``ack_delay`` so that several travel together;
  the timer fires once per batch and flushes them;
- timeouts: a connection that has not sent one complete packet the server could act on
  within ``opening_timeout`` of connecting (silent, or dribbling a frame that never ends) is
  closed; after that, one silent for ``idle_timeout``, and one whose
  ``ping_delay_disconnect`` ran out;
- limits: the transport refuses frames over ``max_packet`` (a huge declared length fails at
  once, before any byte of the body is buffered); a connection that keeps sending packets that
  fail the ``msg_key`` check is closed; reading pauses while the client does not read what it
  is sent or while too many of its requests are being handled;
- faults: a ``RemoteProtocolError`` gets its framed reply (transport error -404...) and the
  connection closes; an exception of the application is logged and closes only this link.

Time for I/O (timeouts) is the event loop's; the injected protocol clock only serves to turn
``ack_deadline()`` into a delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any, Final, Protocol, cast

from loopgram.mtproto.deps import Clock, RandomBytes, system_clock, system_random
from loopgram.mtproto.errors import RemoteProtocolError
from loopgram.mtproto.events import Event
from loopgram.mtproto.server_connection import ServerConnection
from loopgram.transport import ServerTransport

__all__ = ["ConnectionFactory", "Limits", "Link", "LinkHandler", "Listener"]

log = logging.getLogger("loopgram.net")

ConnectionFactory = Callable[[ServerTransport], ServerConnection]
"""Builds the protocol state of a new connection around the transport the listener made."""

_MAX_DROPPED: Final = 16
"""Undecryptable packets tolerated on one connection: a real client sends none."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one connection may cost the server; every value has a reason in its comment."""

    max_packet: int = 1024 * 1024 + 4096
    """Largest transport payload accepted: a 512 KiB upload part (the largest thing real
    clients send) with room to spare; Telegram itself closes connections beyond ~1 MiB."""
    opening_timeout: float = 30.0
    """Seconds a new connection has to send its first complete packet (one the server
    answers or acts on). Measured from the connection, not from the last byte, so that a
    client dribbling one byte at a time does not hold the socket forever."""
    idle_timeout: float = 300.0
    """Seconds without any received byte before closing. Clients ping once a minute
    (Telethon: ``ping_delay_disconnect`` every 60 s), so only dead peers reach this."""
    max_inflight: int = 512
    """Requests of one connection being handled at once; past that, reading pauses (the
    client's TCP window then slows it down) instead of queuing work without bound."""
    write_buffer: int = 4 * 1024 * 1024
    """Bytes waiting for a slow reader before the server stops reading from it."""
    max_connections: int = 50_000
    """Connections accepted at once; beyond, new ones are closed immediately."""

    def __post_init__(self) -> None:
        if self.max_packet <= 0 or self.max_inflight <= 0 or self.write_buffer <= 0:
            raise ValueError("limits must be positive")
        if self.opening_timeout <= 0 or self.idle_timeout <= 0:
            raise ValueError("timeouts must be positive")


class LinkHandler(Protocol):
    """The application on top of the links (``loopgram.server.app``)."""

    def link_opened(self, link: Link) -> None: ...

    def events_received(self, link: Link, events: list[Event]) -> None:
        """Act on events; queue answers on ``link.connection`` and call ``link.flush_soon``."""
        ...

    def link_closed(self, link: Link) -> None: ...


class Link(asyncio.Protocol):
    """One accepted TCP connection, driven for its ``ServerConnection``."""

    def __init__(self, listener: Listener, number: int) -> None:
        self._listener = listener
        self._loop = listener.loop
        self._limits = listener.limits
        self.number = number
        """Sequential id of the connection in this process (for logs)."""
        self.peer = "?"
        self.connection = listener.make_connection(
            ServerTransport(max_packet=self._limits.max_packet, random_bytes=listener.random_bytes)
        )
        self.opened_at = self._loop.time()
        self.closed = False
        self.close_reason = ""
        self.received_bytes = 0
        self.sent_bytes = 0
        self.opened = False
        """Whether the client sent a complete packet (the opening timeout no longer applies)."""
        self._transport: asyncio.Transport | None = None
        self._last_rx = self.opened_at
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}
        self._outliving: set[Hashable] = set()
        self._flush_handle: asyncio.Handle | None = None
        self._ack_handle: asyncio.TimerHandle | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self._disconnect_handle: asyncio.TimerHandle | None = None
        self._writing_paused = False
        self._reading_paused = False
        self._receiving = False

    def __repr__(self) -> str:
        return f"<Link #{self.number} {self.peer}>"

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # create_server gives stream transports. Not an isinstance check: uvloop's transports
        # have the same methods but do not derive from asyncio.Transport.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = f"{peer[0]}:{peer[1]}"
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Answers are small and latency-bound: never let Nagle hold them back.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=self._limits.write_buffer)
        listener = self._listener
        if listener.closing:
            # Accepted just before the listening socket closed: nothing will serve it.
            self.closed = True
            transport.abort()
            return
        if len(listener.links) >= self._limits.max_connections:
            log.warning("connection #%d from %s refused: too many connections", self.number, self)
            self.closed = True
            transport.abort()
            return
        listener.links.add(self)
        self._idle_handle = self._loop.call_later(self._limits.opening_timeout, self._on_idle)
        log.info("connection #%d from %s opened", self.number, self.peer)
        try:
            listener.handler.link_opened(self)
        except Exception:
            log.exception("link_opened of %r failed", self)
            self.close("internal error")

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self._last_rx = self._loop.time()
        self.received_bytes += len(data)
        connection = self.connection
        try:
            events = connection.receive_data(data)
        except RemoteProtocolError as exc:
            self._fail(exc)
            return
        except Exception:
            # A bug below must cost this connection only, never the server.
            log.exception("connection #%d: receive_data failed", self.number)
            self.close("internal error")
            return
        if events:
            self._mark_opened()
            # What the application queues on this link while it handles these events goes
            # out with the flush below: no need to schedule another.
            self._receiving = True
            try:
                self._deliver(events)
            finally:
                self._receiving = False
        self.flush()
        if connection.dropped > _MAX_DROPPED:
            self.close(f"{connection.dropped} undecryptable packets")

    def eof_received(self) -> bool | None:
        self.close_reason = self.close_reason or "closed by the client"
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        was_registered = self in self._listener.links
        self.closed = True
        if not self.close_reason:
            self.close_reason = f"lost: {exc}" if exc is not None else "closed by the client"
        for handle in (self._flush_handle, self._ack_handle, self._idle_handle):
            if handle is not None:
                handle.cancel()
        if self._disconnect_handle is not None:
            self._disconnect_handle.cancel()
        self._flush_handle = self._ack_handle = self._idle_handle = None
        self._disconnect_handle = None
        tasks = [t for k, t in self._tasks.items() if k not in self._outliving]
        self._tasks.clear()
        self._outliving.clear()
        for task in tasks:
            task.cancel()
        self._transport = None
        if not was_registered:
            return
        self._listener.links.discard(self)
        log.info(
            "connection #%d from %s closed after %.1f s (%s; %d bytes in, %d out)",
            self.number,
            self.peer,
            self._loop.time() - self.opened_at,
            self.close_reason,
            self.received_bytes,
            self.sent_bytes,
        )
        try:
            self._listener.handler.link_closed(self)
        except Exception:
            log.exception("link_closed of %r failed", self)
        self._listener._link_gone()

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._update_reading()

    # -- for the application ----------------------------------------------------------------

    @property
    def inflight(self) -> int:
        """Requests being handled."""
        return len(self._tasks)

    def flush(self) -> None:
        """Write everything the connection has queued, now."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        transport = self._transport
        if transport is None:
            return
        try:
            data = self.connection.data_to_send()
        except Exception:
            log.exception("connection #%d: data_to_send failed", self.number)
            self.close("internal error")
            return
        if data:
            # Something was answered: the client has sent at least one whole packet.
            self._mark_opened()
            self.sent_bytes += len(data)
            transport.write(data)
        self._arm_ack_timer()

    def flush_soon(self) -> None:
        """Write at the end of this loop iteration: answers and updates that become ready in
        the same iteration leave in one packet (one container, one encryption)."""
        if self._flush_handle is None and self._transport is not None and not self._receiving:
            self._flush_handle = self._loop.call_soon(self.flush)

    def spawn(
        self, key: Hashable, coro: Coroutine[Any, Any, None], *, outlive: bool = False
    ) -> asyncio.Task[None]:
        """Run ``coro`` as this connection's task ``key``: it counts towards ``max_inflight``
        while it runs, and is cancelled when the link closes -- unless ``outlive`` (work
        that belongs to something longer-lived than the TCP connection, which then owns
        its cancellation)."""
        task = self._loop.create_task(coro)
        previous = self._tasks.get(key)
        if previous is not None:
            previous.cancel()
        self._tasks[key] = task
        if outlive:
            self._outliving.add(key)
        task.add_done_callback(lambda done: self._task_done(key, done))
        if len(self._tasks) >= self._limits.max_inflight:
            self._update_reading()
        return task

    def cancel(self, key: Hashable) -> bool:
        """Cancel the task ``key`` (``rpc_drop_answer``); whether it was running."""
        task = self._tasks.pop(key, None)
        if task is None:
            return False
        self._outliving.discard(key)
        task.cancel()
        self._update_reading()
        return True

    def disconnect_after(self, delay: float) -> None:
        """``ping_delay_disconnect``: close in ``delay`` seconds unless called again."""
        if self._disconnect_handle is not None:
            self._disconnect_handle.cancel()
        self._disconnect_handle = self._loop.call_later(
            max(delay, 0.0), self.close, f"no ping within {delay} s"
        )

    def close(self, reason: str = "closed by the server") -> None:
        """Close after writing what is buffered (the reply to a fault, say)."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = self.close_reason or reason
        if self._transport is not None:
            self._transport.close()

    def abort(self, reason: str = "aborted") -> None:
        """Close at once, dropping what is buffered."""
        self.closed = True
        self.close_reason = self.close_reason or reason
        if self._transport is not None:
            self._transport.abort()

    # -- internals ----------------------------------------------------------------------------

    def _deliver(self, events: list[Event]) -> None:
        try:
            self._listener.handler.events_received(self, events)
        except Exception:
            log.exception("connection #%d: handling %d events failed", self.number, len(events))
            self.close("internal error")

    def _fail(self, exc: RemoteProtocolError) -> None:
        log.info("connection #%d from %s: %s", self.number, self.peer, exc)
        if exc.events:
            self._deliver(list(exc.events))
        transport = self._transport
        if transport is not None:
            try:
                pending = self.connection.data_to_send(flush_acks=True)
            except Exception:
                pending = b""
            out = pending + exc.reply
            if out:
                self.sent_bytes += len(out)
                transport.write(out)
        self.close(f"protocol error: {exc}")

    def _task_done(self, key: Hashable, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
            self._outliving.discard(key)
        if not task.cancelled() and task.exception() is not None:
            log.error("connection #%d: request task failed", self.number, exc_info=task.exception())
        if self._reading_paused:
            self._update_reading()

    def _update_reading(self) -> None:
        transport = self._transport
        if transport is None or self.closed:
            return
        pause = self._writing_paused or len(self._tasks) >= self._limits.max_inflight
        if pause and not self._reading_paused:
            self._reading_paused = True
            transport.pause_reading()
        elif not pause and self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()

    def _arm_ack_timer(self) -> None:
        if self._ack_handle is not None or self.closed:
            return
        deadline = self.connection.ack_deadline()
        if deadline is None:
            return
        # The deadline is on the protocol clock (possibly a test's fake one): clamp the delay
        # so that a clock far off the loop's neither fires at once forever nor never.
        ack_delay = self.connection.ack_delay
        delay = min(max(deadline - self._listener.clock(), 0.0), ack_delay)
        self._ack_handle = self._loop.call_later(delay, self._on_ack_timer)

    def _on_ack_timer(self) -> None:
        self._ack_handle = None
        transport = self._transport
        if transport is None:
            return
        try:
            data = self.connection.data_to_send(flush_acks=True)
        except Exception:
            log.exception("connection #%d: data_to_send failed", self.number)
            self.close("internal error")
            return
        if data:
            self.sent_bytes += len(data)
            transport.write(data)

    def _mark_opened(self) -> None:
        if self.opened:
            return
        self.opened = True
        # The timer was armed for the opening timeout; an idle timeout shorter than what is
        # left of it must not wait for it.
        handle = self._idle_handle
        deadline = self._last_rx + self._limits.idle_timeout
        if handle is not None and handle.when() > deadline:
            handle.cancel()
            self._idle_handle = self._loop.call_at(deadline, self._on_idle)

    def _on_idle(self) -> None:
        self._idle_handle = None
        if self.closed:
            return
        now = self._loop.time()
        if not self.opened:
            left = self.opened_at + self._limits.opening_timeout - now
            if left <= 0:
                self.close("no complete packet in time")
                return
        else:
            silent = now - self._last_rx
            left = self._limits.idle_timeout - silent
            if left <= 0:
                self.close(f"idle for {silent:.0f} s")
                return
        # One timer per connection, re-armed lazily: receiving never touches it.
        self._idle_handle = self._loop.call_later(left, self._on_idle)


class Listener:
    """The listening socket(s) of one server and the set of live links.

    ``handler`` is the application; ``make_connection`` builds a connection's protocol
    state around the :class:`~loopgram.transport.ServerTransport` made with ``limits``.
    """

    def __init__(
        self,
        handler: LinkHandler,
        make_connection: ConnectionFactory,
        *,
        limits: Limits | None = None,
        clock: Clock = system_clock,
        random_bytes: RandomBytes = system_random,
    ) -> None:
        self.handler = handler
        self.make_connection = make_connection
        self.limits = limits or Limits()
        self.clock = clock
        self.random_bytes = random_bytes
        self.links: set[Link] = set()
        self.closing = False
        self.accepted = 0
        self._numbers = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._all_gone: asyncio.Event | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the listener is not started")
        return self._loop

    async def start(self, host: str, port: int, *, start_serving: bool = True) -> None:
        """Bind ``host:port`` (0: a free port); accept now or on :meth:`start_serving`."""
        if self._server is not None:
            raise RuntimeError("the listener is already started")
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(
            self._new_link,
            host,
            port,
            reuse_address=True,
            backlog=1024,
            start_serving=start_serving,
        )

    async def start_serving(self) -> None:
        if self._server is None:
            raise RuntimeError("the listener is not started")
        await self._server.start_serving()

    @property
    def port(self) -> int:
        """The bound port (the real one when started with port 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the listener is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    def _new_link(self) -> Link:
        self.accepted += 1
        return Link(self, next(self._numbers))

    def _link_gone(self) -> None:
        if not self.links and self._all_gone is not None:
            self._all_gone.set()

    async def close(self, *, timeout: float = 5.0) -> None:
        """Stop accepting, close every link (buffered bytes go out first), wait for them."""
        server = self._server
        if server is None:
            return
        self.closing = True
        server.close()
        if self.links:
            self._all_gone = asyncio.Event()
            for link in list(self.links):
                link.close("server shutting down")
            try:
                await asyncio.wait_for(self._all_gone.wait(), timeout)
            except TimeoutError:
                for link in list(self.links):
                    link.abort("server shutting down")
                await asyncio.sleep(0)
        # Some Python versions wait here for every accepted transport to detach; one that a
        # client keeps half-open must not hold the shutdown.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 1.0)
        self._server = None
