"""Support of the end-to-end tests: unmodified Telethon clients against a loopgram server over
loopback TCP -- log in a bot and a user, have the bot send a keyboard, find it as the user.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from telethon import TelegramClient, events  # type: ignore[import-untyped]
from telethon.tl.custom import Message  # type: ignore[import-untyped]

from loopgram.testing.telethon import ServerLike, telethon_client

T = TypeVar("T")

LOGIN_CODE = "12345"
TIMEOUT = 15.0
_phones = itertools.count(15550100)


async def within(awaitable: Awaitable[T], timeout: float = TIMEOUT) -> T:
    return await asyncio.wait_for(awaitable, timeout)


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 5.0) -> T:
    """Poll ``check`` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def start_bot(server: ServerLike, token: str, session: str | None = None) -> Any:
    bot = telethon_client(server, session)
    await within(bot.start(bot_token=token))
    return bot


async def start_user(
    server: ServerLike, phone: str | None = None, session: str | None = None
) -> Any:
    user = telethon_client(server, session)
    number = phone or f"+1{next(_phones)}"
    await within(user.start(phone=lambda: number, code_callback=lambda: LOGIN_CODE))
    return user


@dataclass
class Pair:
    """A logged-in bot and user who have talked (each knows the other's access hash)."""

    bot: TelegramClient
    user: TelegramClient
    bot_id: int
    user_id: int
    bot_username: str
    last_sent: Message | None = None

    async def keyboard(self, buttons: Any, text: str = "pick one") -> Message:
        """The bot sends ``text`` with ``buttons``; returns the user's copy of it (the bot's
        is ``last_sent``)."""
        sent = await within(self.bot.send_message(self.user_id, text, buttons=buttons))
        self.last_sent = sent
        return await self.users_copy(sent.text)

    async def users_copy(self, text: str) -> Message:
        async def newest() -> Message | None:
            found = await self.user.get_messages(self.bot_username, limit=1)
            if found and found[0].text == text and found[0].sender_id == self.bot_id:
                return found[0]
            return None

        return await eventually(newest)

    async def disconnect(self) -> None:
        await asyncio.gather(self.bot.disconnect(), self.user.disconnect())


async def make_pair(
    server: ServerLike,
    token: str | None = None,
    *,
    bot: Any = None,
    bot_session: str | None = None,
    user_session: str | None = None,
    phone: str | None = None,
) -> Pair:
    """Log both in (or reuse a running ``bot``); the user says /start so that the bot learns
    the user."""
    if bot is None:
        if token is None:
            raise ValueError("a token or a bot client")
        bot = await start_bot(server, token, bot_session)
    user = await start_user(server, phone, user_session)
    bot_me = await bot.get_me()
    user_me = await user.get_me()
    greeted: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def on_start(event: Any) -> None:
        if not greeted.done():
            greeted.set_result(None)

    bot.add_event_handler(on_start, events.NewMessage(pattern="/start"))
    try:
        await within(user.send_message(bot_me.username, "/start"))
        await within(greeted)
    finally:
        bot.remove_event_handler(on_start)
    return Pair(bot, user, bot_me.id, user_me.id, bot_me.username)
