"""Service messages end to end: acks, containers, ping, salts, state, resends, drops.

mtproto/service_messages and mtproto/service_messages_about_messages, with a client and a
server Connection wired back to back (and hand-made packets where the wire must be seen).
"""

from __future__ import annotations

from loopgram.mtproto.connection import ACK_BATCH
from loopgram.mtproto.events import (
    DisconnectRequested,
    MessageRejected,
    RequestCancelled,
    RequestFailed,
    RequestReceived,
    ResultReceived,
    SessionDestroyed,
    UpdateReceived,
)
from loopgram.mtproto.session import PendingRequest
from loopgram.tl import ContainerMessage, MsgContainer, RpcResult, read
from loopgram.tl.functions.help import GetNearestDc
from loopgram.tl.mtproto.functions import (
    DestroySession,
    GetFutureSalts,
    Ping,
    PingDelayDisconnect,
    RpcDropAnswer,
)
from loopgram.tl.mtproto.types import (
    BadMsgNotification,
    DestroySessionNone,
    DestroySessionOk,
    FutureSalts,
    MsgDetailedInfo,
    MsgResendAnsReq,
    MsgResendReq,
    MsgsAck,
    MsgsStateReq,
    Pong,
    RpcAnswerDropped,
    RpcAnswerDroppedRunning,
    RpcAnswerUnknown,
)
from loopgram.tl.types import NearestDc, UpdatesTooLong

from .test_connection_support import SALT, RawClient, Wire, msg_id_at, of_type

NEAREST = NearestDc(country="NL", this_dc=2, nearest_dc=2)
NEAREST_BYTES = bytes(NEAREST)


def ready(**kw: object) -> Wire:
    """A wire past the first exchange (salt fixed, session announced)."""
    wire = Wire(salt=SALT, **kw).start()  # type: ignore[arg-type]
    wire.client.send_request(Ping(ping_id=0))
    wire.pump()
    return wire


def nearest(event: RequestReceived) -> bytes:
    return NEAREST_BYTES


def test_ping_and_ping_delay_disconnect() -> None:
    wire = ready()
    ping = wire.client.send_request(Ping(ping_id=11))
    pdd = wire.client.send_request(PingDelayDisconnect(ping_id=12, disconnect_delay=75))
    events = wire.pump()
    assert ResultReceived(ping, Pong(msg_id=ping, ping_id=11)) in events
    assert ResultReceived(pdd, Pong(msg_id=pdd, ping_id=12)) in events
    (disconnect,) = of_type(wire.server_events, DisconnectRequested)
    assert disconnect.delay == 75
    assert not of_type(wire.server_events, RequestReceived)  # pings never reach the layer above


def test_get_future_salts_is_answered_bare_and_used() -> None:
    raw_wire = Wire()
    raw = RawClient(raw_wire.key)
    mid = msg_id_at(raw_wire.clock())
    raw_wire.server.receive_data(raw.packet(mid, 1, bytes(GetFutureSalts(num=3))))
    objects = raw.objects(raw_wire.server.data_to_send())
    (salts,) = [o for o in objects if isinstance(o, FutureSalts)]  # not an rpc_result
    assert salts.req_msg_id == mid and len(salts.salts) == 3
    assert salts.salts[0].salt == SALT

    wire = ready()
    request = wire.client.send_request(GetFutureSalts(num=4))
    (result,) = of_type(wire.pump(), ResultReceived)
    assert result.msg_id == request and isinstance(result.result, FutureSalts)
    # Past the first salt's period and grace the client switches by itself: no refusal.
    wire.clock.advance(3600 + 1800 + 10)
    later = wire.client.send_request(GetNearestDc())
    assert wire.pump(nearest) == [ResultReceived(later, NEAREST)]
    assert not of_type(wire.server_events, MessageRejected)


def test_expired_salt_without_future_salts_is_fixed_transparently() -> None:
    wire = ready()
    wire.clock.advance(2 * 3600)
    later = wire.client.send_request(GetNearestDc())
    assert ResultReceived(later, NEAREST) in wire.pump(nearest)
    assert [e.error_code for e in of_type(wire.server_events, MessageRejected)] == [48]


def test_containers_both_ways() -> None:
    wire = ready()
    ids = [wire.client.send_request(GetNearestDc()) for _ in range(5)]
    up = wire.client.data_to_send()
    events = wire.server.receive_data(up)  # one packet, five queries
    requests = of_type(events, RequestReceived)
    assert [r.msg_id for r in requests] == ids
    for r in requests:
        wire.server.send_result(r.msg_id, NEAREST_BYTES)
    down = wire.server.data_to_send()  # one packet, five answers
    results = wire.client.receive_data(down)
    assert results == [ResultReceived(i, NEAREST) for i in ids]


def test_more_than_1024_messages_are_split_into_containers() -> None:
    wire = ready()
    ids = [wire.client.send_request(Ping(ping_id=i)) for i in range(1500)]
    events = wire.pump()
    pongs = of_type(events, ResultReceived)
    assert sorted(p.msg_id for p in pongs) == ids
    assert not of_type(wire.server_events, MessageRejected)


def test_server_acks_unanswered_queries_after_the_ack_delay() -> None:
    wire = ready()
    slow = wire.client.send_request(GetNearestDc())
    wire.pump()  # the server has not answered: its ack waits
    session = wire.client.session
    assert session is not None and not session.pending[slow].acked
    deadline = wire.server.ack_deadline()
    assert deadline is not None and deadline <= wire.clock() + wire.server.ack_delay
    wire.clock.advance(wire.server.ack_delay)
    wire.pump()
    assert session.pending[slow].acked
    assert wire.server.ack_deadline() is None


def test_acks_ride_along_and_batch() -> None:
    wire = Wire()
    raw = RawClient(wire.key)
    first, second = msg_id_at(wire.clock(), 1), msg_id_at(wire.clock(), 2)
    events = wire.server.receive_data(
        raw.packet(first, 1, bytes(GetNearestDc())) + raw.packet(second, 3, bytes(GetNearestDc()))
    )
    raw.objects(wire.server.data_to_send())  # new_session_created
    wire.clock.advance(1)  # the ack of `first` is due now
    wire.server.send_result(of_type(events, RequestReceived)[1].msg_id, NEAREST_BYTES)
    objects = raw.objects(wire.server.data_to_send())
    # One container: the answer to `second` (which acknowledges it) and the ack of `first`.
    assert [type(o) for o in objects] == [RpcResult, MsgsAck]
    assert objects[1] == MsgsAck(msg_ids=[first])
    # ACK_BATCH pending acks go at once, without waiting.
    ids = [msg_id_at(wire.clock(), 10 + i) for i in range(ACK_BATCH)]
    for i, mid in enumerate(ids):
        wire.server.receive_data(raw.packet(mid, 5 + 2 * i, bytes(Ping(ping_id=i))))
    acks = [o for o in raw.objects(wire.server.data_to_send()) if isinstance(o, MsgsAck)]
    assert acks == [MsgsAck(msg_ids=ids)]


def test_client_acks_empty_the_server_outbox() -> None:
    wire = ready()
    for _ in range(3):
        wire.client.send_request(GetNearestDc())
    wire.server.send_update(UpdatesTooLong())
    wire.pump(nearest)
    session = wire.server.sessions[0]
    assert session.outbox  # answers and the update wait for the client's acks
    wire.clock.advance(wire.client.ack_delay)
    wire.pump()
    assert not session.outbox


def test_msgs_state_req() -> None:
    wire = ready()
    answered = wire.client.send_request(GetNearestDc())
    wire.pump(nearest)
    waiting = wire.client.send_request(GetNearestDc())
    wire.pump()  # not answered
    never = waiting + 4 * 1000  # in the future: certainly not received yet
    old = msg_id_at(wire.clock() - 3600)
    query = wire.client.send_request(MsgsStateReq(msg_ids=[answered, waiting, never, old]))
    (result,) = of_type(wire.pump(), ResultReceived)
    assert result.msg_id == query
    received, acked, rpc, answer = 4, 8, 32, 64
    assert list(result.result) == [
        received | acked | rpc | answer,  # the rpc_result acknowledged it
        received | rpc,  # ack still pending, no answer yet
        3,
        1,
    ]


def test_destroy_session() -> None:
    first = ready()
    second = Wire(clock=first.clock, key=first.key, store=first.store, salt=SALT, seed=5).start()
    second.client.send_request(Ping(ping_id=1))
    second.pump()
    assert first.client.session is not None and second.client.session is not None
    target = first.client.session.session_id
    request = second.client.send_request(DestroySession(session_id=target))
    events = second.pump()
    assert ResultReceived(request, DestroySessionOk(session_id=target)) in events
    assert of_type(second.server_events, SessionDestroyed) == [
        SessionDestroyed(first.key.id, target)
    ]
    assert first.store.get_session(first.key.id, target) is None
    again = second.client.send_request(DestroySession(session_id=target))
    assert ResultReceived(again, DestroySessionNone(session_id=target)) in second.pump()
    own = second.client.session.session_id
    mine = second.client.send_request(DestroySession(session_id=own))
    assert ResultReceived(mine, DestroySessionNone(session_id=own)) in second.pump()


def test_rpc_drop_answer() -> None:
    wire = ready()
    running = wire.client.send_request(GetNearestDc())
    wire.pump()  # received, not answered
    drop = wire.client.send_request(RpcDropAnswer(req_msg_id=running))
    events = wire.pump()
    assert ResultReceived(drop, RpcAnswerDroppedRunning()) in events
    assert of_type(wire.server_events, RequestCancelled)[0].msg_id == running
    assert wire.server.send_result(running, NEAREST_BYTES) == 0  # nothing is sent

    answered = wire.client.send_request(GetNearestDc())
    wire.pump()
    answer_id = wire.server.send_result(answered, NEAREST_BYTES)
    lost = wire.server.data_to_send()  # never delivered
    assert lost
    drop = wire.client.send_request(RpcDropAnswer(req_msg_id=answered))
    (result,) = [e for e in wire.pump() if isinstance(e, ResultReceived) and e.msg_id == drop]
    assert isinstance(result.result, RpcAnswerDropped)
    assert result.result.msg_id == answer_id

    unknown = wire.client.send_request(RpcDropAnswer(req_msg_id=12345 * 4))
    assert ResultReceived(unknown, RpcAnswerUnknown()) in wire.pump()


def test_msg_resend_req_repeats_with_the_same_id() -> None:
    wire = ready()
    update_id = wire.server.send_update(UpdatesTooLong())
    assert of_type(wire.pump(), UpdateReceived)
    wire.client.send_request(MsgResendReq(msg_ids=[update_id]))
    assert wire.client.duplicates == 0
    assert not of_type(wire.pump(), UpdateReceived)  # the copy is recognised
    assert wire.client.duplicates == 1


def test_unfixable_bad_msg_fails_the_request() -> None:
    wire = ready()
    request = wire.client.send_request(GetNearestDc())
    wire.pump()
    session = wire.server.sessions[0]
    session.push(
        bytes(BadMsgNotification(bad_msg_id=request, bad_msg_seqno=1, error_code=64)),
        content=False,
        response=True,
    )
    assert wire.pump() == [RequestFailed(request, "the server refused the message (code 64)", 64)]


def test_client_clock_is_corrected_from_bad_msg_notifications() -> None:
    for offset, code in ((-400.0, 16), (120.0, 17)):
        wire = Wire(salt=SALT)
        wire.client = type(wire.client)(
            auth_key=wire.key, salt=SALT, time_offset=offset, clock=wire.clock
        )
        wire.start()
        request = wire.client.send_request(GetNearestDc())
        assert wire.pump(nearest)[-1] == ResultReceived(request, NEAREST)
        assert [e.error_code for e in of_type(wire.server_events, MessageRejected)] == [code]
        session = wire.client.session
        assert session is not None and abs(session.time_offset) < 1


def test_seqno_too_low_is_fixed() -> None:
    wire = ready()
    session = wire.client.session
    assert session is not None
    session.seqno.count = 0  # as if the client had lost count
    request = wire.client.send_request(GetNearestDc())
    assert ResultReceived(request, NEAREST) in wire.pump(nearest)
    assert [e.error_code for e in of_type(wire.server_events, MessageRejected)] == [32]


def test_queries_before_first_msg_id_are_resent() -> None:
    wire = Wire(salt=SALT).start()
    lost = wire.client.send_request(GetNearestDc())
    opening = wire.client.data_to_send()
    assert wire.server.receive_data(opening[:4]) == []  # the transport tag, not the packet
    kept = wire.client.send_request(Ping(ping_id=1))
    events = wire.pump(nearest)
    # new_session_created named `kept` first: the client sent `lost` again, under a new id.
    assert ResultReceived(lost, NEAREST) in events
    assert ResultReceived(kept, Pong(msg_id=kept, ping_id=1)) in events
    (request,) = of_type(wire.server_events, RequestReceived)
    assert request.msg_id > kept


def test_msg_detailed_info() -> None:
    wire = ready()
    session = wire.server.sessions[0]
    update_id = wire.server.send_update(UpdatesTooLong())
    wire.pump()
    known = MsgDetailedInfo(msg_id=1, answer_msg_id=update_id, bytes=4, status=0)
    session.push(bytes(known), content=False, response=False)
    wire.pump()
    client_session = wire.client.session
    assert client_session is not None and update_id in client_session.acks
    # An answer the client never saw: it asks for it with msg_resend_req.
    missing = session.push(bytes(UpdatesTooLong()), content=True, response=False)
    session.queue.pop()  # "lost"
    info = MsgDetailedInfo(msg_id=2, answer_msg_id=missing, bytes=4, status=0)
    session.push(bytes(info), content=False, response=False)
    events = wire.pump()
    assert UpdateReceived(UpdatesTooLong(), bytes(UpdatesTooLong())) in events


def test_pending_request_values() -> None:
    p = PendingRequest(4, 8, 1, b"body", GetNearestDc())
    assert (p.origin, p.msg_id, p.seqno, p.acked) == (4, 8, 1, False)
    assert read(bytes(GetNearestDc())) == p.request


def test_msg_resend_ans_req_repeats_the_answer() -> None:
    wire = Wire()
    raw = RawClient(wire.key)
    query = msg_id_at(wire.clock(), 1)
    (request,) = of_type(
        wire.server.receive_data(raw.packet(query, 1, bytes(GetNearestDc()))), RequestReceived
    )
    answer_id = wire.server.send_result(request.msg_id, NEAREST_BYTES)
    first = raw.messages(wire.server.data_to_send())
    assert answer_id in [m for m, _, _ in first]
    ask = MsgResendAnsReq(msg_ids=[query, 999 * 4])
    wire.server.receive_data(raw.packet(msg_id_at(wire.clock(), 2), 2, bytes(ask)))
    again = raw.messages(wire.server.data_to_send())
    assert [(m, b) for m, _, b in again] == [(m, b) for m, _, b in first if m == answer_id]


def test_client_ignores_nested_containers_from_the_server() -> None:
    wire = ready()
    session = wire.server.sessions[0]
    inner = ContainerMessage(msg_id=1, seqno=0, body=bytes(UpdatesTooLong()))
    session.push(bytes(MsgContainer(messages=[inner])), content=False, response=False)
    session.push(bytes(UpdatesTooLong()), content=True, response=False)  # an outer container
    assert wire.pump() == [UpdateReceived(UpdatesTooLong(), bytes(UpdatesTooLong()))]
    assert wire.client.malformed == 1
