"""asyncio driver of the server side: a listener and one :class:`Link` per TCP connection.

A :class:`Link` is an :class:`asyncio.Protocol` (not a stream pair: no reader task and no
buffers per connection, which keeps a thousand idle clients cheap). It feeds every chunk the
socket delivers to its ``ServerConnection``, hands the events to the application
(:class:`LinkHandler`), and writes what ``data_to_send()`` returns. It also owns what only
I/O can know about:

- the ack timer: acknowledgements wait up to ``ack_delay`` so that several travel together;
  the timer fires once per batch and flushes them;
- timeouts: a connection that has not opened within ``opening_timeout`` of connecting
  (silent, dribbling a frame that never ends, or stopping half-way through a key exchange)
  is closed; after that, one silent for ``idle_timeout``, and one whose
  ``ping_delay_disconnect`` ran out. A connection opens when it sends a message under an
  auth key, or when the server answers it outside a key exchange in progress (the exchange
  finished, say): a ``resPQ`` alone does not open it;
- limits: the transport refuses frames over ``max_packet`` (a huge declared length fails at
  once, before any byte of the body is buffered); a connection that keeps sending packets that
  fail the ``msg_key`` check is closed; reading pauses while the client does not read what it
  is sent or while too many of its requests are being handled;
- faults: a ``RemoteProtocolError`` gets its framed reply (transport error -404...) and the
  connection closes; an exception of the application is logged and closes only this link;
- descriptors (the :class:`Listener`): connections are capped in total by the open-file
  limit and per peer address; ones over a cap are closed as they are accepted, and running
  out of descriptors pauses accepting.

Whatever a client can make this layer log (refused connections, a failure that closes its
link) goes through one :class:`~loopgram.ratelog.RateLimitedLog` per listener: one line per
kind a minute, the next one saying how many were left out.

Time for I/O (timeouts) is the event loop's; the injected protocol clock serves to turn
``ack_deadline()`` into a delay and times the rate limit of the log (a test moves it).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import random
import socket
from collections.abc import Callable, Coroutine, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, cast

from loopgram.clock import Clock, RandomBytes, system_clock, system_random
from loopgram.mtproto.errors import RemoteProtocolError
from loopgram.mtproto.events import Event
from loopgram.mtproto.server_connection import ServerConnection
from loopgram.ratelog import RateLimitedLog
from loopgram.transport import ServerTransport

try:
    import resource
except ImportError:  # pragma: no cover - Windows: no open-file limit to read or raise
    resource = None  # type: ignore[assignment]

__all__ = [
    "LOW_PORTS",
    "ConnectionFactory",
    "Limits",
    "Link",
    "LinkHandler",
    "Listener",
    "open_file_limit",
    "raise_open_file_limit",
]

log = logging.getLogger("loopgram.net")

ConnectionFactory = Callable[[ServerTransport], ServerConnection]
"""Builds the protocol state of a new connection around the transport the listener made."""

_MAX_DROPPED: Final = 16
"""Undecryptable packets tolerated on one connection: a real client sends none."""

LOW_PORTS: Final = range(20000, 32768)
"""Where a port is picked when any will do: below 32768 (some clients keep the port in a
signed 16-bit field, GramJS's string sessions), above the usual services, and outside
Linux's ephemeral range (32768 and up), which port 0 would draw from."""

_NR_OPEN: Final = 1 << 20
"""Linux's default ceiling on open files, for a hard limit that says unlimited."""
_ACCEPT_BATCH: Final = 128
"""Connections accepted per readiness of the listening socket, so that a flood of
connections cannot starve the connections already open."""
_ACCEPT_PAUSE: Final = 1.0
"""Seconds accepting stops after running out of descriptors (sooner if a connection closes)."""
_LOG_EVERY: Final = 60.0
"""Seconds between two log lines of one kind that clients can cause (refused connections,
failures that close a link)."""
_OUT_OF_FILES: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


@dataclass(frozen=True, slots=True)
class Limits:
    """What one connection may cost the server; every value has a reason in its comment."""

    max_packet: int = 1024 * 1024 + 4096
    """Largest transport payload accepted: a 512 KiB upload part (the largest thing real
    clients send) with room to spare; Telegram itself closes connections beyond ~1 MiB."""
    opening_timeout: float = 30.0
    """Seconds a new connection has to finish a key exchange or send a message under an auth
    key. Measured from the connection, not from the last byte, so that a client dribbling
    one byte at a time, or stopping after ``req_pq_multi``, does not hold the socket for
    the idle timeout; the server forgets an unfinished key exchange as soon."""
    idle_timeout: float = 300.0
    """Seconds without any received byte before closing. Clients ping once a minute
    (Telethon: ``ping_delay_disconnect`` every 60 s), so only dead peers reach this."""
    max_inflight: int = 512
    """Requests of one connection being handled at once; past that, reading pauses (the
    client's TCP window then slows it down) instead of queuing work without bound."""
    write_buffer: int = 4 * 1024 * 1024
    """Bytes waiting for a slow reader before the server stops reading from it."""
    max_connections: int = 50_000
    """Connections accepted at once; beyond, new ones are closed at once. The listener
    lowers it to what the open-file limit leaves (see :meth:`connection_cap`)."""
    max_per_address: int | None = None
    """Connections one peer address may hold at once (``None``: half the connection cap), so
    that one address holding sockets open cannot lock everybody else out."""
    fd_reserve: int = 64
    """File descriptors kept back from connections for the database (with its journal),
    the listening sockets, the event loop and the worker threads."""

    def __post_init__(self) -> None:
        if self.max_packet <= 0 or self.max_inflight <= 0 or self.write_buffer <= 0:
            raise ValueError("limits must be positive")
        if self.opening_timeout <= 0 or self.idle_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_connections < 1 or (
            self.max_per_address is not None and self.max_per_address < 1
        ):
            raise ValueError("connection limits must be at least 1")
        if self.fd_reserve < 0:
            raise ValueError("fd_reserve must not be negative")

    def connection_cap(self, open_files: int | None) -> int:
        """Connections the server takes at once when the process may open ``open_files``
        descriptors (``None``: unknown or unlimited): each connection holds one, and
        ``fd_reserve`` (at most a quarter of the limit) stays for everything else."""
        if open_files is None:
            return self.max_connections
        reserve = min(self.fd_reserve, open_files // 4)
        return max(1, min(self.max_connections, open_files - reserve))

    def per_address_cap(self, connection_cap: int) -> int:
        if self.max_per_address is not None:
            return min(self.max_per_address, connection_cap)
        return max(1, connection_cap // 2)


def open_file_limit() -> int | None:
    """The soft limit on this process's open files (``None``: unlimited or unknown)."""
    if resource is None:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def raise_open_file_limit() -> int | None:
    """Raise the soft open-file limit to the hard one (a process may, unprivileged); the
    limit now. Where the hard limit is unlimited, to the kernel's ceiling on open files."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:
        target = _NR_OPEN
        with contextlib.suppress(OSError, ValueError):
            target = int(Path("/proc/sys/fs/nr_open").read_text())
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(OSError, ValueError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return open_file_limit()


class LinkHandler(Protocol):
    """The application on top of the links (``loopgram.node.links``)."""

    def link_opened(self, link: Link) -> None: ...

    def events_received(self, link: Link, events: list[Event]) -> None:
        """Act on events; queue answers on ``link.connection`` and call ``link.flush_soon``."""
        ...

    def link_closed(self, link: Link) -> None: ...


class Link(asyncio.Protocol):
    """One accepted TCP connection, driven for its ``ServerConnection``."""

    def __init__(self, listener: Listener, number: int, address: str = "?") -> None:
        self._listener = listener
        self._loop = listener.loop
        self._limits = listener.limits
        self.number = number
        """Sequential id of the connection in this process (for logs)."""
        self.address = address
        """The peer's address (without the port): what the per-address cap counts."""
        self.peer = address
        self.connection = listener.make_connection(
            ServerTransport(max_packet=self._limits.max_packet, random_bytes=listener.random_bytes)
        )
        self.opened_at = self._loop.time()
        self.closed = False
        self.close_reason = ""
        self.received_bytes = 0
        self.sent_bytes = 0
        self.opened = False
        """Whether the client finished a key exchange or sent a message under an auth key
        (the opening timeout no longer applies, the idle timeout does)."""
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
        # connect_accepted_socket gives stream transports. Not an isinstance check: uvloop's
        # transports have the same methods but do not derive from asyncio.Transport.
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
        listener.links.add(self)
        self._idle_handle = self._loop.call_later(self._limits.opening_timeout, self._on_idle)
        log.info("connection #%d from %s opened", self.number, self.peer)
        try:
            listener.handler.link_opened(self)
        except Exception:
            listener.limited_log.error(
                "link_opened", "link_opened of %r failed", self, exc_info=True
            )
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
            # A bug below must cost this connection only, never the server (nor its log).
            self._listener.limited_log.error(
                "receive_data", "connection #%d: receive_data failed", self.number, exc_info=True
            )
            self.close("internal error")
            return
        if events:
            # Events come only from messages under an auth key (and from a finished key
            # exchange): the client is past opening, whatever else it has in progress.
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
        self._listener._release(self)
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
            self._listener.limited_log.error(
                "link_closed", "link_closed of %r failed", self, exc_info=True
            )
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
            self._listener.limited_log.error(
                "data_to_send", "connection #%d: data_to_send failed", self.number, exc_info=True
            )
            self.close("internal error")
            return
        if data:
            # Something was answered. A step of a key exchange still in progress does not
            # open the connection: an exchange abandoned after req_pq_multi is forgotten
            # after the opening timeout, and its connection must not outlive it by the idle
            # timeout. The answer to the last step (dh_gen_ok) does open it.
            if not self.opened and not self.connection.handshaking:
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
            self._listener.limited_log.error(
                "events",
                "connection #%d: handling %d events failed",
                self.number,
                len(events),
                exc_info=True,
            )
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
            self._listener.limited_log.error(
                "task",
                "connection #%d: request task failed",
                self.number,
                exc_info=task.exception(),
            )
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
            self._listener.limited_log.error(
                "data_to_send", "connection #%d: data_to_send failed", self.number, exc_info=True
            )
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
                self.close("not opened in time")
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

    The listener accepts by itself rather than through ``loop.create_server``: it counts
    connections per peer address and in total and closes the ones over the caps before
    anything is built for them, and when ``accept()`` runs out of file descriptors it stops
    accepting for a moment (or until a connection closes) with one warning -- where asyncio
    would log a traceback for every try, a thousand a second.
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
        self.refused = 0
        """Connections closed at once because a cap was reached."""
        self.max_connections = self.limits.max_connections
        """The connection cap in force (set from the open-file limit when started)."""
        self.max_per_address = self.limits.per_address_cap(self.max_connections)
        self._numbers = itertools.count(1)
        self._sockets: list[socket.socket] = []
        self._accepting = False
        self._paused: asyncio.TimerHandle | None = None
        self._starting: set[asyncio.Task[Any]] = set()
        self._per_address: dict[str, int] = {}
        self._counted: set[Link] = set()
        self.limited_log = RateLimitedLog(log, clock=clock, period=_LOG_EVERY)
        """Where what clients can cause is logged: per kind, one line a minute at most."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._all_gone: asyncio.Event | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the listener is not started")
        return self._loop

    async def start(
        self,
        host: str,
        port: int | Sequence[int],
        *,
        start_serving: bool = True,
        rng: random.Random | None = None,
        attempts: int = 64,
    ) -> None:
        """Bind ``host:port`` (0: a free port chosen by the kernel; a sequence of ports such
        as :data:`LOW_PORTS`: one of them, tried at random until one is free, at most
        ``attempts`` times); accept now or on :meth:`start_serving`.

        Raises ``OSError`` (``EADDRINUSE`` when no port was free) and ``socket.gaierror``
        for a host that does not resolve.
        """
        if self._sockets:
            raise RuntimeError("the listener is already started")
        loop = asyncio.get_running_loop()
        self.max_connections = self.limits.connection_cap(open_file_limit())
        self.max_per_address = self.limits.per_address_cap(self.max_connections)
        infos = await loop.getaddrinfo(
            host or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        addresses = list(dict.fromkeys((info[0], info[4][:2]) for info in infos))
        if isinstance(port, int):
            self._sockets = _bind_all(addresses, port)
        else:
            draw = rng or random.Random()
            for _ in range(attempts):
                try:
                    self._sockets = _bind_all(addresses, draw.choice(port))
                    break
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE:
                        raise
            else:
                raise OSError(errno.EADDRINUSE, f"no free port in {attempts} tries of {port}")
        self._loop = loop
        log.debug(
            "at most %d connections, %d per address", self.max_connections, self.max_per_address
        )
        if start_serving:
            await self.start_serving()

    async def start_serving(self) -> None:
        if not self._sockets:
            raise RuntimeError("the listener is not started")
        if not self._accepting and not self.closing:
            self._accepting = True
            self._resume()

    @property
    def port(self) -> int:
        """The bound port (the real one when started with port 0)."""
        if not self._sockets:
            raise RuntimeError("the listener is not started")
        port: int = self._sockets[0].getsockname()[1]
        return port

    @property
    def serving(self) -> bool:
        return self._accepting and not self.closing

    # -- accepting ----------------------------------------------------------------------------

    def _resume(self) -> None:
        self._paused = None
        if not self._accepting or self.closing:
            return
        for sock in self._sockets:
            self.loop.add_reader(sock.fileno(), self._accept, sock)

    def _pause(self) -> None:
        for sock in self._sockets:
            self.loop.remove_reader(sock.fileno())
        if self._paused is None:
            self._paused = self.loop.call_later(_ACCEPT_PAUSE, self._resume)

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                conn, addr = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_FILES:
                    self.limited_log.warning(
                        "out of files",
                        "out of file descriptors (%s) with %d connections open: not accepting "
                        "until one closes (at most %.0f s); raise the open-file limit "
                        "(ulimit -n) or lower max_connections",
                        errno.errorcode.get(exc.errno or 0, exc.errno),
                        len(self.links),
                        _ACCEPT_PAUSE,
                    )
                    self._pause()
                else:
                    self.limited_log.warning("accept", "accept() failed: %s", exc)
                return
            self._admit(conn, addr)

    def _admit(self, conn: socket.socket, addr: Any) -> None:
        address = str(addr[0]) if isinstance(addr, tuple) and addr else "?"
        if self.closing:
            conn.close()
            return
        if len(self._counted) >= self.max_connections:
            self.refused += 1
            conn.close()
            self.limited_log.warning(
                "full",
                "connection from %s refused: %d connections open",
                address,
                len(self._counted),
            )
            return
        held = self._per_address.get(address, 0)
        if held >= self.max_per_address:
            self.refused += 1
            conn.close()
            self.limited_log.warning(
                "per address",
                "connection from %s refused: it holds %d connections already",
                address,
                held,
            )
            return
        self.accepted += 1
        conn.setblocking(False)
        link = Link(self, next(self._numbers), address)
        self._per_address[address] = held + 1
        self._counted.add(link)
        task = self.loop.create_task(self.loop.connect_accepted_socket(lambda: link, conn))
        self._starting.add(task)
        task.add_done_callback(lambda done: self._started(link, conn, done))

    def _started(self, link: Link, conn: socket.socket, task: asyncio.Task[Any]) -> None:
        self._starting.discard(task)
        if task.cancelled() or task.exception() is not None:
            # The socket never became a transport (reset at once, say): nothing holds it.
            conn.close()
            self._release(link)

    def _release(self, link: Link) -> None:
        if link not in self._counted:
            return
        self._counted.discard(link)
        left = self._per_address.get(link.address, 1) - 1
        if left > 0:
            self._per_address[link.address] = left
        else:
            self._per_address.pop(link.address, None)
        if self._paused is not None and self._accepting:
            # A descriptor came free: try again now rather than at the end of the pause.
            self._paused.cancel()
            self._resume()

    def _link_gone(self) -> None:
        if not self.links and self._all_gone is not None:
            self._all_gone.set()

    async def close(self, *, timeout: float = 5.0) -> None:
        """Stop accepting, close every link (buffered bytes go out first), wait for them."""
        if not self._sockets:
            return
        self.closing = True
        if self._paused is not None:
            self._paused.cancel()
            self._paused = None
        for sock in self._sockets:
            if self._loop is not None and self._accepting:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._sockets = []
        self._accepting = False
        for task in list(self._starting):
            task.cancel()
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


def _bind_all(addresses: Sequence[tuple[int, Any]], port: int) -> list[socket.socket]:
    """Listening sockets on every address, all on one port (the one the kernel gave the
    first when ``port`` is 0); none are left open if one fails."""
    sockets: list[socket.socket] = []
    try:
        for family, address in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # Its own socket listens on IPv4: this one takes IPv6 only.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((address[0], port))
            port = sock.getsockname()[1]
            sock.listen(1024)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets
