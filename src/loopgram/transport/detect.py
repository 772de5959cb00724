"""Server-side transport detection: one port, every MTProto transport (framing layer).

Spec: https://core.telegram.org/mtproto/mtproto-transports (the server "recognizes these
different protocols (and distinguishes them from HTTP, too) by the header") and
https://core.telegram.org/mtproto/mtproto-transports#transport-obfuscation

Decision on the first bytes of a connection, taking as few as possible:

1. ``0xef`` — abridged (1 byte).
2. ``0xeeeeeeee`` — intermediate; ``0xdddddddd`` — padded intermediate (4 bytes).
3. ``HEAD``, ``POST``, ``GET ``, ``OPTI`` or a TLS record ``16 03 01 02`` — HTTP or TLS,
   unsupported: :class:`TransportError` with ``code=None`` (there is no framing to answer in).
4. bytes 4..8 all zero — the full transport, whose first frame has ``seq`` 0 (8 bytes). The
   obfuscation header is forbidden from having a zero second word precisely so this is sound.
5. anything else — an obfuscated2 header; its encrypted tag is checked once all 64 bytes are in,
   and a header without a known tag is refused.

Could a full-transport first frame pass for a tag? Its length is ``12 + payload`` with the
payload a multiple of 4 (MTProto messages are; the full codec rejects other lengths), so its
first byte is a multiple of 4 while ``0xef``, ``0xee`` and ``0xdd`` are not. A full length that
spells an HTTP verb or a TLS record is at least 33 MB, beyond any sane ``max_packet``. So the
order above never misreads a conforming client.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from loopgram.transport.abridged import AbridgedCodec
from loopgram.transport.codec import (
    DEFAULT_MAX_PACKET,
    Codec,
    Data,
    Event,
    FramedCodec,
    RandomBytes,
    Role,
    TransportKind,
)
from loopgram.transport.errors import TransportError, TransportUsageError
from loopgram.transport.full import FullCodec
from loopgram.transport.intermediate import IntermediateCodec, PaddedIntermediateCodec
from loopgram.transport.obfuscated import ObfuscatedCodec

__all__ = ["Detection", "ServerTransport", "detect"]

_UNSUPPORTED: Final = {
    b"HEAD": "HTTP",
    b"POST": "HTTP",
    b"GET ": "HTTP",
    b"OPTI": "HTTP",
    b"\x16\x03\x01\x02": "TLS",
}
_PLAIN_BY_WORD: Final[dict[bytes, type[FramedCodec]]] = {
    IntermediateCodec.tag: IntermediateCodec,
    PaddedIntermediateCodec.tag: PaddedIntermediateCodec,
}
_ZERO_WORD: Final = b"\x00" * 4


@dataclass(frozen=True, slots=True)
class Detection:
    """What the first bytes announce. For obfuscated2 the inner ``kind`` is read later from
    the 64-byte header, so it is ``None`` here."""

    kind: TransportKind | None
    obfuscated: bool


def detect(prefix: Data) -> Detection | None:
    """Classify a connection from its first bytes; ``None`` means "need more bytes".

    Raises :class:`TransportError` (``code=None``) for HTTP and TLS openings.
    """
    if not prefix:
        return None
    if prefix[0] == 0xEF:
        return Detection(TransportKind.ABRIDGED, False)
    if len(prefix) < 4:
        return None
    word = bytes(prefix[:4])
    plain = _PLAIN_BY_WORD.get(word)
    if plain is not None:
        return Detection(plain.kind, False)
    protocol = _UNSUPPORTED.get(word)
    if protocol is not None:
        raise TransportError(f"{protocol} is not an MTProto transport", code=None)
    if len(prefix) < 8:
        return None
    if bytes(prefix[4:8]) == _ZERO_WORD:
        return Detection(TransportKind.FULL, False)
    return Detection(None, True)


class ServerTransport:
    """The server end of one connection: detects the transport, then frames with it.

    ``feed`` buffers the opening bytes until :func:`detect` decides (so any chunking works, down
    to one byte per call), then builds the matching server codec, hands it everything received
    so far, and delegates from then on. ``encode``/``encode_quick_ack``/``encode_error`` need
    the transport to be known (:attr:`kind`), else :class:`TransportUsageError`.

    ``secret`` is the MTProxy secret applied to obfuscated2 keys (plain transports ignore it);
    ``max_packet`` bounds payloads; ``random_bytes`` feeds the padded intermediate padding.
    """

    def __init__(
        self,
        *,
        max_packet: int = DEFAULT_MAX_PACKET,
        secret: bytes | None = None,
        random_bytes: RandomBytes = os.urandom,
    ) -> None:
        if max_packet <= 0:
            raise TransportUsageError(f"max_packet must be positive, not {max_packet}")
        self.max_packet = max_packet
        self._secret = secret
        self._random_bytes = random_bytes
        self._opening = bytearray()
        self._codec: Codec | None = None
        self._error: TransportError | None = None
        if secret is not None:
            # Fail at construction, not on the first obfuscated client.
            ObfuscatedCodec(Role.SERVER, secret=secret)

    @property
    def codec(self) -> Codec | None:
        """The codec in use once detection is done."""
        return self._codec

    @property
    def kind(self) -> TransportKind | None:
        """The framing in use; ``None`` until known (for obfuscated2: until the header)."""
        codec = self._codec
        if isinstance(codec, ObfuscatedCodec):
            return codec.kind
        if isinstance(codec, FramedCodec):
            return codec.kind
        return None

    @property
    def obfuscated(self) -> bool:
        return isinstance(self._codec, ObfuscatedCodec)

    @property
    def dc_id(self) -> int | None:
        """The DC id of an obfuscated2 header (meaningful only from MTProxy-aware clients)."""
        codec = self._codec
        return codec.dc_id if isinstance(codec, ObfuscatedCodec) else None

    def feed(self, data: Data) -> list[Event]:
        codec = self._codec
        if codec is not None:
            return codec.feed(data)
        if self._error is not None:
            raise self._error
        opening = self._opening
        opening += data
        try:
            found = detect(opening)
        except TransportError as exc:
            self._error = exc
            opening.clear()
            raise
        if found is None:
            return []
        codec = self._build(found)
        self._codec = codec
        stream = bytes(opening)
        opening.clear()
        return codec.feed(stream)

    def _build(self, found: Detection) -> Codec:
        if found.obfuscated:
            return ObfuscatedCodec(
                Role.SERVER,
                secret=self._secret,
                max_packet=self.max_packet,
                random_bytes=self._random_bytes,
            )
        cls: type[FramedCodec]
        if found.kind is TransportKind.ABRIDGED:
            cls = AbridgedCodec
        elif found.kind is TransportKind.INTERMEDIATE:
            cls = IntermediateCodec
        elif found.kind is TransportKind.PADDED_INTERMEDIATE:
            cls = PaddedIntermediateCodec
        else:
            cls = FullCodec
        # The opening bytes still hold the tag: the codec checks and consumes it itself.
        return cls(
            Role.SERVER, tagged=True, max_packet=self.max_packet, random_bytes=self._random_bytes
        )

    def _ready(self) -> Codec:
        codec = self._codec
        if codec is None:
            raise TransportUsageError("the transport has not been detected yet")
        return codec

    def encode(self, payload: bytes) -> bytes:
        """Frame one payload for the client."""
        return self._ready().encode(payload)

    def encode_quick_ack(self, token: int) -> bytes:
        return self._ready().encode_quick_ack(token)

    def encode_error(self, code: int) -> bytes:
        return self._ready().encode_error(code)
