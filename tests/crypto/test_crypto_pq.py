"""pq generation (server) and factorisation (client)."""

from __future__ import annotations

import random

import pytest

from loopgram.crypto import pq as pq_module
from loopgram.crypto.errors import CryptoValueError, SecurityError
from loopgram.crypto.pq import (
    PQ_PRIME_MAX,
    PQ_PRIME_MIN,
    available_factorizers,
    factorize_pq,
    generate_pq,
    is_prime_u64,
)

from .support import seeded

METHODS = available_factorizers()

# From core.telegram.org/mtproto/samples-auth_key: pq = 17ED48941A08F981,
# p = 494C553B, q = 53911073.
SAMPLE_PQ = 0x17ED48941A08F981
SAMPLE_P = 0x494C553B
SAMPLE_Q = 0x53911073


def test_both_methods_are_installed_here() -> None:
    assert METHODS == ("cryptg", "python")


@pytest.mark.parametrize("method", METHODS)
def test_telegram_sample(method: str) -> None:
    assert SAMPLE_P * SAMPLE_Q == SAMPLE_PQ
    assert factorize_pq(SAMPLE_PQ, method=method) == (SAMPLE_P, SAMPLE_Q)


def test_default_method() -> None:
    assert factorize_pq(SAMPLE_PQ) == (SAMPLE_P, SAMPLE_Q)


@pytest.mark.parametrize("seed", range(40))
def test_generated_pq(seed: int) -> None:
    pq, p, q = generate_pq(seeded(seed))
    assert pq == p * q
    assert PQ_PRIME_MIN <= p < q < PQ_PRIME_MAX
    assert is_prime_u64(p) and is_prime_u64(q)
    assert pq < 1 << 63  # fits a signed 64-bit integer
    assert generate_pq(seeded(seed)) == (pq, p, q)
    for method in METHODS:
        assert factorize_pq(pq, method=method) == (p, q)


def test_generate_pq_never_returns_equal_primes() -> None:
    # A source that repeats itself: the second prime equals the first until it changes.
    first = next(n for n in range(PQ_PRIME_MIN + 1, PQ_PRIME_MAX, 2) if is_prime_u64(n))
    second = next(n for n in range(first + 2, PQ_PRIME_MAX, 2) if is_prime_u64(n))
    values = iter([first.to_bytes(4)] * 3 + [second.to_bytes(4)])
    assert generate_pq(lambda size: next(values)) == (first * second, first, second)


def test_generate_pq_refuses_broken_randomness() -> None:
    with pytest.raises(CryptoValueError):
        generate_pq(lambda size: bytes(size - 1))
    with pytest.raises(CryptoValueError):
        generate_pq(lambda size: b"\x00" * size)  # 2^30 + 1 is composite, forever


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bits", [3, 5, 8, 12, 16, 24, 32])
def test_factorize_many_sizes(method: str, bits: int) -> None:
    rng = random.Random(bits)
    for _ in range(15):
        p = q = 0
        while p == q:
            p, q = _random_prime(rng, bits), _random_prime(rng, bits)
        assert factorize_pq(p * q, method=method) == (min(p, q), max(p, q))


@pytest.mark.parametrize("method", METHODS)
def test_factorize_unbalanced(method: str) -> None:
    assert factorize_pq(3 * 4294967291, method=method) == (3, 4294967291)
    assert factorize_pq(65537 * 4294967291, method=method) == (65537, 4294967291)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "value",
    [
        0,
        1,
        2,
        9,  # a square (cryptg would loop forever)
        13,  # prime
        35 * 2,  # even
        3 * 5 * 7,  # three primes
        2**61 - 1,  # Mersenne prime (cryptg would loop forever)
        4294967291**2,
        1 << 64,
        -15,
    ],
)
def test_factorize_refuses_non_semiprimes(method: str, value: int) -> None:
    with pytest.raises(SecurityError):
        factorize_pq(value, method=method)


def test_factorize_unknown_method() -> None:
    with pytest.raises(CryptoValueError):
        factorize_pq(SAMPLE_PQ, method="ecm")


def test_cryptg_panic_falls_back_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    class PanicException(BaseException):  # the name pyo3 gives a Rust panic
        pass

    def panicking(pq: int) -> tuple[int, int]:
        raise PanicException("failed to factorize")

    monkeypatch.setattr(pq_module, "_cryptg_factorize", panicking)
    assert factorize_pq(SAMPLE_PQ, method="cryptg") == (SAMPLE_P, SAMPLE_Q)


def test_cryptg_wrong_answer_falls_back_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pq_module, "_cryptg_factorize", lambda pq: (1, pq))
    assert factorize_pq(SAMPLE_PQ, method="cryptg") == (SAMPLE_P, SAMPLE_Q)


def test_keyboard_interrupt_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(pq: int) -> tuple[int, int]:
        raise KeyboardInterrupt

    monkeypatch.setattr(pq_module, "_cryptg_factorize", interrupted)
    with pytest.raises(KeyboardInterrupt):
        factorize_pq(SAMPLE_PQ, method="cryptg")


def _random_prime(rng: random.Random, bits: int) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
        if candidate > 2 and is_prime_u64(candidate):
            return candidate


def _slow_is_prime(n: int) -> bool:
    if n < 2:
        return False
    divisor = 2
    while divisor * divisor <= n:
        if n % divisor == 0:
            return False
        divisor += 1
    return True


def test_is_prime_small_numbers_exhaustively() -> None:
    for n in range(5000):
        assert is_prime_u64(n) == _slow_is_prime(n), n


@pytest.mark.parametrize(
    ("n", "prime"),
    [
        (561, False),  # Carmichael
        (2047, False),  # strong pseudoprime to base 2
        (3215031751, False),  # strong pseudoprime to bases 2, 3, 5, 7
        (4759123141, False),  # strong pseudoprime to bases 2, 7, 61: past the 32-bit set
        (3825123056546413051, False),  # strong pseudoprime to bases 2..23
        (4294967291, True),  # largest prime below 2^32
        (18446744073709551557, True),  # largest prime below 2^64
        (2**61 - 1, True),
        ((2**31 - 1) * (2**31 + 11), False),
    ],
)
def test_is_prime_hard_cases(n: int, prime: bool) -> None:
    assert is_prime_u64(n) is prime


def test_is_prime_matches_gmpy2() -> None:
    gmpy2 = pytest.importorskip("gmpy2")
    rng = random.Random(1)
    for bits in (20, 32, 40, 63, 64):
        for _ in range(300):
            n = rng.getrandbits(bits) | 1
            assert is_prime_u64(n) == bool(gmpy2.is_prime(n, 50)), n


def test_is_prime_range() -> None:
    with pytest.raises(CryptoValueError):
        is_prime_u64(1 << 64)
    with pytest.raises(CryptoValueError):
        is_prime_u64(-1)
