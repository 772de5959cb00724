"""The ``pq`` proof of work of the key exchange: generation (server) and factorisation (client).

Spec: core.telegram.org/mtproto/auth_key, step 2 (``resPQ.pq``: "a representation of a
natural number (in binary big endian format). This number is the product of two different
odd prime numbers. Normally, pq is less than or equal to 2^63-1") and step 4
(``p_q_inner_data`` carries ``p < q``).

The server draws both primes from ``[2^30, 2^31)``, like Telegram's own samples: ``pq`` then
fits a signed 64-bit integer, which some clients assume. Factorisation uses
``cryptg.factorize_pq_pair`` (Rust, ~1 ms) when installed, else Pollard's rho with Brent's
cycle detection in pure Python (~15 ms for such a ``pq``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Final

from loopgram.crypto._optional import load
from loopgram.crypto.bigint import miller_rabin
from loopgram.crypto.errors import CryptoValueError, SecurityError

__all__ = [
    "PQ_PRIME_MAX",
    "PQ_PRIME_MIN",
    "available_factorizers",
    "factorize_pq",
    "generate_pq",
    "is_prime_u64",
]

PQ_PRIME_MIN: Final = 1 << 30
PQ_PRIME_MAX: Final = 1 << 31
"""Generated primes lie in ``[PQ_PRIME_MIN, PQ_PRIME_MAX)``."""

_U64: Final = 1 << 64
# Deterministic Miller-Rabin bases: (2, 7, 61) are exact below 4,759,123,141 > 2^32, and
# the first twelve primes are exact below 3.3 * 10^24 > 2^64.
_BASES_32: Final = (2, 7, 61)
_BASES_64: Final = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)
_TRIAL_PRIMES: Final = (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47)
# cryptg panics on products of tiny primes and can loop forever on a prime or a square
# (measured: 9, 35, 2^61 - 1); below this bound pure Python is instant anyway.
_CRYPTG_MIN: Final = 1 << 20
_MAX_PRIME_ATTEMPTS: Final = 10_000  # ~11 are expected for a 31-bit prime

_cryptg = load("cryptg")
_cryptg_factorize: Final[Callable[[int], tuple[int, int]] | None] = (
    None if _cryptg is None else _cryptg.factorize_pq_pair
)


def is_prime_u64(n: int) -> bool:
    """Deterministic Miller-Rabin primality for ``0 <= n < 2^64``."""
    if not 0 <= n < _U64:
        raise CryptoValueError(f"is_prime_u64 takes 0 <= n < 2^64, got {n}")
    if n < 4:
        return n > 1
    if not n & 1:
        return False
    return miller_rabin(n, _BASES_32 if n < 1 << 32 else _BASES_64)


def _random_prime(random_bytes: Callable[[int], bytes]) -> int:
    for _ in range(_MAX_PRIME_ATTEMPTS):
        raw = random_bytes(4)
        if len(raw) != 4:
            raise CryptoValueError(f"random_bytes(4) returned {len(raw)} bytes")
        # Force the range [2^30, 2^31) and oddness; the low 29 random bits pick the candidate.
        candidate = (int.from_bytes(raw) & (PQ_PRIME_MIN - 1)) | PQ_PRIME_MIN | 1
        if is_prime_u64(candidate):
            return candidate
    raise CryptoValueError("no prime found; random_bytes is broken")


def generate_pq(
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> tuple[int, int, int]:
    """Server side: ``(pq, p, q)`` with ``p < q`` distinct primes in ``[2^30, 2^31)``."""
    p = _random_prime(random_bytes)
    q = _random_prime(random_bytes)
    while q == p:
        q = _random_prime(random_bytes)
    if p > q:
        p, q = q, p
    return p * q, p, q


def _pollard_brent(n: int) -> int:
    """A non-trivial factor of the odd composite ``n`` (Pollard's rho, Brent's variant).

    Deterministic: the polynomials ``y^2 + c`` are tried for c = 1, 2, ... from y = 2.
    """
    batch = 128  # multiply |x - y| over a batch, then one gcd: gcds are the expensive step
    for c in range(1, 100):
        y, r, product, factor = 2, 1, 1, 1
        x = saved = y
        while factor == 1:
            x = y
            for _ in range(r):
                y = (y * y + c) % n
            k = 0
            while k < r and factor == 1:
                saved = y
                for _ in range(min(batch, r - k)):
                    y = (y * y + c) % n
                    product = product * abs(x - y) % n
                factor = math.gcd(product, n)
                k += batch
            r <<= 1
        if factor == n:
            # The batch overshot: replay it one step at a time from the saved point.
            factor = 1
            while factor == 1:
                saved = (saved * saved + c) % n
                factor = math.gcd(abs(x - saved), n)
        if factor != n:
            return factor
    raise SecurityError(f"could not factorise {n}")  # not reached for a composite n


def _factor_python(pq: int) -> int:
    for small in _TRIAL_PRIMES:
        if pq % small == 0:
            return small
    return _pollard_brent(pq)


def _factor_cryptg(pq: int) -> int:
    if _cryptg_factorize is None:
        raise CryptoValueError("cryptg is not installed")
    if pq < _CRYPTG_MIN:
        return _factor_python(pq)
    try:
        p, q = _cryptg_factorize(pq)
    except BaseException as exc:
        # A Rust panic surfaces as pyo3's PanicException, which derives from BaseException.
        if type(exc).__name__ != "PanicException":
            raise
        return _factor_python(pq)
    if p * q != pq or not 1 < p < pq:
        return _factor_python(pq)
    return p


_FACTORIZERS: Final[dict[str, Callable[[int], int]]] = {
    **({"cryptg": _factor_cryptg} if _cryptg_factorize is not None else {}),
    "python": _factor_python,
}


def available_factorizers() -> tuple[str, ...]:
    """Names of the factorisation methods importable here, fastest first."""
    return tuple(_FACTORIZERS)


def factorize_pq(pq: int, *, method: str | None = None) -> tuple[int, int]:
    """Client side: split ``pq`` into ``(p, q)``, ``p < q``, both odd primes.

    ``method`` forces ``"cryptg"`` or ``"python"`` (default: fastest available). Raises
    :class:`SecurityError` when ``pq`` is not the product of two distinct odd primes below
    2^64 -- the server is then not following the protocol.
    """
    if method is None:
        factor = next(iter(_FACTORIZERS.values()))
    elif method in _FACTORIZERS:
        factor = _FACTORIZERS[method]
    else:
        raise CryptoValueError(
            f"unknown or missing factorizer {method!r}; have {tuple(_FACTORIZERS)}"
        )
    # 15 = 3 * 5 is the smallest product of two distinct odd primes.
    if not 15 <= pq < _U64 or not pq & 1:
        raise SecurityError(f"pq = {pq} is not an odd number in [15, 2^64)")
    # Primes and squares are rejected before factorising: rho never ends on a prime, and
    # cryptg may loop on either.
    if is_prime_u64(pq):
        raise SecurityError(f"pq = {pq} is prime")
    root = math.isqrt(pq)
    if root * root == pq:
        raise SecurityError(f"pq = {pq} is a square")
    p = factor(pq)
    q = pq // p
    if p > q:
        p, q = q, p
    if not (is_prime_u64(p) and is_prime_u64(q)):
        raise SecurityError(f"pq = {pq} has more than two prime factors")
    return p, q
