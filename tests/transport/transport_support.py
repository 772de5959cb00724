"""Shared helpers of the transport tests: deterministic randomness, codec pairs, chunking."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

from loopgram.transport import (
    Codec,
    Event,
    ServerTransport,
    TransportKind,
    client_codec,
)

KINDS = tuple(TransportKind)
OBFUSCATABLE = (
    TransportKind.ABRIDGED,
    TransportKind.INTERMEDIATE,
    TransportKind.PADDED_INTERMEDIATE,
)
#: Every (kind, obfuscated) combination the spec allows.
COMBOS = tuple((k, False) for k in KINDS) + tuple((k, True) for k in OBFUSCATABLE)


def seeded(seed: int) -> Callable[[int], bytes]:
    rng = random.Random(seed)
    return rng.randbytes


def connect(
    kind: TransportKind,
    obfuscated: bool,
    *,
    seed: int = 0,
    secret: bytes | None = None,
    dc_id: int | None = None,
    max_packet: int | None = None,
) -> tuple[Codec, ServerTransport]:
    extra = {} if max_packet is None else {"max_packet": max_packet}
    client = client_codec(
        kind,
        obfuscated=obfuscated,
        secret=secret,
        dc_id=dc_id,
        random_bytes=seeded(seed),
        **extra,
    )
    server = ServerTransport(secret=secret, random_bytes=seeded(seed + 1), **extra)
    return client, server


def payload(size: int, fill: int = 0) -> bytes:
    """A deterministic payload of ``size`` bytes (multiples of 4 for MTProto)."""
    return bytes((fill + i * 7) & 0xFF for i in range(size))


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """Split ``data`` at the (sorted, deduplicated) positions ``cuts``."""
    points = sorted({c for c in cuts if 0 < c < len(data)})
    out: list[bytes] = []
    prev = 0
    for p in [*points, len(data)]:
        out.append(data[prev:p])
        prev = p
    return out


def feed_all(codec: Codec | ServerTransport, chunks: Sequence[bytes]) -> list[Event]:
    events: list[Event] = []
    for chunk in chunks:
        events.extend(codec.feed(chunk))
    return events
