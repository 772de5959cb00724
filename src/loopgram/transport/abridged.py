"""Abridged MTProto transport (tag ``0xef``): framing layer.

Spec: https://core.telegram.org/mtproto/mtproto-transports#abridged

Frames carry the payload length divided by four: one byte when it is below 127, else ``0x7f``
followed by three little-endian bytes. Payloads must therefore be multiples of 4 bytes.

Client to server, the top bit of the first byte requests a quick ack (``0x80 | n`` or ``0xff``).
Server to client, a first byte with the top bit set cannot be a length (server lengths never
exceed ``0x7f``), which is how a quick ack travels: the token's four bytes *byte-swapped*, with no
length header. A transport error is an ordinary frame holding a 4-byte payload.
"""

from __future__ import annotations

import struct
from typing import Final

from loopgram.transport.codec import (
    Data,
    Event,
    FramedCodec,
    QuickAck,
    TransportErrorPacket,
    make_packet,
)
from loopgram.transport.codec import TransportKind as _Kind
from loopgram.transport.errors import TransportUsageError

__all__ = ["AbridgedCodec"]

_U32 = struct.Struct("<I")
_U32_BE = struct.Struct(">I")
_I32 = struct.Struct("<i")
_LONG: Final = 0x7F
_QUICK_ACK: Final = 0x80
# Lengths are counted in 4-byte words over 3 bytes.
_MAX_WORDS: Final = (1 << 24) - 1
_SHORT_HEADERS: Final = tuple(bytes((words,)) for words in range(_LONG))


class AbridgedCodec(FramedCodec):
    """Abridged framing for one role. See :class:`~loopgram.transport.codec.FramedCodec`."""

    kind = _Kind.ABRIDGED
    tag = b"\xef"
    obfuscation_tag = b"\xef\xef\xef\xef"
    supports_quick_ack = True

    # -- hot paths: one encrypted packet out, one frame in -------------------------------------
    # Every RPC crosses both once per side. FramedCodec's general loop (memoryview, decoder
    # call, buffer bookkeeping) and encode checks cost about as much as a small payload's
    # framing itself, so the common shapes are recognised here first; everything else --
    # quick acks, the tag, partial or several frames, errors -- goes the general way.

    def feed(self, data: Data) -> list[Event]:
        payload = self.feed_packet(data)
        if payload is not None:
            return [make_packet(payload)]
        return super().feed(data)

    def feed_packet(self, data: Data) -> bytes | None:
        # One whole short frame, nothing pending: the payload is sliced from the bytes. The
        # first byte must be a plain length below 0x7f: a quick-ack request, a long length or
        # (to a client) a token is left to the loop, and so are frames of at most 4 bytes (a
        # client's transport error).
        if (
            type(data) is bytes
            and len(data) > 8
            and self._error is None
            and not self._buffer
            and not self._expect_tag
        ):
            words = data[0]
            if words < _LONG and words << 2 == len(data) - 1 and words << 2 <= self.max_packet:
                return data[1:]
        return None

    def encode(self, payload: bytes, *, quick_ack: bool = False) -> bytes:
        size = len(payload)
        if size and not (quick_ack or self._send_tag or size & 3):
            words = size >> 2
            if words < _LONG:
                return _SHORT_HEADERS[words] + payload
            if words <= _MAX_WORDS:
                return _U32.pack(words << 8 | _LONG) + payload
        return super().encode(payload, quick_ack=quick_ack)

    # -- the general decoders --------------------------------------------------------------

    def _decode_server(self, view: memoryview, pos: int, events: list[Event]) -> int:
        end = len(view)
        while pos < end:
            first = view[pos]
            if first & _LONG == _LONG:
                if end - pos < 4:
                    break
                length = (_U32.unpack_from(view, pos)[0] >> 8) << 2
                start = pos + 4
            else:
                length = (first & _LONG) << 2
                start = pos + 1
            if length <= 0 or length > self.max_packet:
                raise self._bad_length(length)
            stop = start + length
            if stop > end:
                break
            events.append(make_packet(view[start:stop].tobytes(), first >= _QUICK_ACK))
            pos = stop
        return pos

    def _decode_client(self, view: memoryview, pos: int, events: list[Event]) -> int:
        end = len(view)
        while pos < end:
            first = view[pos]
            if first >= _QUICK_ACK:
                if end - pos < 4:
                    break
                events.append(QuickAck(_U32_BE.unpack_from(view, pos)[0]))
                pos += 4
                continue
            if first == _LONG:
                if end - pos < 4:
                    break
                length = (_U32.unpack_from(view, pos)[0] >> 8) << 2
                start = pos + 4
            else:
                length = first << 2
                start = pos + 1
            if length <= 0 or length > self.max_packet:
                raise self._bad_length(length)
            stop = start + length
            if stop > end:
                break
            if length == 4:
                events.append(TransportErrorPacket(_I32.unpack_from(view, start)[0]))
            else:
                events.append(make_packet(view[start:stop].tobytes()))
            pos = stop
        return pos

    def _frame(self, payload: bytes, quick_ack: bool) -> bytes:
        size = len(payload)
        if size & 3:
            raise TransportUsageError(f"abridged payloads are multiples of 4 bytes, not {size}")
        words = size >> 2
        if words < _LONG:
            return bytes((words | _QUICK_ACK if quick_ack else words,)) + payload
        if words > _MAX_WORDS:
            raise TransportUsageError(f"payload of {size} bytes is too long for abridged")
        header = _U32.pack(words << 8 | (0xFF if quick_ack else _LONG))
        return header + payload

    def _frame_quick_ack(self, token: int) -> bytes:
        return _U32_BE.pack(token)
