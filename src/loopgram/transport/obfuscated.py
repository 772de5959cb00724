"""Obfuscated2 transport obfuscation: AES-256-CTR under abridged/intermediate/padded framing.

Framing layer. Spec: https://core.telegram.org/mtproto/mtproto-transports#transport-obfuscation

The client opens with a 64-byte random header. Bytes 8..40 and 40..56 are the key and IV of the
client-to-server AES-256-CTR stream; the same 48 bytes reversed give the server-to-client key and
IV. With an MTProxy secret each key becomes ``SHA256(key + secret)``. Bytes 56..60 hold the inner
transport's 4-byte tag and 60..62 a signed little-endian DC id (only meaningful to MTProxies;
otherwise random). The client encrypts the whole header with its stream and sends the plain
bytes 0..56 followed by the *encrypted* bytes 56..64, so only a holder of the keys (derived from
the header itself, plus the secret) reads the tag. Both streams then run on, never reset, over
every later byte of the connection.

The first eight header bytes must not look like another protocol: first byte ``0xef``, first
word a plain tag, an HTTP verb or a TLS record, or a zero second word (the full transport's
first ``seq``), which is how the server's detector can tell all of them apart.

The AES-CTR helper here is private on purpose: the transport layer depends on nothing of
loopgram (``loopgram.crypto`` sits beside it), so it drives ``cryptography`` directly.
"""

from __future__ import annotations

import hashlib
import os
import struct
from typing import Final

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

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
    random_exact,
)
from loopgram.transport.errors import TransportError, TransportUsageError
from loopgram.transport.intermediate import IntermediateCodec, PaddedIntermediateCodec

__all__ = ["HEADER_SIZE", "ObfuscatedCodec"]

HEADER_SIZE: Final = 64

#: First words a header must avoid, as they would be read as another protocol: the HTTP verbs
#: the servers accept, a TLS ClientHello record (``0x02010316`` little-endian) and plain tags.
FORBIDDEN_FIRST_WORDS: Final = frozenset(
    {b"HEAD", b"POST", b"GET ", b"OPTI", b"\x16\x03\x01\x02", b"\xdd" * 4, b"\xee" * 4}
)
_ZERO_WORD: Final = b"\x00" * 4
_DC_ID = struct.Struct("<h")
# About 1 draw in 256 is refused (first byte 0xef): a source refused this often is broken.
_MAX_ATTEMPTS: Final = 1000

_INNER_BY_TAG: Final[dict[bytes, type[FramedCodec]]] = {
    b"\xef\xef\xef\xef": AbridgedCodec,
    IntermediateCodec.tag: IntermediateCodec,
    PaddedIntermediateCodec.tag: PaddedIntermediateCodec,
}


class _AesCtr:
    """One direction's AES-256-CTR keystream, kept running across calls."""

    __slots__ = ("_update",)

    def __init__(self, key: bytes, iv: bytes) -> None:
        self._update = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor().update

    def __call__(self, data: Data) -> bytes:
        return self._update(data)


def _normalise_secret(secret: bytes | None) -> bytes | None:
    if secret is None:
        return None
    # A 17-byte secret is the 16-byte one behind a transport hint byte (0xdd...), per the spec.
    if len(secret) == 17:
        return bytes(secret[1:])
    if len(secret) != 16:
        raise TransportUsageError(f"an MTProxy secret is 16 bytes (or 17), not {len(secret)}")
    return bytes(secret)


def _streams(header: bytes, secret: bytes | None) -> tuple[_AesCtr, _AesCtr]:
    """The (client-to-server, server-to-client) ciphers a header defines."""
    forward = header[8:56]
    backward = forward[::-1]
    up_key, up_iv = forward[:32], forward[32:]
    down_key, down_iv = backward[:32], backward[32:]
    if secret is not None:
        up_key = hashlib.sha256(up_key + secret).digest()
        down_key = hashlib.sha256(down_key + secret).digest()
    return _AesCtr(up_key, up_iv), _AesCtr(down_key, down_iv)


def _acceptable(head: bytes) -> bool:
    return head[0] != 0xEF and head[:4] not in FORBIDDEN_FIRST_WORDS and head[4:8] != _ZERO_WORD


class ObfuscatedCodec(Codec):
    """Obfuscated2 around an abridged, intermediate or padded intermediate codec.

    Client side, ``inner`` (one of those three classes) is required; the header is drawn from
    ``random_bytes`` at construction and sent in front of the first :meth:`encode` output.
    ``dc_id`` (int16) goes into the header for MTProxies; ``secret`` is the 16-byte MTProxy
    secret.

    Server side, ``inner`` is optional: the header's tag decides, and when ``inner`` is given any
    other tag is refused. ``secret`` must be the one clients use. A header whose tag is not a
    known one raises :class:`TransportError` with ``code=None``: nothing can be answered to a
    peer whose framing is unknown. Once the header is read, :attr:`kind` and :attr:`dc_id` are
    known and framing errors of the inner codec come with its ``-404`` code (the reply is
    encrypted like everything else).
    """

    def __init__(
        self,
        role: Role,
        inner: type[FramedCodec] | None = None,
        *,
        secret: bytes | None = None,
        dc_id: int | None = None,
        max_packet: int = DEFAULT_MAX_PACKET,
        random_bytes: RandomBytes = os.urandom,
    ) -> None:
        if inner is not None and inner.obfuscation_tag is None:
            raise TransportUsageError(f"the {inner.kind.value} transport cannot be obfuscated")
        if dc_id is not None and not -(2**15) <= dc_id < 2**15:
            raise TransportUsageError(f"dc_id must fit an int16, not {dc_id}")
        if max_packet <= 0:
            raise TransportUsageError(f"max_packet must be positive, not {max_packet}")
        self.role = role
        self.max_packet = max_packet
        self._secret = _normalise_secret(secret)
        self._random_bytes = random_bytes
        self._expected = inner
        self._inner: FramedCodec | None = None
        self._dc_id = dc_id
        self._error: TransportError | None = None
        self._preamble = b""
        self._head = bytearray()
        self._encrypt: _AesCtr | None = None
        self._decrypt: _AesCtr | None = None
        if role is Role.CLIENT:
            if inner is None:
                raise TransportUsageError("an obfuscated client needs its inner transport")
            self._open_client(inner)

    @property
    def kind(self) -> TransportKind | None:
        """The inner transport; ``None`` on the server until the header has arrived."""
        return None if self._inner is None else self._inner.kind

    @property
    def inner(self) -> FramedCodec | None:
        return self._inner

    @property
    def dc_id(self) -> int | None:
        """The header's DC id (server side: random unless the client set it, as MTProxies do)."""
        return self._dc_id

    def _open_client(self, inner: type[FramedCodec]) -> None:
        tag = inner.obfuscation_tag
        if tag is None:  # checked in __init__; keeps the type narrow
            raise TransportUsageError(f"the {inner.kind.value} transport cannot be obfuscated")
        for _ in range(_MAX_ATTEMPTS):
            drawn = random_exact(self._random_bytes, HEADER_SIZE)
            if _acceptable(drawn):
                break
        else:
            raise TransportUsageError("random_bytes keeps producing forbidden obfuscation headers")
        init = bytearray(drawn)
        init[56:60] = tag
        if self._dc_id is not None:
            init[60:62] = _DC_ID.pack(self._dc_id)
        encrypt, decrypt = _streams(bytes(init), self._secret)
        init[56:64] = encrypt(bytes(init))[56:64]
        self._preamble = bytes(init)
        self._encrypt, self._decrypt = encrypt, decrypt
        self._inner = inner(
            Role.CLIENT, tagged=False, max_packet=self.max_packet, random_bytes=self._random_bytes
        )

    def _open_server(self, header: bytes) -> None:
        decrypt, encrypt = _streams(header, self._secret)
        plain = decrypt(header)
        tag = plain[56:60]
        inner = _INNER_BY_TAG.get(tag)
        if inner is None:
            raise TransportError(
                f"obfuscated2 header carries no known transport tag ({tag.hex()})", code=None
            )
        if self._expected is not None and inner is not self._expected:
            raise TransportError(
                f"obfuscated2 header selects {inner.kind.value}, "
                f"expected {self._expected.kind.value}",
                code=None,
            )
        self._dc_id = _DC_ID.unpack_from(plain, 60)[0]
        self._encrypt, self._decrypt = encrypt, decrypt
        self._inner = inner(
            Role.SERVER, tagged=False, max_packet=self.max_packet, random_bytes=self._random_bytes
        )

    def feed(self, data: Data) -> list[Event]:
        if self._error is not None:
            raise self._error
        try:
            if self._inner is None:
                need = HEADER_SIZE - len(self._head)
                self._head += data[:need]
                if len(self._head) < HEADER_SIZE:
                    return []
                data = data[need:]
                self._open_server(bytes(self._head))
                self._head.clear()
            if not data or self._inner is None or self._decrypt is None:
                return []
            return self._inner.feed(self._decrypt(data))
        except TransportError as exc:
            self._error = exc
            raise

    def _outgoing(self, frame: bytes) -> bytes:
        if self._encrypt is None:
            raise TransportUsageError("the obfuscated2 header has not been received yet")
        out = self._encrypt(frame)
        if self._preamble:
            out = self._preamble + out
            self._preamble = b""
        return out

    def _ready(self) -> FramedCodec:
        if self._inner is None:
            raise TransportUsageError("the obfuscated2 header has not been received yet")
        return self._inner

    def encode(self, payload: bytes, *, quick_ack: bool = False) -> bytes:
        return self._outgoing(self._ready().encode(payload, quick_ack=quick_ack))

    def encode_quick_ack(self, token: int) -> bytes:
        return self._outgoing(self._ready().encode_quick_ack(token))

    def encode_error(self, code: int) -> bytes:
        return self._outgoing(self._ready().encode_error(code))
