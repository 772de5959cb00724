"""Bot API: a bot of the gateway that is added to a basic group, before the gateway has the
group chat types -- the group's messages and presses are left out of its queue quietly, and
its private chats go on as before (the hub's sink never fails on them)."""

from __future__ import annotations

import logging

import pytest

from loopgram.server.app import LoopgramServer
from loopgram.tl import types

from .conftest import Api, Chat


async def test_group_messages_do_not_break_a_gateway_bots_queue(
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
    assert [u["message"]["text"] for u in updates] == ["hello in private"]
    assert not [r for r in caplog.records if "update sink" in r.getMessage()]
