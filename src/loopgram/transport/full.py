"""Full MTProto transport (no tag): framing layer with sequence numbers and CRC32.

Spec: https://core.telegram.org/mtproto/mtproto-transports#full

A frame is ``length | seq | payload | crc``: the length counts all four parts, ``seq`` numbers
the frames of one direction of one connection from 0, and the CRC32 covers everything before it.
Both are checked on receipt; a mismatch means the stream is corrupt or out of step, which is
fatal. The full transport has no tag (the server recognises it by a first frame whose ``seq`` is
0), no quick acks, and cannot be obfuscated.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import Final

from loopgram.transport.codec import (
    DEFAULT_MAX_PACKET,
    Event,
    FramedCodec,
    RandomBytes,
    Role,
    TransportErrorPacket,
    make_packet,
)
from loopgram.transport.codec import TransportKind as _Kind
from loopgram.transport.errors import TransportUsageError

__all__ = ["FullCodec"]

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_HEADER = struct.Struct("<II")
_OVERHEAD: Final = 12
_SEQ_MASK: Final = 0xFFFFFFFF
_MAX_LENGTH: Final = 0x7FFFFFFF


class FullCodec(FramedCodec):
    """Full framing for one role. See :class:`~loopgram.transport.codec.FramedCodec`.

    ``tagged`` and ``random_bytes`` are accepted for a uniform constructor and have no effect.
    """

    kind = _Kind.FULL
    tag = b""
    obfuscation_tag = None
    supports_quick_ack = False

    def __init__(
        self,
        role: Role,
        *,
        tagged: bool = True,
        max_packet: int = DEFAULT_MAX_PACKET,
        random_bytes: RandomBytes = os.urandom,
    ) -> None:
        super().__init__(role, tagged=tagged, max_packet=max_packet, random_bytes=random_bytes)
        self._send_seq = 0
        self._recv_seq = 0
        # Client side: set once the server has sent a bare negative length (see below).
        self._halted = False

    def _decode(self, view: memoryview, pos: int, events: list[Event], client: bool) -> int:
        end = len(view)
        max_packet = self.max_packet
        while end - pos >= 4:
            length = _U32.unpack_from(view, pos)[0]
            if client and length > _MAX_LENGTH:
                # Telegram has been seen answering with a bare negative int32 (repeated, not
                # framed) instead of a framed transport error. Nothing after it can be framed.
                events.append(TransportErrorPacket(_I32.unpack_from(view, pos)[0]))
                self._halted = True
                return end
            size = length - _OVERHEAD
            if size <= 0 or size > max_packet or size & 3:
                raise self._bad_length(size)
            stop = pos + length
            if stop > end:
                break
            crc_at = stop - 4
            if zlib.crc32(view[pos:crc_at]) != _U32.unpack_from(view, crc_at)[0]:
                raise self._fail(f"full: CRC32 mismatch in frame {self._recv_seq}")
            seq = _U32.unpack_from(view, pos + 4)[0]
            if seq != self._recv_seq:
                raise self._fail(f"full: sequence number {seq}, expected {self._recv_seq}")
            self._recv_seq = (seq + 1) & _SEQ_MASK
            if client and size == 4:
                events.append(TransportErrorPacket(_I32.unpack_from(view, pos + 8)[0]))
            else:
                events.append(make_packet(view[pos + 8 : crc_at].tobytes()))
            pos = stop
        return pos

    def _decode_server(self, view: memoryview, pos: int, events: list[Event]) -> int:
        return self._decode(view, pos, events, False)

    def _decode_client(self, view: memoryview, pos: int, events: list[Event]) -> int:
        if self._halted:
            return len(view)
        return self._decode(view, pos, events, True)

    def _frame(self, payload: bytes, quick_ack: bool) -> bytes:
        size = len(payload)
        if size & 3:
            raise TransportUsageError(f"full payloads are multiples of 4 bytes, not {size}")
        if size > _MAX_LENGTH - _OVERHEAD:
            raise TransportUsageError(f"payload of {size} bytes is too long for full")
        header = _HEADER.pack(size + _OVERHEAD, self._send_seq)
        self._send_seq = (self._send_seq + 1) & _SEQ_MASK
        crc = zlib.crc32(payload, zlib.crc32(header))
        return b"".join((header, payload, _U32.pack(crc)))
