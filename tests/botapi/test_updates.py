"""``getUpdates`` over HTTP: what users send reaches the bot's queue through the update
hub; offsets, limits, long polls, conflicts; the queue outlives a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from loopgram.clock import FakeClock
from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer

from .conftest import Api, Chat

CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)


async def test_a_users_message_arrives_with_a_bot_command_entity(api: Api, chat: Chat) -> None:
    await api.ok("getMe")  # the bot is known to the gateway from its first call
    chat.say("/start")
    (update,) = await api.ok("getUpdates")
    message = update["message"]
    assert message["text"] == "/start"
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert message["from"] == {"id": chat.user.id, "is_bot": False, "first_name": "Ann"}
    assert message["chat"] == {"id": chat.user.id, "type": "private", "first_name": "Ann"}
    assert isinstance(update["update_id"], int) and update["update_id"] > 2_000_000


async def test_offset_confirms_and_limit_pages(api: Api, chat: Chat) -> None:
    await api.ok("getMe")
    for i in range(3):
        chat.say(f"m{i}")
    first = await api.ok("getUpdates", limit=2)
    assert [u["message"]["text"] for u in first] == ["m0", "m1"]
    ids = [u["update_id"] for u in first]
    assert ids[1] == ids[0] + 1
    again = await api.ok("getUpdates", offset=ids[1])
    assert [u["message"]["text"] for u in again] == ["m1", "m2"]
    assert await api.ok("getUpdates", offset=again[-1]["update_id"] + 1) == []
    # Confirmed stays confirmed.
    assert await api.ok("getUpdates") == []


async def test_negative_offset_keeps_the_newest(api: Api, chat: Chat) -> None:
    await api.ok("getMe")
    for i in range(4):
        chat.say(f"m{i}")
    newest = await api.ok("getUpdates", offset=-1)
    assert [u["message"]["text"] for u in newest] == ["m3"]
    assert [u["message"]["text"] for u in await api.ok("getUpdates")] == ["m3"]


async def test_a_long_poll_is_woken_by_a_new_update(api: Api, chat: Chat) -> None:
    await api.ok("getMe")
    poll = asyncio.ensure_future(api.ok("getUpdates", timeout=30))
    await asyncio.sleep(0.05)
    assert not poll.done()
    chat.say("wake up")
    updates = await asyncio.wait_for(poll, 10)
    assert [u["message"]["text"] for u in updates] == ["wake up"]


async def test_a_newer_poll_takes_over_and_the_older_gets_409(api: Api, chat: Chat) -> None:
    await api.ok("getMe")
    older = asyncio.ensure_future(api.call("getUpdates", timeout=30))
    await asyncio.sleep(0.05)
    newer = asyncio.ensure_future(api.call("getUpdates", timeout=30))
    status, body = await asyncio.wait_for(older, 10)
    assert (status, body) == (409, {"ok": False, "error_code": 409, "description": CONFLICT})
    chat.say("for the newer")
    status, body = await asyncio.wait_for(newer, 10)
    assert status == 200
    assert [u["message"]["text"] for u in body["result"]] == ["for the newer"]


async def test_allowed_updates_are_remembered_between_calls(api: Api, chat: Chat) -> None:
    await api.ok("getUpdates", allowed_updates=["callback_query"])
    chat.say("filtered out")
    assert await api.ok("getUpdates") == []
    await api.ok("getUpdates", allowed_updates=[])
    chat.say("let through")
    assert [u["message"]["text"] for u in await api.ok("getUpdates")] == ["let through"]


async def test_the_bots_own_messages_are_not_updates(api: Api, chat: Chat) -> None:
    await api.ok("sendMessage", chat_id=chat.user.id, text="mine")
    assert await api.ok("getUpdates") == []


async def test_delete_webhook_without_a_webhook_is_true_and_can_drop_pending(
    api: Api, chat: Chat
) -> None:
    await api.ok("getMe")
    chat.say("pending")
    assert await api.ok("deleteWebhook") is True
    assert len(await api.ok("getUpdates")) == 1
    assert await api.ok("deleteWebhook", drop_pending_updates=True) is True
    assert await api.ok("getUpdates") == []


async def test_edits_change_text_and_keyboard(api: Api, chat: Chat) -> None:
    keyboard = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    sent = await api.ok("sendMessage", chat_id=chat.user.id, text="before", reply_markup=keyboard)
    edited = await api.ok(
        "editMessageText",
        chat_id=chat.user.id,
        message_id=sent["message_id"],
        text="after",
        reply_markup=keyboard,
    )
    assert (edited["text"], edited["reply_markup"]) == ("after", keyboard)
    assert edited["edit_date"] >= sent["date"]
    other = {"inline_keyboard": [[{"text": "B", "callback_data": "b"}]]}
    rekeyed = await api.ok(
        "editMessageReplyMarkup",
        chat_id=chat.user.id,
        message_id=sent["message_id"],
        reply_markup=other,
    )
    assert (rekeyed["text"], rekeyed["reply_markup"]) == ("after", other)
    status, body = await api.call(
        "editMessageReplyMarkup",
        chat_id=chat.user.id,
        message_id=sent["message_id"],
        reply_markup=other,
    )
    assert status == 400 and body["description"].startswith("Bad Request: message is not modified")
    status, body = await api.call(
        "editMessageText", chat_id=chat.user.id, message_id=999_999, text="x"
    )
    assert (status, body["description"]) == (400, "Bad Request: message to edit not found")
    # The user's copy follows.
    copy = chat.server.storage.messages.get(chat.user.id, chat.newest_id())
    assert copy is not None and copy.text == "after"


async def test_unconfirmed_updates_survive_a_restart(
    tmp_path: Path, clock: FakeClock, loopgram_rsa_key: RsaPrivateKey
) -> None:
    async def start() -> LoopgramServer:
        server = LoopgramServer(
            tmp_path,
            port=0,
            bot_api_port=0,
            clock=clock,
            rsa_key=loopgram_rsa_key,
            synchronous="NORMAL",
        )
        await server.start()
        return server

    async with aiohttp.ClientSession() as http:
        first = await start()
        try:
            assert first.bot_api_url is not None
            api = Api(http, first.bot_api_url, first.create_bot("examplebot"))
            chat = Chat(first, api)
            await api.ok("getMe")
            chat.say("one")
            chat.say("two")
            (one, _) = await api.ok("getUpdates")
            await api.ok("getUpdates", offset=one["update_id"] + 1)
        finally:
            await first.stop()
        second = await start()
        try:
            assert second.bot_api_url is not None
            api = Api(http, second.bot_api_url, api.token)
            # Subscribed again at start: a message before the bot's first call is queued.
            Chat(second, api, phone="15550002", started=False).say("three")
            updates = await api.ok("getUpdates")
            assert [u["message"]["text"] for u in updates] == ["two", "three"]
            assert updates[0]["update_id"] == one["update_id"] + 1
        finally:
            await second.stop()


async def test_get_webhook_info_counts_pending_updates(api: Api, chat: Chat) -> None:
    await api.ok("getMe")
    chat.say("one")
    info = await api.ok("getWebhookInfo")
    assert info == {"url": "", "has_custom_certificate": False, "pending_update_count": 1}


async def test_send_chat_action_checks_chat_and_action(api: Api, chat: Chat) -> None:
    assert await api.ok("sendChatAction", chat_id=chat.user.id, action="typing") is True
    status, body = await api.call("sendChatAction", chat_id=chat.user.id, action="dancing")
    assert (status, body["description"]) == (400, "Bad Request: wrong parameter action in request")
    status, body = await api.call("sendChatAction", chat_id=1, action="typing")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")


async def test_get_chat_of_a_private_chat(api: Api, chat: Chat) -> None:
    info = await api.ok("getChat", chat_id=chat.user.id)
    assert info["id"] == chat.user.id
    assert (info["type"], info["first_name"]) == ("private", "Ann")
    assert {"accent_color_id", "max_reaction_count", "accepted_gift_types"} <= set(info)


async def test_stopping_the_server_ends_waiting_long_polls_with_nothing(
    clock: FakeClock, loopgram_rsa_key: RsaPrivateKey
) -> None:
    server = LoopgramServer(port=0, bot_api_port=0, clock=clock, rsa_key=loopgram_rsa_key)
    await server.start()
    try:
        assert server.bot_api_url is not None
        async with aiohttp.ClientSession() as http:
            api = Api(http, server.bot_api_url, server.create_bot("examplebot"))
            poll = asyncio.ensure_future(api.call("getUpdates", timeout=50))
            await asyncio.sleep(0.05)
            # Before, the HTTP listener waited for the poll's 50 s before it closed.
            await asyncio.wait_for(server.stop(), 10)
            assert await asyncio.wait_for(poll, 10) == (200, {"ok": True, "result": []})
    finally:
        await server.stop()


async def test_a_users_edit_arrives_as_edited_message(
    api: Api, chat: Chat, server: LoopgramServer
) -> None:
    await api.ok("getMe")
    chat.say("typo")
    (first,) = await api.ok("getUpdates")
    server.core.services.messages.edit_message(
        chat.user, chat.bot_peer, chat.newest_id(), text="fixed"
    )
    updates = await api.ok("getUpdates", offset=first["update_id"] + 1)
    (edit,) = updates
    assert edit["update_id"] == first["update_id"] + 1
    edited = edit["edited_message"]
    assert edited["text"] == "fixed"
    assert edited["message_id"] == first["message"]["message_id"]
    assert "edit_date" in edited


async def test_close_is_refused_for_ten_minutes_then_ends_the_instance(
    api: Api, chat: Chat, clock: FakeClock
) -> None:
    await api.ok("getMe")
    status, body = await api.call("close")
    assert status == 429 and body["parameters"]["retry_after"] == 600
    assert body["description"] == "Too Many Requests: retry after 600"
    clock.advance(601)
    assert await api.ok("close") is True
    # Closed: nothing is queued until the bot's next request launches it again.
    chat.say("while closed")
    assert await api.ok("getUpdates") == []
    chat.say("after")
    assert [u["message"]["text"] for u in await api.ok("getUpdates")] == ["after"]


async def test_log_out_ends_the_instance_and_a_waiting_poll(api: Api, chat: Chat) -> None:
    await api.ok("getMe")
    waiting = asyncio.ensure_future(api.call("getUpdates", timeout=30))
    await asyncio.sleep(0.05)
    assert await api.ok("logOut") is True
    assert await asyncio.wait_for(waiting, 10) == (200, {"ok": True, "result": []})
    chat.say("while logged out")
    assert await api.ok("getUpdates") == []
