"""Server RSA key: fingerprint, PEM, RSA_PAD and legacy paddings."""

from __future__ import annotations

import os
from hashlib import sha1, sha256

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa as crypto_rsa

from loopgram.crypto import bigint
from loopgram.crypto.aes import portable_decrypt_ige, portable_encrypt_ige
from loopgram.crypto.errors import CryptoValueError, SecurityError
from loopgram.crypto.rsa import (
    RsaPadding,
    RsaPrivateKey,
    RsaPublicKey,
    rsa_fingerprint,
    tl_serialize_bytes,
)

from .support import seeded

# Telegram's production server key as Telegram publishes it; its fingerprint is published
# as D09D1D85DE64FD85 and appears on the wire in resPQ as 85 FD 64 DE 85 1D 9D D0.
TELEGRAM_PEM = """-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEA6LszBcC1LGzyr992NzE0ieY+BSaOW622Aa9Bd4ZHLl+TuFQ4lo4g
5nKaMBwK/BIb9xUfg0Q29/2mgIR6Zr9krM7HjuIcCzFvDtr+L0GQjae9H0pRB2OO
62cECs5HKhT5DZ98K33vmWiLowc621dQuwKWSQKjWf50XYFw42h21P2KXUGyp2y/
+aEyZ+uVgLLQbRA1dEjSDZ2iGRy12Mk5gpYc397aYp438fsJoHIgJ2lgMv5h7WY9
t6N/byY9Nw9p21Og3AoXSL2q/2IJ1WRUhebgAdGVMlV1fkuOQoEzR7EdpqtQD9Cs
5+bfo3Nhmcyvk5ftB0WkJ9z6bNZ7yxrP8wIDAQAB
-----END RSA PUBLIC KEY-----
"""
TELEGRAM_FINGERPRINT = 0xD09D1D85DE64FD85


@pytest.fixture(scope="module")
def private_key() -> RsaPrivateKey:
    return RsaPrivateKey.generate()


def _cryptography_key(private_key: RsaPrivateKey) -> crypto_rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(private_key.to_pem().encode(), None)
    assert isinstance(key, crypto_rsa.RSAPrivateKey)
    return key


def test_telegram_fingerprint() -> None:
    key = RsaPublicKey.from_pem(TELEGRAM_PEM)
    assert key.e == 65537
    assert key.fingerprint == TELEGRAM_FINGERPRINT - (1 << 64)  # a signed TL long
    assert key.fingerprint.to_bytes(8, "little", signed=True).hex(" ").upper() == (
        "85 FD 64 DE 85 1D 9D D0"
    )
    assert repr(key) == "RsaPublicKey(fingerprint=0xd09d1d85de64fd85)"


def test_fingerprints_match_telethon_for_its_bundled_keys() -> None:
    telethon_rsa = pytest.importorskip("telethon.crypto.rsa")
    assert telethon_rsa._server_keys
    for fingerprint, (key, _old) in telethon_rsa._server_keys.items():
        assert rsa_fingerprint(key.n, key.e) == fingerprint
        assert RsaPublicKey(key.n, key.e).fingerprint == fingerprint


@pytest.mark.parametrize(
    ("size", "header", "total"),
    [(0, b"\x00", 4), (1, b"\x01", 4), (3, b"\x03", 4), (4, b"\x04", 8), (253, b"\xfd", 256)],
)
def test_tl_bytes_short(size: int, header: bytes, total: int) -> None:
    data = bytes(range(size))
    encoded = tl_serialize_bytes(data)
    assert encoded[:1] == header
    assert encoded[1 : 1 + size] == data
    assert len(encoded) == total
    assert encoded[1 + size :] == bytes(total - 1 - size)


@pytest.mark.parametrize(("size", "total"), [(254, 260), (256, 260), (257, 264), (1000, 1004)])
def test_tl_bytes_long(size: int, total: int) -> None:
    data = os.urandom(size)
    encoded = tl_serialize_bytes(data)
    assert encoded[:4] == b"\xfe" + size.to_bytes(3, "little")
    assert encoded[4 : 4 + size] == data
    assert len(encoded) == total


def test_pem_round_trips(private_key: RsaPrivateKey) -> None:
    public = private_key.public_key
    pem = public.to_pem()
    assert pem.startswith("-----BEGIN RSA PUBLIC KEY-----")
    assert RsaPublicKey.from_pem(pem) == public
    assert RsaPublicKey.from_pem(pem.encode()) == public
    spki = (
        crypto_rsa.RSAPublicNumbers(public.e, public.n)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert spki.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert RsaPublicKey.from_pem(spki) == public
    assert hash(RsaPublicKey.from_pem(spki)) == hash(public)
    private_pem = private_key.to_pem()
    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert RsaPrivateKey.from_pem(private_pem).public_key == public


def test_telegram_pem_round_trips_byte_for_byte() -> None:
    assert RsaPublicKey.from_pem(TELEGRAM_PEM).to_pem() == TELEGRAM_PEM


def test_pkcs1_private_pem_is_accepted(private_key: RsaPrivateKey) -> None:
    pkcs1 = _cryptography_key(private_key).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert pkcs1.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert RsaPrivateKey.from_pem(pkcs1).public_key == private_key.public_key


def test_bad_pems() -> None:
    with pytest.raises(CryptoValueError):
        RsaPublicKey.from_pem("not a pem")
    with pytest.raises(CryptoValueError):
        RsaPrivateKey.from_pem("not a pem")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_public = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(CryptoValueError, match="not an RSA"):
        RsaPublicKey.from_pem(ec_public)
    ec_private = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(CryptoValueError, match="not an RSA"):
        RsaPrivateKey.from_pem(ec_private)


def test_key_validation(private_key: RsaPrivateKey) -> None:
    with pytest.raises(CryptoValueError):
        RsaPublicKey((1 << 2047) + 1, 65537 - 1)
    with pytest.raises(CryptoValueError):
        RsaPublicKey((1 << 2046) + 1, 65537)
    numbers = _cryptography_key(private_key).private_numbers()
    with pytest.raises(CryptoValueError):
        RsaPrivateKey(numbers.p, numbers.q, numbers.d + 2, numbers.public_numbers.e)
    with pytest.raises(CryptoValueError):
        RsaPrivateKey(numbers.p, numbers.p, numbers.d, numbers.public_numbers.e)


@pytest.mark.parametrize("size", [0, 1, 96, 144])
def test_rsa_pad_round_trip(private_key: RsaPrivateKey, size: int) -> None:
    data = os.urandom(size)
    encrypted = private_key.public_key.encrypt(data)
    assert len(encrypted) == 256
    result = private_key.decrypt(encrypted)
    assert result.padding is RsaPadding.RSA_PAD
    assert len(result.data) == 192
    assert result.data[:size] == data


def test_rsa_pad_is_deterministic_given_the_randomness(private_key: RsaPrivateKey) -> None:
    public = private_key.public_key
    data = os.urandom(100)
    assert public.encrypt(data, random_bytes=seeded(7)) == public.encrypt(
        data, random_bytes=seeded(7)
    )
    assert public.encrypt(data, random_bytes=seeded(7)) != public.encrypt(
        data, random_bytes=seeded(8)
    )


def test_rsa_pad_spelled_out(private_key: RsaPrivateKey) -> None:
    """Undo RSA_PAD step by step from auth_key 4.1, independently of rsa.py's helpers."""
    public = private_key.public_key
    data = os.urandom(120)
    draws: list[bytes] = []

    def recording(size: int) -> bytes:
        draws.append(os.urandom(size))
        return draws[-1]

    encrypted = public.encrypt(data, random_bytes=recording)
    padding, temp_key = draws[0], draws[-1]
    data_with_padding = data + padding
    assert len(data_with_padding) == 192
    key_aes_encrypted = private_key.decrypt_int(int.from_bytes(encrypted)).to_bytes(256)
    temp_key_xor, aes_encrypted = key_aes_encrypted[:32], key_aes_encrypted[32:]
    hashed = sha256(aes_encrypted).digest()
    assert bytes(a ^ b for a, b in zip(temp_key_xor, hashed, strict=True)) == temp_key
    data_with_hash = portable_decrypt_ige(aes_encrypted, temp_key, bytes(32))
    assert data_with_hash[:192] == data_with_padding[::-1]
    assert data_with_hash[192:] == sha256(temp_key + data_with_padding).digest()
    assert pow(int.from_bytes(key_aes_encrypted), public.e, public.n) == int.from_bytes(encrypted)


def _key_aes_encrypted(data_with_padding: bytes, temp_key: bytes) -> int:
    data_with_hash = data_with_padding[::-1] + sha256(temp_key + data_with_padding).digest()
    aes_encrypted = portable_encrypt_ige(data_with_hash, temp_key, bytes(32))
    hashed = sha256(aes_encrypted).digest()
    temp_key_xor = bytes(a ^ b for a, b in zip(temp_key, hashed, strict=True))
    return int.from_bytes(temp_key_xor + aes_encrypted)


def test_rsa_pad_retries_when_above_the_modulus(private_key: RsaPrivateKey) -> None:
    public = private_key.public_key
    data, padding = os.urandom(16), os.urandom(176)
    rng = seeded(3)
    bad_key = rng(32)
    while _key_aes_encrypted(data + padding, bad_key) < public.n:
        bad_key = rng(32)
    good_key = rng(32)
    while _key_aes_encrypted(data + padding, good_key) >= public.n:
        good_key = rng(32)
    draws = iter([padding, bad_key, good_key])
    encrypted = public.encrypt(data, random_bytes=lambda size: next(draws))
    assert next(draws, None) is None  # all three were drawn
    expected = pow(_key_aes_encrypted(data + padding, good_key), public.e, public.n)
    assert encrypted == expected.to_bytes(256)
    assert private_key.decrypt(encrypted).data == data + padding


def test_rsa_pad_too_long(private_key: RsaPrivateKey) -> None:
    with pytest.raises(CryptoValueError):
        private_key.public_key.encrypt(bytes(145))


def test_rsa_pad_short_random_is_refused(private_key: RsaPrivateKey) -> None:
    with pytest.raises(CryptoValueError):
        private_key.public_key.encrypt(bytes(16), random_bytes=lambda size: bytes(size - 1))


def _legacy_encrypt(public: RsaPublicKey, data: bytes) -> bytes:
    # data_with_hash := SHA1(data) + data + (any random bytes); such that the length equals 255
    data_with_hash = sha1(data).digest() + data + os.urandom(255 - 20 - len(data))
    return pow(int.from_bytes(data_with_hash), public.e, public.n).to_bytes(256)


@pytest.mark.parametrize("size", [4, 96, 100, 232])
def test_legacy_round_trip(private_key: RsaPrivateKey, size: int) -> None:
    data = os.urandom(size)
    result = private_key.decrypt(_legacy_encrypt(private_key.public_key, data))
    assert result.padding is RsaPadding.LEGACY
    assert result.data == data


def test_telethon_legacy_encryption_decrypts(
    private_key: RsaPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    telethon_rsa = pytest.importorskip("telethon.crypto.rsa")
    monkeypatch.setattr(telethon_rsa, "_server_keys", {})
    telethon_rsa.add_key(private_key.public_key.to_pem(), old=False)
    assert list(telethon_rsa._server_keys) == [private_key.public_key.fingerprint]
    data = os.urandom(96)  # the size of a p_q_inner_data_dc
    encrypted = telethon_rsa.encrypt(private_key.public_key.fingerprint, data)
    result = private_key.decrypt(encrypted)
    assert result.padding is RsaPadding.LEGACY
    assert result.data == data


def test_garbage_is_a_security_error(private_key: RsaPrivateKey) -> None:
    n = private_key.public_key.n
    for _ in range(20):
        garbage = (int.from_bytes(os.urandom(256)) % n).to_bytes(256)
        with pytest.raises(SecurityError):
            private_key.decrypt(garbage)


def test_tampered_ciphertexts_fail(private_key: RsaPrivateKey) -> None:
    public = private_key.public_key
    for encrypted in (public.encrypt(os.urandom(100)), _legacy_encrypt(public, os.urandom(100))):
        tampered = bytearray(encrypted)
        tampered[100] ^= 1
        with pytest.raises(SecurityError):
            private_key.decrypt(bytes(tampered))


def test_ciphertext_range(private_key: RsaPrivateKey) -> None:
    n = private_key.public_key.n
    with pytest.raises(SecurityError):
        private_key.decrypt(n.to_bytes(256))
    with pytest.raises(SecurityError):
        private_key.decrypt(b"")
    with pytest.raises(SecurityError):
        private_key.decrypt(bytes(257))


def test_raw_rsa_backends_agree(private_key: RsaPrivateKey) -> None:
    public = private_key.public_key
    message = int.from_bytes(os.urandom(255))
    cipher = pow(message, public.e, public.n)
    for name in bigint.available_powmods():
        for secret in (False, True):
            powmod = bigint.get_powmod(name, secret=secret)
            assert private_key.decrypt_int(cipher, powmod=powmod) == message


def test_short_ciphertext_is_left_padded(private_key: RsaPrivateKey) -> None:
    public = private_key.public_key
    # A ciphertext with leading zero bytes may arrive stripped of them.
    for _ in range(10_000):
        data = os.urandom(100)
        encrypted = public.encrypt(data)
        if encrypted[0] == 0:
            break
    assert encrypted[0] == 0
    assert private_key.decrypt(encrypted[1:]).data[:100] == data
