"""TL layer: where a request asks for an InputUser or an InputChannel, the InputPeer
constructor of the same layout is read as its counterpart, as Telegram's servers do
(Pyrogram sends ``inputPeerUser`` to ``users.getUsers``), in every shipped layer."""

from __future__ import annotations

import struct

import pytest

import loopgram.tl as tl
from loopgram.tl import layers
from loopgram.tl.codegen import lenient_aliases
from loopgram.tl.functions.channels import GetChannels
from loopgram.tl.functions.users import GetUsers
from loopgram.tl.parser import parse
from loopgram.tl.types import (
    InputChannel,
    InputPeerChannel,
    InputPeerSelf,
    InputPeerUser,
    InputUser,
    InputUserSelf,
)

VECTOR_ID = 0x1CB5C415


def vector_request(function_id: int, *items: tl.TLObject) -> bytes:
    head = struct.pack("<IIi", function_id, VECTOR_ID, len(items))
    return head + b"".join(bytes(item) for item in items)


@pytest.mark.parametrize("layer", layers.SUPPORTED)
def test_input_peer_user_is_read_as_input_user(layer: int) -> None:
    data = vector_request(
        GetUsers.CONSTRUCTOR_ID, InputPeerUser(user_id=7, access_hash=99), InputPeerSelf()
    )
    request = layers.read(data, layer)
    assert request == GetUsers(id=[InputUser(user_id=7, access_hash=99), InputUserSelf()])


@pytest.mark.parametrize("layer", layers.SUPPORTED)
def test_input_peer_channel_is_read_as_input_channel(layer: int) -> None:
    data = vector_request(GetChannels.CONSTRUCTOR_ID, InputPeerChannel(channel_id=5, access_hash=6))
    assert layers.read(data, layer) == GetChannels(id=[InputChannel(channel_id=5, access_hash=6)])


def test_a_boxed_input_peer_on_its_own_stays_an_input_peer() -> None:
    peer = InputPeerUser(user_id=7, access_hash=99)
    assert tl.read(bytes(peer)) == peer
    assert layers.read(bytes(peer), 158) == peer


def test_other_constructors_are_still_refused_where_an_input_user_is_expected() -> None:
    data = vector_request(GetUsers.CONSTRUCTOR_ID, InputChannel(channel_id=5, access_hash=6))
    with pytest.raises(tl.TLDecodeError):
        tl.read(data)


def test_an_alias_pair_of_different_layouts_is_refused_by_the_generator() -> None:
    schema = parse(
        "inputUser#f21158c6 user_id:long access_hash:long = InputUser;\n"
        "inputPeerUser#dde8a54c user_id:long access_hash:int = InputPeer;\n"
    )
    with pytest.raises(ValueError, match="different layouts"):
        lenient_aliases({c.name: c for c in schema.constructors})
