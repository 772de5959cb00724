"""Bot API: a bot of the gateway that is added to a basic group -- the group's updates reach
its queue with the group chat types, in order with its private chats, and the hub's sink
never fails on them."""

from __future__ import annotations

import logging

import pytest

from loopgram.node import LoopgramServer
from loopgram.tl import types

from .conftest import Api, Chat


async def test_group_and_private_updates_share_the_queue_with_their_chat_types(
    server: LoopgramServer, api: Api, chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    await api.ok("getMe")  # the bot is known to the gateway from its first call
    chats = server.core.services.chats
    bot = types.InputUser(user_id=chat.bot.id, access_hash=chat.bot.access_hash)
    with caplog.at_level(logging.ERROR):
        created = chats.create(chat.user, [bot], "Club", origin=None)
        assert isinstance(created.updates, types.Updates)
        (group,) = created.updates.chats
        chats.send_message(chat.user, group.id, "/start", random_id=1000)
        chat.say("hello in private")
        updates = await api.ok("getUpdates")
    shown = [
        (kind, body["chat"]["type"], body["chat"]["id"], body.get("text"))
        for update in updates
        for kind, body in update.items()
        if kind != "update_id"
    ]
    assert shown == [
        ("my_chat_member", "group", -group.id, None),
        ("message", "group", -group.id, None),  # group_chat_created
        ("message", "group", -group.id, "/start"),
        ("message", "private", chat.user.id, "hello in private"),
    ]
    assert not [r for r in caplog.records if "update sink" in r.getMessage()]
