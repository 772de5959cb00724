"""Intermediate (tag ``0xeeeeeeee``) and padded intermediate (tag ``0xdddddddd``) transports.

Framing layer. Spec: https://core.telegram.org/mtproto/mtproto-transports#intermediate and
https://core.telegram.org/mtproto/mtproto-transports#padded-intermediate

Intermediate frames are a 4-byte little-endian length then the payload. The top bit of the
length is the client's quick-ack request; in the other direction a "length" with the top bit set
is a quick-ack token sent bare (a real length never reaches 2**31). Payloads are MTProto
messages, always a multiple of 4 bytes, and a frame that is not is rejected.

Padded intermediate appends 0-15 random bytes to each payload and counts them in the length.
The receiver cannot tell padding from payload, so :class:`Packet` payloads from this codec
**include the padding**: the MTProto layer above ignores trailing bytes (an unencrypted message
carries its own length, an encrypted one is 24 bytes of header plus whole 16-byte AES blocks).
The server's quick ack here is a framed 8-16 byte packet: ``0xffffffff``, the token, and 0-8
random bytes. Frames shorter than 24 bytes — the smallest possible MTProto message — are how
a client tells quick acks and transport errors apart from messages.
"""

from __future__ import annotations

import os
import struct
from typing import ClassVar, Final

from loopgram.transport.codec import (
    DEFAULT_MAX_PACKET,
    QUICK_ACK_BIT,
    Data,
    Event,
    FramedCodec,
    QuickAck,
    RandomBytes,
    Role,
    TransportErrorPacket,
    make_packet,
    random_exact,
)
from loopgram.transport.codec import TransportKind as _Kind
from loopgram.transport.errors import TransportUsageError

__all__ = ["IntermediateCodec", "PaddedIntermediateCodec"]

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_LENGTH_MASK: Final = 0x7FFFFFFF
# Smallest MTProto message: auth_key_id, msg_id, length, one constructor id.
_MIN_MESSAGE: Final = 24
_ACK_MARKER: Final = 0xFFFFFFFF
_ACK_HEADER: Final = b"\xff\xff\xff\xff"
_ACK_MAX_PADDING: Final = 8
_SPEC_MAX_PADDING: Final = 15


class _IntermediateFraming(FramedCodec):
    """What both intermediate framings share: a client frame is a length, its top bit the
    quick-ack request, then the payload."""

    supports_quick_ack = True
    #: Length bits that must be zero: 3 where payloads are whole 4-byte words, 0 if padded.
    _align: ClassVar[int]

    def feed(self, data: Data) -> list[Event]:
        payload = self.feed_packet(data)
        if payload is not None:
            return [make_packet(payload)]
        return super().feed(data)

    def feed_packet(self, data: Data) -> bytes | None:
        # One whole frame of a message (>= 24 bytes), nothing pending: the payload is sliced
        # from the bytes. A length with the top bit set (a quick-ack request, or to a client a
        # token) is left to the loop, and so are quick acks and errors, shorter than that.
        if (
            type(data) is bytes
            and len(data) >= 4 + _MIN_MESSAGE
            and self._error is None
            and not self._buffer
            and not self._expect_tag
        ):
            length = _U32.unpack_from(data)[0]
            if (
                length == len(data) - 4
                and length <= self.max_packet
                and length < QUICK_ACK_BIT
                and not length & self._align
            ):
                return data[4:]
        return None

    def _decode_server(self, view: memoryview, pos: int, events: list[Event]) -> int:
        end = len(view)
        max_packet = self.max_packet
        align = self._align
        while end - pos >= 4:
            raw = _U32.unpack_from(view, pos)[0]
            length = raw & _LENGTH_MASK
            if length <= 0 or length > max_packet or length & align:
                raise self._bad_length(length)
            start = pos + 4
            stop = start + length
            if stop > end:
                break
            events.append(make_packet(view[start:stop].tobytes(), raw > _LENGTH_MASK))
            pos = stop
        return pos


class IntermediateCodec(_IntermediateFraming):
    """Intermediate framing for one role. See :class:`~loopgram.transport.codec.FramedCodec`."""

    kind = _Kind.INTERMEDIATE
    tag = b"\xee\xee\xee\xee"
    obfuscation_tag = tag
    _align = 3

    def _decode_client(self, view: memoryview, pos: int, events: list[Event]) -> int:
        end = len(view)
        max_packet = self.max_packet
        while end - pos >= 4:
            length = _U32.unpack_from(view, pos)[0]
            if length >= QUICK_ACK_BIT:
                events.append(QuickAck(length))
                pos += 4
                continue
            if length <= 0 or length > max_packet or length & 3:
                raise self._bad_length(length)
            start = pos + 4
            stop = start + length
            if stop > end:
                break
            if length == 4:
                events.append(TransportErrorPacket(_I32.unpack_from(view, start)[0]))
            else:
                events.append(make_packet(view[start:stop].tobytes()))
            pos = stop
        return pos

    def encode(self, payload: bytes, *, quick_ack: bool = False) -> bytes:
        # The hot path of every encrypted packet: FramedCodec.encode's checks and _frame, in
        # one call. Quick acks, the tag and payloads that would fail go the general way.
        size = len(payload)
        if size and not (quick_ack or self._send_tag or size & 3) and size <= _LENGTH_MASK:
            return _U32.pack(size) + payload
        return super().encode(payload, quick_ack=quick_ack)

    def _frame(self, payload: bytes, quick_ack: bool) -> bytes:
        size = len(payload)
        if size & 3:
            raise TransportUsageError(f"intermediate payloads are multiples of 4 bytes, not {size}")
        if size > _LENGTH_MASK:
            raise TransportUsageError(f"payload of {size} bytes is too long for intermediate")
        return _U32.pack(size | QUICK_ACK_BIT if quick_ack else size) + payload

    def _frame_quick_ack(self, token: int) -> bytes:
        return _U32.pack(token)


class PaddedIntermediateCodec(_IntermediateFraming):
    """Padded intermediate framing for one role.

    ``max_padding`` bounds the random padding added to each frame (the spec allows 0-15). It
    defaults to 15 for clients and to 3 for servers: some client libraries (Telethon among them)
    strip only ``len % 4`` trailing bytes, so a server padding a 4-aligned payload by at most 3
    stays readable by them while still within the spec.
    """

    kind = _Kind.PADDED_INTERMEDIATE
    tag = b"\xdd\xdd\xdd\xdd"
    obfuscation_tag = tag
    _align = 0

    def __init__(
        self,
        role: Role,
        *,
        tagged: bool = True,
        max_packet: int = DEFAULT_MAX_PACKET,
        random_bytes: RandomBytes = os.urandom,
        max_padding: int | None = None,
    ) -> None:
        super().__init__(role, tagged=tagged, max_packet=max_packet, random_bytes=random_bytes)
        if max_padding is None:
            max_padding = _SPEC_MAX_PADDING if role is Role.CLIENT else 3
        if not 0 <= max_padding <= _SPEC_MAX_PADDING:
            raise TransportUsageError(f"max_padding must be within 0..15, not {max_padding}")
        self.max_padding = max_padding

    def _padding(self, limit: int) -> bytes:
        if limit == 0:
            return b""
        # One call to the random source per frame: a length byte and enough bytes to cut from.
        rnd = random_exact(self._random_bytes, limit + 1)
        return rnd[1 : 1 + rnd[0] % (limit + 1)]

    def _decode_client(self, view: memoryview, pos: int, events: list[Event]) -> int:
        end = len(view)
        max_packet = self.max_packet
        while end - pos >= 4:
            length = _U32.unpack_from(view, pos)[0]
            if length >= QUICK_ACK_BIT:
                # The bare form of plain intermediate; older servers used it here as well.
                events.append(QuickAck(length))
                pos += 4
                continue
            if length <= 0 or length > max_packet:
                raise self._bad_length(length)
            start = pos + 4
            stop = start + length
            if stop > end:
                break
            if length >= _MIN_MESSAGE:
                events.append(make_packet(view[start:stop].tobytes()))
            elif length >= 8 and _U32.unpack_from(view, start)[0] == _ACK_MARKER:
                events.append(QuickAck(_U32.unpack_from(view, start + 4)[0]))
            elif length >= 4:
                events.append(TransportErrorPacket(_I32.unpack_from(view, start)[0]))
            else:
                raise self._fail(f"padded intermediate: {length}-byte frame carries nothing")
            pos = stop
        return pos

    def _frame(self, payload: bytes, quick_ack: bool) -> bytes:
        padding = self._padding(self.max_padding)
        size = len(payload) + len(padding)
        if size > _LENGTH_MASK:
            raise TransportUsageError(f"payload of {size} bytes is too long for intermediate")
        return b"".join((_U32.pack(size | QUICK_ACK_BIT if quick_ack else size), payload, padding))

    def _frame_quick_ack(self, token: int) -> bytes:
        padding = self._padding(_ACK_MAX_PADDING)
        return b"".join((_U32.pack(8 + len(padding)), _ACK_HEADER, _U32.pack(token), padding))
