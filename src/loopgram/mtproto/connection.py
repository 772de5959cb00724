"""MTProto layer: what both Connection roles share -- output buffer, failure state, sealing.

Spec: core.telegram.org/mtproto/description (encrypted messages, msg_id, seq_no, salts,
sessions), core.telegram.org/mtproto/service_messages and
core.telegram.org/mtproto/service_messages_about_messages.

One Connection per TCP connection and role turns bytes in into events and events into
bytes: :class:`~loopgram.mtproto.server_connection.ServerConnection` and
:class:`~loopgram.mtproto.client_connection.ClientConnection`. They are shaped after
h11/wsproto: no I/O, the role is the class, events are frozen dataclasses
(:mod:`loopgram.mtproto.events`). Every method that has something to say to the peer --
``receive_data`` answering a ping or a bad salt, ``send_result``, ``send_request`` --
queues it, and ``data_to_send()`` returns the bytes to write. Queuing is what lets one
packet (one encryption) carry an answer and whatever else is ready at the same moment, in
a ``msg_container``. Drivers call ``data_to_send()`` after each ``receive_data``/``send_*``
batch, and again when ``ack_deadline()`` comes: acks wait a little so that several travel
together instead of costing a packet each.

Faults of the peer that end the connection raise
:class:`~loopgram.mtproto.errors.RemoteProtocolError` carrying the framed reply to write
(transport error -404 for an unknown auth key or a broken key exchange). Faults MTProto
answers in band are answered in band (``bad_msg_notification``, ``bad_server_salt``) and
reported as :class:`~loopgram.mtproto.events.MessageRejected`. Packets that fail the
``msg_key`` check are dropped and counted in ``dropped``, never answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from loopgram.clock import Clock, RandomBytes
from loopgram.crypto import AuthKey
from loopgram.mtproto.errors import RemoteProtocolError
from loopgram.mtproto.session import (
    MAX_CONTAINER_BYTES,
    MAX_CONTAINER_MESSAGES,
    ClientSession,
    Outgoing,
    PaddingPool,
    ServerSession,
    batches,
    container_body,
    seal_message,
)
from loopgram.tl import read

__all__ = [
    "ACK_BATCH",
    "FLOOD",
    "NOT_FOUND",
    "ConnectionBase",
    "seal_batches",
]

NOT_FOUND: Final = -404
"""Transport error: unknown auth key, or a broken key exchange."""
FLOOD: Final = -429
"""Transport error: too many of something (here: sessions on one connection)."""
ACK_BATCH: Final = 16
"""Pending acks sent at once, without waiting for ``ack_delay``."""


class ConnectionBase:
    """The outgoing buffer, the fatal state and the counters of both roles."""

    def __init__(self, clock: Clock, random_bytes: RandomBytes, ack_delay: float) -> None:
        read(b"\xb5\x75\x72\x99")  # boolTrue: loads the TL registry that read_boxed uses
        self._clock = clock
        self._random = random_bytes
        self._padding = PaddingPool(random_bytes)
        self._frames: list[bytes] = []
        self._failure: RemoteProtocolError | None = None
        self.ack_delay = ack_delay
        """Seconds an ack may wait for others to travel with (see ``ack_deadline``)."""
        self.dropped = 0
        """Packets dropped unanswered: wrong ``msg_key``, bad length or padding, another
        session's or key's packet. As Telegram does, the sender is never told why."""
        self.duplicates = 0
        """Messages ignored because their ``msg_id`` was already received."""
        self.malformed = 0
        """Service messages that did not parse (ignored)."""

    @property
    def failed(self) -> bool:
        """Whether a :class:`RemoteProtocolError` ended this connection."""
        return self._failure is not None

    def _check_open(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _acks_due(self, session: ClientSession | ServerSession, flush_acks: bool) -> bool:
        """Whether the session's pending acks go now: asked to, a full batch, or overdue."""
        acks = session.acks
        return bool(acks) and (
            flush_acks
            or len(acks) >= ACK_BATCH
            or self._clock() - session.acks_since >= self.ack_delay
        )

    def _pop_output(self) -> bytes:
        frames = self._frames
        if not frames:
            return b""
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        frames.clear()
        return data


def seal_batches(
    queue: list[Outgoing],
    auth_key: AuthKey,
    x: int,
    salt: int,
    session_id: int,
    padding: PaddingPool,
    frame: Callable[[bytes], bytes],
    frames: list[bytes],
    next_container: Callable[[], tuple[int, int]],
    on_container: Callable[[int, list[Outgoing]], None] | None = None,
) -> None:
    """Seal several queued messages: in ``msg_container``s of at most 1024 (alone if one
    is too big to share). ``next_container`` gives a container's ``(msg_id, seq_no)``,
    called after the ids it holds were made, so that the container id is the highest."""
    if 1 < len(queue) <= MAX_CONTAINER_MESSAGES:
        # The usual case (a message and the acks that came due with it): everything fits
        # one container, as batches() would find. Built first, checked by its size.
        body = container_body(queue)
        if len(body) - 8 <= MAX_CONTAINER_BYTES:
            msg_id, seqno = next_container()
            if on_container is not None:
                on_container(msg_id, queue)
            frames.append(
                frame(seal_message(auth_key, x, salt, session_id, msg_id, seqno, body, padding))
            )
            return
    for batch in batches(queue):
        if len(batch) == 1:
            msg_id, seqno, body = batch[0]
        else:
            msg_id, seqno = next_container()
            body = container_body(batch)
            if on_container is not None:
                on_container(msg_id, batch)
        frames.append(
            frame(seal_message(auth_key, x, salt, session_id, msg_id, seqno, body, padding))
        )
