"""Errors of the crypto layer (MTProto 2.0, core.telegram.org/mtproto/security_guidelines).

Two kinds of failure exist here and callers treat them differently:

* :class:`CryptoValueError` -- an argument has the wrong size or range (a key that is not
  32 bytes, data that is not a whole number of AES blocks, ...). It is also a ``ValueError``
  so that code written against the usual Python contract still catches it.
* :class:`SecurityError` -- bytes that came from the peer failed a check the MTProto security
  guidelines require (wrong ``auth_key_id``, ``msg_key`` mismatch, bad padding, a DH value out
  of the safe range, an RSA payload whose hash does not verify, a ``pq`` that is not a product
  of two primes). The protocol layer must drop the packet or abort the handshake; it must never
  tell the peer which check failed.
"""

from __future__ import annotations

from loopgram import LoopgramError

__all__ = ["CryptoError", "CryptoValueError", "SecurityError"]


class CryptoError(LoopgramError):
    """Base class of every error raised by :mod:`loopgram.crypto`."""


class CryptoValueError(CryptoError, ValueError):
    """An argument has the wrong length, size or range."""


class SecurityError(CryptoError):
    """Data received from the peer failed a mandatory MTProto security check."""
