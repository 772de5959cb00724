"""TL layers: the explicit rules other than keyboards, defaults, and what cannot be converted.

Each rule of ``loopgram.tl.layers.spec`` both ways: values whose type changed under the same
name, 229 fields spread over old fields of other names, renamed and split constructors; the
defaults for required fields; and the errors for what has no counterpart.
"""

from __future__ import annotations

from typing import Any

import pytest

from loopgram.tl import TLDecodeError, abcs, layers
from loopgram.tl import types as t
from loopgram.tl.functions import messages as fm
from loopgram.tl.layers import LayerConversionError
from tests.tl.test_layers_oracle import OLD_LAYERS, Interp


def old_form(obj: Any, layer: int) -> dict[str, Any]:
    d: dict[str, Any] = Interp(layer).decode(layers.serialize(obj, layer))
    return d


def via_old(d: dict[str, Any], layer: int) -> Any:
    return layers.read(Interp(layer).encode(d), layer)


def test_user_stories_max_id_is_an_int_in_layer_198() -> None:
    user = t.User(id=1, stories_max_id=t.RecentStory(max_id=7))
    assert old_form(user, 198)["stories_max_id"] == 7
    assert layers.read(layers.serialize(user, 198), 198) == user
    # Layer 158 has no stories at all; 227 has recentStory.
    assert "stories_max_id" not in old_form(user, 158)
    assert layers.read(layers.serialize(user, 158), 158).stories_max_id is None
    assert old_form(user, 227)["stories_max_id"] == {"_": "recentStory", "live": False, "max_id": 7}


def test_reply_to_is_reply_to_msg_id_and_top_msg_id_in_layer_158() -> None:
    req = fm.SendMessage(
        peer=t.InputPeerSelf(),
        message="hi",
        random_id=1,
        reply_to=t.InputReplyToMessage(reply_to_msg_id=10, top_msg_id=3),
    )
    d = old_form(req, 158)
    assert d["_"] == "messages.sendMessage"
    assert (d["reply_to_msg_id"], d["top_msg_id"]) == (10, 3)
    assert layers.read(layers.serialize(req, 158), 158) == req
    # A reply to a story has no layer-158 form: dropped.
    story = fm.SendMessage(
        peer=t.InputPeerSelf(),
        message="hi",
        random_id=1,
        reply_to=t.InputReplyToStory(peer=t.InputPeerSelf(), story_id=4),
    )
    d = old_form(story, 158)
    assert d["reply_to_msg_id"] is None and d["top_msg_id"] is None
    # A thread without a reply (top_msg_id only) has no 229 form either.
    old = {"_": "messages.sendMessage", "peer": {"_": "inputPeerSelf"}, "message": "m"}
    got = via_old({**old, "random_id": 2, "top_msg_id": 5}, 158)
    assert got.reply_to is None
    got = via_old({**old, "random_id": 2, "reply_to_msg_id": 6}, 158)
    assert got.reply_to == t.InputReplyToMessage(reply_to_msg_id=6)
    # messages.sendScreenshotNotification: a required reply_to.
    shot = fm.SendScreenshotNotification(
        peer=t.InputPeerSelf(), reply_to=t.InputReplyToMessage(reply_to_msg_id=8), random_id=1
    )
    assert old_form(shot, 158)["reply_to_msg_id"] == 8
    assert layers.read(layers.serialize(shot, 158), 158) == shot


@pytest.mark.parametrize("layer", [158, 198])
def test_user_full_theme_is_theme_emoticon_before_layer_227(layer: int) -> None:
    full = t.UserFull(
        id=1,
        settings=t.PeerSettings(),
        notify_settings=t.PeerNotifySettings(),
        common_chats_count=0,
        theme=t.ChatTheme(emoticon="🌸"),
    )
    assert old_form(full, layer)["theme_emoticon"] == "🌸"
    assert layers.read(layers.serialize(full, layer), layer) == full


def test_emoji_status_until_is_its_own_constructor_in_layer_158() -> None:
    timed = t.EmojiStatus(document_id=5, until=1_700_000_000)
    assert old_form(timed, 158) == {
        "_": "emojiStatusUntil",
        "document_id": 5,
        "until": 1_700_000_000,
    }
    assert layers.read(layers.serialize(timed, 158), 158) == timed
    plain = t.EmojiStatus(document_id=5)
    assert old_form(plain, 158) == {"_": "emojiStatus", "document_id": 5}
    assert layers.read(layers.serialize(plain, 158), 158) == plain
    for layer in (198, 227):
        assert old_form(timed, layer)["_"] == "emojiStatus"


def test_poll_texts_are_plain_strings_in_layer_158() -> None:
    bold: list[abcs.MessageEntity] = [t.MessageEntityBold(offset=0, length=3)]
    poll = t.Poll(
        id=1,
        question=t.TextWithEntities(text="Tea?", entities=bold),
        answers=[t.PollAnswer(text=t.TextWithEntities(text="Yes", entities=[]), option=b"y")],
        hash=0,
    )
    d = old_form(poll, 158)
    assert d["question"] == "Tea?"
    assert d["answers"] == [{"_": "pollAnswer", "text": "Yes", "option": b"y"}]
    back = layers.read(layers.serialize(poll, 158), 158)
    # Entities have no layer-158 form.
    assert back.question == t.TextWithEntities(text="Tea?", entities=[])
    assert back.answers == poll.answers


def test_update_peer_blocked_bool_and_true_flag() -> None:
    upd = t.UpdatePeerBlocked(blocked=True, peer_id=t.PeerUser(user_id=3))
    assert old_form(upd, 158) == {
        "_": "updatePeerBlocked",
        "peer_id": {"_": "peerUser", "user_id": 3},
        "blocked": True,
    }
    assert layers.read(layers.serialize(upd, 158), 158) == upd
    off = via_old(
        {"_": "updatePeerBlocked", "peer_id": {"_": "peerUser", "user_id": 3}, "blocked": False},
        158,
    )
    assert off == t.UpdatePeerBlocked(peer_id=t.PeerUser(user_id=3))


def test_video_duration_is_a_whole_int_in_layer_158() -> None:
    video = t.DocumentAttributeVideo(duration=12.7, w=640, h=480)
    assert old_form(video, 158)["duration"] == 12
    assert layers.read(layers.serialize(video, 158), 158).duration == 12.0
    huge = t.DocumentAttributeVideo(duration=1e300, w=1, h=1)
    assert old_form(huge, 158)["duration"] == 2**31 - 1


def test_required_old_fields_get_documented_defaults() -> None:
    # inputKeyboardButtonUrlAuth.bot:InputUser is required in old layers, optional in 229:
    # the type's *Empty constructor.
    button = t.KeyboardInlineButton(
        text="Log in", type=t.InputInlineButtonTypeUrlAuth(url="https://x.example")
    )
    markup = t.ReplyInlineMarkup(rows=[t.KeyboardInlineButtonRow(buttons=[button])])
    for layer in OLD_LAYERS:
        old_button = old_form(markup, layer)["rows"][0]["buttons"][0]
        assert old_button["bot"] == {"_": "inputUserEmpty"}
    # help.promoData.peer:Peer (158 required): Peer has no *Empty; spec picks peerUser.
    promo = t.help.PromoData(
        expires=1, pending_suggestions=[], dismissed_suggestions=[], chats=[], users=[]
    )
    assert old_form(promo, 158)["peer"] == {"_": "peerUser", "user_id": 0}
    # Old required fields missing from 229: zero values (messageActionGiftPremium.months).
    gift = t.MessageActionGiftPremium(currency="EUR", amount=100, days=30)
    assert old_form(gift, 158)["months"] == 0


def test_fields_229_requires_but_old_layers_lack_read_as_defaults() -> None:
    got = via_old({"_": "messages.messages", "messages": [], "chats": [], "users": []}, 158)
    assert got == t.messages.Messages(messages=[], topics=[], chats=[], users=[])


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_true_flags_a_layer_does_not_know_are_not_sent(layer: int) -> None:
    # Same constructor id in every layer; bit 28 is manage_linked_peers only in 229.
    rights = t.ChatBannedRights(send_messages=True, manage_linked_peers=True, until_date=0)
    raw = layers.serialize(rights, layer)
    flags = int.from_bytes(raw[4:8], "little")
    assert flags == 2
    assert layers.read(raw, layer) == t.ChatBannedRights(send_messages=True, until_date=0)


def test_objects_an_old_layer_cannot_express_raise() -> None:
    todo = t.MessageMediaToDo(
        todo=t.TodoList(title=t.TextWithEntities(text="x", entities=[]), list=[])
    )
    with pytest.raises(
        LayerConversionError, match="messageMediaToDo has no equivalent in layer 158"
    ) as e:
        layers.serialize(todo, 158)
    assert (e.value.name, e.value.layer) == ("messageMediaToDo", 158)
    # Nested, too: the message cannot be written, the server must not send it.
    msg = t.Message(id=1, peer_id=t.PeerUser(user_id=1), date=1, message="", media=todo)
    with pytest.raises(LayerConversionError, match="messageMediaToDo"):
        layers.serialize(msg, 158)


def test_old_constructors_without_counterpart_are_decode_errors() -> None:
    old = {"_": "updateChannelPinnedTopic", "channel_id": 1, "topic_id": 2, "pinned": True}
    with pytest.raises(
        TLDecodeError, match="updateChannelPinnedTopic of layer 158 has no layer-229"
    ):
        via_old(old, 158)
    req = {"_": "channels.getForumTopicsByID", "channel": {"_": "inputChannelEmpty"}, "topics": []}
    with pytest.raises(TLDecodeError, match=r"channels\.getForumTopicsByID"):
        via_old(req, 158)


def test_renamed_old_constructors_are_read_as_their_229_form() -> None:
    got = via_old({"_": "simpleWebViewResultUrl", "url": "https://app.example"}, 158)
    assert got == t.WebViewResultUrl(url="https://app.example")
