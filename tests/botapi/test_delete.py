"""``deleteMessage`` / ``deleteMessages`` and ``messages.deleteMessages``: one delete in the
messages service; both boxes lose the message and every owner gets ``updateDeleteMessages``
with its pts."""

from __future__ import annotations

import asyncio
from typing import Any

from loopgram.clock import FakeClock
from loopgram.node import LoopgramServer
from loopgram.storage import PeerRef
from loopgram.tl import types

from ..integration.support import start_user, within
from .conftest import Api, Chat


def _deleted_updates(server: LoopgramServer, account_id: int, since: int) -> list[Any]:
    from loopgram import tl

    logged = [tl.read(u.body) for u in server.storage.updates.since(account_id, since)]
    return [u for u in logged if isinstance(u, types.UpdateDeleteMessages)]


def _box(server: LoopgramServer, owner_id: int, peer_id: int) -> list[str]:
    found = server.storage.messages.history(owner_id, PeerRef.user(peer_id), limit=100)
    return [m.text for m in found]


async def test_delete_message_removes_the_bots_message_from_both_boxes(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    sent = await api.ok("sendMessage", chat_id=chat.user.id, text="soon gone")
    await api.ok("sendMessage", chat_id=chat.user.id, text="stays")
    user_pts = server.storage.updates.state(chat.user.id).pts
    bot_pts = server.storage.updates.state(chat.bot.id).pts

    assert await api.ok("deleteMessage", chat_id=chat.user.id, message_id=sent["message_id"])

    assert _box(server, chat.user.id, chat.bot.id) == ["stays", "/start"]
    assert _box(server, chat.bot.id, chat.user.id) == ["stays", "/start"]
    (for_user,) = _deleted_updates(server, chat.user.id, user_pts)
    (for_bot,) = _deleted_updates(server, chat.bot.id, bot_pts)
    assert (for_user.pts, for_user.pts_count) == (user_pts + 1, 1)
    assert (for_bot.messages, for_bot.pts_count) == ([sent["message_id"]], 1)


async def test_a_bot_may_delete_a_users_message_in_their_private_chat(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    await api.ok("getMe")
    chat.say("oops")
    (update,) = await api.ok("getUpdates")
    message_id = update["message"]["message_id"]
    assert await api.ok("deleteMessage", chat_id=chat.user.id, message_id=message_id)
    assert _box(server, chat.user.id, chat.bot.id) == ["/start"]
    assert _box(server, chat.bot.id, chat.user.id) == ["/start"]


async def test_delete_message_errors_use_the_official_texts(
    clock: FakeClock, api: Api, chat: Chat
) -> None:
    sent = await api.ok("sendMessage", chat_id=chat.user.id, text="old")
    status, body = await api.call("deleteMessage", chat_id=chat.user.id, message_id=99_999)
    assert (status, body["description"]) == (400, "Bad Request: message to delete not found")
    status, body = await api.call("deleteMessage", chat_id=chat.user.id)
    assert body["description"] == "Bad Request: message identifier is not specified"
    status, body = await api.call("deleteMessage", chat_id=999_999, message_id=1)
    assert body["description"] == "Bad Request: chat not found"
    clock.advance(48 * 3600 + 1)
    status, body = await api.call(
        "deleteMessage", chat_id=chat.user.id, message_id=sent["message_id"]
    )
    assert (status, body["description"]) == (400, "Bad Request: message can't be deleted")


async def test_delete_messages_deletes_what_it_finds_and_skips_the_rest(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    ids = [
        (await api.ok("sendMessage", chat_id=chat.user.id, text=f"m{i}"))["message_id"]
        for i in range(3)
    ]
    user_pts = server.storage.updates.state(chat.user.id).pts
    assert await api.ok(
        "deleteMessages", chat_id=chat.user.id, message_ids=[ids[0], ids[2], 77_777]
    )
    assert _box(server, chat.user.id, chat.bot.id) == ["m1", "/start"]
    (for_user,) = _deleted_updates(server, chat.user.id, user_pts)
    assert for_user.pts_count == 2
    # Nothing left to delete among them: still true, and nothing more is logged.
    assert await api.ok("deleteMessages", chat_id=chat.user.id, message_ids=[ids[0]])
    assert len(_deleted_updates(server, chat.user.id, user_pts)) == 1


async def test_delete_messages_rejects_bad_lists_with_the_official_texts(
    api: Api, chat: Chat
) -> None:
    await api.ok("getMe")
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "message identifiers are not specified"),
        ({"message_ids": "[1,"}, "can't parse message_ids JSON object"),
        ({"message_ids": 5}, "expected an Array of message identifiers"),
        ({"message_ids": list(range(1, 102))}, "too many message identifiers specified"),
        ({"message_ids": [1, "x"]}, "invalid message identifier specified"),
        ({"message_ids": [0]}, "invalid message identifier specified"),
    ]
    for params, text in cases:
        status, body = await api.call("deleteMessages", chat_id=chat.user.id, **params)
        assert (status, body["description"]) == (400, f"Bad Request: {text}"), params


async def test_a_telethon_user_sees_the_bots_delete_and_revokes_its_own(
    server: LoopgramServer, api: Api
) -> None:
    """Over MTProto: the user's client is told of the bot's delete (pushed
    ``updateDeleteMessages``), and the user's own ``messages.deleteMessages`` with revoke
    removes the bot's copy too."""
    from telethon import events  # type: ignore[import-untyped]

    user = await start_user(server)
    try:
        me = await user.get_me()
        await within(user.send_message("examplebot", "hello"))
        deleted: asyncio.Queue[Any] = asyncio.Queue()
        user.add_event_handler(deleted.put, events.MessageDeleted())
        sent = await api.ok("sendMessage", chat_id=me.id, text="bye")
        assert await api.ok("deleteMessage", chat_id=me.id, message_id=sent["message_id"])
        event = await within(deleted.get())
        assert event.deleted_ids == [sent["message_id"]]

        bot_id = int(api.token.split(":")[0])
        (hello,) = await user.get_messages("examplebot", limit=1)
        assert hello.text == "hello"
        affected = await within(user.delete_messages("examplebot", [hello.id], revoke=True))
        assert affected[0].pts_count == 1
        assert _box(server, bot_id, me.id) == []
    finally:
        await user.disconnect()
