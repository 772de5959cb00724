"""Fixtures of the Bot API tests: a server with the Bot API on the test's own loop (``server``
and ``clock``, shared with tests/web in ``tests/http_fixtures``), and an HTTP client for raw
requests."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from loopgram.node import LoopgramServer
from loopgram.storage import Account, PeerRef
from loopgram.tl import types

from ..http_fixtures import clock, server

__all__ = ["Api", "Chat", "clock", "server"]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Api:
    """Raw Bot API calls: ``await api.call("getMe")`` -> (HTTP status, JSON body)."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        self.http = http
        self.base = base
        self.token = token

    def url(self, method: str) -> str:
        return f"{self.base}/bot{self.token}/{method}"

    async def call(self, method: str, **params: Any) -> tuple[int, Any]:
        async with self.http.post(self.url(method), json=params) as response:
            return response.status, await response.json(content_type=None)

    async def ok(self, method: str, **params: Any) -> Any:
        status, body = await self.call(method, **params)
        assert status == 200 and body["ok"] is True, body
        return body["result"]

    # -- the other side of the chat, in process (the same services a Telethon user reaches) --

    def bot_account(self, server: LoopgramServer) -> Account:
        account = server.storage.accounts.get(int(self.token.split(":")[0]))
        assert account is not None
        return account


class Chat:
    """A user of the same server talking to the bot through the services directly (the
    MTProto handlers call the same methods)."""

    def __init__(
        self, server: LoopgramServer, api: Api, phone: str = "15550001", *, started: bool = True
    ) -> None:
        self.server = server
        self.api = api
        self.user = server.create_user(phone, "Ann")
        self.bot = api.bot_account(server)
        self._random = itertools.count(1)
        if started:
            # A bot cannot write first: the user opens the chat, as anyone does on Telegram.
            self.say("/start")

    @property
    def bot_peer(self) -> types.InputPeerUser:
        return types.InputPeerUser(user_id=self.bot.id, access_hash=self.bot.access_hash)

    def say(self, text: str) -> None:
        self.server.core.services.messages.send_message(
            self.user, self.bot_peer, text, random_id=next(self._random)
        )

    def newest_id(self) -> int:
        found = self.server.storage.messages.history(
            self.user.id, PeerRef.user(self.bot.id), limit=1
        )
        return found[0].id

    def press(self, data: bytes, msg_id: int | None = None) -> asyncio.Task[Any]:
        """Press a button of the bot's newest message (or ``msg_id``); the task waits for
        the bot's answer."""
        target = self.newest_id() if msg_id is None else msg_id
        return asyncio.ensure_future(
            self.server.core.presses.press(self.user, self.bot_peer, target, data=data, game=False)
        )


@pytest.fixture
def api(server: LoopgramServer, http: aiohttp.ClientSession) -> Api:
    token = server.create_bot("examplebot")
    assert server.bot_api_url is not None
    return Api(http, server.bot_api_url, token)


@pytest.fixture
def chat(server: LoopgramServer, api: Api) -> Chat:
    return Chat(server, api)
