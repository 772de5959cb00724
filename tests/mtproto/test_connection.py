"""Client and server Connections back to back: key exchange, RPCs, every transport."""

from __future__ import annotations

from typing import Any

import pytest

from loopgram.clock import FakeClock, seeded_random
from loopgram.crypto import RsaPrivateKey
from loopgram.mtproto.client_connection import ClientConnection
from loopgram.mtproto.errors import LocalProtocolError
from loopgram.mtproto.events import (
    AuthKeyCreated,
    HandshakeCompleted,
    MessageRejected,
    RequestReceived,
    ResultReceived,
    SessionCreated,
    UpdateReceived,
)
from loopgram.mtproto.server_connection import ServerConnection
from loopgram.mtproto.store import MemoryStore
from loopgram.tl import GzipPacked, TLObject
from loopgram.tl.functions import InitConnection, InvokeWithLayer
from loopgram.tl.functions.help import GetNearestDc
from loopgram.tl.functions.messages import SetBotCallbackAnswer
from loopgram.tl.mtproto.functions import Ping
from loopgram.tl.mtproto.types import Pong, RpcError
from loopgram.tl.types import NearestDc, UpdatesTooLong
from loopgram.transport import TransportKind

from .test_connection_support import (
    COMBO_IDS,
    COMBOS,
    START,
    Wire,
    of_type,
)

combos = pytest.mark.parametrize(("kind", "obfuscated"), COMBOS, ids=COMBO_IDS)

NEAREST = NearestDc(country="NL", this_dc=2, nearest_dc=2)


def init_connection() -> InvokeWithLayer[Any]:
    return InvokeWithLayer(
        layer=229,
        query=InitConnection(
            api_id=1,
            device_model="test",
            system_version="1",
            app_version="1",
            system_lang_code="en",
            lang_pack="",
            lang_code="en",
            query=GetNearestDc(),
        ),
    )


def answer(event: RequestReceived) -> TLObject | bytes | None:
    """A tiny dispatcher: nearest DC for initConnection, True for callback answers."""
    request = event.request
    if isinstance(request, (InvokeWithLayer, GetNearestDc)):
        return NEAREST
    if isinstance(request, SetBotCallbackAnswer):
        if request.query_id == 0:
            return RpcError(error_code=400, error_message="QUERY_ID_INVALID")
        return b"\xb5\x75\x72\x99"  # boolTrue, already serialised
    return None


@pytest.fixture(scope="module")
def rsa() -> RsaPrivateKey:
    return RsaPrivateKey.generate()


@combos
def test_key_exchange_then_rpc(kind: TransportKind, obfuscated: bool, rsa: RsaPrivateKey) -> None:
    clock = FakeClock(START)
    store = MemoryStore()
    server = ServerConnection(store, rsa_keys=[rsa], clock=clock, random_bytes=seeded_random(1))
    client = ClientConnection(
        transport=kind,
        obfuscated=obfuscated,
        rsa_keys=[rsa.public_key],
        clock=clock,
        random_bytes=seeded_random(2),
    )
    wire = Wire(clock=clock, store=store, client=client, server=server).start()
    early = client.send_request(GetNearestDc())  # waits for the key exchange
    (completed,) = of_type(wire.pump(answer), HandshakeCompleted)
    assert ResultReceived(early, NEAREST) in wire.client_events
    (created,) = of_type(wire.server_events, AuthKeyCreated)
    assert created.auth_key_id == completed.auth_key.id
    entry = store.get_key(completed.auth_key.id)
    assert entry is not None and entry.auth_key == completed.auth_key
    assert client.session is not None and client.session.auth_key == completed.auth_key
    # The salt from the exchange is the server's: the first query is not refused.
    assert entry.salts.accepts(completed.server_salt, clock())
    msg_id = client.send_request(init_connection())
    events = wire.pump(answer)
    assert ResultReceived(msg_id, NEAREST) in events
    assert not of_type(wire.server_events, MessageRejected)
    assert server.transport.kind is kind and server.transport.obfuscated is obfuscated
    assert server.dropped == client.dropped == 0


@combos
def test_rpc_round_trips(kind: TransportKind, obfuscated: bool) -> None:
    wire = Wire(kind, obfuscated).start()
    client = wire.client
    ok = client.send_request(SetBotCallbackAnswer(query_id=7, message="hi", cache_time=5))
    bad = client.send_request(SetBotCallbackAnswer(query_id=0, cache_time=0))
    init = client.send_request(init_connection())
    events = wire.pump(answer)
    results = {e.msg_id: e for e in of_type(events, ResultReceived)}
    assert results[ok] == ResultReceived(ok, True)
    assert results[bad] == ResultReceived(
        bad, None, RpcError(error_code=400, error_message="QUERY_ID_INVALID")
    )
    assert results[init] == ResultReceived(init, NEAREST)
    requests = of_type(wire.server_events, RequestReceived)
    assert [type(r.request) for r in requests] == [
        SetBotCallbackAnswer,
        SetBotCallbackAnswer,
        InvokeWithLayer,
    ]
    assert requests[0].body == bytes(SetBotCallbackAnswer(query_id=7, message="hi", cache_time=5))
    # Many round trips keep working (ids, seq_nos and acks stay consistent).
    for i in range(1, 40):
        msg_id = client.send_request(SetBotCallbackAnswer(query_id=i, cache_time=0))
        assert wire.pump(answer) == [ResultReceived(msg_id, True)]
        wire.clock.advance(0.1)
    wire.flush_acks()
    assert not of_type(wire.server_events, MessageRejected)[1:]  # only the first bad salt
    session = wire.server.sessions[0]
    assert not session.outbox  # every answer was acknowledged


def test_salt_zero_gets_bad_server_salt_and_resends_transparently() -> None:
    wire = Wire(salt=0).start()
    ping = wire.client.send_request(Ping(ping_id=99))
    init = wire.client.send_request(init_connection())
    events = wire.pump(answer)
    (rejected,) = of_type(wire.server_events, MessageRejected)
    assert rejected.error_code == 48
    (pong,) = [e for e in events if isinstance(e, ResultReceived) and e.msg_id == ping]
    assert isinstance(pong.result, Pong) and pong.result.ping_id == 99
    assert ResultReceived(init, NEAREST) in events
    # Exactly one initConnection reached the server, and nothing was answered with an error.
    assert len(of_type(wire.server_events, RequestReceived)) == 1
    assert all(e.error is None for e in of_type(events, ResultReceived))
    assert wire.client.session is not None
    assert wire.client.session.salt == 0x1122334455667788


def test_new_session_created_once_per_session() -> None:
    wire = Wire(salt=0x1122334455667788).start()
    first = wire.client.send_request(Ping(ping_id=1))
    events = wire.pump()
    (server_side,) = of_type(wire.server_events, SessionCreated)
    (client_side,) = of_type(events, SessionCreated)
    assert server_side == client_side
    assert server_side.first_msg_id == first
    assert wire.store.get_session(wire.key.id, server_side.session_id) is not None
    wire.client.send_request(Ping(ping_id=2))
    wire.pump()
    assert len(of_type(wire.client_events, SessionCreated)) == 1


def test_server_update_reaches_the_client() -> None:
    wire = Wire().start()
    wire.client.send_request(Ping(ping_id=1))
    wire.pump()
    update = UpdatesTooLong()
    wire.server.send_update(update)
    events = wire.pump()
    assert events == [UpdateReceived(update, bytes(update))]
    unknown = b"\x01\x02\x03\x04" + bytes(8)
    wire.server.send_update(unknown)
    assert wire.pump() == [UpdateReceived(None, unknown)]


def test_gzip_both_ways() -> None:
    wire = Wire().start()
    request = init_connection()
    assert isinstance(request.query, InitConnection)
    request.query.device_model = "device " * 100  # a compressible 700-byte query
    payload = bytes(NearestDc(country="x" * 3000, this_dc=2, nearest_dc=3))
    msg_id = wire.client.send_request(request)
    before = wire.wire_bytes
    events = wire.pump(lambda event: payload)
    (received,) = of_type(wire.server_events, RequestReceived)
    assert received.request == request  # inflated transparently
    assert received.body == GzipPacked.pack(bytes(request))  # as received
    (result,) = of_type(events, ResultReceived)
    assert result == ResultReceived(msg_id, NearestDc(country="x" * 3000, this_dc=2, nearest_dc=3))
    # Both directions went compressed: far fewer bytes than the 700 + 3000 of plain data.
    assert wire.wire_bytes - before < 1500


def test_local_protocol_errors() -> None:
    wire = Wire()
    with pytest.raises(LocalProtocolError):
        wire.client.send_request(Ping(ping_id=1))  # before start()
    wire.start()
    with pytest.raises(LocalProtocolError):
        wire.client.start()
    with pytest.raises(LocalProtocolError):
        wire.server.send_result(1234, b"\xb5\x75\x72\x99")
    with pytest.raises(LocalProtocolError):
        wire.server.send_update(UpdatesTooLong())  # no session yet
    wire.client.send_request(SetBotCallbackAnswer(query_id=1, cache_time=0))
    wire.pump()
    (request,) = of_type(wire.server_events, RequestReceived)
    wire.server.send_result(request.msg_id, b"\xb5\x75\x72\x99")
    with pytest.raises(LocalProtocolError):
        wire.server.send_result(request.msg_id, b"\xb5\x75\x72\x99")  # answered twice
    with pytest.raises(LocalProtocolError):
        ClientConnection()
    with pytest.raises(LocalProtocolError):
        wire.server.send_update(UpdatesTooLong(), session_id=12345)
