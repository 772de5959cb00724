"""Benchmarks of loopgram.crypto against the backends it wraps and against peers.

Run from the repository root: ``python bench/crypto_bench.py`` (``--quick`` for fewer runs).
Every figure is the median of at least 5 timed runs; the machine is printed first.

Measured: AES-256-IGE throughput per backend called directly and through loopgram's entry
point (the ratio ours / fastest direct backend should stay >= 0.9); encrypting plus
decrypting a 100-byte MTProto 2.0 message (Telethon's code path alongside, when installed);
RSA decryption of ``p_q_inner_data`` per modular exponentiation backend; a DH key pair and
shared secret per method (``cryptography``'s DH included to show why it is not used); ``pq``
factorisation with cryptg and in pure Python.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import statistics
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

if importlib.util.find_spec("loopgram") is None:  # not installed: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import interleaved, per_op_seconds, print_machine

from loopgram.crypto import aes, bigint, dh, message, pq, rsa
from loopgram.crypto._optional import load

SIZES = (1024, 64 * 1024, 1024 * 1024)
RUNS = 7


def interleaved_ratio(
    reference: Callable[[], object], candidate: Callable[[], object], runs: int
) -> tuple[float, float]:
    """Median seconds per call of ``candidate`` and the median of the per-run speed ratios
    candidate / reference, timing the two in alternation so that load from other processes
    hits both alike."""
    reference_s, candidate_s = interleaved(reference, candidate, runs)
    ratios = [r / c for r, c in zip(reference_s, candidate_s, strict=True)]
    return statistics.median(candidate_s), statistics.median(ratios)


def machine() -> None:
    print_machine()
    versions = []
    for name in ("cryptg", "tgcrypto", "cryptography", "gmpy2", "telethon"):
        module = load(name)
        version = getattr(module, "__version__", "installed") if module else "missing"
        versions.append(f"{name} {version}")
    print("modules  " + ", ".join(versions))
    print(
        f"default  AES backend {aes.get_backend().name!r}, powmod {bigint.available_powmods()[0]!r}"
    )
    print()


def bench_aes(runs: int) -> None:
    print("AES-256-IGE throughput, MB/s (median of runs)")
    key, iv = os.urandom(32), os.urandom(32)
    direct: dict[str, tuple[Callable[..., bytes], Callable[..., bytes]]] = {}
    cryptg = load("cryptg")
    if cryptg is not None:
        direct["cryptg"] = (cryptg.encrypt_ige, cryptg.decrypt_ige)
    tgcrypto = load("tgcrypto")
    if tgcrypto is not None:
        direct["tgcrypto"] = (tgcrypto.ige256_encrypt, tgcrypto.ige256_decrypt)
    direct["cryptography"] = (aes.portable_encrypt_ige, aes.portable_decrypt_ige)
    fastest = next(iter(direct))
    header = f"{'':28}" + "".join(f"{f'{size // 1024} KiB':>12}" for size in SIZES)
    print(header)
    data = {size: os.urandom(size) for size in SIZES}
    for name, (encrypt, decrypt) in direct.items():
        for label, function in (("enc", encrypt), ("dec", decrypt)):
            cells = []
            for size in SIZES:
                payload = data[size]
                seconds = per_op_seconds(
                    lambda f=function, p=payload: f(p, key, iv),  # type: ignore[misc]
                    runs,
                )
                cells.append(f"{size / seconds / 1e6:12.1f}")
            kind = "portable" if name == "cryptography" else "direct"
            print(f"{f'{name} ({kind}) {label}':28}" + "".join(cells))
    for label, ours, theirs in (
        ("enc", aes.encrypt_ige, direct[fastest][0]),
        ("dec", aes.decrypt_ige, direct[fastest][1]),
    ):
        speed_cells, ratio_cells = [], []
        for size in SIZES:
            payload = data[size]
            our_s, ratio = interleaved_ratio(
                lambda f=theirs, p=payload: f(p, key, iv),  # type: ignore[misc]
                lambda f=ours, p=payload: f(p, key, iv),  # type: ignore[misc]
                max(runs, 9),
            )
            speed_cells.append(f"{size / our_s / 1e6:12.1f}")
            ratio_cells.append(f"{ratio:12.3f}")
        print(f"{'loopgram.crypto ' + label:28}" + "".join(speed_cells))
        print(f"{'  ratio ours/' + fastest + ' ' + label:28}" + "".join(ratio_cells))
    print()


def bench_message(runs: int) -> None:
    print("MTProto 2.0 message, 100-byte plaintext, microseconds per operation")
    raw = os.urandom(256)
    key = message.AuthKey(raw)
    plaintext = os.urandom(100)
    packet = message.encrypt_message(key, plaintext, x=0)

    def round_trip() -> None:
        message.decrypt_message(key, message.encrypt_message(key, plaintext, x=0), x=0)

    rows: list[tuple[str, Callable[[], object]]] = [
        ("loopgram encrypt", lambda: message.encrypt_message(key, plaintext, x=0)),
        ("loopgram decrypt", lambda: message.decrypt_message(key, packet, x=0)),
        ("loopgram encrypt+decrypt", round_trip),
    ]
    state = _telethon_state(raw)
    if state is not None:
        # Telethon's client-side encryption; it also prepends salt and session id (16 bytes).
        body = plaintext[16:]
        rows.append(("telethon encrypt (peer)", lambda: state.encrypt_message_data(body)))
    for label, function in rows:
        print(f"  {label:28}{per_op_seconds(function, runs) * 1e6:9.2f}")
    print()


def _telethon_state(raw: bytes) -> Any:
    state_module = load("telethon.network.mtprotostate")
    authkey = load("telethon.crypto.authkey")
    if state_module is None or authkey is None:
        return None
    loggers: defaultdict[str, logging.Logger] = defaultdict(lambda: logging.getLogger("bench"))
    return state_module.MTProtoState(authkey.AuthKey(raw), loggers)


def bench_rsa(runs: int) -> None:
    print("RSA-2048 server decryption of p_q_inner_data (RSA_PAD), milliseconds")
    key = rsa.RsaPrivateKey.generate()
    encrypted = key.public_key.encrypt(os.urandom(96))
    for name in bigint.available_powmods():
        for secret in (True, False) if name == "gmpy2" else (False,):
            powmod = bigint.get_powmod(name, secret=secret)
            seconds = per_op_seconds(lambda p=powmod: key.decrypt(encrypted, powmod=p), runs)  # type: ignore[misc]
            flavour = "constant-time" if secret else "variable-time"
            default = bigint.get_powmod(secret=True) is powmod
            marker = " (default)" if default else ""
            print(f"  {name + ' CRT, ' + flavour + marker:40}{seconds * 1e3:9.3f}")
    seconds = per_op_seconds(lambda: key.public_key.encrypt(os.urandom(96)), runs)
    print(f"  {'client RSA_PAD encryption':40}{seconds * 1e3:9.3f}")
    print()


def bench_dh(runs: int) -> None:
    print("DH over Telegram's 2048-bit prime, milliseconds")
    _b, g_b = dh.generate_keypair()
    for name in bigint.available_powmods():
        powmod = bigint.get_powmod(name)
        keypair = per_op_seconds(lambda p=powmod: dh.generate_keypair(powmod=p), runs)  # type: ignore[misc]
        a, _g_a = dh.generate_keypair(powmod=powmod)
        shared = per_op_seconds(
            lambda p=powmod, a=a: dh.compute_shared(a, g_b, powmod=p),  # type: ignore[misc]
            runs,
        )
        print(f"  {name:14} keypair {keypair * 1e3:8.3f}   shared {shared * 1e3:8.3f}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography deprecates finite-field DH
        from cryptography.hazmat.primitives.asymmetric import dh as crypto_dh

        numbers = crypto_dh.DHParameterNumbers(dh.DH_PRIME, dh.DH_G)
        start = time.perf_counter()
        parameters = numbers.parameters()
        setup = time.perf_counter() - start
        keypair = per_op_seconds(parameters.generate_private_key, max(3, runs // 2))
        private = parameters.generate_private_key()

        def import_and_exchange() -> bytes:
            peer = crypto_dh.DHPublicNumbers(g_b, numbers).public_key()
            return private.exchange(peer)

        shared = per_op_seconds(import_and_exchange, 5)
    print(
        f"  {'cryptography':14} keypair {keypair * 1e3:8.3f}   shared {shared * 1e3:8.3f}"
        f"   (group setup {setup * 1e3:.0f} ms; peer import re-validates the group;"
        " private exponent not injectable)"
    )
    print()


def bench_pq(runs: int) -> None:
    print("pq factorisation (p, q in [2^30, 2^31)), milliseconds")
    values = [pq.generate_pq()[0] for _ in range(8)]
    for method in pq.available_factorizers():

        def factor_all(m: str = method) -> None:
            for value in values:
                pq.factorize_pq(value, method=m)

        print(f"  {method:14}{per_op_seconds(factor_all, runs) / len(values) * 1e3:9.3f}")
    seconds = per_op_seconds(pq.generate_pq, runs)
    print(f"  {'generate_pq':14}{seconds * 1e3:9.3f}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs instead of 7")
    args = parser.parse_args()
    runs = 5 if args.quick else RUNS
    machine()
    bench_aes(runs)
    bench_message(runs)
    bench_rsa(runs)
    bench_dh(runs)
    bench_pq(runs)


if __name__ == "__main__":
    main()
