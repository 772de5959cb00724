"""An in-process loopgram server on its own thread and event loop, for any test style.

:class:`ServerThread` runs a :class:`~loopgram.node.LoopgramServer` in a background
thread. Clients under test talk to it over loopback TCP from whatever loop, thread or sync
API they use (Telethon's sync client, pytest-asyncio with any loop scope, anyio, trio...),
so the fixture never has to share the test's event loop::

    with ServerThread(port=0) as server:
        token = server.create_bot("examplebot")
        ...  # connect to server.host / server.port, trusting server.public_key_pem

Calls that touch the server's state (``create_bot``, ``create_user``, ``tick``, ``call``)
run on the server's loop, so they are safe from the test's thread.

``ServerThread(capture_log=True)`` keeps what the server logs on the ``loopgram`` loggers
from its own thread (every RPC at INFO on ``loopgram.rpc``, connections on ``loopgram.net``)
in :attr:`ServerThread.log`, the server's side of a failing test. Python's logging levels
are process-wide, so while any server captures, the ``loopgram`` logger is let through at
INFO and what the rest of the process would not have seen is kept from its other handlers.

:func:`start_on_a_free_low_port` starts one on a free port below 32768 -- what the pytest
fixture does: port 0 gets one of the kernel's ephemeral ports (32768 and up on Linux), which
clients that keep the port in a signed 16-bit field (GramJS's string sessions) cannot store.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from contextvars import Context, ContextVar, copy_context
from types import TracebackType
from typing import Any, Final, TypeVar

from loopgram.node import LOW_PORTS, LoopgramServer, ServerFacts
from loopgram.storage import Account

__all__ = ["LOW_PORTS", "ServerLog", "ServerThread", "start_on_a_free_low_port"]

T = TypeVar("T")

LOG_FORMAT: Final = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s"


class ServerLog:
    """The log records one :class:`ServerThread` emitted, the newest ``limit`` of them (a load
    test logs a line per call; the report of a failure needs its end)."""

    def __init__(self, limit: int = 20_000) -> None:
        self._records: deque[logging.LogRecord] = deque(maxlen=limit)
        self._count = 0
        self._lock = threading.Lock()
        self._formatter = logging.Formatter(LOG_FORMAT, "%H:%M:%S")

    def add(self, record: logging.LogRecord) -> None:
        with self._lock:
            self._records.append(record)
            self._count += 1

    @property
    def count(self) -> int:
        """How many records were added in all (dropped ones included)."""
        return self._count

    def records(self, since: int = 0) -> list[logging.LogRecord]:
        """The records kept whose number (0 for the first ever added) is ``since`` or later."""
        return self._since(since)[0]

    def text(self, since: int = 0) -> str:
        """Records ``since`` on, one formatted line each (tracebacks below their line)."""
        return self.read(since)[0]

    def read(self, since: int = 0) -> tuple[str, int]:
        """:meth:`text` and the number to read on from next time, taken together."""
        records, first, end = self._since(since)
        lines = [self._formatter.format(record) for record in records]
        if since < first:
            lines.insert(0, f"({first - since} earlier records not kept)")
        return "\n".join(lines), end

    def _since(self, since: int) -> tuple[list[logging.LogRecord], int, int]:
        with self._lock:
            first = self._count - len(self._records)
            return list(self._records)[max(0, since - first) :], first, self._count


_capturing: ContextVar[ServerLog | None] = ContextVar("loopgram_server_log", default=None)
"""The log of the server whose thread this is: set before the thread's event loop starts, so
every task, callback and ``to_thread`` worker of that server inherits it."""


class _LogRouter(logging.Handler):
    """On the ``loopgram`` logger while any server captures: files each record under the server
    that emitted it, and lets through to the rest of the process only what it would have
    seen had nobody lowered the level."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__()
        self.logger = logger
        self.users = 0
        self.saved_level = logger.level
        self.saved_propagate = logger.propagate
        # Lowered only when INFO was off: a process that logs loopgram at INFO or below
        # already sees every record, through its own handlers.
        self.lowered = logger.getEffectiveLevel() > logging.INFO
        # Handlers that others put on the logger while it is lowered (pytest >= 9.2 attaches
        # its log capture to every logger that does not propagate): they get a filter that
        # hides the records which exist only because the level was lowered.
        self.filtered: list[logging.Handler] = []
        if self.lowered:
            logger.setLevel(logging.INFO)
            logger.propagate = False

    def restore(self) -> None:
        self.logger.removeHandler(self)
        for handler in self.filtered:
            handler.removeFilter(self._shown)
        self.filtered.clear()
        if self.lowered:
            self.logger.setLevel(self.saved_level)
            self.logger.propagate = self.saved_propagate

    def emit(self, record: logging.LogRecord) -> None:
        log = _capturing.get()
        if log is not None:
            log.add(record)
        parent = self.logger.parent
        if not self.lowered or parent is None:
            return
        for handler in self.logger.handlers:
            if handler is not self and handler not in self.filtered:
                handler.addFilter(self._shown)
                self.filtered.append(handler)
        if self.saved_propagate and record.levelno >= self._level_without_us(record.name, parent):
            parent.handle(record)

    def _shown(self, record: logging.LogRecord) -> bool:
        """A filter: whether ``record`` would have been logged had the level not been lowered."""
        parent = self.logger.parent
        if parent is None or not record.name.startswith(self.logger.name):
            return True
        return record.levelno >= self._level_without_us(record.name, parent)

    def _level_without_us(self, name: str, parent: logging.Logger) -> int:
        """The effective level of logger ``name`` as it was before the capture lowered it."""
        logger: logging.Logger | None = logging.getLogger(name)
        while logger is not None and logger is not self.logger:
            if logger.level != logging.NOTSET:
                return logger.level
            logger = logger.parent
        return self.saved_level or parent.getEffectiveLevel()


_router: _LogRouter | None = None
_router_lock = threading.Lock()


def _begin_capture() -> None:
    global _router
    with _router_lock:
        if _router is None:
            _router = _LogRouter(logging.getLogger("loopgram"))
            _router.logger.addHandler(_router)
        _router.users += 1


def _end_capture() -> None:
    global _router
    with _router_lock:
        if _router is None:
            return
        _router.users -= 1
        if _router.users == 0:
            _router.restore()
            _router = None


class ServerThread:
    """A :class:`LoopgramServer` (built from ``kwargs``) running on a daemon thread;
    ``capture_log=True`` keeps its log in :attr:`log` from :meth:`start` to :meth:`stop`."""

    def __init__(
        self, *, capture_log: bool = False, bot_api_on_demand: bool = False, **kwargs: Any
    ) -> None:
        kwargs.setdefault("port", 0)
        self._kwargs = kwargs
        self._bot_api_on_demand = bot_api_on_demand
        self._capture = capture_log
        self._capturing = False
        self.log = ServerLog()
        """What the server logged (empty unless ``capture_log``)."""
        self._context: Context | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: LoopgramServer | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> ServerThread:
        """Start the thread and wait until the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the server thread is already started")
        if self._capture:
            _begin_capture()
            self._capturing = True
        self._thread = threading.Thread(target=self._run, name="loopgram-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the loopgram server did not start in time")
        if self._error is not None:
            self._end_capture()
            raise RuntimeError("the loopgram server failed to start") from self._error
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server (connections closed, state saved) and join the thread."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout)
        self._thread = None
        self._end_capture()

    def _end_capture(self) -> None:
        if self._capturing:
            self._capturing = False
            _end_capture()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        if self._capture:
            _capturing.set(self.log)
        # What call() runs belongs to this server too (its logging included), though asked
        # for from another thread.
        self._context = copy_context()
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = LoopgramServer(**self._kwargs)
        await server.start()
        self._server = server
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await server.stop()

    # -- the server ---------------------------------------------------------------------------

    @property
    def server(self) -> LoopgramServer:
        """The server object (read its facts freely; mutate it only through :meth:`call`)."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        return self._server

    @property
    def host(self) -> str:
        return self.server.advertised_host

    @property
    def bot_api_url(self) -> str | None:
        """The Bot API's base URL (``{bot_api_url}/bot<token>/<method>``); ``None`` unless
        the server was built with ``bot_api_port``, or with ``bot_api_on_demand=True`` (the
        pytest fixture's), which starts the Bot API on a free port at the first read: a test
        that never uses it pays neither the HTTP stack's import nor a second listener."""
        server = self.server
        if server.bot_api_url is None and self._bot_api_on_demand:
            self._await(self._start_bot_api)
        return server.bot_api_url

    @property
    def web_url(self) -> str | None:
        """The web page's address (``loopgram.web``, on the Bot API's listener, so started
        on demand with it); ``None`` without the Bot API."""
        if self.bot_api_url is None:
            return None
        return self.server.web_url

    async def _start_bot_api(self) -> None:
        server = self.server
        if server.bot_api_url is None:
            server.bot_api_port = 0
            await server._start_bot_api(server.core)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def public_key_pem(self) -> str:
        return self.server.public_key_pem

    @property
    def fingerprint(self) -> int:
        return self.server.fingerprint

    @property
    def facts(self) -> ServerFacts:
        return self.server.facts

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 30.0, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the server's loop and return its result."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the server is not started")
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(run, context=self._context)
        return future.result(timeout)

    def _await(self, make: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30.0) -> T:
        """Run the coroutine ``make()`` as a task of the server's loop; its result."""
        done: Future[T] = Future()

        def settle(task: asyncio.Task[T]) -> None:
            if task.cancelled():
                done.cancel()
            elif (error := task.exception()) is not None:
                done.set_exception(error)
            else:
                done.set_result(task.result())

        def begin() -> None:
            asyncio.ensure_future(make()).add_done_callback(settle)

        self.call(begin, timeout=timeout)
        return done.result(timeout)

    def create_bot(self, username: str, first_name: str | None = None) -> str:
        """A new bot (username ending in ``bot``); returns its token."""
        return self.call(self.server.create_bot, username, first_name)

    def create_user(
        self, phone: str, first_name: str | None = None, last_name: str | None = None
    ) -> Account:
        """A user account; it signs in with the login code (``12345``)."""
        return self.call(self.server.create_user, phone, first_name, last_name)

    def tick(self) -> int:
        """Apply callback deadlines now (after moving a fake clock)."""
        return self.call(self.server.tick)


def start_on_a_free_low_port(
    attempts: int = 64, rng: random.Random | None = None, **kwargs: Any
) -> ServerThread:
    """A started :class:`ServerThread` on a free port of :data:`LOW_PORTS` (tried at random
    until one binds, so parallel test processes do not collide); ``kwargs`` as for the
    server, ``port`` excepted. The listener does the trying (``loopgram serve --port 0`` uses
    it too); an ``OSError`` (``EADDRINUSE``: no port was free) is raised as is."""
    if "port" in kwargs:
        raise TypeError("start_on_a_free_low_port chooses the port itself")
    server = ServerThread(port=LOW_PORTS, port_rng=rng, port_attempts=attempts, **kwargs)
    try:
        return server.start()
    except RuntimeError as exc:
        if isinstance(exc.__cause__, OSError):
            raise exc.__cause__ from None
        raise
