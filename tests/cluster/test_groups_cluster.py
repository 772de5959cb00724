"""A group's messages across three ``loopgram serve`` processes: three Telethon users, each
connected to another process, in a basic group and in a supergroup; what one member writes
arrives as an update at the two others (through the update fan-out between processes), and a
bot on a fourth connection answers a member's press in the group."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telethon import Button, events, functions, types  # type: ignore[import-untyped]

from loopgram.testing.cluster import ServerCluster
from tests.cluster.conftest import new_bot
from tests.integration.support import start_bot, start_user, within


class Member:
    """A user on one process, with the group messages it was pushed, by text."""

    def __init__(self, client: Any, me: Any) -> None:
        self.client = client
        self.me = me
        self.arrived: dict[str, asyncio.Future[Any]] = {}
        """The first message of each text (a text is pushed once per test)."""
        self.twice: list[str] = []
        """Texts pushed more than once (the fixture checks there are none)."""
        client.add_event_handler(self._on_message, events.NewMessage(incoming=True))

    async def _on_message(self, event: Any) -> None:
        arrived = self._pending(event.raw_text)
        if arrived.done():
            self.twice.append(event.raw_text)  # Telethon would swallow an exception here
        else:
            arrived.set_result(event)

    async def got(self, text: str) -> Any:
        return await within(self._pending(text))

    def _pending(self, text: str) -> asyncio.Future[Any]:
        future = self.arrived.get(text)
        if future is None:
            future = self.arrived[text] = asyncio.get_running_loop().create_future()
        return future


@pytest.fixture
async def members(cluster: ServerCluster) -> AsyncIterator[list[Member]]:
    """Three users, the first on process 0 knowing the two others (a contact import)."""
    clients = [await start_user(node) for node in cluster.nodes]
    people = [Member(client, await client.get_me()) for client in clients]
    owner = people[0]
    await within(
        owner.client(
            functions.contacts.ImportContactsRequest(
                contacts=[
                    types.InputPhoneContact(
                        client_id=i, phone=f"+{p.me.phone}", first_name=f"M{i}", last_name=""
                    )
                    for i, p in enumerate(people[1:], 1)
                ]
            )
        )
    )
    try:
        yield people
    finally:
        await asyncio.gather(*(client.disconnect() for client in clients))
    assert [m.twice for m in people] == [[], [], []]


async def test_a_basic_groups_message_reaches_members_on_every_process(
    members: list[Member],
) -> None:
    owner, second, third = members
    invited = [await owner.client.get_input_entity(m.me.id) for m in (second, third)]
    created = await within(
        owner.client(functions.messages.CreateChatRequest(users=invited, title="Across"))
    )
    (chat,) = created.updates.chats
    # The member on process 1 writes; the members on processes 0 and 2 get it pushed.
    await within(second.client.send_message(types.PeerChat(chat.id), "from process 1"))
    for member in (owner, third):
        event = await member.got("from process 1")
        assert event.sender_id == second.me.id
        assert event.chat_id == -chat.id
    # And the other way round, from process 2.
    await within(third.client.send_message(types.PeerChat(chat.id), "from process 2"))
    for member in (owner, second):
        event = await member.got("from process 2")
        assert event.sender_id == third.me.id


async def test_a_supergroups_message_reaches_members_on_every_process(
    members: list[Member],
) -> None:
    owner, second, third = members
    created = await within(
        owner.client(
            functions.channels.CreateChannelRequest(title="Across", about="", megagroup=True)
        )
    )
    (channel,) = created.chats
    invited = [await owner.client.get_input_entity(m.me.id) for m in (second, third)]
    await within(
        owner.client(functions.channels.InviteToChannelRequest(channel=channel, users=invited))
    )
    await within(owner.client.send_message(channel, "from process 0"))
    for member in (second, third):
        event = await member.got("from process 0")
        assert event.sender_id == owner.me.id
    target = await within(third.client.get_input_entity(types.PeerChannel(channel.id)))
    await within(third.client.send_message(target, "from process 2"))
    for member in (owner, second):
        event = await member.got("from process 2")
        assert event.sender_id == third.me.id
        assert event.is_channel and event.is_group


async def test_a_bot_on_one_process_answers_a_press_in_a_group_made_on_another(
    cluster: ServerCluster, members: list[Member]
) -> None:
    owner, second, _ = members
    bot = await start_bot(cluster.nodes[2], new_bot(cluster))
    try:
        bot_me = await bot.get_me()
        invited = [
            await owner.client.get_input_entity(second.me.id),
            await owner.client.get_input_entity(bot_me.username),
        ]
        created = await within(
            owner.client(functions.messages.CreateChatRequest(users=invited, title="Shop"))
        )
        (chat,) = created.updates.chats
        presses: list[Any] = []

        async def on_press(event: Any) -> None:
            presses.append(event)
            await event.answer(f"thanks {event.sender_id}")

        bot.add_event_handler(on_press, events.CallbackQuery())
        await within(
            bot.send_message(types.PeerChat(chat.id), "vote", buttons=[Button.inline("Y", b"y")])
        )
        message = await second.got("vote")
        answer = await within(message.click(data=b"y"))
        assert answer.message == f"thanks {second.me.id}"
        (press,) = presses
        assert (press.sender_id, press.chat_id) == (second.me.id, -chat.id)
    finally:
        await bot.disconnect()
