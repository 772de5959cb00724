"""The callback-query rules through ``answerCallbackQuery``: the same rules as
``messages.setBotCallbackAnswer`` (one implementation), with the official server's texts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from loopgram.clock import FakeClock
from loopgram.node import LoopgramServer
from loopgram.tl.types import messages as msg_types

from .conftest import Api, Chat

QUERY_ID_INVALID = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
KEYBOARD = {"inline_keyboard": [[{"text": "Buy", "callback_data": "buy"}]]}


async def _pressed(
    api: Api, chat: Chat, data: bytes = b"buy"
) -> tuple[asyncio.Task[Any], dict[str, Any]]:
    """The bot sends a keyboard, the user presses; the query as the bot polls it."""
    await api.ok("sendMessage", chat_id=chat.user.id, text="pick one", reply_markup=KEYBOARD)
    press = chat.press(data)
    updates = await api.ok("getUpdates", timeout=10)
    (update,) = [u for u in updates if "callback_query" in u]
    await api.ok("getUpdates", offset=update["update_id"] + 1)
    return press, update["callback_query"]


async def _error(api: Api, **params: Any) -> tuple[int, str]:
    status, body = await api.call("answerCallbackQuery", **params)
    assert body["ok"] is False and body["error_code"] == status
    return status, body["description"]


async def test_the_answer_reaches_the_waiting_user(api: Api, chat: Chat) -> None:
    press, query = await _pressed(api, chat)
    assert query["data"] == "buy"
    assert query["from"]["id"] == chat.user.id
    assert query["message"]["text"] == "pick one"
    assert query["message"]["reply_markup"] == KEYBOARD
    assert isinstance(query["id"], str) and int(query["id"]) != 0
    assert isinstance(query["chat_instance"], str)
    result = await api.ok(
        "answerCallbackQuery",
        callback_query_id=query["id"],
        text="Added",
        show_alert=True,
        url="https://t.me/examplebot?start=cart",
        cache_time=99_999_999,
    )
    assert result is True
    answer = await asyncio.wait_for(press, 10)
    assert isinstance(answer, msg_types.BotCallbackAnswer)
    assert (answer.alert, answer.message, answer.url, answer.has_url) == (
        True,
        "Added",
        "https://t.me/examplebot?start=cart",
        True,
    )
    assert answer.cache_time == 2_592_000  # clamped


async def test_chat_instance_is_the_mtproto_value_as_a_string(
    api: Api, chat: Chat, server: LoopgramServer
) -> None:
    press, query = await _pressed(api, chat)
    expected = server.core.services.keys.private_chat_instance(chat.user.id, chat.bot.id)
    assert query["chat_instance"] == str(expected)
    await api.ok("answerCallbackQuery", callback_query_id=query["id"])
    await asyncio.wait_for(press, 10)


async def test_a_second_answer_is_query_id_invalid(api: Api, chat: Chat) -> None:
    press, query = await _pressed(api, chat)
    await api.ok("answerCallbackQuery", callback_query_id=query["id"], text="first")
    assert await _error(api, callback_query_id=query["id"], text="second") == (
        400,
        QUERY_ID_INVALID,
    )
    assert (await asyncio.wait_for(press, 10)).message == "first"


@pytest.mark.parametrize("query_id", ["12345", "not a number", "", "99999999999999999999999"])
async def test_unknown_ids_are_query_id_invalid(api: Api, query_id: str) -> None:
    assert await _error(api, callback_query_id=query_id) == (400, QUERY_ID_INVALID)


async def test_another_bots_query_is_query_id_invalid(
    api: Api, chat: Chat, server: LoopgramServer
) -> None:
    press, query = await _pressed(api, chat)
    other = Api(api.http, api.base, server.create_bot("otherbot"))
    status, body = await other.call("answerCallbackQuery", callback_query_id=query["id"])
    assert (status, body["description"]) == (400, QUERY_ID_INVALID)
    await api.ok("answerCallbackQuery", callback_query_id=query["id"])
    await asyncio.wait_for(press, 10)


async def test_an_answer_after_the_window_is_query_id_invalid(
    api: Api, chat: Chat, server: LoopgramServer, clock: FakeClock
) -> None:
    press, query = await _pressed(api, chat)
    clock.advance(server.config.callback_timeout + 1)
    server.tick()
    assert await _error(api, callback_query_id=query["id"]) == (400, QUERY_ID_INVALID)
    with pytest.raises(Exception, match="BOT_RESPONSE_TIMEOUT"):
        await asyncio.wait_for(press, 10)


async def test_a_long_text_is_refused_and_the_query_stays_answerable(
    api: Api, chat: Chat, server: LoopgramServer
) -> None:
    press, query = await _pressed(api, chat)
    too_long = "x" * (server.config.callback_message_max + 1)
    assert await _error(api, callback_query_id=query["id"], text=too_long) == (
        400,
        "Bad Request: MESSAGE_TOO_LONG",
    )
    await api.ok("answerCallbackQuery", callback_query_id=query["id"], text="ok")
    assert (await asyncio.wait_for(press, 10)).message == "ok"


async def test_a_url_that_is_not_the_bots_deep_link_is_url_invalid(api: Api, chat: Chat) -> None:
    press, query = await _pressed(api, chat)
    assert await _error(api, callback_query_id=query["id"], url="https://example.com") == (
        400,
        "Bad Request: URL_INVALID",
    )
    await api.ok("answerCallbackQuery", callback_query_id=query["id"])
    await asyncio.wait_for(press, 10)


async def test_an_unanswered_query_leaves_the_queue_after_its_window(
    api: Api, chat: Chat, server: LoopgramServer, clock: FakeClock
) -> None:
    await api.ok("sendMessage", chat_id=chat.user.id, text="pick one", reply_markup=KEYBOARD)
    press = chat.press(b"buy")
    await asyncio.sleep(0)
    clock.advance(server.config.callback_timeout + 1)
    server.tick()
    assert await api.ok("getUpdates") == []
    with pytest.raises(Exception, match="BOT_RESPONSE_TIMEOUT"):
        await asyncio.wait_for(press, 10)
