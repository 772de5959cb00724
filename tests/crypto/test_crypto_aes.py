"""AES-256-IGE backends and AES-256-CTR."""

from __future__ import annotations

import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from loopgram.crypto import aes
from loopgram.crypto.aes import (
    AesBackend,
    AesCtr,
    available_backends,
    get_backend,
    portable_decrypt_ige,
    portable_encrypt_ige,
)
from loopgram.crypto.errors import CryptoError, CryptoValueError

from .support import seeded

BACKENDS = available_backends()
SRC = Path(__file__).resolve().parents[2] / "src"

# The AES-128 IGE vectors published with OpenSSL's IGE implementation (test/igetest.c,
# after Ben Laurie's IGE write-up). Telegram only uses AES-256, so they exercise the
# portable implementation, which takes any AES key size.
OPENSSL_IGE_VECTORS = [
    (
        "000102030405060708090a0b0c0d0e0f",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "1a8519a6557be652e9da8e43da4ef4453cf456b4ca488aa383c79c98b34797cb",
    ),
    (
        "5468697320697320616e20696d706c65",  # "This is an imple"
        "6d656e746174696f6e206f6620494745206d6f646520666f72204f70656e5353",
        "99706487a1cde613bc6de0b6f24b1c7aa448c8b9c3403e3467a8cad89340f53b",
        "4c2e204c6574277320686f70652042656e20676f74206974207269676874210a",
    ),
]

# FIPS-197 appendix C.3, AES-256 single block.
FIPS_KEY = bytes(range(32))
FIPS_PLAIN = bytes.fromhex("00112233445566778899aabbccddeeff")
FIPS_CIPHER = bytes.fromhex("8ea2b7ca516745bfeafc49904b496089")


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def fips_derived_ige_vector() -> tuple[bytes, bytes, bytes]:
    """A two-block AES-256-IGE vector whose every AES call is the FIPS-197 block.

    IGE: c_i = E(m_i ^ c_{i-1}) ^ m_{i-1} with iv = c_0 + m_0. Choosing m_i = P ^ c_{i-1}
    makes each E input the FIPS plaintext P, so c_i = C ^ m_{i-1} with C the FIPS cipher.
    """
    c0, m0 = bytes(range(100, 116)), bytes(range(200, 216))
    m1 = xor(FIPS_PLAIN, c0)
    c1 = xor(FIPS_CIPHER, m0)
    m2 = xor(FIPS_PLAIN, c1)
    c2 = xor(FIPS_CIPHER, m1)
    return c0 + m0, m1 + m2, c1 + c2


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> AesBackend:
    return get_backend(request.param)


def test_all_three_backends_are_installed_here() -> None:
    # The test extra installs cryptg and tgcrypto; without them the suite would silently
    # lose coverage of two backends.
    assert BACKENDS == ("cryptg", "tgcrypto", "cryptography")


@pytest.mark.parametrize(("key", "iv", "plain", "cipher"), OPENSSL_IGE_VECTORS)
def test_portable_ige_matches_openssl_published_vectors(
    key: str, iv: str, plain: str, cipher: str
) -> None:
    args = bytes.fromhex(key), bytes.fromhex(iv)
    assert portable_encrypt_ige(bytes.fromhex(plain), *args).hex() == cipher
    assert portable_decrypt_ige(bytes.fromhex(cipher), *args).hex() == plain


def test_fips_derived_vector(backend: AesBackend) -> None:
    iv, plain, cipher = fips_derived_ige_vector()
    assert backend.encrypt_ige(plain, FIPS_KEY, iv) == cipher
    assert backend.decrypt_ige(cipher, FIPS_KEY, iv) == plain


def test_zero_iv_single_block_is_plain_aes(backend: AesBackend) -> None:
    assert backend.encrypt_ige(FIPS_PLAIN, FIPS_KEY, bytes(32)) == FIPS_CIPHER


@settings(max_examples=60, deadline=None)
@given(
    blocks=st.integers(min_value=0, max_value=80),
    key=st.binary(min_size=32, max_size=32),
    iv=st.binary(min_size=32, max_size=32),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backends_agree_and_round_trip(blocks: int, key: bytes, iv: bytes, seed: int) -> None:
    plain = seeded(seed)(16 * blocks) if seed % 2 else bytes(16 * blocks)
    reference = get_backend(BACKENDS[0]).encrypt_ige(plain, key, iv)
    for name in BACKENDS:
        chosen = get_backend(name)
        assert chosen.encrypt_ige(plain, key, iv) == reference, name
        assert chosen.decrypt_ige(reference, key, iv) == plain, name
    assert aes.encrypt_ige(plain, key, iv) == reference
    assert aes.decrypt_ige(reference, key, iv) == plain


def test_large_round_trip(backend: AesBackend) -> None:
    key, iv, plain = os.urandom(32), os.urandom(32), os.urandom(1 << 16)
    cipher = backend.encrypt_ige(plain, key, iv)
    assert cipher == portable_encrypt_ige(plain, key, iv)
    assert backend.decrypt_ige(cipher, key, iv) == plain


def test_empty_data_gives_empty_output(backend: AesBackend) -> None:
    assert backend.encrypt_ige(b"", bytes(32), bytes(32)) == b""
    assert backend.decrypt_ige(b"", bytes(32), bytes(32)) == b""


@pytest.mark.parametrize(
    ("size", "key_size", "iv_size"),
    [(15, 32, 32), (17, 32, 32), (1, 32, 32), (32, 16, 32), (32, 31, 32), (32, 32, 16)],
)
def test_bad_lengths_raise(backend: AesBackend, size: int, key_size: int, iv_size: int) -> None:
    args = (bytes(size), bytes(key_size), bytes(iv_size))
    for function in (backend.encrypt_ige, backend.decrypt_ige, aes.encrypt_ige, aes.decrypt_ige):
        with pytest.raises(CryptoValueError):
            function(*args)


def test_bad_length_error_is_a_value_error_and_a_loopgram_error() -> None:
    with pytest.raises(ValueError):
        aes.encrypt_ige(bytes(15), bytes(32), bytes(32))
    with pytest.raises(CryptoError):
        aes.encrypt_ige(bytes(15), bytes(32), bytes(32))


def test_empty_data_still_checks_key_and_iv() -> None:
    with pytest.raises(CryptoValueError):
        aes.encrypt_ige(b"", bytes(16), bytes(32))


def test_get_backend() -> None:
    forced = os.environ.get(aes.BACKEND_ENV_VAR)
    assert get_backend() is get_backend(forced or BACKENDS[0])
    assert get_backend("tgcrypto").name == "tgcrypto"
    assert repr(get_backend("cryptg")) == "AesBackend('cryptg')"
    with pytest.raises(CryptoValueError, match="unknown"):
        get_backend("openssl")


def _import_in_subprocess(env_value: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), aes.BACKEND_ENV_VAR: env_value}
    code = "from loopgram.crypto import aes; print(aes.get_backend().name)"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("name", BACKENDS)
def test_env_var_forces_the_default_backend(name: str) -> None:
    result = _import_in_subprocess(name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == name


def test_env_var_with_unknown_backend_fails_loudly() -> None:
    result = _import_in_subprocess("nope")
    assert result.returncode != 0
    assert "unknown AES backend 'nope'" in result.stderr


# NIST SP 800-38A, F.5.5 CTR-AES256.Encrypt.
NIST_CTR_KEY = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
NIST_CTR_IV = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
NIST_CTR_PLAIN = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)
NIST_CTR_CIPHER = bytes.fromhex(
    "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
    "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6"
)


def test_ctr_nist_vector() -> None:
    assert AesCtr(NIST_CTR_KEY, NIST_CTR_IV).encrypt(NIST_CTR_PLAIN) == NIST_CTR_CIPHER
    assert AesCtr(NIST_CTR_KEY, NIST_CTR_IV).decrypt(NIST_CTR_CIPHER) == NIST_CTR_PLAIN


@settings(max_examples=50, deadline=None)
@given(
    data=st.binary(max_size=600),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=8),
)
def test_ctr_keystream_continues_across_calls(data: bytes, cuts: list[int]) -> None:
    key, iv = bytes(range(32)), bytes(range(16))
    whole = AesCtr(key, iv).encrypt(data)
    stream = AesCtr(key, iv)
    bounds = [0, *sorted(min(cut, len(data)) for cut in cuts), len(data)]
    pieces = [stream.encrypt(data[a:b]) for a, b in pairwise(bounds)]
    assert b"".join(pieces) == whole


def test_ctr_matches_tgcrypto_and_wraps_the_whole_128_bit_counter() -> None:
    tgcrypto = pytest.importorskip("tgcrypto")
    key = os.urandom(32)
    iv = b"\xff" * 16  # the next counter block wraps to all zeros
    data = os.urandom(100)
    stream = AesCtr(key, iv)
    ours = stream.encrypt(data[:7]) + stream.encrypt(memoryview(data)[7:])
    # tgcrypto writes the advanced counter back into its IV argument: give it a copy.
    assert tgcrypto.ctr256_encrypt(data, key, bytearray(iv), bytearray(1)) == ours
    # Keystream = E(ff..ff), E(00..00), E(00..01), ...: the counter is one 128-bit integer.
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    counters = b"\xff" * 16 + b"".join(i.to_bytes(16) for i in range(6))
    assert ours == xor(data, ecb.update(counters)[: len(data)])


def test_ctr_matches_telethon() -> None:
    aesctr = pytest.importorskip("telethon.crypto.aesctr")
    key, iv, data = os.urandom(32), os.urandom(16), os.urandom(333)
    assert AesCtr(key, iv).encrypt(data) == aesctr.AESModeCTR(key, iv).encrypt(data)


@pytest.mark.parametrize(("key_size", "iv_size"), [(16, 16), (32, 32), (32, 8)])
def test_ctr_bad_lengths(key_size: int, iv_size: int) -> None:
    with pytest.raises(CryptoValueError):
        AesCtr(bytes(key_size), bytes(iv_size))
