"""TL objects as Bot API objects and back: what the frameworks' models accept."""

from __future__ import annotations

import pytest

from loopgram.botapi.errors import BotApiError
from loopgram.botapi.objects import (
    callback_query_to_api,
    detect_entities,
    entities_from_api,
    markup_from_api,
    markup_to_api,
    message_to_api,
    user_to_api,
)
from loopgram.tl import types

USER = types.User(id=42, first_name="Ann", last_name="Lee", username="ann", access_hash=1)
BOT = types.User(id=7, first_name="Shop", username="shopbot", bot=True, access_hash=2)
USERS = {42: user_to_api(USER), 7: user_to_api(BOT)}


def test_users_render_with_is_bot_and_optional_names() -> None:
    assert USERS[42] == {
        "id": 42,
        "is_bot": False,
        "first_name": "Ann",
        "last_name": "Lee",
        "username": "ann",
    }
    assert USERS[7] == {"id": 7, "is_bot": True, "first_name": "Shop", "username": "shopbot"}


@pytest.mark.parametrize(
    ("text", "length"),
    [("/start", 6), ("/start payload", 6), ("/start@shopbot", 14), ("/help\nmore", 5)],
)
def test_a_command_at_the_start_gets_a_bot_command_entity(text: str, length: int) -> None:
    assert detect_entities(text) == [types.MessageEntityBotCommand(offset=0, length=length)]


@pytest.mark.parametrize("text", ["start", " /start", "/", "/start!", "hello /start"])
def test_no_command_no_entity(text: str) -> None:
    assert detect_entities(text) == []


def _message(**kwargs: object) -> types.Message:
    fields: dict[str, object] = {
        "id": 5,
        "from_id": types.PeerUser(user_id=42),
        "peer_id": types.PeerUser(user_id=42),
        "date": 1_700_000_000,
        "message": "/start",
    }
    fields.update(kwargs)
    return types.Message(**fields)  # type: ignore[arg-type]


def test_an_incoming_message_renders_with_private_chat_and_detected_command() -> None:
    assert message_to_api(_message(), USERS) == {
        "message_id": 5,
        "from": USERS[42],
        "chat": {
            "id": 42,
            "type": "private",
            "first_name": "Ann",
            "last_name": "Lee",
            "username": "ann",
        },
        "date": 1_700_000_000,
        "text": "/start",
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
    }


def test_the_bots_own_message_keeps_its_keyboard_and_entities() -> None:
    markup = types.ReplyInlineMarkup(
        rows=[
            types.KeyboardInlineButtonRow(
                buttons=[
                    types.KeyboardInlineButton(
                        text="Buy", type=types.InlineButtonTypeCallback(data=b"buy")
                    ),
                    types.KeyboardInlineButton(
                        text="Site", type=types.InlineButtonTypeUrl(url="https://e.x")
                    ),
                ]
            )
        ]
    )
    message = _message(
        out=True,
        from_id=types.PeerUser(user_id=7),
        message="pick one",
        reply_markup=markup,
        entities=[types.MessageEntityBold(offset=0, length=4)],
        edit_date=1_700_000_100,
    )
    rendered = message_to_api(message, USERS)
    assert rendered["from"] == USERS[7]
    assert rendered["chat"]["id"] == 42
    assert rendered["edit_date"] == 1_700_000_100
    assert rendered["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    assert rendered["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Buy", "callback_data": "buy"}, {"text": "Site", "url": "https://e.x"}]
        ]
    }


def test_callback_query_ids_and_chat_instance_are_decimal_strings() -> None:
    update = types.UpdateBotCallbackQuery(
        query_id=-5,
        user_id=42,
        peer=types.PeerUser(user_id=42),
        msg_id=5,
        chat_instance=-9_000_000_000_000,
        data=b"buy",
    )
    rendered = callback_query_to_api(update, USERS, {"message_id": 5})
    assert rendered == {
        "id": "-5",
        "from": USERS[42],
        "message": {"message_id": 5},
        "chat_instance": "-9000000000000",
        "data": "buy",
    }


def test_inline_keyboards_from_the_bot_become_tl_and_back() -> None:
    value = {
        "inline_keyboard": [
            [
                {"text": "Buy", "callback_data": "buy"},
                {"text": "Open", "url": "https://t.me/shopbot?start=x"},
                {"text": "Here", "switch_inline_query_current_chat": "q"},
            ]
        ]
    }
    markup = markup_from_api(value)
    assert markup_to_api(markup) == value


@pytest.mark.parametrize(
    "value",
    [
        [],
        {"inline_keyboard": {}},
        {"inline_keyboard": [{}]},
        {"inline_keyboard": [[{"text": 1, "callback_data": "x"}]]},
        {"inline_keyboard": [[{"text": "a"}]]},
        {"inline_keyboard": [[{"text": "a", "callback_data": 5}]]},
    ],
)
def test_malformed_keyboards_are_bad_requests(value: object) -> None:
    with pytest.raises(BotApiError) as caught:
        markup_from_api(value)
    assert caught.value.code == 400
    assert caught.value.description.startswith("Bad Request: ")


def test_entities_from_the_bot_become_tl() -> None:
    parsed = entities_from_api(
        [
            {"type": "bold", "offset": 0, "length": 2},
            {"type": "text_link", "offset": 3, "length": 1, "url": "https://e.x"},
            {"type": "pre", "offset": 4, "length": 1, "language": "py"},
        ]
    )
    assert parsed == [
        types.MessageEntityBold(offset=0, length=2),
        types.MessageEntityTextUrl(offset=3, length=1, url="https://e.x"),
        types.MessageEntityPre(offset=4, length=1, language="py"),
    ]


@pytest.mark.parametrize(
    "value",
    [
        {},
        [1],
        [{"type": "bold", "offset": "0", "length": 1}],
        [{"type": "nope", "offset": 0, "length": 1}],
    ],
)
def test_malformed_entities_are_bad_requests(value: object) -> None:
    with pytest.raises(BotApiError):
        entities_from_api(value)
