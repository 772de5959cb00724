"""MTProto layer: the client end of one TCP connection (sans-I/O).

Spec: core.telegram.org/mtproto/description (encrypted messages, msg_id and time
synchronisation, sessions), core.telegram.org/mtproto/service_messages (rpc_result,
rpc_error, pong, future_salts, new_session_created, containers, gzip_packed,
destroy_session) and core.telegram.org/mtproto/service_messages_about_messages
(msgs_ack, bad_msg_notification, bad_server_salt, msgs_state_info, msg_detailed_info).

The client queues queries (:meth:`ClientConnection.send_request` returns the ``msg_id``
that the answer event will name), seals them with its session, and turns the server's
packets into :class:`ResultReceived`, :class:`UpdateReceived` and friends. It fixes what
the server refuses by itself: a ``bad_server_salt`` sets the salt and re-sends, a
``bad_msg_notification`` 16/17 corrects the clock offset from the notification's own
``msg_id`` and re-sends, 32/33 move ``seq_no``; the re-sent query gets a new ``msg_id``
but its answer is still reported under the original one. See
:mod:`loopgram.mtproto.connection` for the buffering model shared with the server.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Final

from loopgram.clock import Clock, RandomBytes, system_clock, system_random
from loopgram.crypto import (
    AuthKey,
    RsaPublicKey,
    SecurityError,
    decrypt_message,
    encrypt_padded,
)
from loopgram.mtproto.connection import ACK_BATCH, ConnectionBase, seal_batches
from loopgram.mtproto.errors import LocalProtocolError, RemoteProtocolError
from loopgram.mtproto.events import (
    Event,
    HandshakeCompleted,
    RequestFailed,
    SessionCreated,
    UpdateReceived,
    make_result_received,
)
from loopgram.mtproto.handshake import DEFAULT_DC_ID, ClientHandshake, HandshakeError
from loopgram.mtproto.msgid import BadMsgCode, MsgIdGenerator
from loopgram.mtproto.pfs import binding_request
from loopgram.mtproto.plain import PlainMessageError, decode_plain, encode_plain
from loopgram.mtproto.service import (
    ACK_ID,
    BAD_MSG_ID,
    BAD_SALT_ID,
    CONTAINER_ID,
    DECODE_ERRORS,
    DESTROY_SESSION_NONE_ID,
    DESTROY_SESSION_OK_ID,
    FUTURE_SALTS_ID,
    GZIP_ID,
    MAX_ACK_IDS,
    MSG_DETAILED_INFO_ID,
    MSG_NEW_DETAILED_INFO_ID,
    MSG_RESEND_REQ_ID,
    MSGS_ALL_INFO_ID,
    MSGS_STATE_INFO_ID,
    MSGS_STATE_REQ_ID,
    NEVER_CONTENT,
    NEW_SESSION_ID,
    PONG_ID,
    RPC_RESULT_ID,
    ack_body,
    constructor_of,
    gunzip,
    maybe_gzip,
    parse_bare,
    read_id_vector,
    read_msgs_state_info,
    signed64,
)
from loopgram.mtproto.session import HEADER, ClientSession, PendingRequest
from loopgram.tl import MsgContainer, Reader, TLDecodeError, TLFunction, TLObject, read
from loopgram.tl.core import OBJECTS, read_boxed
from loopgram.tl.mtproto import functions as fn
from loopgram.tl.mtproto import types as ty
from loopgram.transport import (
    Codec,
    Packet,
    TransportError,
    TransportErrorPacket,
    TransportKind,
    client_codec,
)

__all__ = ["ClientConnection"]

_ZERO_KEY_ID: Final = bytes(8)
_CONTAINER_PREFIX: Final = CONTAINER_ID.to_bytes(4, "little")
_RPC_RESULT_PREFIX: Final = RPC_RESULT_ID.to_bytes(4, "little")
# NEVER_CONTENT as body prefixes: a query's kind is read without unpacking its constructor.
_NEVER_CONTENT_PREFIXES: Final = frozenset(c.to_bytes(4, "little") for c in NEVER_CONTENT)
_GZIP_PREFIX: Final = GZIP_ID.to_bytes(4, "little")
_RPC_ERROR_PREFIX: Final = ty.RpcError.CONSTRUCTOR_ID.to_bytes(4, "little")
_TWO32: Final = 4294967296.0
_Q: Final = struct.Struct("<q")
_X: Final = 0  # the client seals with x = 0 and opens server packets with x = 8

# bad_msg_notification codes the client fixes by sending the query again, under a new id.
_RESEND_CODES: Final = frozenset(
    {
        BadMsgCode.MSG_ID_TOO_LOW,
        BadMsgCode.MSG_ID_TOO_HIGH,
        BadMsgCode.MSG_TOO_OLD,
        BadMsgCode.SEQNO_TOO_LOW,
        BadMsgCode.SEQNO_TOO_HIGH,
        BadMsgCode.BAD_SERVER_SALT,
    }
)

ServiceHandler = Callable[[ClientSession, int, bytes, list[Event]], None]


class ClientConnection(ConnectionBase):
    """The client end of one TCP connection.

    The key comes from one of: ``session`` (a :class:`ClientSession` kept from an earlier
    connection: same key, same session, unanswered queries re-sent by :meth:`start`),
    ``auth_key`` (a new session on a known key; ``salt`` defaults to 0, which the server
    corrects with ``bad_server_salt``, ``time_offset`` to 0), or ``rsa_keys`` (the server's
    public keys: :meth:`start` runs the key exchange and :class:`HandshakeCompleted`
    reports the new key; ``dc_id`` and ``temp_expires_in`` choose the ``p_q_inner_data``).
    ``transport`` and ``obfuscated`` pick the framing (or pass a ready ``codec``).
    Queries over ``gzip_threshold`` bytes go ``gzip_packed`` when that makes them smaller.

    Methods: :meth:`start`, :meth:`send_request`, :meth:`receive_data`,
    :meth:`data_to_send`, :meth:`ack_deadline`.
    """

    def __init__(
        self,
        *,
        transport: TransportKind = TransportKind.INTERMEDIATE,
        obfuscated: bool = False,
        codec: Codec | None = None,
        session: ClientSession | None = None,
        auth_key: AuthKey | None = None,
        rsa_keys: Sequence[RsaPublicKey] = (),
        clock: Clock = system_clock,
        random_bytes: RandomBytes = system_random,
        salt: int = 0,
        time_offset: float = 0.0,
        dc_id: int | None = DEFAULT_DC_ID,
        temp_expires_in: int | None = None,
        gzip_threshold: int = 512,
        ack_delay: float = 0.5,
        window: int = 1024,
    ) -> None:
        super().__init__(clock, random_bytes, ack_delay)
        if session is None and auth_key is None and not rsa_keys:
            raise LocalProtocolError("a client needs a session, an auth_key or rsa_keys")
        self._codec = codec or client_codec(
            transport, obfuscated=obfuscated, random_bytes=random_bytes
        )
        self.gzip_threshold = gzip_threshold
        self._window = window
        self._started = False
        self._handshake: ClientHandshake | None = None
        # Queries sent before the key exists: (returned id, body, content-related, query).
        self._early: list[tuple[int, bytes, bool, TLObject]] = []
        self._plain_ids = MsgIdGenerator(clock, server=False, offset=time_offset)
        self._reader = Reader(b"")  # reset per result: an allocation less per answer
        if session is None and auth_key is not None:
            session = self._new_session(auth_key, salt, time_offset)
        self._session = session
        if session is None:
            self._handshake = ClientHandshake(
                rsa_keys=rsa_keys,
                clock=clock,
                random_bytes=random_bytes,
                dc_id=dc_id,
                temp_expires_in=temp_expires_in,
            )
        self._service: dict[int, ServiceHandler] = {
            RPC_RESULT_ID: self._on_rpc_result,
            ACK_ID: self._on_ack,
            PONG_ID: self._on_pong,
            FUTURE_SALTS_ID: self._on_future_salts,
            MSGS_STATE_INFO_ID: self._on_msgs_state_info,
            DESTROY_SESSION_OK_ID: self._on_destroy_session,
            DESTROY_SESSION_NONE_ID: self._on_destroy_session,
            NEW_SESSION_ID: self._on_new_session,
            BAD_SALT_ID: self._on_bad_salt,
            BAD_MSG_ID: self._on_bad_msg,
            MSG_DETAILED_INFO_ID: self._on_detailed_info,
            MSG_NEW_DETAILED_INFO_ID: self._on_detailed_info,
            CONTAINER_ID: self._nested_container,
            MSGS_ALL_INFO_ID: self._ignore,
            MSGS_STATE_REQ_ID: self._ignore,
            MSG_RESEND_REQ_ID: self._ignore,
        }

    # -- public API ------------------------------------------------------------------------

    @property
    def session(self) -> ClientSession | None:
        """The session (``None`` until the key exchange completes); keep it to reconnect."""
        return self._session

    @property
    def codec(self) -> Codec:
        return self._codec

    def start(self) -> None:
        """Open the connection: queue the first key exchange step, or (with a kept session)
        the queries that got no answer yet, under their original ``msg_id`` and ``seq_no``
        so that a server which already has them ignores the copies instead of running
        them twice (and re-sends its unacknowledged answers itself). If they are too old
        by then, the server says so (16/20) and they go again under new ids."""
        if self._started:
            raise LocalProtocolError("start() was already called")
        self._started = True
        if self._handshake is not None:
            self._send_plain(self._handshake.start())
            return
        session = self._session
        if session is None:  # pragma: no cover - no handshake means a session
            raise LocalProtocolError("no session")
        queued = {m[0] for m in session.queue}
        session.queue[:0] = [
            (p.msg_id, p.seqno, p.body)
            for p in sorted(session.pending.values(), key=lambda p: p.msg_id)
            if p.msg_id not in queued
        ]

    def send_request(self, request: TLObject) -> int:
        """Queue a query (a TL function, or a service message); returns its ``msg_id``.

        The answer comes as :class:`ResultReceived` (or :class:`RequestFailed`) naming
        this id, even if the query had to be re-sent under another one. Queries sent while
        the key exchange runs wait for it and go under new ids (the returned one still
        names them). Raises :class:`LocalProtocolError` before :meth:`start`.
        """
        if not self._started:
            raise LocalProtocolError("send_request() before start()")
        body = bytes(request)
        content = body[:4] not in _NEVER_CONTENT_PREFIXES
        if len(body) > self.gzip_threshold:
            body = maybe_gzip(body, self.gzip_threshold)
        session = self._session
        if session is None:
            # No key yet: an id now (the caller's handle), the real one after the exchange.
            origin = self._plain_ids.next()
            self._early.append((origin, body, content, request))
            return origin
        msg_id, seqno = session.push(body, content=content)
        if isinstance(request, TLFunction) or type(request) is ty.MsgsStateReq:
            session.pending[msg_id] = PendingRequest(msg_id, msg_id, seqno, body, request)
        return msg_id

    def bind_temp_auth_key(self, perm_key: AuthKey, expires_at: int) -> int:
        """Queue ``auth.bindTempAuthKey``, binding this connection's (temporary) key to
        ``perm_key`` until ``expires_at`` (Unix time); returns its ``msg_id``, which the
        :class:`ResultReceived` (``True``) or ``rpc_error`` names. The request embeds its own
        ``msg_id`` and ``session_id`` (see :mod:`loopgram.mtproto.pfs`), so it can be made
        only once the session exists; a re-send (bad salt...) goes under a new ``msg_id``
        that the server refuses with ``ENCRYPTED_MESSAGE_INVALID``: bind again then."""
        if not self._started:
            raise LocalProtocolError("bind_temp_auth_key() before start()")
        session = self._session
        if session is None:
            raise LocalProtocolError("bind_temp_auth_key() before the key exchange completed")
        # The msg_id is drawn first (pushing a placeholder), then the body that names it
        # takes the placeholder's place in the queue.
        msg_id, seqno = session.push(b"", content=True)
        request = binding_request(
            perm_key,
            temp_key_id=session.auth_key.id,
            temp_session_id=session.session_id,
            msg_id=msg_id,
            expires_at=expires_at,
            random_bytes=self._random,
        )
        body = bytes(request)
        session.queue[-1] = (msg_id, seqno, body)
        session.pending[msg_id] = PendingRequest(msg_id, msg_id, seqno, body, request)
        return msg_id

    def receive_data(self, data: bytes) -> list[Event]:
        """Consume bytes from the server; return the events they complete.

        Raises :class:`RemoteProtocolError` for a transport error from the server (-404:
        it does not know the auth key; make a new one), for bytes that cannot be framed,
        or for a broken key exchange.
        """
        failure = self._failure  # _check_open, inlined: this runs for every read
        if failure is not None:
            raise failure
        events: list[Event] = []
        # The usual read, one whole frame with one encrypted packet: no Packet event to make.
        payload = self._codec.feed_packet(data)
        if payload is not None:
            if payload[:8] == _ZERO_KEY_ID:
                self._on_plain(payload, events)
            else:
                self._on_packet(payload, events)
            return events
        try:
            frames = self._codec.feed(data)
        except TransportError as exc:
            raise self._fail(str(exc), None, []) from None
        for frame in frames:
            if type(frame) is Packet:
                payload = frame.payload
                if payload[:8] == _ZERO_KEY_ID:
                    self._on_plain(payload, events)
                else:
                    self._on_packet(payload, events)
            elif type(frame) is TransportErrorPacket:
                raise self._fail(f"server sent transport error {frame.code}", frame.code, events)
        return events

    def data_to_send(self, *, flush_acks: bool = False) -> bytes:
        """Everything queued, sealed and framed: the bytes to write to the server.

        Acks of the server's messages are sent once :data:`ACK_BATCH` of them wait or the
        oldest waited ``ack_delay`` (:meth:`ack_deadline`), or at once with ``flush_acks``.
        """
        session = self._session
        if session is None or not self._started:
            return self._pop_output()
        # _acks_due, inlined: this runs after every query.
        acks = session.acks
        due = bool(acks) and (
            flush_acks
            or len(acks) >= ACK_BATCH
            or self._clock() - session.acks_since >= self.ack_delay
        )
        queue = session.queue
        if len(queue) == 1 and not due and not self._frames:
            # The common case, inlined: one query, no acks due, nothing else waiting -- one
            # packet, returned as it is sealed.
            session.queue = []
            msg_id, seqno, body = queue[0]
            salt = session.current_salt() if session.future_salts else session.salt
            n = len(body)
            plaintext = HEADER.pack(salt, session.session_id, msg_id, seqno, n) + body
            padding = self._padding.take(12 + (-(44 + n) & 15))
            return self._codec.encode(encrypt_padded(session.auth_key, plaintext + padding, _X))
        if due or queue:
            self._flush(session, due)
        return self._pop_output()

    def ack_deadline(self) -> float | None:
        """Clock time by which :meth:`data_to_send` should be called to send pending acks."""
        session = self._session
        if session is None or not session.acks:
            return None
        return session.acks_since + self.ack_delay

    # -- input -----------------------------------------------------------------------------

    def _fail(self, message: str, code: int | None, events: list[Event]) -> RemoteProtocolError:
        exc = RemoteProtocolError(message, code=code, events=events)
        self._failure = exc
        return exc

    def _new_session(self, auth_key: AuthKey, salt: int, time_offset: float) -> ClientSession:
        return ClientSession(
            auth_key,
            session_id=signed64(self._random(8)),
            clock=self._clock,
            salt=salt,
            time_offset=time_offset,
            window=self._window,
        )

    def _send_plain(self, body: bytes) -> None:
        self._frames.append(self._codec.encode(encode_plain(self._plain_ids.next(), body)))

    def _on_plain(self, payload: bytes, events: list[Event]) -> None:
        handshake = self._handshake
        if handshake is None:
            self.dropped += 1  # no exchange running: a plain message means nothing now
            return
        try:
            step = handshake.receive(decode_plain(payload).body)
        except (PlainMessageError, HandshakeError) as exc:
            raise self._fail(f"key exchange: {exc}", None, events) from None
        if isinstance(step, bytes):
            self._send_plain(step)
            return
        self._handshake = None
        session = self._session = self._new_session(
            step.auth_key, step.server_salt, step.time_offset
        )
        for origin, body, content, request in self._early:
            msg_id, seqno = session.push(body, content=content)
            if isinstance(request, TLFunction) or type(request) is ty.MsgsStateReq:
                session.pending[msg_id] = PendingRequest(origin, msg_id, seqno, body, request)
        self._early.clear()
        events.append(HandshakeCompleted(step.auth_key, step.server_salt, step.time_offset))

    def _on_packet(self, payload: bytes, events: list[Event]) -> None:
        session = self._session
        if session is None:
            self.dropped += 1
            return
        # session.open_message, inlined: this runs for every packet.
        excess = (len(payload) - 24) & 15
        try:
            data = decrypt_message(session.auth_key, payload[:-excess] if excess else payload, x=8)
        except SecurityError:
            self.dropped += 1
            return
        size = len(data)
        if size < 44:
            self.dropped += 1
            return
        _salt, session_id, msg_id, seqno, length = HEADER.unpack_from(data)
        padding = size - 32 - length
        if length < 0 or length & 3 or padding < 12 or padding > 1024:
            self.dropped += 1
            return
        if session_id != session.session_id or not msg_id & 1:
            self.dropped += 1  # another session's message, or not a server msg_id
            return
        body = data[32 : 32 + length]
        # Replay protection: each server msg_id is processed once (content ones re-acked,
        # since a repeat means the server did not see the ack).
        received = session.received
        seqnos = received.seqnos
        if msg_id in seqnos or msg_id <= received.floor:
            self._duplicate(session, msg_id, seqno)
            return
        ids = received.ids
        if ids and msg_id > ids[-1] and len(ids) < received.size + 64:
            # ReceivedWindow.add, inlined for an id in order that forgets nothing: the usual.
            ids.append(msg_id)
            seqnos[msg_id] = seqno
        else:
            received.add(msg_id, seqno)
        if seqno & 1:
            # session.add_ack, inlined: the clock is read only when it starts the wait.
            acks = session.acks
            if not acks:
                session.acks_since = self._clock()
            acks.append(msg_id)
        prefix = body[:4]
        if prefix == _RPC_RESULT_PREFIX:
            # The answer to a query, dispatched without _on_message's lookups: the usual
            # packet. (_on_message would find the same handler for this constructor.)
            try:
                self._on_rpc_result(session, msg_id, body, events)
            except DECODE_ERRORS:
                self.malformed += 1
            return
        if prefix != _CONTAINER_PREFIX:
            self._on_message(session, msg_id, body, events)
            return
        r = Reader(body, 4)
        try:
            messages = MsgContainer._read(r).messages
        except DECODE_ERRORS:
            self.malformed += 1
            return
        for m in messages:
            inner_id = m.msg_id
            if not inner_id & 1:
                self.dropped += 1
            elif inner_id in received.seqnos or inner_id <= received.floor:
                self._duplicate(session, inner_id, m.seqno)
            else:
                received.add(inner_id, m.seqno)
                if m.seqno & 1:
                    session.add_ack(inner_id, self._clock())
                self._on_message(session, inner_id, m.body, events)

    def _duplicate(self, session: ClientSession, msg_id: int, seqno: int) -> None:
        self.duplicates += 1
        if seqno & 1 and msg_id not in session.acks:
            session.add_ack(msg_id, self._clock())  # a repeat: the server missed our ack

    def _on_message(
        self, session: ClientSession, msg_id: int, body: bytes, events: list[Event]
    ) -> None:
        cid = constructor_of(body)
        if cid == GZIP_ID:
            try:
                body = gunzip(body)
            except DECODE_ERRORS:
                self.malformed += 1
                return
            cid = constructor_of(body)
        handler = self._service.get(cid)
        if handler is not None:
            try:
                handler(session, msg_id, body, events)
            except DECODE_ERRORS:
                self.malformed += 1
            return
        r = Reader(body)
        try:
            update: TLObject | None = read_boxed(r, OBJECTS)
            if r.pos != len(body):
                update = None
        except DECODE_ERRORS:
            update = None
        events.append(UpdateReceived(update, body))

    # -- service messages (server -> client) -----------------------------------------------

    def _ignore(
        self, session: ClientSession, msg_id: int, body: bytes, events: list[Event]
    ) -> None:
        """Messages a TCP client has no use for (msgs_all_info, a server's msgs_state_req)."""

    def _nested_container(
        self, session: ClientSession, msg_id: int, body: bytes, events: list[Event]
    ) -> None:
        """A container inside a container (or inside gzip_packed): invalid, ignored."""
        self.malformed += 1

    def _on_rpc_result(
        self, session: ClientSession, msg_id: int, body: bytes, events: list[Event]
    ) -> None:
        if len(body) < 16:
            raise TLDecodeError(len(body), "rpc_result shorter than its header")
        pending = session.pending.pop(_Q.unpack_from(body, 4)[0], None)
        if pending is None:
            return  # an answer received already (a re-send), or to a query we never sent
        result = body[12:]
        tag = result[:4]
        if tag == _GZIP_PREFIX:
            try:
                result = gunzip(result)
            except DECODE_ERRORS as exc:
                events.append(RequestFailed(pending.origin, f"undecodable result: {exc}"))
                return
            tag = result[:4]
        try:
            if tag == _RPC_ERROR_PREFIX:
                error = parse_bare(result, ty.RpcError)
                events.append(make_result_received(pending.origin, None, error))
                return
            request = pending.request
            if isinstance(request, TLFunction):
                # request.read_result(result) without its two wrapper calls: the errors it
                # would translate are DECODE_ERRORS already, the registry is loaded (see
                # ConnectionBase), and trailing bytes are checked here.
                r = self._reader
                r.data = result
                r.pos = 0
                r.depth = 0
                value = request._read_result(r)
                if r.pos != len(result):
                    raise TLDecodeError(r.pos, "trailing bytes after the result")
            else:
                value = read(result)
        except DECODE_ERRORS as exc:
            events.append(RequestFailed(pending.origin, f"undecodable result: {exc}"))
            return
        events.append(make_result_received(pending.origin, value, None))

    def _on_ack(
        self, session: ClientSession, msg_id: int, body: bytes, events: list[Event]
    ) -> None:
        pending = session.pending
        for acked in read_id_vector(body):
            p = pending.get(acked)
            if p is not None:
                p.acked = True

    @staticmethod
    def _resolve(
        session: ClientSession, req_msg_id: int, value: object, events: list[Event]
    ) -> None:
        pending = session.pending.pop(req_msg_id, None)
        if pending is not None:
            events.append(make_result_received(pending.origin, value, None))

    def _on_pong(
        self, session: ClientSession, msg_id: int, body: bytes, events: list[Event]
    ) -> None:
        pong = parse_bare(body, ty.Pong)
        self._resolve(session, pong.msg_id, pong, events)

    def _on_future_salts(
        self, session: ClientSession, msg_id: int, body: bytes, events: list[Event]
    ) -> None:
        salts = parse_bare(body, ty.FutureSalts)
        session.future_salts = sorted(salts.salts, key=lambda s: s.valid_since)
        self._resolve(session, salts.req_msg_id, salts, events)

    def _on_msgs_state_info(
        self, session: ClientSession, msg_id: int, body: bytes, events: list[Event]
    ) -> None:
        # The result is the raw status bytes: the TL string is not text (see service.py).
        req_msg_id, info = read_msgs_state_info(body)
        self._resolve(session, req_msg_id, info, events)

    def _on_destroy_session(
        self, session: ClientSession, msg_id: int, body: bytes, events: list[Event]
    ) -> None:
        # Answered bare: match the pending destroy_session by the session id it names.
        answer: ty.DestroySessionOk | ty.DestroySessionNone
        if constructor_of(body) == DESTROY_SESSION_OK_ID:
            answer = parse_bare(body, ty.DestroySessionOk)
        else:
            answer = parse_bare(body, ty.DestroySessionNone)
        for p in session.pending.values():
            request = p.request
            if isinstance(request, fn.DestroySession) and request.session_id == answer.session_id:
                self._resolve(session, p.msg_id, answer, events)
                return

    def _on_new_session(
        self, session: ClientSession, msg_id: int, body: bytes, events: list[Event]
    ) -> None:
        created = parse_bare(body, ty.NewSessionCreated)
        session.salt = created.server_salt
        # The server knows nothing sent before first_msg_id: send it again.
        for p in [p for p in session.pending.values() if p.msg_id < created.first_msg_id]:
            self._resend(session, p)
        events.append(
            SessionCreated(
                session.auth_key.id, session.session_id, created.first_msg_id, created.unique_id
            )
        )

    @staticmethod
    def _affected(session: ClientSession, bad_msg_id: int) -> list[PendingRequest]:
        """The pending queries a notification about ``bad_msg_id`` concerns (all those of a
        container)."""
        pending = session.pending
        ids = session.containers.get(bad_msg_id, (bad_msg_id,))
        return [pending[i] for i in ids if i in pending]

    @staticmethod
    def _resend(session: ClientSession, p: PendingRequest) -> None:
        session.pending.pop(p.msg_id, None)
        p.msg_id, p.seqno = session.push(p.body, content=True)
        p.acked = False
        session.pending[p.msg_id] = p

    def _on_bad_salt(
        self, session: ClientSession, msg_id: int, body: bytes, events: list[Event]
    ) -> None:
        bad = parse_bare(body, ty.BadServerSalt)
        session.salt = bad.new_server_salt
        session.future_salts.clear()
        for p in self._affected(session, bad.bad_msg_id):
            self._resend(session, p)

    def _on_bad_msg(
        self, session: ClientSession, msg_id: int, body: bytes, events: list[Event]
    ) -> None:
        bad = parse_bare(body, ty.BadMsgNotification)
        code = bad.error_code
        if code == BadMsgCode.MSG_ID_TOO_LOW or code == BadMsgCode.MSG_ID_TOO_HIGH:
            # The notification's own msg_id carries the server's clock.
            generator = session.msg_ids
            generator.offset = msg_id / _TWO32 - self._clock()
            if code == BadMsgCode.MSG_ID_TOO_HIGH:
                generator.last = 0  # those ids were refused: going lower is safe
        elif code == BadMsgCode.SEQNO_TOO_LOW:
            session.seqno.count += 64
        elif code == BadMsgCode.SEQNO_TOO_HIGH:
            session.seqno.count = max(0, session.seqno.count - 16)
        for p in self._affected(session, bad.bad_msg_id):
            if code in _RESEND_CODES:
                self._resend(session, p)
            else:
                session.pending.pop(p.msg_id, None)
                events.append(
                    RequestFailed(p.origin, f"the server refused the message (code {code})", code)
                )

    def _on_detailed_info(
        self, session: ClientSession, msg_id: int, body: bytes, events: list[Event]
    ) -> None:
        info: ty.MsgDetailedInfo | ty.MsgNewDetailedInfo
        if constructor_of(body) == MSG_DETAILED_INFO_ID:
            info = parse_bare(body, ty.MsgDetailedInfo)
        else:
            info = parse_bare(body, ty.MsgNewDetailedInfo)
        answer_id = info.answer_msg_id
        if answer_id in session.received:
            session.add_ack(answer_id, self._clock())
        else:
            session.push(bytes(ty.MsgResendReq(msg_ids=[answer_id])), content=False)

    # -- output ----------------------------------------------------------------------------

    def _flush(self, session: ClientSession, with_acks: bool) -> None:
        acks = session.acks
        while with_acks and acks:
            session.push(ack_body(acks[:MAX_ACK_IDS]), content=False)
            del acks[:MAX_ACK_IDS]
        queue = session.queue
        session.queue = []
        salt = session.current_salt() if session.future_salts else session.salt
        if len(queue) == 1:
            # One message alone (a query, or acks that came due): no container.
            msg_id, seqno, body = queue[0]
            n = len(body)
            plaintext = HEADER.pack(salt, session.session_id, msg_id, seqno, n) + body
            padding = self._padding.take(12 + (-(44 + n) & 15))
            packet = encrypt_padded(session.auth_key, plaintext + padding, _X)
            self._frames.append(self._codec.encode(packet))
            return
        seal_batches(
            queue,
            session.auth_key,
            _X,
            salt,
            session.session_id,
            self._padding,
            self._codec.encode,
            self._frames,
            lambda: (session.msg_ids.next(), session.seqno.next(False)),
            lambda container_id, batch: session.remember_container(
                container_id, tuple([m[0] for m in batch])
            ),
        )
