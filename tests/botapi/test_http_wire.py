"""The gateway's own HTTP/1.1 connections (``loopgram.botapi.wire``) over real TCP: pipelined
requests answered in order, requests split across reads, the body and head limits, bad HTTP,
connections handed to aiohttp (multipart, ``Expect``, the web page), keep-alive and read
timeouts on an injected clock, HTTP/1.0, and shutdown with a long poll waiting."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httptools
import pytest

from loopgram.botapi import BotApiGateway, BotApiServer
from loopgram.botapi.http import DEFAULT_MAX_BODY
from loopgram.botapi.wire import KEEPALIVE_TIMEOUT, READ_TIMEOUT, request_start
from loopgram.clock import FakeClock
from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer

from .conftest import Api, Chat


class Answer:
    __slots__ = ("body", "headers", "status", "version")

    def __init__(self, status: int, version: str, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.version = version
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class Link:
    """One raw TCP connection; answers are read with httptools' response parser."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = httptools.HttpResponseParser(self)
        self.answers: list[Answer] = []
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []

    @classmethod
    async def open(cls, base: str) -> Link:
        host, port = base.removeprefix("http://").rsplit(":", 1)
        return cls(*await asyncio.open_connection(host, int(port)))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._headers, self._body = {}, []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode().lower()] = value.decode()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        version = self.parser.get_http_version()
        self.answers.append(Answer(status, version, self._headers, b"".join(self._body)))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read(self, count: int, timeout: float = 10.0) -> list[Answer]:
        async with asyncio.timeout(timeout):
            while len(self.answers) < count:
                data = await self.reader.read(65536)
                if not data:
                    break
                self.parser.feed_data(data)
        got, self.answers = self.answers[:count], self.answers[count:]
        return got

    async def closed(self, timeout: float = 10.0) -> bool:
        """Whether the server closes the connection (EOF) without another answer."""
        async with asyncio.timeout(timeout):
            while data := await self.reader.read(65536):
                self.parser.feed_data(data)
        return not self.answers

    def close(self) -> None:
        self.writer.close()


def get(path: str, *headers: str, version: str = "1.1") -> bytes:
    lines = [f"GET {path} HTTP/{version}", "Host: loopgram", *headers, "", ""]
    return "\r\n".join(lines).encode()


def post(path: str, body: bytes, content_type: str, *headers: str) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: loopgram",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        *headers,
        "",
        "",
    ]
    return "\r\n".join(lines).encode() + body


def chunked_head(api: Api) -> bytes:
    """The head of a sendMessage whose JSON body comes in chunks."""
    lines = [
        f"POST {path(api, 'sendMessage')} HTTP/1.1",
        "Host: loopgram",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
        "",
        "",
    ]
    return "\r\n".join(lines).encode()


@pytest.fixture
async def link(api: Api) -> AsyncIterator[Link]:
    opened = await Link.open(api.base)
    yield opened
    opened.close()


def path(api: Api, method: str) -> str:
    return f"/bot{api.token}/{method}"


async def test_pipelined_requests_are_answered_in_order_in_one_read(api: Api, link: Link) -> None:
    await link.send(
        get(path(api, "getMe"))
        + get(path(api, "noSuchMethod"))
        + get(f"/bot{api.token}/getMyCommands")
        + get("/bot123:wrong/getMe")
        + get(path(api, "GETME"))
    )
    answers = await link.read(5)
    assert [a.status for a in answers] == [200, 404, 200, 401, 200]
    assert answers[0].json()["result"]["username"] == "examplebot"
    assert answers[1].json()["description"] == "Not Found: method not found"
    assert answers[2].json() == {"ok": True, "result": []}
    assert answers[3].json()["description"] == "Unauthorized"
    assert answers[4].body == answers[0].body
    assert answers[0].headers["content-type"] == "application/json; charset=utf-8"


async def test_a_pipelined_flood_across_many_reads_is_answered_whole(api: Api, link: Link) -> None:
    # Reads end in the middle of a head over and over; each head is small.
    count = 3000
    await link.send(get(path(api, "getMe")) * count)
    answers = await link.read(count, timeout=60)
    assert len(answers) == count
    assert {a.status for a in answers} == {200}


async def test_a_client_that_half_closes_gets_every_answer_then_the_close(
    api: Api, link: Link
) -> None:
    count = 300  # more than one event-loop turn's worth
    await link.send(get(path(api, "getMe")) * count)
    link.writer.write_eof()
    answers = await link.read(count, timeout=60)
    assert len(answers) == count
    assert await link.closed()


async def test_a_request_split_across_reads_is_answered_once_whole(
    api: Api, chat: Chat, link: Link
) -> None:
    body = json.dumps({"chat_id": chat.user.id, "text": "in pieces"}).encode()
    request = post(path(api, "sendMessage"), body, "application/json") + get(path(api, "getMe"))
    for i in range(0, len(request), 7):
        await link.send(request[i : i + 7])
        # Let the server read each piece on its own.
        await asyncio.sleep(0)
    sent, me = await link.read(2)
    assert (sent.status, sent.json()["result"]["text"]) == (200, "in pieces")
    assert me.json()["result"]["username"] == "examplebot"


async def test_a_long_poll_holds_back_the_answers_behind_it(
    api: Api, chat: Chat, link: Link
) -> None:
    await link.send(get(path(api, "getUpdates")))  # the bot's updates are queued from now
    await link.read(1)
    await link.send(get(path(api, "getUpdates") + "?timeout=30") + get(path(api, "getMe")))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not link.answers and await _nothing_yet(link)
    chat.say("wake up")
    poll, me = await link.read(2)
    assert [u["message"]["text"] for u in poll.json()["result"]] == ["wake up"]
    assert me.json()["result"]["username"] == "examplebot"


async def _nothing_yet(link: Link) -> bool:
    """No answer is waiting to be read (the server holds both back)."""
    try:
        async with asyncio.timeout(0.05):
            data = await link.reader.read(65536)
    except TimeoutError:
        return True
    link.parser.feed_data(data)
    return False


async def test_a_body_over_the_limit_is_413_and_closes(api: Api, link: Link) -> None:
    await link.send(
        "\r\n".join(
            [
                f"POST {path(api, 'sendMessage')} HTTP/1.1",
                "Host: loopgram",
                "Content-Type: application/json",
                f"Content-Length: {DEFAULT_MAX_BODY + 1}",
                "",
                "",
            ]
        ).encode()
    )
    (answer,) = await link.read(1)
    assert answer.status == 413
    assert answer.json()["description"] == (
        f"Request Entity Too Large: the request body exceeds {DEFAULT_MAX_BODY} bytes"
    )
    assert answer.headers["connection"] == "close"
    assert await link.closed()


async def test_a_chunked_body_over_the_limit_is_413_and_closes(api: Api, link: Link) -> None:
    head = chunked_head(api)
    chunk = b"x" * 65536
    await link.send(head)
    for _ in range(DEFAULT_MAX_BODY // len(chunk) + 1):
        if link.reader.at_eof():
            break
        with_framing = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        try:
            await link.send(with_framing)
        except ConnectionError:
            break
    (answer,) = await link.read(1)
    assert answer.status == 413
    assert await link.closed()


async def test_a_chunked_body_is_read(api: Api, chat: Chat, link: Link) -> None:
    body = json.dumps({"chat_id": chat.user.id, "text": "chunked"}).encode()
    head = chunked_head(api)
    chunks = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in (body[:5], body[5:]))
    await link.send(head + chunks + b"0\r\n\r\n")
    (answer,) = await link.read(1)
    assert (answer.status, answer.json()["result"]["text"]) == (200, "chunked")


@pytest.mark.parametrize(
    "garbage",
    [b"GARBAGE\r\n\r\n", b"GET /x HTTP/9.9\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"],
)
async def test_garbage_is_400_after_the_good_requests_and_closes(
    api: Api, link: Link, garbage: bytes
) -> None:
    await link.send(get(path(api, "getMe")) + garbage + get(path(api, "getMe")))
    good, bad = await link.read(2)
    assert good.status == 200
    assert bad.status == 400
    assert bad.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: invalid HTTP request",
    }
    assert await link.closed()


async def test_a_head_over_the_limit_is_400_and_closes(api: Api, link: Link) -> None:
    await link.send(f"GET {path(api, 'getMe')} HTTP/1.1\r\nHost: loopgram\r\n".encode())
    for i in range(20):
        await link.send(f"X-Filler-{i}: {'a' * 8000}\r\n".encode())
        if link.reader.at_eof():
            break
    (answer,) = await link.read(1)
    assert answer.status == 400
    assert answer.json()["description"] == "Bad Request: the request header fields are too large"
    assert await link.closed()


async def test_multipart_on_a_used_connection_is_handed_to_aiohttp(
    api: Api, chat: Chat, link: Link
) -> None:
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("chat_id", str(chat.user.id))
    form.add_field("text", "multipart")
    writer = form()
    assert writer.headers["Content-Type"].startswith("multipart/form-data")
    body_parts: list[bytes] = []

    class Sink:
        async def write(self, data: bytes) -> None:
            body_parts.append(bytes(data))

    await writer.write(Sink())  # type: ignore[arg-type]
    content_type = writer.headers["Content-Type"]
    await link.send(get(path(api, "getMe")))
    (first,) = await link.read(1)
    # The multipart request, pipelined behind a plain one, then more plain ones: aiohttp
    # gets the connection from the multipart request's first byte on.
    await link.send(
        get(path(api, "getMe"))
        + post(path(api, "sendMessage"), b"".join(body_parts), content_type)
        + get(path(api, "getMe"))
        + get("/web/")
    )
    me, sent, again, page = await link.read(4)
    assert first.status == me.status == again.status == 200
    assert (sent.status, sent.json()["result"]["text"]) == (200, "multipart")
    assert page.status == 200 and b"<html" in page.body.lower()
    # aiohttp answered the last three: it sends a Date header, the wire driver does not.
    assert "date" not in me.headers and "date" in sent.headers


async def test_expect_continue_is_handed_to_aiohttp(api: Api, chat: Chat, link: Link) -> None:
    body = json.dumps({"chat_id": chat.user.id, "text": "expected"}).encode()
    head = post(path(api, "sendMessage"), b"", "application/json", "Expect: 100-continue")
    head = head.replace(b"Content-Length: 0", f"Content-Length: {len(body)}".encode())
    await link.send(head)
    async with asyncio.timeout(10):
        interim = await link.reader.readuntil(b"\r\n\r\n")
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    await link.send(body)
    (answer,) = await link.read(1)
    assert (answer.status, answer.json()["result"]["text"]) == (200, "expected")


async def test_the_web_page_as_a_first_request_goes_to_aiohttp(api: Api, link: Link) -> None:
    await link.send(get("/web/") + get(path(api, "getMe")))
    page, me = await link.read(2)
    assert page.status == 200 and b"<html" in page.body.lower()
    assert me.json()["result"]["username"] == "examplebot"


async def test_http_1_0_without_keep_alive_is_answered_and_closed(api: Api, link: Link) -> None:
    await link.send(get(path(api, "getMe"), version="1.0") + get(path(api, "getMe")))
    (answer,) = await link.read(1)
    assert (answer.status, answer.version) == (200, "1.0")
    assert answer.headers["connection"] == "close"
    # Nothing after it is read.
    assert await link.closed()


async def test_http_1_0_with_keep_alive_stays_open(api: Api, link: Link) -> None:
    ask = get(path(api, "getMe"), "Connection: keep-alive", version="1.0")
    await link.send(ask + ask)
    first, second = await link.read(2)
    assert first.headers["connection"] == second.headers["connection"] == "keep-alive"
    assert first.body == second.body


async def test_head_answers_without_a_body(api: Api, link: Link) -> None:
    request = get(path(api, "getMe")).replace(b"GET ", b"HEAD ", 1)
    await link.send(request + get(path(api, "getMe")))
    # A HEAD answer has no body whatever its Content-Length says: read it by hand.
    async with asyncio.timeout(10):
        head = await link.reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    (me,) = await link.read(1)
    assert f"content-length: {len(me.body)}".encode() in head.lower()
    # An error answer to HEAD has no body either.
    missing = get(path(api, "noSuchMethod")).replace(b"GET ", b"HEAD ", 1)
    await link.send(missing + get(path(api, "getMe")))
    async with asyncio.timeout(10):
        head = await link.reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 Not Found")
    (again,) = await link.read(1)
    assert again.body == me.body


def test_request_start_finds_where_each_pipelined_request_begins() -> None:
    requests = [get("/a"), post("/b", b"x" * 300, "text/plain"), get("/c"), get("/d")]
    data = b"".join(requests)
    offsets = [sum(len(r) for r in requests[:i]) for i in range(len(requests))]
    assert [request_start(data, i) for i in range(4)] == offsets
    assert request_start(data, 4) is None
    # A request of which only the first bytes came.
    assert request_start(data + b"GE", 4) == len(data)


@pytest.fixture
async def timed(
    clock: FakeClock, loopgram_rsa_key: RsaPrivateKey
) -> AsyncIterator[tuple[LoopgramServer, BotApiServer, FakeClock]]:
    """A Bot API listener whose connection timeouts run on a clock of the test's own."""
    wire_clock = FakeClock(1000.0)
    async with LoopgramServer(port=0, clock=clock, rsa_key=loopgram_rsa_key) as server:
        http_server = BotApiServer(BotApiGateway(server.core, clock=clock), clock=wire_clock)
        await http_server.start()
        try:
            yield server, http_server, wire_clock
        finally:
            await http_server.stop()


async def test_idle_keep_alive_connections_close_after_the_timeout(
    timed: tuple[LoopgramServer, BotApiServer, FakeClock],
) -> None:
    server, http_server, wire_clock = timed
    token = server.create_bot("examplebot")
    idle = await Link.open(http_server.url)
    busy = await Link.open(http_server.url)
    await idle.send(get(f"/bot{token}/getMe"))
    await busy.send(get(f"/bot{token}/getMe"))
    await idle.read(1)
    await busy.read(1)
    wire_clock.advance(KEEPALIVE_TIMEOUT - 1)
    assert http_server.expire_idle() == 0
    await busy.send(get(f"/bot{token}/getMe"))
    await busy.read(1)
    wire_clock.advance(2)
    assert http_server.expire_idle() == 1
    assert await idle.closed()
    await busy.send(get(f"/bot{token}/getMe"))
    (again,) = await busy.read(1)
    assert again.status == 200
    busy.close()


async def test_a_slow_request_closes_after_the_read_timeout_but_a_long_poll_stays(
    timed: tuple[LoopgramServer, BotApiServer, FakeClock],
) -> None:
    server, http_server, wire_clock = timed
    token = server.create_bot("examplebot")
    slow = await Link.open(http_server.url)
    polling = await Link.open(http_server.url)
    await slow.send(f"GET /bot{token}/getMe HTTP/1.1\r\nHost: loopgram\r\n".encode())
    await polling.send(get(f"/bot{token}/getUpdates?timeout=50"))
    # The server has read both (the long poll's answer waits on the gateway).
    await polling.send(b"")
    for _ in range(100):
        await asyncio.sleep(0)
    wire_clock.advance(READ_TIMEOUT + 1)
    assert http_server.expire_idle() == 1
    assert await slow.closed()
    wire_clock.advance(KEEPALIVE_TIMEOUT + 1)
    assert http_server.expire_idle() == 0
    polling.close()


async def test_stopping_answers_a_waiting_long_poll_and_closes(
    timed: tuple[LoopgramServer, BotApiServer, FakeClock],
) -> None:
    server, http_server, _ = timed
    token = server.create_bot("examplebot")
    link = await Link.open(http_server.url)
    await link.send(get(f"/bot{token}/getUpdates?timeout=50"))
    for _ in range(100):
        await asyncio.sleep(0)
    await http_server.stop()
    (poll,) = await link.read(1)
    assert poll.json() == {"ok": True, "result": []}
    assert await link.closed()


async def test_the_aiohttp_driver_serves_the_same_answers(
    clock: FakeClock, loopgram_rsa_key: RsaPrivateKey
) -> None:
    async with LoopgramServer(port=0, clock=clock, rsa_key=loopgram_rsa_key) as server:
        token = server.create_bot("examplebot")
        answers = []
        for driver in ("wire", "aiohttp"):
            http_server = BotApiServer(BotApiGateway(server.core, clock=clock), driver=driver)
            await http_server.start()
            try:
                link = await Link.open(http_server.url)
                await link.send(get(f"/bot{token}/getMe") + get(f"/bot{token}/nothing"))
                answers.append([(a.status, a.json()) for a in await link.read(2)])
                link.close()
            finally:
                await http_server.stop()
    assert answers[0] == answers[1]
    assert [status for status, _ in answers[0]] == [200, 404]
