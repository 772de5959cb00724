"""End to end: basic groups through Telethon's public API over TCP -- a group with a bot and
two users who both press one message's button (the bot sees both presses, with one
chat_instance), a removed member who can no longer press, and the bot's privacy mode."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telethon import Button, errors, events, functions, types  # type: ignore[import-untyped]

from loopgram.testing.server import ServerThread

from .support import Pair, eventually, start_user, within


async def _friend_of(pair: Pair, server: ServerThread) -> tuple[Any, Any]:
    """A second user, known to the pair's user through a contact import."""
    friend = await start_user(server)
    me = await friend.get_me()
    imported = await pair.user(
        functions.contacts.ImportContactsRequest(
            contacts=[
                types.InputPhoneContact(
                    client_id=1, phone=f"+{me.phone}", first_name="Pal", last_name=""
                )
            ]
        )
    )
    (user,) = imported.users
    return friend, user


async def _group(pair: Pair, friend_user: Any, title: str = "Club") -> int:
    bot = await pair.user.get_input_entity(pair.bot_id)
    result = await within(
        pair.user(functions.messages.CreateChatRequest(users=[bot, friend_user], title=title))
    )
    (chat,) = result.updates.chats
    return int(chat.id)


async def _newest(client: Any, chat_id: int, text: str) -> Any:
    async def find() -> Any:
        found = await client.get_messages(types.PeerChat(chat_id), limit=1)
        return found[0] if found and found[0].text == text else None

    return await eventually(find)


async def test_two_members_press_one_button_and_the_bot_sees_one_chat_instance(
    pair: Pair, loopgram_server: ServerThread
) -> None:
    friend, friend_user = await _friend_of(pair, loopgram_server)
    try:
        chat_id = await _group(pair, friend_user)
        presses: list[Any] = []

        async def on_press(event: Any) -> None:
            presses.append(event)
            await event.answer(f"thanks {event.sender_id}")

        pair.bot.add_event_handler(on_press, events.CallbackQuery())
        await within(
            pair.bot.send_message(
                types.PeerChat(chat_id), "vote", buttons=[Button.inline("Yes", b"yes")]
            )
        )
        mine = await _newest(pair.user, chat_id, "vote")
        theirs = await _newest(friend, chat_id, "vote")
        first = await within(mine.click(data=b"yes"))
        second = await within(theirs.click(data=b"yes"))
        assert first.message == f"thanks {pair.user_id}"
        assert second.message == f"thanks {friend_user.id}"
        assert [p.sender_id for p in presses] == [pair.user_id, friend_user.id]
        assert {p.chat_id for p in presses} == {-chat_id}  # Telethon's marked id of a group
        assert presses[0].query.chat_instance == presses[1].query.chat_instance
        assert presses[0].query.msg_id == presses[1].query.msg_id

        # The bot edits its keyboard from the press: both members see the edit.
        await within(presses[1].edit("vote (2)", buttons=[Button.inline("Yes (2)", b"yes")]))
        for client in (pair.user, friend):
            edited = await _newest(client, chat_id, "vote (2)")
            assert edited.buttons[0][0].text == "Yes (2)"
    finally:
        await friend.disconnect()


async def test_a_removed_member_can_no_longer_press(
    pair: Pair, loopgram_server: ServerThread
) -> None:
    friend, friend_user = await _friend_of(pair, loopgram_server)
    try:
        chat_id = await _group(pair, friend_user)
        pressed = asyncio.Event()

        async def on_press(event: Any) -> None:
            pressed.set()
            await event.answer("ok")

        pair.bot.add_event_handler(on_press, events.CallbackQuery())
        await within(
            pair.bot.send_message(
                types.PeerChat(chat_id), "menu", buttons=[Button.inline("Go", b"go")]
            )
        )
        theirs = await _newest(friend, chat_id, "menu")
        await within(
            pair.user(
                functions.messages.DeleteChatUserRequest(chat_id=chat_id, user_id=friend_user)
            )
        )
        with pytest.raises(errors.PeerIdInvalidError):
            await within(theirs.click(data=b"go"))
        assert not pressed.is_set()
    finally:
        await friend.disconnect()


async def test_privacy_mode_hides_chatter_from_the_bot_until_switched_off(
    pair: Pair, loopgram_server: ServerThread
) -> None:
    friend, friend_user = await _friend_of(pair, loopgram_server)
    try:
        chat_id = await _group(pair, friend_user)
        seen: list[str] = []

        async def on_message(event: Any) -> None:
            seen.append(event.raw_text)

        pair.bot.add_event_handler(on_message, events.NewMessage(chats=[-chat_id]))
        await within(pair.user.send_message(types.PeerChat(chat_id), "just chatting"))
        await within(pair.user.send_message(types.PeerChat(chat_id), f"/stats@{pair.bot_username}"))
        await eventually(lambda: _wait(seen, 1))
        assert seen == [f"/stats@{pair.bot_username}"]

        core = loopgram_server.server.core
        loopgram_server.call(core.storage.chats.set_bot_privacy, pair.bot_id, False)
        await within(friend.send_message(types.PeerChat(chat_id), "chatting on"))
        await eventually(lambda: _wait(seen, 2))
        assert seen[-1] == "chatting on"
    finally:
        await friend.disconnect()


async def _wait(items: list[str], n: int) -> bool:
    return len(items) >= n
