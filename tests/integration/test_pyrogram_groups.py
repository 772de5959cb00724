"""A basic group with a Pyrogram-family client (kurigram), when one is installed: a user
creates a group with a bot, says a command there, the bot (privacy on, so it sees only the
command) answers with a keyboard, the user presses, and the bot sees the press in the group."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pyrogram = pytest.importorskip("pyrogram")

from loopgram.testing.pyrogram import pyrogram_client  # noqa: E402
from loopgram.testing.server import ServerThread  # noqa: E402

from .support import eventually, within  # noqa: E402


async def test_pyrogram_user_presses_a_bots_button_in_a_group(
    loopgram_server: ServerThread,
) -> None:
    from pyrogram import filters
    from pyrogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    token = loopgram_server.create_bot("pyrogroupbot")
    bot = pyrogram_client(loopgram_server, "gbot", bot_token=token)
    user = pyrogram_client(loopgram_server, "guser", phone_number="+15550198", phone_code="12345")
    seen: list[str] = []
    presses: list[Any] = []

    @bot.on_message(filters.group)
    async def on_group_message(client: Any, message: Any) -> None:
        if message.service:
            # The bot sees the group's service messages (its own joining) as on Telegram.
            seen.append(f"service: {message.service}")
            return
        seen.append(message.text or "")
        if message.text and message.text.startswith("/vote"):
            await message.reply(
                "vote",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("Yes", callback_data="y")]]
                ),
            )

    @bot.on_callback_query()
    async def on_query(client: Any, query: Any) -> None:
        presses.append(query)
        await query.answer(f"counted {query.data}")

    await within(bot.start(), 30)
    await within(user.start(), 30)
    try:
        group = await within(user.create_group("Pyro club", ["pyrogroupbot"]))
        await within(user.send_message(group.id, "only chatting"))
        await within(user.send_message(group.id, "/vote"))

        async def keyboard() -> Any:
            async for message in user.get_chat_history(group.id, limit=1):
                if message.reply_markup is not None:
                    return message
            return None

        message = await eventually(keyboard, timeout=10)
        answer = await within(message.click(0))
        assert answer.message == "counted y"
        # Privacy mode: the chatter never reached the bot; the command and the join did.
        assert seen[-1] == "/vote" and "only chatting" not in seen
        assert [s for s in seen if s.startswith("service")] == [seen[0]]
        (query,) = presses
        assert query.message.chat.id == group.id
        assert query.chat_instance
    finally:
        await asyncio.gather(bot.stop(), user.stop())
