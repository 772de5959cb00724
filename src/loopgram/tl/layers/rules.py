"""TL layers 158, 198, 227 against 229: the run-time half of the explicit rules.

The generated per-layer modules (``loopgram.tl.layers._l158`` ...) call these functions
where ``loopgram.tl.layers.spec`` says a value changed its type under the same field name
(``VALUE_CONVERSIONS``) or a 229 field is spread over old fields of other names
(``DERIVED``), use the factories at the end for constructors that have no counterpart, and
``degrade`` where an object holds one that the layer has no form for.

Every conversion takes ``None`` (the value is absent) and returns ``None`` when the value
cannot be expressed on the other side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NoReturn, TypeVar

import loopgram.tl.abcs as _a
import loopgram.tl.types as _t
from loopgram.tl.core import Reader, TLDecodeError, TLObject, _new
from loopgram.tl.layers import LayerConversionError, NoEquivalentError

V = TypeVar("V")
Obj = TypeVar("Obj", bound=TLObject)


class DispatchTable(dict[type[Any], V]):
    """Canonical class -> writer, looked up by the exact class of an object.

    A plain ``dict`` lookup on the hot path. On a miss, ``find`` walks the class's bases so
    that subclasses of the generated classes are written as their TL constructor (and
    remembers the answer); ``__missing__`` turns a class with no TL base here (an object of
    the wrong type in a field, or a non-API object) into a clear error.
    """

    def __init__(self, layer: int, what: str, items: dict[type[Any], V]) -> None:
        super().__init__(items)
        self.layer = layer
        self.what = what

    def find(self, cls: type[Any]) -> V | None:
        v = self.get(cls)
        if v is None:
            for base in cls.__mro__[1:]:
                v = self.get(base)
                if v is not None:
                    self[cls] = v
                    break
        return v

    def __missing__(self, cls: type[Any]) -> V:
        v = self.find(cls)
        if v is not None:
            return v
        name = getattr(cls, "TL_NAME", "") or cls.__name__
        raise LayerConversionError(
            f"{name} cannot be written as {self.what} in layer {self.layer}",
            name=name,
            layer=self.layer,
        )


# --- VALUE_CONVERSIONS: (229 -> old, old -> 229) ----------------------------------------------


def text_of(v: _a.TextWithEntities | None) -> str | None:
    """Poll questions and answers, folder titles: layer 158 had plain strings."""
    return v.text if isinstance(v, _t.TextWithEntities) else None


def text_with_entities(s: str | None) -> _t.TextWithEntities | None:
    return None if s is None else _t.TextWithEntities(text=s, entities=[])


def recent_story_max_id(v: _a.RecentStory | None) -> int | None:
    """``user``/``channel.stories_max_id``: layer 198 had the id, 229 a ``recentStory``."""
    return v.max_id if isinstance(v, _t.RecentStory) else None


def recent_story(n: int | None) -> _t.RecentStory | None:
    return None if n is None else _t.RecentStory(max_id=n)


def peer_color_int(v: _a.PeerColor | None) -> int | None:
    """``account.updateColor.color``: layer 198 sent the palette index only."""
    return v.color if isinstance(v, _t.PeerColor) else None


def peer_color(n: int | None) -> _t.PeerColor | None:
    return None if n is None else _t.PeerColor(color=n)


def peer_user_ids(v: list[_a.Peer] | None) -> list[int] | None:
    """Poll ``recent_voters``: layer 158 listed user ids; other peers have no old form."""
    if v is None:
        return None
    return [p.user_id for p in v if isinstance(p, _t.PeerUser)]


def user_peers(v: list[int] | None) -> list[_a.Peer] | None:
    if v is None:
        return None
    return [_t.PeerUser(user_id=i) for i in v]


def privacy_is_anonymous(v: _a.PaidReactionPrivacy | None) -> bool | None:
    """Paid reactions: layer 198 had ``private:Bool``; a chosen peer is not anonymous."""
    if v is None:
        return None
    return isinstance(v, _t.PaidReactionPrivacyAnonymous)


def reaction_privacy(b: bool | None) -> _a.PaidReactionPrivacy | None:
    if b is None:
        return None
    return _t.PaidReactionPrivacyAnonymous() if b else _t.PaidReactionPrivacyDefault()


def first_media(v: list[_a.MessageExtendedMedia] | None) -> _a.MessageExtendedMedia | None:
    """``updateMessageExtendedMedia``: layer 158 carried one item, 229 a list."""
    return v[0] if v else None


def media_list(m: _a.MessageExtendedMedia | None) -> list[_a.MessageExtendedMedia] | None:
    return None if m is None else [m]


def to_int(v: float) -> int:
    """``int`` <-> ``double`` fields (video ``duration``): whole, clamped to a TL int."""
    return _clamp(v, 31)


def to_long(v: float) -> int:
    return _clamp(v, 63)


def _clamp(v: float, bits: int) -> int:
    if v != v:  # NaN
        return 0
    limit = 1 << bits
    if v >= limit:
        return limit - 1
    if v < -limit:
        return -limit
    return int(v)


# --- DERIVED ----------------------------------------------------------------------------------


def reply_to_msg_id(v: _a.InputReplyTo | None) -> int | None:
    """Layer 158 requests said ``reply_to_msg_id`` where 229 says ``reply_to``."""
    return v.reply_to_msg_id if isinstance(v, _t.InputReplyToMessage) else None


def reply_top_msg_id(v: _a.InputReplyTo | None) -> int | None:
    return v.top_msg_id if isinstance(v, _t.InputReplyToMessage) else None


def input_reply_to(msg_id: int | None, top_msg_id: int | None) -> _a.InputReplyTo | None:
    if msg_id is None:
        # A thread without a message to reply to: 229 has no such reply_to.
        return None
    return _t.InputReplyToMessage(reply_to_msg_id=msg_id, top_msg_id=top_msg_id)


def theme_emoticon(v: _a.ChatTheme | None) -> str | None:
    """``userFull``: layers 158 and 198 had ``theme_emoticon``, 229 ``theme:ChatTheme``."""
    return v.emoticon if isinstance(v, _t.ChatTheme) else None


def chat_theme(emoticon: str | None) -> _a.ChatTheme | None:
    return None if emoticon is None else _t.ChatTheme(emoticon=emoticon)


def input_theme_emoticon(v: _a.InputChatTheme | None) -> str | None:
    """``messages.setChatTheme``: layers 158 and 198 sent an emoticon, ``""`` for no theme.

    A gift theme is refused by the generated writer (``spec.Derived.refuses``) before this
    is called, so ``None`` here only means the value is absent.
    """
    if isinstance(v, _t.InputChatTheme):
        return v.emoticon
    if isinstance(v, _t.InputChatThemeEmpty):
        return ""
    return None


def input_chat_theme(emoticon: str | None) -> _a.InputChatTheme | None:
    if emoticon is None:
        return None
    if not emoticon:
        return _t.InputChatThemeEmpty()
    return _t.InputChatTheme(emoticon=emoticon)


TIER_PERMILLE: Final = 0
"""The permille written for a named rarity tier (uncommon...legendary), which layer 198
cannot name. Telegram's apps rank the tiers rarer than any exact permille and show 0 as
"<0.1%", so the smallest permille says the most that is true about a tier."""


def rarity_permille(v: _a.StarGiftAttributeRarity | None) -> int | None:
    """Collectible gift attributes: layer 198 had ``rarity_permille:int``."""
    if v is None:
        return None
    if isinstance(v, _t.StarGiftAttributeRarity):
        return v.permille
    return TIER_PERMILLE


def attribute_rarity(permille: int | None) -> _a.StarGiftAttributeRarity | None:
    return None if permille is None else _t.StarGiftAttributeRarity(permille=permille)


# --- constructors without a counterpart -------------------------------------------------------


def no_equivalent(name: str, layer: int, why: str = "") -> Callable[[Any, bytearray], None]:
    """A writer for a layer-229 constructor that layer ``layer`` cannot express.

    It writes nothing before raising: a writer that degrades it (``degrade``) only has to
    cut what the object holding it wrote so far.
    """
    message = f"{name} has no equivalent in layer {layer}" + (f": {why}" if why else "")

    def write(obj: TLObject, o: bytearray) -> NoReturn:
        raise NoEquivalentError(message, name=name, layer=layer, obj=obj)

    return write


def refused(value: TLObject, old_field: str, layer: int) -> LayerConversionError:
    """The error for a value a rule of ``spec.DERIVED`` cannot express (``refuses``)."""
    name = value.TL_NAME
    return LayerConversionError(
        f"{name} cannot be written as {old_field} in layer {layer}", name=name, layer=layer
    )


# --- degrading what an older layer has no form for ----------------------------------------------

StandIns = dict[type[Any], Callable[[Any], TLObject]]
"""Per layer-229 class with no old form: makes the object written in its place."""

DegradeField = tuple[str, int, "StandIns | None"]
"""(attribute, ``VECTOR``/``REQUIRED``/``OPTIONAL``, stand-ins for a single value)."""

VECTOR: Final = 0
REQUIRED: Final = 1
OPTIONAL: Final = 2


def degrade(x: Obj, error: NoEquivalentError, fields: tuple[DegradeField, ...]) -> Obj:
    """A copy of ``x`` without the object ``error`` names, or with its stand-in.

    Called by a generated writer that caught ``error`` while writing ``x``; ``fields`` are the
    fields of ``x`` where degrading is sound (``loopgram.tl.layers.spec``). The writer then
    writes the copy, which may raise again for the next such object. Re-raises ``error``
    when ``x`` holds the object elsewhere (deeper, or in a required field without a
    stand-in): then nothing sound exists at this level.
    """
    bad = error.obj
    for attr, kind, stand_ins in fields:
        value = getattr(x, attr)
        if kind == VECTOR:
            if isinstance(value, list) and any(item is bad for item in value):
                return _with(x, attr, [item for item in value if item is not bad])
            continue
        if value is not bad:
            continue
        make = None if stand_ins is None else _stand_in(stand_ins, type(value))
        if make is not None:
            return _with(x, attr, make(value))
        if kind == OPTIONAL:
            return _with(x, attr, None)
    raise error


def _stand_in(stand_ins: StandIns, cls: type[Any]) -> Callable[[Any], TLObject] | None:
    # Subclasses of generated classes are written as their TL constructor (DispatchTable).
    for base in cls.__mro__:
        make = stand_ins.get(base)
        if make is not None:
            return make
    return None


def _with(x: Obj, attr: str, value: object) -> Obj:
    # A shallow copy: the caller's object stays as it was (it may be sent to other layers).
    y: Obj = _new(type(x))
    for name in x._FIELDS:
        setattr(y, name, getattr(x, name))
    setattr(y, attr, value)
    return y


def unreadable(name: str, layer: int, why: str = "") -> Callable[[Reader], Any]:
    """A table entry for an old constructor that has no layer-229 counterpart."""
    message = f"{name} of layer {layer} has no layer-229 equivalent" + (f" ({why})" if why else "")

    def read(r: Reader) -> NoReturn:
        raise TLDecodeError(r.pos - 4, message)

    return read
