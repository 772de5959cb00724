"""Bad input raises one documented exception naming the offset and the problem."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import loopgram.tl as tl
from loopgram import LoopgramError
from loopgram.tl.types import Updates, User
from loopgram.tl.types.messages import BotCallbackAnswer

ANSWER = bytes(BotCallbackAnswer(alert=True, message="hello", cache_time=5))


def test_decode_error_is_a_loopgram_error() -> None:
    assert issubclass(tl.TLDecodeError, LoopgramError)


@pytest.mark.parametrize("cut", range(len(ANSWER)))
def test_truncated_data(cut: int) -> None:
    with pytest.raises(tl.TLDecodeError) as info:
        tl.read(ANSWER[:cut])
    assert 0 <= info.value.offset <= cut


def test_unknown_constructor_names_id_and_offset() -> None:
    with pytest.raises(tl.TLDecodeError) as info:
        tl.read(struct.pack("<I", 0xDEADBEEF) + b"\0" * 8)
    assert info.value.offset == 0
    assert "0xdeadbeef" in info.value.problem


def test_constructor_of_the_wrong_type_in_a_field() -> None:
    # updates.users is Vector<User>: a BotCallbackAnswer there is not accepted.
    data = bytearray(bytes(Updates(updates=[], users=[User(id=1)], chats=[], date=0, seq=0)))
    user_at = data.index(struct.pack("<I", User.CONSTRUCTOR_ID))
    data[user_at : user_at + 4] = struct.pack("<I", BotCallbackAnswer.CONSTRUCTOR_ID)
    with pytest.raises(tl.TLDecodeError) as info:
        tl.read(bytes(data))
    assert info.value.offset == user_at


def test_vector_length_beyond_the_data() -> None:
    data = struct.pack("<IIIIi", Updates.CONSTRUCTOR_ID, 0x1CB5C415, 0x7FFFFFFF, 0, 0)
    with pytest.raises(tl.TLDecodeError) as info:
        tl.read(data)
    assert "vector length" in info.value.problem
    assert info.value.offset == 8


def test_string_length_beyond_the_data() -> None:
    data = bytearray(ANSWER)
    at = data.index(b"\x05hello")
    data[at] = 200
    with pytest.raises(tl.TLDecodeError) as info:
        tl.read(bytes(data))
    assert "string length 200" in info.value.problem
    assert info.value.offset == at
    data[at : at + 4] = b"\xfe\xff\xff\xff"
    with pytest.raises(tl.TLDecodeError):
        tl.read(bytes(data))


def test_nesting_deeper_than_the_limit() -> None:
    from loopgram.tl.types import JsonArray

    inner: JsonArray = JsonArray(value=[])
    for _ in range(tl.core.MAX_DEPTH + 5):
        inner = JsonArray(value=[inner])
    with pytest.raises(tl.TLDecodeError) as info:
        tl.read(bytes(inner))
    assert "nested deeper" in info.value.problem


def test_very_deep_nesting_is_not_a_recursion_error() -> None:
    # 100 000 levels of jsonArray: hand-built, since serialising it would recurse too.
    head = struct.pack("<III", 0xF7444763, 0x1CB5C415, 1)
    with pytest.raises(tl.TLDecodeError):
        tl.read(head * 100_000)


def test_trailing_bytes_are_reported() -> None:
    with pytest.raises(tl.TLDecodeError) as info:
        tl.read(ANSWER + b"\0\0\0\0")
    assert info.value.offset == len(ANSWER)


def test_gzip_bomb_and_garbage_gzip() -> None:
    import zlib

    bomb = zlib.compress(b"\0" * (tl.core.MAX_GZIP_SIZE + 1024), 9)
    o = bytearray(struct.pack("<I", 0x3072CFA1))
    tl.core.write_bytes(o, bomb)
    with pytest.raises(tl.TLDecodeError) as info:
        tl.read(bytes(o))
    assert "inflates beyond" in info.value.problem
    o = bytearray(struct.pack("<I", 0x3072CFA1))
    tl.core.write_bytes(o, b"not gzip at all")
    with pytest.raises(tl.TLDecodeError):
        tl.read(bytes(o))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 3))
def test_random_bytes_only_ever_raise_decode_errors(noise: bytes, which: int) -> None:
    prefix = [b"", ANSWER[:4], struct.pack("<I", Updates.CONSTRUCTOR_ID), b"\xa1\xcf\x72\x30"]
    try:
        tl.read(prefix[which] + noise)
    except tl.TLDecodeError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_valid_bytes_only_ever_raise_decode_errors(data: st.DataObject) -> None:
    msg = bytearray(ANSWER)
    i = data.draw(st.integers(0, len(msg) - 1))
    msg[i] = data.draw(st.integers(0, 255))
    try:
        tl.read(bytes(msg))
    except tl.TLDecodeError:
        pass
