"""Node layer: ``ServerApp``, the glue between the MTProto links of ``loopgram.net`` and the
rules of ``loopgram.server``.

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
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable, Coroutine
from typing import Any, Final

from loopgram.clock import Clock, system_clock
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
from loopgram.net import Link
from loopgram.ratelog import RateLimitedLog
from loopgram.server.context import SessionContext
from loopgram.server.core import ServerCore
from loopgram.server.dispatch import Answer
from loopgram.server.errors import INTERNAL
from loopgram.server.session_store import DurableSessionStore
from loopgram.tl import TLObject, layers, types
from loopgram.tl.abcs import Updates
from loopgram.tl.core import write_vector_header

__all__ = ["ServerApp"]

log = logging.getLogger("loopgram.server")
rpc_log = logging.getLogger("loopgram.rpc")

_LOGIN_METHODS: Final = frozenset({"auth.signIn", "auth.signUp", "auth.importBotAuthorization"})

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


_UPDATES_HEAD: Final = struct.pack("<I", types.Updates.CONSTRUCTOR_ID)
_DATE_SEQ: Final = struct.Struct("<ii")


class _SharedParts:
    """Writes pushed ``updates`` (the TL constructor) part by part, each ``update`` and
    ``user`` in it once per layer while the loop runs one step.

    One message to a supergroup of a thousand online members is a thousand ``Updates``
    around one update object (and one list of users): only the channel, which carries each
    viewer's own access hash, differs. Writing the shared parts once is most of the fan-out's
    cost. The memo is by identity and emptied at the loop's next step: a published object is
    not changed afterwards, and while the memo holds an object no other can take its id.
    The layout of ``updates`` is the same in every shipped layer; its parts are written in
    the session's.
    """

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        self._memo: dict[tuple[int, Serialize], tuple[TLObject, bytes]] = {}

    def encode(self, updates: Updates, encode: Serialize) -> bytes:
        if type(updates) is not types.Updates:
            return encode(updates)
        memo = self._memo
        if not memo:
            asyncio.get_running_loop().call_soon(memo.clear)
        o = bytearray(_UPDATES_HEAD)
        for shared in (updates.updates, updates.users):
            write_vector_header(o, len(shared))
            for part in shared:
                key = (id(part), encode)
                known = memo.get(key)
                if known is None:
                    known = memo[key] = (part, encode(part))
                o += known[1]
        write_vector_header(o, len(updates.chats))
        for chat in updates.chats:
            o += encode(chat)
        o += _DATE_SEQ.pack(updates.date, updates.seq)
        return bytes(o)


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
        self._shared = _SharedParts()
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
        data = self._shared.encode(updates, _encoder(context.layer))
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
