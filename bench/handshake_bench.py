"""Benchmark: server auth key exchanges per second on one core (MTProto layer, mtproto/auth_key).

A :class:`~loopgram.mtproto.handshake.ClientHandshake` and a
:class:`~loopgram.mtproto.handshake.ServerHandshake` run back to back in one thread; only the
time spent inside ``ServerHandshake.receive`` is counted as server time, the client's share
is reported separately. Two server configurations are compared:

* ``inline``: the server draws its DH pair ``(a, g_a)`` and its ``pq`` during the exchange;
* ``precomputed``: both come from :class:`~loopgram.mtproto.handshake.PrecomputedPool`,
  filled before the timed run (what a driver does at idle time); the fill cost is printed.

Each configuration runs ``--runs`` times (median reported). The issue's goal is >= 200
server exchanges per second; pure Python was measured at ~22/s.

    /work/venv/bin/python bench/handshake_bench.py [--runs 7] [--exchanges 100]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from loopgram.clock import FakeClock, seeded_random
from loopgram.crypto import (
    SERVER_EXPONENT_BITS,
    RsaPrivateKey,
    generate_keypair,
    generate_pq,
    get_backend,
)
from loopgram.crypto.bigint import available_powmods
from loopgram.crypto.pq import available_factorizers
from loopgram.mtproto.handshake import (
    ClientHandshake,
    HandshakeResult,
    KeypairProvider,
    PqProvider,
    PrecomputedPool,
    ServerHandshake,
)

GOAL_PER_SECOND = 200.0
STEPS = ("req_pq_multi", "req_DH_params", "set_client_DH_params")


@dataclass
class RunTimes:
    """Seconds spent in one run, per side and per server step."""

    exchanges: int
    server: float
    client: float
    steps: list[float]

    @property
    def server_rate(self) -> float:
        return self.exchanges / self.server


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> list[str]:
    try:
        gmpy2 = importlib.import_module("gmpy2")
        gmp = f"gmpy2 {gmpy2.version()} ({gmpy2.mp_version()})"
    except ImportError:
        gmp = "gmpy2 not installed (pure-Python pow)"
    python = f"{sys.version.split()[0]} {platform.python_implementation()}"
    return [
        f"cpu: {cpu_model()} ({os.cpu_count()} logical CPUs; this benchmark uses one thread)",
        f"python: {python} on {platform.platform()}",
        f"bigint: {gmp}; powmod backends {', '.join(available_powmods())}",
        f"AES-IGE backend: {get_backend().name}; "
        f"pq factorizers {', '.join(available_factorizers())}",
        f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


def one_run(
    key: RsaPrivateKey,
    exchanges: int,
    seed: int,
    keypair: KeypairProvider | None,
    pq: PqProvider | None,
) -> RunTimes:
    clock = FakeClock()
    random_bytes = seeded_random(seed)
    server_time = client_time = 0.0
    steps = [0.0] * len(STEPS)
    perf = time.perf_counter
    for index in range(exchanges):
        server = ServerHandshake(
            rsa_keys=[key], clock=clock, random_bytes=random_bytes, keypair=keypair, pq=pq
        )
        client = ClientHandshake(
            rsa_keys=[key.public_key], clock=clock, random_bytes=seeded_random(seed + index)
        )
        started = perf()
        request = client.start()
        client_time += perf() - started
        step_index = 0
        while True:
            started = perf()
            reply = server.receive(request).reply
            spent = perf() - started
            server_time += spent
            steps[min(step_index, len(STEPS) - 1)] += spent
            step_index += 1
            started = perf()
            out = client.receive(reply)
            client_time += perf() - started
            if isinstance(out, HandshakeResult):
                break
            request = out
    return RunTimes(exchanges, server_time, client_time, steps)


def measure(
    name: str,
    key: RsaPrivateKey,
    runs: int,
    exchanges: int,
    providers: Callable[[int], tuple[KeypairProvider | None, PqProvider | None]],
) -> float:
    results: list[RunTimes] = []
    for run in range(runs):
        keypair, pq = providers(run)
        gc.collect()
        gc.disable()
        try:
            results.append(one_run(key, exchanges, 1000 * run + 1, keypair, pq))
        finally:
            gc.enable()
    rates = sorted(r.server_rate for r in results)
    median = statistics.median(rates)
    mid = sorted(results, key=lambda r: r.server_rate)[len(results) // 2]
    per_step = ", ".join(
        f"{step} {1000 * spent / mid.exchanges:.2f} ms"
        for step, spent in zip(STEPS, mid.steps, strict=True)
    )
    print(f"\n{name}:")
    print(
        f"  server: median {median:7.1f} exchanges/s "
        f"({1000 / median:.2f} ms each; runs {', '.join(f'{r:.1f}' for r in rates)})"
    )
    print(f"  server time per step (median run): {per_step}")
    print(f"  client (not counted): {1000 * mid.client / mid.exchanges:.2f} ms per exchange")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per configuration (>= 5)")
    parser.add_argument("--exchanges", type=int, default=100, help="exchanges per run")
    args = parser.parse_args()
    runs = max(args.runs, 5)
    exchanges = max(args.exchanges, 1)

    print("loopgram server key exchange benchmark")
    for line in machine_info():
        print(f"  {line}")
    print(f"  {runs} runs x {exchanges} exchanges per configuration; server time only")
    key = RsaPrivateKey.generate()

    inline = measure(
        "inline (a, g_a and pq computed during the exchange)",
        key,
        runs,
        exchanges,
        lambda _run: (None, None),
    )

    fill_seconds: list[float] = []

    def pools(run: int) -> tuple[KeypairProvider, PqProvider]:
        random_bytes = seeded_random(7 + run)
        keypairs = PrecomputedPool(
            lambda: generate_keypair(random_bytes, bits=SERVER_EXPONENT_BITS), size=exchanges
        )
        pqs = PrecomputedPool(lambda: generate_pq(random_bytes), size=exchanges)
        started = time.perf_counter()
        keypairs.fill()
        pqs.fill()
        fill_seconds.append(time.perf_counter() - started)
        return keypairs.take, pqs.take

    precomputed = measure(
        "precomputed (a, g_a and pq from pools filled before the run)", key, runs, exchanges, pools
    )
    fill_ms = 1000 * statistics.median(fill_seconds) / exchanges
    print(f"  pool fill (off the critical path): {fill_ms:.2f} ms per (keypair + pq)")

    print("\nsummary:")
    print(f"  inline      {inline:7.1f}/s")
    print(f"  precomputed {precomputed:7.1f}/s  ({precomputed / inline:.2f}x inline)")
    verdict = "met" if precomputed >= GOAL_PER_SECOND else "NOT met"
    print(f"  goal >= {GOAL_PER_SECOND:.0f}/s with precomputation: {verdict}")
    print(f"  vs pure Python ~22/s: {precomputed / 22:.1f}x")


if __name__ == "__main__":
    main()
