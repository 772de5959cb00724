"""loopgram.crypto: the MTProto 2.0 crypto layer (no TL, no I/O).

Spec: core.telegram.org/mtproto/description (message encryption), core.telegram.org/mtproto/
auth_key (RSA, DH, pq of the key exchange), core.telegram.org/mtproto/security_guidelines
(the checks on what the peer sends). Modules:

* :mod:`~loopgram.crypto.aes` -- AES-256-IGE (cryptg / tgcrypto / cryptography) and AES-256-CTR.
* :mod:`~loopgram.crypto.kdf` -- the MTProto 2.0 key/IV derivation and the handshake KDF.
* :mod:`~loopgram.crypto.message` -- :class:`AuthKey`, packet encryption and decryption.
* :mod:`~loopgram.crypto.rsa` -- server RSA key, fingerprint, RSA_PAD and legacy paddings.
* :mod:`~loopgram.crypto.dh` -- Telegram's DH group, key pairs, range checks.
* :mod:`~loopgram.crypto.pq` -- ``pq`` generation and factorisation.
* :mod:`~loopgram.crypto.bigint` -- modular exponentiation backends, primality.
* :mod:`~loopgram.crypto.errors` -- :class:`CryptoError`, :class:`SecurityError`.
"""

from __future__ import annotations

from loopgram.crypto.aes import (
    AesBackend,
    AesCtr,
    available_backends,
    decrypt_ige,
    encrypt_ige,
    get_backend,
)
from loopgram.crypto.dh import (
    DH_G,
    DH_PRIME,
    DH_PRIME_BYTES,
    SERVER_EXPONENT_BITS,
    check_dh_params,
    check_dh_public,
    compute_shared,
    generate_keypair,
    precompute_keypairs,
)
from loopgram.crypto.errors import CryptoError, CryptoValueError, SecurityError
from loopgram.crypto.kdf import (
    CLIENT_TO_SERVER,
    SERVER_TO_CLIENT,
    handshake_aes_key_iv,
    initial_server_salt,
    message_aes_key_iv,
    message_key,
    new_nonce_hash,
)
from loopgram.crypto.message import (
    AuthKey,
    auth_key_id_of,
    check_padding,
    decrypt_message,
    decrypt_message_v1,
    encrypt_message,
    encrypt_message_v1,
    encrypt_padded,
)
from loopgram.crypto.pq import factorize_pq, generate_pq
from loopgram.crypto.rsa import (
    RsaPadding,
    RsaPlaintext,
    RsaPrivateKey,
    RsaPublicKey,
    rsa_fingerprint,
)

__all__ = [
    "CLIENT_TO_SERVER",
    "DH_G",
    "DH_PRIME",
    "DH_PRIME_BYTES",
    "SERVER_EXPONENT_BITS",
    "SERVER_TO_CLIENT",
    "AesBackend",
    "AesCtr",
    "AuthKey",
    "CryptoError",
    "CryptoValueError",
    "RsaPadding",
    "RsaPlaintext",
    "RsaPrivateKey",
    "RsaPublicKey",
    "SecurityError",
    "auth_key_id_of",
    "available_backends",
    "check_dh_params",
    "check_dh_public",
    "check_padding",
    "compute_shared",
    "decrypt_ige",
    "decrypt_message",
    "decrypt_message_v1",
    "encrypt_ige",
    "encrypt_message",
    "encrypt_message_v1",
    "encrypt_padded",
    "factorize_pq",
    "generate_keypair",
    "generate_pq",
    "get_backend",
    "handshake_aes_key_iv",
    "initial_server_salt",
    "message_aes_key_iv",
    "message_key",
    "new_nonce_hash",
    "precompute_keypairs",
    "rsa_fingerprint",
]
