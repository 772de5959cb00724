"""Benchmark of the MTProto session layer (loopgram.mtproto.connection) against raw crypto.

Run from the repository root: ``python bench/session_bench.py`` (``--quick`` for fewer runs,
``--write`` to record the results in ``docs/benchmarks/session.md``).
The machine is printed first; every figure is the median of at least 5 timed runs.

What is timed: a client and a server Connection wired back to back in memory (abridged
transport, a shared auth key, the system clock and ``os.urandom`` as in production) run
RPCs in a loop: the client queues a ~100-byte query (``messages.setBotCallbackAnswer``
with an 80-character message), seals it, the server decrypts, checks and parses it into a
``RequestReceived``, answers ``boolTrue``, seals the answer with the ack of the query, and
the client decrypts and parses it into a ``ResultReceived`` (its ack of the answer rides
on the next query). Each role does one encryption and one decryption per RPC, so each
role's time per RPC is compared with the raw cost of encrypting plus decrypting one
message of the same size (``encrypt_message`` + ``decrypt_message``: KDF, SHA256 and AES
only) measured in the same run. The goal is a ratio of at most 2 (the session layer adds
at most as much again as the crypto it cannot avoid).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
from pathlib import Path

if importlib.util.find_spec("loopgram") is None:  # not installed: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import print_machine

from loopgram.crypto import AuthKey, decrypt_message, encrypt_message, get_backend
from loopgram.mtproto.client_connection import ClientConnection
from loopgram.mtproto.events import RequestReceived, ResultReceived
from loopgram.mtproto.salts import ServerSalts
from loopgram.mtproto.server_connection import ServerConnection
from loopgram.mtproto.store import KeyEntry, MemoryStore
from loopgram.tl import read
from loopgram.tl.functions.messages import SetBotCallbackAnswer
from loopgram.transport import ServerTransport, TransportKind, client_codec

RUNS = 7
BATCH = 2000
TRUE = b"\xb5\x75\x72\x99"  # boolTrue


def machine() -> None:
    print_machine()
    print(f"aes      {get_backend().name}")


def request() -> SetBotCallbackAnswer:
    return SetBotCallbackAnswer(query_id=1 << 60, message="x" * 80, alert=True, cache_time=0)


def pair() -> tuple[ClientConnection, ServerConnection]:
    key = AuthKey(os.urandom(256))
    store = MemoryStore()
    store.add_key(KeyEntry(key, ServerSalts(7, time.time(), os.urandom), time.time()))
    server = ServerConnection(store)
    client = ClientConnection(auth_key=key, transport=TransportKind.ABRIDGED, salt=7)
    client.start()
    return client, server


def rpc_batch(
    client: ClientConnection, server: ServerConnection, n: int
) -> tuple[float, float, float, float]:
    """Seconds per RPC: client send, server receive, server answer, client receive."""
    req = request()
    clock = time.perf_counter
    c_send = s_recv = s_send = c_recv = 0.0
    for _ in range(n):
        t0 = clock()
        client.send_request(req)
        up = client.data_to_send()
        t1 = clock()
        events = server.receive_data(up)
        t2 = clock()
        for event in events:
            if type(event) is RequestReceived:
                server.send_result(event.msg_id, TRUE)
        down = server.data_to_send()
        t3 = clock()
        answers = client.receive_data(down)
        t4 = clock()
        if type(answers[-1]) is not ResultReceived:
            raise RuntimeError(f"unexpected events {answers}")
        c_send += t1 - t0
        s_recv += t2 - t1
        s_send += t3 - t2
        c_recv += t4 - t3
    return c_send / n, s_recv / n, s_send / n, c_recv / n


def raw_batch(n: int, size: int) -> tuple[float, float]:
    """Seconds per raw encrypt and per raw decrypt of a ``size``-byte body (+32 header)."""
    key = AuthKey(os.urandom(256))
    plaintext = os.urandom(32 + size)
    padding = os.urandom(12 + (-(32 + size + 12) & 15))
    packet = encrypt_message(key, plaintext, x=0, padding=padding)
    clock = time.perf_counter
    t0 = clock()
    for _ in range(n):
        encrypt_message(key, plaintext, x=0, padding=padding)
    t1 = clock()
    for _ in range(n):
        decrypt_message(key, packet, x=0)
    t2 = clock()
    return (t1 - t0) / n, (t2 - t1) / n


def layers_batch(n: int) -> tuple[float, float]:
    """Seconds per one-way query spent below and above the session layer, measured alone:
    TL (serialise the query, parse it back) and framing (abridged encode, server feed)."""
    req = request()
    body = bytes(req)
    packet = os.urandom(24 + 16 * ((32 + len(body) + 12 + 15) // 16))
    codec = client_codec(TransportKind.ABRIDGED)
    server = ServerTransport()
    server.feed(codec.encode(packet))
    frame = codec.encode(packet)
    clock = time.perf_counter
    t0 = clock()
    for _ in range(n):
        read(bytes(req))
    t1 = clock()
    for _ in range(n):
        codec.encode(packet)
        server.feed(frame)
    t2 = clock()
    return (t1 - t0) / n, (t2 - t1) / n


RESULTS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "session.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs of fewer RPCs")
    parser.add_argument(
        "--write", action="store_true", help=f"also write the results to {RESULTS.name}"
    )
    args = parser.parse_args()
    runs = 5 if args.quick else RUNS
    n = BATCH // 4 if args.quick else BATCH
    load = os.getloadavg()
    machine()
    print(f"load     {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} (1, 5, 15 min, at start)")
    size = len(bytes(request()))
    print(f"query    {type(request()).__name__}, {size} bytes; answer boolTrue")
    print(f"runs     {runs} x {n} RPCs, median reported")
    print()
    client, server = pair()
    rpc_batch(client, server, 200)  # warm up: salt, new_session_created, caches
    raw_batch(200, size)
    samples: list[tuple[float, ...]] = []
    for _ in range(runs):
        # Interleave raw and session runs so that both see the same machine state.
        samples.append(rpc_batch(client, server, n) + raw_batch(n, size) + layers_batch(n))
    c_send, s_recv, s_send, c_recv, enc, dec, tl, framing = (
        statistics.median(column) for column in zip(*samples, strict=True)
    )
    if server.dropped or client.dropped:
        raise RuntimeError("packets were dropped during the benchmark")
    raw = enc + dec
    client_rpc = c_send + c_recv
    server_rpc = s_recv + s_send
    one_way = c_send + s_recv
    session = one_way - raw - tl - framing
    us = 1e6
    print(f"raw crypto + KDF, {size}-byte body: encrypt {enc * us:.2f} us,", end=" ")
    print(f"decrypt {dec * us:.2f} us")
    print(f"  = {raw * us:.2f} us per encrypt + decrypt")
    print()
    print(f"{'role':<8}{'per RPC':>10}{'RPC/s':>12}{'ratio to raw':>15}   detail")
    print(
        f"{'client':<8}{client_rpc * us:>8.2f}us{1 / client_rpc:>12,.0f}{client_rpc / raw:>15.2f}"
        f"   send+seal {c_send * us:.2f} us, open+parse result {c_recv * us:.2f} us"
    )
    print(
        f"{'server':<8}{server_rpc * us:>8.2f}us{1 / server_rpc:>12,.0f}{server_rpc / raw:>15.2f}"
        f"   open+parse query {s_recv * us:.2f} us, answer+seal {s_send * us:.2f} us"
    )
    print()
    print(
        f"one {size}-byte query, client seal + server open and parse: {one_way * us:.2f} us", end=""
    )
    print(f" = {one_way / raw:.2f}x raw; of which")
    print(f"  raw crypto + KDF      {raw * us:6.2f} us")
    print(f"  TL serialise + parse  {tl * us:6.2f} us  (loopgram.tl, measured alone)")
    print(f"  framing encode + feed {framing * us:6.2f} us  (loopgram.transport, measured alone)")
    print(f"  session layer         {session * us:6.2f} us  = {session / raw:.2f}x raw")
    print("goal: ratio <= 2.0 for each role")
    if args.write:
        verdict = {True: "PASS", False: "FAIL"}
        rows = [
            (
                "client",
                client_rpc,
                f"send+seal {c_send * us:.2f} us, open+parse {c_recv * us:.2f} us",
            ),
            (
                "server",
                server_rpc,
                f"open+parse {s_recv * us:.2f} us, answer+seal {s_send * us:.2f} us",
            ),
        ]
        lines = [
            "# Session layer benchmark: one RPC through loopgram.mtproto, per role",
            "",
            f"Measured on {time.strftime('%Y-%m-%d')} by `python bench/session_bench.py --write`"
            " (each `--write` run rewrites this file; see the script's docstring for what is"
            " timed). Every figure is the median of"
            f" {runs} timed runs of {n} RPCs; raw-crypto runs are interleaved with the session"
            " runs so that both see the same machine load.",
            "",
            f"- platform: {platform.platform()}",
            f"- python: {platform.python_version()} ({platform.python_implementation()})",
            f"- cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs",
            f"- load average at start: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}",
            f"- AES backend: {get_backend().name}",
            f"- query: {type(request()).__name__}, {size} bytes; answer: boolTrue",
            "",
            f"Raw crypto + KDF (`encrypt_message` + `decrypt_message` of a {size}-byte body):"
            f" encrypt {enc * us:.2f} us + decrypt {dec * us:.2f} us = **{raw * us:.2f} us**.",
            "",
            "| role | per RPC | RPC/s | ratio to raw | goal | | detail |",
            "| --- | ---: | ---: | ---: | ---: | --- | --- |",
        ]
        for role, per_rpc, detail in rows:
            ratio = per_rpc / raw
            lines.append(
                f"| {role} | {per_rpc * us:.2f} us | {1 / per_rpc:,.0f} | {ratio:.2f}x | <= 2.0x"
                f" | {verdict[ratio <= 2.0]} | {detail} |"
            )
        lines += [
            "",
            f"One query one way (client seal + server open and parse): {one_way * us:.2f} us"
            f" = {one_way / raw:.2f}x raw, of which raw crypto + KDF {raw * us:.2f} us,"
            f" TL serialise + parse {tl * us:.2f} us, framing {framing * us:.2f} us (both"
            f" measured alone) and the session layer {session * us:.2f} us"
            f" ({session / raw:.2f}x raw).",
            "",
        ]
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        notes = ""
        if RESULTS.exists():
            # Hand-written notes below the marker survive a rewrite.
            old = RESULTS.read_text(encoding="utf-8")
            if NOTES_MARKER in old:
                notes = old[old.index(NOTES_MARKER) :]
        RESULTS.write_text("\n".join(lines) + ("\n" + notes if notes else ""), encoding="utf-8")
        print(f"written to {RESULTS}")


NOTES_MARKER = "<!-- notes: kept by --write -->"


if __name__ == "__main__":
    main()
