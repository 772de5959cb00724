"""loopgram.transport — MTProto transport framing, sans-I/O, for clients and servers.

The layer under MTProto messages and above TCP. Specs:
https://core.telegram.org/mtproto/mtproto-transports (abridged, intermediate, padded
intermediate, full, quick ack), https://core.telegram.org/mtproto/transports,
https://core.telegram.org/mtproto/mtproto-transports#transport-obfuscation (obfuscated2) and
https://core.telegram.org/mtproto/mtproto-transports#transport-errors.

No sockets and no asyncio: a codec consumes received bytes with ``feed`` and returns events
(:class:`Packet`, :class:`QuickAck`, :class:`TransportErrorPacket`), and turns payloads into
bytes with ``encode``. Clients build their codec with :func:`client_codec`; a server wraps each
connection in a :class:`ServerTransport`, which detects the transport from the first bytes.
This package imports nothing of loopgram but :class:`loopgram.LoopgramError`.
"""

from __future__ import annotations

from loopgram.transport.abridged import AbridgedCodec
from loopgram.transport.codec import (
    DEFAULT_MAX_PACKET,
    Codec,
    Event,
    FramedCodec,
    Packet,
    QuickAck,
    RandomBytes,
    Role,
    TransportErrorPacket,
    TransportKind,
)
from loopgram.transport.detect import Detection, ServerTransport, detect
from loopgram.transport.errors import ErrorCode, TransportError, TransportUsageError
from loopgram.transport.factory import client_codec, codec_class
from loopgram.transport.full import FullCodec
from loopgram.transport.intermediate import IntermediateCodec, PaddedIntermediateCodec
from loopgram.transport.obfuscated import ObfuscatedCodec

__all__ = [
    "DEFAULT_MAX_PACKET",
    "AbridgedCodec",
    "Codec",
    "Detection",
    "ErrorCode",
    "Event",
    "FramedCodec",
    "FullCodec",
    "IntermediateCodec",
    "ObfuscatedCodec",
    "Packet",
    "PaddedIntermediateCodec",
    "QuickAck",
    "RandomBytes",
    "Role",
    "ServerTransport",
    "TransportError",
    "TransportErrorPacket",
    "TransportKind",
    "TransportUsageError",
    "client_codec",
    "codec_class",
    "detect",
]
