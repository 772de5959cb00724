"""Bot API layer: the gateway's own HTTP/1.1 connections, for plain method calls.

``httptools`` (llhttp) parses; nothing here reads HTTP syntax itself. Every request of one
read that names a Bot API method is run in that read, up to its first wait: most
(``answerCallbackQuery``, ``getMe``, ``getUpdates`` with updates waiting) answer at once,
and the answers of one read leave in one ``write``, in request order. A request that has to
wait (a long poll) finishes in a task, and the answers behind it wait their turn.

Anything else -- a multipart body, ``Expect``, an upgrade (the web page's WebSocket), a path
of the web page -- belongs to aiohttp: the connection, with the bytes from the start of that
request on, is handed to an aiohttp ``RequestHandler`` of the listener's ``web.Server`` and
stays there. The Bot API routes of that aiohttp application serve the same methods, so a
handed-over connection loses nothing.

The connection keeps what aiohttp enforced before: a body limit (413, then close), bad HTTP
answered 400 and closed, a bound on a request's head, keep-alive with an idle timeout and a
time limit on reading one request (checked by ``WireConnections.expire`` on an injected
clock), HTTP/1.0 closing unless it asks for keep-alive, and flow control both ways.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import unquote

import httptools

from loopgram.botapi.errors import BotApiError, error
from loopgram.botapi.gateway import BotApiGateway, RawJson
from loopgram.botapi.request import (
    check_body_size,
    dumps,
    parse_fields,
    parse_file_path,
    parse_path,
)
from loopgram.clock import Clock
from loopgram.server.dispatch import Resumed

log = logging.getLogger(__name__)

KEEPALIVE_TIMEOUT: Final = 75.0
"""Seconds a connection may sit idle between requests."""
READ_TIMEOUT: Final = 30.0
"""Seconds a client has to send the whole of a request it began (slow headers or body)."""
MAX_HEAD: Final = 64 * 1024
"""Bytes of request line and headers (aiohttp allows 8190 per line)."""
MAX_FIELD: Final = 8190
MAX_HEADERS: Final = 128
MAX_PER_TURN: Final = 128
"""Requests of one read served in one event-loop turn (a pipelining flood must not block
the loop); the rest in the next turns."""
MAX_WAITING: Final = 64
"""Answers not yet written (a pipelining client that does not read): reading pauses."""
LINGER: Final = 2.0
"""Seconds a connection closed for bad input still drains what the client sends."""
_LOOKBEHIND: Final = 64 * 1024
"""Bytes of earlier requests kept for a hand-over before the open request is located."""

_OK_TRUE: Final = b'{"ok":true,"result":true}'
_JSON: Final = b"Content-Type: application/json; charset=utf-8\r\n"
_OCTETS: Final = b"Content-Type: application/octet-stream\r\n"
_HEADS: Final[dict[tuple[str, int], bytes]] = {
    (version, status.value): f"HTTP/{version} {status.value} {status.phrase}\r\n".encode()
    for version in ("1.1", "1.0")
    for status in HTTPStatus
}


class _Stop(Exception):
    """Raised from a parser callback to stop parsing this connection's bytes."""


class _Counter:
    """Counts the requests a fresh parser begins (to find where one starts)."""

    __slots__ = ("begun",)

    def __init__(self) -> None:
        self.begun = 0

    def on_message_begin(self) -> None:
        self.begun += 1


def _count_begun(data: bytes | bytearray) -> int:
    counter = _Counter()
    try:
        httptools.HttpRequestParser(counter).feed_data(data)
    except httptools.HttpParserError:
        pass  # the bytes before were good; what the count reached stands
    return counter.begun


def request_start(data: bytes | bytearray, index: int) -> int | None:
    """The offset in ``data`` (which starts between requests) where request number ``index``
    (from 0) begins, found by feeding prefixes to fresh parsers; ``None`` if it does not."""
    if index == 0:
        return 0
    low, high = 1, len(data)
    if _count_begun(data) <= index:
        return None
    # The shortest prefix in which the parser has begun index + 1 requests ends with the
    # first byte of the one we want.
    while low < high:
        middle = (low + high) // 2
        if _count_begun(data[:middle]) > index:
            high = middle
        else:
            low = middle + 1
    return low - 1


def result_body(result: Any) -> bytes:
    """The JSON envelope of a method's result."""
    if result is True:
        return _OK_TRUE
    if isinstance(result, RawJson):
        return f'{{"ok":true,"result":{result}}}'.encode()
    return dumps({"ok": True, "result": result}).encode()


def error_body(exc: BotApiError) -> bytes:
    return dumps(exc.to_dict()).encode()


def _bad_http() -> BotApiError:
    return error(400, "invalid HTTP request")


def _too_large(limit: int) -> BotApiError:
    return BotApiError(413, f"Request Entity Too Large: the request body exceeds {limit} bytes")


class _Request:
    __slots__ = ("body", "close", "content_type", "head", "method", "path", "query", "version")

    def __init__(self) -> None:
        self.method = ""
        self.path = ""
        self.query = ""
        self.content_type = ""
        self.body = b""
        self.version = "1.1"
        self.close = False
        self.head = False


class WireConnections:
    """What the connections of one listener share: the gateway, the aiohttp server that
    takes the connections they hand over, limits, the clock of their timeouts, and the set
    of open connections (for ``expire`` and shutdown)."""

    def __init__(
        self,
        gateway: BotApiGateway,
        web_server: Callable[[], asyncio.Protocol],
        *,
        max_body_size: int,
        mount: bool,
        clock: Clock,
        keepalive_timeout: float = KEEPALIVE_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.gateway = gateway
        self.web_server = web_server
        self.max_body_size = max_body_size
        self.mount = mount
        """Paths other than the Bot API's go to aiohttp (the web page), not a 404."""
        self.clock = clock
        self.keepalive_timeout = keepalive_timeout
        self.read_timeout = read_timeout
        self.open: set[WireProtocol] = set()
        self.closing = False

    def __call__(self) -> WireProtocol:
        return WireProtocol(self)

    def expire(self) -> int:
        """Close connections idle past the keep-alive timeout or slower than the read
        timeout with a request they began; returns how many."""
        now = self.clock()
        expired = [c for c in self.open if c.expired(now)]
        for connection in expired:
            connection.close()
        return len(expired)

    def busy(self) -> bool:
        return any(c.waiting for c in self.open)

    def close_idle(self) -> None:
        """Shutdown: close every connection with nothing to answer; the others close once
        their answers are written."""
        self.closing = True
        for connection in list(self.open):
            connection.close_when_done()


class WireProtocol(asyncio.Protocol):
    """One client connection (see the module docstring)."""

    def __init__(self, shared: WireConnections) -> None:
        self.shared = shared
        self.gateway = shared.gateway
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.waiting: deque[list[Any]] = deque()
        """Answers in request order: ``[bytes or None while its task runs, close after]``."""
        self.tasks: set[asyncio.Task[None]] = set()
        self._done: list[_Request] = []
        """Requests the parser completed in the current read."""
        self._backlog: deque[_Request] = deque()
        """Requests read and not yet served."""
        self._request = _Request()
        self._url = b""
        self._body: list[bytes] = []
        self._body_size = 0
        self._head_size = 0
        """Bytes of reads that were all head (one request's head across reads)."""
        self._fields_size = 0
        """Bytes of the request line and the headers parsed so far."""
        self._headers = 0
        self._handover = False
        self._failure: BotApiError | None = None
        self._in_message = False
        self._in_head = False
        self._begun = 0
        self._since: bytes | bytearray = b""
        """This connection's bytes from the start of the first request not complete when
        the current read began: a hand-over passes them on from the request's start."""
        self._since_base = 0
        self._tail: bytes | bytearray | None = None
        self._stopped = False
        """No more requests are read: closing, failed, or handing over."""
        self._closing = False
        self._eof = False
        """Closing once the requests already read are answered (the client half-closed)."""
        self._linger = False
        """Bad input: after the answer, read and drop what the client still sends for a
        while (closing with unread bytes would reset the connection, and the client could
        lose the answer)."""
        self._paused_reading = False
        self._paused_writing = False
        self._last = self._read_at = shared.clock()
        self._began_at = 0.0

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.shared.closing:
            transport.close()
            return
        self.shared.open.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.shared.open.discard(self)
        self._stopped = True
        self.waiting.clear()
        self._backlog.clear()
        # Tasks left run to their end (a long poll answers within its timeout, or at once
        # when the gateway closes); their answers have nowhere to go.
        self.transport = None

    def pause_writing(self) -> None:
        self._paused_writing = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._paused_writing = False
        self._update_reading()

    def data_received(self, data: bytes) -> None:
        if self._stopped:
            return
        now = self._last = self.shared.clock()
        was_in_head = self._in_head
        begun = self._begun
        if self._in_message:
            if not isinstance(self._since, bytearray):
                self._since = bytearray(self._since)
            self._since += data
        else:
            self._since = data
            self._since_base = self._begun
        self._read_at = now
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Upgrades are handed over from on_headers_complete: this is a parser oddity.
            if not self._handover:
                self._failure = _bad_http()
        except httptools.HttpParserError as exc:
            # A callback's _Stop has said why already (hand-over, failure, or a request
            # without keep-alive); anything else is llhttp refusing the bytes.
            if not isinstance(exc.__context__, _Stop) and not isinstance(exc.__cause__, _Stop):
                self._failure = _bad_http()
        if self._in_head and self._failure is None and not self._handover:
            # A head that takes a whole read (the read where it began is bounded by the
            # read size) counts that read.
            if was_in_head and self._begun == begun:
                self._head_size += len(data)
            if self._head_size > MAX_HEAD:
                self._failure = error(400, "the request header fields are too large")
        if self._handover and self._failure is None and self._tail is None:
            self._prepare_handover()
        elif not self._in_message:
            self._since = b""
        elif len(self._since) > _LOOKBEHIND and self._begun - 1 > self._since_base:
            start = request_start(self._since, self._begun - 1 - self._since_base)
            if start is not None:
                self._since = self._since[start:]
                self._since_base = self._begun - 1
        if self._done:
            self._backlog.extend(self._done)
            self._done.clear()
        self._work()

    def _work(self) -> None:
        """Serve the requests read so far, at most ``MAX_PER_TURN`` per event-loop turn
        (reading waits meanwhile), then the answer to bad input, if any."""
        backlog = self._backlog
        served = 0
        if backlog:
            # One look for other connections' commits for the whole batch (each request's
            # own scope nests in it).
            with self.gateway.storage.reading():
                while backlog and not self._closing:
                    if served == MAX_PER_TURN:
                        break
                    self._serve(backlog.popleft())
                    served += 1
            if backlog and not self._closing:
                asyncio.get_running_loop().call_soon(self._work)
                self._flush()
                return
        backlog.clear()
        if self._eof:
            self._closing = True
        if self._failure is not None and not self._closing:
            self._stopped = self._closing = self._linger = True
            self.waiting.append([self._answer("1.1", self._failure, close=True), True])
        self._flush()

    def eof_received(self) -> bool | None:
        # A client that half-closes still gets its answers; then the connection closes.
        self._stopped = True
        self.close_when_done()
        return True

    # -- parser callbacks (httptools) ---------------------------------------------------------

    def on_message_begin(self) -> None:
        self._begun += 1
        self._began_at = self._read_at
        self._in_message = self._in_head = True
        self._request = _Request()
        self._url = b""
        self._body = []
        self._body_size = self._head_size = self._fields_size = self._headers = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_FIELD:
            self._failure = error(400, "the request line is too long")
            raise _Stop

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers += 1
        size = len(name) + len(value)
        self._fields_size += size
        if size > MAX_FIELD or self._headers > MAX_HEADERS or self._fields_size > MAX_HEAD:
            self._failure = error(400, "the request header fields are too large")
            raise _Stop
        lowered = name.lower()
        if lowered == b"content-type":
            self._request.content_type = value.decode("latin-1")
        elif lowered == b"content-length":
            try:
                check_body_size(int(value), self.shared.max_body_size)
            except ValueError:
                self._failure = _bad_http()
                raise _Stop from None
            except BotApiError as exc:
                self._failure = exc
                raise _Stop from None
        elif lowered == b"expect":
            self._handover = True  # aiohttp answers 100 Continue

    def on_headers_complete(self) -> None:
        self._in_head = False
        request = self._request
        parser = self.parser
        try:
            url = httptools.parse_url(self._url)
        except httptools.HttpParserInvalidURLError:
            self._failure = _bad_http()
            raise _Stop from None
        raw_path = url.path or b"/"
        path = raw_path.decode("utf-8", "surrogateescape")
        if b"%" in raw_path:
            path = unquote(path, errors="surrogateescape")
        request.path = path
        if url.query:
            try:
                request.query = url.query.decode("utf-8")
            except UnicodeDecodeError:
                self._failure = error(400, "the query string is not valid UTF-8")
                raise _Stop from None
        method = parser.get_method()
        request.method = method.decode("latin-1")
        request.head = method == b"HEAD"
        request.version = parser.get_http_version()
        request.close = not parser.should_keep_alive()
        if (
            self._handover
            or parser.should_upgrade()
            or request.content_type[:19].lower() == "multipart/form-data"
            or (
                self.shared.mount
                and not path.startswith("/bot")
                and not path.startswith("/file/bot")
            )
        ):
            self._handover = True
            raise _Stop

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self.shared.max_body_size:
            # A chunked body (a declared length was checked with the headers).
            self._failure = _too_large(self.shared.max_body_size)
            raise _Stop
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._in_message = False
        request = self._request
        if self._body:
            request.body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._done.append(request)
        if request.close:
            # Nothing after a request without keep-alive is read.
            raise _Stop

    # -- serving -------------------------------------------------------------------------------

    def _serve(self, request: _Request) -> None:
        if request.close:
            self._stopped = self._closing = True
        slot: list[Any] = [None, request.close]
        self.waiting.append(slot)
        route = parse_path(request.path)
        if route is None:
            slot[0] = self._other(request)
            return
        try:
            fields = parse_fields(request.query, request.content_type, request.body)
        except BotApiError as exc:
            slot[0] = self._refuse(request, exc)
            return
        call = self.gateway.call(route, fields)
        try:
            waiting_on = call.send(None)
        except StopIteration as done:
            slot[0] = self._ok(request, result_body(done.value))
            return
        except BotApiError as exc:
            slot[0] = self._refuse(request, exc)
            return
        except Exception:
            log.exception("Bot API request %s failed", route.method)
            slot[0] = self._refuse(request, error(500))
            return
        task = asyncio.get_running_loop().create_task(self._finish(request, slot, call, waiting_on))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _finish(
        self,
        request: _Request,
        slot: list[Any],
        call: Coroutine[Any, Any, Any],
        waiting_on: object,
    ) -> None:
        try:
            result = await Resumed(call, waiting_on)
            slot[0] = self._ok(request, result_body(result))
        except BotApiError as exc:
            slot[0] = self._refuse(request, exc)
        except asyncio.CancelledError:
            slot[0] = self._refuse(request, error(500, "the server is stopping"), close=True)
            slot[1] = True
            self._flush()
            raise
        except Exception:
            log.exception("Bot API request failed")
            slot[0] = self._refuse(request, error(500))
        self._flush()

    def _other(self, request: _Request) -> bytes:
        """A download, or 404 (with the web page mounted, other paths went to aiohttp)."""
        download = parse_file_path(request.path)
        if download is None:
            return self._refuse(request, BotApiError(404, "Not Found"))
        try:
            data = self.gateway.download(*download)
        except BotApiError as exc:
            return self._refuse(request, exc)
        return self._response(request.version, 200, _OCTETS, data, request.close, request.head)

    def _ok(self, request: _Request, body: bytes) -> bytes:
        return self._response(request.version, 200, _JSON, body, request.close, request.head)

    def _refuse(self, request: _Request, exc: BotApiError, *, close: bool = False) -> bytes:
        return self._answer(request.version, exc, request.close or close, head=request.head)

    def _answer(
        self, version: str, exc: BotApiError, close: bool = False, *, head: bool = False
    ) -> bytes:
        extra = _JSON
        if exc.retry_after is not None:
            extra += f"Retry-After: {exc.retry_after}\r\n".encode()
        return self._response(version, exc.code, extra, error_body(exc), close, head)

    @staticmethod
    def _response(
        version: str, status: int, headers: bytes, body: bytes, close: bool, head: bool = False
    ) -> bytes:
        first = _HEADS.get((version, status)) or _HEADS.get(("1.1", status))
        if first is None:
            first = f"HTTP/1.1 {status} Error\r\n".encode()
        if close:
            headers += b"Connection: close\r\n"
        elif version == "1.0":
            headers += b"Connection: keep-alive\r\n"
        length = f"Content-Length: {len(body)}\r\n\r\n".encode()
        return b"".join((first, headers, length)) if head else first + headers + length + body

    # -- writing, flow control, hand-over, closing ---------------------------------------------

    def _flush(self) -> None:
        transport = self.transport
        waiting = self.waiting
        if transport is None:
            return
        out: list[bytes] = []
        close = False
        while waiting and waiting[0][0] is not None:
            data, close = waiting.popleft()
            out.append(data)
            if close:
                waiting.clear()
                break
        if out:
            transport.write(out[0] if len(out) == 1 else b"".join(out))
            self._last = self.shared.clock()
        if close or (self._closing and not waiting and not self._backlog):
            if self._linger:
                self._half_close(transport)
            else:
                self.close()
        elif not waiting and not self._backlog and self._tail is not None:
            self._hand_over()
        else:
            self._update_reading()

    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or self._tail is not None:
            return
        pause = self._paused_writing or len(self.waiting) >= MAX_WAITING or bool(self._backlog)
        if pause != self._paused_reading:
            self._paused_reading = pause
            if pause:
                transport.pause_reading()
            else:
                transport.resume_reading()

    def _prepare_handover(self) -> None:
        start = request_start(self._since, self._begun - 1 - self._since_base)
        if start is None:
            self._failure = _bad_http()
            return
        self._stopped = True
        self._tail = self._since[start:]
        self._since = b""
        if self.transport is not None:
            # Nothing more is read until the answers before it are written.
            self.transport.pause_reading()
            self._paused_reading = True

    def _hand_over(self) -> None:
        transport, tail = self.transport, self._tail
        if transport is None or tail is None:
            return
        self.shared.open.discard(self)
        self.transport = None
        handler = self.shared.web_server()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if self._paused_writing:
            handler.pause_writing()
        handler.data_received(bytes(tail))
        transport.resume_reading()

    def _half_close(self, transport: asyncio.Transport) -> None:
        self.shared.open.discard(self)
        self.transport = None
        if transport.can_write_eof():
            transport.write_eof()
        if self._paused_reading:
            transport.resume_reading()
        asyncio.get_running_loop().call_later(LINGER, transport.close)

    def expired(self, now: float) -> bool:
        if self.waiting or self._tail is not None:
            return False
        if self._in_message:
            return now - self._began_at > self.shared.read_timeout
        return now - self._last > self.shared.keepalive_timeout

    def close_when_done(self) -> None:
        self._stopped = True
        if self._backlog:
            self._eof = True  # the requests already read are served first
            return
        self._closing = True
        if not self.waiting:
            self.close()

    def close(self) -> None:
        self._stopped = True
        self.shared.open.discard(self)
        if self.transport is not None:
            self.transport.close()
            self.transport = None


__all__ = [
    "KEEPALIVE_TIMEOUT",
    "READ_TIMEOUT",
    "WireConnections",
    "WireProtocol",
    "error_body",
    "request_start",
    "result_body",
]
