"""Client and server codecs wired back to back, for every transport and obfuscation."""

from __future__ import annotations

import struct
import zlib

import pytest

from loopgram.transport import (
    AbridgedCodec,
    ErrorCode,
    FullCodec,
    IntermediateCodec,
    ObfuscatedCodec,
    Packet,
    PaddedIntermediateCodec,
    QuickAck,
    Role,
    ServerTransport,
    TransportErrorPacket,
    TransportKind,
    TransportUsageError,
    client_codec,
)
from tests.transport.transport_support import COMBOS, OBFUSCATABLE, connect, payload, seeded

SIZES = (24, 28, 100, 504, 508, 512, 4096, 70_000)
combos = pytest.mark.parametrize(("kind", "obfuscated"), COMBOS)


def matches(kind: TransportKind, got: bytes, sent: bytes, max_padding: int) -> bool:
    if kind is TransportKind.PADDED_INTERMEDIATE:
        return got[: len(sent)] == sent and 0 <= len(got) - len(sent) <= max_padding
    return got == sent


@combos
def test_client_to_server(kind: TransportKind, obfuscated: bool) -> None:
    client, server = connect(kind, obfuscated)
    sent = [payload(n, fill=n) for n in SIZES]
    stream = b"".join(client.encode(p) for p in sent)
    events = server.feed(stream)
    assert server.kind is kind
    assert server.obfuscated is obfuscated
    assert len(events) == len(sent)
    for event, p in zip(events, sent, strict=True):
        assert isinstance(event, Packet)
        assert not event.quick_ack
        assert matches(kind, event.payload, p, 15)


@combos
def test_server_to_client(kind: TransportKind, obfuscated: bool) -> None:
    client, server = connect(kind, obfuscated)
    server.feed(client.encode(payload(40)))
    sent = [payload(n, fill=n + 1) for n in SIZES]
    stream = b"".join(server.encode(p) for p in sent)
    events = client.feed(stream)
    assert len(events) == len(sent)
    for event, p in zip(events, sent, strict=True):
        assert isinstance(event, Packet)
        assert matches(kind, event.payload, p, 3)


@combos
def test_interleaved_conversation(kind: TransportKind, obfuscated: bool) -> None:
    client, server = connect(kind, obfuscated, seed=7)
    for i in range(50):
        up = payload(24 + 4 * i, fill=i)
        [got] = server.feed(client.encode(up))
        assert isinstance(got, Packet)
        assert matches(kind, got.payload, up, 15)
        down = payload(24 + 8 * i, fill=i + 3)
        [back] = client.feed(server.encode(down))
        assert isinstance(back, Packet)
        assert matches(kind, back.payload, down, 3)


QUICK_ACK = [c for c in COMBOS if c[0] is not TransportKind.FULL]


@pytest.mark.parametrize(("kind", "obfuscated"), QUICK_ACK)
def test_quick_ack_both_ways(kind: TransportKind, obfuscated: bool) -> None:
    client, server = connect(kind, obfuscated)
    small, big = payload(24), payload(1024)
    events = server.feed(client.encode(small, quick_ack=True) + client.encode(big, quick_ack=True))
    assert [e.quick_ack for e in events if isinstance(e, Packet)] == [True, True]
    assert isinstance(events[1], Packet)
    assert matches(kind, events[1].payload, big, 15)
    token = 0x80000000 | 0x1234567
    stream = (
        server.encode_quick_ack(token)
        + server.encode(payload(32))
        + server.encode_quick_ack(0xFFFFFFFE)
    )
    got = client.feed(stream)
    assert got[0] == QuickAck(token)
    assert isinstance(got[1], Packet)
    assert got[2] == QuickAck(0xFFFFFFFE)


@combos
@pytest.mark.parametrize("code", [ErrorCode.NOT_FOUND, ErrorCode.FLOOD, ErrorCode.INVALID_DC, -2])
def test_transport_errors_reach_the_client(
    kind: TransportKind, obfuscated: bool, code: int
) -> None:
    client, server = connect(kind, obfuscated)
    server.feed(client.encode(payload(24)))
    assert client.feed(server.encode(payload(24)) + server.encode_error(code))[1:] == [
        TransportErrorPacket(code)
    ]


def test_full_quick_ack_is_refused() -> None:
    client, server = connect(TransportKind.FULL, False)
    with pytest.raises(TransportUsageError):
        client.encode(payload(24), quick_ack=True)
    server.feed(client.encode(payload(24)))
    with pytest.raises(TransportUsageError):
        server.encode_quick_ack(0x80000001)


@pytest.mark.parametrize("cls", [AbridgedCodec, IntermediateCodec, PaddedIntermediateCodec])
def test_role_misuse(cls: type[AbridgedCodec]) -> None:
    client = cls(Role.CLIENT)
    server = cls(Role.SERVER)
    with pytest.raises(TransportUsageError):
        client.encode_quick_ack(0x80000000)
    with pytest.raises(TransportUsageError):
        client.encode_error(-404)
    with pytest.raises(TransportUsageError):
        server.encode(payload(24), quick_ack=True)
    for bad in (0, 0x7FFFFFFF, 1 << 32, -1):
        with pytest.raises(TransportUsageError):
            server.encode_quick_ack(bad)
    for bad_code in (0, 404, -1, -(2**31) - 1):
        with pytest.raises(TransportUsageError):
            server.encode_error(bad_code)
    with pytest.raises(TransportUsageError):
        server.encode(b"")


@pytest.mark.parametrize("cls", [AbridgedCodec, IntermediateCodec, FullCodec])
def test_unaligned_payloads_are_refused(cls: type[AbridgedCodec]) -> None:
    with pytest.raises(TransportUsageError):
        cls(Role.CLIENT).encode(b"abc")


def test_server_encode_before_detection() -> None:
    server = ServerTransport()
    with pytest.raises(TransportUsageError):
        server.encode(payload(24))
    server.feed(b"\x12\x34\x56\x78\x9a\xbc\xde\xf0")  # obfuscated, header incomplete
    assert server.obfuscated and server.kind is None
    with pytest.raises(TransportUsageError):
        server.encode_error(-404)


# -- exact byte layouts (from the spec) ----------------------------------------------------


def test_abridged_layout() -> None:
    c = AbridgedCodec(Role.CLIENT)
    p = payload(8)
    assert c.encode(p) == b"\xef\x02" + p
    assert c.encode(p, quick_ack=True) == b"\x82" + p
    long = payload(127 * 4)
    assert c.encode(long) == b"\x7f\x7f\x00\x00" + long
    assert c.encode(long, quick_ack=True) == b"\xff\x7f\x00\x00" + long
    s = AbridgedCodec(Role.SERVER)
    assert s.encode(p) == b"\x02" + p
    # Quick acks go back byte-swapped, with no length: the first byte has its top bit set.
    assert s.encode_quick_ack(0x81020304) == b"\x81\x02\x03\x04"
    assert s.encode_error(-404) == b"\x01" + struct.pack("<i", -404)


def test_intermediate_layout() -> None:
    c = IntermediateCodec(Role.CLIENT)
    p = payload(8)
    assert c.encode(p) == b"\xee\xee\xee\xee\x08\x00\x00\x00" + p
    assert c.encode(p, quick_ack=True) == b"\x08\x00\x00\x80" + p
    s = IntermediateCodec(Role.SERVER)
    assert s.encode_quick_ack(0x81020304) == b"\x04\x03\x02\x81"
    assert s.encode_error(-429) == b"\x04\x00\x00\x00" + struct.pack("<i", -429)


def test_padded_intermediate_layout() -> None:
    rnd = seeded(3)
    c = PaddedIntermediateCodec(Role.CLIENT, random_bytes=rnd)
    p = payload(24)
    frames = [c.encode(p) for _ in range(200)]
    assert frames[0][:4] == b"\xdd\xdd\xdd\xdd"
    frames[0] = frames[0][4:]
    pads = set()
    for f in frames:
        (tlen,) = struct.unpack_from("<I", f)
        assert tlen == len(f) - 4 and f[4:28] == p
        pads.add(tlen - 24)
    assert pads == set(range(16))
    s = PaddedIntermediateCodec(Role.SERVER, random_bytes=rnd)
    assert {len(s.encode(p)) - 28 for _ in range(200)} == {0, 1, 2, 3}
    for _ in range(50):
        ack = s.encode_quick_ack(0x80000005)
        (tlen,) = struct.unpack_from("<I", ack)
        assert 8 <= tlen <= 16 and tlen == len(ack) - 4
        assert ack[4:12] == b"\xff\xff\xff\xff\x05\x00\x00\x80"


def test_padded_intermediate_max_padding() -> None:
    c = PaddedIntermediateCodec(Role.CLIENT, tagged=False, max_padding=0)
    assert c.encode(payload(24)) == b"\x18\x00\x00\x00" + payload(24)
    with pytest.raises(TransportUsageError):
        PaddedIntermediateCodec(Role.CLIENT, max_padding=16)


def test_full_layout() -> None:
    c = FullCodec(Role.CLIENT)
    p = payload(8)
    first, second = c.encode(p), c.encode(p)
    head = struct.pack("<II", 20, 0)
    assert first == head + p + struct.pack("<I", zlib.crc32(head + p))
    assert second[4:8] == b"\x01\x00\x00\x00"


def test_obfuscated_header_rules() -> None:
    for seed in range(300):
        codec = ObfuscatedCodec(Role.CLIENT, AbridgedCodec, random_bytes=seeded(seed))
        head = codec.encode(payload(24))[:64]
        assert head[0] != 0xEF
        assert head[:4] not in {b"HEAD", b"POST", b"GET ", b"OPTI", b"\x16\x03\x01\x02"}
        assert head[:4] not in {b"\xdd" * 4, b"\xee" * 4}
        assert head[4:8] != b"\x00" * 4


def test_obfuscated_header_rejects_forbidden_randomness() -> None:
    calls = iter([b"\xef" + bytes(63), b"POST" + bytes(60), bytes(64), b"\x01" * 64])
    codec = ObfuscatedCodec(Role.CLIENT, IntermediateCodec, random_bytes=lambda n: next(calls))
    assert codec.encode(payload(24))[:8] == b"\x01" * 8
    with pytest.raises(TransportUsageError):
        ObfuscatedCodec(Role.CLIENT, IntermediateCodec, random_bytes=lambda n: bytes(n))
    with pytest.raises(TransportUsageError):
        ObfuscatedCodec(Role.CLIENT, IntermediateCodec, random_bytes=lambda n: b"short")


@pytest.mark.parametrize("kind", OBFUSCATABLE)
@pytest.mark.parametrize("secret", [bytes(range(16)), b"\xdd" + bytes(range(16))])
def test_obfuscated_with_secret_and_dc(kind: TransportKind, secret: bytes) -> None:
    client, server = connect(kind, True, secret=secret, dc_id=-2)
    [got] = server.feed(client.encode(payload(24)))
    assert isinstance(got, Packet)
    assert server.dc_id == -2
    [back] = client.feed(server.encode(payload(24)))
    assert isinstance(back, Packet)


def test_obfuscated_secret_mismatch_is_refused() -> None:
    from loopgram.transport import TransportError

    client, _ = connect(TransportKind.INTERMEDIATE, True, secret=bytes(16))
    server = ServerTransport(secret=b"\x01" * 16)
    with pytest.raises(TransportError) as info:
        server.feed(client.encode(payload(24)))
    assert info.value.code is None and info.value.close


def test_obfuscation_parameters() -> None:
    with pytest.raises(TransportUsageError):
        ObfuscatedCodec(Role.CLIENT, FullCodec)
    with pytest.raises(TransportUsageError):
        ObfuscatedCodec(Role.CLIENT)
    with pytest.raises(TransportUsageError):
        ObfuscatedCodec(Role.CLIENT, AbridgedCodec, dc_id=40000)
    with pytest.raises(TransportUsageError):
        ObfuscatedCodec(Role.CLIENT, AbridgedCodec, secret=b"x")
    with pytest.raises(TransportUsageError):
        ServerTransport(secret=b"x")
    with pytest.raises(TransportUsageError):
        client_codec(TransportKind.FULL, secret=bytes(16))
    with pytest.raises(TransportUsageError):
        ServerTransport(max_packet=0)


def test_obfuscated_server_expecting_one_inner() -> None:
    from loopgram.transport import TransportError

    client = ObfuscatedCodec(Role.CLIENT, AbridgedCodec, random_bytes=seeded(1))
    server = ObfuscatedCodec(Role.SERVER, IntermediateCodec)
    with pytest.raises(TransportError):
        server.feed(client.encode(payload(24)))
    ok = ObfuscatedCodec(Role.SERVER, AbridgedCodec)
    assert ok.kind is None
    assert len(ok.feed(ObfuscatedCodec(Role.CLIENT, AbridgedCodec).encode(payload(24)))) == 1
    assert ok.kind is TransportKind.ABRIDGED
