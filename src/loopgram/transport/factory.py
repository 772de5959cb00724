"""Choosing a codec by transport kind (framing layer).

Spec: https://core.telegram.org/mtproto/mtproto-transports

The client picks its transport; :func:`client_codec` builds it, obfuscated2 or not. (Servers
do not pick: they use :class:`~loopgram.transport.detect.ServerTransport`.)
"""

from __future__ import annotations

import os

from loopgram.transport.abridged import AbridgedCodec
from loopgram.transport.codec import (
    DEFAULT_MAX_PACKET,
    Codec,
    FramedCodec,
    RandomBytes,
    Role,
    TransportKind,
)
from loopgram.transport.errors import TransportUsageError
from loopgram.transport.full import FullCodec
from loopgram.transport.intermediate import IntermediateCodec, PaddedIntermediateCodec
from loopgram.transport.obfuscated import ObfuscatedCodec

__all__ = ["client_codec", "codec_class"]

_CLASSES: dict[TransportKind, type[FramedCodec]] = {
    TransportKind.ABRIDGED: AbridgedCodec,
    TransportKind.INTERMEDIATE: IntermediateCodec,
    TransportKind.PADDED_INTERMEDIATE: PaddedIntermediateCodec,
    TransportKind.FULL: FullCodec,
}


def codec_class(kind: TransportKind) -> type[FramedCodec]:
    """The plain codec class of a transport kind."""
    return _CLASSES[kind]


def client_codec(
    kind: TransportKind,
    *,
    obfuscated: bool = False,
    secret: bytes | None = None,
    dc_id: int | None = None,
    max_packet: int = DEFAULT_MAX_PACKET,
    random_bytes: RandomBytes = os.urandom,
) -> Codec:
    """A client codec for ``kind``, wrapped in obfuscated2 when asked.

    ``secret`` and ``dc_id`` are obfuscated2 (MTProxy) settings and require ``obfuscated``.
    """
    cls = _CLASSES[kind]
    if not obfuscated:
        if secret is not None or dc_id is not None:
            raise TransportUsageError("secret and dc_id only apply to obfuscated2")
        return cls(Role.CLIENT, max_packet=max_packet, random_bytes=random_bytes)
    return ObfuscatedCodec(
        Role.CLIENT,
        cls,
        secret=secret,
        dc_id=dc_id,
        max_packet=max_packet,
        random_bytes=random_bytes,
    )
