"""What a server refuses, and how: hand-made client packets against a ServerConnection.

mtproto/description (msg_id, seq_no, salt checks; "must be ignored"),
mtproto/service_messages_about_messages (bad_msg_notification codes, bad_server_salt),
mtproto/mtproto-transports (transport error -404, quick ack).
"""

from __future__ import annotations

import struct
from hashlib import sha256
from typing import Any

import pytest

from loopgram.clock import FakeClock, seeded_random
from loopgram.crypto import decrypt_message, encrypt_message
from loopgram.mtproto.client_connection import ClientConnection
from loopgram.mtproto.errors import RemoteProtocolError
from loopgram.mtproto.events import MessageRejected, RequestReceived, SessionCreated
from loopgram.mtproto.server_connection import ServerConnection
from loopgram.mtproto.session import PaddingPool, seal_message
from loopgram.tl import ContainerMessage, GzipPacked, MsgContainer, RpcResult, read
from loopgram.tl.functions.help import GetNearestDc
from loopgram.tl.mtproto.functions import Ping
from loopgram.tl.mtproto.types import (
    BadMsgNotification,
    BadServerSalt,
    HttpWait,
    MsgsAck,
    NewSessionCreated,
    Pong,
    RpcError,
)
from loopgram.transport import QuickAck

from .test_connection_support import (
    SALT,
    START,
    RawClient,
    make_key,
    msg_id_at,
    of_type,
    registered_store,
)


class Setup:
    def __init__(self, **options: Any) -> None:
        self.clock = FakeClock(START)
        self.key = make_key()
        self.store = registered_store(self.key, self.clock)
        self.server = ServerConnection(
            self.store, clock=self.clock, random_bytes=seeded_random(1), **options
        )
        self.raw = RawClient(self.key)
        self.n = 0

    def next_id(self) -> int:
        self.n += 1
        return msg_id_at(self.clock(), self.n)

    def send(self, msg_id: int, seqno: int, body: bytes, **kw: Any) -> list[Any]:
        return self.server.receive_data(self.raw.packet(msg_id, seqno, body, **kw))

    def replies(self) -> list[Any]:
        return self.raw.objects(self.server.data_to_send())


def ping(n: int = 1) -> bytes:
    return bytes(Ping(ping_id=n))


def test_ping_gets_pong_after_new_session_created() -> None:
    s = Setup()
    first = s.next_id()
    events = s.send(first, 1, ping(5))
    (created,) = of_type(events, SessionCreated)
    assert created.first_msg_id == first
    out = s.raw.messages(s.server.data_to_send())
    (nsc_id, nsc_seq, nsc), (pong_id, pong_seq, pong) = out
    assert read(nsc) == NewSessionCreated(
        first_msg_id=first, unique_id=created.unique_id, server_salt=SALT
    )
    assert nsc_id % 4 == 3 and nsc_seq % 2 == 1  # not a response, content-related
    assert read(pong) == Pong(msg_id=first, ping_id=5)  # bare, not in rpc_result
    assert pong_id % 4 == 1 and pong_seq % 2 == 0  # a response, not content-related
    assert pong_id > nsc_id


def test_duplicate_msg_id_is_ignored() -> None:
    s = Setup()
    mid = s.next_id()
    s.send(mid, 1, ping())
    s.replies()
    assert s.send(mid, 1, ping()) == []
    assert s.server.duplicates == 1
    # Not answered again, but acknowledged again (the first ack may have been lost).
    assert s.raw.objects(s.server.data_to_send(flush_acks=True)) == [MsgsAck(msg_ids=[mid])]


def notification(code: int, msg_id: int, seqno: int) -> BadMsgNotification:
    return BadMsgNotification(bad_msg_id=msg_id, bad_msg_seqno=seqno, error_code=code)


@pytest.mark.parametrize(
    ("delta", "bits", "code"),
    [(-301, 0, 16), (31, 0, 17), (0, 2, 18), (0, 1, 18), (-3000, 0, 16), (3000, 0, 17)],
)
def test_msg_id_clock_window_and_bits(delta: float, bits: int, code: int) -> None:
    s = Setup()
    mid = msg_id_at(s.clock() + delta) | bits
    events = s.send(mid, 1, ping())
    assert events == [MessageRejected(s.key.id, s.raw.session_id, mid, code)]
    out = s.raw.messages(s.server.data_to_send())
    assert [b for _, _, b in out] == [bytes(notification(code, mid, 1))]
    assert out[0][0] % 4 == 1  # a response id
    # Nothing durable was created by a refused message.
    assert s.store.get_session(s.key.id, s.raw.session_id) is None


def test_replay_below_the_window_is_too_old() -> None:
    s = Setup(window=8)
    ids = [s.next_id() for _ in range(100)]
    for i, mid in enumerate(ids):
        s.send(mid, 2 * i + 1, ping(i))
    s.server.data_to_send()
    events = s.send(ids[3], 7, ping(3))
    assert events == [MessageRejected(s.key.id, s.raw.session_id, ids[3], 20)]
    assert s.replies() == [notification(20, ids[3], 7)]


def test_bad_salt_and_rotation() -> None:
    s = Setup()
    mid = s.next_id()
    assert s.send(mid, 1, ping(), salt=0) == [MessageRejected(s.key.id, s.raw.session_id, mid, 48)]
    assert s.replies() == [
        BadServerSalt(bad_msg_id=mid, bad_msg_seqno=1, error_code=48, new_server_salt=SALT)
    ]
    # An hour later the salt rotated; the old one is still accepted during the grace time.
    s.clock.advance(3600 + 60)
    assert not of_type(s.send(s.next_id(), 1, ping()), MessageRejected)
    s.replies()
    s.clock.advance(1800)
    late = s.next_id()
    assert of_type(s.send(late, 3, ping()), MessageRejected)
    (bad,) = of_type(s.replies(), BadServerSalt)
    assert isinstance(bad, BadServerSalt) and bad.new_server_salt not in (0, SALT)
    assert not of_type(s.send(s.next_id(), 3, ping(), salt=bad.new_server_salt), MessageRejected)


def container(*messages: tuple[int, int, bytes]) -> bytes:
    return bytes(
        MsgContainer(messages=[ContainerMessage(msg_id=m, seqno=q, body=b) for m, q, b in messages])
    )


def test_container_with_good_and_bad_messages() -> None:
    s = Setup()
    good, bad_bits, cid = s.next_id(), s.next_id() | 2, s.next_id()
    nearest = bytes(GetNearestDc())
    events = s.send(cid, 4, container((good, 1, nearest), (bad_bits, 3, ping())))
    assert isinstance(events[0], SessionCreated)
    assert events[0].first_msg_id == good
    (request,) = of_type(events, RequestReceived)
    assert request.msg_id == good and request.request == GetNearestDc()
    assert of_type(events, MessageRejected) == [
        MessageRejected(s.key.id, s.raw.session_id, bad_bits, 18)
    ]


def test_container_id_reused() -> None:
    s = Setup()
    inner, cid = s.next_id(), s.next_id()
    s.send(cid, 2, container((inner, 1, ping())))
    again = s.next_id()
    events = s.send(cid, 4, container((again, 3, ping())))
    assert of_type(events, MessageRejected) == [
        MessageRejected(s.key.id, s.raw.session_id, cid, 19)
    ]
    # A container reusing the id of a message received before: 19 too.
    events = s.send(inner, 4, container((s.next_id(), 3, ping())))
    assert of_type(events, MessageRejected)[0].error_code == 19


@pytest.mark.parametrize("case", ["nested", "empty", "garbage", "same-id", "too-many", "odd-seq"])
def test_invalid_containers(case: str) -> None:
    s = Setup()
    a, b, cid = s.next_id(), s.next_id(), s.next_id()
    seq = 2
    if case == "nested":
        body = container((a, 2, container((b, 1, ping()))))
    elif case == "empty":
        body = container()
    elif case == "garbage":
        body = container((a, 1, ping()))[:-4] + b"\xff" * 8
    elif case == "same-id":
        body = container((cid, 1, ping()))
    elif case == "too-many":
        body = struct.pack("<II", 0x73F1F8DC, 1025) + b"".join(
            struct.pack("<qii", a + 4 * i, 0, 4) + b"\x00" * 4 for i in range(1025)
        )
    else:
        body, seq = container((a, 1, ping())), 3
    events = s.send(cid, seq, body)
    code = 34 if case == "odd-seq" else 64
    assert events == [MessageRejected(s.key.id, s.raw.session_id, cid, code)]
    assert s.replies() == [notification(code, cid, seq)]


@pytest.mark.parametrize(
    ("body", "seqno", "code"),
    [
        (bytes(HttpWait(max_delay=0, wait_after=0, max_wait=0)), 1, 34),  # never content
        (bytes(GetNearestDc()), 2, 35),  # a query must have an odd one
    ],
)
def test_seqno_parity(body: bytes, seqno: int, code: int) -> None:
    s = Setup()
    mid = s.next_id()
    assert s.send(mid, seqno, body) == [MessageRejected(s.key.id, s.raw.session_id, mid, code)]


def test_service_queries_are_tolerated_with_either_parity() -> None:
    s = Setup()
    mid = s.next_id()
    assert not of_type(s.send(mid, 0, ping(3)), MessageRejected)  # as Pyrogram sends it
    assert Pong(msg_id=mid, ping_id=3) in s.replies()


def test_an_ack_with_an_odd_seqno_is_taken_as_mtcute_sends_it() -> None:
    s = Setup()
    s.send(s.next_id(), 1, ping(4))
    [session] = s.server.sessions
    [created_id] = list(session.outbox)  # new_session_created waits for its ack
    ack = bytes(MsgsAck(msg_ids=[created_id]))
    assert not of_type(s.send(s.next_id(), 3, ack), MessageRejected)
    assert created_id not in session.outbox


def test_seqno_order() -> None:
    s = Setup()
    first, second, third = s.next_id(), s.next_id(), s.next_id()
    s.send(second, 5, ping())
    # A later message with a lower seq_no (or the same odd one): 32.
    assert of_type(s.send(third, 3, ping()), MessageRejected)[0].error_code == 32
    assert of_type(s.send(third, 5, ping()), MessageRejected)[0].error_code == 32
    # An earlier message with a higher seq_no: 33.
    assert of_type(s.send(first, 7, ping()), MessageRejected)[0].error_code == 33
    assert not of_type(s.send(first, 3, ping()), MessageRejected)
    assert not of_type(s.send(third, 7, ping()), MessageRejected)


def test_bad_msg_key_is_dropped_and_counted() -> None:
    s = Setup()
    frame = bytearray(s.raw.packet(s.next_id(), 1, ping()))
    frame[-5] ^= 0x40  # inside the AES payload
    assert s.server.receive_data(bytes(frame)) == []
    assert s.server.dropped == 1
    assert s.server.data_to_send() == b""
    # The same for a packet sealed with another key under this key's id.
    sealed = seal_message(make_key(2), 0, SALT, 1, s.next_id(), 1, ping(), PaddingPool(bytes))
    assert s.server.receive_data(s.raw.frame(s.key.key_id + sealed[8:])) == []
    assert s.server.dropped == 2


def test_impossible_lengths_are_dropped() -> None:
    s = Setup()
    header = struct.pack("<qqqii", SALT, s.raw.session_id, s.next_id(), 1, 4000)
    sealed = encrypt_message(s.key, header + ping(), x=0, padding=bytes(12 + (-(44 + 12) & 15)))
    assert s.server.receive_data(s.raw.frame(sealed)) == []
    short = s.key.key_id + bytes(16 + 16)  # one AES block: no room for a header
    assert s.server.receive_data(s.raw.frame(short)) == []
    assert s.server.dropped == 2


def test_unknown_auth_key_gets_404() -> None:
    s = Setup()
    stranger = RawClient(make_key(3))
    with pytest.raises(RemoteProtocolError) as info:
        s.server.receive_data(stranger.packet(msg_id_at(s.clock()), 1, ping()))
    assert info.value.code == -404 and info.value.close
    assert info.value.reply == s.server.transport.encode_error(-404)
    with pytest.raises(RemoteProtocolError):
        s.server.receive_data(b"")  # the connection stays failed
    # A client reading that reply learns the key is gone.
    client = ClientConnection(auth_key=make_key(3), clock=s.clock, random_bytes=seeded_random(4))
    client.start()
    with pytest.raises(RemoteProtocolError) as client_info:
        client.receive_data(info.value.reply)
    assert client_info.value.code == -404


def test_remote_error_keeps_events_decoded_before_it() -> None:
    s = Setup()
    good = s.raw.packet(s.next_id(), 1, bytes(GetNearestDc()))
    bad = s.raw.packet(s.next_id(), 3, ping(), key=make_key(5))
    with pytest.raises(RemoteProtocolError) as info:
        s.server.receive_data(good + bad)
    assert [type(e) for e in info.value.events] == [SessionCreated, RequestReceived]


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\n\r\n",  # not MTProto at all: no reply possible
        b"\xee\xee\xee\xee" + struct.pack("<I", 28) + bytes(28),  # plain, but no handshake
    ],
)
def test_fatal_openings(data: bytes) -> None:
    s = Setup()
    with pytest.raises(RemoteProtocolError) as info:
        s.server.receive_data(data)
    if data.startswith(b"GET"):
        assert info.value.code is None and info.value.reply == b""
    else:
        assert info.value.code == -404


def test_quick_ack() -> None:
    s = Setup()
    mid = s.next_id()
    sealed = seal_message(s.key, 0, SALT, s.raw.session_id, mid, 1, ping(), PaddingPool(bytes))
    s.server.receive_data(s.raw.codec.encode(sealed, quick_ack=True))
    events = s.raw.codec.feed(s.server.data_to_send())
    # The token: the first 32 bits of the SHA256 msg_key is cut from, top bit set.
    digest = sha256(s.key.key[88:120] + decrypt_message(s.key, sealed, x=0)).digest()
    assert events[0] == QuickAck(struct.unpack("<I", digest[:4])[0] | 0x80000000)


def test_too_many_sessions_on_one_connection() -> None:
    s = Setup(max_sessions=3)
    for sid in range(3):
        s.send(s.next_id(), 1, ping(), session_id=sid + 1)
    with pytest.raises(RemoteProtocolError) as info:
        s.send(s.next_id(), 1, ping(), session_id=99)
    assert info.value.code == -429


def rpc_errors(s: Setup) -> dict[int, tuple[int, str]]:
    """The ``rpc_error``s among the server's replies, by the msg_id they answer."""
    out: dict[int, tuple[int, str]] = {}
    for obj in s.replies():
        if isinstance(obj, RpcResult):
            error = read(obj.result)
            if isinstance(error, RpcError):
                out[obj.req_msg_id] = (error.error_code, error.error_message)
    return out


def test_gzipped_query_is_read_and_handed_up_as_received() -> None:
    s = Setup()
    request = bytes(GetNearestDc())
    packed = GzipPacked.pack(request)
    events = s.send(s.next_id(), 1, packed)
    (received,) = of_type(events, RequestReceived)
    assert received.request == GetNearestDc()
    # Still packed: a layer above that reads it again meets the same gzip rules.
    assert received.body == packed and read(received.body) == GetNearestDc()


def test_gzip_around_a_container_is_an_invalid_container() -> None:
    s = Setup()
    mid = s.next_id()
    s.send(mid, 2, GzipPacked.pack(container((s.next_id(), 1, ping()))))
    assert s.replies()[-1] == notification(64, mid, 2)


def test_gzip_that_does_not_inflate_is_answered_input_fetch_error() -> None:
    # Before, it got only a msgs_ack: the client waited for an answer forever.
    s = Setup()
    mid = s.next_id()
    assert s.send(mid, 1, b"\xa1\xcf\x72\x30\x04abcd\x00\x00\x00") == [
        SessionCreated(s.key.id, s.raw.session_id, mid, s.server.sessions[0].unique_id)
    ]
    assert rpc_errors(s) == {mid: (400, "INPUT_FETCH_ERROR")}


def test_malformed_service_messages_are_answered_except_acks() -> None:
    s = Setup()
    bad_ping = s.next_id()
    s.send(bad_ping, 1, ping()[:-4])
    s.send(s.next_id(), 2, bytes(MsgsAck(msg_ids=[1]))[:-4])  # nobody waits for an ack
    assert s.server.malformed == 2
    assert rpc_errors(s) == {bad_ping: (400, "INPUT_FETCH_ERROR")}
