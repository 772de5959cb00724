"""Malformed input raises TransportError (never anything else), and fuzzing finds nothing."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopgram.transport import (
    AbridgedCodec,
    Codec,
    ErrorCode,
    FullCodec,
    IntermediateCodec,
    ObfuscatedCodec,
    PaddedIntermediateCodec,
    Role,
    ServerTransport,
    TransportError,
    TransportKind,
)
from tests.transport.transport_support import COMBOS, connect, payload, split


def full_frame(
    body: bytes, seq: int = 0, *, crc_delta: int = 0, length: int | None = None
) -> bytes:
    head = struct.pack("<II", len(body) + 12 if length is None else length, seq)
    return head + body + struct.pack("<I", (zlib.crc32(head + body) + crc_delta) & 0xFFFFFFFF)


BAD_SERVER_STREAMS = {
    "abridged zero length": b"\xef\x00",
    "abridged zero length quick ack": b"\xef\x80",
    "abridged long zero": b"\xef\x7f\x00\x00\x00",
    "abridged oversized": b"\xef\x7f\xff\xff\xff",
    "intermediate zero": b"\xee\xee\xee\xee\x00\x00\x00\x00",
    "intermediate unaligned": b"\xee\xee\xee\xee\x05\x00\x00\x00",
    "intermediate zero quick ack": b"\xee\xee\xee\xee\x00\x00\x00\x80",
    "intermediate oversized": b"\xee\xee\xee\xee\xfc\xff\xff\x7f",
    "padded zero": b"\xdd\xdd\xdd\xdd\x00\x00\x00\x00",
    "padded oversized": b"\xdd\xdd\xdd\xdd\xff\xff\xff\xff",
    "full bad crc": full_frame(payload(24), crc_delta=1),
    "full bad seq": full_frame(payload(24)) + full_frame(payload(24), seq=5),
    "full seq restarts": full_frame(payload(24)) + full_frame(payload(24)),
    "full empty": full_frame(b"", length=12),
    "full unaligned": full_frame(payload(25)),
    "full oversized": struct.pack("<II", 0x10000000, 0),
}


@pytest.mark.parametrize("stream", BAD_SERVER_STREAMS.values(), ids=BAD_SERVER_STREAMS.keys())
def test_bad_server_input(stream: bytes) -> None:
    # Whole, then byte by byte: the same error either way, raised as soon as it is certain.
    with pytest.raises(TransportError) as info:
        ServerTransport().feed(stream)
    assert info.value.code == ErrorCode.NOT_FOUND and info.value.close
    server = ServerTransport()
    with pytest.raises(TransportError):
        for i in range(len(stream)):
            server.feed(stream[i : i + 1])
    # The codec stays failed.
    with pytest.raises(TransportError):
        server.feed(b"\x00" * 64)


def test_oversized_header_fails_before_the_body() -> None:
    server = ServerTransport(max_packet=1024)
    assert server.feed(b"\xee\xee\xee\xee" + struct.pack("<I", 1024) + bytes(1024))
    with pytest.raises(TransportError):
        server.feed(struct.pack("<I", 1028))


@pytest.mark.parametrize(
    "opening",
    [b"GET / HTTP/1.1\r\n", b"POST /api", b"HEAD /", b"OPTIONS *", b"\x16\x03\x01\x02\x00"],
)
def test_http_and_tls_are_refused(opening: bytes) -> None:
    with pytest.raises(TransportError) as info:
        ServerTransport().feed(opening)
    assert info.value.code is None and info.value.close


def test_obfuscated_header_without_known_tag() -> None:
    header = bytes(range(1, 65))
    server = ServerTransport()
    assert server.feed(header[:63]) == []
    with pytest.raises(TransportError) as info:
        server.feed(header[63:])
    assert info.value.code is None
    with pytest.raises(TransportError):
        server.feed(b"more")


def test_obfuscated_inner_error_can_be_answered() -> None:
    client = ObfuscatedCodec(Role.CLIENT, IntermediateCodec)
    server = ServerTransport()
    server.feed(client.encode(payload(24)))
    # Hand-build a frame with an unaligned length, encrypted as the client would.
    bad = client._outgoing(struct.pack("<I", 5) + b"x" * 5)
    with pytest.raises(TransportError) as info:
        server.feed(bad)
    assert info.value.code == ErrorCode.NOT_FOUND
    from loopgram.transport import TransportErrorPacket

    assert client.feed(server.encode_error(info.value.code)) == [TransportErrorPacket(-404)]


@pytest.mark.parametrize(
    ("cls", "stream"),
    [
        (AbridgedCodec, b"\x01\x02"),
        (IntermediateCodec, b"\xee\xee\xee\xef"),
        (PaddedIntermediateCodec, b"\xdd\xdd\xde"),
    ],
)
def test_direct_server_codec_checks_its_tag(cls: type[AbridgedCodec], stream: bytes) -> None:
    with pytest.raises(TransportError):
        cls(Role.SERVER).feed(stream)


BAD_CLIENT_STREAMS = [
    (AbridgedCodec, b"\x00"),
    (AbridgedCodec, b"\x7f\x00\x00\x00"),
    (IntermediateCodec, b"\x00\x00\x00\x00"),
    (IntermediateCodec, b"\x06\x00\x00\x00"),
    (PaddedIntermediateCodec, b"\x02\x00\x00\x00ab"),
    (FullCodec, full_frame(payload(8), seq=1)),
    (FullCodec, full_frame(payload(8), crc_delta=3)),
]


@pytest.mark.parametrize(("cls", "stream"), BAD_CLIENT_STREAMS)
def test_bad_client_input(cls: type[AbridgedCodec], stream: bytes) -> None:
    with pytest.raises(TransportError) as info:
        cls(Role.CLIENT).feed(stream)
    # Clients never answer with transport errors.
    assert info.value.code is None


def test_full_client_bare_negative_length() -> None:
    from loopgram.transport import TransportErrorPacket

    client = FullCodec(Role.CLIENT)
    bare = struct.pack("<iii", -429, -429, -429)
    assert client.feed(bare[:2]) == []
    assert client.feed(bare[2:]) == [TransportErrorPacket(-429)]
    assert client.feed(b"anything after is ignored") == []


# -- fuzzing ---------------------------------------------------------------------------------

PREFIXES = [
    b"",
    b"\xef",
    b"\xee\xee\xee\xee",
    b"\xdd\xdd\xdd\xdd",
    b"\x40\x00\x00\x00\x00\x00\x00\x00",
    b"\x18\x00\x00\x00\x00\x00\x00\x00",
]


def _obfuscated_opening(kind: TransportKind) -> bytes:
    client, _ = connect(kind, True)
    opening: bytes = client.encode(payload(24))
    return opening


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.sampled_from(
        PREFIXES + [_obfuscated_opening(k) for k in TransportKind if k is not TransportKind.FULL]
    ),
    body=st.binary(max_size=600),
    cuts=st.lists(st.integers(min_value=0, max_value=700), max_size=10),
    max_packet=st.sampled_from([64, 1024, 1 << 22]),
)
def test_fuzz_server(prefix: bytes, body: bytes, cuts: list[int], max_packet: int) -> None:
    server = ServerTransport(max_packet=max_packet)
    try:
        for chunk in split(prefix + body, cuts):
            server.feed(chunk)
    except TransportError:
        pass


def _client_codecs() -> list[Codec]:
    return [connect(kind, obfuscated)[0] for kind, obfuscated in COMBOS]


@settings(max_examples=200, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=len(COMBOS) - 1),
    body=st.binary(max_size=600),
    cuts=st.lists(st.integers(min_value=0, max_value=700), max_size=10),
)
def test_fuzz_client(index: int, body: bytes, cuts: list[int]) -> None:
    client = _client_codecs()[index]
    try:
        for chunk in split(body, cuts):
            client.feed(chunk)
    except TransportError:
        pass
