"""MTProto layer: message identifiers and sequence numbers, made and checked.

Spec: core.telegram.org/mtproto/description ("Message Identifier (msg_id)", "Message
Sequence Number (msg_seqno)") and core.telegram.org/mtproto/service_messages_about_messages
("Notice of Ignored Error Message": the codes of ``bad_msg_notification``).

* A ``msg_id`` is Unix time times 2**32 (the fraction of a second in the low 32 bits).
  Client ids are divisible by 4; server ids are odd: 1 mod 4 for a response to a client
  message, 3 mod 4 otherwise. Ids are strictly increasing within a session.
* ``seq_no`` is ``2 * n + 1`` for content-related messages (``n`` then increments) and
  ``2 * n`` for the others (acks, containers).
* A server refuses a client ``msg_id`` more than 300 s old or 30 s ahead of its clock, with
  the wrong low bits, already seen, or lower than every id it still remembers; and a
  ``seq_no`` of the wrong parity or out of order with the ids around it.
"""

from __future__ import annotations

import enum
from bisect import bisect_left
from typing import Final

from loopgram.clock import Clock

__all__ = [
    "DUPLICATE",
    "MAX_AGE",
    "MAX_FUTURE",
    "BadMsgCode",
    "MsgIdGenerator",
    "ReceivedWindow",
    "SeqNo",
    "check_client_msg_id",
    "msg_id_time",
]

MAX_AGE: Final = 300.0
"""A client message older than this many seconds is refused (code 16)."""
MAX_FUTURE: Final = 30.0
"""A client message more than this many seconds ahead is refused (code 17)."""

_TWO32: Final = 4294967296.0
_INT64_MAX: Final = 2**63 - 1


class BadMsgCode(enum.IntEnum):
    """``error_code`` of ``bad_msg_notification`` (and 48 of ``bad_server_salt``)."""

    MSG_ID_TOO_LOW = 16
    MSG_ID_TOO_HIGH = 17
    MSG_ID_BAD_BITS = 18
    CONTAINER_ID_REUSED = 19
    MSG_TOO_OLD = 20
    SEQNO_TOO_LOW = 32
    SEQNO_TOO_HIGH = 33
    SEQNO_EVEN_EXPECTED = 34
    SEQNO_ODD_EXPECTED = 35
    BAD_SERVER_SALT = 48
    INVALID_CONTAINER = 64


DUPLICATE: Final = -1
"""What :meth:`ReceivedWindow.check` returns for an id it has already accepted: the
security guidelines say to ignore such a message (the first copy is being or was answered,
and an unacknowledged answer is re-sent on reconnect), so it gets no notification."""


def msg_id_time(msg_id: int) -> float:
    """The Unix time a ``msg_id`` carries."""
    return msg_id / _TWO32


def check_client_msg_id(msg_id: int, now: float) -> int:
    """Stateless checks of a client ``msg_id`` against the server clock ``now``.

    Returns 0 or the ``bad_msg_notification`` code (18, 16, 17).
    """
    if msg_id & 3:
        return BadMsgCode.MSG_ID_BAD_BITS
    t = msg_id / _TWO32
    if t < now - MAX_AGE:
        return BadMsgCode.MSG_ID_TOO_LOW
    if t > now + MAX_FUTURE:
        return BadMsgCode.MSG_ID_TOO_HIGH
    return 0


class MsgIdGenerator:
    """Time-based, strictly increasing ``msg_id`` values for one side of one session.

    ``offset`` (seconds) is added to the clock: a client sets it to the server's time minus
    its own (from the key exchange or a ``bad_msg_notification`` 16/17). With ``server``
    the ids are odd -- :meth:`next` with ``response`` gives 1 mod 4, else 3 mod 4; client
    ids are divisible by 4. When the clock has not moved (or went back) the next id is the
    previous one plus 4, with the low bits of its kind.
    """

    __slots__ = ("_server", "clock", "last", "offset")

    def __init__(self, clock: Clock, *, server: bool, offset: float = 0.0) -> None:
        self.clock = clock
        self._server = server
        self.offset = offset
        self.last = 0

    def next(self, response: bool = False) -> int:
        # (ServerSession.push, ClientSession.push and ServerConnection.send_result repeat
        # this: keep them in step.)
        candidate = int((self.clock() + self.offset) * _TWO32) & ~3
        last = self.last
        if candidate <= last:
            candidate = (last & ~3) + 4
        if self._server:
            candidate |= 1 if response else 3
        if candidate > _INT64_MAX:  # a clock past year 2106: a broken injected clock
            raise OverflowError("msg_id does not fit a TL long")
        self.last = candidate
        return candidate

    def now(self) -> float:
        """The clock plus the offset: the peer's time as far as this side knows."""
        return self.clock() + self.offset


class SeqNo:
    """``msg_seqno`` of one direction of a session."""

    __slots__ = ("count",)

    def __init__(self, count: int = 0) -> None:
        self.count = count
        """Content-related messages sent so far (the ``n`` of ``2 * n + 1``)."""

    def next(self, content: bool) -> int:
        n = self.count
        if content:
            self.count = n + 1
            return 2 * n + 1
        return 2 * n


class ReceivedWindow:
    """The ids (and their ``seq_no``) received in one direction of a session, bounded.

    Remembers the ``size`` highest ids. ``floor`` is the highest id forgotten: anything at
    or below it can no longer be told apart from a replay, so it is refused with code 20.
    ``check`` validates, ``add`` records, ``accept`` does both.
    """

    __slots__ = ("floor", "ids", "seqnos", "size")

    def __init__(self, size: int = 1024) -> None:
        if size < 1:
            raise ValueError("window size must be positive")
        self.size = size
        self.ids: list[int] = []  # ascending
        self.seqnos: dict[int, int] = {}
        self.floor = 0

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self.seqnos

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def highest(self) -> int:
        ids = self.ids
        return ids[-1] if ids else self.floor

    def check(self, msg_id: int, seqno: int, content: bool | None) -> int:
        """0 if ``(msg_id, seqno)`` is acceptable, :data:`DUPLICATE`, or a code.

        ``content`` is whether the message must be content-related (odd ``seq_no``), must
        not be (even), or ``None`` when either parity is tolerated.
        """
        seqnos = self.seqnos
        if msg_id in seqnos:
            return DUPLICATE
        if msg_id <= self.floor:
            return BadMsgCode.MSG_TOO_OLD
        odd = seqno & 1
        if content is not None and bool(odd) != content:
            return BadMsgCode.SEQNO_ODD_EXPECTED if content else BadMsgCode.SEQNO_EVEN_EXPECTED
        ids = self.ids
        if not ids:
            return 0
        if msg_id > ids[-1]:
            # The common case: ids arrive in order, only the predecessor matters.
            prev = seqnos[ids[-1]]
            if prev > seqno or (prev == seqno and odd):
                return BadMsgCode.SEQNO_TOO_LOW
            return 0
        i = bisect_left(ids, msg_id)
        if i:
            prev = seqnos[ids[i - 1]]
            if prev > seqno or (prev == seqno and odd):
                return BadMsgCode.SEQNO_TOO_LOW
        after = seqnos[ids[i]]
        if after < seqno or (after == seqno and odd):
            return BadMsgCode.SEQNO_TOO_HIGH
        return 0

    def accept(self, msg_id: int, seqno: int, content: bool | None) -> int:
        """:meth:`check`, and :meth:`add` when it passes: one call per message."""
        ids = self.ids
        if ids and msg_id > ids[-1]:
            # In order, the common case, inlined: only the predecessor matters.
            odd = seqno & 1
            if content is not None and bool(odd) != content:
                return BadMsgCode.SEQNO_ODD_EXPECTED if content else BadMsgCode.SEQNO_EVEN_EXPECTED
            seqnos = self.seqnos
            prev = seqnos[ids[-1]]
            if prev > seqno or (prev == seqno and odd):
                return BadMsgCode.SEQNO_TOO_LOW
            ids.append(msg_id)
            seqnos[msg_id] = seqno
            if len(ids) > self.size + 64:
                self.forget()
            return 0
        code = self.check(msg_id, seqno, content)
        if not code:
            self.add(msg_id, seqno)
        return code

    def add(self, msg_id: int, seqno: int) -> None:
        """Record an accepted id (after :meth:`check` returned 0)."""
        ids = self.ids
        if not ids or msg_id > ids[-1]:
            ids.append(msg_id)
        else:
            ids.insert(bisect_left(ids, msg_id), msg_id)
        self.seqnos[msg_id] = seqno
        if len(ids) > self.size + 64:
            self.forget()

    def forget(self) -> None:
        """Drop the oldest ids beyond ``size`` (called once ``size + 64`` are held)."""
        # In batches, so that the list shifts once per 64 messages, not every time.
        ids = self.ids
        drop = len(ids) - self.size
        seqnos = self.seqnos
        for old in ids[:drop]:
            del seqnos[old]
        self.floor = ids[drop - 1]
        del ids[:drop]
