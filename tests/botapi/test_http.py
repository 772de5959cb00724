"""Requests and responses over real HTTP as the official server does them, and bad input
answered with clear Bot API errors that disturb nothing else."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
import pytest

from loopgram.botapi.http import DEFAULT_MAX_BODY
from loopgram.node import LoopgramServer

from .conftest import Api, Chat


async def _raw(response: aiohttp.ClientResponse) -> tuple[int, Any]:
    return response.status, json.loads(await response.read())


async def test_get_with_a_query_string(api: Api) -> None:
    async with api.http.get(api.url("getMe")) as response:
        status, body = await _raw(response)
    assert status == 200 and body["ok"] is True
    assert body["result"]["username"] == "examplebot"
    assert body["result"]["is_bot"] is True
    assert body["result"]["supports_inline_queries"] is True  # as the inline rules have it
    assert body["result"]["can_join_groups"] is True  # users add bots to basic groups
    assert body["result"]["can_read_all_group_messages"] is False  # privacy mode by default
    assert response.content_type == "application/json"


async def test_method_names_are_case_insensitive_and_test_paths_work(api: Api) -> None:
    for path in ("GETME", "getme", "test/getMe"):
        async with api.http.post(f"{api.base}/bot{api.token}/{path}") as response:
            status, body = await _raw(response)
        assert (status, body["result"]["username"]) == (200, "examplebot")


async def test_urlencoded_multipart_json_and_query_string_bodies(api: Api, chat: Chat) -> None:
    markup = json.dumps({"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]})
    sent = []
    async with api.http.post(
        api.url("sendMessage"),
        data={"chat_id": str(chat.user.id), "text": "form", "reply_markup": markup},
    ) as response:
        sent.append(await _raw(response))
    form = aiohttp.FormData()
    form.add_field("chat_id", str(chat.user.id))
    form.add_field("text", "multipart")
    form.add_field("reply_markup", markup)
    async with api.http.post(api.url("sendMessage"), data=form()) as response:
        sent.append(await _raw(response))
    async with api.http.post(
        api.url("sendMessage"),
        json={"chat_id": chat.user.id, "text": "json", "reply_markup": json.loads(markup)},
    ) as response:
        sent.append(await _raw(response))
    # pyTelegramBotAPI's way: everything in the query string of an empty POST.
    async with api.http.post(
        api.url("sendMessage"),
        params={"chat_id": str(chat.user.id), "text": "query", "reply_markup": markup},
    ) as response:
        sent.append(await _raw(response))
    assert [status for status, _ in sent] == [200] * 4
    assert [body["result"]["text"] for _, body in sent] == ["form", "multipart", "json", "query"]
    for _, body in sent:
        assert body["result"]["reply_markup"] == json.loads(markup)
        assert body["result"]["chat"] == {
            "id": chat.user.id,
            "type": "private",
            "first_name": "Ann",
        }
        assert body["result"]["from"]["username"] == "examplebot"


async def test_sent_entities_come_back(api: Api, chat: Chat) -> None:
    entities = [{"type": "bold", "offset": 0, "length": 5}]
    result = await api.ok("sendMessage", chat_id=chat.user.id, text="hello", entities=entities)
    assert result["entities"] == entities


async def test_unknown_tokens_are_unauthorized(api: Api, server: LoopgramServer) -> None:
    bot_id = api.token.split(":")[0]
    for token in (f"{bot_id}:wrongsecret", "nonsense", "", "123:"):
        status, body = await Api(api.http, api.base, token).call("getMe")
        assert (status, body) == (
            401,
            {"ok": False, "error_code": 401, "description": "Unauthorized"},
        )


async def test_unknown_methods_are_not_found(api: Api) -> None:
    for method in ("noSuchMethod", ""):
        status, body = await api.call(method)
        assert (status, body["description"]) == (404, "Not Found: method not found")


async def test_other_paths_are_not_found(api: Api) -> None:
    async with api.http.get(f"{api.base}/something") as response:
        status, body = await _raw(response)
    assert (status, body["ok"]) == (404, False)


async def test_unimplemented_methods_are_named_and_logged_once(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="loopgram.botapi"):
        for _ in range(2):
            status, body = await api.call("sendPhoto", chat_id=1)
            assert (status, body["description"]) == (
                400,
                "Bad Request: method sendPhoto is not implemented by loopgram",
            )
    warnings = [r for r in caplog.records if "not implemented" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.parametrize(
    ("headers", "body", "description"),
    [
        (
            {"Content-Type": "application/json"},
            b'{"chat_id": 1,',
            "Bad Request: can't parse JSON encoded request body",
        ),
        (
            {"Content-Type": "application/json"},
            b'"text"',
            "Bad Request: the JSON encoded request body must be an object",
        ),
        (
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"text=%FF",
            "Bad Request: the request body is not valid UTF-8",
        ),
    ],
)
async def test_malformed_bodies_are_bad_requests(
    api: Api, headers: dict[str, str], body: bytes, description: str
) -> None:
    async with api.http.post(api.url("sendMessage"), data=body, headers=headers) as response:
        status, answer = await _raw(response)
    assert (status, answer["description"]) == (400, description)
    assert (await api.ok("getMe"))["username"] == "examplebot"


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"text": "hi"}, "Bad Request: chat_id is empty"),
        ({"chat_id": 5}, "Bad Request: message text is empty"),
        ({"chat_id": 5, "text": "hi"}, "Bad Request: chat not found"),
        ({"chat_id": "@nobody", "text": "hi"}, "Bad Request: chat not found"),
        ({"chat_id": "9" * 25, "text": "hi"}, "Bad Request: chat not found"),
        ({"chat_id": "-100", "text": "hi"}, "Bad Request: chat not found"),
        (
            {"chat_id": "USER", "text": "hi", "reply_markup": "{"},
            "Bad Request: can't parse reply keyboard markup JSON object",
        ),
        (
            {"chat_id": "USER", "text": "hi", "reply_markup": {"inline_keyboard": 3}},
            "Bad Request: can't parse reply keyboard markup: "
            'field "inline_keyboard" must be an Array',
        ),
        (
            {"chat_id": "USER", "text": "hi", "entities": "[{"},
            "Bad Request: can't parse message entities JSON object",
        ),
        ({"chat_id": "USER", "text": "x" * 5000}, "Bad Request: message is too long"),
        (
            {
                "chat_id": "USER",
                "text": "hi",
                "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "x" * 65}]]},
            },
            "Bad Request: BUTTON_DATA_INVALID",
        ),
    ],
)
async def test_bad_send_message_parameters(
    api: Api, chat: Chat, params: dict[str, Any], description: str
) -> None:
    if params.get("chat_id") == "USER":
        params = {**params, "chat_id": chat.user.id}
    status, body = await api.call("sendMessage", **params)
    assert (status, body["description"]) == (400, description)


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"limit": "ten"}, 'Bad Request: parameter "limit" must be an Integer'),
        ({"offset": [1]}, 'Bad Request: parameter "offset" must be an Integer'),
        ({"allowed_updates": "{"}, "Bad Request: can't parse allowed updates JSON object"),
    ],
)
async def test_wrong_types_are_bad_requests(
    api: Api, params: dict[str, Any], description: str
) -> None:
    status, body = await api.call("getUpdates", **params)
    assert (status, body["description"]) == (400, description)


async def test_oversized_bodies_are_refused_and_the_server_goes_on(api: Api, chat: Chat) -> None:
    big = {"chat_id": chat.user.id, "text": "x" * (DEFAULT_MAX_BODY + 10)}
    status, body = await api.call("sendMessage", **big)
    assert status == 413 and body["error_code"] == 413 and body["ok"] is False
    assert "Request Entity Too Large" in body["description"]
    assert (await api.ok("getMe"))["username"] == "examplebot"


async def test_flood_waits_become_429_with_retry_after(api: Api, chat: Chat) -> None:
    # The fake clock stands still, so the bot's per-chat bucket never refills.
    for _ in range(200):
        status, body = await api.call("sendMessage", chat_id=chat.user.id, text="spam")
        if status != 200:
            break
    assert status == 429
    retry_after = body["parameters"]["retry_after"]
    assert retry_after >= 1
    assert body["description"] == f"Too Many Requests: retry after {retry_after}"
    async with api.http.post(
        api.url("sendMessage"), json={"chat_id": chat.user.id, "text": "spam"}
    ) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == str(retry_after)


async def test_a_reset_token_stops_working_at_once(api: Api, server: LoopgramServer) -> None:
    await api.ok("getMe")
    new = server.core.services.accounts.reset_bot_token(api.bot_account(server))
    status, body = await api.call("getMe")
    assert (status, body["description"]) == (401, "Unauthorized")
    assert (await Api(api.http, api.base, new).ok("getMe"))["username"] == "examplebot"


async def test_reply_keyboards_reach_the_user_and_can_be_removed(
    api: Api, chat: Chat, server: LoopgramServer
) -> None:
    from loopgram.server.services.render import parse_markup
    from loopgram.tl import types

    keyboard = {
        "keyboard": [["Yes", {"text": "Share phone", "request_contact": True}]],
        "resize_keyboard": True,
        "one_time_keyboard": True,
        "input_field_placeholder": "Answer",
    }
    sent = await api.ok("sendMessage", chat_id=chat.user.id, text="ok?", reply_markup=keyboard)
    assert "reply_markup" not in sent  # a bot sees only inline keyboards on messages
    copy = server.storage.messages.get(chat.user.id, chat.newest_id())
    assert copy is not None
    markup = parse_markup(copy.reply_markup)
    assert isinstance(markup, types.ReplyKeyboardMarkup)
    assert (markup.resize, markup.single_use, markup.placeholder) == (True, True, "Answer")
    assert [[b.text for b in row.buttons] for row in markup.rows] == [["Yes", "Share phone"]]
    assert isinstance(markup.rows[0].buttons[1].type, types.ButtonTypeRequestPhone)
    await api.ok(
        "sendMessage", chat_id=chat.user.id, text="thanks", reply_markup={"remove_keyboard": True}
    )
    copy = server.storage.messages.get(chat.user.id, chat.newest_id())
    assert copy is not None
    assert isinstance(parse_markup(copy.reply_markup), types.ReplyKeyboardHide)


async def test_commands_per_scope_and_language(api: Api) -> None:
    listed = [
        {"command": "start", "description": "Start"},
        {"command": "/help", "description": "Help"},
    ]
    assert await api.ok("setMyCommands", commands=listed) is True
    assert await api.ok("getMyCommands") == [
        {"command": "start", "description": "Start"},
        {"command": "help", "description": "Help"},
    ]
    scope = {"type": "all_private_chats"}
    await api.ok("setMyCommands", commands=listed[:1], scope=scope, language_code="de")
    assert await api.ok("getMyCommands", scope=scope, language_code="de") == listed[:1]
    assert await api.ok("getMyCommands", scope=scope) == []
    assert await api.ok("deleteMyCommands") is True
    assert await api.ok("getMyCommands") == []
    assert await api.ok("getMyCommands", scope=scope, language_code="de") == listed[:1]


@pytest.mark.parametrize(
    ("params", "description"),
    [
        (
            {"commands": [{"command": "Bad-Name", "description": "x"}]},
            "Bad Request: BOT_COMMAND_INVALID",
        ),
        (
            {"commands": [{"command": "ok", "description": ""}]},
            "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID",
        ),
        (
            {"commands": [{"command": f"c{i}", "description": "d"} for i in range(101)]},
            "Bad Request: BOT_COMMANDS_TOO_MUCH",
        ),
        ({"commands": "{"}, "Bad Request: can't parse commands JSON object"),
        ({"commands": [], "language_code": "deu"}, "Bad Request: invalid language code specified"),
        (
            {"commands": [], "scope": {"type": "chat"}},
            'Bad Request: can\'t parse BotCommandScope: field "chat_id" must be given',
        ),
    ],
)
async def test_bad_commands_are_refused(api: Api, params: dict[str, Any], description: str) -> None:
    status, body = await api.call("setMyCommands", **params)
    assert (status, body["description"]) == (400, description)
