"""Web layer: the page's HTTP side -- static files, the WebSocket, the live panel.

``WebFrontend.mount(app)`` adds to an aiohttp application (the Bot API listener's):

- ``GET /web/`` and ``/web/static/<file>``: the page, shipped inside the package;
- ``GET /web/ws``: one WebSocket per tab. The tab sends ``{"id", "op", "params"}`` and gets
  ``{"id", "ok", "result" | "error"}``; pushes are ``{"type": "update" | "call" | "press" |
  "hello"}``. Each socket owns a ``WebSession`` (its own auth key and server session).

Safety: with ``token`` set (the listener is not on loopback) every path needs it, as
``?token=`` (the page then keeps it in a cookie). A WebSocket from another origin is always
refused, so a web site open in the same browser cannot drive a loopback server.

The live panel listens to ``ServerCore.feed`` only while some tab watches it or a press is
being timed, so the server pays nothing for the page when no one uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from loopgram.server.core import ServerCore
from loopgram.server.observe import CallEvent, FeedEvent, PublishEvent
from loopgram.tl import TLObject, types
from loopgram.web.session import WebError, WebSession
from loopgram.web.view import Json

log = logging.getLogger(__name__)

PREFIX: Final = "/web"
COOKIE: Final = "loopgram_web_token"
MAX_MESSAGE: Final = 64 * 1024
"""Bytes of one WebSocket message from a tab (a message text is at most 4096 chars)."""
MAX_OUTBOX: Final = 10_000
"""Messages queued for one tab before it counts as gone."""
_STATIC: Final = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "app.css": "text/css",
}
_LOOPBACK: Final = frozenset({"127.0.0.1", "::1", "localhost"})


def is_loopback(host: str) -> bool:
    return host in _LOOPBACK or host.startswith("127.")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _query(request: object) -> object:
    """The query inside ``invokeWithLayer`` and the other wrappers."""
    while isinstance(request, TLObject):
        inner = getattr(request, "query", None)
        if not isinstance(inner, TLObject):
            return request
        request = inner
    return request


@dataclass(slots=True)
class PressTrace:
    """One press being timed: perf_counter times of its steps."""

    tab: Tab
    bot_id: int | None
    """The bot asked, if the page knows it; a broadcast post names no author, so the bot
    is learned from the press published to it."""
    user_id: int
    msg_id: int
    pressed: float
    query_id: int | None = None
    to_bot: float | None = None
    answered: float | None = None


@dataclass(eq=False, slots=True)
class Tab:
    """One open WebSocket."""

    ws: web.WebSocketResponse
    session: WebSession | None = None
    watching: bool = False
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    dropped: bool = False

    def send(self, message: Json) -> None:
        self.send_text(_dumps(message))

    def send_text(self, text: str) -> None:
        if self.dropped:
            return
        if self.outbox.qsize() >= MAX_OUTBOX:
            # A tab that stopped reading (a frozen page with the panel open on a busy
            # server) must not grow the server's memory: it is closed instead.
            self.dropped = True
            asyncio.get_running_loop().create_task(
                self.ws.close(code=1008, message=b"the page does not keep up")
            )
            return
        self.outbox.put_nowait(text)


class WebFrontend:
    def __init__(self, core: ServerCore, *, token: str | None = None) -> None:
        self.core = core
        self.token = token
        self.tabs: set[Tab] = set()
        self._traces: list[PressTrace] = []
        self._stop_listening: Any = None
        self._names: dict[int, str] = {}
        self._epoch = time.perf_counter()

    # -- wiring -------------------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        app.router.add_get(PREFIX, self._redirect)
        app.router.add_get(f"{PREFIX}/", self._index)
        app.router.add_get(f"{PREFIX}/static/{{name}}", self._static)
        app.router.add_get(f"{PREFIX}/ws", self._socket)
        app.on_shutdown.append(self._shutdown)

    def url(self, base: str) -> str:
        """The page's address under the listener's ``base`` URL (with the token, if any)."""
        suffix = f"?token={self.token}" if self.token else ""
        return f"{base}{PREFIX}/{suffix}"

    # -- access -------------------------------------------------------------------------------

    def _allowed(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _deny(self) -> web.Response:
        return web.Response(
            status=403,
            text="403: this page needs the access token printed by `loopgram serve` (?token=...)",
        )

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(
            f"{PREFIX}/" + (f"?{request.query_string}" if request.query_string else "")
        )

    async def _index(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request):
            return self._deny()
        response = self._file("index.html")
        if self.token is not None:
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict", path=PREFIX)
        return response

    async def _static(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request):
            return self._deny()
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        return self._file(name)

    def _file(self, name: str) -> web.Response:
        data = resources.files("loopgram.web").joinpath("static", name).read_bytes()
        return web.Response(
            body=data,
            content_type=_STATIC[name],
            charset="utf-8",
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    def _same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser page: tools and tests
        return urlsplit(origin).netloc == request.host

    # -- the socket ---------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request) or not self._same_origin(request):
            return self._deny()
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE, heartbeat=30.0)
        await ws.prepare(request)
        tab = Tab(ws)
        writer = asyncio.create_task(self._write(tab), name="loopgram-web-writer")
        tab.session = WebSession(self.core, tab.send)
        self.tabs.add(tab)
        tab.send({"type": "hello", "login_code": self.core.config.login_code})
        tasks: set[asyncio.Task[None]] = set()
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                task = asyncio.create_task(self._serve(tab, message.data))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            self.tabs.discard(tab)
            for task in tasks:
                task.cancel()
            tab.session.close()
            self._traces = [t for t in self._traces if t.tab is not tab]
            self._update_listening()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _write(self, tab: Tab) -> None:
        while True:
            text = await tab.outbox.get()
            if tab.ws.closed:
                return
            try:
                await tab.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    async def _serve(self, tab: Tab, text: str) -> None:
        ident: Any = None
        try:
            message = json.loads(text)
            if not isinstance(message, dict):
                raise WebError(400, "a message is a JSON object")
            ident = message.get("id")
            op = message.get("op")
            params = message.get("params") or {}
            if not isinstance(op, str) or not isinstance(params, dict):
                raise WebError(400, "op must be a string and params an object")
            result = await self._op(tab, op, params)
            tab.send({"id": ident, "ok": True, "result": result})
        except WebError as e:
            tab.send({"id": ident, "ok": False, "error": {"code": e.code, "message": e.message}})
        except ValueError:
            tab.send({"id": ident, "ok": False, "error": {"code": 400, "message": "bad JSON"}})
        except Exception:
            log.exception("web operation failed")
            tab.send({"id": ident, "ok": False, "error": {"code": 500, "message": "INTERNAL"}})

    async def _op(self, tab: Tab, op: str, params: dict[str, Any]) -> Any:
        session = tab.session
        if session is None:  # pragma: no cover - set before reading
            raise WebError(500, "INTERNAL")
        if op == "watch":
            tab.watching = bool(params.get("on", True))
            self._update_listening()
            return {"watching": tab.watching}
        if op != "press":
            return await session.handle(op, params)
        chat, msg_id, me = params.get("chat"), params.get("msg_id"), session.me
        # The bot asked: the page names it (a group's message's sender, or the bot a message
        # was sent via); a private chat's other side otherwise; unknown under a channel post.
        bot = params.get("bot")
        if not isinstance(bot, int) or isinstance(bot, bool):
            bot = chat if isinstance(chat, int) and chat > 0 else None
        trace = None
        if isinstance(msg_id, int) and me is not None:
            trace = PressTrace(tab, bot, me, msg_id, time.perf_counter())
            self._traces.append(trace)
            self._update_listening()
        try:
            result = await session.handle(op, params)
        except WebError as e:
            if trace is not None:
                self._finish(trace, f"{e.code} {e.message}")
            raise
        if trace is not None:
            result["timeline"] = self._finish(trace, None)
        return result

    # -- the feed -----------------------------------------------------------------------------

    def _update_listening(self) -> None:
        wanted = bool(self._traces) or any(t.watching for t in self.tabs)
        if wanted and self._stop_listening is None:
            self._stop_listening = self.core.feed.listen(self._on_event)
        elif not wanted and self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None

    def _finish(self, trace: PressTrace, error: str | None) -> Json:
        done = time.perf_counter()
        if trace in self._traces:
            self._traces.remove(trace)
        self._update_listening()

        def ms(at: float | None) -> float | None:
            return None if at is None else round((at - trace.pressed) * 1000, 3)

        timeline = {
            "bot": trace.bot_id,
            "bot_name": self._name(trace.bot_id),
            "msg_id": trace.msg_id,
            "query_id": None if trace.query_id is None else str(trace.query_id),
            "to_bot_ms": ms(trace.to_bot),
            "answer_ms": ms(trace.answered),
            "answered_ms": ms(done),
            "error": error,
        }
        for tab in self.tabs:
            if tab.watching:
                tab.send(
                    {"type": "press", "press": {**timeline, "user": self._name(trace.user_id)}}
                )
        return timeline

    def _name(self, account_id: int | None) -> str:
        if account_id is None:
            return "(no account)"
        name = self._names.get(account_id)
        if name is None:
            account = self.core.storage.accounts.get(account_id)
            if account is None:
                return str(account_id)
            name = f"@{account.username}" if account.username else account.first_name
            name = self._names[account_id] = f"{name} ({account_id})"
        return name

    def _on_event(self, event: FeedEvent) -> None:
        if isinstance(event, PublishEvent):
            self._match_publish(event)
            return
        self._match_answer(event)
        if not any(t.watching for t in self.tabs):
            return
        door = event.door
        if door == "rpc":
            door = "web" if self._is_web(event.session) else "mtproto"
        shown = {
            "type": "call",
            "call": {
                "at": round((event.started - self._epoch) * 1000, 1),
                "door": door,
                "account": self._name(event.account_id),
                "method": event.method,
                "error": event.error,
                "ms": round(event.duration * 1000, 3),
            },
        }
        text = _dumps(shown)
        for tab in list(self.tabs):
            if tab.watching:
                tab.send_text(text)

    def _is_web(self, key: Hashable) -> bool:
        return any(t.session is not None and t.session.session.key == key for t in self.tabs)

    def _match_publish(self, event: PublishEvent) -> None:
        if not self._traces:
            return
        updates = event.updates
        inner: list[Any] = []
        if isinstance(updates, types.UpdateShort):
            inner = [updates.update]
        elif isinstance(updates, types.Updates | types.UpdatesCombined):
            inner = list(updates.updates)
        for update in inner:
            # A press on a message sent via inline mode reaches the bot as
            # updateInlineBotCallbackQuery. Message ids are not compared: the bot's copy of
            # a message has an id of its own box, not the presser's.
            if not isinstance(
                update, types.UpdateBotCallbackQuery | types.UpdateInlineBotCallbackQuery
            ):
                continue
            for trace in self._traces:
                if (
                    trace.query_id is None
                    and trace.bot_id in (None, event.account_id)
                    and trace.user_id == update.user_id
                ):
                    trace.bot_id = event.account_id
                    trace.query_id = update.query_id
                    trace.to_bot = event.at
                    break

    def _match_answer(self, event: CallEvent) -> None:
        if not self._traces or event.error is not None:
            return
        query_id: int | None = None
        if event.door == "botapi":
            if event.method.lower() == "answercallbackquery":
                raw = event.request.get("callback_query_id", "")
                query_id = int(raw) if isinstance(raw, str) and raw.lstrip("-").isdigit() else None
        else:
            query = _query(event.request)
            if isinstance(query, TLObject) and type(query).__name__ == "SetBotCallbackAnswer":
                query_id = getattr(query, "query_id", None)
        if query_id is None:
            return
        for trace in self._traces:
            if trace.query_id == query_id and trace.answered is None:
                trace.answered = event.started + event.duration
                return

    async def _shutdown(self, app: web.Application) -> None:
        for tab in list(self.tabs):
            await tab.ws.close(code=1001, message=b"server shutdown")


__all__ = ["COOKIE", "PREFIX", "WebFrontend", "is_loopback"]
