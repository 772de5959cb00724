"""TL layers 158, 198, 227 against 229: the explicit conversion rules, as data.

Everything else about converting between an older layer and the layer-229 object model is
derived from the schemas by ``loopgram.tl.layergen`` (same constructor name, fields matched
by name, defaults for what is missing). This module lists only what the schemas cannot say:
types that were restructured, and values whose type changed under the same field name. The
functions named here live in ``loopgram.tl.layers.rules``.

Standard library only: the generator imports it at install time, before the generated
modules (and so ``rules``) can be imported.
"""

from __future__ import annotations

from typing import NamedTuple

NEWEST = 229
"""The layer of the one object model (the generated classes in ``loopgram.tl.types``)."""

OLD_SCHEMAS: dict[int, str] = {
    158: "layer158/api.tl",
    198: "layer198/api.tl",
    227: "layer227/api.tl",
}
"""Shipped older API schemas, relative to ``loopgram/tl/schema``."""

SUPPORTED: tuple[int, ...] = (*sorted(OLD_SCHEMAS), NEWEST)

# --- keyboards -------------------------------------------------------------------------------
#
# Layer 229 split buttons into a container and a kind: inline keyboards are
# ``replyInlineMarkup{rows: Vector<KeyboardInlineButtonRow>}`` of
# ``keyboardInlineButton{style, text, type: InlineButtonType}``, reply keyboards keep
# ``keyboardButtonRow`` but hold ``keyboardButton{style, text, type: ButtonType}``. Older layers
# have one ``KeyboardButton`` constructor per kind (``keyboardButtonCallback{text, data}``...)
# and use ``keyboardButtonRow`` for both keyboards.
#
# Each entry maps a layer-229 button kind to the older constructors that can carry it, best
# first: a layer uses the first one its schema has. The old constructor's fields are taken by
# name from the container (``style``, ``text``) and the kind (``data``, ``url``...). Reading
# back, each old constructor maps to the kind whose list it heads; the fallbacks after the
# first are lossy and documented here:
#
# - ``inlineButtonTypeCopy`` in layer 158 (no ``keyboardButtonCopy``) and
#   ``inlineButtonTypeDisabled`` everywhere become a plain ``keyboardButton``: a label that
#   does nothing when pressed, which every layer can parse. A plain ``keyboardButton`` read in
#   an inline keyboard is therefore ``inlineButtonTypeDisabled``.
# - ``inputButtonTypeRequestPeer`` in layer 158 (no ``inputKeyboardButtonRequestPeer``) loses
#   its ``*_requested`` flags.

INLINE_BUTTONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("inlineButtonTypeUrl", ("keyboardButtonUrl",)),
    ("inlineButtonTypeUrlAuth", ("keyboardButtonUrlAuth",)),
    ("inputInlineButtonTypeUrlAuth", ("inputKeyboardButtonUrlAuth",)),
    ("inlineButtonTypeWebView", ("keyboardButtonWebView",)),
    ("inlineButtonTypeCallback", ("keyboardButtonCallback",)),
    ("inlineButtonTypeGame", ("keyboardButtonGame",)),
    ("inlineButtonTypeBuy", ("keyboardButtonBuy",)),
    ("inlineButtonTypeSwitchInline", ("keyboardButtonSwitchInline",)),
    ("inlineButtonTypeUserProfile", ("keyboardButtonUserProfile",)),
    ("inputInlineButtonTypeUserProfile", ("inputKeyboardButtonUserProfile",)),
    ("inlineButtonTypeCopy", ("keyboardButtonCopy", "keyboardButton")),
    ("inlineButtonTypeDisabled", ("keyboardButton",)),
)

REPLY_BUTTONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("buttonTypeDefault", ("keyboardButton",)),
    ("buttonTypeRequestPhone", ("keyboardButtonRequestPhone",)),
    ("buttonTypeRequestGeoLocation", ("keyboardButtonRequestGeoLocation",)),
    ("buttonTypeRequestPoll", ("keyboardButtonRequestPoll",)),
    ("buttonTypeRequestPeer", ("keyboardButtonRequestPeer",)),
    ("inputButtonTypeRequestPeer", ("inputKeyboardButtonRequestPeer", "keyboardButtonRequestPeer")),
    ("buttonTypeSimpleWebView", ("keyboardButtonSimpleWebView",)),
)

INLINE_MARKUP = "replyInlineMarkup"
INLINE_ROW = "keyboardInlineButtonRow"
INLINE_BUTTON = "keyboardInlineButton"
INLINE_KIND_TYPE = "InlineButtonType"
REPLY_BUTTON = "keyboardButton"
REPLY_KIND_TYPE = "ButtonType"
OLD_ROW = "keyboardButtonRow"

# --- constructors renamed or split -----------------------------------------------------------

RENAMED: dict[str, str] = {
    # Layer 158 had a separate constructor for an emoji status with an expiry date.
    "emojiStatusUntil": "emojiStatus",
    # Layer 158 answered the simple and the app web views with constructors of their own.
    "simpleWebViewResultUrl": "webViewResultUrl",
    "appWebViewResultUrl": "webViewResultUrl",
}
"""Constructors that exist only in an older layer -> the layer-229 constructor they became.

Reading, the old constructor's fields are matched by name into the new one. Old-only
constructors not listed here (and not keyboard buttons) cannot be read: ``TLDecodeError``.
"""

SPLITS: dict[str, tuple[tuple[str, str], ...]] = {
    "emojiStatus": (("until", "emojiStatusUntil"),),
}
"""Writing: a layer-229 constructor -> (field, old constructor): when the field is set and the
layer has that old constructor, the object is written as it (layer 158's
``emojiStatusUntil``); otherwise as the old constructor of the same name."""

DEFAULT_CONSTRUCTORS: dict[str, str] = {
    "Peer": "peerUser",
}
"""The default value of a required boxed field whose value is missing, where the generic
choice would be arbitrary. Otherwise the type's ``*Empty`` constructor if it has one, else
the constructor needing the fewest nested objects (then the first by name)."""

# --- values whose type changed under the same field name -------------------------------------

VALUE_CONVERSIONS: dict[tuple[str, str], tuple[str, str]] = {
    # (type in the old layer, type in layer 229): (rules function 229 -> old, old -> 229).
    # Both functions take and return ``None`` for an absent value; a 229 value the old
    # type cannot express also becomes ``None`` (then absent, or the default if required).
    ("string", "TextWithEntities"): ("text_of", "text_with_entities"),
    ("int", "RecentStory"): ("recent_story_max_id", "recent_story"),
    ("int", "PeerColor"): ("peer_color_int", "peer_color"),
    ("Vector<long>", "Vector<Peer>"): ("peer_user_ids", "user_peers"),
    ("Bool", "PaidReactionPrivacy"): ("privacy_is_anonymous", "reaction_privacy"),
    ("MessageExtendedMedia", "Vector<MessageExtendedMedia>"): ("first_media", "media_list"),
}
"""Also converted without a rule: ``Bool`` <-> ``true`` flags (both are ``bool``) and
``int`` <-> ``double``. Other same-name fields whose type changed are treated as absent in
the other layer (e.g. poll ``correct_answers``: ``Vector<bytes>`` options against
``Vector<int>`` indices cannot be converted without the poll)."""


class Derived(NamedTuple):
    """A layer-229 field that older layers spread over fields of other names.

    ``old`` lists (old field name, rules function 229 value -> old value); ``build`` is the
    rules function that makes the 229 value from the old values (in ``old`` order; ``None``
    for each absent one). Applies wherever the 229 constructor has ``new`` of ``new_type``,
    the old one lacks it, and has at least one of the old fields (which 229 lacks).
    """

    new: str
    new_type: str
    old: tuple[tuple[str, str], ...]
    build: str
    refuses: tuple[str, ...] = ()
    """229 constructors of ``new_type`` the old fields cannot express: writing one raises
    ``LayerConversionError`` instead of sending a default that would mean something else."""


DERIVED: tuple[Derived, ...] = (
    # Layer 158 requests (sendMessage, sendMedia, saveDraft, ...) and draftMessage said
    # reply_to_msg_id/top_msg_id where 229 says reply_to:InputReplyTo.
    Derived(
        "reply_to",
        "InputReplyTo",
        (("reply_to_msg_id", "reply_to_msg_id"), ("top_msg_id", "reply_top_msg_id")),
        "input_reply_to",
    ),
    # userFull.theme_emoticon (158, 198) became theme:ChatTheme.
    Derived("theme", "ChatTheme", (("theme_emoticon", "theme_emoticon"),), "chat_theme"),
    # messages.setChatTheme.emoticon (158, 198) became theme:InputChatTheme. An empty
    # emoticon always meant "no theme" (inputChatThemeEmpty); a gift theme has no old form,
    # and sending "" instead would reset the chat's theme.
    Derived(
        "theme",
        "InputChatTheme",
        (("emoticon", "input_theme_emoticon"),),
        "input_chat_theme",
        refuses=("inputChatThemeUniqueGift",),
    ),
    # starGiftAttribute{Model,Pattern,Backdrop}.rarity_permille (198) became
    # rarity:StarGiftAttributeRarity (an exact permille, or a named tier of crafted gifts).
    Derived(
        "rarity",
        "StarGiftAttributeRarity",
        (("rarity_permille", "rarity_permille"),),
        "attribute_rarity",
    ),
)

# --- objects an older layer cannot express ---------------------------------------------------
#
# A layer-229 constructor with no counterpart in an older layer (messageEntityFormattedDate,
# messageMediaToDo, a new Update...) cannot be written there. Where the server would rather
# send the rest of the object than nothing, the generated writers degrade it, by where it is:
#
# - an element of a ``Vector<T>`` is dropped (a message keeps its other entities);
# - a single value is replaced by the old layer's stand-in for its type: ``STAND_INS`` if it
#   names one, else the type's ``*Unsupported`` constructor, else its ``*Empty`` one (present
#   in the old layer and in 229; same-name fields are carried over, e.g. ``chatEmpty.id``);
# - an optional value with no stand-in is left out (a reply to a story: not a reply).
#
# A required value with no stand-in, and an object with no form written on its own, still
# raise ``LayerConversionError``. Input constructors (``input*``, or of an ``Input*`` type) are
# never degraded: they occur in requests, where sending something else than was asked is not
# sound.

STAND_INS: dict[str, str | None] = {
    # A bot streaming a draft (229) shows as typing in layers without drafts; its end as the
    # end of typing. SendMessageAction has no Unsupported/Empty constructor.
    "sendMessageTextDraftAction": "sendMessageTypingAction",
    "sendMessageRichMessageDraftAction": "sendMessageTypingAction",
    "sendMessageStopDraftAction": "sendMessageCancelAction",
}
"""Exceptions to the generic stand-in: a 229 constructor or boxed type name -> the old
constructor written in its place, or ``None`` for "no stand-in" (the constructor key wins)."""
