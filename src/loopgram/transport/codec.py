"""The shared shape of every MTProto transport codec (framing layer, sans-I/O).

Spec: https://core.telegram.org/mtproto/mtproto-transports and
https://core.telegram.org/mtproto/transports

A codec turns the bytes of one TCP connection into events and payloads into bytes. It never
touches a socket: drivers call :meth:`Codec.feed` with whatever arrived and write what
:meth:`Codec.encode` returns. The role (client or server) is a constructor argument, as in
h11/wsproto, because the two directions of a transport are not symmetric (quick-ack requests
go one way, quick-ack tokens and transport errors the other).

Events are frozen dataclasses:

- :class:`Packet` — one MTProto payload; ``quick_ack`` is set on the server side when the client
  asked for a quick ack.
- :class:`QuickAck` — client side: the server acknowledged the payload whose token is ``token``.
- :class:`TransportErrorPacket` — client side: the server sent a transport error (``-404``...).
"""

from __future__ import annotations

import abc
import enum
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Final, TypeAlias

from loopgram.transport.errors import ErrorCode, TransportError, TransportUsageError

__all__ = [
    "DEFAULT_MAX_PACKET",
    "Codec",
    "Event",
    "FramedCodec",
    "Packet",
    "QuickAck",
    "RandomBytes",
    "Role",
    "TransportErrorPacket",
    "TransportKind",
]

#: Largest payload accepted by default. Telegram's biggest legitimate payloads are file parts
#: (512 KiB up, 1 MiB down) inside an encrypted envelope; 4 MiB leaves room for containers while
#: bounding what one connection can make the server buffer.
DEFAULT_MAX_PACKET: Final = 4 * 1024 * 1024

#: Source of randomness (padding, obfuscation headers); injected so tests are deterministic.
RandomBytes: TypeAlias = Callable[[int], bytes]

Data: TypeAlias = bytes | bytearray | memoryview

#: Quick-ack tokens always carry the top bit: that is what keeps them apart from lengths.
QUICK_ACK_BIT: Final = 0x80000000

_INT32 = struct.Struct("<i")


class Role(enum.Enum):
    """Which end of the connection a codec speaks for."""

    CLIENT = "client"
    SERVER = "server"


class TransportKind(enum.Enum):
    """The four MTProto transport framings (obfuscation is orthogonal)."""

    ABRIDGED = "abridged"
    INTERMEDIATE = "intermediate"
    PADDED_INTERMEDIATE = "padded_intermediate"
    FULL = "full"


@dataclass(frozen=True, slots=True)
class Packet:
    """One MTProto payload, exactly as framed (see the codec for padding)."""

    payload: bytes
    quick_ack: bool = False


@dataclass(frozen=True, slots=True)
class QuickAck:
    """A quick-ack token from the server, as the little-endian uint32 with the top bit set."""

    token: int


@dataclass(frozen=True, slots=True)
class TransportErrorPacket:
    """A transport error from the server: the negative int32 it carried (e.g. ``-404``)."""

    code: int


Event: TypeAlias = Packet | QuickAck | TransportErrorPacket

# A frozen dataclass's __init__ assigns each field through object.__setattr__, which costs
# more than slicing the payload out of the stream. Every received frame makes a Packet, so
# the decoders assign its slots through their descriptors instead: the same immutable
# instance, built in about half the time.
_new = object.__new__
_set_payload = Packet.__dict__["payload"].__set__
_set_quick_ack = Packet.__dict__["quick_ack"].__set__


def make_packet(payload: bytes, quick_ack: bool = False) -> Packet:
    """``Packet(payload, quick_ack)``, built faster."""
    packet: Packet = _new(Packet)
    _set_payload(packet, payload)
    _set_quick_ack(packet, quick_ack)
    return packet


def random_exact(random_bytes: RandomBytes, n: int) -> bytes:
    """Call the injected randomness and refuse a source that returns the wrong length."""
    out = random_bytes(n)
    if len(out) != n:
        raise TransportUsageError(f"random_bytes({n}) returned {len(out)} bytes")
    return bytes(out)


def error_payload(code: int) -> bytes:
    """The 4-byte body of a transport error, after checking it is one."""
    # -1 is excluded: in padded intermediate 0xffffffff marks a quick ack.
    if not -(2**31) <= code < -1:
        raise TransportUsageError(f"transport error code must be a negative int32, not {code}")
    return _INT32.pack(code)


def check_token(token: int) -> int:
    if not QUICK_ACK_BIT <= token <= 0xFFFFFFFF:
        raise TransportUsageError(f"quick-ack token must be a uint32 with the top bit set: {token}")
    return token


class Codec(abc.ABC):
    """What every transport codec offers, framed or obfuscated."""

    role: Role

    @abc.abstractmethod
    def feed(self, data: Data) -> list[Event]:
        """Consume received bytes; return every event they complete, in order.

        Incremental: any split of the same stream into calls yields the same events. Raises
        :class:`TransportError` when the bytes cannot be framed; the codec then stays failed.
        """

    def feed_packet(self, data: Data) -> bytes | None:
        """The fast path of :meth:`feed` for the usual read: exactly one whole frame.

        Returns its payload when ``data`` is one whole frame carrying an MTProto payload, with
        nothing buffered before it and no quick-ack request -- what :meth:`feed` would report
        as ``[Packet(payload)]``, consumed as it would be. Otherwise returns ``None`` and
        consumes nothing: call :meth:`feed`. Never raises. This base version always returns
        ``None``; the plain framings recognise their common frames (a connection then makes
        no :class:`Packet` per message).
        """
        return None

    @abc.abstractmethod
    def encode(self, payload: bytes, *, quick_ack: bool = False) -> bytes:
        """Frame one payload. ``quick_ack`` (client side) asks the server to quick-ack it.

        On the client side the first call is prefixed by what opens the connection (the
        transport tag, or the obfuscation header).
        """

    @abc.abstractmethod
    def encode_quick_ack(self, token: int) -> bytes:
        """Server side: the bytes that quick-ack the client payload whose token is ``token``."""

    @abc.abstractmethod
    def encode_error(self, code: int) -> bytes:
        """Server side: the bytes of transport error ``code`` (e.g. ``ErrorCode.NOT_FOUND``)."""


#: A decoder step: parse frames from ``view`` starting at ``pos``, append events, return the
#: position of the first byte not consumed (the start of an incomplete frame).
Decoder: TypeAlias = Callable[[memoryview, int, list[Event]], int]


class FramedCodec(Codec):
    """Base of the four plain framings: buffering, tag handling, role checks.

    ``tagged`` controls the standalone protocol tag (``0xef``, ``0xeeeeeeee``...): a client sends
    it in front of its first frame and a server expects it at the start of the stream. Under
    obfuscation the tag travels inside the 64-byte header instead, so the codec is built with
    ``tagged=False``. ``max_packet`` bounds received payloads and is checked as soon as a length
    is read, before the body is buffered. ``random_bytes`` serves the framings that pad; every
    codec takes it so that all four can be built alike.
    """

    kind: ClassVar[TransportKind]
    #: The standalone tag (empty for the full transport, which has none).
    tag: ClassVar[bytes]
    #: The 4-byte tag placed in an obfuscation header; ``None`` if obfuscation is unsupported.
    obfuscation_tag: ClassVar[bytes | None]
    supports_quick_ack: ClassVar[bool]

    def __init__(
        self,
        role: Role,
        *,
        tagged: bool = True,
        max_packet: int = DEFAULT_MAX_PACKET,
        random_bytes: RandomBytes = os.urandom,
    ) -> None:
        if max_packet <= 0:
            raise TransportUsageError(f"max_packet must be positive, not {max_packet}")
        self.role = role
        self.max_packet = max_packet
        self._random_bytes = random_bytes
        self._buffer = bytearray()
        self._error: TransportError | None = None
        # Server: tag still to be checked on input. Client: tag still to be sent on output.
        self._expect_tag = tagged and role is Role.SERVER and bool(self.tag)
        self._send_tag = tagged and role is Role.CLIENT and bool(self.tag)
        # The failure code this side would answer with: clients never send transport errors.
        self._fail_code: int | None = ErrorCode.NOT_FOUND if role is Role.SERVER else None
        self._decoder: Decoder = self._decode_server if role is Role.SERVER else self._decode_client

    # -- input -----------------------------------------------------------------------------

    def feed(self, data: Data) -> list[Event]:
        if self._error is not None:
            raise self._error
        events: list[Event] = []
        if not data:
            return events
        buf = self._buffer
        # Parse straight from the caller's bytes when nothing is pending: the common case of
        # whole frames per read then never copies the stream into the buffer.
        src: Data
        if buf:
            buf += data
            src = buf
        else:
            src = data
        try:
            pos = 0
            if self._expect_tag:
                pos = self._check_tag(src)
                if pos < 0:
                    if src is not buf:
                        buf += src
                    return events
            with memoryview(src) as view:
                pos = self._decoder(view, pos, events)
        except TransportError as exc:
            self._error = exc
            buf.clear()
            raise
        if src is buf:
            del buf[:pos]
        elif pos < len(src):
            buf += src[pos:]
        return events

    def _check_tag(self, src: Data) -> int:
        """Return the tag length once it has been seen whole, ``-1`` while it is partial."""
        tag = self.tag
        n = len(tag)
        head = bytes(src[:n])
        if head != tag[: len(head)]:
            raise self._fail(f"stream does not start with the {self.kind.value} tag {tag.hex()}")
        if len(head) < n:
            return -1
        self._expect_tag = False
        return n

    def _fail(self, message: str) -> TransportError:
        return TransportError(message, code=self._fail_code)

    def _bad_length(self, length: int) -> TransportError:
        if length <= 0:
            return self._fail(f"{self.kind.value}: empty frame")
        if length > self.max_packet:
            return self._fail(
                f"{self.kind.value}: frame of {length} bytes exceeds max_packet={self.max_packet}"
            )
        return self._fail(f"{self.kind.value}: frame length {length} is not a multiple of 4")

    @abc.abstractmethod
    def _decode_server(self, view: memoryview, pos: int, events: list[Event]) -> int: ...

    @abc.abstractmethod
    def _decode_client(self, view: memoryview, pos: int, events: list[Event]) -> int: ...

    # -- output ----------------------------------------------------------------------------

    def encode(self, payload: bytes, *, quick_ack: bool = False) -> bytes:
        if quick_ack and (self.role is not Role.CLIENT or not self.supports_quick_ack):
            raise TransportUsageError(
                f"{self.kind.value}: only a client can request quick acks"
                if self.supports_quick_ack
                else f"{self.kind.value} has no quick acks"
            )
        if not payload:
            raise TransportUsageError("cannot frame an empty payload")
        frame = self._frame(payload, quick_ack)
        if self._send_tag:
            self._send_tag = False
            return self.tag + frame
        return frame

    def encode_quick_ack(self, token: int) -> bytes:
        self._require_server("quick acks")
        if not self.supports_quick_ack:
            raise TransportUsageError(f"{self.kind.value} has no quick acks")
        return self._frame_quick_ack(check_token(token))

    def encode_error(self, code: int) -> bytes:
        self._require_server("transport errors")
        return self._frame(error_payload(code), False)

    def _require_server(self, what: str) -> None:
        if self.role is not Role.SERVER:
            raise TransportUsageError(f"only the server sends {what}")

    @abc.abstractmethod
    def _frame(self, payload: bytes, quick_ack: bool) -> bytes: ...

    def _frame_quick_ack(self, token: int) -> bytes:
        raise TransportUsageError(f"{self.kind.value} has no quick acks")
