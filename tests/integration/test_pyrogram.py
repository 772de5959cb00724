"""The story with a Pyrogram-family client (kurigram), when one is installed: a bot and a
user log in, the bot answers the user's /start with a keyboard, the user presses, the bot's
``answer`` reaches the user."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pyrogram = pytest.importorskip("pyrogram")

from loopgram.testing.pyrogram import pyrogram_client  # noqa: E402
from loopgram.testing.server import ServerThread  # noqa: E402

from .support import eventually, within  # noqa: E402


async def test_pyrogram_bot_and_user(loopgram_server: ServerThread) -> None:
    from pyrogram import filters
    from pyrogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    token = loopgram_server.create_bot("pyrobot")
    bot = pyrogram_client(loopgram_server, "bot", bot_token=token)
    user = pyrogram_client(loopgram_server, "user", phone_number="+15550199", phone_code="12345")

    @bot.on_message(filters.command("start"))
    async def on_start(client: Any, message: Any) -> None:
        await message.reply(
            "pick",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Buy", callback_data="buy")]]),
        )

    @bot.on_callback_query()
    async def on_query(client: Any, query: Any) -> None:
        await query.answer(
            f"got {query.data}", show_alert=True, url="https://t.me/pyrobot?start=x", cache_time=9
        )

    await within(bot.start(), 30)
    await within(user.start(), 30)
    try:
        await user.send_message("pyrobot", "/start")

        async def keyboard() -> Any:
            async for message in user.get_chat_history("pyrobot", limit=1):
                if message.reply_markup is not None:
                    return message
            return None

        message = await eventually(keyboard, timeout=10)
        answer = await within(message.click(0))
        assert answer.message == "got buy"
        assert answer.alert is True
        assert answer.url == "https://t.me/pyrobot?start=x"
        assert answer.cache_time == 9
    finally:
        await asyncio.gather(bot.stop(), user.stop())
