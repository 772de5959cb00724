"""MTProto layer: the unencrypted message envelope that carries the key exchange.

Spec: core.telegram.org/mtproto/description, "Unencrypted Message", and
core.telegram.org/mtproto/auth_key (every key-exchange message travels this way):

    auth_key_id = 0 (int64) | message_id (int64) | message_data_length (int32) | message_data

All integers little-endian. The envelope is what a transport packet holds once framing is
removed. Bytes beyond ``message_data_length`` are tolerated: the padded intermediate
transport appends 0..15 random bytes to every packet. What ``message_id`` must look like
(client ids divisible by 4, server ids odd) is the caller's business; this module only cuts.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from loopgram import LoopgramError

__all__ = [
    "PLAIN_HEADER_SIZE",
    "PlainMessage",
    "PlainMessageError",
    "decode_plain",
    "encode_plain",
]

PLAIN_HEADER_SIZE: Final = 20
"""auth_key_id (8) + message_id (8) + message_data_length (4)."""

_HEADER: Final = struct.Struct("<qqi")
_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1
_INT32_MAX: Final = (1 << 31) - 1


class PlainMessageError(LoopgramError):
    """A payload is not a well-formed unencrypted message.

    Raised for data shorter than the 20-byte header, a nonzero ``auth_key_id`` (the packet
    is encrypted, or garbage), a negative ``message_data_length`` or one that runs past the
    end of the data. A server answers a client's malformed packet with transport error -404.
    """


@dataclass(frozen=True, slots=True)
class PlainMessage:
    """One decoded unencrypted message: its ``message_id`` and ``message_data``."""

    msg_id: int
    body: bytes


def encode_plain(msg_id: int, body: bytes) -> bytes:
    """The envelope around ``body``: ``0 (int64) + msg_id (int64) + len(body) (int32) + body``.

    ``msg_id`` is the signed 64-bit value of the TL ``long``.
    """
    if not _INT64_MIN <= msg_id <= _INT64_MAX:
        raise ValueError(f"msg_id {msg_id} does not fit a signed 64-bit integer")
    if len(body) > _INT32_MAX:
        raise ValueError(f"message_data of {len(body)} bytes does not fit an int32 length")
    return _HEADER.pack(0, msg_id, len(body)) + body


def decode_plain(payload: bytes) -> PlainMessage:
    """Split an unencrypted message into ``msg_id`` and body.

    Raises :class:`PlainMessageError` for short data, a nonzero ``auth_key_id`` or a
    ``message_data_length`` that is negative or longer than what follows the header.
    Trailing bytes after the declared length are ignored (transport padding).
    """
    if len(payload) < PLAIN_HEADER_SIZE:
        raise PlainMessageError(
            f"unencrypted message of {len(payload)} bytes is shorter than its 20-byte header"
        )
    auth_key_id, msg_id, length = _HEADER.unpack_from(payload)
    if auth_key_id != 0:
        raise PlainMessageError(f"auth_key_id is {auth_key_id:#x}, not 0: not a plain message")
    if length < 0 or PLAIN_HEADER_SIZE + length > len(payload):
        raise PlainMessageError(
            f"message_data_length {length} does not fit the {len(payload) - 20} bytes present"
        )
    return PlainMessage(msg_id, bytes(payload[PLAIN_HEADER_SIZE : PLAIN_HEADER_SIZE + length]))
