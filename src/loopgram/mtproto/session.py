"""MTProto layer: encrypted sessions -- the envelope and the state that outlives a connection.

Spec: core.telegram.org/mtproto/description ("Encrypted Message": salt, session_id,
msg_id, seq_no, length, body, padding; "Session"), core.telegram.org/mtproto/
service_messages ("Simple Container") and core.telegram.org/mtproto/
service_messages_about_messages (acknowledgments, re-sending).

A session is identified by ``(auth_key_id, session_id)`` and survives reconnects, so its
state lives here, apart from the per-TCP-connection objects in
:mod:`loopgram.mtproto.server_connection` and
:mod:`loopgram.mtproto.client_connection`:

* :class:`ServerSession` -- what the server remembers of one client session: the ids it
  received (replay and seq_no checks), its own msg_id/seq_no counters, the RPC queries and
  their answers, and the content messages the client has not acknowledged (re-sent when
  the client comes back on a new connection).
* :class:`ClientSession` -- the client's view: key, salt, clock offset, counters, the
  queries waiting for an answer (re-sent after a reconnect, a bad salt, a clock fix).

Outgoing messages wait in a session's ``queue`` as ``(msg_id, seq_no, body)`` until the
connection's ``data_to_send`` seals them, several per packet in a ``msg_container`` with
any pending acks -- one encryption for the lot.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from hashlib import sha256
from itertools import islice
from typing import Final

from loopgram.clock import Clock, RandomBytes
from loopgram.crypto import AuthKey, SecurityError, encrypt_padded
from loopgram.crypto import decrypt_message as _decrypt
from loopgram.mtproto.msgid import MsgIdGenerator, ReceivedWindow, SeqNo
from loopgram.mtproto.salts import ServerSalts
from loopgram.mtproto.service import CONTAINER_ID
from loopgram.tl import TLObject
from loopgram.tl.mtproto.types import FutureSalt

__all__ = [
    "MAX_CONTAINER_BYTES",
    "MAX_CONTAINER_MESSAGES",
    "ClientSession",
    "Outgoing",
    "PaddingPool",
    "PendingRequest",
    "ServerSession",
    "batches",
    "container_body",
    "open_message",
    "quick_ack_token",
    "seal_message",
]

Outgoing = tuple[int, int, bytes]
"""A message waiting to be sent: ``(msg_id, seq_no, body)``."""

MAX_CONTAINER_MESSAGES: Final = 1024
MAX_CONTAINER_BYTES: Final = 1_000_000
"""Largest container body built: well below the 4 MiB a transport accepts by default."""

HEADER: Final = struct.Struct("<qqqii")
"""salt, session_id, msg_id, seq_no, message_data_length."""
_HEADER_SIZE: Final = 32
_INNER: Final = struct.Struct("<qii")
_CONTAINER_HEAD: Final = struct.Struct("<II")
_U32: Final = struct.Struct("<I")
_POOL_CHUNK: Final = 4096
_TWO32: Final = 4294967296.0
_INT64_MAX: Final = 2**63 - 1


class PaddingPool:
    """Random padding cut from larger draws of the injected randomness.

    One ``random_bytes(4096)`` call serves ~200 messages: with ``os.urandom`` a system call
    per message would cost about as much as the AES of a small message.
    """

    __slots__ = ("_buf", "_pos", "_random")

    def __init__(self, random_bytes: RandomBytes) -> None:
        self._random = random_bytes
        self._buf = b""
        self._pos = 0

    def take(self, n: int) -> bytes:
        pos = self._pos
        end = pos + n
        if end > len(self._buf):
            self._buf = self._random(max(_POOL_CHUNK, n))
            pos, end = 0, n
        self._pos = end
        return self._buf[pos:end]


def seal_message(
    auth_key: AuthKey,
    x: int,
    salt: int,
    session_id: int,
    msg_id: int,
    seqno: int,
    body: bytes,
    padding: PaddingPool,
) -> bytes:
    """One encrypted packet: header + ``body`` + the shortest valid random padding."""
    n = len(body)
    plaintext = HEADER.pack(salt, session_id, msg_id, seqno, n) + body
    return encrypt_padded(
        auth_key, plaintext + padding.take(12 + (-(_HEADER_SIZE + n + 12) & 15)), x
    )


def open_message(auth_key: AuthKey, packet: bytes, x: int) -> tuple[int, int, int, int, bytes]:
    """Decrypt and check one packet: ``(salt, session_id, msg_id, seq_no, body)``.

    Bytes past the last whole AES block are dropped first: the padded intermediate
    transport appends 0..15 of them, and ``msg_key`` protects everything that counts.
    Raises :class:`~loopgram.crypto.SecurityError` (bad ``msg_key``, bad length, bad
    padding -- the checks of the security guidelines): the caller drops the packet
    without answering.
    """
    excess = (len(packet) - 24) & 15
    data = _decrypt(auth_key, packet[:-excess] if excess else packet, x=x)
    size = len(data)
    if size < _HEADER_SIZE + 12:
        raise SecurityError("decrypted data shorter than a message header and its padding")
    salt, session_id, msg_id, seqno, length = HEADER.unpack_from(data)
    # message_data_length: a multiple of 4, followed by 12..1024 bytes of padding.
    padding = size - _HEADER_SIZE - length
    if length < 0 or length & 3 or padding < 12 or padding > 1024:
        raise SecurityError(f"message_data_length {length} does not fit {size} bytes")
    return salt, session_id, msg_id, seqno, data[_HEADER_SIZE : _HEADER_SIZE + length]


def quick_ack_token(auth_key: AuthKey, packet: bytes, x: int) -> int:
    """The quick-ack token of a packet (mtproto-transports, "Quick ack"): the first 32 bits
    of the SHA256 that ``msg_key`` is cut from (auth key part + plaintext and padding), as
    a little-endian uint32 with the top bit set. Only computed when a client asks."""
    excess = (len(packet) - 24) & 15
    data = _decrypt(auth_key, packet[: len(packet) - excess], x=x)
    digest = sha256(auth_key.key[88 + x : 120 + x] + data).digest()
    token: int = _U32.unpack_from(digest)[0]
    return token | 0x80000000


def container_body(messages: list[Outgoing]) -> bytes:
    """``msg_container`` of ``messages`` (ids ascending, as queued)."""
    parts = [_CONTAINER_HEAD.pack(CONTAINER_ID, len(messages))]
    pack = _INNER.pack
    for msg_id, seqno, body in messages:
        parts.append(pack(msg_id, seqno, len(body)))
        parts.append(body)
    return b"".join(parts)


def batches(messages: list[Outgoing]) -> Iterator[list[Outgoing]]:
    """Split queued messages into groups that fit one container each."""
    batch: list[Outgoing] = []
    size = 0
    for message in messages:
        n = len(message[2]) + 16
        if batch and (len(batch) >= MAX_CONTAINER_MESSAGES or size + n > MAX_CONTAINER_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += n
    if batch:
        yield batch


class _Acks:
    """Ids of received content messages not acknowledged yet, and since when."""

    __slots__ = ("acks", "acks_since")

    def __init__(self) -> None:
        self.acks: list[int] = []
        self.acks_since = 0.0

    def add_ack(self, msg_id: int, now: float) -> None:
        if not self.acks:
            self.acks_since = now
        self.acks.append(msg_id)


class ServerSession(_Acks):
    """The server's state of one ``(auth_key_id, session_id)``.

    ``outbox`` keeps every content message sent (rpc_result, updates, new_session_created)
    until the client acknowledges it, oldest first, at most ``max_outbox`` (a client that
    never acknowledges loses the oldest). ``requests`` maps each RPC query received to the
    ``msg_id`` of its answer (0 while unanswered), for ``msgs_state_req``,
    ``msg_resend_ans_req`` and ``rpc_drop_answer``. ``announced`` turns true with the
    first accepted message, when ``new_session_created`` is queued and the store learns
    the session; until then a message refused for a bad salt creates nothing durable.
    """

    __slots__ = (
        "announced",
        "auth_key",
        "auth_key_id",
        "containers",
        "first_msg_id",
        "max_outbox",
        "msg_ids",
        "outbox",
        "owner",
        "queue",
        "received",
        "requests",
        "salts",
        "seqno",
        "session_id",
        "unique_id",
    )

    def __init__(
        self,
        auth_key: AuthKey,
        salts: ServerSalts,
        session_id: int,
        clock: Clock,
        *,
        window: int = 1024,
        max_outbox: int = 1024,
    ) -> None:
        super().__init__()
        self.auth_key = auth_key
        self.salts = salts
        """The salts of the key (shared by all its sessions)."""
        self.auth_key_id = auth_key.id
        self.session_id = session_id
        self.msg_ids = MsgIdGenerator(clock, server=True)
        self.seqno = SeqNo()
        self.received = ReceivedWindow(window)
        self.containers: dict[int, None] = {}  # container ids seen (an ordered set)
        self.outbox: dict[int, tuple[int, bytes]] = {}  # msg_id -> (seq_no, body)
        self.max_outbox = max_outbox
        self.requests: dict[int, int] = {}
        self.queue: list[Outgoing] = []
        self.announced = False
        self.first_msg_id = 0
        self.unique_id = 0
        self.owner: object = None
        """The connection that currently sends for this session (the last one bound)."""

    def __repr__(self) -> str:
        return f"ServerSession(auth_key_id={self.auth_key_id:#x}, session_id={self.session_id:#x})"

    def push(self, body: bytes, *, content: bool, response: bool) -> int:
        """Queue a message; content messages also go to the outbox until acknowledged."""
        # MsgIdGenerator.next (server ids) and SeqNo.next, inlined: this runs for every
        # message sent, and the two calls cost about as much as what they compute.
        ids = self.msg_ids
        msg_id = int((ids.clock() + ids.offset) * _TWO32) & ~3
        last = ids.last
        if msg_id <= last:
            msg_id = (last & ~3) + 4
        msg_id |= 1 if response else 3
        if msg_id > _INT64_MAX:
            raise OverflowError("msg_id does not fit a TL long")
        ids.last = msg_id
        counter = self.seqno
        n = counter.count
        if content:
            counter.count = n + 1
            seqno = 2 * n + 1
        else:
            seqno = 2 * n
        self.queue.append((msg_id, seqno, body))
        if content:
            outbox = self.outbox
            outbox[msg_id] = (seqno, body)
            if len(outbox) > self.max_outbox:
                del outbox[next(iter(outbox))]
        return msg_id

    def remember_container(self, msg_id: int) -> None:
        containers = self.containers
        containers[msg_id] = None
        if len(containers) > 256:
            del containers[next(iter(containers))]

    def forget_requests(self) -> None:
        """Forget the oldest quarter of ``requests`` (called past 4096 of them):
        ``msgs_state_req`` about those then answers "unknown"."""
        requests = self.requests
        for old in list(islice(requests, len(requests) // 4)):
            del requests[old]

    def resend_outbox(self) -> None:
        """Queue every unacknowledged content message again, with its original id."""
        queued = {m[0] for m in self.queue}
        self.queue.extend(
            (msg_id, seqno, body)
            for msg_id, (seqno, body) in self.outbox.items()
            if msg_id not in queued
        )


class PendingRequest:
    """A query the client sent and has no answer for yet.

    ``origin`` is the id ``send_request`` returned (and events report); ``msg_id`` the id
    of the latest copy sent. ``acked`` turns true when the server acknowledged it.
    """

    __slots__ = ("acked", "body", "msg_id", "origin", "request", "seqno")

    def __init__(self, origin: int, msg_id: int, seqno: int, body: bytes, request: TLObject):
        self.origin = origin
        self.msg_id = msg_id
        self.seqno = seqno
        self.body = body
        self.request = request
        self.acked = False


class ClientSession(_Acks):
    """The client's side of one session: a value to keep across reconnects.

    Pass it to a new :class:`~loopgram.mtproto.client_connection.ClientConnection` to
    go on with the same ``session_id``: its ``start()`` sends again the queries still
    waiting for an answer, and the server re-sends what it had not seen acknowledged.
    """

    __slots__ = (
        "auth_key",
        "containers",
        "future_salts",
        "msg_ids",
        "pending",
        "queue",
        "received",
        "salt",
        "seqno",
        "session_id",
    )

    def __init__(
        self,
        auth_key: AuthKey,
        *,
        session_id: int,
        clock: Clock,
        salt: int = 0,
        time_offset: float = 0.0,
        window: int = 1024,
    ) -> None:
        super().__init__()
        self.auth_key = auth_key
        self.session_id = session_id
        self.salt = salt
        self.msg_ids = MsgIdGenerator(clock, server=False, offset=time_offset)
        self.seqno = SeqNo()
        self.received = ReceivedWindow(window)
        self.pending: dict[int, PendingRequest] = {}  # by current msg_id
        self.queue: list[Outgoing] = []
        self.containers: dict[int, tuple[int, ...]] = {}  # container id -> inner ids
        self.future_salts: list[FutureSalt] = []

    def __repr__(self) -> str:
        return f"ClientSession(auth_key={self.auth_key!r}, session_id={self.session_id:#x})"

    @property
    def time_offset(self) -> float:
        return self.msg_ids.offset

    def push(self, body: bytes, *, content: bool) -> tuple[int, int]:
        # MsgIdGenerator.next (client ids) and SeqNo.next, inlined: this runs for every
        # message sent, and the two calls cost about as much as what they compute.
        ids = self.msg_ids
        msg_id = int((ids.clock() + ids.offset) * _TWO32) & ~3
        last = ids.last
        if msg_id <= last:
            msg_id = (last & ~3) + 4
        if msg_id > _INT64_MAX:
            raise OverflowError("msg_id does not fit a TL long")
        ids.last = msg_id
        counter = self.seqno
        n = counter.count
        if content:
            counter.count = n + 1
            seqno = 2 * n + 1
        else:
            seqno = 2 * n
        self.queue.append((msg_id, seqno, body))
        return msg_id, seqno

    def remember_container(self, msg_id: int, inner: tuple[int, ...]) -> None:
        containers = self.containers
        containers[msg_id] = inner
        if len(containers) > 256:
            del containers[next(iter(containers))]

    def current_salt(self) -> int:
        """The salt to send with: switch to a fetched future salt once it is valid."""
        future = self.future_salts
        if future:
            now = self.msg_ids.now()
            while future and future[0].valid_until <= now:
                del future[0]
            if future and future[0].valid_since <= now:
                self.salt = future[0].salt
        return self.salt
