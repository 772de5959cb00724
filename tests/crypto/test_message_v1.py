"""MTProto 1.0 message encryption, kept for the ``encrypted_message`` of
``auth.bindTempAuthKey`` (SHA1 ``msg_key`` over the unpadded message, SHA1 KDF)."""

from __future__ import annotations

import struct
from hashlib import sha1

import pytest

from loopgram.clock import seeded_random
from loopgram.crypto import (
    AuthKey,
    CryptoValueError,
    SecurityError,
    decrypt_message,
    decrypt_message_v1,
    encrypt_message_v1,
)

KEY = AuthKey(seeded_random(1)(256))


def message(body_size: int) -> bytes:
    random = seeded_random(2)
    return random(16) + struct.pack("<qii", 1 << 62, 0, body_size) + random(body_size)


@pytest.mark.parametrize("x", [0, 8])
@pytest.mark.parametrize("body_size", [0, 4, 40, 44, 100])
def test_v1_round_trips_with_0_to_15_bytes_of_padding(x: int, body_size: int) -> None:
    plaintext = message(body_size)
    packet = encrypt_message_v1(KEY, plaintext, x=x, random_bytes=seeded_random(3))
    assert packet[:8] == KEY.key_id
    # msg_key = the 128 lower-order bits of SHA1 of the unpadded message
    assert packet[8:24] == sha1(plaintext).digest()[4:20]
    assert len(packet) - 24 == len(plaintext) + (-len(plaintext) & 15)
    assert decrypt_message_v1(KEY, packet, x=x) == plaintext


def test_v1_directions_and_versions_do_not_mix() -> None:
    packet = encrypt_message_v1(KEY, message(40), x=0, random_bytes=seeded_random(3))
    with pytest.raises(SecurityError):
        decrypt_message_v1(KEY, packet, x=8)
    with pytest.raises(SecurityError):
        decrypt_message(KEY, packet, x=0)  # MTProto 2.0 does not accept it


def test_v1_refuses_tampering_another_key_and_bad_lengths() -> None:
    packet = encrypt_message_v1(KEY, message(40), x=0, random_bytes=seeded_random(3))
    for i in (8, 30, len(packet) - 1):
        tampered = bytearray(packet)
        tampered[i] ^= 0x40
        with pytest.raises(SecurityError):
            decrypt_message_v1(KEY, bytes(tampered), x=0)
    with pytest.raises(SecurityError):
        decrypt_message_v1(AuthKey(seeded_random(9)(256)), packet, x=0)
    with pytest.raises(SecurityError):
        decrypt_message_v1(KEY, packet[:-1], x=0)
    # A header length that claims more than the data holds.
    lying = message(40)[:28] + struct.pack("<i", 400) + message(40)[32:]
    with pytest.raises(SecurityError, match="length"):
        decrypt_message_v1(
            KEY, encrypt_message_v1(KEY, lying, x=0, random_bytes=seeded_random(3)), x=0
        )
    with pytest.raises(CryptoValueError):
        encrypt_message_v1(KEY, message(40) + b"x", x=0)
    with pytest.raises(CryptoValueError):
        encrypt_message_v1(KEY, message(40), x=4)
