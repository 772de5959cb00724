"""Inline mode through the Bot API: inline queries, answerInlineQuery with an article and a
keyboard, the chosen result, presses on the inline message (``inline_message_id``) and
edits through it."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from loopgram.botapi.gateway import inline_message_id, parse_inline_message_id
from loopgram.node import LoopgramServer
from loopgram.tl import types
from loopgram.tl.types import messages as msg_types

from .conftest import Api, Chat

KEYBOARD = {"inline_keyboard": [[{"text": "Vote", "callback_data": "vote"}]]}


def test_inline_message_ids_are_unpadded_base64url_of_the_bare_tl() -> None:
    long_form = types.InputBotInlineMessageID64(dc_id=2, owner_id=1000000001, id=7, access_hash=-5)
    text = inline_message_id(long_form)
    assert "=" not in text
    assert len(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))) == 24
    assert parse_inline_message_id(text) == long_form
    short = types.InputBotInlineMessageID(dc_id=2, id=9, access_hash=3)
    assert parse_inline_message_id(inline_message_id(short)) == short


async def _inline_query(chat: Chat, text: str) -> asyncio.Task[Any]:
    bot = types.InputUser(user_id=chat.bot.id, access_hash=chat.bot.access_hash)
    return asyncio.ensure_future(
        chat.server.core.presses.inline_query(chat.user, bot, chat.bot_peer, text, "")
    )


async def test_inline_query_answer_choose_press_and_edit(
    api: Api, chat: Chat, server: LoopgramServer
) -> None:
    await api.ok("getMe")
    asked = await _inline_query(chat, "cats")
    (update,) = await api.ok("getUpdates", timeout=10)
    query = update["inline_query"]
    assert (query["query"], query["offset"], query["chat_type"]) == ("cats", "", "sender")
    assert query["from"]["id"] == chat.user.id
    await api.ok("getUpdates", offset=update["update_id"] + 1)

    article = {
        "type": "article",
        "id": "a1",
        "title": "Cats",
        "input_message_content": {"message_text": "<b>Cats</b> poll", "parse_mode": "HTML"},
        "reply_markup": KEYBOARD,
    }
    assert await api.ok("answerInlineQuery", inline_query_id=query["id"], results=[article])
    results = await asyncio.wait_for(asked, 10)
    assert isinstance(results, msg_types.BotResults)
    (shown,) = results.results
    assert isinstance(shown, types.BotInlineResult) and shown.title == "Cats"

    # The user sends the result: the bot hears which, with the inline message's id.
    server.core.services.inline.send(
        chat.user, chat.bot_peer, random_id=99, query_id=results.query_id, result_id="a1"
    )
    # Sent in the chat with the bot itself, it is also a message the bot receives.
    message_update, chosen_update = await api.ok("getUpdates", timeout=10)
    sent = message_update["message"]
    assert (sent["text"], sent["via_bot"]["id"]) == ("Cats poll", chat.bot.id)
    assert sent["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    assert sent["reply_markup"] == KEYBOARD
    chosen = chosen_update["chosen_inline_result"]
    assert (chosen["result_id"], chosen["query"]) == ("a1", "cats")
    inline_id = chosen["inline_message_id"]
    await api.ok("getUpdates", offset=chosen_update["update_id"] + 1)

    press = chat.press(b"vote")
    (update,) = await api.ok("getUpdates", timeout=10)
    callback = update["callback_query"]
    assert callback["inline_message_id"] == inline_id
    assert "message" not in callback
    assert callback["data"] == "vote"
    await api.ok("getUpdates", offset=update["update_id"] + 1)
    assert await api.ok("answerCallbackQuery", callback_query_id=callback["id"], text="Counted")
    assert (await asyncio.wait_for(press, 10)).message == "Counted"

    assert await api.ok("editMessageText", inline_message_id=inline_id, text="Closed") is True
    copy = server.storage.messages.get(chat.user.id, chat.newest_id())
    assert copy is not None and copy.text == "Closed" and copy.reply_markup is None


async def test_a_second_answer_and_bad_results_are_refused(api: Api, chat: Chat) -> None:
    await api.ok("getMe")
    asked = await _inline_query(chat, "x")
    (update,) = await api.ok("getUpdates", timeout=10)
    query_id = update["inline_query"]["id"]
    status, body = await api.call("answerInlineQuery", inline_query_id=query_id, results="{")
    assert (status, body["description"]) == (
        400,
        "Bad Request: can't parse inline query results JSON object",
    )
    photo = {"type": "photo", "id": "p", "photo_url": "https://e.x/p.jpg", "thumbnail_url": "x"}
    status, body = await api.call("answerInlineQuery", inline_query_id=query_id, results=[photo])
    assert (status, body["description"]) == (400, "Bad Request: RESULT_TYPE_INVALID")
    assert await api.ok("answerInlineQuery", inline_query_id=query_id, results=[])
    await asyncio.wait_for(asked, 10)
    status, body = await api.call("answerInlineQuery", inline_query_id=query_id, results=[])
    assert status == 400 and body["description"].startswith("Bad Request: query is too old")


async def test_a_bad_inline_message_id_is_a_bad_request(api: Api) -> None:
    status, body = await api.call("editMessageText", inline_message_id="AAAA", text="x")
    assert (status, body["description"]) == (
        400,
        "Bad Request: invalid inline_message_id specified",
    )
