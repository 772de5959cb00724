"""MTProto layer: the service messages -- their ids, which need acks, and raw builders.

Spec: core.telegram.org/mtproto/service_messages (rpc_result, rpc_error, ping/pong,
future salts, new_session_created, containers, gzip_packed, destroy_session) and
core.telegram.org/mtproto/service_messages_about_messages (msgs_ack, bad_msg_notification,
bad_server_salt, msgs_state_req/info, msgs_all_info, msg_detailed_info, msg_resend_req).

The session code dispatches on the constructor id at the start of a message body, so the
ids live here as plain ints. ``msgs_state_info`` and ``msgs_all_info`` carry their status
bytes in a TL ``string``; the generated classes decode strings as UTF-8 text, which would
mangle status bytes >= 0x80, so those two are built and read here as raw bytes.
"""

from __future__ import annotations

import struct
from typing import Final, TypeVar

from loopgram.tl import GzipPacked, Reader, TLDecodeError, TLObject
from loopgram.tl.core import (
    GZIP_PACKED_ID,
    MAX_GZIP_SIZE,
    MSG_CONTAINER_ID,
    RPC_RESULT_ID,
    read_bytes,
    read_packed,
    read_vector_long,
    write_bytes,
)
from loopgram.tl.mtproto import functions as fn
from loopgram.tl.mtproto import types as ty

__all__ = [
    "ACK_ID",
    "BAD_MSG_ID",
    "BAD_SALT_ID",
    "CONTAINER_ID",
    "DESTROY_SESSION_ID",
    "DESTROY_SESSION_NONE_ID",
    "DESTROY_SESSION_OK_ID",
    "FUTURE_SALTS_ID",
    "GET_FUTURE_SALTS_ID",
    "GZIP_ID",
    "HTTP_WAIT_ID",
    "MAX_ACK_IDS",
    "MSGS_ALL_INFO_ID",
    "MSGS_STATE_INFO_ID",
    "MSGS_STATE_REQ_ID",
    "MSG_DETAILED_INFO_ID",
    "MSG_NEW_DETAILED_INFO_ID",
    "MSG_RESEND_ANS_REQ_ID",
    "MSG_RESEND_REQ_ID",
    "NEW_SESSION_ID",
    "PING_DELAY_DISCONNECT_ID",
    "PING_ID",
    "PONG_ID",
    "RPC_DROP_ANSWER_ID",
    "RPC_ERROR_ID",
    "RPC_RESULT_ID",
    "MsgState",
    "ack_body",
    "constructor_of",
    "expects_content",
    "maybe_gzip",
    "msgs_state_info_body",
    "read_msgs_state_info",
    "rpc_result_body",
]

ACK_ID: Final = ty.MsgsAck.CONSTRUCTOR_ID
CONTAINER_ID: Final = MSG_CONTAINER_ID
GZIP_ID: Final = GZIP_PACKED_ID
RPC_ERROR_ID: Final = ty.RpcError.CONSTRUCTOR_ID
PING_ID: Final = fn.Ping.CONSTRUCTOR_ID
PING_DELAY_DISCONNECT_ID: Final = fn.PingDelayDisconnect.CONSTRUCTOR_ID
PONG_ID: Final = ty.Pong.CONSTRUCTOR_ID
GET_FUTURE_SALTS_ID: Final = fn.GetFutureSalts.CONSTRUCTOR_ID
FUTURE_SALTS_ID: Final = ty.FutureSalts.CONSTRUCTOR_ID
DESTROY_SESSION_ID: Final = fn.DestroySession.CONSTRUCTOR_ID
DESTROY_SESSION_OK_ID: Final = ty.DestroySessionOk.CONSTRUCTOR_ID
DESTROY_SESSION_NONE_ID: Final = ty.DestroySessionNone.CONSTRUCTOR_ID
RPC_DROP_ANSWER_ID: Final = fn.RpcDropAnswer.CONSTRUCTOR_ID
NEW_SESSION_ID: Final = ty.NewSessionCreated.CONSTRUCTOR_ID
BAD_MSG_ID: Final = ty.BadMsgNotification.CONSTRUCTOR_ID
BAD_SALT_ID: Final = ty.BadServerSalt.CONSTRUCTOR_ID
MSGS_STATE_REQ_ID: Final = ty.MsgsStateReq.CONSTRUCTOR_ID
MSGS_STATE_INFO_ID: Final = ty.MsgsStateInfo.CONSTRUCTOR_ID
MSGS_ALL_INFO_ID: Final = ty.MsgsAllInfo.CONSTRUCTOR_ID
MSG_DETAILED_INFO_ID: Final = ty.MsgDetailedInfo.CONSTRUCTOR_ID
MSG_NEW_DETAILED_INFO_ID: Final = ty.MsgNewDetailedInfo.CONSTRUCTOR_ID
MSG_RESEND_REQ_ID: Final = ty.MsgResendReq.CONSTRUCTOR_ID
MSG_RESEND_ANS_REQ_ID: Final = ty.MsgResendAnsReq.CONSTRUCTOR_ID
HTTP_WAIT_ID: Final = ty.HttpWait.CONSTRUCTOR_ID

MAX_ACK_IDS: Final = 8192
"""The most ids one ``msgs_ack`` (or ``msgs_state_req``...) may carry."""

_I: Final = struct.Struct("<I")
_T = TypeVar("_T", bound=TLObject)
_IQ: Final = struct.Struct("<Iq")
_II: Final = struct.Struct("<II")
_VECTOR_ID: Final = 0x1CB5C415

DECODE_ERRORS: Final = (
    TLDecodeError,
    struct.error,
    IndexError,
    ValueError,
    OverflowError,
    UnicodeError,
    RecursionError,
    MemoryError,
)
"""What reading peer bytes with the generated TL readers can raise: ``TLDecodeError``
from the codec's own checks, the rest from ``struct`` and friends on truncated data."""

# Messages that are never content-related: their seq_no is even (ours always is).
NEVER_CONTENT: Final = frozenset({ACK_ID, CONTAINER_ID, HTTP_WAIT_ID})
# Service messages that clients number either way, so a server must tolerate both: the
# messages about messages, and the service queries -- Pyrogram, for one, sends ``ping``
# as not content-related (even seq_no) where Telethon makes it content-related, and mtcute
# (0.30) numbers even its ``msgs_ack`` as content-related, which Telegram accepts.
# gzip_packed may hold anything. This set wins over NEVER_CONTENT where both hold an id.
EITHER_CONTENT: Final = frozenset(
    {
        ACK_ID,
        MSGS_STATE_REQ_ID,
        MSGS_STATE_INFO_ID,
        MSGS_ALL_INFO_ID,
        MSG_RESEND_REQ_ID,
        MSG_RESEND_ANS_REQ_ID,
        MSG_DETAILED_INFO_ID,
        MSG_NEW_DETAILED_INFO_ID,
        PING_ID,
        PING_DELAY_DISCONNECT_ID,
        GET_FUTURE_SALTS_ID,
        DESTROY_SESSION_ID,
        RPC_DROP_ANSWER_ID,
        GZIP_ID,
    }
)


def constructor_of(body: bytes) -> int:
    """The constructor id a message body starts with (0 for a body shorter than 4 bytes)."""
    return _I.unpack_from(body)[0] if len(body) >= 4 else 0


def expects_content(constructor: int) -> bool | None:
    """Whether a client message with this constructor must have an odd ``seq_no``.

    ``False`` for containers and ``http_wait``, ``None`` for acks and service messages
    (tolerated either way: clients differ, see :data:`EITHER_CONTENT`), ``True`` for
    everything else: RPC queries expect an answer and so an acknowledgment.
    """
    if constructor in EITHER_CONTENT:
        return None
    if constructor in NEVER_CONTENT:
        return False
    return True


# Structs of id-vector messages (constructor, vector id, count, ids) by id count: acks go
# every few messages, in batches of up to 16 (connection.ACK_BATCH), and building the struct
# format each time cost more than the packing or unpacking itself.
_ID_VECTORS: dict[int, struct.Struct] = {}
_ID_VECTORS_CACHED: Final = 64


def _id_vector(n: int) -> struct.Struct:
    layout = _ID_VECTORS.get(n)
    if layout is None:
        layout = struct.Struct(f"<III{n}q")
        if n <= _ID_VECTORS_CACHED:
            _ID_VECTORS[n] = layout
    return layout


def ack_body(msg_ids: list[int]) -> bytes:
    """``msgs_ack`` of at most :data:`MAX_ACK_IDS` ids."""
    n = len(msg_ids)
    return _id_vector(n).pack(ACK_ID, _VECTOR_ID, n, *msg_ids)


def rpc_result_body(req_msg_id: int, result: bytes) -> bytes:
    """``rpc_result req_msg_id result`` around an already serialised (maybe gzipped) result."""
    return _IQ.pack(RPC_RESULT_ID, req_msg_id) + result


def maybe_gzip(body: bytes, threshold: int) -> bytes:
    """``body`` as ``gzip_packed`` when it is longer than ``threshold`` and packing helps."""
    if len(body) <= threshold:
        return body
    packed = GzipPacked.pack(body)
    return packed if len(packed) < len(body) else body


class MsgState:
    """Status bytes of ``msgs_state_info`` (service_messages_about_messages)."""

    UNKNOWN = 1  # msg_id too low: the other party may have forgotten it
    NOT_RECEIVED = 2  # within the remembered range, never received
    NOT_RECEIVED_YET = 3  # msg_id too high: certainly not received yet
    RECEIVED = 4  # received (this answer doubles as an acknowledgment)
    ACKNOWLEDGED = 8  # +: already acknowledged
    NO_ACK_NEEDED = 16  # +: not content-related
    RPC_PROCESSING = 32  # +: an RPC query being processed, or processed
    ANSWER_GENERATED = 64  # +: a content-related answer was already generated
    KNOWN_RECEIVED = 128  # +: the other party knows the message was received


def msgs_state_info_body(req_msg_id: int, info: bytes) -> bytes:
    """``msgs_state_info req_msg_id info`` with ``info`` one status byte per queried id."""
    out = bytearray(_IQ.pack(MSGS_STATE_INFO_ID, req_msg_id))
    write_bytes(out, info)
    return bytes(out)


def read_msgs_state_info(body: bytes) -> tuple[int, bytes]:
    """``(req_msg_id, info)`` of a ``msgs_state_info`` body; raises ``TLDecodeError``."""
    if len(body) < 12 or constructor_of(body) != MSGS_STATE_INFO_ID:
        raise TLDecodeError(0, "not a msgs_state_info")
    req_msg_id: int = struct.unpack_from("<q", body, 4)[0]
    r = Reader(body, 12)
    info = read_bytes(r)
    if r.pos != len(body):
        raise TLDecodeError(r.pos, "trailing bytes after msgs_state_info")
    return req_msg_id, info


def read_id_vector(body: bytes) -> list[int]:
    """The ``Vector<long>`` after the constructor id of ``msgs_ack``, ``msgs_state_req``,
    ``msg_resend_req``...; raises ``TLDecodeError``."""
    if len(body) >= 12:
        # A well-formed vector, the usual case, read in one unpack; anything else goes
        # through the TL reader below, for its checks and errors.
        vector_id, n = _II.unpack_from(body, 4)
        if vector_id == _VECTOR_ID and len(body) == 12 + 8 * n:
            return list(_id_vector(n).unpack(body)[3:])
    r = Reader(body, 4)
    try:
        ids = read_vector_long(r)
    except struct.error as e:  # pragma: no cover - read_vector_long checks lengths first
        raise TLDecodeError(r.pos, str(e)) from None
    if r.pos != len(body):
        raise TLDecodeError(r.pos, "trailing bytes after the id vector")
    return ids


def parse_bare(body: bytes, cls: type[_T]) -> _T:
    """A message of known constructor ``cls``, read after its id; exactly ``body``.

    Raises one of :data:`DECODE_ERRORS`.
    """
    r = Reader(body, 4)
    obj = cls._read(r)
    if r.pos != len(body):
        raise TLDecodeError(r.pos, f"trailing bytes after {cls.TL_NAME}")
    return obj


def gunzip(body: bytes, budget: int = MAX_GZIP_SIZE) -> bytes:
    """The serialised object a ``gzip_packed`` body holds, at most ``budget`` bytes; raises
    ``TLDecodeError`` (``InflateLimitError`` when it would inflate beyond)."""
    r = Reader(body, 4, budget)
    data = read_packed(r)
    if r.pos != len(body):
        raise TLDecodeError(r.pos, "trailing bytes after gzip_packed")
    return data


def signed64(raw: bytes) -> int:
    """Eight little-endian bytes as the signed value of a TL ``long``."""
    return int.from_bytes(raw, "little", signed=True)
