"""MTProto 2.0 KDF, auth key and message encryption, cross-checked against Telethon."""

from __future__ import annotations

import logging
import os
import struct
import time
from collections import defaultdict
from hashlib import sha1, sha256
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopgram.crypto import kdf
from loopgram.crypto.aes import portable_encrypt_ige
from loopgram.crypto.errors import CryptoValueError, SecurityError
from loopgram.crypto.message import (
    AuthKey,
    auth_key_id_of,
    check_padding,
    decrypt_message,
    encrypt_message,
    padding_length,
)

from .support import seeded

KEY = bytes(range(256))


def test_auth_key_derived_values() -> None:
    key = AuthKey(KEY)
    digest = sha1(KEY).digest()
    assert key.key_id == digest[-8:]
    assert key.id == struct.unpack("<q", digest[-8:])[0]
    assert key.aux_hash_bytes == digest[:8]
    assert key.aux_hash == struct.unpack("<q", digest[:8])[0]
    assert repr(key) == f"AuthKey(id={key.id:#x})"
    assert KEY.hex() not in repr(key)


def test_auth_key_equality() -> None:
    assert AuthKey(KEY) == AuthKey(bytes(KEY))
    assert AuthKey(KEY) != AuthKey(bytes(256))
    assert hash(AuthKey(KEY)) == hash(AuthKey(KEY))
    assert AuthKey(KEY) != KEY


@pytest.mark.parametrize("size", [0, 255, 257])
def test_auth_key_size(size: int) -> None:
    with pytest.raises(CryptoValueError):
        AuthKey(bytes(size))


def test_auth_key_matches_telethon() -> None:
    authkey = pytest.importorskip("telethon.crypto.authkey")
    raw = os.urandom(256)
    theirs, ours = authkey.AuthKey(raw), AuthKey(raw)
    assert theirs.key_id == ours.id & 0xFFFF_FFFF_FFFF_FFFF
    assert theirs.aux_hash == ours.aux_hash & 0xFFFF_FFFF_FFFF_FFFF
    new_nonce = os.urandom(32)
    for number in (1, 2, 3):
        expected = theirs.calc_new_nonce_hash(
            int.from_bytes(new_nonce, "little", signed=True), number
        )
        assert ours.new_nonce_hash(new_nonce, number) == expected.to_bytes(
            16, "little", signed=True
        )


def test_new_nonce_hash_arguments() -> None:
    with pytest.raises(CryptoValueError):
        kdf.new_nonce_hash(bytes(32), 4, bytes(8))
    with pytest.raises(CryptoValueError):
        kdf.new_nonce_hash(bytes(31), 1, bytes(8))
    with pytest.raises(CryptoValueError):
        kdf.new_nonce_hash(bytes(32), 1, bytes(7))


@pytest.mark.parametrize("x", [0, 8])
def test_message_kdf_matches_telethon(x: int) -> None:
    state = pytest.importorskip("telethon.network.mtprotostate")
    raw, msg_key = os.urandom(256), os.urandom(16)
    expected = state.MTProtoState._calc_key(raw, msg_key, x == 0)
    assert kdf.message_aes_key_iv(raw, msg_key, x) == expected


def test_message_kdf_spells_out_the_spec() -> None:
    # Restating the formulas independently of kdf.py's slicing.
    raw, msg_key, x = os.urandom(256), os.urandom(16), 8
    a = sha256(msg_key + raw[x : x + 36]).digest()
    b = sha256(raw[40 + x : 40 + x + 36] + msg_key).digest()
    key = a[0:8] + b[8 : 8 + 16] + a[24 : 24 + 8]
    iv = b[0:8] + a[8 : 8 + 16] + b[24 : 24 + 8]
    assert kdf.message_aes_key_iv(raw, msg_key, x) == (key, iv)
    data = os.urandom(48)
    assert kdf.message_key(raw, data, x) == sha256(raw[96:128] + data).digest()[8:24]


def test_kdf_argument_checks() -> None:
    with pytest.raises(CryptoValueError):
        kdf.message_key(bytes(255), b"", 0)
    with pytest.raises(CryptoValueError):
        kdf.message_key(bytes(256), b"", 4)
    with pytest.raises(CryptoValueError):
        kdf.message_aes_key_iv(bytes(256), bytes(15), 0)
    with pytest.raises(CryptoValueError):
        kdf.handshake_aes_key_iv(bytes(32), bytes(15))
    with pytest.raises(CryptoValueError):
        kdf.initial_server_salt(bytes(31), bytes(16))


def test_handshake_kdf_matches_telethon() -> None:
    helpers = pytest.importorskip("telethon.helpers")
    new_nonce, server_nonce = os.urandom(32), os.urandom(16)
    expected = helpers.generate_key_data_from_nonce(
        int.from_bytes(server_nonce, "little", signed=True),
        int.from_bytes(new_nonce, "little", signed=True),
    )
    assert kdf.handshake_aes_key_iv(new_nonce, server_nonce) == expected


def test_handshake_kdf_lengths() -> None:
    key, iv = kdf.handshake_aes_key_iv(os.urandom(32), os.urandom(16))
    assert (len(key), len(iv)) == (32, 32)


def test_initial_server_salt() -> None:
    new_nonce = bytes(range(1, 33))
    server_nonce = bytes(range(100, 116))
    salt = bytes(a ^ b for a, b in zip(new_nonce[:8], server_nonce[:8], strict=True))
    assert kdf.initial_server_salt(new_nonce, server_nonce) == struct.unpack("<q", salt)[0]


@pytest.mark.parametrize("size", [0, 4, 20, 32, 33, 100, 1000])
def test_padding_length(size: int) -> None:
    padding = padding_length(size)
    assert 12 <= padding < 28
    assert (size + padding) % 16 == 0


@settings(max_examples=80, deadline=None)
@given(
    plaintext=st.binary(max_size=400),
    x=st.sampled_from([0, 8]),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_round_trip(plaintext: bytes, x: int, seed: int) -> None:
    key = AuthKey(seeded(seed)(256))
    packet = encrypt_message(key, plaintext, x=x, random_bytes=seeded(seed + 1))
    assert packet[:8] == key.key_id
    assert auth_key_id_of(packet) == key.id
    assert (len(packet) - 24) % 16 == 0
    decrypted = decrypt_message(key, packet, x=x)
    assert decrypted[: len(plaintext)] == plaintext
    assert 12 <= len(decrypted) - len(plaintext) <= 27
    # Deterministic given the injected randomness.
    assert packet == encrypt_message(key, plaintext, x=x, random_bytes=seeded(seed + 1))


def test_packet_layout_spells_out_the_spec() -> None:
    key = AuthKey(os.urandom(256))
    plaintext, padding = os.urandom(64), os.urandom(16)
    packet = encrypt_message(key, plaintext, x=0, padding=padding)
    msg_key = sha256(key.key[88:120] + plaintext + padding).digest()[8:24]
    assert packet[8:24] == msg_key
    aes_key, aes_iv = kdf.message_aes_key_iv(key.key, msg_key, 0)
    assert packet[24:] == portable_encrypt_ige(plaintext + padding, aes_key, aes_iv)


def test_explicit_padding_up_to_1024() -> None:
    key = AuthKey(KEY)
    padding = os.urandom(1024)
    packet = encrypt_message(key, bytes(16), x=8, padding=padding)
    assert decrypt_message(key, packet, x=8) == bytes(16) + padding


@pytest.mark.parametrize(("plain", "pad"), [(16, 0), (20, 12 - 8), (4, 28 + 1), (16, 1040)])
def test_bad_padding_is_refused(plain: int, pad: int) -> None:
    with pytest.raises(CryptoValueError):
        encrypt_message(AuthKey(KEY), bytes(plain), x=0, padding=bytes(pad))


def test_random_bytes_is_used_for_padding() -> None:
    calls: list[int] = []

    def random_bytes(size: int) -> bytes:
        calls.append(size)
        return b"\xaa" * size

    key = AuthKey(KEY)
    packet = encrypt_message(key, bytes(36), x=0, random_bytes=random_bytes)
    assert calls == [12]
    assert decrypt_message(key, packet, x=0) == bytes(36) + b"\xaa" * 12


def test_bad_x() -> None:
    key = AuthKey(KEY)
    with pytest.raises(CryptoValueError):
        encrypt_message(key, bytes(4), x=1)
    packet = encrypt_message(key, bytes(4), x=0)
    with pytest.raises(CryptoValueError):
        decrypt_message(key, packet, x=4)


def test_wrong_direction_is_detected() -> None:
    key = AuthKey(KEY)
    packet = encrypt_message(key, bytes(40), x=0)
    with pytest.raises(SecurityError, match="msg_key"):
        decrypt_message(key, packet, x=8)


def test_wrong_key_is_detected() -> None:
    packet = encrypt_message(AuthKey(KEY), bytes(40), x=0)
    with pytest.raises(SecurityError, match="auth_key_id"):
        decrypt_message(AuthKey(bytes(256)), packet, x=0)


def test_every_flipped_bit_is_detected() -> None:
    key = AuthKey(KEY)
    packet = encrypt_message(key, os.urandom(40), x=0)
    for index in range(len(packet)):
        for bit in (0x01, 0x80):
            tampered = bytearray(packet)
            tampered[index] ^= bit
            with pytest.raises(SecurityError):
                decrypt_message(key, bytes(tampered), x=0)


@pytest.mark.parametrize("size", [0, 8, 24, 39, 41, 55, 63])
def test_malformed_packet_sizes(size: int) -> None:
    key = AuthKey(KEY)
    packet = (key.key_id + bytes(size))[:size]
    with pytest.raises(SecurityError):
        decrypt_message(key, packet, x=0)


def test_auth_key_id_of_short_packet() -> None:
    with pytest.raises(SecurityError):
        auth_key_id_of(bytes(7))
    assert auth_key_id_of(bytes(8)) == 0


@pytest.mark.parametrize(
    ("total", "data_length", "ok"),
    [
        (64, 20, True),  # 12 bytes of padding
        (64, 16, True),
        (64, 24, False),  # 8 bytes of padding
        (64, 18, False),  # not a multiple of 4
        (64, -4, False),
        (32 + 4 + 1024, 4, True),
        (32 + 4 + 1028, 4, False),
    ],
)
def test_check_padding(total: int, data_length: int, ok: bool) -> None:
    if ok:
        check_padding(total, data_length)
    else:
        with pytest.raises(SecurityError):
            check_padding(total, data_length)


def _telethon_state(raw: bytes) -> Any:
    state_module = pytest.importorskip("telethon.network.mtprotostate")
    authkey = pytest.importorskip("telethon.crypto.authkey")
    loggers: defaultdict[str, logging.Logger] = defaultdict(lambda: logging.getLogger("t"))
    return state_module.MTProtoState(authkey.AuthKey(raw), loggers)


def test_telethon_client_message_decrypts_on_our_server() -> None:
    raw = os.urandom(256)
    state = _telethon_state(raw)
    body = os.urandom(52)
    packet = state.encrypt_message_data(body)
    plaintext = decrypt_message(AuthKey(raw), packet, x=kdf.CLIENT_TO_SERVER)
    _salt, session_id = struct.unpack("<qq", plaintext[:16])
    assert session_id == state.id
    assert plaintext[16 : 16 + len(body)] == body


def test_our_server_message_decrypts_in_telethon() -> None:
    raw = os.urandom(256)
    state = _telethon_state(raw)
    msg_id = (int(time.time()) << 32) | 1  # server ids are odd
    pong = struct.pack("<Iqq", 0x347773C5, 1234, 5678)  # pong msg_id:long ping_id:long
    plaintext = struct.pack("<qq", 0, state.id) + struct.pack("<qii", msg_id, 1, len(pong)) + pong
    packet = encrypt_message(AuthKey(raw), plaintext, x=kdf.SERVER_TO_CLIENT)
    message = state.decrypt_message_data(packet)
    assert message.msg_id == msg_id
    assert (message.obj.msg_id, message.obj.ping_id) == (1234, 5678)
