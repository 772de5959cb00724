"""An in-process loopgram server on its own thread and event loop, for any test style.

:class:`ServerThread` runs a :class:`~loopgram.server.app.LoopgramServer` in a background
thread. Clients under test talk to it over loopback TCP from whatever loop, thread or sync
API they use (Telethon's sync client, pytest-asyncio with any loop scope, anyio, trio...),
so the fixture never has to share the test's event loop::

    with ServerThread(port=0) as server:
        token = server.create_bot("examplebot")
        ...  # connect to server.host / server.port, trusting server.public_key_pem

Calls that touch the server's state (``create_bot``, ``create_user``, ``tick``, ``call``)
run on the server's loop, so they are safe from the test's thread.

:func:`start_on_a_free_low_port` starts one on a free port below 32768 -- what the pytest
fixture does: port 0 gets one of the kernel's ephemeral ports (32768 and up on Linux), which
clients that keep the port in a signed 16-bit field (GramJS's string sessions) cannot store.
"""

from __future__ import annotations

import asyncio
import errno
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Final, TypeVar

from loopgram.server.app import LoopgramServer, ServerFacts
from loopgram.storage import Account

__all__ = ["LOW_PORTS", "ServerThread", "start_on_a_free_low_port"]

T = TypeVar("T")

LOW_PORTS: Final = range(20000, 32768)
"""Where :func:`start_on_a_free_low_port` looks: below 32768, above the usual services."""


class ServerThread:
    """A :class:`LoopgramServer` (built from ``kwargs``) running on a daemon thread."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("port", 0)
        self._kwargs = kwargs
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
        self._thread = threading.Thread(target=self._run, name="loopgram-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the loopgram server did not start in time")
        if self._error is not None:
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

        loop.call_soon_threadsafe(run)
        return future.result(timeout)

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
    server, ``port`` excepted."""
    if "port" in kwargs:
        raise TypeError("start_on_a_free_low_port chooses the port itself")
    draw = rng or random.Random()
    for _ in range(attempts):
        server = ServerThread(port=draw.choice(LOW_PORTS), **kwargs)
        try:
            return server.start()
        except RuntimeError as exc:
            cause = exc.__cause__
            if not (isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE):
                raise
    raise OSError(errno.EADDRINUSE, f"no free port found in {attempts} tries of {LOW_PORTS}")
