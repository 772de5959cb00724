"""The server's RSA key of the MTProto key exchange: fingerprints, PEM, both client paddings.

Spec: core.telegram.org/mtproto/auth_key, step 2 (``server_public_key_fingerprints``: the
64 lower-order bits of ``SHA1(rsa_public_key n:string e:string)``) and step 4.1 (``RSA_PAD``,
MTProto 2.0's encryption of ``p_q_inner_data``). Older clients still use the legacy scheme
``SHA1(data) + data + random``; a server must accept both, so :meth:`RsaPrivateKey.decrypt`
recognises either.

Keys are 2048-bit, as Telegram's are. Key generation and PEM come from ``cryptography``;
the private operation is raw (unpadded) RSA, which ``cryptography`` does not offer, done with
the CRT and :data:`loopgram.crypto.bigint.powmod_secret` (gmpy2 when installed: ~0.7 ms
against ~6 ms in pure Python).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from enum import StrEnum
from hashlib import sha1, sha256
from hmac import compare_digest
from typing import Final, NamedTuple, final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa as crypto_rsa

from loopgram.crypto.aes import get_backend
from loopgram.crypto.bigint import PowMod, powmod_secret
from loopgram.crypto.errors import CryptoError, CryptoValueError, SecurityError

__all__ = [
    "RSA_KEY_BITS",
    "RSA_KEY_BYTES",
    "RSA_PAD_MAX_DATA",
    "RsaPadding",
    "RsaPlaintext",
    "RsaPrivateKey",
    "RsaPublicKey",
    "rsa_fingerprint",
    "tl_serialize_bytes",
]

RSA_KEY_BITS: Final = 2048
RSA_KEY_BYTES: Final = 256
RSA_PAD_MAX_DATA: Final = 144
"""Longest ``data`` RSA_PAD accepts (``p_q_inner_data`` fits)."""

_RSA_PAD_PADDED: Final = 192  # data_with_padding
_TEMP_KEY_SIZE: Final = 32
_ZERO_IV: Final = bytes(32)
_LEGACY_BODY: Final = 255  # SHA1(data) + data + random, "such that the length equals 255"
_MAX_RSA_PAD_ATTEMPTS: Final = 64  # each attempt fails with probability < 1/2

_encrypt_ige: Final = get_backend().unchecked_encrypt_ige
_decrypt_ige: Final = get_backend().unchecked_decrypt_ige


class RsaPadding(StrEnum):
    """How a client wrapped the data it RSA-encrypted."""

    RSA_PAD = "rsa_pad"
    """MTProto 2.0 (auth_key step 4.1): AES-IGE under a temporary key, SHA256-checked."""
    LEGACY = "legacy"
    """``SHA1(data) + data + random`` up to 255 bytes, encrypted as is."""


class RsaPlaintext(NamedTuple):
    """What :meth:`RsaPrivateKey.decrypt` recovered.

    For :attr:`RsaPadding.RSA_PAD`, ``data`` is the 192-byte ``data_with_padding``: the TL
    object followed by the client's random padding (its length is not transmitted; the TL
    reader stops at the object's end). For :attr:`RsaPadding.LEGACY`, the SHA1 prefix pins
    the length, so ``data`` is exactly the TL object.
    """

    padding: RsaPadding
    data: bytes


def _random(random_bytes: Callable[[int], bytes], size: int) -> bytes:
    value = random_bytes(size)
    if len(value) != size:
        raise CryptoValueError(f"random_bytes({size}) returned {len(value)} bytes")
    return value


def _xor32(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a) ^ int.from_bytes(b)).to_bytes(_TEMP_KEY_SIZE)


def _int_to_bytes(value: int) -> bytes:
    """Minimal big-endian bytes: how MTProto sends "large numbers" as strings."""
    return value.to_bytes((value.bit_length() + 7) // 8 or 1)


def tl_serialize_bytes(data: bytes) -> bytes:
    """TL ``bytes``/``string`` serialisation (core.telegram.org/mtproto/serialize).

    A local copy so that crypto does not depend on ``loopgram.tl``: up to 253 bytes, one
    length byte; longer, ``0xfe`` and a 3-byte little-endian length; then zero padding to a
    multiple of 4.
    """
    size = len(data)
    if size <= 253:
        header = bytes((size,))
    elif size < 1 << 24:
        header = b"\xfe" + size.to_bytes(3, "little")
    else:
        raise CryptoValueError(f"TL bytes cannot hold {size} bytes")
    body = header + data
    return body + bytes(-len(body) % 4)


def rsa_fingerprint(n: int, e: int) -> int:
    """Telegram's fingerprint of an RSA public key, as the signed TL ``long`` on the wire.

    fingerprint = the 64 lower-order bits of SHA1(rsa_public_key n:string e:string), that
    is the last 8 bytes of the digest read as a little-endian integer.
    """
    digest = sha1(tl_serialize_bytes(_int_to_bytes(n)) + tl_serialize_bytes(_int_to_bytes(e)))
    return int.from_bytes(digest.digest()[-8:], "little", signed=True)


@final
class RsaPublicKey:
    """A 2048-bit RSA public key as clients know the server's: ``n``, ``e``, fingerprint."""

    __slots__ = ("e", "fingerprint", "n")

    def __init__(self, n: int, e: int) -> None:
        if n.bit_length() != RSA_KEY_BITS:
            raise CryptoValueError(f"RSA modulus must be 2048 bits, got {n.bit_length()}")
        if e < 3 or not e & 1:
            raise CryptoValueError(f"RSA public exponent must be odd and >= 3, got {e}")
        self.n: Final = n
        self.e: Final = e
        self.fingerprint: Final = rsa_fingerprint(n, e)

    def __repr__(self) -> str:
        return f"RsaPublicKey(fingerprint={self.fingerprint & 0xFFFF_FFFF_FFFF_FFFF:#018x})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RsaPublicKey):
            return NotImplemented
        return self.n == other.n and self.e == other.e

    def __hash__(self) -> int:
        return hash((self.n, self.e))

    @classmethod
    def from_pem(cls, pem: str | bytes) -> RsaPublicKey:
        """Load a PKCS#1 (``BEGIN RSA PUBLIC KEY``, as Telegram publishes keys) or
        SubjectPublicKeyInfo (``BEGIN PUBLIC KEY``) PEM."""
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise CryptoValueError(f"not a PEM public key: {exc}") from None
        if not isinstance(key, crypto_rsa.RSAPublicKey):
            raise CryptoValueError(f"PEM holds a {type(key).__name__}, not an RSA public key")
        numbers = key.public_numbers()
        return cls(numbers.n, numbers.e)

    def to_pem(self) -> str:
        """PKCS#1 PEM (``-----BEGIN RSA PUBLIC KEY-----``), the format Telegram publishes."""
        key = crypto_rsa.RSAPublicNumbers(self.e, self.n).public_key()
        return key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ).decode("ascii")

    def encrypt(self, data: bytes, *, random_bytes: Callable[[int], bytes] = os.urandom) -> bytes:
        """Client side: RSA_PAD-encrypt ``data`` (at most 144 bytes) into 256 bytes."""
        if len(data) > RSA_PAD_MAX_DATA:
            raise CryptoValueError(f"RSA_PAD data is at most 144 bytes, got {len(data)}")
        # data_with_padding := data + random_padding_bytes (192 bytes in total)
        data_with_padding = data + _random(random_bytes, _RSA_PAD_PADDED - len(data))
        # data_pad_reversed := BYTE_REVERSE(data_with_padding)
        data_pad_reversed = data_with_padding[::-1]
        for _ in range(_MAX_RSA_PAD_ATTEMPTS):
            temp_key = _random(random_bytes, _TEMP_KEY_SIZE)
            # data_with_hash := data_pad_reversed + SHA256(temp_key + data_with_padding)
            data_with_hash = data_pad_reversed + sha256(temp_key + data_with_padding).digest()
            # aes_encrypted := AES256_IGE(data_with_hash, temp_key, 0)
            aes_encrypted = _encrypt_ige(data_with_hash, temp_key, _ZERO_IV)
            # temp_key_xor := temp_key XOR SHA256(aes_encrypted)
            temp_key_xor = _xor32(temp_key, sha256(aes_encrypted).digest())
            # key_aes_encrypted := temp_key_xor + aes_encrypted
            value = int.from_bytes(temp_key_xor + aes_encrypted)
            # "check that key_aes_encrypted < n as big-endian; if not, draw a new temp_key"
            if value < self.n:
                # encrypted_data := RSA(key_aes_encrypted, server_pubkey)
                return pow(value, self.e, self.n).to_bytes(RSA_KEY_BYTES)
        raise CryptoError("RSA_PAD found no key_aes_encrypted below n; random_bytes is broken")


@final
class RsaPrivateKey:
    """The server's RSA private key, holding the CRT parameters for raw decryption."""

    __slots__ = ("_d", "_dp", "_dq", "_p", "_q", "_qinv", "public_key")

    def __init__(self, p: int, q: int, d: int, e: int) -> None:
        if p == q or p < 3 or q < 3:
            raise CryptoValueError("RSA primes must be distinct and odd")
        self.public_key: Final = RsaPublicKey(p * q, e)
        if d * e % math.lcm(p - 1, q - 1) != 1:
            raise CryptoValueError("RSA private exponent does not invert the public one")
        self._p: Final = p
        self._q: Final = q
        self._d: Final = d
        self._dp: Final = d % (p - 1)
        self._dq: Final = d % (q - 1)
        self._qinv: Final = pow(q, -1, p)

    def __repr__(self) -> str:
        return f"RsaPrivateKey(public_key={self.public_key!r})"

    @classmethod
    def generate(cls, *, public_exponent: int = 65537) -> RsaPrivateKey:
        """A fresh 2048-bit key (OpenSSL's generator through ``cryptography``)."""
        key = crypto_rsa.generate_private_key(public_exponent, RSA_KEY_BITS)
        return cls._from_cryptography(key)

    @classmethod
    def _from_cryptography(cls, key: crypto_rsa.RSAPrivateKey) -> RsaPrivateKey:
        numbers = key.private_numbers()
        return cls(numbers.p, numbers.q, numbers.d, numbers.public_numbers.e)

    @classmethod
    def from_pem(cls, pem: str | bytes, password: bytes | None = None) -> RsaPrivateKey:
        """Load a PKCS#8 (``BEGIN PRIVATE KEY``) or PKCS#1 (``BEGIN RSA PRIVATE KEY``) PEM."""
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_private_key(data, password)
        except (ValueError, TypeError) as exc:
            raise CryptoValueError(f"not a usable PEM private key: {exc}") from None
        if not isinstance(key, crypto_rsa.RSAPrivateKey):
            raise CryptoValueError(f"PEM holds a {type(key).__name__}, not an RSA private key")
        return cls._from_cryptography(key)

    def to_pem(self) -> str:
        """Unencrypted PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``)."""
        p, q, d = self._p, self._q, self._d
        public = crypto_rsa.RSAPublicNumbers(self.public_key.e, self.public_key.n)
        numbers = crypto_rsa.RSAPrivateNumbers(p, q, d, self._dp, self._dq, self._qinv, public)
        return (
            numbers.private_key()
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            .decode("ascii")
        )

    def decrypt_int(self, value: int, *, powmod: PowMod | None = None) -> int:
        """Raw RSA: ``value^d mod n`` through the CRT (``powmod`` overrides the backend)."""
        if not 0 <= value < self.public_key.n:
            raise SecurityError("RSA ciphertext is not below the modulus")
        exp = powmod_secret if powmod is None else powmod
        p, q = self._p, self._q
        # Garner's CRT: m1 = c^dp mod p, m2 = c^dq mod q, h = qinv*(m1 - m2) mod p, m = m2 + h*q
        m1 = exp(value % p, self._dp, p)
        m2 = exp(value % q, self._dq, q)
        return m2 + (self._qinv * (m1 - m2) % p) * q

    def decrypt(self, encrypted_data: bytes, *, powmod: PowMod | None = None) -> RsaPlaintext:
        """Server side: recover the data of ``req_DH_params.encrypted_data``.

        Tries RSA_PAD (its SHA256 check), then the legacy scheme (its SHA1 prefix). Raises
        :class:`SecurityError` when the block is malformed or neither check passes.
        """
        if not 0 < len(encrypted_data) <= RSA_KEY_BYTES:
            raise SecurityError(f"RSA ciphertext of {len(encrypted_data)} bytes")
        block = self.decrypt_int(int.from_bytes(encrypted_data), powmod=powmod).to_bytes(
            RSA_KEY_BYTES
        )
        data = _unwrap_rsa_pad(block)
        if data is not None:
            return RsaPlaintext(RsaPadding.RSA_PAD, data)
        data = _unwrap_legacy(block)
        if data is not None:
            return RsaPlaintext(RsaPadding.LEGACY, data)
        raise SecurityError("RSA payload matches neither RSA_PAD nor the legacy SHA1 scheme")


def _unwrap_rsa_pad(key_aes_encrypted: bytes) -> bytes | None:
    """Undo RSA_PAD; ``None`` when its hash does not verify."""
    # key_aes_encrypted = temp_key_xor (32) + aes_encrypted (224)
    temp_key_xor = key_aes_encrypted[:_TEMP_KEY_SIZE]
    aes_encrypted = key_aes_encrypted[_TEMP_KEY_SIZE:]
    # temp_key = temp_key_xor XOR SHA256(aes_encrypted)
    temp_key = _xor32(temp_key_xor, sha256(aes_encrypted).digest())
    # data_with_hash = AES256_IGE_decrypt(aes_encrypted, temp_key, 0)
    data_with_hash = _decrypt_ige(aes_encrypted, temp_key, _ZERO_IV)
    # data_with_hash = data_pad_reversed (192) + SHA256(temp_key + data_with_padding) (32)
    data_with_padding = data_with_hash[_RSA_PAD_PADDED - 1 :: -1]
    expected = sha256(temp_key + data_with_padding).digest()
    if compare_digest(expected, data_with_hash[_RSA_PAD_PADDED:]):
        return data_with_padding
    return None


def _unwrap_legacy(block: bytes) -> bytes | None:
    """Undo ``SHA1(data) + data + random``; ``None`` when no prefix of the rest hashes right.

    The data length is not transmitted, but data is a TL object, so a multiple of 4 bytes:
    trying each such length costs at most 59 SHA1s of <= 232 bytes, a few percent of the
    RSA operation, and yields the exact data.
    """
    # data_with_hash is 255 bytes, so the 256-byte block starts with a zero byte.
    if block[0]:
        return None
    digest = block[1:21]
    rest = block[21:]
    for size in range(4, _LEGACY_BODY - 20 + 1, 4):
        candidate = rest[:size]
        if sha1(candidate).digest() == digest:
            return candidate
    return None
