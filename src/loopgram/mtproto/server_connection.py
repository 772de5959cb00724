"""MTProto layer: the server end of one TCP connection (sans-I/O).

Spec: core.telegram.org/mtproto/description (encrypted messages; msg_id, seq_no and salt
checks; sessions), core.telegram.org/mtproto/service_messages (rpc_result, rpc_error,
ping/pong, ping_delay_disconnect, get_future_salts, new_session_created, containers,
gzip_packed, destroy_session, rpc_drop_answer) and
core.telegram.org/mtproto/service_messages_about_messages (msgs_ack, bad_msg_notification,
bad_server_salt, msgs_state_req, msg_resend_req).

Per packet: frame (the transport is detected from the first bytes), decrypt with the key
its ``auth_key_id`` names (unknown: transport error -404), check ``msg_key`` and padding
(failure: dropped, counted), then the clock window, the salt, the replay window and
``seq_no`` (failure: ``bad_msg_notification``/``bad_server_salt``), then serve service
messages here and hand RPC queries up as :class:`RequestReceived`. Unencrypted packets are
key exchange steps, answered by :class:`~loopgram.mtproto.handshake.ServerHandshake`.
See :mod:`loopgram.mtproto.connection` for the buffering model shared with the client.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Final

from loopgram.clock import Clock, RandomBytes, system_clock, system_random
from loopgram.crypto import RsaPrivateKey, SecurityError, decrypt_message, encrypt_padded
from loopgram.mtproto.connection import (
    ACK_BATCH,
    FLOOD,
    NOT_FOUND,
    ConnectionBase,
    seal_batches,
)
from loopgram.mtproto.errors import LocalProtocolError, RemoteProtocolError
from loopgram.mtproto.events import (
    AuthKeyCreated,
    DisconnectRequested,
    Event,
    MessageRejected,
    RequestCancelled,
    SessionCreated,
    SessionDestroyed,
    make_request_received,
)
from loopgram.mtproto.handshake import (
    DEFAULT_DC_ID,
    DEFAULT_TTL,
    HandshakeError,
    HandshakeResult,
    KeypairProvider,
    PqProvider,
    ServerHandshake,
)
from loopgram.mtproto.msgid import DUPLICATE, MAX_AGE, MAX_FUTURE, BadMsgCode, MsgIdGenerator
from loopgram.mtproto.plain import PlainMessageError, decode_plain, encode_plain
from loopgram.mtproto.salts import DEFAULT_GRACE, DEFAULT_PERIOD, ServerSalts
from loopgram.mtproto.service import (
    ACK_ID,
    CONTAINER_ID,
    DECODE_ERRORS,
    DESTROY_SESSION_ID,
    EITHER_CONTENT,
    GET_FUTURE_SALTS_ID,
    GZIP_ID,
    HTTP_WAIT_ID,
    MAX_ACK_IDS,
    MSG_DETAILED_INFO_ID,
    MSG_NEW_DETAILED_INFO_ID,
    MSG_RESEND_ANS_REQ_ID,
    MSG_RESEND_REQ_ID,
    MSGS_ALL_INFO_ID,
    MSGS_STATE_INFO_ID,
    MSGS_STATE_REQ_ID,
    NEVER_CONTENT,
    PING_DELAY_DISCONNECT_ID,
    PING_ID,
    RPC_DROP_ANSWER_ID,
    RPC_RESULT_ID,
    MsgState,
    ack_body,
    constructor_of,
    gunzip,
    maybe_gzip,
    msgs_state_info_body,
    parse_bare,
    read_id_vector,
    rpc_result_body,
    signed64,
)
from loopgram.mtproto.session import HEADER, Outgoing, ServerSession, quick_ack_token
from loopgram.mtproto.store import KeyEntry, SessionStore
from loopgram.tl import InflateLimitError, MsgContainer, Reader, TLObject
from loopgram.tl.core import OBJECTS
from loopgram.tl.mtproto import functions as fn
from loopgram.tl.mtproto import types as ty
from loopgram.transport import (
    Codec,
    Packet,
    ServerTransport,
    TransportError,
    TransportUsageError,
)

__all__ = ["ServerConnection"]

_ZERO_KEY_ID = bytes(8)
_CONTAINER_PREFIX = CONTAINER_ID.to_bytes(4, "little")
_TWO32 = 4294967296.0
_INT64_MAX = 2**63 - 1
_U32 = struct.Struct("<I")
_INNER = struct.Struct("<qii")  # a container message: msg_id, seqno, bytes
_RPC_RESULT_HEAD = struct.Struct("<Iq")
_RPC_RESULT_PREFIX = RPC_RESULT_ID.to_bytes(4, "little")
_RPC_ERROR_PREFIX = ty.RpcError.CONSTRUCTOR_ID.to_bytes(4, "little")
# service.expects_content as one lookup: None (either) for EITHER_CONTENT, False (even
# seq_no) for the rest of NEVER_CONTENT, True for anything else.
_CONTENT_KIND: dict[int, bool | None] = {
    **dict.fromkeys(NEVER_CONTENT, False),
    **dict.fromkeys(EITHER_CONTENT, None),
}
_X = 8  # the server seals with x = 8 and opens client packets with x = 0

DEFAULT_MAX_INFLATE: Final = 1024 * 1024
"""Bytes the ``gzip_packed`` objects of one packet (a message, or a container and every
message in it) may inflate to, together: about the largest packet the server takes plainly
(``net.Limits.max_packet``). Compression saves bandwidth; it must not let a client send
more than it could send plainly, nor make the server parse more per packet (4 MiB of the
smallest objects take a second to decode)."""
DEFAULT_MAX_INFLATE_HELD: Final = 8 * 1024 * 1024
"""Inflated bytes the queries of one connection not answered yet may hold, together."""
REQUEST_TOO_LONG: Final = "INPUT_REQUEST_TOO_LONG"
"""Telegram's ``400`` for a request too large to take: here, one that inflates beyond the
budget of its packet or of its connection."""
FETCH_ERROR: Final = "INPUT_FETCH_ERROR"
"""Telegram's ``400`` for a message that cannot be decoded at all."""

ServiceHandler = Callable[[ServerSession, int, bytes, float, list[Event]], None]


class ServerConnection(ConnectionBase):
    """The server end of one TCP connection.

    ``store`` keeps auth keys and sessions between connections. ``rsa_keys`` are the
    server's private keys for the key exchange (none: only existing keys are served;
    ``dc_id``, ``keypair`` and ``pq`` are passed to the
    :class:`~loopgram.mtproto.handshake.ServerHandshake`). ``clock`` and ``random_bytes``
    are injected (:mod:`loopgram.clock`). The transport is detected from the first
    bytes (pass ``transport`` to configure it). New keys get salts that rotate every
    ``salt_period`` seconds, the previous one accepted ``salt_grace`` more. Answers and
    updates over ``gzip_threshold`` bytes go ``gzip_packed`` when that makes them smaller.
    ``window`` client ids are remembered per session against replays, ``max_outbox``
    unacknowledged messages are kept for re-sending, ``max_sessions`` sessions may share
    one connection (beyond: transport error -429).

    ``gzip_packed`` from the client: everything one packet holds inflates to at most
    ``max_inflate`` bytes together, and the queries of this connection not answered yet
    hold at most ``max_inflate_held`` inflated bytes; ``gzip_packed`` never nests. A message
    beyond a budget is answered ``rpc_error 400 INPUT_REQUEST_TOO_LONG``, one that does not
    decode ``400 INPUT_FETCH_ERROR`` (a ``msgs_ack`` excepted: nobody waits for its answer),
    a container inside ``gzip_packed`` ``bad_msg_notification`` 64: no message goes
    unanswered because it could not be read.

    A key exchange whose next step does not come within ``handshake_timeout`` seconds is
    forgotten (that step gets transport error -404): pass the driver's opening timeout, so
    that an abandoned exchange lives about as long as a connection that has not opened yet. While
    one is in progress, :attr:`handshaking` is true and :meth:`handshake_deadline` says
    until when.

    Methods: :meth:`receive_data`, :meth:`send_result`, :meth:`send_error`,
    :meth:`send_update`, :meth:`data_to_send`, :meth:`ack_deadline`.
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        rsa_keys: Sequence[RsaPrivateKey] = (),
        clock: Clock = system_clock,
        random_bytes: RandomBytes = system_random,
        transport: ServerTransport | None = None,
        dc_id: int | None = DEFAULT_DC_ID,
        keypair: KeypairProvider | None = None,
        pq: PqProvider | None = None,
        salt_period: int = DEFAULT_PERIOD,
        salt_grace: int = DEFAULT_GRACE,
        gzip_threshold: int = 1024,
        ack_delay: float = 0.5,
        window: int = 1024,
        max_outbox: int = 1024,
        max_sessions: int = 64,
        max_inflate: int = DEFAULT_MAX_INFLATE,
        max_inflate_held: int = DEFAULT_MAX_INFLATE_HELD,
        handshake_timeout: float = DEFAULT_TTL,
    ) -> None:
        super().__init__(clock, random_bytes, ack_delay)
        self._store = store
        self._rsa_keys = tuple(rsa_keys)
        self._transport = transport or ServerTransport(random_bytes=random_bytes)
        # The detected codec, called directly once known (one delegation less per packet).
        self._codec: Codec | None = None
        self._dc_id = dc_id
        self._keypair = keypair
        self._pq = pq
        self._salt_period = salt_period
        self._salt_grace = salt_grace
        self.gzip_threshold = gzip_threshold
        self._window = window
        self._max_outbox = max_outbox
        self._max_sessions = max_sessions
        self._handshake: ServerHandshake | None = None
        self._handshake_timeout = handshake_timeout
        self._plain_ids = MsgIdGenerator(clock, server=True)
        self._keys: dict[bytes, KeyEntry] = {}
        self._sessions: dict[tuple[int, int], ServerSession] = {}
        self._current: ServerSession | None = None
        self._requests: dict[int, ServerSession] = {}  # unanswered query msg_id -> session
        self.max_inflate = max_inflate
        self.max_inflate_held = max_inflate_held
        self._held: dict[int, int] = {}  # unanswered query msg_id -> bytes it inflated to
        self.inflate_held = 0
        """Inflated bytes the unanswered queries of this connection hold (their sum)."""
        self._budget = 0  # what the rest of the current packet may still inflate to
        self.refused = 0
        """Messages answered with an error because they could not be decoded."""
        self._reader = Reader(b"")
        self._service: dict[int, ServiceHandler] = {
            ACK_ID: self._on_ack,
            PING_ID: self._on_ping,
            PING_DELAY_DISCONNECT_ID: self._on_ping_delay_disconnect,
            GET_FUTURE_SALTS_ID: self._on_get_future_salts,
            DESTROY_SESSION_ID: self._on_destroy_session,
            MSGS_STATE_REQ_ID: self._on_msgs_state_req,
            MSG_RESEND_REQ_ID: self._on_msg_resend_req,
            MSG_RESEND_ANS_REQ_ID: self._on_msg_resend_ans_req,
            RPC_DROP_ANSWER_ID: self._on_rpc_drop_answer,
            HTTP_WAIT_ID: self._ignore,
            MSGS_STATE_INFO_ID: self._ignore,
            MSGS_ALL_INFO_ID: self._ignore,
            MSG_DETAILED_INFO_ID: self._ignore,
            MSG_NEW_DETAILED_INFO_ID: self._ignore,
        }

    # -- public API ------------------------------------------------------------------------

    @property
    def transport(self) -> ServerTransport:
        return self._transport

    @property
    def sessions(self) -> list[ServerSession]:
        """The sessions this connection has carried messages for."""
        return list(self._sessions.values())

    def receive_data(self, data: bytes) -> list[Event]:
        """Consume bytes from the client; return the events they complete.

        Raises :class:`RemoteProtocolError` when the connection must close: write its
        ``reply``, act on its ``events`` (decoded before the fault), close. Every later
        call raises it again.
        """
        failure = self._failure  # _check_open, inlined: this runs for every read
        if failure is not None:
            raise failure
        codec = self._codec
        events: list[Event] = []
        if codec is not None:
            # The usual read, one whole frame with one packet: no Packet event to make.
            payload = codec.feed_packet(data)
            if payload is not None:
                self._on_packet(payload, False, events)
                return events
        try:
            if codec is not None:
                frames = codec.feed(data)
            else:
                frames = self._transport.feed(data)
                self._codec = self._transport.codec
        except TransportError as exc:
            raise self._fatal(str(exc), exc.code, []) from None
        for frame in frames:
            if type(frame) is Packet:
                self._on_packet(frame.payload, frame.quick_ack, events)
        return events

    def send_result(self, request_msg_id: int, result: TLObject | bytes) -> int:
        """Answer the query ``request_msg_id`` with ``rpc_result``; returns the answer's id.

        ``result`` is the TL object or its serialisation. Raises
        :class:`LocalProtocolError` unless a query with that id waits for an answer here.
        Returns 0 (nothing sent) if the client dropped the answer with ``rpc_drop_answer``.
        """
        session = self._requests.pop(request_msg_id, None)
        if session is None:
            raise LocalProtocolError(f"no query {request_msg_id:#x} waits for an answer here")
        if self._held:
            self._release(request_msg_id)
        requests = session.requests
        state = requests.get(request_msg_id)
        if state == -1:
            return 0  # rpc_drop_answer came first: the client asked not to get it
        data = result if type(result) is bytes else bytes(result)
        if len(data) > self.gzip_threshold:
            data = maybe_gzip(data, self.gzip_threshold)
        # rpc_result_body, inlined: this runs for every answer.
        body = _RPC_RESULT_HEAD.pack(RPC_RESULT_ID, request_msg_id) + data
        # session.push(body, content=True, response=True), inlined: one per answer.
        ids = session.msg_ids
        msg_id = int((ids.clock() + ids.offset) * _TWO32) & ~3
        last = ids.last
        if msg_id <= last:
            msg_id = (last & ~3) + 4
        msg_id |= 1
        if msg_id > _INT64_MAX:
            raise OverflowError("msg_id does not fit a TL long")
        ids.last = msg_id
        counter = session.seqno
        seqno = 2 * counter.count + 1
        counter.count += 1
        session.queue.append((msg_id, seqno, body))
        outbox = session.outbox
        outbox[msg_id] = (seqno, body)
        if len(outbox) > session.max_outbox:
            del outbox[next(iter(outbox))]
        if state is not None:
            requests[request_msg_id] = msg_id
        # The rpc_result acknowledges the query by itself: no msgs_ack needed any more.
        acks = session.acks
        if acks:
            if acks[-1] == request_msg_id:
                acks.pop()
            elif request_msg_id in acks:
                acks.remove(request_msg_id)
        return msg_id

    def send_error(self, request_msg_id: int, code: int, message: str) -> int:
        """Answer the query ``request_msg_id`` with ``rpc_error code message``."""
        return self.send_result(request_msg_id, ty.RpcError(error_code=code, error_message=message))

    def send_update(self, update: TLObject | bytes, *, session_id: int | None = None) -> int:
        """Send a content message that answers no query (``updates``...); returns its id.

        It goes to session ``session_id`` of this connection, by default the session of
        the last message received. Raises :class:`LocalProtocolError` if there is none.
        """
        session = self._current
        if session_id is not None:
            session = next((s for s in self._sessions.values() if s.session_id == session_id), None)
        if session is None or not session.announced:
            raise LocalProtocolError("no session to send an update to on this connection")
        data = update if type(update) is bytes else bytes(update)
        return session.push(maybe_gzip(data, self.gzip_threshold), content=True, response=False)

    def data_to_send(self, *, flush_acks: bool = False) -> bytes:
        """Everything queued, sealed and framed: the bytes to write to the client.

        Pending acks are sent once :data:`ACK_BATCH` of them wait or the oldest waited
        ``ack_delay`` (see :meth:`ack_deadline`), or at once with ``flush_acks``; until
        then answers go without them (an ``rpc_result`` acknowledges its query itself).
        """
        frames = self._frames
        for session in self._sessions.values():
            if session.owner is not self:
                continue
            # _acks_due, inlined: this runs after every answer.
            acks = session.acks
            due = bool(acks) and (
                flush_acks
                or len(acks) >= ACK_BATCH
                or self._clock() - session.acks_since >= self.ack_delay
            )
            if due or session.queue:
                self._flush(session, due)
        # _pop_output, inlined.
        if not frames:
            return b""
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        frames.clear()
        return data

    @property
    def handshaking(self) -> bool:
        """Whether a key exchange is in progress (started, neither finished nor expired)."""
        return self.handshake_deadline() is not None

    def handshake_deadline(self) -> float | None:
        """Clock time at which the key exchange in progress expires (``None``: none is).

        Past it, the exchange's state is released. A driver that closes a connection whose
        only traffic is an unfinished key exchange at this time keeps an abandoned
        ``req_pq_multi`` no longer than a connection that never sent a packet.
        """
        handshake = self._handshake
        if handshake is None:
            return None
        deadline = handshake.deadline
        if deadline is not None and self._clock() >= deadline:
            self._handshake = None  # nothing of it is needed any more
            return None
        return deadline

    def ack_deadline(self) -> float | None:
        """Clock time by which :meth:`data_to_send` should be called to send pending acks."""
        due = [
            s.acks_since + self.ack_delay
            for s in self._sessions.values()
            if s.acks and s.owner is self
        ]
        return min(due) if due else None

    # -- input -----------------------------------------------------------------------------

    def _fatal(self, message: str, code: int | None, events: list[Event]) -> RemoteProtocolError:
        reply = b""
        if code is not None:
            try:
                reply = self._transport.encode_error(code)
            except TransportUsageError:  # the transport was never identified
                code = None
        exc = RemoteProtocolError(message, reply=reply, code=code, events=events)
        self._failure = exc
        return exc

    def _on_packet(self, payload: bytes, quick_ack: bool, events: list[Event]) -> None:
        key_id = payload[:8]
        entry = self._keys.get(key_id)
        if entry is None:
            if key_id == _ZERO_KEY_ID:
                self._on_plain(payload, events)
                return
            if len(key_id) < 8:
                raise self._fatal("packet shorter than an auth_key_id", NOT_FOUND, events)
            entry = self._store.get_key(signed64(key_id))
            if entry is None:
                raise self._fatal(f"unknown auth key {signed64(key_id):#x}", NOT_FOUND, events)
            self._keys[key_id] = entry
        if entry.expires_at is not None and self._clock() >= entry.expires_at:
            # A temporary key (p_q_inner_data_temp) past its expires_in is unknown from
            # then on, even on a connection that used it a moment ago: -404, as Telegram
            # answers, and the client makes a new temporary key.
            del self._keys[key_id]
            raise self._fatal(f"temporary auth key {entry.id:#x} expired", NOT_FOUND, events)
        auth_key = entry.auth_key
        # session.open_message, inlined: this runs for every packet.
        excess = (len(payload) - 24) & 15
        try:
            data = decrypt_message(auth_key, payload[:-excess] if excess else payload, x=0)
        except SecurityError:
            self.dropped += 1
            return
        size = len(data)
        if size < 44:
            self.dropped += 1
            return
        salt, session_id, msg_id, seqno, length = HEADER.unpack_from(data)
        padding = size - 32 - length
        if length < 0 or length & 3 or padding < 12 or padding > 1024:
            self.dropped += 1
            return
        body = data[32 : 32 + length]
        if quick_ack:
            token = quick_ack_token(auth_key, payload, 0)
            self._frames.append(self._transport.encode_quick_ack(token))
        session = self._current
        # The session of the previous packet, most often; _current is always the entry of
        # _sessions under its key (destroy_session only removes other sessions).
        if (
            session is None
            or session.session_id != session_id
            or session.auth_key_id != auth_key.id
            or session.owner is not self
        ):
            session = self._sessions.get((auth_key.id, session_id))
            if session is None or session.owner is not self:
                session = self._bind(entry, session_id, events)
            self._current = session
        now = self._clock()
        # The checks of the outer message, in the order Telegram reports them: id bits,
        # clock window (16/17), then the salt (48, with the salt to use).
        sent = msg_id / _TWO32
        if msg_id & 3:
            code = BadMsgCode.MSG_ID_BAD_BITS
        elif sent < now - MAX_AGE:
            code = BadMsgCode.MSG_ID_TOO_LOW
        elif sent > now + MAX_FUTURE:
            code = BadMsgCode.MSG_ID_TOO_HIGH
        else:
            salts = session.salts
            if (salt == salts.now_salt and now < salts.now_until) or salts.accepts(salt, now):
                self._budget = min(self.max_inflate, self.max_inflate_held - self.inflate_held)
                if body[:4] == _CONTAINER_PREFIX:
                    self._on_container(session, msg_id, seqno, body, now, events)
                else:
                    self._on_message(session, msg_id, seqno, body, now, events)
                return
            code = BadMsgCode.BAD_SERVER_SALT
        self._reject(session, msg_id, seqno, code, now, events)

    def _bind(self, entry: KeyEntry, session_id: int, events: list[Event]) -> ServerSession:
        """The session for ``(key, session_id)``, made this connection's to send for."""
        key = (entry.auth_key.id, session_id)
        session = self._sessions.get(key) or self._store.get_session(*key)
        if session is None:
            if len(self._sessions) >= self._max_sessions:
                raise self._fatal("too many sessions on one connection", FLOOD, events)
            session = ServerSession(
                entry.auth_key,
                entry.salts,
                session_id,
                self._clock,
                window=self._window,
                max_outbox=self._max_outbox,
            )
        elif session.announced:
            # The client is back (or moved connections): what it has not acknowledged
            # may never have reached it, so it goes again, under the same msg_ids.
            session.resend_outbox()
        session.owner = self
        self._sessions[key] = session
        return session

    def _announce(self, session: ServerSession, first_msg_id: int, now: float) -> Event:
        """First accepted message of a session: ``new_session_created`` and the store."""
        session.announced = True
        session.first_msg_id = first_msg_id
        session.unique_id = signed64(self._random(8))
        self._store.add_session(session)
        created = ty.NewSessionCreated(
            first_msg_id=first_msg_id,
            unique_id=session.unique_id,
            server_salt=session.salts.current(now),
        )
        session.push(bytes(created), content=True, response=False)
        return SessionCreated(
            session.auth_key_id, session.session_id, first_msg_id, session.unique_id
        )

    def _reject(
        self,
        session: ServerSession,
        msg_id: int,
        seqno: int,
        code: int,
        now: float,
        events: list[Event],
    ) -> None:
        notification: TLObject
        if code == BadMsgCode.BAD_SERVER_SALT:
            notification = ty.BadServerSalt(
                bad_msg_id=msg_id,
                bad_msg_seqno=seqno,
                error_code=code,
                new_server_salt=session.salts.current(now),
            )
        else:
            notification = ty.BadMsgNotification(
                bad_msg_id=msg_id, bad_msg_seqno=seqno, error_code=code
            )
        session.push(bytes(notification), content=False, response=True)
        events.append(MessageRejected(session.auth_key_id, session.session_id, msg_id, code))

    def _on_container(
        self,
        session: ServerSession,
        msg_id: int,
        seqno: int,
        body: bytes,
        now: float,
        events: list[Event],
    ) -> None:
        received = session.received
        messages: list[Outgoing] | None = None
        if msg_id in session.containers or msg_id in received.seqnos:
            code = BadMsgCode.CONTAINER_ID_REUSED
        elif msg_id <= received.floor:
            code = BadMsgCode.MSG_TOO_OLD
        elif seqno & 1:
            code = BadMsgCode.SEQNO_EVEN_EXPECTED
        else:
            messages = _read_container(msg_id, body)
            code = BadMsgCode.INVALID_CONTAINER
        if messages is None:
            self._reject(session, msg_id, seqno, code, now, events)
            return
        session.remember_container(msg_id)
        if not session.announced:
            events.append(self._announce(session, min(m[0] for m in messages), now))
        low, high = (now - MAX_AGE) * _TWO32, (now + MAX_FUTURE) * _TWO32
        for inner_id, inner_seqno, inner_body in messages:
            if inner_id & 3:
                code = BadMsgCode.MSG_ID_BAD_BITS
            elif inner_id < low:
                code = BadMsgCode.MSG_ID_TOO_LOW
            elif inner_id > high:
                code = BadMsgCode.MSG_ID_TOO_HIGH
            else:
                self._on_message(session, inner_id, inner_seqno, inner_body, now, events)
                continue
            self._reject(session, inner_id, inner_seqno, code, now, events)

    def _on_message(
        self,
        session: ServerSession,
        msg_id: int,
        seqno: int,
        body: bytes,
        now: float,
        events: list[Event],
    ) -> None:
        """One message whose id passed the clock checks: window, seq_no, then dispatch."""
        cid = _U32.unpack_from(body)[0] if body else 0
        kind = _CONTENT_KIND.get(cid, True)
        received = session.received
        ids = received.ids
        code: int
        if ids and msg_id > ids[-1]:
            # ReceivedWindow.accept for an id in order (the usual message), inlined: the
            # seq_no parity its kind requires, and no lower than its predecessor's.
            odd = seqno & 1
            prev = received.seqnos[ids[-1]]
            if kind is not None and odd != kind:
                code = BadMsgCode.SEQNO_ODD_EXPECTED if kind else BadMsgCode.SEQNO_EVEN_EXPECTED
            elif prev > seqno or (prev == seqno and odd):
                code = BadMsgCode.SEQNO_TOO_LOW
            else:
                code = 0
                ids.append(msg_id)
                received.seqnos[msg_id] = seqno
                if len(ids) > received.size + 64:
                    received.forget()
        else:
            code = received.accept(msg_id, seqno, kind)
        if code:
            if code == DUPLICATE:
                self.duplicates += 1
                if seqno & 1 and msg_id not in session.acks:
                    session.add_ack(msg_id, now)  # the first ack may have been lost
            else:
                self._reject(session, msg_id, seqno, code, now, events)
            return
        if not session.announced:
            events.append(self._announce(session, msg_id, now))
        if seqno & 1:
            acks = session.acks
            if not acks:
                session.acks_since = now
            acks.append(msg_id)
        raw = body
        budget = self._budget
        packed = cid == GZIP_ID
        if packed:
            try:
                body = gunzip(body, budget)
            except InflateLimitError:
                self._refuse(session, msg_id, REQUEST_TOO_LONG)
                return
            except DECODE_ERRORS:
                self._refuse(session, msg_id, FETCH_ERROR)
                return
            self._budget -= len(body)
            cid = constructor_of(body)
            if cid == CONTAINER_ID:
                # Containers only travel bare: the container itself is invalid (64).
                self._reject(session, msg_id, seqno, BadMsgCode.INVALID_CONTAINER, now, events)
                return
            if cid == GZIP_ID:
                self._refuse(session, msg_id, FETCH_ERROR)  # gzip_packed does not nest
                return
        handler = self._service.get(cid)
        if handler is not None:
            try:
                handler(session, msg_id, body, now, events)
            except DECODE_ERRORS:
                self.malformed += 1
                if cid != ACK_ID:
                    self._refuse(session, msg_id, FETCH_ERROR)
            return
        # An RPC query. Parsed here so that the layer above gets an object; if the codec
        # does not know the constructor (an older layer...), it gets the bytes alone.
        # read_boxed(Reader(body), OBJECTS), inlined with the constructor id already read.
        request: TLObject | None = None
        reader = OBJECTS.get(cid)
        if reader is not None:
            # One Reader per connection, reset per query: an allocation less per message.
            r = self._reader
            r.data = body
            r.pos = 4
            r.depth = 1  # inside one boxed object, as read_boxed counts
            r.budget = self._budget
            r.packed = packed
            try:
                request = reader(r)
                if r.pos != len(body):
                    request = None
            except InflateLimitError:
                self._refuse(session, msg_id, REQUEST_TOO_LONG)
                return
            except DECODE_ERRORS:
                request = None
            finally:
                # The reader outlives the query: left pointing at the body, an idle
                # connection would keep what its last request inflated to.
                r.data = b""
            self._budget = r.budget
        inflated = budget - self._budget
        if inflated:
            self._held[msg_id] = inflated
            self.inflate_held += inflated
        requests = session.requests
        requests[msg_id] = 0
        if len(requests) > 4096:
            session.forget_requests()
        self._requests[msg_id] = session
        # The body as received (gzip_packed still packed): a layer above that decodes it
        # again (an older layer's query) meets the same rules, and keeps no inflated copy.
        events.append(
            make_request_received(session.auth_key_id, session.session_id, msg_id, request, raw)
        )

    def _refuse(self, session: ServerSession, msg_id: int, message: str) -> None:
        """Answer a message that cannot be read with ``rpc_error 400 message``."""
        self.refused += 1
        session.requests[msg_id] = 0
        self._requests[msg_id] = session
        self.send_error(msg_id, 400, message)

    def _release(self, msg_id: int) -> None:
        """The query ``msg_id`` no longer holds what it inflated to."""
        held = self._held.pop(msg_id, 0)
        self.inflate_held -= held

    def _on_plain(self, payload: bytes, events: list[Event]) -> None:
        """An unencrypted message: a key exchange step, answered here."""
        try:
            message = decode_plain(payload)
        except PlainMessageError as exc:
            raise self._fatal(str(exc), NOT_FOUND, events) from None
        if message.msg_id & 3:
            raise self._fatal("client msg_id not divisible by 4", NOT_FOUND, events)
        handshake = self._handshake
        if handshake is None:
            if not self._rsa_keys:
                raise self._fatal("key exchange, but the server has no RSA key", NOT_FOUND, events)
            store = self._store
            handshake = self._handshake = ServerHandshake(
                rsa_keys=self._rsa_keys,
                clock=self._clock,
                random_bytes=self._random,
                dc_id=self._dc_id,
                keypair=self._keypair,
                pq=self._pq,
                key_exists=lambda key_id: store.get_key(key_id) is not None,
                ttl=self._handshake_timeout,
            )
        try:
            step = handshake.receive(message.body)
        except HandshakeError as exc:
            raise self._fatal(f"key exchange: {exc}", NOT_FOUND, events) from None
        result = step.result
        if result is not None and not step.repeated:
            self._register_key(result)
            events.append(AuthKeyCreated(result.auth_key.id))
        reply = encode_plain(self._plain_ids.next(True), step.reply)
        self._frames.append(self._transport.encode(reply))

    def _register_key(self, result: HandshakeResult) -> None:
        now = self._clock()
        salts = ServerSalts(
            result.server_salt,
            now,
            self._random,
            period=self._salt_period,
            grace=self._salt_grace,
        )
        expires_at = None if result.expires_in is None else now + result.expires_in
        self._store.add_key(KeyEntry(result.auth_key, salts, now, expires_at))

    # -- service messages (client -> server) -----------------------------------------------

    def _ignore(
        self, session: ServerSession, msg_id: int, body: bytes, now: float, events: list[Event]
    ) -> None:
        """Informational messages (http_wait, msgs_*_info): nothing to do over TCP."""

    def _on_ack(
        self, session: ServerSession, msg_id: int, body: bytes, now: float, events: list[Event]
    ) -> None:
        outbox = session.outbox
        for acked in read_id_vector(body):
            outbox.pop(acked, None)

    @staticmethod
    def _answer(session: ServerSession, body: bytes) -> None:
        """A bare service answer: a response id, not content-related, not kept."""
        session.push(body, content=False, response=True)

    def _on_ping(
        self, session: ServerSession, msg_id: int, body: bytes, now: float, events: list[Event]
    ) -> None:
        ping = parse_bare(body, fn.Ping)
        # pong is not wrapped in rpc_result: its msg_id field names the ping.
        self._answer(session, bytes(ty.Pong(msg_id=msg_id, ping_id=ping.ping_id)))

    def _on_ping_delay_disconnect(
        self, session: ServerSession, msg_id: int, body: bytes, now: float, events: list[Event]
    ) -> None:
        ping = parse_bare(body, fn.PingDelayDisconnect)
        self._answer(session, bytes(ty.Pong(msg_id=msg_id, ping_id=ping.ping_id)))
        events.append(
            DisconnectRequested(session.auth_key_id, session.session_id, ping.disconnect_delay)
        )

    def _on_get_future_salts(
        self, session: ServerSession, msg_id: int, body: bytes, now: float, events: list[Event]
    ) -> None:
        request = parse_bare(body, fn.GetFutureSalts)
        salts = session.salts.future(now, request.num)
        # Answered bare, not in rpc_result: future_salts carries req_msg_id itself.
        self._answer(session, bytes(ty.FutureSalts(req_msg_id=msg_id, now=int(now), salts=salts)))

    def _on_destroy_session(
        self, session: ServerSession, msg_id: int, body: bytes, now: float, events: list[Event]
    ) -> None:
        target = parse_bare(body, fn.DestroySession).session_id
        answer: TLObject
        # Only another session of the same key can go: the current one is unaffected.
        if target != session.session_id and self._store.remove_session(session.auth_key_id, target):
            self._sessions.pop((session.auth_key_id, target), None)
            answer = ty.DestroySessionOk(session_id=target)
            events.append(SessionDestroyed(session.auth_key_id, target))
        else:
            answer = ty.DestroySessionNone(session_id=target)
        self._answer(session, bytes(answer))

    def _on_msgs_state_req(
        self, session: ServerSession, msg_id: int, body: bytes, now: float, events: list[Event]
    ) -> None:
        received = session.received
        seqnos = received.seqnos
        pending_acks = set(session.acks)
        requests = session.requests
        oldest = (now - MAX_AGE) * _TWO32
        info = bytearray()
        for queried in read_id_vector(body)[:MAX_ACK_IDS]:
            seqno = seqnos.get(queried)
            if seqno is not None:
                state = MsgState.RECEIVED
                if not seqno & 1:
                    state |= MsgState.NO_ACK_NEEDED
                elif queried not in pending_acks:
                    state |= MsgState.ACKNOWLEDGED
                answer = requests.get(queried)
                if answer is not None:
                    state |= MsgState.RPC_PROCESSING
                    if answer > 0:
                        state |= MsgState.ANSWER_GENERATED
            elif queried <= received.floor or queried < oldest:
                state = MsgState.UNKNOWN
            elif queried > received.highest:
                state = MsgState.NOT_RECEIVED_YET
            else:
                state = MsgState.NOT_RECEIVED
            info.append(state)
        self._answer(session, msgs_state_info_body(msg_id, bytes(info)))

    @staticmethod
    def _resend(session: ServerSession, msg_ids: list[int]) -> None:
        outbox = session.outbox
        queued = {m[0] for m in session.queue}
        for resend in msg_ids:
            kept = outbox.get(resend)
            if kept is not None and resend not in queued:
                session.queue.append((resend, kept[0], kept[1]))
                queued.add(resend)

    def _on_msg_resend_req(
        self, session: ServerSession, msg_id: int, body: bytes, now: float, events: list[Event]
    ) -> None:
        self._resend(session, read_id_vector(body))

    def _on_msg_resend_ans_req(
        self, session: ServerSession, msg_id: int, body: bytes, now: float, events: list[Event]
    ) -> None:
        requests = session.requests
        self._resend(session, [requests.get(q, 0) for q in read_id_vector(body)])

    def _on_rpc_drop_answer(
        self, session: ServerSession, msg_id: int, body: bytes, now: float, events: list[Event]
    ) -> None:
        target = parse_bare(body, fn.RpcDropAnswer).req_msg_id
        answer_id = session.requests.get(target)
        answer: TLObject
        if answer_id == 0:
            session.requests[target] = -1
            self._release(target)  # the layer above drops the query without answering
            answer = ty.RpcAnswerDroppedRunning()
            events.append(RequestCancelled(session.auth_key_id, session.session_id, target))
        elif answer_id is not None and answer_id > 0 and answer_id in session.outbox:
            seqno, dropped = session.outbox.pop(answer_id)
            answer = ty.RpcAnswerDropped(msg_id=answer_id, seq_no=seqno, bytes=len(dropped))
        else:
            answer = ty.RpcAnswerUnknown()
        # Unlike the other service queries this one is answered in rpc_result.
        answer_msg_id = session.push(
            rpc_result_body(msg_id, bytes(answer)), content=True, response=True
        )
        session.requests[msg_id] = answer_msg_id

    # -- output ----------------------------------------------------------------------------

    def _flush(self, session: ServerSession, with_acks: bool) -> None:
        acks = session.acks
        while with_acks and acks:
            session.push(ack_body(acks[:MAX_ACK_IDS]), content=False, response=False)
            del acks[:MAX_ACK_IDS]
        queue = session.queue
        session.queue = []
        now = self._clock()
        salts = session.salts
        salt = salts.now_salt if now < salts.now_until else salts.current(now)
        if len(queue) == 1:
            # The common case, inlined: one answer, one packet.
            msg_id, seqno, body = queue[0]
            n = len(body)
            plaintext = HEADER.pack(salt, session.session_id, msg_id, seqno, n) + body
            padding = self._padding.take(12 + (-(44 + n) & 15))
            packet = encrypt_padded(session.auth_key, plaintext + padding, _X)
            codec = self._codec
            self._frames.append(
                codec.encode(packet) if codec is not None else self._transport.encode(packet)
            )
            return
        # GramJS (2.26) stops reading a container at its first rpc_error (it throws out of
        # its container loop), losing every later message: an error ends its container.
        start = 0
        last = len(queue) - 1
        for i, (_, _, body) in enumerate(queue):
            if (
                i < last
                and body.startswith(_RPC_ERROR_PREFIX, 12)
                and body.startswith(_RPC_RESULT_PREFIX)
            ):
                self._seal(session, salt, queue[start : i + 1])
                start = i + 1
        self._seal(session, salt, queue[start:] if start else queue)

    def _seal(self, session: ServerSession, salt: int, queue: list[Outgoing]) -> None:
        """Seal queued messages: alone, or in ``msg_container``s."""
        seal_batches(
            queue,
            session.auth_key,
            _X,
            salt,
            session.session_id,
            self._padding,
            self._transport.encode,
            self._frames,
            lambda: (session.msg_ids.next(False), session.seqno.next(False)),
        )


def _read_container(msg_id: int, body: bytes) -> list[Outgoing] | None:
    """The ``(msg_id, seqno, body)`` of a well-formed container's messages, or ``None``
    (bad_msg_notification 64).

    ``msg_container#73f1f8dc messages:vector<message>``, read with ``struct`` rather than
    the TL codec: the clients this server expects put their acks in a container with the
    next query, so this runs every few RPCs, and ``ContainerMessage`` objects would only be
    unpacked again. The checks are those of the codec (count within the data and at most
    1024, each ``bytes`` length a multiple of 4 within the data, nothing left over) plus
    MTProto's: no container inside, no inner message reusing the container's id.
    """
    size = len(body)
    if size < 8:
        return None
    n = _U32.unpack_from(body, 4)[0]
    if n == 0 or n > MsgContainer.MAX_MESSAGES or 8 + 16 * n > size:
        return None
    messages: list[Outgoing] = []
    pos = 8
    unpack = _INNER.unpack_from
    for _ in range(n):
        if pos + 16 > size:
            return None
        inner_id, inner_seqno, length = unpack(body, pos)
        pos += 16
        end = pos + length
        if length < 0 or length & 3 or end > size or inner_id == msg_id:
            return None
        inner = body[pos:end]
        if inner[:4] == _CONTAINER_PREFIX:
            return None
        messages.append((inner_id, inner_seqno, inner))
        pos = end
    if pos != size:
        return None
    return messages
