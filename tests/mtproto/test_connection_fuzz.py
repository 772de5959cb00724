"""Fuzzing a ServerConnection: whatever arrives, only documented outcomes come out.

Documented outcomes: a list of events (with replies queued for ``data_to_send``), or
:class:`RemoteProtocolError` carrying the reply to write. Never another exception, and
what the server then sends still decodes.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopgram.clock import FakeClock, seeded_random
from loopgram.crypto import RsaPrivateKey
from loopgram.mtproto.client_connection import ClientConnection
from loopgram.mtproto.errors import RemoteProtocolError
from loopgram.mtproto.events import Event
from loopgram.mtproto.server_connection import ServerConnection
from loopgram.mtproto.session import PaddingPool, seal_message
from loopgram.tl import ContainerMessage, GzipPacked, MsgContainer
from loopgram.tl.functions.help import GetNearestDc
from loopgram.tl.mtproto.functions import (
    DestroySession,
    GetFutureSalts,
    Ping,
    PingDelayDisconnect,
    RpcDropAnswer,
)
from loopgram.tl.mtproto.types import MsgResendReq, MsgsAck, MsgsStateReq
from loopgram.transport import TransportKind

from .test_connection_support import (
    COMBOS,
    SALT,
    START,
    RawClient,
    make_key,
    msg_id_at,
    registered_store,
)

RSA = RsaPrivateKey.generate()
KEY = make_key()
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def server(clock: FakeClock | None = None) -> ServerConnection:
    clock = clock or FakeClock(START)
    return ServerConnection(
        registered_store(KEY, clock), rsa_keys=[RSA], clock=clock, random_bytes=seeded_random(1)
    )


def feed(srv: ServerConnection, chunks: list[bytes]) -> list[Event]:
    """Feed chunks; stop at the first RemoteProtocolError, which must carry bytes."""
    events: list[Event] = []
    for chunk in chunks:
        try:
            events.extend(srv.receive_data(chunk))
        except RemoteProtocolError as exc:
            assert isinstance(exc.reply, bytes)
            assert exc.code is None or exc.reply
            events.extend(exc.events)
            break
        srv.data_to_send(flush_acks=True)
    return events


@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=6))
def test_random_bytes(chunks: list[bytes]) -> None:
    feed(server(), chunks)


def valid_stream(kind: TransportKind, obfuscated: bool, handshake: bool) -> bytes:
    """The bytes a well-behaved client sends: a key exchange start, or several queries."""
    clock = FakeClock(START)
    if handshake:
        client = ClientConnection(
            transport=kind,
            obfuscated=obfuscated,
            rsa_keys=[RSA.public_key],
            clock=clock,
            random_bytes=seeded_random(3),
        )
        client.start()
        return client.data_to_send()
    client = ClientConnection(
        transport=kind,
        obfuscated=obfuscated,
        auth_key=KEY,
        salt=SALT,
        clock=clock,
        random_bytes=seeded_random(3),
    )
    client.start()
    client.send_request(Ping(ping_id=1))
    out = client.data_to_send()
    client.send_request(GetNearestDc())
    client.send_request(GetFutureSalts(num=2))
    return out + client.data_to_send()


STREAMS = [
    valid_stream(kind, obfuscated, handshake)
    for kind, obfuscated in COMBOS
    for handshake in (False, True)
]


@st.composite
def mutated(draw: st.DrawFn) -> list[bytes]:
    data = bytearray(draw(st.sampled_from(STREAMS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "repeat"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=4)))
    pieces, prev = [], 0
    for c in [*cuts, len(data)]:
        pieces.append(bytes(data[prev:c]))
        prev = c
    return pieces


@FUZZ
@given(mutated())
def test_mutated_streams(chunks: list[bytes]) -> None:
    feed(server(), chunks)


@pytest.mark.parametrize("index", range(len(STREAMS)))
def test_unmutated_streams_are_accepted(index: int) -> None:
    srv = server()
    events = srv.receive_data(STREAMS[index])
    assert srv.data_to_send()  # a resPQ, or a new_session_created, pong and salts
    assert bool(events) == (index % 2 == 0)  # the key exchange start reports nothing


KNOWN_BODIES = [
    bytes(Ping(ping_id=1)),
    bytes(PingDelayDisconnect(ping_id=1, disconnect_delay=3)),
    bytes(GetFutureSalts(num=5)),
    bytes(DestroySession(session_id=7)),
    bytes(RpcDropAnswer(req_msg_id=4)),
    bytes(MsgsAck(msg_ids=[1, 2])),
    bytes(MsgsStateReq(msg_ids=[4, 8])),
    bytes(MsgResendReq(msg_ids=[3])),
    bytes(GetNearestDc()),
]


def bodies() -> st.SearchStrategy[bytes]:
    """Message bodies: known ones, truncated or extended ones, garbage, gzip of those."""
    plain = st.one_of(
        st.sampled_from(KNOWN_BODIES),
        st.builds(
            lambda b, n: b[: max(0, len(b) - n)], st.sampled_from(KNOWN_BODIES), st.integers(0, 12)
        ),
        st.builds(lambda b, t: b + t, st.sampled_from(KNOWN_BODIES), st.binary(max_size=12)),
        st.binary(max_size=64),
    )
    return st.one_of(plain, plain.map(GzipPacked.pack))


def padded(body: bytes) -> bytes:
    return body + bytes(-len(body) & 3)  # message lengths are multiples of 4


@st.composite
def message(draw: st.DrawFn, now: float) -> tuple[int, int, bytes]:
    msg_id = msg_id_at(now + draw(st.sampled_from([0, -1, 1, -400, 40]))) + 4 * draw(
        st.integers(0, 50)
    )
    msg_id |= draw(st.sampled_from([0, 0, 0, 1, 2]))
    seqno = draw(st.integers(-2, 40))
    body = padded(draw(bodies()))
    if draw(st.integers(0, 4)) == 0:
        inner = draw(
            st.lists(st.tuples(st.integers(0, 60), st.integers(-1, 40), bodies()), max_size=5)
        )
        body = bytes(
            MsgContainer(
                messages=[
                    ContainerMessage(msg_id=msg_id_at(now) + 4 * i, seqno=s, body=padded(b))
                    for i, s, b in inner
                ]
            )
        )
        if draw(st.booleans()):
            body = body[: draw(st.integers(0, len(body)))]
            body = padded(body)
    return msg_id, seqno, body


@FUZZ
@given(st.data())
def test_well_encrypted_nonsense(data: st.DataObject) -> None:
    """Past decryption every header field and body is the attacker's: still no crash."""
    clock = FakeClock(START)
    srv = server(clock)
    raw = RawClient(KEY)
    for _ in range(data.draw(st.integers(1, 8))):
        msg_id, seqno, body = data.draw(message(clock()))
        salt = data.draw(st.sampled_from([SALT, SALT, 0, 12345]))
        session_id = data.draw(st.sampled_from([1, 1, 2, -5]))
        packet = raw.packet(msg_id, seqno, body, salt=salt, session_id=session_id)
        srv.receive_data(packet)  # the key is known: never a RemoteProtocolError
        clock.advance(data.draw(st.sampled_from([0, 0.01, 1, 400])))
        out = srv.data_to_send(flush_acks=data.draw(st.booleans()))
        for sid in (1, 2, -5):
            raw.session_id = sid
            try:
                raw.messages(out)  # what the server sends must decode
                break
            except AssertionError:
                continue
        raw.session_id = 0x5E55
    assert srv.dropped == 0


def test_struct_helpers() -> None:
    assert padded(b"abc") == b"abc\x00"
    assert struct.calcsize("<qii") == 16


@FUZZ
@given(st.data())
def test_client_survives_nonsense_from_the_server(data: st.DataObject) -> None:
    """The client side too: encrypted nonsense under its own session gives events only."""
    clock = FakeClock(START)
    client = ClientConnection(auth_key=KEY, salt=SALT, clock=clock, random_bytes=seeded_random(8))
    client.start()
    pending = client.send_request(GetNearestDc())
    client.data_to_send()
    session = client.session
    assert session is not None
    srv = server(clock)
    srv.receive_data(b"\xee\xee\xee\xee")  # the client's transport tag, as if sent
    for _ in range(data.draw(st.integers(1, 6))):
        msg_id, seqno, body = data.draw(message(clock()))
        if data.draw(st.booleans()):
            body = b"\x01\x6d\x5c\xf3" + struct.pack("<q", pending) + body  # rpc_result
        server_id = msg_id | data.draw(st.sampled_from([1, 3, 0]))
        sealed = seal_message(
            KEY, 8, SALT, session.session_id, server_id, seqno, padded(body), PaddingPool(bytes)
        )
        client.receive_data(srv.transport.encode(sealed))  # never raises here
        client.data_to_send(flush_acks=True)
