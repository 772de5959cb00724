"""Errors of the MTProto transport layer (framing only, below MTProto messages).

Spec: https://core.telegram.org/mtproto/mtproto-transports#transport-errors

Two kinds of failure exist and are kept apart, as h11 does:

- :class:`TransportError` — the *peer* sent bytes that cannot be framed. The connection's input
  is desynchronised for good, so the codec that raised it stays failed and re-raises it on every
  later ``feed``. It says which transport error code the server should answer with (if any: when
  the framing itself is unknown nothing can be sent) and whether to close.
- :class:`TransportUsageError` — *our* caller asked for something the wire format cannot carry
  (an abridged payload that is not a multiple of 4, a quick-ack token without its top bit, a
  client trying to send a transport error...). A programming error, never caused by the peer.
"""

from __future__ import annotations

import enum

from loopgram import LoopgramError

__all__ = ["ErrorCode", "TransportError", "TransportUsageError"]


class ErrorCode(enum.IntEnum):
    """Transport error codes: sent as a 4-byte little-endian *negative* int32 payload."""

    #: The HTTP 403 analogue.
    FORBIDDEN = -403
    #: Auth key not found, or some MTProto field (e.g. a length) is incorrect.
    NOT_FOUND = -404
    #: Transport flood: too many connections, or container/service-message limits reached.
    FLOOD = -429
    #: Invalid DC id (auth key creation, MTProxy).
    INVALID_DC = -444


class TransportError(LoopgramError):
    """The peer's bytes cannot be framed by the transport (raised by ``feed``).

    ``code`` is the transport error the server should send back through the same framing before
    closing — ``None`` when no reply is possible (the transport was never identified, or the
    codec is the client side, which never sends transport errors). ``close`` tells the driver to
    drop the connection; it is ``True`` for every framing error because a byte stream cannot be
    resynchronised once a frame boundary is lost.
    """

    def __init__(
        self, message: str, *, code: int | None = ErrorCode.NOT_FOUND, close: bool = True
    ) -> None:
        super().__init__(message)
        self.code = code
        self.close = close

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.args[0]!r}, code={self.code!r}, close={self.close!r})"


class TransportUsageError(LoopgramError, ValueError):
    """The caller asked the transport to produce bytes the wire format cannot express."""
