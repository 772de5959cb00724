"""Every session feature over every transport x obfuscation (mtproto-transports).

The transport should not matter above the framing; these scenarios check that it does
not: the same story runs over abridged, intermediate, padded intermediate and full, and
the first three obfuscated.
"""

from __future__ import annotations

import pytest

from loopgram.clock import FakeClock, seeded_random
from loopgram.mtproto.client_connection import ClientConnection
from loopgram.mtproto.errors import RemoteProtocolError
from loopgram.mtproto.events import (
    DisconnectRequested,
    Event,
    HandshakeCompleted,
    MessageRejected,
    RequestReceived,
    ResultReceived,
    SessionDestroyed,
)
from loopgram.mtproto.server_connection import ServerConnection
from loopgram.mtproto.session import PaddingPool, seal_message
from loopgram.mtproto.store import MemoryStore
from loopgram.tl.functions.help import GetNearestDc
from loopgram.tl.mtproto.functions import (
    DestroySession,
    GetFutureSalts,
    Ping,
    PingDelayDisconnect,
)
from loopgram.tl.mtproto.types import DestroySessionOk, FutureSalts, MsgsStateReq, Pong
from loopgram.tl.types import NearestDc
from loopgram.transport import TransportErrorPacket, TransportKind
from tests.vectors.make_vectors import load_test_key

from .test_connection_support import (
    COMBO_IDS,
    COMBOS,
    SALT,
    START,
    RawClient,
    Wire,
    make_key,
    msg_id_at,
    of_type,
    reconnect,
)

combos = pytest.mark.parametrize(("kind", "obfuscated"), COMBOS, ids=COMBO_IDS)
RSA = load_test_key()
SMALL = NearestDc(country="NL", this_dc=2, nearest_dc=2)
BIG = NearestDc(country="long " * 600, this_dc=2, nearest_dc=2)


def rejected(events: list[Event]) -> list[int]:
    return [e.error_code for e in of_type(events, MessageRejected)]


def nearest(event: RequestReceived) -> NearestDc:
    return BIG if event.body != bytes(GetNearestDc()) else SMALL


@combos
def test_session_features(kind: TransportKind, obfuscated: bool) -> None:
    clock = FakeClock(START)
    store = MemoryStore()

    def connect(seed: int, **client: object) -> Wire:
        return Wire(
            clock=clock,
            store=store,
            server=ServerConnection(
                store, rsa_keys=[RSA], clock=clock, random_bytes=seeded_random(seed)
            ),
            client=ClientConnection(
                transport=kind,
                obfuscated=obfuscated,
                clock=clock,
                random_bytes=seeded_random(seed + 1),
                **client,  # type: ignore[arg-type]
            ),
        ).start()

    # Key exchange.
    first = connect(10, rsa_keys=[RSA.public_key])
    (done,) = of_type(first.pump(), HandshakeCompleted)
    client = first.client
    # Containers both ways, gzip both ways (a big answer), ping, ping_delay_disconnect.
    ids = [client.send_request(GetNearestDc()) for _ in range(4)]
    big = client.send_request(GetNearestDc())  # answered with BIG below
    ping = client.send_request(Ping(ping_id=5))
    pdd = client.send_request(PingDelayDisconnect(ping_id=6, disconnect_delay=60))
    events = first.pump(lambda e: BIG if e.msg_id == big else SMALL)
    results = {e.msg_id: e.result for e in of_type(events, ResultReceived)}
    assert all(results[i] == SMALL for i in ids)
    assert results[big] == BIG
    assert results[ping] == Pong(msg_id=ping, ping_id=5)
    assert results[pdd] == Pong(msg_id=pdd, ping_id=6)
    assert of_type(first.server_events, DisconnectRequested)[0].delay == 60
    # get_future_salts, msgs_state_req.
    salts = client.send_request(GetFutureSalts(num=2))
    state = client.send_request(MsgsStateReq(msg_ids=[ids[0]]))
    events = first.pump()
    results = {e.msg_id: e.result for e in of_type(events, ResultReceived)}
    assert isinstance(results[salts], FutureSalts) and len(results[salts].salts) == 2
    assert results[state][0] & 4  # received
    # Acks: once the client's acks are sent, the server keeps nothing to re-send.
    clock.advance(1)
    first.pump()
    assert not first.server.sessions[0].outbox
    assert not of_type(first.server_events, MessageRejected)  # the exchange gave the salt

    # A second connection on the same key, a new session starting with salt 0.
    second = connect(20, auth_key=done.auth_key)
    request = second.client.send_request(GetNearestDc())
    assert ResultReceived(request, SMALL) in second.pump(nearest)
    assert [e.error_code for e in of_type(second.server_events, MessageRejected)] == [48]
    # destroy_session of the first session, from the second.
    assert client.session is not None
    target = client.session.session_id
    destroy = second.client.send_request(DestroySession(session_id=target))
    assert ResultReceived(destroy, DestroySessionOk(session_id=target)) in second.pump()
    assert of_type(second.server_events, SessionDestroyed)


@combos
def test_server_checks(kind: TransportKind, obfuscated: bool) -> None:
    key = make_key()
    wire = Wire(kind, obfuscated, key=key)
    server = wire.server
    raw = RawClient(key, kind=kind, obfuscated=obfuscated)
    now = wire.clock()
    ping = bytes(Ping(ping_id=1))
    pad = PaddingPool(seeded_random(4))
    first = msg_id_at(now, 1)
    server.receive_data(raw.packet(first, 1, ping))
    # Replayed msg_id: ignored; too old / too new: 16 / 17.
    assert server.receive_data(raw.packet(first, 1, ping)) == []
    assert server.duplicates == 1
    old, new = msg_id_at(now - 400), msg_id_at(now + 60)
    assert rejected(server.receive_data(raw.packet(old, 3, ping))) == [16]
    assert rejected(server.receive_data(raw.packet(new, 3, ping))) == [17]
    # Bad msg_key: dropped, counted, unanswered.
    sealed = bytearray(seal_message(key, 0, SALT, raw.session_id, msg_id_at(now, 2), 3, ping, pad))
    sealed[30] ^= 1
    assert server.receive_data(raw.frame(bytes(sealed))) == []
    assert server.dropped == 1
    replies = raw.objects(server.data_to_send())
    assert sum(isinstance(r, Pong) for r in replies) == 1
    # Unknown auth key: -404 in the connection's own framing.
    stranger = RawClient(make_key(9), kind=kind, obfuscated=obfuscated)
    fresh = ServerConnection(wire.store, clock=wire.clock, random_bytes=seeded_random(3))
    with pytest.raises(RemoteProtocolError) as info:
        fresh.receive_data(stranger.packet(msg_id_at(now), 1, ping))
    assert info.value.code == -404
    assert stranger.codec.feed(info.value.reply) == [TransportErrorPacket(-404)]


@combos
def test_reconnect_resends(kind: TransportKind, obfuscated: bool) -> None:
    old = Wire(kind, obfuscated, salt=SALT).start()
    request = old.client.send_request(GetNearestDc())
    old.pump()
    (received,) = of_type(old.server_events, RequestReceived)
    old.server.send_result(received.msg_id, SMALL)
    assert old.server.data_to_send()  # lost with the connection
    new = reconnect(old, kind, obfuscated, seed=30)
    assert new.pump() == [ResultReceived(request, SMALL)]
    assert not of_type(new.server_events, RequestReceived)
