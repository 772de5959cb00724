"""Bot API: basic groups over HTTP -- the group chat type, the messages a bot sees under
privacy mode, service messages, sends, edits and deletes by group chat id, presses from
several members with one chat_instance, getChat / getChatMember / getChatAdministrators /
getChatMemberCount / leaveChat, and my_chat_member / chat_member updates. The users act
through the services the MTProto handlers call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from loopgram.node import LoopgramServer
from loopgram.storage import Account, PeerRef
from loopgram.tl import types

from .conftest import Api, Chat


class Group:
    """A basic group created by ``chat.user`` with the bot and a second user in it."""

    def __init__(
        self, server: LoopgramServer, chat: Chat, title: str = "Club", friend: str = "15550002"
    ) -> None:
        self.server = server
        self.chats = server.core.services.chats
        self.owner = chat.user
        self.bot = chat.bot
        self.friend = server.create_user(friend, "Bob")
        created = self.chats.create(
            self.owner, [self.input(self.bot), self.input(self.friend)], title, origin=None
        )
        assert isinstance(created.updates, types.Updates)
        (tl_chat,) = created.updates.chats
        self.id: int = tl_chat.id
        self._random = 5000

    @staticmethod
    def input(account: Account) -> types.InputUser:
        return types.InputUser(user_id=account.id, access_hash=account.access_hash)

    def say(self, who: Account, text: str, reply_to: int | None = None) -> None:
        self._random += 1
        self.chats.send_message(
            who, self.id, text, random_id=self._random, reply_to=reply_to, origin=None
        )

    def newest(self, who: Account) -> Any:
        (copy,) = self.server.storage.messages.history(who.id, PeerRef.chat(self.id), limit=1)
        return copy

    def press(self, who: Account, data: bytes) -> asyncio.Task[Any]:
        msg_id = self.newest(who).id
        return asyncio.ensure_future(
            self.server.core.presses.press(
                who, types.InputPeerChat(chat_id=self.id), msg_id, data=data, game=False
            )
        )


async def _updates(api: Api, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await api.ok("getUpdates", **params)
    if found:
        await api.ok("getUpdates", offset=found[-1]["update_id"] + 1)
    return found


def _kinds(updates: list[dict[str, Any]]) -> list[str]:
    return [next(k for k in u if k != "update_id") for u in updates]


@pytest.fixture
async def group(server: LoopgramServer, api: Api, chat: Chat) -> Group:
    await api.ok("getMe")  # the gateway follows the bot from its first call
    return Group(server, chat)


async def test_a_bot_added_at_creation_gets_my_chat_member_and_the_created_message(
    api: Api, chat: Chat, group: Group
) -> None:
    updates = await _updates(api)
    assert _kinds(updates) == ["my_chat_member", "message"]
    change = updates[0]["my_chat_member"]
    assert change["chat"] == {
        "id": -group.id,
        "title": "Club",
        "type": "group",
        "all_members_are_administrators": True,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }
    assert change["from"]["id"] == chat.user.id
    assert change["old_chat_member"]["status"] == "left"
    assert set(change["new_chat_member"]) == {"user", "status"}
    assert change["new_chat_member"]["status"] == "member"
    assert change["new_chat_member"]["user"]["id"] == chat.bot.id
    created = updates[1]["message"]
    assert created["group_chat_created"] is True
    assert created["chat"]["id"] == -group.id
    assert created["from"]["id"] == chat.user.id


async def test_privacy_mode_lets_commands_mentions_and_replies_through_until_switched_off(
    server: LoopgramServer, api: Api, group: Group
) -> None:
    await _updates(api)
    group.say(group.owner, "just chatting")
    group.say(group.friend, "/stats@examplebot")
    group.say(group.friend, "/stats@otherbot")
    group.say(group.owner, "hey @examplebot, look")
    sent = await api.ok("sendMessage", chat_id=-group.id, text="I am here")
    group.say(group.friend, "a reply to the bot", reply_to=group.newest(group.friend).id)
    seen = [u["message"]["text"] for u in await _updates(api)]
    assert seen == ["/stats@examplebot", "hey @examplebot, look", "a reply to the bot"]
    assert sent["chat"]["id"] == -group.id

    server.storage.chats.set_bot_privacy(group.bot.id, False)
    assert (await api.ok("getMe"))["can_read_all_group_messages"] is True
    group.say(group.owner, "chatting on")
    (update,) = await _updates(api)
    assert update["message"]["text"] == "chatting on"
    assert update["message"]["from"]["id"] == group.owner.id
    assert update["message"]["chat"]["type"] == "group"


async def test_an_admin_bot_sees_everything_and_gets_chat_member_when_it_asks(
    api: Api, group: Group
) -> None:
    await _updates(api)
    group.chats.edit_admin(group.owner, group.id, group.input(group.bot), True)
    (promoted,) = await _updates(api, allowed_updates=["message", "my_chat_member", "chat_member"])
    change = promoted["my_chat_member"]
    assert (change["old_chat_member"]["status"], change["new_chat_member"]["status"]) == (
        "member",
        "administrator",
    )
    assert change["new_chat_member"]["can_be_edited"] is False
    assert change["new_chat_member"]["can_delete_messages"] is True
    assert change["from"]["id"] == group.owner.id

    group.say(group.owner, "chatting while the bot is an admin")
    group.chats.delete_user(group.owner, group.id, group.input(group.friend), origin=None)
    updates = await _updates(api)
    assert _kinds(updates) == ["message", "chat_member", "message"]
    assert updates[0]["message"]["text"] == "chatting while the bot is an admin"
    left = updates[1]["chat_member"]
    assert left["new_chat_member"]["user"]["id"] == group.friend.id
    assert (left["old_chat_member"]["status"], left["new_chat_member"]["status"]) == (
        "member",
        "left",
    )
    assert updates[2]["message"]["left_chat_member"]["id"] == group.friend.id


async def test_chat_member_stays_out_unless_listed_in_allowed_updates(
    api: Api, group: Group
) -> None:
    await _updates(api)
    group.chats.edit_admin(group.owner, group.id, group.input(group.bot), True)
    group.chats.delete_user(group.owner, group.id, group.input(group.friend), origin=None)
    assert _kinds(await _updates(api)) == ["my_chat_member", "message"]


async def test_service_messages_carry_the_official_fields(
    server: LoopgramServer, api: Api, group: Group
) -> None:
    await _updates(api)
    third = server.create_user("15550003", "Cid")
    group.chats.add_user(group.owner, group.id, group.input(third), origin=None)
    group.chats.edit_title(group.owner, group.id, "Club 2", origin=None)
    added, renamed = [u["message"] for u in await _updates(api)]
    assert [m["id"] for m in added["new_chat_members"]] == [third.id]
    assert added["new_chat_member"]["id"] == third.id
    assert added["new_chat_participant"]["id"] == third.id
    assert renamed["new_chat_title"] == "Club 2"
    assert renamed["chat"]["title"] == "Club 2"


async def test_two_members_press_one_button_with_the_groups_chat_instance(
    server: LoopgramServer, api: Api, group: Group
) -> None:
    await _updates(api)
    keyboard = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]}
    sent = await api.ok("sendMessage", chat_id=-group.id, text="vote", reply_markup=keyboard)
    assert sent["reply_markup"] == keyboard
    first = group.press(group.owner, b"yes")
    second = group.press(group.friend, b"yes")
    queries = [u["callback_query"] for u in await _updates(api, timeout=5)]
    while len(queries) < 2:
        queries += [u["callback_query"] for u in await _updates(api, timeout=5)]
    assert [q["from"]["id"] for q in queries] == [group.owner.id, group.friend.id]
    instance = server.core.services.keys.group_chat_instance(group.id)
    assert {q["chat_instance"] for q in queries} == {str(instance)}
    for query in queries:
        assert query["message"]["message_id"] == sent["message_id"]
        assert query["message"]["chat"]["id"] == -group.id
        assert query["data"] == "yes"
        text = f"thanks {query['from']['first_name']}"
        assert await api.ok("answerCallbackQuery", callback_query_id=query["id"], text=text)
    assert (await first).message == "thanks Ann"
    assert (await second).message == "thanks Bob"


async def test_the_bot_edits_and_deletes_its_group_messages_by_group_chat_id(
    api: Api, group: Group
) -> None:
    await _updates(api)
    sent = await api.ok("sendMessage", chat_id=str(-group.id), text="draft")
    edited = await api.ok(
        "editMessageText", chat_id=-group.id, message_id=sent["message_id"], text="final"
    )
    assert (edited["text"], edited["chat"]["id"]) == ("final", -group.id)
    assert group.newest(group.friend).text == "final"
    group.say(group.owner, "/mine")
    (own,) = await _updates(api)
    status, body = await api.call(
        "deleteMessage", chat_id=-group.id, message_id=own["message"]["message_id"]
    )
    assert (status, body["description"]) == (400, "Bad Request: message can't be deleted")
    assert await api.ok("deleteMessage", chat_id=-group.id, message_id=sent["message_id"])
    assert group.newest(group.friend).text == "/mine"
    assert await api.ok("sendChatAction", chat_id=-group.id, action="typing")


async def test_get_chat_and_the_member_methods_show_the_group(
    server: LoopgramServer, api: Api, group: Group
) -> None:
    info = await api.ok("getChat", chat_id=-group.id)
    assert (info["id"], info["type"], info["title"]) == (-group.id, "group", "Club")
    assert info["permissions"]["can_send_messages"] is True
    assert (info["max_reaction_count"], info["accent_color_id"]) == (11, group.id % 7)

    async def status(user_id: int) -> str:
        member = await api.ok("getChatMember", chat_id=-group.id, user_id=user_id)
        assert member["user"]["id"] == user_id
        return str(member["status"])

    stranger = server.create_user("15550009", "Eve")
    assert await status(group.owner.id) == "creator"
    assert await status(group.friend.id) == "member"
    assert await status(group.bot.id) == "member"
    assert await status(stranger.id) == "left"
    assert await api.ok("getChatMemberCount", chat_id=-group.id) == 3
    admins = await api.ok("getChatAdministrators", chat_id=-group.id)
    assert admins == [
        {"user": admins[0]["user"], "status": "creator", "is_anonymous": False},
    ]
    assert admins[0]["user"]["id"] == group.owner.id

    group.chats.edit_admin(group.owner, group.id, group.input(group.bot), True)
    admins = await api.ok("getChatAdministrators", chat_id=-group.id)
    assert {a["user"]["id"]: a["status"] for a in admins} == {
        group.owner.id: "creator",
        group.bot.id: "administrator",
    }


async def test_unknown_chats_and_members_get_the_official_errors(
    server: LoopgramServer, api: Api, chat: Chat, group: Group
) -> None:
    other = Group(server, Chat(server, api, "15550005"), "Elsewhere", friend="15550006")
    group.chats.delete_user(other.owner, other.id, other.input(other.bot), origin=None)
    never = server.core.services.chats.create(
        group.owner, [group.input(group.friend)], "No bots", origin=None
    )
    assert isinstance(never.updates, types.Updates)
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("getChat", {"chat_id": -never.updates.chats[0].id}, 400, "Bad Request: chat not found"),
        ("getChat", {"chat_id": -999_999}, 400, "Bad Request: chat not found"),
        (
            "getChatMember",
            {"chat_id": -group.id, "user_id": 987654321},
            400,
            "Bad Request: member not found",
        ),
        (
            "getChatMember",
            {"chat_id": -group.id, "user_id": "nobody"},
            400,
            "Bad Request: invalid user_id specified",
        ),
        (
            "getChatMember",
            {"chat_id": chat.user.id, "user_id": group.friend.id},
            400,
            "Bad Request: member not found",
        ),
        (
            "getChatAdministrators",
            {"chat_id": chat.user.id},
            400,
            "Bad Request: there are no administrators in the private chat",
        ),
        ("leaveChat", {"chat_id": chat.user.id}, 400, "Bad Request: can't leave private chats"),
        (
            "sendMessage",
            {"chat_id": -other.id, "text": "hi"},
            403,
            "Forbidden: bot was kicked from the group chat",
        ),
        (
            "getChatMemberCount",
            {"chat_id": -other.id},
            403,
            "Forbidden: bot was kicked from the group chat",
        ),
    ]
    for method, params, code, description in cases:
        status, body = await api.call(method, **params)
        assert (status, body["error_code"], body["description"]) == (code, code, description), (
            method,
            params,
        )
    # A group the bot was removed from can still be read.
    assert (await api.ok("getChat", chat_id=-other.id))["title"] == "Elsewhere"
    member = await api.ok("getChatMember", chat_id=-other.id, user_id=group.bot.id)
    assert member == {"user": member["user"], "status": "kicked", "until_date": 0}
    private = await api.ok("getChatMember", chat_id=chat.user.id, user_id=chat.user.id)
    assert private["status"] == "member"
    assert await api.ok("getChatMemberCount", chat_id=chat.user.id) == 2


async def test_leave_chat_tells_the_bot_and_ends_its_writing_there(api: Api, group: Group) -> None:
    await _updates(api)
    assert await api.ok("leaveChat", chat_id=-group.id) is True
    updates = await _updates(api)
    assert _kinds(updates) == ["my_chat_member", "message"]
    change = updates[0]["my_chat_member"]
    assert change["from"]["id"] == group.bot.id
    assert (change["old_chat_member"]["status"], change["new_chat_member"]["status"]) == (
        "member",
        "left",
    )
    assert updates[1]["message"]["left_chat_member"]["id"] == group.bot.id
    status, body = await api.call("sendMessage", chat_id=-group.id, text="still here?")
    assert (status, body["description"]) == (
        403,
        "Forbidden: bot is not a member of the group chat",
    )
    assert await api.ok("leaveChat", chat_id=-group.id) is True
    member = await api.ok("getChatMember", chat_id=-group.id, user_id=group.bot.id)
    assert member["status"] == "left"
    assert group.bot.id not in [
        p.user_id for p in group.server.storage.chats.participants(group.id)
    ]


async def test_a_removed_bot_gets_my_chat_member_and_its_private_chats_go_on(
    api: Api, chat: Chat, group: Group
) -> None:
    await _updates(api)
    group.chats.delete_user(group.owner, group.id, group.input(group.bot), origin=None)
    group.say(group.owner, "/start")  # no longer for the bot
    chat.say("hello in private")
    updates = await _updates(api)
    assert _kinds(updates) == ["my_chat_member", "message", "message"]
    change = updates[0]["my_chat_member"]
    assert (change["from"]["id"], change["new_chat_member"]["status"]) == (group.owner.id, "left")
    assert updates[1]["message"]["left_chat_member"]["id"] == group.bot.id
    assert updates[2]["message"]["text"] == "hello in private"
    assert updates[2]["message"]["chat"]["type"] == "private"
