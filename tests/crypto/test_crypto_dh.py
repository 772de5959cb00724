"""Telegram's DH group, key pairs, range checks, modular exponentiation backends."""

from __future__ import annotations

import pytest

from loopgram.crypto import bigint, dh
from loopgram.crypto.dh import (
    DH_G,
    DH_PRIME,
    DH_PRIME_BYTES,
    DH_SAFETY_MARGIN,
    SERVER_EXPONENT_BITS,
    check_dh_params,
    check_dh_public,
    compute_shared,
    generate_keypair,
    precompute_keypairs,
)
from loopgram.crypto.errors import CryptoValueError, SecurityError

from .support import seeded


def test_prime_is_the_published_one() -> None:
    assert DH_PRIME_BYTES.hex().startswith("c71caeb9c6b1c9048e6c522f70f13f73980d4023")
    assert DH_PRIME_BYTES.hex().endswith("b10403119cd8e3b92fcc5b")
    assert len(DH_PRIME_BYTES) == 256
    assert DH_G == 3


def test_prime_is_a_safe_2048_bit_prime() -> None:
    assert 1 << 2047 < DH_PRIME < 1 << 2048
    assert bigint.is_probable_prime(DH_PRIME)
    assert bigint.is_probable_prime((DH_PRIME - 1) // 2)


def test_prime_is_safe_with_the_pure_python_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bigint, "_gmpy2", lambda: None)
    assert bigint.is_probable_prime(DH_PRIME, rounds=3)
    assert bigint.is_probable_prime((DH_PRIME - 1) // 2, rounds=3)
    assert not bigint.is_probable_prime(DH_PRIME + 2, rounds=3)


def test_g_3_generates_the_prime_order_subgroup() -> None:
    # auth_key step 5: "p mod 3 = 2 for g = 3", i.e. 3 is a quadratic residue mod p.
    assert DH_PRIME % 3 == 2
    assert DH_PRIME % 24 == 11  # hence not a valid group for g = 2 (p mod 8 = 3)
    # Euler's criterion, the property the mod condition encodes.
    assert pow(DH_G, (DH_PRIME - 1) // 2, DH_PRIME) == 1
    check_dh_params(DH_PRIME, DH_G)


def test_check_dh_params_refusals() -> None:
    with pytest.raises(SecurityError, match="2048"):
        check_dh_params(DH_PRIME >> 1, 3)
    with pytest.raises(SecurityError, match="generate"):
        check_dh_params(DH_PRIME, 2)
    with pytest.raises(SecurityError, match=r"2\.\.7"):
        check_dh_params(DH_PRIME, 9)
    composite = DH_PRIME + 12  # same residue mod 3, and mod 8 unchanged
    assert composite % 3 == 2
    with pytest.raises(SecurityError, match="safe prime"):
        check_dh_params(composite, 3)


def test_check_dh_params_detects_a_prime_that_is_not_safe() -> None:
    # p prime with (p-1)/2 composite: walk primes = 2 mod 3 until one is not safe.
    candidate = (1 << 2047) + 1
    while True:
        candidate += 2
        if candidate % 3 != 2 or not bigint.is_probable_prime(candidate, rounds=8):
            continue
        if not bigint.is_probable_prime((candidate - 1) // 2, rounds=8):
            break
    with pytest.raises(SecurityError, match="safe prime"):
        check_dh_params(candidate, 3)


@pytest.mark.parametrize(
    "value",
    [0, 1, 2, DH_SAFETY_MARGIN - 1, DH_PRIME - DH_SAFETY_MARGIN + 1, DH_PRIME - 1, DH_PRIME],
)
def test_public_value_out_of_range(value: int) -> None:
    with pytest.raises(SecurityError):
        check_dh_public(value)


@pytest.mark.parametrize("value", [DH_SAFETY_MARGIN, DH_PRIME - DH_SAFETY_MARGIN, DH_PRIME // 2])
def test_public_value_in_range(value: int) -> None:
    check_dh_public(value)


@pytest.mark.parametrize("seed", range(5))
def test_key_agreement(seed: int) -> None:
    a, g_a = generate_keypair(seeded(seed))
    b, g_b = generate_keypair(seeded(seed + 100))
    assert g_a == pow(DH_G, a, DH_PRIME)
    check_dh_public(g_a)
    check_dh_public(g_b)
    server_key = compute_shared(a, g_b)
    client_key = compute_shared(b, g_a)
    assert server_key == client_key
    assert len(server_key) == 256
    assert int.from_bytes(server_key) == pow(DH_G, a * b, DH_PRIME)


def test_auth_key_is_left_padded() -> None:
    # g_b^1 = g_b: pick a g_b below 2^2040 so the key starts with a zero byte.
    g_b = DH_SAFETY_MARGIN * 3
    assert compute_shared(1, g_b) == g_b.to_bytes(256)
    assert compute_shared(1, g_b)[0] == 0


def test_compute_shared_checks_the_peer_value() -> None:
    with pytest.raises(SecurityError):
        compute_shared(12345, 1)
    with pytest.raises(SecurityError):
        compute_shared(12345, DH_PRIME - 1)


@pytest.mark.parametrize("name", bigint.available_powmods())
def test_powmod_backends_agree(name: str) -> None:
    reference_a, reference_g_a = generate_keypair(seeded(1), powmod=bigint.get_powmod("builtin"))
    a, g_a = generate_keypair(seeded(1), powmod=bigint.get_powmod(name))
    assert (a, g_a) == (reference_a, reference_g_a)
    _b, g_b = generate_keypair(seeded(2))
    for secret in (False, True):
        powmod = bigint.get_powmod(name, secret=secret)
        assert compute_shared(a, g_b, powmod=powmod) == compute_shared(a, g_b)


def test_powmod_names() -> None:
    assert bigint.available_powmods()[-1] == "builtin"
    if bigint.HAVE_GMPY2:
        assert bigint.available_powmods()[0] == "gmpy2"
    with pytest.raises(CryptoValueError):
        bigint.get_powmod("nope")


def test_keypair_redraws_an_out_of_range_value() -> None:
    # a = 1 gives g_a = 3, far below 2^1984: the generator must draw again.
    draws = iter([(1).to_bytes(256), seeded(5)(256)])
    a, g_a = generate_keypair(lambda size: next(draws))
    assert a != 1
    check_dh_public(g_a)


def test_keypair_refuses_broken_randomness() -> None:
    with pytest.raises(CryptoValueError):
        generate_keypair(lambda size: bytes(size - 1))
    with pytest.raises(CryptoValueError):
        generate_keypair(lambda size: (1).to_bytes(size))


def test_precompute_keypairs() -> None:
    pairs = precompute_keypairs(3, seeded(9))
    assert len(pairs) == 3
    assert len({a for a, _ in pairs}) == 3
    for a, g_a in pairs:
        assert g_a == pow(DH_G, a, DH_PRIME)
    assert precompute_keypairs(0) == []
    with pytest.raises(CryptoValueError):
        precompute_keypairs(-1)


def test_short_exponent_keypair_draws_only_the_asked_bits() -> None:
    sizes: list[int] = []
    rng = seeded(11)

    def recording(size: int) -> bytes:
        sizes.append(size)
        return rng(size)

    a, g_a = generate_keypair(recording, bits=SERVER_EXPONENT_BITS)
    assert sizes == [SERVER_EXPONENT_BITS // 8]
    assert a.bit_length() <= SERVER_EXPONENT_BITS
    assert g_a == pow(DH_G, a, DH_PRIME)
    check_dh_public(g_a)


def test_short_exponent_agrees_with_a_full_client_exponent() -> None:
    a, g_a = generate_keypair(seeded(12), bits=SERVER_EXPONENT_BITS)
    b, g_b = generate_keypair(seeded(13))
    assert b.bit_length() > SERVER_EXPONENT_BITS
    assert compute_shared(a, g_b) == compute_shared(b, g_a)


def test_server_exponent_stays_above_the_group_strength() -> None:
    # a 2048-bit safe-prime group gives ~112 bits; kangaroo on a k-bit exponent costs 2^(k/2)
    assert SERVER_EXPONENT_BITS // 2 >= 112


@pytest.mark.parametrize("bits", [0, 56, 100, 2056, -8])
def test_keypair_refuses_an_exponent_size_outside_the_range(bits: int) -> None:
    with pytest.raises(CryptoValueError):
        generate_keypair(seeded(1), bits=bits)
    with pytest.raises(CryptoValueError):
        precompute_keypairs(1, seeded(1), bits=bits)


def test_precompute_short_keypairs() -> None:
    pairs = precompute_keypairs(2, seeded(14), bits=SERVER_EXPONENT_BITS)
    assert all(a.bit_length() <= SERVER_EXPONENT_BITS for a, _ in pairs)
    assert all(g_a == pow(DH_G, a, DH_PRIME) for a, g_a in pairs)


def test_verified_groups_are_cached() -> None:
    check_dh_params(DH_PRIME, DH_G)
    assert (DH_PRIME, DH_G) in dh._VERIFIED_GROUPS
