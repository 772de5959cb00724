"""MTProto layer: the two ways a Connection can fail, kept apart as h11 does.

Spec: core.telegram.org/mtproto/description (what a server does with a packet it cannot
accept) and core.telegram.org/mtproto/mtproto-transports#transport-errors.

* :class:`RemoteProtocolError` -- the *peer* broke the protocol in a way that ends the
  connection: bytes that cannot be framed, an ``auth_key_id`` the server does not know, a
  handshake step out of order. It carries the bytes the server should write before closing
  (``reply``: a framed transport error such as ``-404``, possibly empty) and ``close``.
  Per-message faults that MTProto answers in band (``bad_msg_notification``,
  ``bad_server_salt``) are *not* raised: the Connection queues the notification itself and
  reports a :class:`~loopgram.mtproto.events.MessageRejected` event, because one container
  may mix accepted and rejected messages and an exception would lose the accepted ones.
* :class:`LocalProtocolError` -- *our* caller used the API wrongly (answering a request twice,
  sending before the transport exists, a client method on a server...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from loopgram import LoopgramError

if TYPE_CHECKING:
    from loopgram.mtproto.events import Event

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(LoopgramError):
    """Base class of the errors a Connection raises."""


class LocalProtocolError(ProtocolError):
    """The local caller asked for something the protocol state does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol; the connection cannot continue.

    ``reply`` holds the framed bytes to write before closing (empty when nothing can be
    said, e.g. the transport was never identified); ``code`` is the transport error code
    carried by ``reply`` (``-404``...), ``None`` if there is none. ``close`` is ``True``:
    every error raised this way leaves the stream unusable. ``events`` are the events
    decoded from the same data before the fault: act on them (a query in an earlier
    packet was recorded as received and will not be delivered again).
    """

    def __init__(
        self,
        message: str,
        *,
        reply: bytes = b"",
        code: int | None = None,
        close: bool = True,
        events: Sequence[Event] = (),
    ) -> None:
        super().__init__(message)
        self.reply = reply
        self.code = code
        self.close = close
        self.events: tuple[Event, ...] = tuple(events)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.args[0]!r}, code={self.code!r}, "
            f"reply={len(self.reply)} bytes, close={self.close!r})"
        )
