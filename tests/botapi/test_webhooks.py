"""Webhooks: setWebhook / deleteWebhook / getWebhookInfo, delivery in order with the secret
header, retries, a method call in the webhook's answer, and 409 for getUpdates meanwhile."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from loopgram.botapi import BotApiGateway, BotApiServer
from loopgram.clock import FakeClock
from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer

from ..integration.support import eventually
from .conftest import Api, Chat

CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)


class Receiver:
    """A webhook endpoint on loopback: records what it gets, answers what it is told."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], Any]] = []
        self.answers: list[tuple[int, Any]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.json()))
        status, body = self.answers.pop(0) if self.answers else (200, None)
        text = "" if body is None else json.dumps(body)
        return web.Response(status=status, text=text, content_type="application/json")

    def bodies(self) -> list[Any]:
        return [body for _, body in self.requests]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = Receiver()
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def hooked(
    clock: FakeClock, loopgram_rsa_key: RsaPrivateKey
) -> AsyncIterator[tuple[LoopgramServer, BotApiServer]]:
    """A server whose Bot API retries webhooks after 10 ms (not the default second)."""
    async with LoopgramServer(port=0, clock=clock, rsa_key=loopgram_rsa_key) as server:
        gateway = BotApiGateway(server.core, clock=clock, webhook_retry_delay=0.01)
        http_server = BotApiServer(gateway)
        await http_server.start()
        try:
            yield server, http_server
        finally:
            await http_server.stop()


@pytest.fixture
async def hook_api(hooked: tuple[LoopgramServer, BotApiServer], http: aiohttp.ClientSession) -> Api:
    server, http_server = hooked
    return Api(http, http_server.url, server.create_bot("examplebot"))


@pytest.fixture
def hook_chat(hooked: tuple[LoopgramServer, BotApiServer], hook_api: Api) -> Chat:
    return Chat(hooked[0], hook_api)


async def _until(check: Callable[[], bool]) -> None:
    async def done() -> bool:
        return check()

    await eventually(done, timeout=10)


async def test_updates_arrive_in_order_with_the_secret_header(
    hook_api: Api, hook_chat: Chat, receiver: Receiver
) -> None:
    assert await hook_api.ok("setWebhook", url=receiver.url, secret_token="s3cr3t_-") is True
    for text in ("one", "two", "three"):
        hook_chat.say(text)
    await _until(lambda: len(receiver.requests) == 3)
    assert [body["message"]["text"] for body in receiver.bodies()] == ["one", "two", "three"]
    ids = [body["update_id"] for body in receiver.bodies()]
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]
    assert all(
        headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t_-" for headers, _ in receiver.requests
    )
    info = await hook_api.ok("getWebhookInfo")
    assert info == {
        "url": receiver.url,
        "has_custom_certificate": False,
        "pending_update_count": 0,
        "max_connections": 40,
    }


async def test_a_failed_delivery_is_retried_before_the_next_update(
    hook_api: Api, hook_chat: Chat, receiver: Receiver
) -> None:
    receiver.answers = [(500, None), (502, None)]
    await hook_api.ok("setWebhook", url=receiver.url)
    hook_chat.say("first")
    hook_chat.say("second")
    await _until(lambda: len(receiver.requests) == 4)
    texts = [body["message"]["text"] for body in receiver.bodies()]
    assert texts == ["first", "first", "first", "second"]
    info = await hook_api.ok("getWebhookInfo")
    assert info["last_error_message"] == "Wrong response from the webhook: 502 Bad Gateway"
    assert isinstance(info["last_error_date"], int)
    assert info["pending_update_count"] == 0


async def test_an_unreachable_webhook_keeps_the_updates(hook_api: Api, hook_chat: Chat) -> None:
    await hook_api.ok("setWebhook", url="http://127.0.0.1:9/hook")
    hook_chat.say("kept")

    async def failed() -> Any:
        info = await hook_api.ok("getWebhookInfo")
        return info if "last_error_message" in info else None

    info = await eventually(failed, timeout=10)
    assert info["last_error_message"].startswith("Connection error")
    assert info["pending_update_count"] == 1
    # Back to polling: the update is still there.
    assert await hook_api.ok("deleteWebhook") is True
    (update,) = await hook_api.ok("getUpdates")
    assert update["message"]["text"] == "kept"


async def test_a_method_call_in_the_answer_is_executed(
    hook_api: Api, hook_chat: Chat, receiver: Receiver, hooked: tuple[LoopgramServer, Any]
) -> None:
    server = hooked[0]
    receiver.answers = [
        (200, {"method": "sendMessage", "chat_id": hook_chat.user.id, "text": "from the answer"})
    ]
    await hook_api.ok("setWebhook", url=receiver.url)
    hook_chat.say("/start")

    def replied() -> bool:
        copy = server.storage.messages.get(hook_chat.user.id, hook_chat.newest_id())
        return copy is not None and copy.text == "from the answer"

    await _until(replied)


async def test_get_updates_conflicts_with_a_webhook(hook_api: Api, receiver: Receiver) -> None:
    waiting = asyncio.ensure_future(hook_api.call("getUpdates", timeout=30))
    await asyncio.sleep(0.05)
    await hook_api.ok("setWebhook", url=receiver.url)
    assert await asyncio.wait_for(waiting, 10) == (
        409,
        {"ok": False, "error_code": 409, "description": CONFLICT_WEBHOOK},
    )
    status, body = await hook_api.call("getUpdates")
    assert (status, body["description"]) == (409, CONFLICT_WEBHOOK)
    await hook_api.ok("deleteWebhook")
    assert await hook_api.ok("getUpdates") == []
    assert (await hook_api.ok("getWebhookInfo"))["url"] == ""


@pytest.mark.parametrize(
    ("params", "description"),
    [
        (
            {"url": "ftp://127.0.0.1/x"},
            "Bad Request: bad webhook: an HTTP URL must be provided for webhook",
        ),
        ({"url": "nonsense"}, "Bad Request: bad webhook: an HTTP URL must be provided for webhook"),
        (
            {"url": "http://127.0.0.1:1/x", "secret_token": "no spaces"},
            "Bad Request: secret token contains unallowed characters",
        ),
        (
            {"url": "http://127.0.0.1:1/x", "secret_token": "x" * 257},
            "Bad Request: secret token contains unallowed characters",
        ),
    ],
)
async def test_bad_webhooks_are_refused(
    hook_api: Api, params: dict[str, Any], description: str
) -> None:
    status, body = await hook_api.call("setWebhook", **params)
    assert (status, body["description"]) == (400, description)


async def test_a_webhook_and_its_undelivered_updates_survive_a_restart(
    tmp_path: Any, clock: FakeClock, loopgram_rsa_key: RsaPrivateKey, receiver: Receiver
) -> None:
    def make() -> LoopgramServer:
        return LoopgramServer(
            tmp_path,
            port=0,
            bot_api_port=0,
            clock=clock,
            rsa_key=loopgram_rsa_key,
            synchronous="NORMAL",
        )

    receiver.answers = [(503, None)] * 1000
    async with aiohttp.ClientSession() as http:
        first = make()
        await first.start()
        try:
            assert first.bot_api_url is not None
            api = Api(http, first.bot_api_url, first.create_bot("examplebot"))
            await api.ok("setWebhook", url=receiver.url)
            Chat(first, api, started=False).say("while it was down")
            await _until(lambda: len(receiver.requests) >= 1)
        finally:
            await first.stop()
        receiver.answers = []
        receiver.requests.clear()
        second = make()
        await second.start()
        try:
            # No request from the bot: the server resumes the delivery by itself.
            await _until(lambda: len(receiver.requests) >= 1)
            assert receiver.bodies()[0]["message"]["text"] == "while it was down"
        finally:
            await second.stop()
