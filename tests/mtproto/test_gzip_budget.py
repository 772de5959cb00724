"""gzip_packed from a client costs a bounded amount: per packet, per connection, never nested.

The attack of issue 13 in miniature: one messages.sendMessage whose entities each travel
gzip_packed, every one under the per-object limit and all of them together far over it; and
one outer gzip_packed around such a request. What the server inflates is measured by
counting the bytes ``inflate`` was allowed to produce (not the process's RSS).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

import loopgram.tl.core as tl_core
from loopgram.mtproto.events import RequestReceived
from loopgram.tl import LAYER, ContainerMessage, GzipPacked, MsgContainer, layers, read
from loopgram.tl.functions.help import GetNearestDc
from loopgram.tl.functions.messages import SendMessage
from loopgram.tl.types import InputPeerSelf, MessageEntityTextUrl

from .test_connection_support import of_type
from .test_session_checks import Setup, rpc_errors

KIB = 1024
ENTITY = 64 * KIB  # what each gzipped entity inflates to (about)


def attack(count: int, size: int = ENTITY, layer: int = LAYER) -> bytes:
    """messages.sendMessage (in ``layer``'s layout) with ``count`` entities, each gzip_packed
    on its own."""
    entity = MessageEntityTextUrl(offset=0, length=1, url="a" * size)

    def request(n: int) -> bytes:
        query = SendMessage(peer=InputPeerSelf(), message="x", random_id=1, entities=[entity] * n)
        return layers.serialize(query, layer)

    packed = request(count).replace(bytes(entity), GzipPacked.pack(bytes(entity)))
    assert len(packed) < len(request(1))  # all of them smaller on the wire than one plain
    return packed


def padded(size: int) -> bytes:
    """A gzipped messages.sendMessage that inflates to a little over ``size`` bytes."""
    return GzipPacked.pack(
        bytes(SendMessage(peer=InputPeerSelf(), message="a" * size, random_id=1))
    )


@pytest.fixture
def inflated(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The bytes each ``inflate`` call produced, or was allowed to produce when it refused."""
    sizes: list[int] = []
    real = tl_core.inflate

    def counting(data: bytes, offset: int = 0, limit: int = tl_core.MAX_GZIP_SIZE) -> bytes:
        try:
            out = real(data, offset, limit)
        except tl_core.InflateLimitError:
            sizes.append(max(limit, 0))
            raise
        sizes.append(len(out))
        return out

    monkeypatch.setattr(tl_core, "inflate", counting)
    yield sizes


def still_works(s: Setup, seqno: int) -> None:
    """The next request on the same connection is read and its answer goes out."""
    mid = s.next_id()
    (received,) = of_type(s.send(mid, seqno, bytes(GetNearestDc())), RequestReceived)
    assert received.request == GetNearestDc()
    s.server.send_result(mid, b"\xb5\x75\x72\x99")
    assert any(getattr(o, "req_msg_id", None) == mid for o in s.replies())


def test_gzipped_entities_over_the_budget_get_input_request_too_long(
    inflated: list[int],
) -> None:
    budget = 256 * KIB
    s = Setup(max_inflate=budget)
    mid = s.next_id()
    events = s.send(mid, 1, attack(64))  # 64 x 64 KiB: 4 MiB behind 7 KB on the wire
    assert of_type(events, RequestReceived) == []
    assert rpc_errors(s) == {mid: (400, "INPUT_REQUEST_TOO_LONG")}
    assert sum(inflated) <= budget
    assert s.server.inflate_held == 0
    still_works(s, 3)


def test_gzipped_entities_within_the_budget_are_read() -> None:
    s = Setup(max_inflate=256 * KIB)
    (received,) = of_type(s.send(s.next_id(), 1, attack(3)), RequestReceived)
    assert isinstance(received.request, SendMessage)
    assert received.request.entities is not None and len(received.request.entities) == 3


def test_outer_gzip_around_gzipped_entities_inflates_only_the_outer_one(
    inflated: list[int],
) -> None:
    # 96 bombs in one outer gzip reached 2.8 GB: the inner ones are now never inflated. The
    # query goes up unparsed (still packed), where the dispatcher answers INPUT_FETCH_ERROR
    # (tests/server/test_gzip_requests.py).
    s = Setup()
    outer = GzipPacked.pack(attack(96))
    mid = s.next_id()
    (received,) = of_type(s.send(mid, 1, outer), RequestReceived)
    assert received.request is None and received.body == outer
    assert inflated == [len(attack(96))]


def test_the_budget_is_shared_by_the_messages_of_one_container() -> None:
    s = Setup(max_inflate=256 * KIB)
    ids = [s.next_id() for _ in range(3)]
    body = bytes(
        MsgContainer(
            messages=[
                ContainerMessage(msg_id=m, seqno=2 * i + 1, body=padded(100 * KIB))
                for i, m in enumerate(ids)
            ]
        )
    )
    events = s.send(s.next_id(), 6, body)
    assert [e.msg_id for e in of_type(events, RequestReceived)] == ids[:2]
    assert rpc_errors(s) == {ids[2]: (400, "INPUT_REQUEST_TOO_LONG")}


def test_a_connection_holds_a_bounded_amount_until_its_queries_are_answered() -> None:
    s = Setup(max_inflate=256 * KIB, max_inflate_held=384 * KIB)
    first = s.next_id()
    of_type(s.send(first, 1, padded(200 * KIB)), RequestReceived)
    held = s.server.inflate_held
    assert held > 200 * KIB
    # Unanswered, the first query holds its 200 KiB: a second one does not fit beside it.
    second = s.next_id()
    assert of_type(s.send(second, 3, padded(200 * KIB)), RequestReceived) == []
    assert rpc_errors(s) == {second: (400, "INPUT_REQUEST_TOO_LONG")}
    assert s.server.inflate_held == held
    # Answered, it holds nothing, and the same query fits.
    s.server.send_result(first, b"\xb5\x75\x72\x99")
    assert s.server.inflate_held == 0
    again = s.next_id()
    (received,) = of_type(s.send(again, 5, padded(200 * KIB)), RequestReceived)
    assert read(received.body).message == "a" * 200 * KIB


def _bytes_reachable(root: object, depth: int = 6) -> int:
    """The size of the largest bytes object reachable from ``root`` within ``depth`` hops."""
    largest, seen, frontier = 0, {id(root)}, [root]
    for _ in range(depth):
        nxt: list[object] = []
        for obj in frontier:
            for ref in gc.get_referents(obj):
                if id(ref) in seen or isinstance(ref, type):
                    continue
                seen.add(id(ref))
                if isinstance(ref, bytes | bytearray):
                    largest = max(largest, len(ref))
                else:
                    nxt.append(ref)
        frontier = nxt
    return largest


def test_an_answered_gzipped_query_leaves_nothing_inflated_on_the_connection() -> None:
    # An idle connection kept its last request body as inflated (1 KB sent, ~1 MiB held):
    # 128 idle connections cost the server 57 MB (bench/abuse.py, inflated-held).
    s = Setup()
    mid = s.next_id()
    (received,) = of_type(s.send(mid, 1, padded(500 * KIB)), RequestReceived)
    del received
    s.server.send_result(mid, b"\xb5\x75\x72\x99")
    s.replies()
    assert _bytes_reachable(s.server) < 100 * KIB
