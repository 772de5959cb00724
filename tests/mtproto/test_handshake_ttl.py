"""A key exchange abandoned after req_pq_multi is kept about as long as a connection that has
not opened yet (the driver's opening timeout), not as long as an idle one (300 s): the
exchange is forgotten when its next step does not come within the TTL. On a fake clock."""

from __future__ import annotations

import pytest

from loopgram.clock import FakeClock, seeded_random
from loopgram.mtproto.errors import RemoteProtocolError
from loopgram.mtproto.events import AuthKeyCreated
from loopgram.mtproto.handshake import DEFAULT_TTL, HandshakeError, ServerState
from loopgram.mtproto.plain import decode_plain, encode_plain
from loopgram.mtproto.server_connection import ServerConnection
from loopgram.mtproto.store import MemoryStore
from loopgram.net import Limits
from loopgram.transport import Packet, client_codec
from loopgram.transport.codec import TransportKind

from .test_handshake import KEY, START, make_client, make_server


def test_the_default_ttl_is_the_opening_timeout_of_a_connection() -> None:
    assert DEFAULT_TTL == Limits().opening_timeout


def test_a_step_within_the_ttl_goes_on() -> None:
    clock = FakeClock(START)
    server, client = make_server(clock=clock, ttl=10.0), make_client()
    req_dh = client.receive(server.receive(client.start()).reply)
    assert isinstance(req_dh, bytes)
    clock.advance(9.9)
    assert server.deadline == START + 10.0
    server.receive(req_dh)
    assert server.state is ServerState.AWAITING_SET_CLIENT_DH_PARAMS


def test_a_step_after_the_ttl_is_refused_and_a_new_exchange_starts_afresh() -> None:
    clock = FakeClock(START)
    server, client = make_server(clock=clock, ttl=10.0), make_client()
    req_dh = client.receive(server.receive(client.start()).reply)
    assert isinstance(req_dh, bytes)
    clock.advance(10.0)
    with pytest.raises(HandshakeError, match="expired"):
        server.receive(req_dh)
    assert server.state is ServerState.AWAITING_REQ_PQ and server.deadline is None
    # The client may begin again (the same connection, or a new one).
    again = make_client(seed=5)
    server.receive(again.start())
    assert server.deadline == clock() + 10.0


def test_the_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError):
        make_server(ttl=0)


class PlainClient:
    """Unencrypted key exchange messages over the intermediate transport."""

    def __init__(self) -> None:
        self.codec = client_codec(TransportKind.INTERMEDIATE, random_bytes=seeded_random(3))
        self.n = 0

    def frame(self, body: bytes) -> bytes:
        self.n += 1
        return self.codec.encode(encode_plain((int(START) << 32) + 4 * self.n, body))

    def reply(self, data: bytes) -> bytes:
        (frame,) = self.codec.feed(data)
        assert isinstance(frame, Packet)
        return decode_plain(frame.payload).body


def timed_server(clock: FakeClock) -> ServerConnection:
    """A server connection whose key exchanges time out after 5 s of ``clock``."""
    return ServerConnection(
        MemoryStore(),
        rsa_keys=[KEY],
        clock=clock,
        random_bytes=seeded_random(1),
        handshake_timeout=5.0,
    )


def test_a_connection_forgets_an_abandoned_exchange_at_its_handshake_timeout() -> None:
    clock = FakeClock(START)
    server = timed_server(clock)
    raw, client = PlainClient(), make_client()
    assert not server.handshaking
    server.receive_data(raw.frame(client.start()))
    req_dh = client.receive(raw.reply(server.data_to_send()))
    assert isinstance(req_dh, bytes)
    assert server.handshaking and server.handshake_deadline() == START + 5.0
    clock.advance(5.0)
    assert not server.handshaking and server.handshake_deadline() is None
    with pytest.raises(RemoteProtocolError) as info:
        server.receive_data(raw.frame(req_dh))
    assert info.value.code == -404


def test_a_connection_finishes_an_exchange_within_its_handshake_timeout() -> None:
    clock = FakeClock(START)
    server = timed_server(clock)
    raw, client = PlainClient(), make_client()
    request = client.start()
    events = []
    while isinstance(request, bytes):
        clock.advance(4.0)
        events += server.receive_data(raw.frame(request))
        request = client.receive(raw.reply(server.data_to_send()))
    # Three steps, each within the timeout, the whole exchange beyond it.
    assert clock() - START > 5.0 and [type(e) for e in events] == [AuthKeyCreated]
    assert not server.handshaking
