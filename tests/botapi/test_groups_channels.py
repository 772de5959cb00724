"""Bot API: supergroups and broadcast channels over HTTP -- the ``-100...`` chat ids, the
``supergroup`` and ``channel`` chat types, ``channel_post`` updates, a bot as a channel's
admin posting a keyboard that a subscriber presses, and getChat / getChatMember /
getChatAdministrators / getChatMemberCount there. The users act through the services the
MTProto handlers call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from loopgram.node import LoopgramServer
from loopgram.storage import Account
from loopgram.storage.channels import ChannelRecord
from loopgram.tl import types

from .conftest import Api, Chat


def _bot_api_id(channel_id: int) -> int:
    return -(1_000_000_000_000 + channel_id)


class Channel:
    """A channel (or supergroup) created by ``chat.user``, with the bot and a second user."""

    def __init__(self, server: LoopgramServer, chat: Chat, *, megagroup: bool) -> None:
        self.server = server
        self.service = server.core.services.channels
        self.owner = chat.user
        self.bot = chat.bot
        self.member = server.create_user("15550012", "Dan")
        created = self.service.create(self.owner, "News", "What is new", megagroup=megagroup)
        channel = next(c for c in created.chats if isinstance(c, types.Channel))
        self.id: int = channel.id
        self.chat_id = _bot_api_id(self.id)
        self.service.invite(
            self.owner, self.input(self.owner), [self.user(self.member), self.user(self.bot)]
        )
        self._random = 9000

    def input(self, viewer: Account) -> types.InputChannel:
        return self.service.input_channel(viewer.id, self.id)

    def peer(self, viewer: Account) -> types.InputPeerChannel:
        hash_ = self.input(viewer).access_hash
        return types.InputPeerChannel(channel_id=self.id, access_hash=hash_)

    @staticmethod
    def user(account: Account) -> types.InputUser:
        return types.InputUser(user_id=account.id, access_hash=account.access_hash)

    def promote_bot(self) -> None:
        rights = types.ChatAdminRights(post_messages=True, edit_messages=True, delete_messages=True)
        self.service.edit_admin(
            self.owner, self.input(self.owner), self.user(self.bot), rights, None
        )

    def post(self, who: Account, text: str) -> None:
        self._random += 1
        self.service.send_message(who, self.peer(who), text, random_id=self._random)

    def press(self, who: Account, msg_id: int, data: bytes) -> asyncio.Task[Any]:
        return asyncio.ensure_future(
            self.server.core.presses.press(who, self.peer(who), msg_id, data=data, game=False)
        )


async def _updates(api: Api, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await api.ok("getUpdates", **params)
    if found:
        await api.ok("getUpdates", offset=found[-1]["update_id"] + 1)
    return found


@pytest.fixture
async def channel(server: LoopgramServer, api: Api, chat: Chat) -> Channel:
    await api.ok("getMe")
    made = Channel(server, chat, megagroup=False)
    made.promote_bot()
    return made


@pytest.fixture
async def supergroup(server: LoopgramServer, api: Api, chat: Chat) -> Channel:
    await api.ok("getMe")
    return Channel(server, chat, megagroup=True)


async def test_a_channel_admin_bot_posts_a_keyboard_that_a_subscriber_presses(
    server: LoopgramServer, api: Api, channel: Channel
) -> None:
    await _updates(api)
    keyboard = {"inline_keyboard": [[{"text": "Like", "callback_data": "like"}]]}
    sent = await api.ok("sendMessage", chat_id=channel.chat_id, text="post", reply_markup=keyboard)
    assert sent["chat"] == {"id": channel.chat_id, "title": "News", "type": "channel"}
    assert sent["sender_chat"] == sent["chat"] and "from" not in sent
    press = channel.press(channel.member, sent["message_id"], b"like")
    (update,) = await _updates(api, timeout=5)
    query = update["callback_query"]
    assert query["from"]["id"] == channel.member.id
    assert query["message"]["chat"]["id"] == channel.chat_id
    assert query["message"]["reply_markup"] == keyboard
    instance = server.core.services.keys.channel_chat_instance(channel.id)
    assert query["chat_instance"] == str(instance)
    assert await api.ok("answerCallbackQuery", callback_query_id=query["id"], text="liked")
    assert (await press).message == "liked"

    edited = await api.ok(
        "editMessageText", chat_id=channel.chat_id, message_id=sent["message_id"], text="post!"
    )
    assert edited["text"] == "post!"
    assert await api.ok("deleteMessage", chat_id=channel.chat_id, message_id=sent["message_id"])


async def test_the_owners_posts_reach_an_admin_bot_as_channel_posts(
    api: Api, channel: Channel
) -> None:
    await _updates(api)
    channel.post(channel.owner, "breaking news")
    (update,) = await _updates(api)
    post = update["channel_post"]
    assert post["text"] == "breaking news"
    assert post["chat"]["type"] == "channel"
    assert post["sender_chat"]["id"] == channel.chat_id


async def test_get_chat_and_members_of_a_channel(api: Api, channel: Channel) -> None:
    info = await api.ok("getChat", chat_id=channel.chat_id)
    assert (info["id"], info["type"], info["title"]) == (channel.chat_id, "channel", "News")
    assert info["description"] == "What is new"
    me = await api.ok("getChatMember", chat_id=channel.chat_id, user_id=channel.bot.id)
    assert me["status"] == "administrator"
    assert (me["can_post_messages"], me["can_edit_messages"]) == (True, True)
    assert "can_pin_messages" not in me  # a channel's admins have no pinning right
    owner = await api.ok("getChatMember", chat_id=channel.chat_id, user_id=channel.owner.id)
    assert owner["status"] == "creator"
    admins = await api.ok("getChatAdministrators", chat_id=channel.chat_id)
    assert {a["user"]["id"]: a["status"] for a in admins} == {
        channel.owner.id: "creator",
        channel.bot.id: "administrator",
    }
    assert await api.ok("getChatMemberCount", chat_id=channel.chat_id) == 3


async def test_a_public_channel_is_named_by_its_username(
    server: LoopgramServer, api: Api, channel: Channel
) -> None:
    channel.service.update_username(channel.owner, channel.input(channel.owner), "newsroom")
    info = await api.ok("getChat", chat_id="@newsroom")
    assert (info["id"], info["username"], info["active_usernames"]) == (
        channel.chat_id,
        "newsroom",
        ["newsroom"],
    )
    sent = await api.ok("sendMessage", chat_id="@newsroom", text="by name")
    assert sent["chat"]["username"] == "newsroom"
    status, body = await api.call("getChat", chat_id="@nosuchchannel")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")


async def test_a_supergroup_shows_its_type_and_its_members_messages(
    api: Api, supergroup: Channel
) -> None:
    joined = await _updates(api)
    assert [next(k for k in u if k != "update_id") for u in joined] == [
        "my_chat_member",
        "message",
    ]
    change = joined[0]["my_chat_member"]
    assert (change["from"]["id"], change["chat"]["type"]) == (supergroup.owner.id, "supergroup")
    assert (change["old_chat_member"]["status"], change["new_chat_member"]["status"]) == (
        "left",
        "member",
    )
    added = joined[1]["message"]
    assert [u["id"] for u in added["new_chat_members"]] == [supergroup.member.id, supergroup.bot.id]
    assert added["new_chat_member"]["id"] == supergroup.bot.id
    supergroup.post(supergroup.member, "/start@examplebot")
    supergroup.post(supergroup.member, "just chatting")  # privacy mode: not for the bot
    (update,) = await _updates(api)
    message = update["message"]
    assert message["text"] == "/start@examplebot"
    assert message["from"]["id"] == supergroup.member.id
    assert message["chat"] == {"id": supergroup.chat_id, "title": "News", "type": "supergroup"}
    keyboard = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    sent = await api.ok(
        "sendMessage", chat_id=supergroup.chat_id, text="menu", reply_markup=keyboard
    )
    assert sent["from"]["id"] == supergroup.bot.id
    press = supergroup.press(supergroup.owner, sent["message_id"], b"go")
    (update,) = await _updates(api, timeout=5)
    assert update["callback_query"]["message"]["chat"]["type"] == "supergroup"
    assert await api.ok("answerCallbackQuery", callback_query_id=update["callback_query"]["id"])
    await press
    member = await api.ok("getChatMember", chat_id=supergroup.chat_id, user_id=supergroup.bot.id)
    assert member["status"] == "member"
    info = await api.ok("getChat", chat_id=supergroup.chat_id)
    assert info["permissions"]["can_send_messages"] is True


async def test_channel_errors_have_the_official_texts(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    await api.ok("getMe")
    made = Channel(server, chat, megagroup=False)  # the bot is a subscriber, not an admin
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        (
            "sendMessage",
            {"chat_id": made.chat_id, "text": "hi"},
            400,
            "Bad Request: need administrator rights in the channel chat",
        ),
        (
            "getChatMember",
            {"chat_id": made.chat_id, "user_id": made.member.id},
            400,
            "Bad Request: member list is inaccessible",
        ),
        ("getChat", {"chat_id": _bot_api_id(123_456)}, 400, "Bad Request: chat not found"),
    ]
    for method, params, code, description in cases:
        status, body = await api.call(method, **params)
        assert (status, body["description"]) == (code, description), method
    assert await api.ok("leaveChat", chat_id=made.chat_id) is True
    assert server.storage.channels.member(made.id, made.bot.id) is None


async def migrated_group(server: LoopgramServer, api: Api, chat: Chat) -> tuple[int, ChannelRecord]:
    """A basic group with the user and the bot, made a supergroup by the user (as
    ``messages.migrateChat`` does) after the bot's queue was emptied: the group's id and
    the supergroup."""
    await api.ok("getMe")
    chats = server.core.services.chats
    bot_input = types.InputUser(user_id=chat.bot.id, access_hash=chat.bot.access_hash)
    created = chats.create(chat.user, [bot_input], "Club", origin=None)
    assert isinstance(created.updates, types.Updates)
    group_id = created.updates.chats[0].id
    await _updates(api)
    record, _ = server.core.services.channels.migrate_chat(chat.user, group_id)
    chats.migrated(chat.user, group_id, record.id, origin=None)
    return group_id, record


async def test_a_migrated_group_answers_with_its_supergroup_as_officially(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    group_id, record = await migrated_group(server, api, chat)
    moved = [u["message"] for u in await _updates(api) if "message" in u]
    assert [m.get("migrate_from_chat_id") for m in moved] == [-group_id, None]
    assert moved[1]["migrate_to_chat_id"] == _bot_api_id(record.id)
    for method, params in (
        ("sendMessage", {"text": "hi"}),
        ("sendChatAction", {"action": "typing"}),
        ("getChatAdministrators", {}),
    ):
        status, body = await api.call(method, chat_id=-group_id, **params)
        assert (status, body) == (
            400,
            {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": _bot_api_id(record.id)},
            },
        ), method
    # Reading the old group still works, as officially.
    assert (await api.ok("getChat", chat_id=-group_id))["type"] == "group"
    sent = await api.ok("sendMessage", chat_id=_bot_api_id(record.id), text="here now")
    assert sent["chat"]["type"] == "supergroup"


def _kinds(updates: list[dict[str, Any]]) -> list[str]:
    return [next(k for k in u if k != "update_id") for u in updates]


def _statuses(change: dict[str, Any]) -> tuple[str, str]:
    return change["old_chat_member"]["status"], change["new_chat_member"]["status"]


async def test_a_bot_added_to_a_channel_as_admin_and_removed_gets_my_chat_member(
    api: Api, channel: Channel
) -> None:
    added = await _updates(api)
    assert _kinds(added) == ["my_chat_member", "my_chat_member"]
    joined, promoted = (u["my_chat_member"] for u in added)
    assert joined["chat"] == {"id": channel.chat_id, "title": "News", "type": "channel"}
    assert joined["from"]["id"] == channel.owner.id
    assert _statuses(joined) == ("left", "member")
    assert _statuses(promoted) == ("member", "administrator")
    assert promoted["new_chat_member"]["user"]["id"] == channel.bot.id
    assert promoted["new_chat_member"]["can_post_messages"] is True

    channel.service.edit_banned(
        channel.owner,
        channel.input(channel.owner),
        types.InputPeerUser(user_id=channel.bot.id, access_hash=channel.bot.access_hash),
        types.ChatBannedRights(view_messages=True, until_date=0),
    )
    (removed,) = await _updates(api)
    assert _statuses(removed["my_chat_member"]) == ("administrator", "kicked")
    assert removed["my_chat_member"]["chat"]["id"] == channel.chat_id


async def test_a_bot_promoted_in_a_supergroup_gets_my_chat_member_then_chat_member_updates(
    server: LoopgramServer, api: Api, supergroup: Channel
) -> None:
    await _updates(api)
    supergroup.promote_bot()
    (promoted,) = await _updates(
        api, allowed_updates='["message", "chat_member", "my_chat_member"]'
    )
    change = promoted["my_chat_member"]
    assert change["chat"]["type"] == "supergroup"
    assert _statuses(change) == ("member", "administrator")
    assert change["new_chat_member"]["can_delete_messages"] is True

    newcomer = server.create_user("15550077", "Eve")
    supergroup.service.invite(
        supergroup.owner, supergroup.input(supergroup.owner), [supergroup.user(newcomer)]
    )
    found = await _updates(api)
    assert _kinds(found) == ["chat_member", "message"]
    other = found[0]["chat_member"]
    assert other["new_chat_member"]["user"]["id"] == newcomer.id
    assert _statuses(other) == ("left", "member")
    # Without ``chat_member`` in allowed_updates (the default), the bot is not told of others.
    await api.ok("getUpdates", allowed_updates="[]")
    supergroup.service.leave(newcomer, supergroup.input(newcomer))
    assert _kinds(await _updates(api)) == ["message"]
