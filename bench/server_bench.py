"""Benchmark of the server process: startup, memory, key exchanges over TCP.

Run from the repository root: ``python bench/server_bench.py`` (``--quick`` for a smoke run,
``--connections N`` to change the 1 000, ``--write`` to record the results in
``docs/benchmarks/server.md``). The loopgram package is byte-compiled first, as
``pip install`` does: a source checkout run under ``PYTHONDONTWRITEBYTECODE`` would otherwise
compile the ~6 MB of generated TL modules at every start, which costs ~0.6 s and leaves ~90 MB
of the compiler's freed memory in the process. The server always runs in its own process (this
script started with ``--child``), so that its RSS is its own; the clients run here, on
loopgram's sans-I/O ``ClientConnection`` over raw asyncio sockets (one process, one loop).

Rows (medians):

- startup: ``loopgram serve`` from process start to the port accepting a connection, first
  start of a data directory (RSA key generated) and a later one (goal < 1 s for both); and
  ``LoopgramServer.start()`` alone, in a process that has imported everything already;
- RSS of the idle server (goal < 60 MB), and with ``N`` authorised idle connections (each ran
  the key exchange, ``invokeWithLayer(initConnection(help.getConfig))`` and signed in as its
  own user), and per connection;
- key exchanges per second over loopback TCP, 16 at a time, each on a new connection (the
  server side is the cost: one RSA decryption and one 2048-bit exponentiation on its loop,
  the other one precomputed in a thread).
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import io
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import cpu_model
from _common import process_cpu_seconds as cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "benchmarks" / "server.md"
STARTUP_GOAL_S = 1.0
IDLE_RSS_GOAL_MB = 60.0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def machine() -> None:
    cpu = cpu_model()
    print(f"python   {platform.python_version()} ({platform.python_implementation()})")
    print(f"platform {platform.platform()}")
    print(f"cpu      {cpu}, {os.cpu_count()} logical CPUs")


# -- the server child ----------------------------------------------------------------------------


async def child(data: str) -> None:
    """Run a server; print ``port pem-path``; stop on SIGTERM."""
    import logging

    from loopgram.node import LoopgramServer

    logging.basicConfig(level=logging.WARNING)
    raise_fd_limit()
    server = LoopgramServer(data, port=0, synchronous="NORMAL")
    started = time.perf_counter()
    await server.start()
    elapsed = time.perf_counter() - started
    pem_path = Path(data) / "public.pem"
    pem_path.write_text(server.public_key_pem)
    print(f"{server.port} {pem_path} {elapsed:.6f}", flush=True)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(server.stop()))
    await server.serve_forever()


class ServerProcess:
    def __init__(self, data: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--child", data],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        self.port = int(line[0])
        self.pem = Path(line[1]).read_text()
        self.start_seconds = float(line[2])

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- startup -------------------------------------------------------------------------------------


def time_serve_startup(data: str) -> float:
    """Seconds from spawning ``loopgram serve`` to its port accepting a connection."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "loopgram.cli", "serve", "--port", "0", "--data", data],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        port = 0
        for line in process.stdout:
            if line.startswith("port: "):
                port = int(line.split()[1])
                break
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            elapsed = time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    return elapsed


# -- clients -------------------------------------------------------------------------------------


class Client(asyncio.Protocol):
    """One MTProto client connection: loopgram's ClientConnection over an asyncio socket."""

    def __init__(self, rsa_key: Any) -> None:
        from loopgram.mtproto.client_connection import ClientConnection
        from loopgram.transport import TransportKind

        self.connection = ClientConnection(rsa_keys=[rsa_key], transport=TransportKind.INTERMEDIATE)
        self.transport: asyncio.Transport | None = None
        self.keyed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.connection.start()
        transport.write(self.connection.data_to_send())

    def data_received(self, data: bytes) -> None:
        from loopgram.mtproto.events import HandshakeCompleted, RequestFailed, ResultReceived

        for event in self.connection.receive_data(data):
            if isinstance(event, HandshakeCompleted) and not self.keyed.done():
                self.keyed.set_result(None)
            elif isinstance(event, ResultReceived):
                future = self.waiting.pop(event.msg_id, None)
                if future is not None and not future.done():
                    if event.error is not None:
                        future.set_exception(RuntimeError(event.error.error_message))
                    else:
                        future.set_result(event.result)
            elif isinstance(event, RequestFailed):
                future = self.waiting.pop(event.msg_id, None)
                if future is not None and not future.done():
                    future.set_exception(RuntimeError(event.reason))
        out = self.connection.data_to_send(flush_acks=True)
        if out and self.transport is not None:
            self.transport.write(out)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("closed"))

    async def call(self, request: Any) -> Any:
        msg_id = self.connection.send_request(request)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting[msg_id] = future
        if self.transport is not None:
            self.transport.write(self.connection.data_to_send())
        return await asyncio.wait_for(future, 60)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_client(port: int, rsa_key: Any) -> Client:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: Client(rsa_key), "127.0.0.1", port)
    await asyncio.wait_for(client.keyed, 60)
    return client


def init(query: Any) -> Any:
    from loopgram.tl.functions import InitConnection, InvokeWithLayer
    from loopgram.tl.layers import NEWEST

    return InvokeWithLayer(
        layer=NEWEST,
        query=InitConnection(
            api_id=1,
            device_model="bench",
            system_version="1",
            app_version="1",
            system_lang_code="en",
            lang_pack="",
            lang_code="en",
            query=query,
        ),
    )


async def authorised_client(port: int, rsa_key: Any, phone: str) -> Client:
    from loopgram.tl import types
    from loopgram.tl.functions.auth import SendCode, SignIn
    from loopgram.tl.functions.help import GetConfig

    client = await open_client(port, rsa_key)
    await client.call(init(GetConfig()))
    sent = await client.call(
        SendCode(phone_number=phone, api_id=1, api_hash="x", settings=types.CodeSettings())
    )
    await client.call(
        SignIn(phone_number=phone, phone_code_hash=sent.phone_code_hash, phone_code="12345")
    )
    return client


async def key_exchanges_per_second(port: int, rsa_key: Any, count: int, parallel: int) -> float:
    semaphore = asyncio.Semaphore(parallel)

    async def one() -> None:
        async with semaphore:
            client = await open_client(port, rsa_key)
            client.close()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - started)


async def measure_connections(server: ServerProcess, n: int) -> tuple[float, float, float]:
    from loopgram.crypto import RsaPublicKey

    rsa_key = RsaPublicKey.from_pem(server.pem)
    idle = statistics.median(rss_mb(server.pid) for _ in range(3))
    clients: list[Client] = []
    semaphore = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        async with semaphore:
            clients.append(await authorised_client(server.port, rsa_key, f"+1666{i:07d}"))

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    setup = time.perf_counter() - started
    await asyncio.sleep(1.0)  # let the server settle (pools refilled, garbage collected)
    loaded = statistics.median(rss_mb(server.pid) for _ in range(3))
    for client in clients:
        client.close()
    await asyncio.gather(*(c.closed for c in clients))
    return idle, loaded, setup


# -- main ----------------------------------------------------------------------------------------


async def in_process_start(data: str, runs: int) -> float:
    from loopgram.node import LoopgramServer

    samples = []
    for _ in range(runs):
        server = LoopgramServer(data, port=0, synchronous="NORMAL")
        started = time.perf_counter()
        await server.start()
        samples.append(time.perf_counter() - started)
        await server.stop()
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke run")
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--child", metavar="DATA", help=argparse.SUPPRESS)
    parser.add_argument(
        "--write", action="store_true", help=f"also write the results to {RESULTS.name}"
    )
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child))
        return
    raise_fd_limit()
    import loopgram

    # What an installed package has: every module's bytecode on disk (see the docstring).
    compileall.compile_dir(Path(loopgram.__file__).parent, quiet=1)
    report = io.StringIO()
    out = sys.stdout
    if args.write:
        sys.stdout = Tee(out, report)
    try:
        measure(args)
    finally:
        sys.stdout = out
    if args.write:
        write_results(report.getvalue(), args)


class Tee(io.TextIOBase):
    """Print to the terminal and keep a copy for ``--write``."""

    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def write_results(text: str, args: argparse.Namespace) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    command = "python bench/server_bench.py --write" + (" --quick" if args.quick else "")
    RESULTS.write_text(
        "# Server process benchmark: startup, memory, key exchanges\n\n"
        f"Measured on {time.strftime('%Y-%m-%d')} by `{command}` (each `--write` run rewrites"
        " this file; the script's docstring says what is measured). Load average at the end:"
        f" {load}.\n\n```\n{text.rstrip()}\n```\n"
    )
    print(f"written to {RESULTS.relative_to(ROOT)}")


def measure(args: argparse.Namespace) -> None:
    runs = 1 if args.quick else 5
    n = 50 if args.quick else args.connections
    exchanges = 40 if args.quick else 300

    import importlib.metadata

    import gmpy2

    machine()
    print(f"gmpy2 {gmpy2.version()}, cryptg {importlib.metadata.version('cryptg')}")
    print()

    with tempfile.TemporaryDirectory() as tmp:
        firsts, agains = [], []
        for i in range(runs):
            data = str(Path(tmp) / f"startup{i}")
            firsts.append(time_serve_startup(data))
            agains.append(time_serve_startup(data))
        inside = asyncio.run(in_process_start(str(Path(tmp) / "startup0"), runs))
        first, again = statistics.median(firsts), statistics.median(agains)
        print("startup (median)")
        print(f"  loopgram serve, first start (RSA key made): {first * 1000:7.0f} ms")
        print(f"  loopgram serve, later start:                {again * 1000:7.0f} ms")
        print(f"  LoopgramServer.start() in process:          {inside * 1000:7.0f} ms")
        verdict = "met" if max(first, again) < STARTUP_GOAL_S else "MISSED"
        print(f"  goal: process start to listening < {STARTUP_GOAL_S * 1000:.0f} ms: {verdict}")
        print()

        server = ServerProcess(str(Path(tmp) / "rss"))
        try:
            idle, loaded, setup = asyncio.run(measure_connections(server, n))
            per = (loaded - idle) * 1024 / n
            print("memory (server process RSS, median of 3 samples)")
            verdict = "met" if idle < IDLE_RSS_GOAL_MB else "MISSED"
            print(
                f"  idle:                                       {idle:7.1f} MB"
                f"   goal < {IDLE_RSS_GOAL_MB:.0f} MB: {verdict}"
            )
            print(f"  with {n} authorised idle connections:     {loaded:7.1f} MB")
            print(f"  per connection:                             {per:7.1f} KB")
            print(f"  (setting them up took {setup:.1f} s: key exchange, initConnection, sign-in)")
            print()
        finally:
            server.stop()

        server = ServerProcess(str(Path(tmp) / "kx"))
        try:
            from loopgram.crypto import RsaPublicKey

            rsa_key = RsaPublicKey.from_pem(server.pem)
            rates, costs, client_costs = [], [], []
            for _ in range(1 if args.quick else 3):
                cpu = cpu_seconds(server.pid)
                own = time.process_time()
                rates.append(
                    asyncio.run(key_exchanges_per_second(server.port, rsa_key, exchanges, 16))
                )
                costs.append((cpu_seconds(server.pid) - cpu) / exchanges)
                client_costs.append((time.process_time() - own) / exchanges)
            cost = statistics.median(costs)
            client_cost = statistics.median(client_costs)
            print("key exchanges over loopback TCP, 16 at a time, new connection each")
            print(
                f"  measured:                                   {statistics.median(rates):7.0f} /s"
                f"   (the clients, in this process, cost {client_cost * 1000:.1f} ms each)"
            )
            print(
                f"  server CPU per exchange:                    {cost * 1000:7.1f} ms"
                f"   -> one server process sustains ~{1 / cost:.0f} /s"
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
