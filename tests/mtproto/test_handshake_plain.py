"""The unencrypted message envelope, loopgram.mtproto.plain (mtproto/description)."""

from __future__ import annotations

import pytest

from loopgram import LoopgramError
from loopgram.mtproto.plain import (
    PLAIN_HEADER_SIZE,
    PlainMessage,
    PlainMessageError,
    decode_plain,
    encode_plain,
)


def test_encode_lays_out_zero_key_id_msg_id_length_and_body() -> None:
    payload = encode_plain(0x51E57AC42770964A, b"\x78\x97\x46\x60" + bytes(16))
    assert payload[:8] == bytes(8)
    assert payload[8:16] == (0x51E57AC42770964A).to_bytes(8, "little")
    assert payload[16:20] == (20).to_bytes(4, "little")
    assert payload[20:] == b"\x78\x97\x46\x60" + bytes(16)
    assert PLAIN_HEADER_SIZE == 20


def test_decode_inverts_encode() -> None:
    payload = encode_plain(-5, b"body")
    assert decode_plain(payload) == PlainMessage(msg_id=-5, body=b"body")


def test_decode_ignores_transport_padding_after_the_declared_length() -> None:
    payload = encode_plain(4, b"abcd") + b"\x01\x02\x03"
    assert decode_plain(payload) == PlainMessage(4, b"abcd")


def test_decode_accepts_an_empty_body() -> None:
    assert decode_plain(encode_plain(8, b"")) == PlainMessage(8, b"")


@pytest.mark.parametrize("size", [0, 1, 19])
def test_decode_rejects_data_shorter_than_the_header(size: int) -> None:
    with pytest.raises(PlainMessageError, match="shorter"):
        decode_plain(bytes(size))


def test_decode_rejects_a_nonzero_auth_key_id() -> None:
    payload = b"\x01" + encode_plain(4, b"abcd")[1:]
    with pytest.raises(PlainMessageError, match="auth_key_id"):
        decode_plain(payload)


def test_decode_rejects_a_length_past_the_end() -> None:
    payload = encode_plain(4, b"abcd")[:-1]
    with pytest.raises(PlainMessageError, match="message_data_length"):
        decode_plain(payload)


def test_decode_rejects_a_negative_length() -> None:
    payload = bytes(16) + (-4).to_bytes(4, "little", signed=True) + b"abcd"
    with pytest.raises(PlainMessageError, match="message_data_length"):
        decode_plain(payload)


def test_plain_message_error_is_a_loopgram_error() -> None:
    assert issubclass(PlainMessageError, LoopgramError)


def test_encode_rejects_a_msg_id_outside_int64() -> None:
    with pytest.raises(ValueError, match="msg_id"):
        encode_plain(1 << 63, b"")
