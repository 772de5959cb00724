"""MTProto layer: binding a temporary auth key to a permanent one (Perfect Forward Secrecy).

Spec: core.telegram.org/api/pfs and core.telegram.org/method/auth.bindTempAuthKey.

A client that wants forward secrecy makes a temporary key (``p_q_inner_data_temp``, with
``expires_in``), then proves it also holds a permanent key by sending, *under the temporary
key*, ``auth.bindTempAuthKey perm_auth_key_id nonce expires_at encrypted_message``. The
``encrypted_message`` is ``bind_auth_key_inner nonce temp_auth_key_id perm_auth_key_id
temp_session_id expires_at`` wrapped like a message -- ``random:int128`` (in place of salt
and session_id), the *same* ``msg_id`` as the request, ``seqno`` 0, length 40 -- and
encrypted with the *permanent* key by MTProto 1.0 (SHA1 ``msg_key`` and KDF). Once bound,
the temporary key acts for the permanent key's authorization.

:func:`binding_request` builds the request (client side); :func:`check_binding` verifies
one (server side) and returns the inner object, or raises :class:`BindingError` with the
``rpc_error`` Telegram answers.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

from loopgram.crypto import (
    CLIENT_TO_SERVER,
    AuthKey,
    SecurityError,
    decrypt_message_v1,
    encrypt_message_v1,
)
from loopgram.mtproto.service import parse_bare
from loopgram.tl.functions.auth import BindTempAuthKey
from loopgram.tl.mtproto.types import BindAuthKeyInner

__all__ = [
    "ENCRYPTED_MESSAGE_INVALID",
    "TEMP_AUTH_KEY_ALREADY_BOUND",
    "TEMP_AUTH_KEY_EMPTY",
    "BindingError",
    "binding_request",
    "check_binding",
]

ENCRYPTED_MESSAGE_INVALID: Final = "ENCRYPTED_MESSAGE_INVALID"
TEMP_AUTH_KEY_EMPTY: Final = "TEMP_AUTH_KEY_EMPTY"
"""The request did not come under a temporary key."""
TEMP_AUTH_KEY_ALREADY_BOUND: Final = "TEMP_AUTH_KEY_ALREADY_BOUND"
"""The temporary key is bound to another permanent key already."""

_INNER_SIZE: Final = 40  # bind_auth_key_inner: constructor + 4 longs + 1 int
_HEADER: Final = struct.Struct("<16sqii")  # random, msg_id, seqno, msg_len
_INNER_ID: Final = BindAuthKeyInner.CONSTRUCTOR_ID.to_bytes(4, "little")


class BindingError(Exception):
    """A refused ``auth.bindTempAuthKey``: answer ``rpc_error 400 <error>``."""

    code: Final = 400

    def __init__(self, error: str, reason: str) -> None:
        super().__init__(f"{error}: {reason}")
        self.error = error
        """The ``rpc_error`` message (``ENCRYPTED_MESSAGE_INVALID``...)."""


def binding_request(
    perm_key: AuthKey,
    *,
    temp_key_id: int,
    temp_session_id: int,
    msg_id: int,
    expires_at: int,
    random_bytes: Callable[[int], bytes],
) -> BindTempAuthKey:
    """The ``auth.bindTempAuthKey`` to send as message ``msg_id`` of session
    ``temp_session_id`` under the temporary key ``temp_key_id``."""
    nonce = int.from_bytes(random_bytes(8), "little", signed=True)
    inner = bytes(
        BindAuthKeyInner(
            nonce=nonce,
            temp_auth_key_id=temp_key_id,
            perm_auth_key_id=perm_key.id,
            temp_session_id=temp_session_id,
            expires_at=expires_at,
        )
    )
    plaintext = _HEADER.pack(random_bytes(16), msg_id, 0, len(inner)) + inner
    encrypted = encrypt_message_v1(
        perm_key, plaintext, x=CLIENT_TO_SERVER, random_bytes=random_bytes
    )
    return BindTempAuthKey(
        perm_auth_key_id=perm_key.id,
        nonce=nonce,
        expires_at=expires_at,
        encrypted_message=encrypted,
    )


def check_binding(
    request: BindTempAuthKey,
    perm_key: AuthKey,
    *,
    temp_key_id: int,
    temp_session_id: int,
    msg_id: int,
) -> BindAuthKeyInner:
    """Verify a binding received as message ``msg_id`` of session ``temp_session_id`` under
    the temporary key ``temp_key_id``; ``perm_key`` is the key ``request.perm_auth_key_id``
    names. Returns the decrypted ``bind_auth_key_inner``; raises :class:`BindingError`
    (``ENCRYPTED_MESSAGE_INVALID``) unless the message decrypts with the permanent key and
    every field agrees with the request and with how it arrived."""
    if perm_key.id != request.perm_auth_key_id:
        raise BindingError(ENCRYPTED_MESSAGE_INVALID, "perm_auth_key_id is not that key's id")
    try:
        plaintext = decrypt_message_v1(perm_key, request.encrypted_message, x=CLIENT_TO_SERVER)
    except SecurityError as exc:
        raise BindingError(ENCRYPTED_MESSAGE_INVALID, str(exc)) from None
    if len(plaintext) != _HEADER.size + _INNER_SIZE:
        raise BindingError(ENCRYPTED_MESSAGE_INVALID, "not a 40-byte bind_auth_key_inner")
    _random, inner_msg_id, seqno, _length = _HEADER.unpack_from(plaintext)
    body = plaintext[_HEADER.size :]
    if body[:4] != _INNER_ID:
        raise BindingError(ENCRYPTED_MESSAGE_INVALID, "not a bind_auth_key_inner")
    inner = parse_bare(body, BindAuthKeyInner)  # fixed-size fields: 40 bytes always parse
    mismatches = [
        name
        for name, got, expected in (
            ("msg_id", inner_msg_id, msg_id),
            ("seqno", seqno, 0),
            ("nonce", inner.nonce, request.nonce),
            ("temp_auth_key_id", inner.temp_auth_key_id, temp_key_id),
            ("perm_auth_key_id", inner.perm_auth_key_id, request.perm_auth_key_id),
            ("temp_session_id", inner.temp_session_id, temp_session_id),
            ("expires_at", inner.expires_at, request.expires_at),
        )
        if got != expected
    ]
    if mismatches:
        raise BindingError(ENCRYPTED_MESSAGE_INVALID, f"{', '.join(mismatches)} do not match")
    return inner
