"""TL layers: objects an older layer has no form for, degraded instead of failing the whole.

By ``loopgram.tl.layers.spec`` ("objects an older layer cannot express"): an element of a
vector is dropped, a single value is replaced by the old layer's stand-in for its type
(``*Unsupported``, else ``*Empty``, else ``spec.STAND_INS``) or left out if optional; input
constructors and requests are not degraded, and what has no sound degradation still raises.
Every result is parsed with the old schema (the oracle's ``Interp``) and, where its virtualenv
exists, by a real layer-158 client (Pyrogram 2.0.106).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from loopgram.tl import TLObject, abcs, layers
from loopgram.tl import types as t
from loopgram.tl.codegen import attr_name
from loopgram.tl.functions import messages as fm
from loopgram.tl.layers import LayerConversionError, NoEquivalentError
from loopgram.tl.parser import Combinator
from tests.tl import strategies as base
from tests.tl.test_layers_oracle import (
    OLD_LAYERS,
    Interp,
    expressible,
    filled,
    gen,
    index,
)

NEWEST = layers.NEWEST
ROOT = Path(__file__).resolve().parents[2]
# Built by tests/integration/test_pyrogram158.py (from PyPI); absent: those checks skip.
PYROGRAM158 = ROOT / ".pytest-venvs" / "pyrogram-2.0.106-py311" / "bin" / "python"

BOLD = t.MessageEntityBold(offset=0, length=2)
ITALIC = t.MessageEntityItalic(offset=3, length=4)
DATE = t.MessageEntityFormattedDate(offset=5, length=3, date=1_700_000_000, relative=True)
TODO = t.MessageMediaToDo(
    todo=t.TodoList(title=t.TextWithEntities(text="chores", entities=[]), list=[])
)


def message(**fields: Any) -> t.Message:
    return t.Message(id=7, peer_id=t.PeerUser(user_id=1), date=1, message="hi there", **fields)


def old_form(obj: TLObject, layer: int) -> dict[str, Any]:
    """What an old client's parser makes of ``obj`` written for ``layer``."""
    d: dict[str, Any] = Interp(layer).decode(layers.serialize(obj, layer))
    return d


def names(items: list[dict[str, Any]]) -> list[str]:
    return [d["_"] for d in items]


# --- vectors: the element is dropped -----------------------------------------------------------


@pytest.mark.parametrize("layer", [158, 198])
def test_a_new_entity_is_dropped_and_the_others_kept(layer: int) -> None:
    m = message(entities=[BOLD, DATE, ITALIC])
    assert names(old_form(m, layer)["entities"]) == ["messageEntityBold", "messageEntityItalic"]
    assert layers.read(layers.serialize(m, layer), layer).entities == [BOLD, ITALIC]


def test_an_entity_the_layer_has_is_kept() -> None:
    m = message(entities=[BOLD, DATE])
    assert names(old_form(m, 227)["entities"]) == [
        "messageEntityBold",
        "messageEntityFormattedDate",
    ]


def test_every_new_element_of_a_vector_is_dropped() -> None:
    diff = t.MessageEntityDiffDelete(offset=0, length=1)
    m = message(entities=[DATE, BOLD, diff, DATE])
    assert names(old_form(m, 158)["entities"]) == ["messageEntityBold"]
    only_new = message(entities=[DATE, diff])
    assert old_form(only_new, 158)["entities"] == []


def test_a_new_update_is_dropped_from_updates() -> None:
    new = t.UpdateStoryID(id=1, random_id=2)
    known = t.UpdateNewMessage(message=message(entities=[DATE]), pts=3, pts_count=1)
    batch = t.Updates(updates=[new, known, new], users=[], chats=[], date=1, seq=0)
    d = old_form(batch, 158)
    assert names(d["updates"]) == ["updateNewMessage"]
    # Degrading nests: the message inside lost its new entity too.
    assert d["updates"][0]["message"]["entities"] == []


def test_the_callers_object_is_left_as_it_was() -> None:
    m = message(entities=[BOLD, DATE], media=TODO)
    layers.serialize(m, 158)
    assert m.entities == [BOLD, DATE]
    assert m.media is TODO
    # ... and still written whole where the layer has it all.
    assert layers.serialize(m, NEWEST) == bytes(m)


# --- single values: the stand-in, or left out --------------------------------------------------


@pytest.mark.parametrize("layer", [158, 198])
def test_new_media_is_message_media_unsupported(layer: int) -> None:
    m = message(media=TODO, entities=[BOLD])
    d = old_form(m, layer)
    assert d["media"] == {"_": "messageMediaUnsupported"}
    assert d["entities"] == [{"_": "messageEntityBold", "offset": 0, "length": 2}]
    back = layers.read(layers.serialize(m, layer), layer)
    assert back.media == t.MessageMediaUnsupported()
    assert (back.id, back.message) == (7, "hi there")


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_a_new_service_action_is_message_action_empty(layer: int) -> None:
    service = t.MessageService(
        id=8,
        peer_id=t.PeerUser(user_id=1),
        date=1,
        action=t.MessageActionChangeCommunity(community_id=5),
    )
    d = old_form(service, layer)
    assert (d["_"], d["id"], d["action"]) == ("messageService", 8, {"_": "messageActionEmpty"})


def test_a_stand_in_carries_the_fields_it_shares() -> None:
    community = t.Community(id=42, title="club", photo=t.ChatPhotoEmpty(), date=1)
    # A required Chat: chatEmpty, with the community's id.
    invite = t.ChatInviteAlready(chat=community)
    assert old_form(invite, 158) == {
        "_": "chatInviteAlready",
        "chat": {"_": "chatEmpty", "id": 42},
    }
    # In a vector it is dropped like any element.
    chats = t.messages.Chats(chats=[community, t.ChatEmpty(id=1)])
    assert old_form(chats, 158)["chats"] == [{"_": "chatEmpty", "id": 1}]


def test_an_optional_value_without_a_stand_in_is_left_out() -> None:
    # MessageReplyHeader has no Unsupported/Empty constructor; a story reply is not a reply.
    story = t.MessageReplyStoryHeader(peer=t.PeerUser(user_id=1), story_id=3)
    d = old_form(message(reply_to=story), 158)
    assert d["reply_to"] is None
    assert layers.read(layers.serialize(message(reply_to=story), 158), 158).reply_to is None
    # Layer 198 has story replies.
    assert old_form(message(reply_to=story), 198)["reply_to"]["_"] == "messageReplyStoryHeader"


@pytest.mark.parametrize(
    ("action", "shown"),
    [
        (
            t.SendMessageTextDraftAction(
                random_id=1, text=t.TextWithEntities(text="draf", entities=[])
            ),
            "sendMessageTypingAction",
        ),
        (t.SendMessageStopDraftAction(random_id=1), "sendMessageCancelAction"),
    ],
)
def test_the_stand_in_table_overrides_the_generic_choice(
    action: abcs.SendMessageAction, shown: str
) -> None:
    # SendMessageAction has no Unsupported/Empty constructor: spec.STAND_INS names one.
    typing = t.UpdateUserTyping(user_id=3, action=action)
    assert old_form(typing, 158) == {
        "_": "updateUserTyping",
        "user_id": 3,
        "action": {"_": shown},
    }


# --- what is not degraded ----------------------------------------------------------------------


def test_a_required_value_without_a_stand_in_still_raises() -> None:
    with pytest.raises(NoEquivalentError, match="updateStoryID has no equivalent in layer 158"):
        layers.serialize(t.UpdateShort(update=t.UpdateStoryID(id=1, random_id=2), date=1), 158)
    # An object with no form written on its own: its type is not known to stand in for.
    with pytest.raises(NoEquivalentError, match="messageMediaToDo") as e:
        layers.serialize(TODO, 158)
    assert e.value.obj is TODO


def test_input_constructors_are_not_degraded() -> None:
    # inputPollAnswer is what a client sends: dropping one would change the poll asked for.
    poll = t.Poll(
        id=1,
        question=t.TextWithEntities(text="?", entities=[]),
        answers=[
            t.PollAnswer(text=t.TextWithEntities(text="a", entities=[]), option=b"a"),
            t.InputPollAnswer(text=t.TextWithEntities(text="b", entities=[])),
        ],
        hash=0,
    )
    with pytest.raises(LayerConversionError, match="inputPollAnswer"):
        layers.serialize(poll, 158)


def test_requests_are_not_degraded() -> None:
    # A request asks for something; sending less than was asked for is not sound.
    req = fm.SendMessage(peer=t.InputPeerSelf(), message="hi", random_id=1, entities=[BOLD, DATE])
    with pytest.raises(LayerConversionError, match="messageEntityFormattedDate"):
        layers.serialize(req, 158)


# --- every degradation the generator made, checked against the old schema -----------------------


def _sites(layer: int) -> dict[tuple[str, str], tuple[Combinator, str]]:
    """Per (boxed type, "vector"/"required"/"optional"), one canonical constructor that the
    old layer writes with a field of that type (the same type there) and that a random
    object for the layer may use, and the field."""
    mod = layers.module(layer)
    assert mod is not None
    new, old, ok = index(NEWEST), index(layer), expressible(layer)
    out: dict[tuple[str, str], tuple[Combinator, str]] = {}
    for name in sorted(mod.REWRITTEN & ok):
        c, o = new.ctors.get(name), old.ctors.get(name)
        if c is None or o is None:
            continue
        old_types = {a.name: str(a.type) for a in o.args}
        for f in c.args:
            if f.is_flags or f.is_true_flag or old_types.get(f.name) != str(f.type):
                continue
            if f.type.item is not None:
                key = (f.type.item.name, "vector")
            else:
                key = (f.type.name, "optional" if f.flag is not None else "required")
            out.setdefault(key, (c, f.name))
    return out


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_every_degradable_constructor_is_dropped_or_stood_in_for(layer: int) -> None:
    mod = layers.module(layer)
    assert mod is not None
    new = index(NEWEST)
    sites = _sites(layer)
    g = gen(layer, False)
    checked = 0
    for name in sorted(mod.DEGRADABLE):
        bad_c = new.ctors[name]
        tname = bad_c.result.name
        bad = base.filled(bad_c, optional=False)
        stand_in = mod.STAND_INS.get(name)
        for kind in ("vector", "required", "optional"):
            site = sites.get((tname, kind))
            if site is None or (kind == "required" and stand_in is None):
                continue
            container, field = site
            x = filled(g, container, optional=False)
            setattr(x, attr_name(field), [bad] if kind == "vector" else bad)
            got = old_form(x, layer)[field]
            where = (layer, name, container.name, field)
            if kind == "vector":
                assert got == [], where
            elif stand_in is not None:
                assert got["_"] == stand_in, where
            else:
                assert got is None, where
            checked += 1
    # 200, 141 and 24 with the shipped schemas: a drop means sites stopped being degraded.
    assert checked >= {158: 200, 198: 141, 227: 24}[layer], checked


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_stand_ins_are_of_the_same_type_in_both_layers(layer: int) -> None:
    mod = layers.module(layer)
    assert mod is not None
    new, old = index(NEWEST), index(layer)
    assert mod.STAND_INS.keys() <= mod.DEGRADABLE <= mod.NO_EQUIVALENT
    for name, stand_in in mod.STAND_INS.items():
        tname = new.ctors[name].result.name
        assert new.ctors[stand_in].result.name == old.ctors[stand_in].result.name == tname
    for name in mod.DEGRADABLE:
        assert not name.startswith("input") and not name.split(".")[-1].startswith("input")


# --- a real layer-158 client reads what is sent ---------------------------------------------------

_PYROGRAM_READ = """
import io, sys
from pyrogram.raw.core import TLObject
for line in sys.stdin:
    b = io.BytesIO(bytes.fromhex(line.strip()))
    obj = TLObject.read(b)
    assert not b.read(), "trailing bytes"
    print(str(obj).replace("\\n", " "))
"""


def pyrogram158_read(objects: list[TLObject]) -> list[dict[str, Any]]:
    if not PYROGRAM158.exists():
        pytest.skip(f"no Pyrogram 2.0.106 at {PYROGRAM158} (tests/integration builds it)")
    lines = "".join(layers.serialize(x, 158).hex() + "\n" for x in objects)
    done = subprocess.run(
        [str(PYROGRAM158), "-I", "-c", _PYROGRAM_READ],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_pyrogram_158_reads_the_degraded_objects() -> None:
    community = t.Community(id=42, title="club", photo=t.ChatPhotoEmpty(), date=1)
    m = message(entities=[BOLD, DATE, ITALIC], media=TODO)
    batch = t.Updates(
        updates=[
            t.UpdateStoryID(id=1, random_id=2),
            t.UpdateNewMessage(message=m, pts=1, pts_count=1),
        ],
        users=[],
        chats=[community, t.ChatEmpty(id=1)],
        date=1,
        seq=0,
    )
    history = t.messages.Messages(messages=[m], topics=[], chats=[community], users=[])
    read_m, read_batch, read_history = pyrogram158_read([m, batch, history])
    assert read_m["_"] == "types.Message"
    assert names(read_m["entities"]) == ["types.MessageEntityBold", "types.MessageEntityItalic"]
    assert read_m["media"] == {"_": "types.MessageMediaUnsupported"}
    assert names(read_batch["updates"]) == ["types.UpdateNewMessage"]
    assert read_batch["chats"] == [{"_": "types.ChatEmpty", "id": 1}]
    assert read_history["_"] == "types.messages.Messages"
    assert read_history["messages"][0]["media"] == {"_": "types.MessageMediaUnsupported"}
    assert read_history["chats"] == []
