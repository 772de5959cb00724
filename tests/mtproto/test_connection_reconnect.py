"""Auth keys and sessions outlive TCP connections (mtproto/description, "Session").

A new ClientConnection given the old ClientSession, against a new ServerConnection on the
same store, goes on where the old pair stopped: nothing answered is lost, nothing is run
twice.
"""

from __future__ import annotations

import pytest

from loopgram.clock import FakeClock, seeded_random
from loopgram.crypto import RsaPrivateKey
from loopgram.mtproto.client_connection import ClientConnection
from loopgram.mtproto.events import (
    HandshakeCompleted,
    MessageRejected,
    RequestReceived,
    ResultReceived,
    SessionCreated,
    UpdateReceived,
)
from loopgram.mtproto.server_connection import ServerConnection
from loopgram.mtproto.store import MemoryStore
from loopgram.tl.functions.help import GetNearestDc
from loopgram.tl.mtproto.functions import Ping
from loopgram.tl.types import NearestDc, UpdatesTooLong
from loopgram.transport import TransportKind

from .test_connection_support import SALT, START, Wire, of_type, reconnect

NEAREST = NearestDc(country="NL", this_dc=2, nearest_dc=2)


def ready() -> Wire:
    wire = Wire(salt=SALT).start()
    wire.client.send_request(Ping(ping_id=0))
    wire.pump()
    return wire


def test_key_from_one_connection_used_on_the_next() -> None:
    rsa = RsaPrivateKey.generate()
    clock = FakeClock(START)
    store = MemoryStore()
    server = ServerConnection(store, rsa_keys=[rsa], clock=clock, random_bytes=seeded_random(1))
    client = ClientConnection(rsa_keys=[rsa.public_key], clock=clock, random_bytes=seeded_random(2))
    exchange = Wire(clock=clock, store=store, client=client, server=server).start()
    (done,) = of_type(exchange.pump(), HandshakeCompleted)
    # The key-exchange connection closes; a new one uses the key, with a new session.
    clock.advance(5)
    later = ClientConnection(
        auth_key=done.auth_key,
        salt=done.server_salt,
        time_offset=done.time_offset,
        transport=TransportKind.ABRIDGED,
        obfuscated=True,
        clock=clock,
        random_bytes=seeded_random(3),
    )
    wire = Wire(
        clock=clock,
        key=done.auth_key,
        store=store,
        client=later,
        server=ServerConnection(store, clock=clock, random_bytes=seeded_random(4)),
    ).start()
    request = later.send_request(GetNearestDc())
    assert ResultReceived(request, NEAREST) in wire.pump(lambda e: NEAREST)
    assert not of_type(wire.server_events, MessageRejected)


@pytest.mark.parametrize(
    ("kind", "obfuscated"),
    [
        (TransportKind.INTERMEDIATE, False),
        (TransportKind.ABRIDGED, True),
        (TransportKind.FULL, False),
    ],
)
def test_lost_answer_is_resent_and_the_query_not_run_twice(
    kind: TransportKind, obfuscated: bool
) -> None:
    old = ready()
    request = old.client.send_request(GetNearestDc())
    old.pump()  # the server received it
    (received,) = of_type(old.server_events, RequestReceived)
    old.server.send_result(received.msg_id, NEAREST)
    assert old.server.data_to_send()  # ... but the connection dies before this is read
    new = reconnect(old, kind, obfuscated)
    events = new.pump()
    assert events == [ResultReceived(request, NEAREST)]
    # The client sent the query again under its original id: recognised, not delivered.
    assert not of_type(new.server_events, RequestReceived)
    assert new.server.duplicates == 1
    assert not of_type(new.client_events, SessionCreated)  # the same session goes on


def test_query_lost_on_the_way_is_sent_again() -> None:
    old = ready()
    request = old.client.send_request(GetNearestDc())
    assert old.client.data_to_send()  # never reaches the server
    new = reconnect(old)
    assert new.pump(lambda e: NEAREST) == [ResultReceived(request, NEAREST)]
    assert len(of_type(new.server_events, RequestReceived)) == 1


def test_answer_produced_after_the_client_left() -> None:
    old = ready()
    request = old.client.send_request(GetNearestDc())
    old.pump()
    (received,) = of_type(old.server_events, RequestReceived)
    new = reconnect(old)
    new.pump()
    # The handler finishes later and answers through the connection it got the query on.
    old.server.send_result(received.msg_id, NEAREST)
    assert old.server.data_to_send() == b""  # that connection no longer sends for it
    assert new.pump() == [ResultReceived(request, NEAREST)]


def test_unacknowledged_updates_are_resent_acknowledged_ones_not() -> None:
    old = ready()
    old.server.send_update(UpdatesTooLong())
    old.pump()
    old.flush_acks()  # the client acknowledged the first update
    old.server.send_update(UpdatesTooLong())
    assert old.server.data_to_send()  # lost with the connection
    new = reconnect(old)
    new.client.send_request(Ping(ping_id=1))
    events = new.pump()
    assert len(of_type(events, UpdateReceived)) == 1


def test_old_pending_query_past_the_clock_window_is_resent_with_a_new_id() -> None:
    old = ready()
    request = old.client.send_request(GetNearestDc())
    assert old.client.data_to_send()  # lost
    old.clock.advance(600)  # the original msg_id is now too old for the server
    new = reconnect(old)
    events = new.pump(lambda e: NEAREST)
    assert ResultReceived(request, NEAREST) in events
    assert [e.error_code for e in of_type(new.server_events, MessageRejected)] == [16]
