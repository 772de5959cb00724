"""AES-256-IGE and AES-256-CTR, the symmetric ciphers of MTProto 2.0.

Spec: core.telegram.org/mtproto/description ("Defining AES Key and Initialization Vector":
every encrypted message is AES-256 in IGE mode with a 256-bit key and a 256-bit IV) and
core.telegram.org/mtproto/mtproto-transports ("Transport obfuscation": obfuscated2 is
AES-256-CTR with a 256-bit key and a 128-bit IV, one keystream per direction).

IGE comes from one of three backends, chosen once at import. Measured with
``bench/crypto_bench.py`` on the reference VM (64 KiB, encrypt / decrypt):

* ``cryptg`` -- ``cryptg.encrypt_ige`` (Rust): ~540 / ~600 MB/s;
* ``tgcrypto`` -- ``tgcrypto.ige256_encrypt`` (C): ~210 / ~210 MB/s;
* ``cryptography`` -- OpenSSL's AES through ``cryptography``: ~110-210 / ~30 MB/s.

The default is the first available in that order; ``LOOPGRAM_AES_BACKEND=<name>`` forces one
(an unknown or missing name is an error at import, so a typo is not silently ignored), and
:func:`get_backend` returns any available backend by name. The ``cryptography`` backend is
the portable fallback: ``cryptography`` offers no IGE mode, so IGE is rebuilt from OpenSSL's
AES primitives (see :func:`portable_encrypt_ige` for how).

Every backend sees the same argument checks, so they behave identically: a key and an IV of
exactly 32 bytes, data a whole number of 16-byte blocks (cryptg would silently drop a partial
trailing block, tgcrypto rejects empty data; here empty data gives empty output).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final, final

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from loopgram.crypto._optional import load
from loopgram.crypto.errors import CryptoValueError

__all__ = [
    "BACKEND_ENV_VAR",
    "BACKEND_PREFERENCE",
    "AesBackend",
    "AesCtr",
    "IgeFunction",
    "available_backends",
    "decrypt_ige",
    "encrypt_ige",
    "get_backend",
    "portable_decrypt_ige",
    "portable_encrypt_ige",
]

IgeFunction = Callable[[bytes, bytes, bytes], bytes]
"""``(data, key, iv) -> bytes``, the shape shared by every IGE backend."""

BACKEND_PREFERENCE: Final = ("cryptg", "tgcrypto", "cryptography")
"""Backend names, fastest first (order measured, see the module docstring)."""

BACKEND_ENV_VAR: Final = "LOOPGRAM_AES_BACKEND"

_BLOCK: Final = 16
_KEY_SIZE: Final = 32
_IGE_IV_SIZE: Final = 32
_CTR_IV_SIZE: Final = 16


def _length_error(data: bytes, key: bytes, iv: bytes, key_sizes: tuple[int, ...]) -> None:
    """Raise the precise error for bad IGE arguments; return if they are acceptable."""
    if len(key) not in key_sizes:
        raise CryptoValueError(f"AES-IGE key must be {key_sizes} bytes, got {len(key)}")
    if len(iv) != _IGE_IV_SIZE:
        raise CryptoValueError(f"AES-IGE IV must be {_IGE_IV_SIZE} bytes, got {len(iv)}")
    if len(data) % _BLOCK:
        raise CryptoValueError(f"AES-IGE data must be a multiple of 16 bytes, got {len(data)}")


def portable_encrypt_ige(data: bytes, key: bytes, iv: bytes) -> bytes:
    """AES-IGE encryption built on ``cryptography`` alone; any AES key size (16, 24, 32).

    The IV is Telegram's: ``iv = c_0 + m_0`` (previous ciphertext block, then previous
    plaintext block). Rather than one OpenSSL call per block, IGE encryption is rewritten as a
    single CBC pass (derivation in the comments), which makes it ~5x faster than a block loop.
    """
    _length_error(data, key, iv, (16, 24, 32))
    n = len(data)
    if not n:
        return b""
    # IGE: c_i = E(m_i ^ c_{i-1}) ^ m_{i-1}. Name y_i = E(m_i ^ c_{i-1}), so c_i = y_i ^ m_{i-1}.
    # Then c_{i-1} = y_{i-1} ^ m_{i-2}, so y_i = E((m_i ^ m_{i-2}) ^ y_{i-1}): this is CBC over
    # the blocks m_i ^ m_{i-2} with IV y_0 = c_0 (taking m_{-1} = 0, which makes y_0 = c_0).
    prev_plain = iv[16:] + data[:-16]  # m_{i-1} for i = 1..k
    prev2_plain = bytes(16) + prev_plain[:-16]  # m_{i-2}
    # XOR whole buffers as big integers: one C-level operation instead of a per-block loop.
    cbc_input = (int.from_bytes(data) ^ int.from_bytes(prev2_plain)).to_bytes(n)
    y = Cipher(algorithms.AES(key), modes.CBC(iv[:16])).encryptor().update(cbc_input)
    return (int.from_bytes(y) ^ int.from_bytes(prev_plain)).to_bytes(n)


def portable_decrypt_ige(data: bytes, key: bytes, iv: bytes) -> bytes:
    """AES-IGE decryption built on ``cryptography`` alone; any AES key size (16, 24, 32).

    Decryption has no CBC shortcut (the input of each block decryption depends on the
    previous output, and OpenSSL has no mode that chains the *decryption* function), so it is
    one ECB call per block with the XORs done on ints.
    """
    _length_error(data, key, iv, (16, 24, 32))
    if not data:
        return b""
    decrypt_block = Cipher(algorithms.AES(key), modes.ECB()).decryptor().update
    from_bytes = int.from_bytes
    c_prev = from_bytes(iv[:16])
    m_prev = from_bytes(iv[16:])
    plain: list[int] = []
    append = plain.append
    for i in range(0, len(data), _BLOCK):
        c = from_bytes(data[i : i + _BLOCK])
        # m_i = D(c_i ^ m_{i-1}) ^ c_{i-1}
        m_prev = from_bytes(decrypt_block((c ^ m_prev).to_bytes(_BLOCK))) ^ c_prev
        append(m_prev)
        c_prev = c
    return b"".join([m.to_bytes(_BLOCK) for m in plain])


@final
class AesBackend:
    """One IGE implementation, with the argument checks every backend shares."""

    __slots__ = ("_decrypt", "_encrypt", "name")

    def __init__(self, name: str, encrypt: IgeFunction, decrypt: IgeFunction) -> None:
        self.name: Final = name
        self._encrypt: Final = encrypt
        self._decrypt: Final = decrypt

    def __repr__(self) -> str:
        return f"AesBackend({self.name!r})"

    @property
    def unchecked_encrypt_ige(self) -> IgeFunction:
        """The raw encrypt function, for callers that already guarantee every length."""
        return self._encrypt

    @property
    def unchecked_decrypt_ige(self) -> IgeFunction:
        """The raw decrypt function, for callers that already guarantee every length."""
        return self._decrypt

    def encrypt_ige(self, data: bytes, key: bytes, iv: bytes) -> bytes:
        """AES-256-IGE encrypt ``data`` (a multiple of 16 bytes) with a 32-byte key and IV."""
        if len(data) & 15 or not data or len(key) != _KEY_SIZE or len(iv) != _IGE_IV_SIZE:
            _length_error(data, key, iv, (_KEY_SIZE,))
            return b""
        return self._encrypt(data, key, iv)

    def decrypt_ige(self, data: bytes, key: bytes, iv: bytes) -> bytes:
        """AES-256-IGE decrypt ``data`` (a multiple of 16 bytes) with a 32-byte key and IV."""
        if len(data) & 15 or not data or len(key) != _KEY_SIZE or len(iv) != _IGE_IV_SIZE:
            _length_error(data, key, iv, (_KEY_SIZE,))
            return b""
        return self._decrypt(data, key, iv)


def _load_backends() -> dict[str, AesBackend]:
    found: dict[str, AesBackend] = {}
    cryptg = load("cryptg")
    if cryptg is not None:
        found["cryptg"] = AesBackend("cryptg", cryptg.encrypt_ige, cryptg.decrypt_ige)
    tgcrypto = load("tgcrypto")
    if tgcrypto is not None:
        found["tgcrypto"] = AesBackend("tgcrypto", tgcrypto.ige256_encrypt, tgcrypto.ige256_decrypt)
    found["cryptography"] = AesBackend("cryptography", portable_encrypt_ige, portable_decrypt_ige)
    return {name: found[name] for name in BACKEND_PREFERENCE if name in found}


_BACKENDS: Final = _load_backends()


def available_backends() -> tuple[str, ...]:
    """Names of the IGE backends importable here, fastest first."""
    return tuple(_BACKENDS)


def get_backend(name: str | None = None) -> AesBackend:
    """The IGE backend called ``name``, or the default one when ``name`` is ``None``.

    Raises :class:`CryptoValueError` for an unknown name or a backend that is not installed.
    """
    if name is None:
        return _DEFAULT
    try:
        return _BACKENDS[name]
    except KeyError:
        if name in BACKEND_PREFERENCE:
            raise CryptoValueError(f"AES backend {name!r} is not installed") from None
        raise CryptoValueError(
            f"unknown AES backend {name!r}; expected one of {BACKEND_PREFERENCE}"
        ) from None


_DEFAULT: Final = get_backend(os.environ.get(BACKEND_ENV_VAR) or next(iter(_BACKENDS)))
# The entry points below call the default backend's raw function directly: going through
# AesBackend's method would add a bound-method call to every message on the hot path.
_default_encrypt: Final = _DEFAULT._encrypt
_default_decrypt: Final = _DEFAULT._decrypt


def encrypt_ige(data: bytes, key: bytes, iv: bytes) -> bytes:
    """AES-256-IGE encrypt with the default backend (see :func:`get_backend`)."""
    if len(data) & 15 or not data or len(key) != _KEY_SIZE or len(iv) != _IGE_IV_SIZE:
        _length_error(data, key, iv, (_KEY_SIZE,))
        return b""
    return _default_encrypt(data, key, iv)


def decrypt_ige(data: bytes, key: bytes, iv: bytes) -> bytes:
    """AES-256-IGE decrypt with the default backend (see :func:`get_backend`)."""
    if len(data) & 15 or not data or len(key) != _KEY_SIZE or len(iv) != _IGE_IV_SIZE:
        _length_error(data, key, iv, (_KEY_SIZE,))
        return b""
    return _default_decrypt(data, key, iv)


@final
class AesCtr:
    """A stateful AES-256-CTR keystream (OpenSSL through ``cryptography``).

    Each call continues where the previous one stopped, so a byte stream may be fed in chunks
    of any size -- what the obfuscated2 transport needs (one instance per direction). The
    128-bit counter block starts at ``iv`` and is incremented as a big-endian integer.
    CTR is its own inverse: :meth:`encrypt` and :meth:`decrypt` are the same operation and
    advance the same keystream.
    """

    __slots__ = ("_context",)

    def __init__(self, key: bytes, iv: bytes) -> None:
        if len(key) != _KEY_SIZE:
            raise CryptoValueError(f"AES-CTR key must be 32 bytes, got {len(key)}")
        if len(iv) != _CTR_IV_SIZE:
            raise CryptoValueError(f"AES-CTR IV must be 16 bytes, got {len(iv)}")
        self._context: CipherContext = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()

    def encrypt(self, data: bytes | bytearray | memoryview) -> bytes:
        """XOR ``data`` with the next ``len(data)`` keystream bytes."""
        return self._context.update(data)

    decrypt = encrypt
