"""Bot API: replies in supergroups and channels (``reply_parameters``, ``reply_to_message``
read from the channel, the official "message to be replied not found"), a privacy-mode
bot getting a reply to its message, the ``supergroup_chat_created`` /
``channel_chat_created`` fields, a bot of a basic group that becomes a supergroup
(``my_chat_member`` there, ``migrate_from_chat_id`` / ``migrate_to_chat_id``), and posts
made while no ``getUpdates`` was waiting, queued for the next one."""

from __future__ import annotations

from typing import Any

from loopgram.node import LoopgramServer
from loopgram.tl import types

from .conftest import Api, Chat
from .test_groups_channels import (
    Channel,
    _bot_api_id,
    _kinds,
    _statuses,
    _updates,
    migrated_group,
)


async def _supergroup(server: LoopgramServer, api: Api, chat: Chat) -> Channel:
    await api.ok("getMe")
    made = Channel(server, chat, megagroup=True)
    await _updates(api)
    return made


async def _channel(server: LoopgramServer, api: Api, chat: Chat) -> Channel:
    """A broadcast channel with the bot as its admin, the bot's queue emptied."""
    await api.ok("getMe")
    made = Channel(server, chat, megagroup=False)
    made.promote_bot()
    await _updates(api)
    return made


def _reply(channel: Channel, who: Any, text: str, to: int) -> None:
    channel._random += 1
    channel.service.send_message(
        who, channel.peer(who), text, random_id=channel._random, reply_to=to
    )


async def test_a_bot_replies_in_a_supergroup_and_sees_the_replied_message(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    supergroup = await _supergroup(server, api, chat)
    supergroup.post(supergroup.owner, "/ask who is in?")
    (asked,) = await _updates(api)
    question = asked["message"]
    sent = await api.ok(
        "sendMessage",
        chat_id=supergroup.chat_id,
        text="I am",
        reply_parameters={"message_id": question["message_id"]},
    )
    replied = sent["reply_to_message"]
    assert (replied["message_id"], replied["text"]) == (question["message_id"], "/ask who is in?")
    assert replied["from"]["id"] == supergroup.owner.id
    assert replied["chat"] == {"id": supergroup.chat_id, "title": "News", "type": "supergroup"}
    # The members see the reply too.
    seen = supergroup.service.history(
        supergroup.member, supergroup.peer(supergroup.member), limit=1
    )
    (newest,) = seen.messages
    assert isinstance(newest, types.Message) and newest.id == sent["message_id"]
    assert newest.reply_to == types.MessageReplyHeader(reply_to_msg_id=question["message_id"])
    status, body = await api.call(
        "sendMessage",
        chat_id=supergroup.chat_id,
        text="to nothing",
        reply_parameters={"message_id": 9999},
    )
    assert (status, body["description"]) == (400, "Bad Request: message to be replied not found")
    lenient = await api.ok(
        "sendMessage",
        chat_id=supergroup.chat_id,
        text="anyway",
        reply_parameters={"message_id": 9999, "allow_sending_without_reply": True},
    )
    assert "reply_to_message" not in lenient


async def test_a_privacy_bot_gets_a_reply_to_its_supergroup_message_with_reply_to_message(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    supergroup = await _supergroup(server, api, chat)
    poll = await api.ok("sendMessage", chat_id=supergroup.chat_id, text="Which day?")
    _reply(supergroup, supergroup.member, "Friday", poll["message_id"])
    supergroup.post(supergroup.member, "chatter the bot does not see")
    (got,) = await _updates(api)
    message = got["message"]
    assert message["text"] == "Friday" and message["from"]["id"] == supergroup.member.id
    assert message["reply_to_message"]["message_id"] == poll["message_id"]
    assert message["reply_to_message"]["from"]["id"] == supergroup.bot.id


async def test_a_reply_to_a_supergroups_first_message_shows_supergroup_chat_created(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    supergroup = await _supergroup(server, api, chat)
    _reply(supergroup, supergroup.owner, "/rules since the start", 1)
    (got,) = await _updates(api)
    created = got["message"]["reply_to_message"]
    assert created["message_id"] == 1 and created["supergroup_chat_created"] is True
    assert "channel_chat_created" not in created


async def test_a_channel_post_replying_to_the_creation_shows_channel_chat_created(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    news = await _channel(server, api, chat)
    _reply(news, news.owner, "a post about our beginnings", 1)
    (post,) = await _updates(api)
    assert post["channel_post"]["reply_to_message"]["channel_chat_created"] is True


async def test_a_bot_of_a_migrated_group_joins_the_supergroup_with_my_chat_member(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    group_id, record = await migrated_group(server, api, chat)
    found = await _updates(api)
    assert _kinds(found) == ["my_chat_member", "message", "message"]
    joined = found[0]["my_chat_member"]
    assert joined["chat"] == {"id": _bot_api_id(record.id), "title": "Club", "type": "supergroup"}
    assert _statuses(joined) == ("left", "member")
    assert joined["from"]["id"] == chat.user.id
    assert found[1]["message"]["migrate_from_chat_id"] == -group_id
    assert found[2]["message"]["migrate_to_chat_id"] == _bot_api_id(record.id)
    member = await api.ok("getChatMember", chat_id=_bot_api_id(record.id), user_id=chat.bot.id)
    assert member["status"] == "member"


async def test_posts_made_while_no_get_updates_waited_are_queued_for_the_next_one(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    news = await _channel(server, api, chat)
    for text in ("first edition", "second edition"):
        news.post(news.owner, text)
    posts = await _updates(api)
    assert [p["channel_post"]["text"] for p in posts] == ["first edition", "second edition"]
