"""Server layer: ``ServerCore``, the whole server without the network.

It wires the services, the update hub, the callback broker, the session registry and the
dispatcher over one storage, one clock and one source of randomness. A driver (the asyncio
server in ``loopgram.net``) needs only this object:

- ``open_session(auth_key_id, session_id, push)`` when a session appears on a connection
  (``push(updates)`` must encode them for ``session.layer`` and queue them on that
  connection with ``send_update``), and ``session.close()`` when it goes away;
- ``start(session, request, body, msg_id)`` for every ``RequestReceived``: an ``Answer``
  at once, or (a query that waits, such as a callback press) a coroutine to run as a task
  for it; send ``answer.error`` with ``send_error`` or ``answer.result`` with
  ``send_result``. ``await dispatch(...)`` does both steps;
- ``run_timers()`` as a background task (callback-query and inline-query timeouts).

The CLI and tests use ``create_bot`` / ``create_user`` on the same object or on a
``ServerCore`` opened over the same data directory.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import Any

from loopgram.clock import Clock, RandomBytes, system_clock, system_random
from loopgram.server.config import ServerConfig, ServerInfo
from loopgram.server.context import SessionContext, SessionRegistry
from loopgram.server.dispatch import Answer, Decoder, Dispatcher
from loopgram.server.flood import FloodLimiter
from loopgram.server.handlers import Registry
from loopgram.server.hub import LocalHub, UpdateHub, UpdateSink
from loopgram.server.observe import CallFeed, ObservedHub
from loopgram.server.pending import PendingCalls
from loopgram.server.presses import Pending, PressBroker, Sleep
from loopgram.server.services import BotCredentials, Services
from loopgram.storage import Account, Storage


class ServerCore:
    def __init__(
        self,
        storage: Storage,
        *,
        clock: Clock = system_clock,
        random_bytes: RandomBytes = system_random,
        config: ServerConfig | None = None,
        info: ServerInfo | None = None,
        hub: UpdateHub | None = None,
        registry: Registry | None = None,
        decode: Decoder | None = None,
        calls: PendingCalls | None = None,
    ) -> None:
        self.storage = storage
        self.clock = clock
        # Every front door reports its calls here (the web page's live panel listens).
        self.feed = CallFeed()
        self.hub: UpdateHub = ObservedHub(hub if hub is not None else LocalHub(), self.feed)
        self.services = Services.create(
            storage,
            clock=clock,
            random_bytes=random_bytes,
            hub=self.hub,
            config=config,
            info=info,
            calls=calls,
        )
        self.presses = PressBroker(
            self.services.callbacks, self.services.inline, self.hub, clock, self.services.calls
        )
        accounts = self.services.accounts
        self.sessions = SessionRegistry(storage, self.hub, lambda: accounts.token_resets)
        self.limiter = FloodLimiter(clock, self.services.config)
        self.dispatcher = Dispatcher(
            self.services, self.presses, registry=registry, limiter=self.limiter, decode=decode
        )

    @property
    def config(self) -> ServerConfig:
        return self.services.config

    @property
    def info(self) -> ServerInfo:
        return self.services.info

    def open_session(self, auth_key_id: int, session_id: int, push: UpdateSink) -> SessionContext:
        return self.sessions.open(auth_key_id, session_id, push)

    async def dispatch(
        self,
        session: SessionContext,
        request: object | None,
        body: bytes = b"",
        msg_id: int = 0,
    ) -> Answer:
        started = self.start(session, request, body, msg_id)
        if isinstance(started, Answer):
            return started
        return await started

    def start(
        self,
        session: SessionContext,
        request: object | None,
        body: bytes = b"",
        msg_id: int = 0,
    ) -> Answer | Coroutine[Any, Any, Answer]:
        feed = self.feed
        if not feed.listening:
            return self.dispatcher.start(session, request, body, msg_id)
        began = time.perf_counter()
        outcome = self.dispatcher.start(session, request, body, msg_id)
        if isinstance(outcome, Answer):
            self._report(session, request, outcome, began)
            return outcome
        return self._observed(session, request, outcome, began)

    async def _observed(
        self,
        session: SessionContext,
        request: object | None,
        rest: Coroutine[Any, Any, Answer],
        began: float,
    ) -> Answer:
        answer = await rest
        self._report(session, request, answer, began)
        return answer

    def _report(
        self, session: SessionContext, request: object | None, answer: Answer, began: float
    ) -> None:
        account = session.account
        error = None if answer.error is None else f"{answer.error.code} {answer.error.message}"
        self.feed.call(
            "rpc",
            None if account is None else account.id,
            answer.method or "?",
            error,
            began,
            request,
            session.key,
        )

    def tick(self) -> list[Pending]:
        """Time out the callback presses and inline queries whose window has closed by the
        clock."""
        return self.presses.expire_due()

    def next_deadline(self) -> float | None:
        return self.presses.next_deadline()

    async def run_timers(self, *, sleep: Sleep | None = None, max_interval: float = 1.0) -> None:
        if sleep is None:
            await self.presses.run_timers(max_interval=max_interval)
        else:
            await self.presses.run_timers(sleep=sleep, max_interval=max_interval)

    def create_bot(self, username: str, first_name: str | None = None) -> BotCredentials:
        return self.services.accounts.create_bot(username, first_name)

    def create_user(
        self, phone: str, first_name: str | None = None, last_name: str | None = None
    ) -> Account:
        return self.services.accounts.create_user(phone, first_name, last_name)
