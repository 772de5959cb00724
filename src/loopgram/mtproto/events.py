"""MTProto layer: the events a Connection reports, as frozen dataclasses (h11/wsproto style).

Spec: core.telegram.org/mtproto/description (sessions, messages),
core.telegram.org/mtproto/service_messages (rpc_result, rpc_error, ping,
new_session_created, destroy_session) and
core.telegram.org/mtproto/service_messages_about_messages (acks, bad_msg_notification,
msgs_state_req, resends).

``receive_data`` returns these; everything the protocol answers by itself (acks, pongs,
``bad_server_salt``, ``future_salts``...) is handled inside the Connection and only
surfaces here when the layer above has something to do or to know. ``auth_key_id`` is the
signed TL ``long`` (:attr:`loopgram.crypto.AuthKey.id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from loopgram.crypto import AuthKey
from loopgram.tl import TLObject
from loopgram.tl.mtproto.types import RpcError

__all__ = [
    "AuthKeyCreated",
    "DisconnectRequested",
    "Event",
    "HandshakeCompleted",
    "MessageRejected",
    "RequestCancelled",
    "RequestFailed",
    "RequestReceived",
    "ResultReceived",
    "SessionCreated",
    "SessionDestroyed",
    "UpdateReceived",
]


# -- server side -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthKeyCreated:
    """Server: a key exchange finished and the new key is registered in the store."""

    auth_key_id: int


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """Server: the client sent an RPC query; answer with ``send_result``/``send_error``.

    ``request`` is the parsed object, or ``None`` when the TL codec does not know its
    constructor (an older layer, a bad client): ``body`` always holds the message as received
    (a ``gzip_packed`` one still packed) so that the dispatcher can try again, under the
    same inflate budget and nesting rule, or answer an ``rpc_error``.
    """

    auth_key_id: int
    session_id: int
    msg_id: int
    request: TLObject | None
    body: bytes


@dataclass(frozen=True, slots=True)
class RequestCancelled:
    """Server: the client sent ``rpc_drop_answer`` for a query not answered yet."""

    auth_key_id: int
    session_id: int
    msg_id: int


@dataclass(frozen=True, slots=True)
class DisconnectRequested:
    """Server: ``ping_delay_disconnect`` -- close the connection after ``delay`` seconds
    without another ping (each new ``ping_delay_disconnect`` replaces the previous delay)."""

    auth_key_id: int
    session_id: int
    delay: int


@dataclass(frozen=True, slots=True)
class SessionDestroyed:
    """Server: ``destroy_session`` removed another session of the same auth key."""

    auth_key_id: int
    session_id: int


@dataclass(frozen=True, slots=True)
class MessageRejected:
    """Server: a message was refused and answered in band with ``bad_msg_notification``
    (``bad_server_salt`` for ``error_code`` 48); the reply is already queued."""

    auth_key_id: int
    session_id: int
    msg_id: int
    error_code: int


# -- both sides --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionCreated:
    """A session started: on the server when a new ``(auth_key, session_id)`` sends its
    first accepted message (``new_session_created`` is queued); on the client when
    ``new_session_created`` arrives (updates sent before it may have been missed)."""

    auth_key_id: int
    session_id: int
    first_msg_id: int
    unique_id: int


# -- client side -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandshakeCompleted:
    """Client: the key exchange produced ``auth_key``; requests are being sent with it."""

    auth_key: AuthKey
    server_salt: int
    time_offset: float


@dataclass(frozen=True, slots=True)
class ResultReceived:
    """Client: the answer to the query ``send_request`` returned ``msg_id`` for.

    ``msg_id`` stays the id ``send_request`` returned even if the query was re-sent under a
    new id (bad salt, clock correction). Exactly one of ``result`` (parsed with the
    function's ``read_result``; a ``Pong``, ``FutureSalts``... for service queries) and
    ``error`` is set.
    """

    msg_id: int
    result: Any
    error: RpcError | None = None


@dataclass(frozen=True, slots=True)
class RequestFailed:
    """Client: a query will get no answer: the server refused it with a
    ``bad_msg_notification`` that re-sending cannot fix (``error_code``), or its
    ``rpc_result`` could not be decoded (``error_code`` ``None``)."""

    msg_id: int
    reason: str
    error_code: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateReceived:
    """Client: a content message that answers no query (``updates``, ``updateShort``...).

    ``update`` is ``None`` when the TL codec does not know the constructor; ``body`` always
    holds the raw bytes.
    """

    update: TLObject | None
    body: bytes


Event: TypeAlias = (
    AuthKeyCreated
    | RequestReceived
    | RequestCancelled
    | DisconnectRequested
    | SessionDestroyed
    | MessageRejected
    | SessionCreated
    | HandshakeCompleted
    | ResultReceived
    | RequestFailed
    | UpdateReceived
)


# -- hot-path constructors -----------------------------------------------------------------
# A frozen dataclass's __init__ assigns each field through object.__setattr__ (~0.9 us for
# RequestReceived). The connections build one of these per RPC, so they assign the slots
# through their descriptors instead: the same immutable instances, at under half the cost.

_new = object.__new__
_rq_key, _rq_session, _rq_msg, _rq_request, _rq_body = (
    RequestReceived.__dict__[name].__set__
    for name in ("auth_key_id", "session_id", "msg_id", "request", "body")
)
_rs_msg, _rs_result, _rs_error = (
    ResultReceived.__dict__[name].__set__ for name in ("msg_id", "result", "error")
)


def make_request_received(
    auth_key_id: int, session_id: int, msg_id: int, request: TLObject | None, body: bytes
) -> RequestReceived:
    """``RequestReceived(...)``, built faster."""
    event: RequestReceived = _new(RequestReceived)
    _rq_key(event, auth_key_id)
    _rq_session(event, session_id)
    _rq_msg(event, msg_id)
    _rq_request(event, request)
    _rq_body(event, body)
    return event


def make_result_received(msg_id: int, result: Any, error: RpcError | None) -> ResultReceived:
    """``ResultReceived(...)``, built faster."""
    event: ResultReceived = _new(ResultReceived)
    _rs_msg(event, msg_id)
    _rs_result(event, result)
    _rs_error(event, error)
    return event
