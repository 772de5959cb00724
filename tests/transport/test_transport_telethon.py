"""Cross-check the framing against a real peer: Telethon's packet codecs and obfuscation.

Telethon plays the client: its frames (plain, obfuscated2, MTProxy-style with a secret) must be
detected and decoded by our server, and our server's frames must be read by its codecs.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from typing import Any

import pytest

pytest.importorskip("telethon")

from telethon.network.connection.tcpabridged import (  # type: ignore[import-untyped]
    AbridgedPacketCodec,
)
from telethon.network.connection.tcpfull import FullPacketCodec  # type: ignore[import-untyped]
from telethon.network.connection.tcpintermediate import (  # type: ignore[import-untyped]
    IntermediatePacketCodec,
    RandomizedIntermediatePacketCodec,
)
from telethon.network.connection.tcpmtproxy import MTProxyIO  # type: ignore[import-untyped]
from telethon.network.connection.tcpobfuscated import (  # type: ignore[import-untyped]
    ObfuscatedIO,
)

from loopgram.transport import Packet, ServerTransport, TransportKind
from tests.transport.transport_support import payload

CODECS: list[tuple[Any, TransportKind]] = [
    (AbridgedPacketCodec, TransportKind.ABRIDGED),
    (IntermediatePacketCodec, TransportKind.INTERMEDIATE),
    (RandomizedIntermediatePacketCodec, TransportKind.PADDED_INTERMEDIATE),
    (FullPacketCodec, TransportKind.FULL),
]
OBFUSCATABLE = CODECS[:3]
SIZES = (24, 100, 504, 508, 512, 2048, 65_536)


class _Reader:
    """What Telethon's ``read_packet`` reads from, decrypting like its obfuscated IO."""

    def __init__(self, reader: asyncio.StreamReader, decrypt: Any = None) -> None:
        self._reader = reader
        self._decrypt = decrypt

    async def readexactly(self, n: int) -> bytes:
        data = await self._reader.readexactly(n)
        return bytes(self._decrypt.encrypt(data)) if self._decrypt else data


def telethon_read(codec: Any, stream: bytes, count: int, decrypt: Any = None) -> list[bytes]:
    async def run() -> list[bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(stream)
        reader.feed_eof()
        source = _Reader(reader, decrypt)
        return [await codec.read_packet(source) for _ in range(count)]

    return asyncio.run(run())


def check(kind: TransportKind, got: Sequence[object], sent: list[bytes]) -> None:
    assert len(got) == len(sent)
    for event, p in zip(got, sent, strict=True):
        assert isinstance(event, Packet)
        if kind is TransportKind.PADDED_INTERMEDIATE:
            # Telethon pads with 0-3 bytes; we deliver them, the MTProto layer ignores them.
            assert event.payload[: len(p)] == p and len(event.payload) - len(p) <= 3
        else:
            assert event.payload == p


@pytest.mark.parametrize(("codec_cls", "kind"), CODECS)
def test_plain_telethon_client(codec_cls: Any, kind: TransportKind) -> None:
    codec = codec_cls(None)
    sent = [payload(n, fill=n) for n in SIZES]
    # Telethon sends the tag on connect (none for full, and none for its randomized codec,
    # which it only uses obfuscated; we send the padded tag ourselves for the plain case).
    tag = codec.tag or (b"\xdd" * 4 if kind is TransportKind.PADDED_INTERMEDIATE else b"")
    stream = tag + b"".join(codec.encode_packet(p) for p in sent)
    server = ServerTransport()
    got = [e for i in range(0, len(stream), 1000) for e in server.feed(stream[i : i + 1000])]
    assert server.kind is kind and not server.obfuscated
    check(kind, got, sent)

    replies = [payload(n, fill=n + 5) for n in SIZES] + [b"ERR!"]
    out = b"".join(server.encode(p) for p in replies[:-1]) + server.encode_error(-404)
    read = telethon_read(codec, out, len(replies))
    assert read[:-1] == replies[:-1]
    assert read[-1] == struct.pack("<i", -404)


@pytest.mark.parametrize(("codec_cls", "kind"), OBFUSCATABLE)
def test_obfuscated_telethon_client(codec_cls: Any, kind: TransportKind) -> None:
    for _ in range(5):
        header, encryptor, decryptor = ObfuscatedIO.init_header(codec_cls)
        codec = codec_cls(None)
        sent = [payload(n, fill=n) for n in SIZES[:5]]
        stream = bytes(header) + b"".join(encryptor.encrypt(codec.encode_packet(p)) for p in sent)
        server = ServerTransport()
        got = [e for i in range(0, len(stream), 7) for e in server.feed(stream[i : i + 7])]
        assert server.kind is kind and server.obfuscated
        check(kind, got, sent)

        replies = [payload(n, fill=n + 9) for n in SIZES[:5]]
        out = b"".join(server.encode(p) for p in replies)
        assert telethon_read(codec, out, len(replies), decryptor) == replies


@pytest.mark.parametrize(("codec_cls", "kind"), OBFUSCATABLE)
@pytest.mark.parametrize("dc_id", [2, -4, 10002])
def test_mtproxy_telethon_client(codec_cls: Any, kind: TransportKind, dc_id: int) -> None:
    secret = bytes(range(0x30, 0x40))
    # Telethon only accepts a dd-secret with its randomized codec.
    wire_secret = b"\xdd" + secret if kind is TransportKind.PADDED_INTERMEDIATE else secret
    header, encryptor, decryptor = MTProxyIO.init_header(wire_secret, dc_id, codec_cls)
    codec = codec_cls(None)
    sent = [payload(n, fill=n) for n in SIZES[:4]]
    stream = bytes(header) + b"".join(encryptor.encrypt(codec.encode_packet(p)) for p in sent)
    server = ServerTransport(secret=secret)
    got = server.feed(stream)
    assert server.kind is kind and server.dc_id == dc_id
    check(kind, got, sent)
    replies = [payload(n, fill=n + 1) for n in SIZES[:4]]
    out = b"".join(server.encode(p) for p in replies)
    assert telethon_read(codec, out, len(replies), decryptor) == replies


@pytest.mark.parametrize(("codec_cls", "kind"), CODECS)
def test_our_client_frames_read_by_telethon(codec_cls: Any, kind: TransportKind) -> None:
    from loopgram.transport import client_codec

    ours = client_codec(kind)
    sent = [payload(n, fill=n) for n in SIZES]
    stream = b"".join(ours.encode(p) for p in sent)
    tag_len = {TransportKind.ABRIDGED: 1, TransportKind.FULL: 0}.get(kind, 4)
    read = telethon_read(codec_cls(None), stream[tag_len:], len(sent))
    if kind is TransportKind.PADDED_INTERMEDIATE:
        # Our client pads 0-15 bytes, as the spec allows; Telethon strips only len % 4 of them.
        assert all(r[: len(p)] == p for r, p in zip(read, sent, strict=True))
    else:
        assert read == sent
