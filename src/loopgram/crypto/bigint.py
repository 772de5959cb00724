"""Modular exponentiation for the RSA and DH steps of the key exchange.

Spec: core.telegram.org/mtproto/auth_key (the server decrypts ``p_q_inner_data`` with its
RSA key; both sides compute ``g^a mod dh_prime`` and ``g_b^a mod dh_prime`` on 2048-bit
numbers).

Measured on the reference VM, one 2048-bit exponent modulo a 2048-bit prime: builtin ``pow``
~17 ms, ``gmpy2.powmod`` ~2.5 ms. ``cryptography``'s DH was measured too and rejected: it
validates the group on every imported public value (~230 ms each) and does not take an
injected private exponent. So gmpy2 is used when installed, builtin ``pow`` otherwise.

Two flavours exist because the cost of side channels differs per use:

* :data:`powmod` -- fastest, variable time; for ephemeral DH exponents used once.
* :data:`powmod_secret` -- for the server's long-lived RSA private exponent, which a remote
  attacker may probe with chosen ciphertexts: ``gmpy2.powmod_sec`` (constant time, ~1.2-1.4x
  the cost of ``powmod``). Without gmpy2 it is builtin ``pow``, which is *not* constant time.
"""

from __future__ import annotations

import functools
import importlib.util
import secrets
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Final

from loopgram.crypto._optional import load
from loopgram.crypto.errors import CryptoValueError

__all__ = [
    "HAVE_GMPY2",
    "PowMod",
    "available_powmods",
    "get_powmod",
    "is_probable_prime",
    "miller_rabin",
    "powmod",
    "powmod_secret",
]

PowMod = Callable[[int, int, int], int]
"""``(base, exponent, modulus) -> base**exponent % modulus``."""


def _builtin_powmod(base: int, exponent: int, modulus: int) -> int:
    return pow(base, exponent, modulus)


# gmpy2 costs ~30 ms to import (it pulls in importlib.metadata) and only the key exchange
# needs it, so it is imported on first use rather than with the package.
HAVE_GMPY2: Final = importlib.util.find_spec("gmpy2") is not None


@functools.cache
def _gmpy2() -> ModuleType | None:
    return load("gmpy2")


def _gmpy2_fast(base: int, exponent: int, modulus: int) -> int:
    module = _gmpy2()
    if module is None:  # found but failed to import: stay correct, if slow
        return pow(base, exponent, modulus)
    return int(module.powmod(base, exponent, modulus))


def _gmpy2_secret(base: int, exponent: int, modulus: int) -> int:
    module = _gmpy2()
    if module is None:
        return pow(base, exponent, modulus)
    # powmod_sec needs an odd modulus; every modulus here (primes, RSA factors) is odd.
    return int(module.powmod_sec(base, exponent, modulus))


# Fastest first.
_POWMODS: Final[dict[str, PowMod]] = {
    **({"gmpy2": _gmpy2_fast} if HAVE_GMPY2 else {}),
    "builtin": _builtin_powmod,
}
_SECRET_POWMODS: Final[dict[str, PowMod]] = {
    **({"gmpy2": _gmpy2_secret} if HAVE_GMPY2 else {}),
    "builtin": _builtin_powmod,
}


def available_powmods() -> tuple[str, ...]:
    """Names of the modular exponentiation backends importable here, fastest first."""
    return tuple(_POWMODS)


def get_powmod(name: str | None = None, *, secret: bool = False) -> PowMod:
    """The ``powmod`` of backend ``name`` (default: fastest), constant-time flavour if ``secret``.

    Raises :class:`CryptoValueError` for an unknown or missing backend.
    """
    table = _SECRET_POWMODS if secret else _POWMODS
    if name is None:
        return next(iter(table.values()))
    try:
        return table[name]
    except KeyError:
        raise CryptoValueError(
            f"powmod backend {name!r} is not available; have {tuple(table)}"
        ) from None


powmod: Final = get_powmod()
powmod_secret: Final = get_powmod(secret=True)


def is_probable_prime(n: int, *, rounds: int = 40) -> bool:
    """Miller-Rabin with ``rounds`` random bases (gmpy2's test when installed).

    Bases come from :mod:`secrets`: a peer choosing the number to test must not be able to
    predict them. The error probability is at most ``4**-rounds``.
    """
    if n < 2:
        return False
    module = _gmpy2()
    if module is not None:
        return bool(module.is_prime(n, rounds))
    for small in _SMALL_PRIMES:
        if n % small == 0:
            return n == small
    return miller_rabin(n, (2 + secrets.randbelow(n - 3) for _ in range(rounds)))


def miller_rabin(n: int, bases: Iterable[int]) -> bool:
    """Whether the odd ``n > 3`` is a strong probable prime to every base in ``bases``.

    A base that is a multiple of ``n`` proves nothing and is skipped.
    """
    d, s = n - 1, 0
    while not d & 1:
        d >>= 1
        s += 1
    for a in bases:
        if a % n == 0:
            continue
        x = pow(a, d, n)
        if x == 1 or x == n - 1:
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


_SMALL_PRIMES: Final = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47)
