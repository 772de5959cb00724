"""Bot API replies and first contact: ``reply_parameters`` (and the legacy
``reply_to_message_id`` / ``allow_sending_without_reply``) on ``sendMessage``,
``reply_to_message`` in Message objects, and the 403 of a bot writing first -- over HTTP,
with the official texts, and seen by a real Telethon user and python-telegram-bot."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loopgram.node import LoopgramServer
from loopgram.storage import PeerRef
from loopgram.testing.botapi import ptb_application_builder

from ..integration.support import eventually, start_user, within
from .conftest import Api, Chat

CANT_INITIATE = "Forbidden: bot can't initiate conversation with a user"


def _bot_box_newest(server: LoopgramServer, chat: Chat) -> int:
    return server.storage.messages.history(chat.bot.id, PeerRef.user(chat.user.id), limit=1)[0].id


def _user_copy(server: LoopgramServer, chat: Chat) -> Any:
    return server.storage.messages.history(chat.user.id, PeerRef.user(chat.bot.id), limit=1)[0]


async def test_reply_parameters_make_the_message_a_reply_on_both_sides(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    start_id = _bot_box_newest(server, chat)  # the user's "/start" in the bot's box
    sent = await api.ok(
        "sendMessage",
        chat_id=chat.user.id,
        text="welcome",
        reply_parameters={"message_id": start_id},
    )
    replied = sent["reply_to_message"]
    assert (replied["message_id"], replied["text"]) == (start_id, "/start")
    assert replied["from"]["id"] == chat.user.id and replied["chat"]["id"] == chat.user.id
    # The user's copy names the user's own copy of "/start".
    mine = _user_copy(server, chat)
    (start,) = [
        m
        for m in server.storage.messages.history(chat.user.id, PeerRef.user(chat.bot.id))
        if m.text == "/start"
    ]
    assert mine.text == "welcome" and mine.reply_to == start.id


async def test_the_legacy_reply_to_message_id_in_a_query_string_is_read(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    start_id = _bot_box_newest(server, chat)
    # As pyTelegramBotAPI sends it: everything in the query string of an empty POST.
    query = {"chat_id": str(chat.user.id), "text": "hi", "reply_to_message_id": str(start_id)}
    async with api.http.post(api.url("sendMessage"), params=query) as response:
        body = await response.json()
    assert body["ok"] is True
    assert body["result"]["reply_to_message"]["message_id"] == start_id


@pytest.mark.parametrize(
    "params",
    [
        {"reply_parameters": {"message_id": 9_999}},
        {"reply_parameters": json.dumps({"message_id": 9_999})},
        {"reply_to_message_id": 9_999},
    ],
    ids=["object", "json-text", "legacy"],
)
async def test_replying_to_a_missing_message_is_the_official_error(
    server: LoopgramServer, api: Api, chat: Chat, params: dict[str, Any]
) -> None:
    status, body = await api.call("sendMessage", chat_id=chat.user.id, text="re", **params)
    assert (status, body["description"]) == (400, "Bad Request: message to be replied not found")
    assert _user_copy(server, chat).text == "/start"  # nothing was sent


@pytest.mark.parametrize(
    "params",
    [
        {"reply_parameters": {"message_id": 9_999, "allow_sending_without_reply": True}},
        {"reply_to_message_id": 9_999, "allow_sending_without_reply": "true"},
    ],
    ids=["reply_parameters", "legacy"],
)
async def test_allow_sending_without_reply_sends_a_plain_message(
    server: LoopgramServer, api: Api, chat: Chat, params: dict[str, Any]
) -> None:
    sent = await api.ok("sendMessage", chat_id=chat.user.id, text="anyway", **params)
    assert "reply_to_message" not in sent
    assert _user_copy(server, chat).reply_to is None


@pytest.mark.parametrize(
    ("raw", "description"),
    [
        ("{", "Can't parse reply parameters JSON object"),
        ("[1]", "Object expected as reply parameters"),
        ('{"chat_id": 1}', 'Can\'t find field "message_id"'),
        ('{"message_id": "x"}', 'Field "message_id" must be a valid Number'),
        ('{"message_id": [1]}', 'Field "message_id" must be a Number'),
        ('{"message_id": 1, "allow_sending_without_reply": 1}', None),
    ],
)
async def test_bad_reply_parameters_are_refused_with_tdlibs_texts(
    api: Api, chat: Chat, raw: str, description: str | None
) -> None:
    status, body = await api.call(
        "sendMessage", chat_id=chat.user.id, text="re", reply_parameters=raw
    )
    expected = description or 'Field "allow_sending_without_reply" must be of type Boolean'
    assert (status, body["description"]) == (400, f"Bad Request: {expected}")


async def test_a_reply_in_another_chat_is_named_as_not_implemented(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    other = Chat(server, api, phone="15550002")
    status, body = await api.call(
        "sendMessage",
        chat_id=chat.user.id,
        text="re",
        reply_parameters={"chat_id": other.user.id, "message_id": 1},
    )
    assert status == 400 and "not implemented by loopgram" in body["description"]


async def test_a_users_reply_reaches_the_bot_with_the_replied_message_one_level_deep(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    start_id = _bot_box_newest(server, chat)
    first = await api.ok(
        "sendMessage",
        chat_id=chat.user.id,
        text="question",
        reply_parameters={"message_id": start_id},
    )
    await api.ok("getUpdates")  # from here on, updates are queued for the bot
    question = _user_copy(server, chat)
    assert question.text == "question"
    server.core.services.messages.send_message(
        chat.user, chat.bot_peer, "answer", random_id=99, reply_to=question.id
    )
    (update,) = await api.ok("getUpdates", timeout=5)
    message = update["message"]
    assert message["text"] == "answer"
    replied = message["reply_to_message"]
    assert (replied["message_id"], replied["text"]) == (first["message_id"], "question")
    # One level deep, as officially: the replied message's own reply is not rendered.
    assert "reply_to_message" not in replied


async def test_a_bot_writing_first_gets_the_official_403(server: LoopgramServer, api: Api) -> None:
    stranger = Chat(server, api, phone="15550003", started=False)
    status, body = await api.call("sendMessage", chat_id=stranger.user.id, text="hello?")
    assert (status, body) == (403, {"ok": False, "error_code": 403, "description": CANT_INITIATE})
    stranger.say("/start")
    assert (await api.ok("sendMessage", chat_id=stranger.user.id, text="hello!"))["text"]


async def test_a_telethon_user_sees_the_reply_of_a_python_telegram_bot(
    server: LoopgramServer,
) -> None:
    from telegram import Update
    from telegram.error import Forbidden
    from telegram.ext import CommandHandler, ContextTypes

    token = server.create_bot("examplebot")

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text("quoted", do_quote=True)

    app = ptb_application_builder(server, token).build()
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=5)
        user = await start_user(server)
        try:
            mine = await within(user.send_message("examplebot", "/start"))

            async def answer() -> Any:
                found = await user.get_messages("examplebot", limit=1)
                return found[0] if found and found[0].text == "quoted" else None

            reply = await eventually(answer, timeout=15.0)
            stranger = await start_user(server)
            stranger_id = (await stranger.get_me()).id
            await stranger.disconnect()
            with pytest.raises(Forbidden, match="bot can't initiate conversation"):
                await app.bot.send_message(stranger_id, "hello?")
        finally:
            await app.updater.stop()
            await app.stop()
            await user.disconnect()
    assert reply.reply_to is not None and reply.reply_to.reply_to_msg_id == mine.id
