"""Server-side detection of the transport from the first bytes of a connection."""

from __future__ import annotations

import pytest

from loopgram.transport import Detection, Packet, TransportError, TransportKind, detect
from tests.transport.transport_support import COMBOS, connect, feed_all, payload


@pytest.mark.parametrize(("kind", "obfuscated"), COMBOS)
def test_detect_from_one_byte_chunks(kind: TransportKind, obfuscated: bool) -> None:
    client, server = connect(kind, obfuscated, seed=11)
    stream = client.encode(payload(24), quick_ack=kind is not TransportKind.FULL)
    stream += client.encode(payload(600))
    events = feed_all(server, [stream[i : i + 1] for i in range(len(stream))])
    assert server.kind is kind and server.obfuscated is obfuscated
    assert [type(e) for e in events] == [Packet, Packet]
    assert isinstance(events[0], Packet)
    assert events[0].quick_ack is (kind is not TransportKind.FULL)


def test_detect_needs_few_bytes() -> None:
    assert detect(b"") is None
    assert detect(b"\xef") == Detection(TransportKind.ABRIDGED, False)
    assert detect(b"\xee\xee\xee") is None
    assert detect(b"\xee\xee\xee\xee") == Detection(TransportKind.INTERMEDIATE, False)
    assert detect(b"\xdd\xdd\xdd\xdd") == Detection(TransportKind.PADDED_INTERMEDIATE, False)
    assert detect(b"\x18\x00\x00\x00\x00\x00\x00") is None
    assert detect(b"\x18\x00\x00\x00\x00\x00\x00\x00") == Detection(TransportKind.FULL, False)
    assert detect(b"\x18\x00\x00\x00\x01\x00\x00\x00") == Detection(None, True)
    # An obfuscated header starting like a tag's prefix is still obfuscated once it diverges.
    assert detect(b"\xee\xee\xee\x01\x02\x03\x04\x05") == Detection(None, True)


@pytest.mark.parametrize("opening", [b"GET ", b"POST", b"HEAD", b"OPTI", b"\x16\x03\x01\x02"])
def test_detect_refuses_http_and_tls(opening: bytes) -> None:
    with pytest.raises(TransportError):
        detect(opening)


def test_full_first_frame_lengths_never_look_like_tags() -> None:
    # A full frame length is 12 + a multiple of 4: its low byte is never 0xef, 0xee or 0xdd.
    for length in range(16, 4096, 4):
        found = detect(length.to_bytes(4, "little") + bytes(4))
        assert found == Detection(TransportKind.FULL, False)


def test_server_transport_reports_detected_state() -> None:
    client, server = connect(TransportKind.PADDED_INTERMEDIATE, True, dc_id=4)
    assert server.kind is None and server.codec is None and server.dc_id is None
    stream = client.encode(payload(24))
    server.feed(stream[:10])
    assert server.obfuscated and server.kind is None
    server.feed(stream[10:])
    assert server.kind is TransportKind.PADDED_INTERMEDIATE
    assert server.dc_id == 4
