"""Real Bot API frameworks, unmodified, in a basic group over TCP: a Telethon user creates
the group with the bot and a second Telethon user; both press one button; the bot sees both
presses with the group's one chat_instance, its membership changes, and what privacy mode
lets through."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telethon import functions, types  # type: ignore[import-untyped]

from loopgram.node import LoopgramServer
from loopgram.testing.botapi import aiogram_bot, ptb_application_builder

from ..integration.support import eventually, start_user, within

telegram = pytest.importorskip("telegram")


class Members:
    """Two Telethon users; the first creates a group with the bot and the second."""

    def __init__(self, alice: Any, bob: Any, bob_user: Any) -> None:
        self.alice = alice
        self.bob = bob
        self.bob_user = bob_user
        self.chat_id = 0

    @classmethod
    async def start(cls, server: LoopgramServer) -> Members:
        alice = await start_user(server)
        bob = await start_user(server)
        me = await bob.get_me()
        imported = await within(
            alice(
                functions.contacts.ImportContactsRequest(
                    contacts=[
                        types.InputPhoneContact(
                            client_id=1, phone=f"+{me.phone}", first_name="Bob", last_name=""
                        )
                    ]
                )
            )
        )
        (bob_user,) = imported.users
        return cls(alice, bob, bob_user)

    async def create_group(self, bot_username: str, title: str = "Club") -> int:
        bot = await within(self.alice.get_input_entity(bot_username))
        result = await within(
            self.alice(
                functions.messages.CreateChatRequest(users=[bot, self.bob_user], title=title)
            )
        )
        (chat,) = result.updates.chats
        self.chat_id = int(chat.id)
        return self.chat_id

    async def newest(self, client: Any, text: str) -> Any:
        async def find() -> Any:
            found = await client.get_messages(types.PeerChat(self.chat_id), limit=1)
            return found[0] if found and found[0].text == text and found[0].buttons else None

        return await eventually(find, timeout=15.0)

    async def disconnect(self) -> None:
        await asyncio.gather(self.alice.disconnect(), self.bob.disconnect())


async def _until(items: list[Any], count: int) -> bool:
    return len(items) >= count


async def test_python_telegram_bot_in_a_group_answers_two_members_with_one_chat_instance(
    server: LoopgramServer,
) -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import (
        CallbackQueryHandler,
        ChatMemberHandler,
        CommandHandler,
        ContextTypes,
        MessageHandler,
        filters,
    )

    token = server.create_bot("examplebot")
    membership: list[Any] = []
    queries: list[Any] = []
    heard: list[str] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(
            "vote",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]]),
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        queries.append(query)
        await query.answer(f"thanks {query.from_user.first_name}")

    async def member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        membership.append(update.my_chat_member)

    async def chatter(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        heard.append(update.message.text)

    app = ptb_application_builder(server, token).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(ChatMemberHandler(member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, chatter))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=5)
        members = await Members.start(server)
        try:
            alice_id = (await members.alice.get_me()).id
            chat_id = await members.create_group("examplebot")
            await eventually(lambda: _until(membership, 1), timeout=15.0)

            await within(members.alice.send_message(types.PeerChat(chat_id), "/start"))
            mine = await members.newest(members.alice, "vote")
            theirs = await members.newest(members.bob, "vote")
            first = await within(mine.click(data=b"yes"))
            second = await within(theirs.click(data=b"yes"))

            await within(members.alice.send_message(types.PeerChat(chat_id), "just chatting"))
            await within(
                members.alice.send_message(types.PeerChat(chat_id), "me too", reply_to=mine.id)
            )
            server.storage.chats.set_bot_privacy(int(token.split(":")[0]), False)
            await within(members.bob.send_message(types.PeerChat(chat_id), "chatting on"))
            await eventually(lambda: _until(heard, 2), timeout=15.0)

            info = await app.bot.get_chat(-chat_id)
            owner = await app.bot.get_chat_member(-chat_id, alice_id)
            bob = await app.bot.get_chat_member(-chat_id, members.bob_user.id)
            admins = await app.bot.get_chat_administrators(-chat_id)
            count = await app.bot.get_chat_member_count(-chat_id)

            await within(
                members.alice(
                    functions.messages.DeleteChatUserRequest(
                        chat_id=chat_id, user_id=await members.alice.get_input_entity("examplebot")
                    )
                )
            )
            await eventually(lambda: _until(membership, 2), timeout=15.0)
        finally:
            await app.updater.stop()
            await app.stop()
            await members.disconnect()
    assert [first.message, second.message] == [f"thanks {q.from_user.first_name}" for q in queries]
    assert [q.from_user.id for q in queries] == [alice_id, members.bob_user.id]
    instance = server.core.services.keys.group_chat_instance(chat_id)
    assert {q.chat_instance for q in queries} == {str(instance)}
    assert {(q.message.chat.id, q.message.chat.type) for q in queries} == {(-chat_id, "group")}
    # The bot's reply quotes the command, as python-telegram-bot does in groups.
    assert queries[0].message.reply_to_message.text == "/start"
    # Under privacy mode a reply to the bot gets through and plain chatter does not.
    assert heard == ["me too", "chatting on"]
    added, removed = membership
    assert (added.chat.id, added.from_user.id) == (-chat_id, alice_id)
    assert (added.old_chat_member.status, added.new_chat_member.status) == ("left", "member")
    assert removed.new_chat_member.status == "left"
    assert (info.id, info.type, info.title) == (-chat_id, "group", "Club")
    assert (owner.status, bob.status) == ("creator", "member")
    assert [a.user.id for a in admins] == [alice_id]
    assert count == 3


async def test_aiogram_bot_in_a_group_sees_both_presses_and_its_membership(
    server: LoopgramServer,
) -> None:
    aiogram = pytest.importorskip("aiogram")
    from aiogram import F, Router
    from aiogram.filters import Command
    from aiogram.types import (
        CallbackQuery,
        ChatMemberUpdated,
        InlineKeyboardButton,
        InlineKeyboardMarkup,
        Message,
    )

    token = server.create_bot("examplebot")
    membership: list[ChatMemberUpdated] = []
    queries: list[CallbackQuery] = []
    router = Router()

    @router.message(Command("vote"))
    async def vote(message: Message) -> None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Yes", callback_data="yes")]]
        )
        await message.answer("vote", reply_markup=keyboard)

    @router.callback_query(F.data == "yes")
    async def pressed(query: CallbackQuery) -> None:
        queries.append(query)
        await query.answer("counted", show_alert=True)

    @router.my_chat_member()
    async def member(update: ChatMemberUpdated) -> None:
        membership.append(update)

    bot = aiogram_bot(server, token)
    dispatcher = aiogram.Dispatcher()
    dispatcher.include_router(router)
    polling = asyncio.ensure_future(
        dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1)
    )
    members = await Members.start(server)
    try:
        chat_id = await members.create_group("examplebot")
        await eventually(lambda: _until(membership, 1), timeout=15.0)
        await within(members.bob.send_message(types.PeerChat(chat_id), "/vote@examplebot"))
        mine = await members.newest(members.alice, "vote")
        theirs = await members.newest(members.bob, "vote")
        answers = [await within(mine.click(data=b"yes")), await within(theirs.click(data=b"yes"))]
        member_info = await bot.get_chat_member(-chat_id, members.bob_user.id)
        await within(
            members.alice(
                functions.messages.EditChatAdminRequest(
                    chat_id=chat_id,
                    user_id=await members.alice.get_input_entity("examplebot"),
                    is_admin=True,
                )
            )
        )
        await eventually(lambda: _until(membership, 2), timeout=15.0)
        admins = await bot.get_chat_administrators(-chat_id)
    finally:
        await dispatcher.stop_polling()
        await within(polling)
        await bot.session.close()
        await members.disconnect()
    assert [(a.alert, a.message) for a in answers] == [(True, "counted"), (True, "counted")]
    assert len({q.chat_instance for q in queries}) == 1
    assert {q.message.chat.id for q in queries if q.message is not None} == {-chat_id}
    assert membership[0].new_chat_member.status == "member"
    assert (membership[1].old_chat_member.status, membership[1].new_chat_member.status) == (
        "member",
        "administrator",
    )
    assert member_info.status == "member"
    assert {a.status for a in admins} == {"creator", "administrator"}


async def test_python_telegram_bot_as_channel_admin_posts_a_keyboard_a_subscriber_presses(
    server: LoopgramServer,
) -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import CallbackQueryHandler, ContextTypes

    token = server.create_bot("examplebot")
    queries: list[Any] = []

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        queries.append(query)
        await query.answer("liked", show_alert=True)

    app = ptb_application_builder(server, token).build()
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=5)
        members = await Members.start(server)
        try:
            owner, subscriber = members.alice, members.bob
            created = await within(
                owner(
                    functions.channels.CreateChannelRequest(title="News", about="", broadcast=True)
                )
            )
            (channel,) = created.chats
            bot_user = await within(owner.get_input_entity("examplebot"))
            await within(
                owner(functions.channels.InviteToChannelRequest(channel, [members.bob_user]))
            )
            rights = types.ChatAdminRights(post_messages=True, edit_messages=True)
            await within(
                owner(functions.channels.EditAdminRequest(channel, bot_user, rights, rank=""))
            )
            chat_id = -(1_000_000_000_000 + channel.id)
            keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Like", callback_data="like")]])
            post = await app.bot.send_message(chat_id, "post", reply_markup=keyboard)
            admins = await app.bot.get_chat_administrators(chat_id)
            info = await app.bot.get_chat(chat_id)

            async def seen() -> Any:
                found = await subscriber.get_messages(types.PeerChannel(channel.id), limit=1)
                return found[0] if found and found[0].text == "post" else None

            copy = await eventually(seen, timeout=15.0)
            answer = await within(copy.click(data=b"like"))
        finally:
            await app.updater.stop()
            await app.stop()
            await members.disconnect()
    assert (answer.alert, answer.message) == (True, "liked")
    assert (post.chat.id, post.chat.type, post.sender_chat.id) == (chat_id, "channel", chat_id)
    (query,) = queries
    assert query.from_user.id == members.bob_user.id
    assert (query.message.chat.id, query.message.message_id) == (chat_id, post.message_id)
    instance = server.core.services.keys.channel_chat_instance(channel.id)
    assert query.chat_instance == str(instance)
    assert {a.status for a in admins} == {"creator", "administrator"}
    assert (info.type, info.title) == ("channel", "News")
