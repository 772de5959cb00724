"""TL layers: the explicit rules other than keyboards, defaults, and what cannot be converted.

Each rule of ``loopgram.tl.layers.spec`` both ways: values whose type changed under the same
name, 229 fields spread over old fields of other names, renamed and split constructors; the
defaults for required fields; and the errors for what has no counterpart.
"""

from __future__ import annotations

from typing import Any

import pytest

from loopgram.tl import TLDecodeError, abcs, layergen, layers
from loopgram.tl import types as t
from loopgram.tl.codegen import load_schemas
from loopgram.tl.functions import account as fa
from loopgram.tl.functions import messages as fm
from loopgram.tl.layers import LayerConversionError, rules
from loopgram.tl.parser import Arg, TypeRef
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
    # Nested where nothing sound stands in for it, too: updateShort needs an update.
    story = t.UpdateStoryID(id=1, random_id=2)
    with pytest.raises(LayerConversionError, match="updateStoryID has no equivalent"):
        layers.serialize(t.UpdateShort(update=story, date=1), 158)
    # (Degraded where something sound exists: test_layers_degrade.)


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


# --- VALUE_CONVERSIONS, one test per rule ------------------------------------------------------


def test_peer_color_is_the_palette_index_in_layer_198() -> None:
    req = fa.UpdateColor(color=t.PeerColor(color=5), for_profile=True)
    d = old_form(req, 198)
    assert d["_"] == "account.updateColor"
    assert (d["color"], d["for_profile"]) == (5, True)
    assert layers.read(layers.serialize(req, 198), 198) == req
    got = via_old({"_": "account.updateColor", "for_profile": False, "color": 7}, 198)
    assert got == fa.UpdateColor(color=t.PeerColor(color=7))
    # A collectible colour has no palette index: absent, as is an unset colour.
    collectible = fa.UpdateColor(color=t.InputPeerColorCollectible(collectible_id=1))
    assert old_form(collectible, 198)["color"] is None
    assert via_old({"_": "account.updateColor", "for_profile": False}, 198).color is None


def test_poll_recent_voters_are_user_ids_in_layer_158() -> None:
    voters: list[abcs.Peer] = [t.PeerUser(user_id=4), t.PeerChannel(channel_id=9)]
    results = t.PollResults(recent_voters=voters)
    # Only users had ids in the old list.
    assert old_form(results, 158)["recent_voters"] == [4]
    assert layers.read(layers.serialize(results, 158), 158).recent_voters == [t.PeerUser(user_id=4)]
    got = via_old({"_": "pollResults", "min": False, "recent_voters": [1, 2]}, 158)
    assert got.recent_voters == [t.PeerUser(user_id=1), t.PeerUser(user_id=2)]
    assert old_form(t.PollResults(), 158)["recent_voters"] is None


@pytest.mark.parametrize(
    ("privacy", "anonymous"),
    [
        (t.PaidReactionPrivacyAnonymous(), True),
        (t.PaidReactionPrivacyDefault(), False),
        (t.PaidReactionPrivacyPeer(peer=t.InputPeerSelf()), False),
    ],
)
def test_paid_reaction_privacy_is_a_bool_in_layer_198(
    privacy: abcs.PaidReactionPrivacy, anonymous: bool
) -> None:
    update = t.UpdatePaidReactionPrivacy(private=privacy)
    assert old_form(update, 198) == {"_": "updatePaidReactionPrivacy", "private": anonymous}
    req = fm.TogglePaidReactionPrivacy(peer=t.InputPeerSelf(), msg_id=3, private=privacy)
    assert old_form(req, 198)["private"] is anonymous


@pytest.mark.parametrize(
    ("private", "privacy"),
    [(True, t.PaidReactionPrivacyAnonymous()), (False, t.PaidReactionPrivacyDefault())],
)
def test_paid_reaction_privacy_reads_from_a_bool_in_layer_198(
    private: bool, privacy: abcs.PaidReactionPrivacy
) -> None:
    got = via_old({"_": "updatePaidReactionPrivacy", "private": private}, 198)
    assert got == t.UpdatePaidReactionPrivacy(private=privacy)
    old = {"_": "messages.togglePaidReactionPrivacy", "peer": {"_": "inputPeerSelf"}}
    got = via_old({**old, "msg_id": 3, "private": private}, 198)
    assert got.private == privacy


def test_extended_media_is_one_item_in_layer_158() -> None:
    first = t.MessageExtendedMediaPreview(w=1, h=2)
    second = t.MessageExtendedMedia(media=t.MessageMediaEmpty())
    update = t.UpdateMessageExtendedMedia(
        peer=t.PeerUser(user_id=1), msg_id=2, extended_media=[first, second]
    )
    # The first item is what the old layer shows.
    assert old_form(update, 158)["extended_media"] == {
        "_": "messageExtendedMediaPreview",
        "w": 1,
        "h": 2,
        "thumb": None,
        "video_duration": None,
    }
    assert layers.read(layers.serialize(update, 158), 158).extended_media == [first]
    got = via_old(
        {
            "_": "updateMessageExtendedMedia",
            "peer": {"_": "peerUser", "user_id": 1},
            "msg_id": 2,
            "extended_media": {"_": "messageExtendedMedia", "media": {"_": "messageMediaEmpty"}},
        },
        158,
    )
    assert got.extended_media == [second]


def test_to_long_truncates_and_clamps_to_a_tl_long() -> None:
    assert rules.to_long(12.7) == 12
    assert rules.to_long(-12.7) == -12
    assert rules.to_long(1e300) == 2**63 - 1
    assert rules.to_long(-1e300) == -(2**63)
    assert rules.to_long(float("nan")) == 0
    assert rules.to_int(1e300) == 2**31 - 1


def test_long_fields_from_numbers_of_other_types_go_through_to_long() -> None:
    # No shipped layer has a long against an int or double (only video durations are
    # int/double), so the generator is shown the shapes directly.
    gen = layergen.LayerGenerator(load_schemas()[0], layergen.load_old_schema(158), 158)
    as_long = Arg("n", TypeRef("long"))
    as_double = Arg("n", TypeRef("double"))
    src = gen._convert_w(as_long, as_double, "x.n", [])
    assert src is not None and src.value() == "_ru.to_long(x.n)"
    assert gen._convert_r(as_long, as_double) == "_ru.to_long(_v_n)"


def test_app_web_view_result_url_is_read_as_web_view_result_url() -> None:
    # Layer 158 answered messages.requestAppWebView with an AppWebViewResult of its own.
    raw = Interp(158).encode({"_": "appWebViewResultUrl", "url": "https://app.example"})
    assert layers.read(raw, 158) == t.WebViewResultUrl(url="https://app.example")
    request = fm.RequestAppWebView(
        peer=t.InputPeerSelf(),
        app=t.InputBotAppShortName(bot_id=t.InputUserSelf(), short_name="app"),
        platform="android",
    )
    assert layers.read_result(request, raw, 158) == t.WebViewResultUrl(url="https://app.example")


# --- restructured requests and attributes ------------------------------------------------------


@pytest.mark.parametrize("layer", [158, 198])
def test_set_chat_theme_is_an_emoticon_before_layer_227(layer: int) -> None:
    peer = t.InputPeerSelf()
    themed = fm.SetChatTheme(peer=peer, theme=t.InputChatTheme(emoticon="🌸"))
    d = old_form(themed, layer)
    assert (d["_"], d["emoticon"]) == ("messages.setChatTheme", "🌸")
    assert layers.read(layers.serialize(themed, layer), layer) == themed
    # No theme was the empty emoticon.
    plain = fm.SetChatTheme(peer=peer, theme=t.InputChatThemeEmpty())
    assert old_form(plain, layer)["emoticon"] == ""
    assert layers.read(layers.serialize(plain, layer), layer) == plain
    old = {"_": "messages.setChatTheme", "peer": {"_": "inputPeerSelf"}}
    assert via_old({**old, "emoticon": "🎄"}, layer).theme == t.InputChatTheme(emoticon="🎄")
    assert via_old({**old, "emoticon": ""}, layer).theme == t.InputChatThemeEmpty()
    # A gift theme has no emoticon; "" would reset the theme instead.
    gift = fm.SetChatTheme(peer=peer, theme=t.InputChatThemeUniqueGift(slug="gift-1"))
    with pytest.raises(
        LayerConversionError, match="inputChatThemeUniqueGift cannot be written as emoticon"
    ) as e:
        layers.serialize(gift, layer)
    assert (e.value.name, e.value.layer) == ("inputChatThemeUniqueGift", layer)


def test_set_chat_theme_keeps_the_input_theme_in_layer_227() -> None:
    gift = fm.SetChatTheme(peer=t.InputPeerSelf(), theme=t.InputChatThemeUniqueGift(slug="g"))
    assert layers.serialize(gift, 227) == bytes(gift)


def _attributes(rarity: abcs.StarGiftAttributeRarity) -> list[abcs.StarGiftAttribute]:
    doc = t.DocumentEmpty(id=1)
    return [
        t.StarGiftAttributeModel(name="m", document=doc, rarity=rarity),
        t.StarGiftAttributePattern(name="p", document=doc, rarity=rarity),
        t.StarGiftAttributeBackdrop(
            name="b",
            backdrop_id=1,
            center_color=2,
            edge_color=3,
            pattern_color=4,
            text_color=5,
            rarity=rarity,
        ),
    ]


def test_star_gift_attribute_rarity_is_a_permille_in_layer_198() -> None:
    exact = t.StarGiftAttributeRarity(permille=15)
    for attribute in _attributes(exact):
        assert old_form(attribute, 198)["rarity_permille"] == 15
        assert layers.read(layers.serialize(attribute, 198), 198).rarity == exact
    doc = {"_": "documentEmpty", "id": 1}
    model = {"_": "starGiftAttributeModel", "name": "m", "document": doc, "rarity_permille": 42}
    assert via_old(model, 198).rarity == t.StarGiftAttributeRarity(permille=42)


@pytest.mark.parametrize(
    "tier",
    [
        t.StarGiftAttributeRarityUncommon(),
        t.StarGiftAttributeRarityRare(),
        t.StarGiftAttributeRarityEpic(),
        t.StarGiftAttributeRarityLegendary(),
    ],
)
def test_a_rarity_tier_is_the_smallest_permille_in_layer_198(
    tier: abcs.StarGiftAttributeRarity,
) -> None:
    # The tiers are rarer than any exact permille: the old type can only say "under 1".
    for attribute in _attributes(tier):
        assert old_form(attribute, 198)["rarity_permille"] == rules.TIER_PERMILLE == 0
        back = layers.read(layers.serialize(attribute, 198), 198)
        assert back.rarity == t.StarGiftAttributeRarity(permille=0)
