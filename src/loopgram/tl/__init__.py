"""TL layer: schema parser, code generator and binary codec (core.telegram.org/mtproto/TL).

The generated API lives in ``loopgram.tl.types``, ``loopgram.tl.functions`` and
``loopgram.tl.abcs`` (layer 229) and ``loopgram.tl.mtproto`` (the service schema). This
package itself stays light: importing it does not import the generated modules.
"""

from __future__ import annotations

from loopgram.tl.core import (
    ContainerMessage,
    GzipPacked,
    InflateLimitError,
    MsgContainer,
    Reader,
    RpcResult,
    TLDecodeError,
    TLEncodeError,
    TLError,
    TLFunction,
    TLObject,
    read,
)

LAYER = 229
"""The newest API layer, the one the generated classes describe."""

__all__ = [
    "LAYER",
    "ContainerMessage",
    "GzipPacked",
    "InflateLimitError",
    "MsgContainer",
    "Reader",
    "RpcResult",
    "TLDecodeError",
    "TLEncodeError",
    "TLError",
    "TLFunction",
    "TLObject",
    "read",
]
