"""TL layers: the keyboard rules, both ways, for every kind of button in every older layer.

Layer 229 inline keyboards are ``replyInlineMarkup{rows: Vector<KeyboardInlineButtonRow>}``
of ``keyboardInlineButton{style, text, type: InlineButtonType}``; layers 158, 198 and 227 use
``replyInlineMarkup{rows: Vector<KeyboardButtonRow>}`` of one constructor per kind
(``keyboardButtonCallback{text, data}``...). Reply keyboards changed the same way inside
``keyboardButtonRow``: 229 ``keyboardButton{style, text, type: ButtonType}``.

The expected old constructors are written out here, independently of ``spec``.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from loopgram.tl import TLDecodeError, abcs, layers
from loopgram.tl import types as t
from loopgram.tl.functions import messages as fm
from loopgram.tl.layers import LayerConversionError
from tests.tl.test_layers_oracle import OLD_LAYERS, Agree, Interp

STYLE = t.KeyboardButtonStyle(bg_danger=True, icon=77)

# kind -> (a canonical instance, {layer: old constructor}, fields expected in the old one)
INLINE: dict[str, tuple[abcs.InlineButtonType, dict[int, str], dict[str, Any]]] = {
    "callback": (
        t.InlineButtonTypeCallback(requires_password=True, data=b"vote:1"),
        dict.fromkeys(OLD_LAYERS, "keyboardButtonCallback"),
        {"requires_password": True, "data": b"vote:1"},
    ),
    "url": (
        t.InlineButtonTypeUrl(url="https://example.org/a"),
        dict.fromkeys(OLD_LAYERS, "keyboardButtonUrl"),
        {"url": "https://example.org/a"},
    ),
    "game": (t.InlineButtonTypeGame(), dict.fromkeys(OLD_LAYERS, "keyboardButtonGame"), {}),
    "buy": (t.InlineButtonTypeBuy(), dict.fromkeys(OLD_LAYERS, "keyboardButtonBuy"), {}),
    "switch-inline": (
        t.InlineButtonTypeSwitchInline(same_peer=True, query="cats"),
        dict.fromkeys(OLD_LAYERS, "keyboardButtonSwitchInline"),
        {"same_peer": True, "query": "cats", "peer_types": None},
    ),
    "url-auth": (
        t.InlineButtonTypeUrlAuth(fwd_text="fwd", url="https://login.example", button_id=3),
        dict.fromkeys(OLD_LAYERS, "keyboardButtonUrlAuth"),
        {"fwd_text": "fwd", "url": "https://login.example", "button_id": 3},
    ),
    "input-url-auth": (
        t.InputInlineButtonTypeUrlAuth(
            request_write_access=True, url="https://l.example", bot=t.InputUserSelf()
        ),
        dict.fromkeys(OLD_LAYERS, "inputKeyboardButtonUrlAuth"),
        {"request_write_access": True, "url": "https://l.example", "bot": {"_": "inputUserSelf"}},
    ),
    "web-view": (
        t.InlineButtonTypeWebView(url="https://app.example"),
        dict.fromkeys(OLD_LAYERS, "keyboardButtonWebView"),
        {"url": "https://app.example"},
    ),
    "user-profile": (
        t.InlineButtonTypeUserProfile(user_id=1234),
        dict.fromkeys(OLD_LAYERS, "keyboardButtonUserProfile"),
        {"user_id": 1234},
    ),
    "input-user-profile": (
        t.InputInlineButtonTypeUserProfile(user_id=t.InputUserSelf()),
        dict.fromkeys(OLD_LAYERS, "inputKeyboardButtonUserProfile"),
        {"user_id": {"_": "inputUserSelf"}},
    ),
    "copy": (
        t.InlineButtonTypeCopy(copy_text="PROMO42"),
        # Layer 158 has no copy button: an inert label (documented, lossy).
        {158: "keyboardButton", 198: "keyboardButtonCopy", 227: "keyboardButtonCopy"},
        {},
    ),
    "disabled": (t.InlineButtonTypeDisabled(), dict.fromkeys(OLD_LAYERS, "keyboardButton"), {}),
}

REPLY: dict[str, tuple[abcs.ButtonType, dict[int, str], dict[str, Any]]] = {
    "default": (t.ButtonTypeDefault(), dict.fromkeys(OLD_LAYERS, "keyboardButton"), {}),
    "phone": (
        t.ButtonTypeRequestPhone(),
        dict.fromkeys(OLD_LAYERS, "keyboardButtonRequestPhone"),
        {},
    ),
    "geo": (
        t.ButtonTypeRequestGeoLocation(),
        dict.fromkeys(OLD_LAYERS, "keyboardButtonRequestGeoLocation"),
        {},
    ),
    "poll": (
        t.ButtonTypeRequestPoll(quiz=True),
        dict.fromkeys(OLD_LAYERS, "keyboardButtonRequestPoll"),
        {"quiz": True},
    ),
    "peer": (
        t.ButtonTypeRequestPeer(
            button_id=9, peer_type=t.RequestPeerTypeUser(bot=False), max_quantity=1
        ),
        dict.fromkeys(OLD_LAYERS, "keyboardButtonRequestPeer"),
        {"button_id": 9},
    ),
    "input-peer": (
        t.InputButtonTypeRequestPeer(
            name_requested=True,
            button_id=9,
            peer_type=t.RequestPeerTypeUser(bot=False),
            max_quantity=1,
        ),
        # Layer 158 has no inputKeyboardButtonRequestPeer: the *_requested flags are lost.
        {
            158: "keyboardButtonRequestPeer",
            198: "inputKeyboardButtonRequestPeer",
            227: "inputKeyboardButtonRequestPeer",
        },
        {"button_id": 9},
    ),
    "simple-web-view": (
        t.ButtonTypeSimpleWebView(url="https://app.example"),
        dict.fromkeys(OLD_LAYERS, "keyboardButtonSimpleWebView"),
        {"url": "https://app.example"},
    ),
}


def inline_markup(*buttons: t.KeyboardInlineButton) -> t.ReplyInlineMarkup:
    return t.ReplyInlineMarkup(rows=[t.KeyboardInlineButtonRow(buttons=list(buttons))])


def old_buttons(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The buttons of an oracle-decoded old replyInlineMarkup/replyKeyboardMarkup."""
    out: list[dict[str, Any]] = []
    for row in d["rows"]:
        assert row["_"] == "keyboardButtonRow"
        out.extend(row["buttons"])
    return out


@pytest.mark.parametrize("layer", OLD_LAYERS)
@pytest.mark.parametrize("kind", sorted(INLINE))
def test_inline_button_229_to_old(kind: str, layer: int) -> None:
    type_, targets, fields = INLINE[kind]
    markup = inline_markup(t.KeyboardInlineButton(style=STYLE, text="Press", type=type_))
    d = Interp(layer).decode(layers.serialize(markup, layer))
    assert d["_"] == "replyInlineMarkup"
    (button,) = old_buttons(d)
    assert button["_"] == targets[layer]
    assert button["text"] == "Press"
    for name, value in fields.items():
        assert button[name] == value, name
    # Button styles exist from layer 227 on.
    if layer >= 227:
        assert button["style"] == {
            "_": "keyboardButtonStyle",
            "bg_primary": False,
            "bg_danger": True,
            "bg_success": False,
            "icon": 77,
        }
    else:
        assert "style" not in button


@pytest.mark.parametrize("layer", OLD_LAYERS)
@pytest.mark.parametrize("kind", sorted(INLINE))
def test_inline_button_old_to_229(kind: str, layer: int) -> None:
    type_, targets, fields = INLINE[kind]
    old_name = targets[layer]
    button: dict[str, Any] = {"_": old_name, "text": "Press", **fields}
    if layer >= 227:
        button["style"] = {"_": "keyboardButtonStyle", "bg_success": True}
    if old_name == "keyboardButtonCopy":
        button["copy_text"] = "PROMO42"
    d = {
        "_": "replyInlineMarkup",
        "rows": [{"_": "keyboardButtonRow", "buttons": [button]}],
    }
    got = layers.read(Interp(layer).encode(d), layer)
    assert isinstance(got, t.ReplyInlineMarkup) and not got.force_reply
    (row,) = got.rows
    assert isinstance(row, t.KeyboardInlineButtonRow)
    (b,) = row.buttons
    assert isinstance(b, t.KeyboardInlineButton)
    assert b.text == "Press"
    assert b.style == (t.KeyboardButtonStyle(bg_success=True) if layer >= 227 else None)
    # The lossy fallback (copy in layer 158) reads back as what a plain label means.
    expected = type_ if old_name != "keyboardButton" else t.InlineButtonTypeDisabled()
    assert b.type == expected
    Agree(layer).read(d, got)


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_3x3_callback_keyboard_round_trips_in_every_layer(layer: int) -> None:
    kinds = ["callback", "url", "game", "switch-inline", "user-profile", "callback"] * 2
    rows: list[abcs.KeyboardInlineButtonRow] = [
        t.KeyboardInlineButtonRow(
            buttons=[
                t.KeyboardInlineButton(
                    style=STYLE if layer >= 227 else None,
                    text=f"{r}{c}",
                    type=INLINE[kinds[r * 3 + c]][0],
                )
                for c in range(3)
            ]
        )
        for r in range(3)
    ]
    msg = t.Message(
        id=1,
        peer_id=t.PeerUser(user_id=5),
        date=7,
        message="pick",
        reply_markup=t.ReplyInlineMarkup(rows=rows),
    )
    raw = layers.serialize(msg, layer)
    assert layers.read(raw, layer) == msg
    Agree(layer).written(msg, Interp(layer).decode(raw), layers.read(raw, layer))


def test_callback_button_bytes_in_layer_158_are_the_documented_layout() -> None:
    """replyInlineMarkup#48a30254 rows:Vector<KeyboardButtonRow>; keyboardButtonRow#77608b83
    buttons:Vector<KeyboardButton>; keyboardButtonCallback#35bbdb6b flags:#
    requires_password:flags.0?true text:string data:bytes."""
    markup = inline_markup(
        t.KeyboardInlineButton(text="Yes", type=t.InlineButtonTypeCallback(data=b"y"))
    )
    expected = (
        struct.pack("<IIIIII", 0x48A30254, 0x1CB5C415, 1, 0x77608B83, 0x1CB5C415, 1)
        + struct.pack("<II", 0x35BBDB6B, 0)
        + b"\x03Yes"
        + b"\x01y\x00\x00"
    )
    assert layers.serialize(markup, 158) == expected
    assert layers.read(expected, 158) == markup


def test_a_layer_158_bot_sending_a_keyboard_is_read_as_229() -> None:
    """What Pyrogram 2.0.106 sends: messages.sendMessage#1cc20387 with a 158 keyboard."""
    old = {
        "_": "messages.sendMessage",
        "peer": {"_": "inputPeerUser", "user_id": 5, "access_hash": 6},
        "message": "Vote",
        "random_id": 99,
        "reply_to_msg_id": 12,
        "reply_markup": {
            "_": "replyInlineMarkup",
            "rows": [
                {
                    "_": "keyboardButtonRow",
                    "buttons": [
                        {"_": "keyboardButtonCallback", "text": "Up", "data": b"up"},
                        {"_": "keyboardButtonUrl", "text": "Site", "url": "https://x.example"},
                    ],
                }
            ],
        },
    }
    raw = Interp(158).encode(old)
    assert raw[:4] == struct.pack("<I", 0x1CC20387)
    got = layers.read(raw, 158)
    assert got == fm.SendMessage(
        peer=t.InputPeerUser(user_id=5, access_hash=6),
        message="Vote",
        random_id=99,
        reply_to=t.InputReplyToMessage(reply_to_msg_id=12),
        reply_markup=inline_markup(
            t.KeyboardInlineButton(text="Up", type=t.InlineButtonTypeCallback(data=b"up")),
            t.KeyboardInlineButton(
                text="Site", type=t.InlineButtonTypeUrl(url="https://x.example")
            ),
        ),
    )


def test_force_reply_has_no_old_form_and_is_dropped() -> None:
    markup = t.ReplyInlineMarkup(force_reply=True, rows=[])
    for layer in OLD_LAYERS:
        assert layers.read(layers.serialize(markup, layer), layer) == t.ReplyInlineMarkup(rows=[])


@pytest.mark.parametrize("layer", OLD_LAYERS)
@pytest.mark.parametrize("kind", sorted(REPLY))
def test_reply_button_229_to_old(kind: str, layer: int) -> None:
    type_, targets, fields = REPLY[kind]
    markup = t.ReplyKeyboardMarkup(
        resize=True,
        rows=[t.KeyboardButtonRow(buttons=[t.KeyboardButton(text="Share", type=type_)])],
    )
    raw = layers.serialize(markup, layer)
    d = Interp(layer).decode(raw)
    assert d["_"] == "replyKeyboardMarkup" and d["resize"] is True
    (button,) = old_buttons(d)
    assert button["_"] == targets[layer]
    assert button["text"] == "Share"
    for name, value in fields.items():
        assert button[name] == value, name
    back = layers.read(raw, layer)
    (row,) = back.rows
    (b,) = row.buttons
    assert isinstance(b, t.KeyboardButton) and b.text == "Share"
    if kind in ("peer", "input-peer") and layer == 158:
        # Layer 158 has no max_quantity (read back as 0) and no inputKeyboardButtonRequestPeer
        # (the *_requested flags are lost): the documented lossy fallback.
        assert b.type == t.ButtonTypeRequestPeer(
            button_id=9, peer_type=t.RequestPeerTypeUser(bot=False), max_quantity=0
        )
    else:
        assert b.type == type_
    Agree(layer).written(markup, d, back)


@pytest.mark.parametrize("layer", OLD_LAYERS)
@pytest.mark.parametrize("kind", sorted(REPLY))
def test_reply_button_old_to_229(kind: str, layer: int) -> None:
    type_, targets, fields = REPLY[kind]
    old_name = targets[layer]
    button: dict[str, Any] = {"_": old_name, "text": "Share", **fields}
    if old_name.endswith("RequestPeer"):
        button["peer_type"] = {"_": "requestPeerTypeUser"}
        button["max_quantity"] = 1
    d = {
        "_": "replyKeyboardMarkup",
        "rows": [{"_": "keyboardButtonRow", "buttons": [button]}],
    }
    got = layers.read(Interp(layer).encode(d), layer)
    (b,) = got.rows[0].buttons
    assert isinstance(b, t.KeyboardButton) and b.text == "Share"
    expected_kind = {"keyboardButtonRequestPeer": "buttonTypeRequestPeer"}.get(
        old_name, type_.TL_NAME
    )
    assert b.type.TL_NAME == expected_kind
    Agree(layer).read(d, got)


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_buttons_in_the_wrong_keyboard_are_decode_errors(layer: int) -> None:
    callback_in_reply = {
        "_": "replyKeyboardMarkup",
        "rows": [
            {
                "_": "keyboardButtonRow",
                "buttons": [{"_": "keyboardButtonCallback", "text": "x", "data": b""}],
            }
        ],
    }
    with pytest.raises(TLDecodeError, match="not a reply-keyboard button"):
        layers.read(Interp(layer).encode(callback_in_reply), layer)
    phone_in_inline = {
        "_": "replyInlineMarkup",
        "rows": [
            {
                "_": "keyboardButtonRow",
                "buttons": [{"_": "keyboardButtonRequestPhone", "text": "x"}],
            }
        ],
    }
    with pytest.raises(TLDecodeError, match="not an inline-keyboard button"):
        layers.read(Interp(layer).encode(phone_in_inline), layer)


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_keyboard_parts_alone_have_no_old_form(layer: int) -> None:
    button = t.KeyboardInlineButton(text="x", type=t.InlineButtonTypeGame())
    for part in (button, t.KeyboardInlineButtonRow(buttons=[button]), t.InlineButtonTypeGame()):
        with pytest.raises(LayerConversionError, match="only inside a keyboard"):
            layers.serialize(part, layer)
    # ...and a non-kind object where a kind belongs is a clear error too.
    bad = inline_markup(t.KeyboardInlineButton(text="x", type=t.ButtonTypeDefault()))  # type: ignore[arg-type]
    with pytest.raises(LayerConversionError, match="buttonTypeDefault"):
        layers.serialize(bad, layer)
