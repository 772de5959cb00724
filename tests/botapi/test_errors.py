"""The one table from the server's rpc errors to Bot API errors, and the envelope."""

from __future__ import annotations

import pytest

from loopgram.botapi.errors import RPC_ROWS, BotApiError, from_rpc, not_implemented
from loopgram.errors_table import ROWS
from loopgram.server.errors import ERRORS, FloodWait, RpcError


@pytest.mark.parametrize(
    ("name", "code", "description"),
    [
        (
            "QUERY_ID_INVALID",
            400,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        ),
        ("MESSAGE_TOO_LONG", 400, "Bad Request: MESSAGE_TOO_LONG"),
        ("PEER_ID_INVALID", 400, "Bad Request: chat not found"),
        ("USER_IS_BOT", 403, "Forbidden: bot can't send messages to bots"),
        ("URL_INVALID", 400, "Bad Request: URL_INVALID"),
        ("DATA_INVALID", 400, "Bad Request: DATA_INVALID"),
        ("BUTTON_DATA_INVALID", 400, "Bad Request: BUTTON_DATA_INVALID"),
        ("AUTH_KEY_UNREGISTERED", 401, "Unauthorized"),
        ("INTERNAL", 500, "Internal Server Error"),
    ],
)
def test_rpc_errors_take_the_official_bot_api_form(name: str, code: int, description: str) -> None:
    mapped = from_rpc(ERRORS[name]())
    assert (mapped.code, mapped.description) == (code, description)


def test_every_row_names_an_error_the_server_knows() -> None:
    known = {name for _, name, _ in ROWS}
    assert {name for name, _, _, _ in RPC_ROWS} <= known


@pytest.mark.parametrize(
    ("name", "method", "description"),
    [
        ("MESSAGE_TOO_LONG", "sendmessage", "Bad Request: message is too long"),
        ("MESSAGE_TOO_LONG", "answercallbackquery", "Bad Request: MESSAGE_TOO_LONG"),
        ("MESSAGE_ID_INVALID", "editmessagetext", "Bad Request: message to edit not found"),
        ("MESSAGE_ID_INVALID", "answercallbackquery", "Bad Request: MESSAGE_ID_INVALID"),
        (
            "QUERY_ID_INVALID",
            "answercallbackquery",
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        ),
    ],
)
def test_some_texts_depend_on_the_method(name: str, method: str, description: str) -> None:
    assert from_rpc(ERRORS[name](), method).description == description


def test_flood_wait_becomes_429_with_retry_after() -> None:
    mapped = from_rpc(FloodWait(17))
    assert mapped.code == 429
    assert mapped.description == "Too Many Requests: retry after 17"
    assert mapped.retry_after == 17
    assert mapped.to_dict() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 17",
        "parameters": {"retry_after": 17},
    }


def test_a_flood_wait_known_only_by_its_name_is_429_too() -> None:
    mapped = from_rpc(RpcError(420, "FLOOD_WAIT_3"))
    assert (mapped.code, mapped.retry_after) == (429, 3)


def test_envelope_without_parameters_has_none() -> None:
    assert BotApiError(400, "Bad Request: x").to_dict() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: x",
    }


def test_unimplemented_methods_are_named() -> None:
    error = not_implemented("sendPhoto")
    assert error.code == 400
    assert error.description == "Bad Request: method sendPhoto is not implemented by loopgram"
