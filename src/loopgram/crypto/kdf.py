"""Key derivation of MTProto 2.0 and of the auth-key exchange.

Spec: core.telegram.org/mtproto/description ("Defining AES Key and Initialization Vector")
for the per-message key and IV; core.telegram.org/mtproto/auth_key (step 5, "Server responds
with Server_DH_Params", and "DH key exchange complete") for the SHA1-based temporary key that
protects the key exchange, the ``new_nonce_hash`` values and the first server salt.

``x`` selects the direction: 0 for messages from client to server, 8 from server to client.
"""

from __future__ import annotations

from hashlib import sha1, sha256
from typing import Final

from loopgram.crypto.errors import CryptoValueError

__all__ = [
    "AUTH_KEY_SIZE",
    "CLIENT_TO_SERVER",
    "SERVER_TO_CLIENT",
    "aes_key_iv_from_parts",
    "handshake_aes_key_iv",
    "initial_server_salt",
    "message_aes_key_iv",
    "message_key",
    "new_nonce_hash",
]

CLIENT_TO_SERVER: Final = 0
"""``x`` for messages sent by the client."""
SERVER_TO_CLIENT: Final = 8
"""``x`` for messages sent by the server."""

AUTH_KEY_SIZE: Final = 256


def _check_auth_key_and_x(auth_key: bytes, x: int) -> None:
    if len(auth_key) != AUTH_KEY_SIZE:
        raise CryptoValueError(f"auth_key must be 256 bytes, got {len(auth_key)}")
    if x != CLIENT_TO_SERVER and x != SERVER_TO_CLIENT:
        raise CryptoValueError(f"x must be 0 (client to server) or 8 (server to client), got {x}")


def message_key(auth_key: bytes, data: bytes, x: int) -> bytes:
    """``msg_key`` of ``data`` (plaintext followed by its padding)."""
    _check_auth_key_and_x(auth_key, x)
    # msg_key_large = SHA256(substr(auth_key, 88+x, 32) + plaintext + random_padding)
    # msg_key = substr(msg_key_large, 8, 16)
    return sha256(auth_key[88 + x : 120 + x] + data).digest()[8:24]


def aes_key_iv_from_parts(msg_key: bytes, key_a: bytes, key_b: bytes) -> tuple[bytes, bytes]:
    """The MTProto 2.0 key and IV from ``msg_key`` and the two pre-sliced auth key parts.

    ``key_a = substr(auth_key, x, 36)`` and ``key_b = substr(auth_key, 40+x, 36)``; taking
    them pre-sliced lets a caller slice once per key instead of once per message
    (:mod:`loopgram.crypto.message` goes further and keeps the hash state after ``key_b``).
    """
    # sha256_a = SHA256(msg_key + substr(auth_key, x, 36))
    a = sha256(msg_key + key_a).digest()
    # sha256_b = SHA256(substr(auth_key, 40+x, 36) + msg_key)
    b = sha256(key_b + msg_key).digest()
    # aes_key = substr(sha256_a, 0, 8) + substr(sha256_b, 8, 16) + substr(sha256_a, 24, 8)
    # aes_iv = substr(sha256_b, 0, 8) + substr(sha256_a, 8, 16) + substr(sha256_b, 24, 8)
    return a[:8] + b[8:24] + a[24:], b[:8] + a[8:24] + b[24:]


def message_aes_key_iv(auth_key: bytes, msg_key: bytes, x: int) -> tuple[bytes, bytes]:
    """``(aes_key, aes_iv)`` of one message, from the auth key and the ``msg_key``."""
    _check_auth_key_and_x(auth_key, x)
    if len(msg_key) != 16:
        raise CryptoValueError(f"msg_key must be 16 bytes, got {len(msg_key)}")
    return aes_key_iv_from_parts(msg_key, auth_key[x : x + 36], auth_key[40 + x : 76 + x])


def _check_nonces(new_nonce: bytes, server_nonce: bytes) -> None:
    if len(new_nonce) != 32:
        raise CryptoValueError(f"new_nonce must be 32 bytes, got {len(new_nonce)}")
    if len(server_nonce) != 16:
        raise CryptoValueError(f"server_nonce must be 16 bytes, got {len(server_nonce)}")


def handshake_aes_key_iv(new_nonce: bytes, server_nonce: bytes) -> tuple[bytes, bytes]:
    """``(tmp_aes_key, tmp_aes_iv)`` protecting ``server_DH_inner_data``/``client_DH_inner_data``.

    This is the SHA1 construction of MTProto 1.0, still used by the key exchange. Nonces are
    the raw ``int256``/``int128`` wire bytes.
    """
    _check_nonces(new_nonce, server_nonce)
    new_server = sha1(new_nonce + server_nonce).digest()
    server_new = sha1(server_nonce + new_nonce).digest()
    new_new = sha1(new_nonce + new_nonce).digest()
    # tmp_aes_key = SHA1(new_nonce + server_nonce) + substr(SHA1(server_nonce + new_nonce), 0, 12)
    key = new_server + server_new[:12]
    # tmp_aes_iv = substr(SHA1(server_nonce + new_nonce), 12, 8) + SHA1(new_nonce + new_nonce)
    #              + substr(new_nonce, 0, 4)
    iv = server_new[12:] + new_new + new_nonce[:4]
    return key, iv


def new_nonce_hash(new_nonce: bytes, number: int, aux_hash: bytes) -> bytes:
    """``new_nonce_hash1``/``2``/``3`` of ``dh_gen_ok``/``dh_gen_retry``/``dh_gen_fail``.

    ``number`` is 1, 2 or 3; ``aux_hash`` is the 8-byte ``auth_key_aux_hash`` (see
    :attr:`loopgram.crypto.message.AuthKey.aux_hash_bytes`). Returns the 16 wire bytes.
    """
    if len(new_nonce) != 32:
        raise CryptoValueError(f"new_nonce must be 32 bytes, got {len(new_nonce)}")
    if number not in (1, 2, 3):
        raise CryptoValueError(f"new_nonce_hash number must be 1, 2 or 3, got {number}")
    if len(aux_hash) != 8:
        raise CryptoValueError(f"auth_key_aux_hash must be 8 bytes, got {len(aux_hash)}")
    # new_nonce_hashN = substr(SHA1(new_nonce + [N as one byte] + auth_key_aux_hash), 4, 16)
    return sha1(new_nonce + bytes((number,)) + aux_hash).digest()[4:20]


def initial_server_salt(new_nonce: bytes, server_nonce: bytes) -> int:
    """The first ``server_salt``, as the signed 64-bit value a TL ``long`` holds."""
    _check_nonces(new_nonce, server_nonce)
    # server_salt = substr(new_nonce, 0, 8) XOR substr(server_nonce, 0, 8)
    salt = bytes(a ^ b for a, b in zip(new_nonce[:8], server_nonce[:8], strict=True))
    return int.from_bytes(salt, "little", signed=True)
