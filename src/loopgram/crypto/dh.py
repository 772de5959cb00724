"""Diffie-Hellman of the MTProto key exchange: Telegram's group, key pairs, range checks.

Spec: core.telegram.org/mtproto/auth_key, step 5 (``server_DH_inner_data`` carries ``g``,
``dh_prime`` and ``g_a``; the client must check that ``dh_prime`` is a safe 2048-bit prime
and that ``g`` generates its subgroup of order ``(p-1)/2``), step 6 (``g_b``) and "DH key
exchange complete" (``auth_key = pow(g, ab) mod dh_prime``), plus
core.telegram.org/mtproto/security_guidelines ("g_a and g_b validation").

The server always offers Telegram's published prime with ``g = 3``: some clients refuse any
other group. The exponentiations use :data:`loopgram.crypto.bigint.powmod` (gmpy2 ~2.5 ms per
2048-bit exponent, pure Python ~17 ms); :func:`precompute_keypairs` lets a server move the
key-pair half off the critical path, and the server's exponent is short
(:data:`SERVER_EXPONENT_BITS`, why it is sound is written there).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final

from loopgram.crypto.bigint import PowMod, is_probable_prime
from loopgram.crypto.bigint import powmod as default_powmod
from loopgram.crypto.errors import CryptoValueError, SecurityError

__all__ = [
    "DH_G",
    "DH_PRIME",
    "DH_PRIME_BYTES",
    "DH_SAFETY_MARGIN",
    "SERVER_EXPONENT_BITS",
    "check_dh_params",
    "check_dh_public",
    "compute_shared",
    "generate_keypair",
    "precompute_keypairs",
]

DH_PRIME: Final = int(
    "c71caeb9c6b1c9048e6c522f70f13f73980d40238e3e21c14934d037563d930f"
    "48198a0aa7c14058229493d22530f4dbfa336f6e0ac925139543aed44cce7c37"
    "20fd51f69458705ac68cd4fe6b6b13abdc9746512969328454f18faf8c595f64"
    "2477fe96bb2a941d5bcd1d4ac8cc49880708fa9b378e3c4f3a9060bee67cf9a4"
    "a4a695811051907e162753b56b0f6b410dba74d8a84b2a14b3144e0ef1284754"
    "fd17ed950d5965b4b9dd46582db1178d169c6bc465b0d6ff9ca3928fef5b9ae4"
    "e418fc15e83ebea0f87fa9ff5eed70050ded2849f47bf959d956850ce929851f"
    "0d8115f635b105ee2e4e15d04b2454bf6f4fadf034b10403119cd8e3b92fcc5b",
    16,
)
"""Telegram's published 2048-bit safe prime (``dh_prime`` of ``server_DH_inner_data``)."""

DH_PRIME_BYTES: Final = DH_PRIME.to_bytes(256)
"""``dh_prime`` as the big-endian string sent on the wire."""

DH_G: Final = 3

DH_SAFETY_MARGIN: Final = 1 << (2048 - 64)
"""Public values must lie in ``[2^{2048-64}, dh_prime - 2^{2048-64}]``."""

_DH_BITS: Final = 2048
_DH_BYTES: Final = 256

SERVER_EXPONENT_BITS: Final = 256
"""Size of the server's private exponent ``a``.

The client's ``b`` is 2048 random bits, as core.telegram.org/mtproto/auth_key tells clients;
what the server draws is invisible to them, and the cost of both of its exponentiations is
proportional to it: 256 bits makes each ~8x cheaper than 2048. It stays sound because
``dh_prime`` is a safe prime: the only subgroup ``g = 3`` can reach has prime order
``(p-1)/2`` (no small factors to combine, Pohlig-Hellman), so a short exponent costs an
attacker a kangaroo search of 2^128 steps -- above the ~112-bit strength of a 2048-bit
group. NIST SP 800-56A rev. 3, 5.6.1.1.4, allows private keys of 2s bits (224 here) in
safe-prime groups for the same reason.
"""
_MAX_KEYPAIR_ATTEMPTS: Final = 64  # a random g^a misses the safe range with p ~ 2^-62

# g must be a quadratic residue mod p, so that it generates the subgroup of prime order
# (p-1)/2. By quadratic reciprocity that is a condition on p mod 4g (auth_key, step 5):
# "p mod 8 = 7 for g = 2; p mod 3 = 2 for g = 3; no extra condition for g = 4;
#  p mod 5 = 1 or 4 for g = 5; p mod 24 = 19 or 23 for g = 6; p mod 7 = 3, 5 or 6 for g = 7".
_GENERATOR_CONDITIONS: Final[dict[int, tuple[int, frozenset[int]]]] = {
    2: (8, frozenset({7})),
    3: (3, frozenset({2})),
    4: (1, frozenset({0})),
    5: (5, frozenset({1, 4})),
    6: (24, frozenset({19, 23})),
    7: (7, frozenset({3, 5, 6})),
}

# Groups already proven good; the primality tests cost ~1 s in pure Python, so each
# (prime, g) is proven once per process.
_VERIFIED_GROUPS: Final[set[tuple[int, int]]] = set()


def check_dh_params(prime: int, g: int) -> None:
    """Client side: check the server's ``dh_prime`` and ``g`` as auth_key step 5 requires.

    ``2^2047 < prime < 2^2048``, ``prime`` and ``(prime-1)/2`` both prime, ``g`` in 2..7
    and a quadratic residue mod ``prime``. Raises :class:`SecurityError`.
    """
    if (prime, g) in _VERIFIED_GROUPS:
        return
    if prime.bit_length() != _DH_BITS:
        raise SecurityError(f"dh_prime has {prime.bit_length()} bits, not 2048")
    condition = _GENERATOR_CONDITIONS.get(g)
    if condition is None:
        raise SecurityError(f"g = {g} is not one of 2..7")
    modulus, residues = condition
    if prime % modulus not in residues:
        raise SecurityError(f"g = {g} does not generate the subgroup of order (p-1)/2")
    if not is_probable_prime(prime) or not is_probable_prime((prime - 1) // 2):
        raise SecurityError("dh_prime is not a safe prime")
    _VERIFIED_GROUPS.add((prime, g))


def check_dh_public(value: int, prime: int = DH_PRIME) -> None:
    """Check a peer's ``g_a``/``g_b`` (and ``g``'s powers in general) for the safe range.

    Raises :class:`SecurityError` unless ``1 < value < prime - 1`` and
    ``2^{2048-64} <= value <= prime - 2^{2048-64}``.
    """
    # 1 < g_a < dh_prime - 1
    if not 1 < value < prime - 1:
        raise SecurityError("DH public value is not in (1, dh_prime - 1)")
    # 2^{2048-64} <= g_a <= dh_prime - 2^{2048-64}
    if not DH_SAFETY_MARGIN <= value <= prime - DH_SAFETY_MARGIN:
        raise SecurityError("DH public value is within 2^1984 of 0 or dh_prime")


def generate_keypair(
    random_bytes: Callable[[int], bytes] = os.urandom,
    *,
    prime: int = DH_PRIME,
    g: int = DH_G,
    powmod: PowMod | None = None,
    bits: int = _DH_BITS,
) -> tuple[int, int]:
    """A private exponent ``a`` (``bits`` random bits, a multiple of 8: 2048 by default, what
    clients use; :data:`SERVER_EXPONENT_BITS` for the server) and its
    ``g_a = pow(g, a) mod prime``.

    ``g_a`` is guaranteed to pass :func:`check_dh_public`; a new ``a`` is drawn otherwise.
    """
    if bits % 8 or not 64 <= bits <= _DH_BITS:
        raise CryptoValueError(f"bits must be a multiple of 8 in 64..2048, got {bits}")
    size = bits // 8
    exp = default_powmod if powmod is None else powmod
    for _ in range(_MAX_KEYPAIR_ATTEMPTS):
        raw = random_bytes(size)
        if len(raw) != size:
            raise CryptoValueError(f"random_bytes({size}) returned {len(raw)} bytes")
        private = int.from_bytes(raw)
        # g_a = pow(g, a) mod dh_prime
        public = exp(g, private, prime)
        if DH_SAFETY_MARGIN <= public <= prime - DH_SAFETY_MARGIN and private > 1:
            return private, public
    raise CryptoValueError("no DH key pair in the safe range; random_bytes is broken")


def precompute_keypairs(
    count: int,
    random_bytes: Callable[[int], bytes] = os.urandom,
    *,
    prime: int = DH_PRIME,
    g: int = DH_G,
    powmod: PowMod | None = None,
    bits: int = _DH_BITS,
) -> list[tuple[int, int]]:
    """``count`` key pairs from :func:`generate_keypair`, computed now.

    A server can fill a pool with this off the critical path (at idle time, ~2.5 ms a
    2048-bit pair with gmpy2, ~0.35 ms a server one) and pop one per ``req_DH_params``.
    Each pair serves one handshake only.
    """
    if count < 0:
        raise CryptoValueError(f"count must be >= 0, got {count}")
    return [
        generate_keypair(random_bytes, prime=prime, g=g, powmod=powmod, bits=bits)
        for _ in range(count)
    ]


def compute_shared(
    private: int, peer_public: int, *, prime: int = DH_PRIME, powmod: PowMod | None = None
) -> bytes:
    """The 256-byte ``auth_key``: ``pow(peer_public, private) mod prime``, big-endian.

    ``peer_public`` (``g_b`` on the server, ``g_a`` on the client) is checked with
    :func:`check_dh_public` first.
    """
    check_dh_public(peer_public, prime)
    exp = default_powmod if powmod is None else powmod
    # auth_key = pow(g, ab) mod dh_prime = pow(g_b, a) mod dh_prime
    return exp(peer_public, private, prime).to_bytes(_DH_BYTES)
