"""A supergroup and a channel with a Pyrogram-family client (kurigram): a user creates a
supergroup with a bot, says a command there, the bot (privacy on, so it sees only the
command) answers with a keyboard, the user presses and the bot sees the press in the
supergroup; a bot the channel's owner made an admin posts with a keyboard, and the owner
and a subscriber who joined the public channel press it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pyrogram = pytest.importorskip("pyrogram")

from loopgram.testing.pyrogram import pyrogram_client  # noqa: E402
from loopgram.testing.server import ServerThread  # noqa: E402

from .support import eventually, within  # noqa: E402


async def _newest_with_keyboard(client: Any, chat_id: int) -> Any:
    async def find() -> Any:
        async for message in client.get_chat_history(chat_id, limit=1):
            if message.reply_markup is not None:
                return message
        return None

    return await eventually(find, timeout=10)


async def test_pyrogram_user_presses_a_bots_button_in_a_supergroup(
    loopgram_server: ServerThread,
) -> None:
    from pyrogram import filters
    from pyrogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    token = loopgram_server.create_bot("pyrosupbot")
    bot = pyrogram_client(loopgram_server, "sbot", bot_token=token)
    user = pyrogram_client(loopgram_server, "suser", phone_number="+15550298", phone_code="12345")
    seen: list[str] = []
    presses: list[Any] = []

    @bot.on_message(filters.group)
    async def on_group_message(client: Any, message: Any) -> None:
        if message.service:
            return
        seen.append(message.text or "")
        if message.text and message.text.startswith("/vote"):
            await client.send_message(
                message.chat.id,
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
        group = await within(user.create_supergroup("Pyro super"))
        await within(user.add_chat_members(group.id, ["pyrosupbot"]))
        await within(user.send_message(group.id, "only chatting"))
        await within(user.send_message(group.id, "/vote"))
        message = await _newest_with_keyboard(user, group.id)
        answer = await within(message.click(0))
        assert answer.message == "counted y"
        assert seen == ["/vote"]  # privacy mode: the chatter never reached the bot
        (query,) = presses
        assert query.message.chat.id == group.id
        assert query.chat_instance
    finally:
        await asyncio.gather(bot.stop(), user.stop())


async def test_pyrogram_owner_and_subscriber_press_the_post_of_a_bot_made_channel_admin(
    loopgram_server: ServerThread,
) -> None:
    from pyrogram.types import ChatPrivileges, InlineKeyboardButton, InlineKeyboardMarkup

    token = loopgram_server.create_bot("pyronewsbot")
    bot = pyrogram_client(loopgram_server, "cbot", bot_token=token)
    owner = pyrogram_client(loopgram_server, "cowner", phone_number="+15550299", phone_code="12345")
    subscriber = pyrogram_client(
        loopgram_server, "csub", phone_number="+15550300", phone_code="12345"
    )
    presses: list[Any] = []

    @bot.on_callback_query()
    async def on_query(client: Any, query: Any) -> None:
        presses.append(query)
        await query.answer("more soon", show_alert=True)

    await within(bot.start(), 30)
    await within(owner.start(), 30)
    await within(subscriber.start(), 30)
    try:
        channel = await within(owner.create_channel("Pyro news"))
        await within(owner.add_chat_members(channel.id, ["pyronewsbot"]))
        await within(
            owner.promote_chat_member(
                channel.id, "pyronewsbot", ChatPrivileges(can_post_messages=True)
            )
        )

        async def bot_knows() -> Any:
            try:
                return await bot.resolve_peer(channel.id)
            except Exception:
                return None

        await eventually(bot_knows, timeout=10)
        await within(
            bot.send_message(
                channel.id,
                "Breaking",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("More", callback_data="more")]]
                ),
            )
        )
        post = await _newest_with_keyboard(owner, channel.id)
        answer = await within(post.click(0))
        assert answer.alert and answer.message == "more soon"
        (query,) = presses
        assert query.message.chat.id == channel.id

        await within(owner.set_chat_username(channel.id, "pyro_news"))
        await within(subscriber.join_chat("pyro_news"))
        seen = await _newest_with_keyboard(subscriber, channel.id)
        assert seen.id == post.id
        answer = await within(seen.click(0))
        assert answer.message == "more soon"
        first, second = presses
        assert [q.from_user.id for q in presses] == [owner.me.id, subscriber.me.id]
        # One chat: one chat_instance for everyone who presses there.
        assert second.chat_instance == first.chat_instance
        assert second.message.chat.id == channel.id
    finally:
        await asyncio.gather(bot.stop(), owner.stop(), subscriber.stop())
