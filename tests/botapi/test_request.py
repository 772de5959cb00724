"""Reading requests as the official server does: paths, merged parameters, coercion."""

from __future__ import annotations

import json

import pytest

from loopgram.botapi.errors import BotApiError
from loopgram.botapi.request import Params, Route, check_body_size, parse_fields, parse_path


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/bot1:abc/getMe", Route("1:abc", "getme", False, "getMe")),
        ("/bot1:abc/SENDMESSAGE", Route("1:abc", "sendmessage", False, "SENDMESSAGE")),
        ("/bot1:abc/test/getMe", Route("1:abc", "getme", True, "getMe")),
        ("/bot1:abc/", Route("1:abc", "", False, "")),
    ],
)
def test_bot_paths_give_token_and_lower_cased_method(path: str, route: Route) -> None:
    assert parse_path(path) == route


@pytest.mark.parametrize("path", ["/", "/getMe", "/file/bot1:a/x", "/bot1:a/getMe/extra", "/bota"])
def test_other_paths_are_not_bot_api_calls(path: str) -> None:
    assert parse_path(path) is None


def test_query_string_merges_with_an_urlencoded_body_which_wins() -> None:
    fields = parse_fields(
        "chat_id=1&text=query", "application/x-www-form-urlencoded", b"text=body&x=%C3%A9"
    )
    assert fields == {"chat_id": "1", "text": "body", "x": "é"}


def test_json_body_strings_stay_strings_and_other_values_become_json_text() -> None:
    body = json.dumps(
        {
            "text": "hi",
            "chat_id": 5,
            "show_alert": True,
            "reply_markup": {"inline_keyboard": []},
            "skip": None,
        }
    ).encode()
    fields = parse_fields("", "application/json; charset=utf-8", body)
    assert fields == {
        "text": "hi",
        "chat_id": "5",
        "show_alert": "true",
        "reply_markup": '{"inline_keyboard":[]}',
    }


def test_multipart_fields_come_from_the_driver() -> None:
    assert parse_fields("a=1", "multipart/form-data; boundary=x", b"", [("b", "2")]) == {
        "a": "1",
        "b": "2",
    }


@pytest.mark.parametrize(
    ("content_type", "body", "text"),
    [
        ("application/json", b"{nope", "Bad Request: can't parse JSON encoded request body"),
        (
            "application/json",
            b"[1, 2]",
            "Bad Request: the JSON encoded request body must be an object",
        ),
        (
            "application/x-www-form-urlencoded",
            b"\xff\xfe",
            "Bad Request: the request body is not valid UTF-8",
        ),
        ("text/csv", b"a,b", "Bad Request: unsupported Content-Type text/csv"),
    ],
)
def test_unreadable_bodies_are_bad_requests(content_type: str, body: bytes, text: str) -> None:
    with pytest.raises(BotApiError) as caught:
        parse_fields("", content_type, body)
    assert (caught.value.code, caught.value.description) == (400, text)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("true", True),
        ("True", True),
        ("YES", True),
        ("1", True),
        ("false", False),
        ("False", False),
        ("no", False),
        ("0", False),
        ("", False),
    ],
)
def test_booleans_as_the_frameworks_send_them(raw: str, value: bool) -> None:
    assert Params({"flag": raw}).boolean("flag") is value


def test_a_boolean_that_is_none_of_them_is_a_bad_request() -> None:
    with pytest.raises(BotApiError, match='parameter "flag" must be a Boolean'):
        Params({"flag": "maybe"}).boolean("flag")


def test_integers_default_clamp_and_refuse_text() -> None:
    params = Params({"limit": "500", "offset": "-3", "bad": "12a"})
    assert params.integer("limit", 100, low=1, high=100, clamp=True) == 100
    assert params.integer("offset", 0) == -3
    assert params.integer("missing", 7) == 7
    with pytest.raises(BotApiError, match='parameter "bad" must be an Integer'):
        params.integer("bad")
    with pytest.raises(BotApiError, match='parameter "limit" is out of range'):
        params.integer("limit", low=1, high=100)


def test_missing_required_parameters_are_named() -> None:
    with pytest.raises(BotApiError, match='Bad Request: parameter "text" is required'):
        Params({}).required_text("text")


def test_json_parameters_parse_or_say_what_could_not_be_parsed() -> None:
    params = Params({"reply_markup": '{"inline_keyboard": []}', "broken": "{"})
    assert params.json("reply_markup", "reply keyboard markup") == {"inline_keyboard": []}
    assert params.json("absent", "x") is None
    with pytest.raises(BotApiError, match="can't parse reply keyboard markup JSON object"):
        params.json("broken", "reply keyboard markup")


def test_bodies_above_the_limit_are_refused() -> None:
    check_body_size(100, 100)
    check_body_size(None, 100)
    with pytest.raises(BotApiError) as caught:
        check_body_size(101, 100)
    assert caught.value.code == 413
