"""Bad input raises one documented exception naming the offset and the problem."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import loopgram.tl as tl
from loopgram import LoopgramError
from loopgram.tl.functions.messages import SendMessage
from loopgram.tl.types import InputPeerSelf, MessageEntityTextUrl, Updates, User
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


def url_entity(size: int) -> bytes:
    return bytes(MessageEntityTextUrl(offset=0, length=1, url="a" * size))


def with_gzipped_entities(count: int, size: int) -> bytes:
    """messages.sendMessage whose ``count`` entities each travel gzip_packed."""
    entity = url_entity(size)
    request = SendMessage(
        peer=InputPeerSelf(),
        message="x",
        random_id=1,
        entities=[MessageEntityTextUrl(offset=0, length=1, url="a" * size)] * count,
    )
    return bytes(request).replace(entity, tl.GzipPacked.pack(entity))


def test_the_inflate_budget_is_shared_by_every_gzip_packed_of_one_decode() -> None:
    # Each entity inflates well under the budget; together they go over it. Before, the
    # limit held per object, and 64 such entities of 16 MiB each took the server to 1.24 GB.
    size = len(url_entity(1000))
    assert len(tl.read(with_gzipped_entities(4, 1000), budget=4 * size).entities) == 4
    with pytest.raises(tl.InflateLimitError):
        tl.read(with_gzipped_entities(5, 1000), budget=4 * size)


def test_inflating_stops_at_the_budget() -> None:
    # 64 MiB of zeros in 64 KiB: refused after inflating at most the budget, so a bomb costs
    # the budget's memory and work, not its own size.
    bomb = tl.GzipPacked.pack(b"\0" * (64 * 1024 * 1024))
    with pytest.raises(tl.InflateLimitError) as info:
        tl.read(bomb, budget=1024 * 1024)
    assert "inflates beyond 1048576" in info.value.problem


def test_gzip_packed_inside_gzip_packed_is_refused() -> None:
    inner = with_gzipped_entities(2, 10)
    assert tl.read(inner).message == "x"
    with pytest.raises(tl.TLDecodeError) as info:
        tl.read(tl.GzipPacked.pack(inner))
    assert "gzip_packed inside gzip_packed" in info.value.problem
    with pytest.raises(tl.TLDecodeError):
        tl.read(tl.GzipPacked.pack(tl.GzipPacked.pack(bytes(InputPeerSelf()))))


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
