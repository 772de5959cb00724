"""Incrementality: any split of a stream into ``feed`` calls yields the same events."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopgram.transport import Codec, ErrorCode, Packet, TransportKind
from tests.transport.transport_support import COMBOS, connect, feed_all, split

sizes = st.lists(st.integers(min_value=6, max_value=300).map(lambda n: n * 4), max_size=8)
cuts = st.lists(st.integers(min_value=0, max_value=20_000), max_size=40)


@pytest.mark.parametrize(("kind", "obfuscated"), COMBOS)
@settings(max_examples=40, deadline=None)
@given(sizes=sizes, cuts=cuts, acks=st.lists(st.booleans(), min_size=8, max_size=8))
def test_client_stream_any_chunking(
    kind: TransportKind, obfuscated: bool, sizes: list[int], cuts: list[int], acks: list[bool]
) -> None:
    acks = acks if kind is not TransportKind.FULL else [False] * 8
    client, _ = connect(kind, obfuscated, seed=len(sizes))
    stream = b"".join(
        client.encode(bytes([i]) * n, quick_ack=a)
        for i, (n, a) in enumerate(zip(sizes, acks, strict=False))
    )
    _, whole_server = connect(kind, obfuscated)
    whole = whole_server.feed(stream)
    _, chunked_server = connect(kind, obfuscated)
    assert feed_all(chunked_server, split(stream, cuts)) == whole
    _, bytewise_server = connect(kind, obfuscated)
    if len(stream) < 3000:
        assert feed_all(bytewise_server, [stream[i : i + 1] for i in range(len(stream))]) == whole
    assert len(whole) == len(sizes)
    for i, (event, n, a) in enumerate(zip(whole, sizes, acks, strict=False)):
        assert isinstance(event, Packet)
        assert event.payload[:n] == bytes([i]) * n
        assert event.quick_ack is a


@pytest.mark.parametrize(("kind", "obfuscated"), COMBOS)
@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(
        st.one_of(
            st.integers(min_value=6, max_value=300).map(lambda n: ("packet", n * 4)),
            st.integers(min_value=0x80000000, max_value=0xFFFFFFFF).map(lambda t: ("ack", t)),
            st.sampled_from([("error", int(c)) for c in ErrorCode]),
        ),
        max_size=10,
    ),
    cuts=cuts,
)
def test_server_stream_any_chunking(
    kind: TransportKind, obfuscated: bool, items: list[tuple[str, int]], cuts: list[int]
) -> None:
    if kind is TransportKind.FULL:
        items = [i for i in items if i[0] != "ack"]

    def produce() -> tuple[bytes, Codec]:
        client, server = connect(kind, obfuscated, seed=3)
        server.feed(client.encode(bytes(24)))
        out = []
        for what, value in items:
            if what == "packet":
                out.append(server.encode(bytes([value & 0xFF]) * value))
            elif what == "ack":
                out.append(server.encode_quick_ack(value))
            else:
                out.append(server.encode_error(value))
        return b"".join(out), client

    stream, whole_client = produce()
    whole = whole_client.feed(stream)
    _, chunked_client = produce()
    assert feed_all(chunked_client, split(stream, cuts)) == whole
    assert len(whole) == len(items)
