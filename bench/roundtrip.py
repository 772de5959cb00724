"""End-to-end benchmark: callback round trips (press -> answer received) on one loopgram server.

Run from the repository root: ``python bench/roundtrip.py`` (``--quick`` for a short run,
``--write docs/benchmarks/roundtrip.md`` to record the results). Not a timed test.

Two processes, as a deployment would have them: the server (a ``LoopgramServer`` on a
temporary SQLite data directory, plus a bare asyncio relay for the floor) in a child process,
and all the clients -- N users and one bot -- in this one. In the same run, for N = 1, 10 and
100 concurrent users, each pressing a callback button of its own keyboard message in a loop:

(a) floor: the same pattern and message sizes with no MTProto and no server logic -- each user
    writes a frame the size of its encrypted ``getBotCallbackAnswer``, the relay sends the bot
    a frame the size of the ``updateBotCallbackQuery`` packet, the bot answers with a frame the
    size of its ``setBotCallbackAnswer``, the relay sends the bot its ``boolTrue`` and the user
    the ``botCallbackAnswer``. Sizes are measured on loopgram's own packets first. This is what
    asyncio and the loopback interface cost between these two processes.
(b) loopgram: ``await message.press(0, 0)`` by each user, ``@bot.on_callback_query`` answering
    with ``await query.answer(...)`` (cache_time 0: every press reaches the bot).
(c) Telethon 1.x: each user sends ``GetBotCallbackAnswerRequest`` (what ``message.click``
    sends), the bot answers in an ``events.CallbackQuery`` handler with ``event.answer(...)``.

Each measurement runs ``--duration`` seconds after a warm-up; the three libraries take turns
within every repetition and the table shows the median of ``--runs`` repetitions:
round trips per second (all users together) and the p50/p99 latency of one press. Ratios:
b/a (loopgram against the floor) and b/c (loopgram against Telethon).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib.util
import io
import json
import logging
import os
import platform
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

if importlib.util.find_spec("loopgram") is None:  # not installed: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import cpu_model, percentile, process_cpu_seconds

from loopgram.client import Button, CallbackQuery, Client, Message

LEVELS = (1, 10, 100)
HOST = "127.0.0.1"
LG_BOT = "lgbenchbot"
TL_BOT = "tlbenchbot"
_LEN = struct.Struct("<I")
_IDX = struct.Struct("<I")

Press = Callable[[], Awaitable[object]]


# -- the server process -------------------------------------------------------------------------


class _RelayLink(asyncio.Protocol):
    """Floor relay, server side: a framed connection of a user or of the bot."""

    def __init__(self, relay: _Relay) -> None:
        self.relay = relay
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        import socket

        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while len(buf) >= 4:
            (n,) = _LEN.unpack_from(buf)
            if len(buf) < 4 + n:
                break
            frame = bytes(buf[4 : 4 + n])
            del buf[: 4 + n]
            self.relay.frame(self, frame)


class _Relay:
    """Frames: ``U idx`` registers user idx, ``B`` the bot; a user's frame (first 5 bytes
    ``P idx``) goes to the bot as a frame of the update's size; the bot's ``A idx`` frame
    sends the bot a result-sized frame and the user an answer-sized frame."""

    def __init__(self) -> None:
        self.users: dict[int, _RelayLink] = {}
        self.bot: _RelayLink | None = None
        self.sizes = {"update": 64, "result": 64, "answer": 64}

    def frame(self, link: _RelayLink, frame: bytes) -> None:
        kind = frame[:1]
        if kind == b"P":
            idx = frame[1:5]
            bot = self.bot
            if bot is not None and bot.transport is not None:
                bot.transport.write(_framed(b"Q" + idx, self.sizes["update"]))
        elif kind == b"A":
            (idx,) = _IDX.unpack_from(frame, 1)
            bot = self.bot
            if bot is not None and bot.transport is not None:
                bot.transport.write(_framed(b"R", self.sizes["result"]))
            user = self.users.get(idx)
            if user is not None and user.transport is not None:
                user.transport.write(_framed(b"N", self.sizes["answer"]))
        elif kind == b"U":
            self.users[_IDX.unpack_from(frame, 1)[0]] = link
        elif kind == b"B":
            self.bot = link
        elif kind == b"S":
            self.sizes = json.loads(frame[1:])


def _framed(head: bytes, size: int) -> bytes:
    body = head + bytes(max(0, size - 4 - len(head)))
    return _LEN.pack(len(body)) + body


async def _serve(profile: str | None) -> None:
    from loopgram.node import LoopgramServer
    from loopgram.server import Rate, ServerConfig

    logging.basicConfig(level=logging.WARNING)
    # The default flood limit (100 calls/s per account and method) would cap the one bot at
    # 100 answers/s: this measures round trips, not the flood policy.
    config = ServerConfig(flood_default=Rate(per_second=1e9, burst=10**9))
    relay = _Relay()
    loop = asyncio.get_running_loop()
    echo = await loop.create_server(lambda: _RelayLink(relay), HOST, 0)
    with tempfile.TemporaryDirectory(prefix="loopgram-bench-") as data_dir:
        storage_dir = None if os.environ.get("LOOPGRAM_BENCH_MEMORY") else data_dir
        async with LoopgramServer(data_dir=storage_dir, host=HOST, port=0, config=config) as server:
            facts = {
                "port": server.port,
                "echo_port": echo.sockets[0].getsockname()[1],
                "pem": server.public_key_pem,
                "lg_token": server.create_bot(LG_BOT),
                "tl_token": server.create_bot(TL_BOT),
            }
            print(json.dumps(facts), flush=True)
            await serve_commands(profile)
    echo.close()


async def serve_commands(profile: str | None, answer: Callable[[bytes], str] | None = None) -> None:
    """The server child's command loop on stdin, one answer line per command:
    "profile-on" / "profile-off [FILE]" (cProfile into ``profile`` or FILE), others to
    ``answer``; EOF stops."""
    loop = asyncio.get_running_loop()
    profiler = None
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).strip():
        reply = "ok"
        if line == b"profile-on" and profile:
            import cProfile

            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
        elif line.startswith(b"profile-off") and profiler is not None and profile:
            profiler.disable()
            # "profile-off FILE" names another file than the default.
            profiler.dump_stats(line[len(b"profile-off ") :].decode() or profile)
            profiler = None
        elif answer is not None and not line.startswith(b"profile-"):
            reply = answer(line)
        print(reply, flush=True)


# -- floor clients --------------------------------------------------------------------------------


class _FloorLink(asyncio.Protocol):
    def __init__(self, on_frame: Callable[[bytes], None]) -> None:
        self.on_frame = on_frame
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        import socket

        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while len(buf) >= 4:
            (n,) = _LEN.unpack_from(buf)
            if len(buf) < 4 + n:
                break
            frame = bytes(buf[4 : 4 + n])
            del buf[: 4 + n]
            self.on_frame(frame)


@dataclass
class Sizes:
    press: int
    update: int
    answer_call: int
    result: int
    answer: int


class Floor:
    """The floor's clients: users that write a press-sized frame and wait for the answer,
    a bot that answers every update-sized frame at once."""

    def __init__(self, port: int, sizes: Sizes) -> None:
        self.port = port
        self.sizes = sizes
        self.links: list[_FloorLink] = []
        self.waiters: dict[int, asyncio.Future[None]] = {}

    async def start(self, users: int) -> list[Press]:
        loop = asyncio.get_running_loop()
        sizes = self.sizes

        def bot_frame(frame: bytes) -> None:
            if frame[:1] == b"Q":
                bot.transport.write(_framed(b"A" + frame[1:5], sizes.answer_call))  # type: ignore[union-attr]

        _, bot = await loop.create_connection(lambda: _FloorLink(bot_frame), HOST, self.port)
        self.links.append(bot)
        assert bot.transport is not None
        bot.transport.write(_framed(b"B", 5))
        setup = {"update": sizes.update, "result": sizes.result, "answer": sizes.answer}
        payload = b"S" + json.dumps(setup).encode()
        bot.transport.write(_LEN.pack(len(payload)) + payload)
        presses: list[Press] = []
        for idx in range(users):

            def user_frame(frame: bytes, idx: int = idx) -> None:
                waiter = self.waiters.pop(idx, None)
                if waiter is not None:
                    waiter.set_result(None)

            _, link = await loop.create_connection(
                functools.partial(_FloorLink, user_frame), HOST, self.port
            )
            self.links.append(link)
            assert link.transport is not None
            link.transport.write(_framed(b"U" + _IDX.pack(idx), 8))
            presses.append(self._press_of(idx, link))
        await asyncio.sleep(0.05)
        return presses

    def _press_of(self, idx: int, link: _FloorLink) -> Press:
        frame = _framed(b"P" + _IDX.pack(idx), self.sizes.press)
        loop = asyncio.get_running_loop()

        async def press() -> None:
            waiter = loop.create_future()
            self.waiters[idx] = waiter
            link.transport.write(frame)  # type: ignore[union-attr]
            await waiter

        return press

    def close(self) -> None:
        for link in self.links:
            if link.transport is not None:
                link.transport.close()


# -- loopgram clients ---------------------------------------------------------------------------


class LoopgramSide:
    def __init__(self, facts: dict[str, Any]) -> None:
        self.facts = facts
        self.bot = self._client()
        self.users: list[tuple[int, Client]] = []
        self.messages: list[Message] = []
        self.calibration_presses = 0

    def _client(self) -> Client:
        return Client(host=HOST, port=self.facts["port"], public_key=self.facts["pem"])

    async def setup(self, users: int) -> None:
        await self.bot.start(bot_token=self.facts["lg_token"])

        @self.bot.on_callback_query()
        async def answer(query: CallbackQuery) -> None:
            await query.answer("ok", cache_time=0)

        inboxes: dict[int, asyncio.Queue[Message]] = {}

        async def login(i: int) -> None:
            client = self._client()
            await client.start(phone=f"+1555100{i:04d}", code="12345")
            inbox: asyncio.Queue[Message] = asyncio.Queue()
            inboxes[i] = inbox

            @client.on_message()
            async def record(message: Message) -> None:
                if not message.out:
                    await inbox.put(message)

            await client.send_message(LG_BOT, "/start")
            self.users.append((i, client))

        await asyncio.gather(*(login(i) for i in range(users)))
        self.users.sort(key=lambda pair: pair[0])
        keyboard = [[Button.callback("Press", b"p")]]
        for i, client in self.users:
            while self.bot.session.get_peer(client.me_id) is None:
                await asyncio.sleep(0.01)
            await self.bot.send_message(client.me_id, "bench", buttons=keyboard)
            self.messages.append(await asyncio.wait_for(inboxes[i].get(), 10))

    def presses(self, n: int) -> list[Press]:
        return [functools.partial(m.press, 0, 0) for m in self.messages[:n]]

    def frame_sizes(self) -> Sizes:
        """Bytes per round trip of each leg, from the clients' counters (after a loop)."""
        user = self.users[0][1].sender
        bot = self.bot.sender
        presses = self.calibration_presses
        result = 92  # intermediate framing of an rpc_result carrying boolTrue
        return Sizes(
            press=round(user.bytes_sent / presses),
            update=round(bot.bytes_received / presses) - result,
            answer_call=round(bot.bytes_sent / presses),
            result=result,
            answer=round(user.bytes_received / presses),
        )

    async def calibrate(self) -> Sizes:
        client = self.users[0][1]
        message = self.messages[0]
        await message.press(0, 0)
        user, bot = client.sender, self.bot.sender
        for s in (user, bot):
            s.bytes_sent = s.bytes_received = 0
        self.calibration_presses = 200
        for _ in range(self.calibration_presses):
            await message.press(0, 0)
        return self.frame_sizes()

    async def close(self) -> None:
        for _, client in self.users:
            await client.disconnect()
        await self.bot.disconnect()


# -- Telethon clients ---------------------------------------------------------------------------


class TelethonSide:
    def __init__(self, facts: dict[str, Any]) -> None:
        self.facts = facts
        self.bot: Any = None
        self.users: list[Any] = []
        self.targets: list[tuple[Any, Any, int]] = []

    def _client(self) -> Any:
        from telethon import TelegramClient  # type: ignore[import-untyped]
        from telethon.crypto import rsa as telethon_rsa  # type: ignore[import-untyped]
        from telethon.sessions import MemorySession  # type: ignore[import-untyped]

        # Telethon 1.45 takes the PKCS#1 PEM the server prints.
        telethon_rsa.add_key(self.facts["pem"], old=False)
        session = MemorySession()
        session.set_dc(2, HOST, self.facts["port"])
        client = TelegramClient(session, api_id=1, api_hash="bench", receive_updates=True)
        return client

    async def setup(self, users: int) -> None:
        from telethon import Button, events
        from telethon.tl.functions.messages import (  # type: ignore[import-untyped]
            GetBotCallbackAnswerRequest,
        )

        self.bot = self._client()
        with contextlib.redirect_stdout(io.StringIO()):
            await self.bot.start(bot_token=self.facts["tl_token"])

        @self.bot.on(events.CallbackQuery)  # type: ignore[untyped-decorator]
        async def answer(event: Any) -> None:
            await event.answer("ok", cache_time=0)

        async def login(i: int) -> None:
            client = self._client()
            await client.start(phone=f"+1555200{i:04d}", code_callback=lambda: "12345")
            await client.send_message(TL_BOT, "/start")
            self.users.append((i, client))

        # Telethon greets every login on standard output; one redirection around them all
        # (redirect_stdout swaps a global: it must not nest across concurrent tasks).
        with contextlib.redirect_stdout(io.StringIO()):
            await asyncio.gather(*(login(i) for i in range(users)))
        self.users.sort(key=lambda pair: pair[0])
        bot_me = await self.bot.get_me()
        for _i, client in self.users:
            me = await client.get_me()
            for _ in range(500):
                try:
                    entity = await self.bot.get_input_entity(me.id)
                    break
                except ValueError:
                    await asyncio.sleep(0.01)
            await self.bot.send_message(entity, "bench", buttons=[[Button.inline("Press", b"p")]])
            message = None
            for _ in range(500):
                (message,) = await client.get_messages(bot_me.username, limit=1)
                if message is not None and message.buttons:
                    break
                await asyncio.sleep(0.01)
            assert message is not None
            peer = await client.get_input_entity(bot_me.username)
            self.targets.append((client, peer, message.id))
        self._request = GetBotCallbackAnswerRequest

    def presses(self, n: int) -> list[Press]:
        request = self._request
        return [
            functools.partial(c, request(peer=p, msg_id=m, data=b"p"))
            for c, p, m in self.targets[:n]
        ]

    async def close(self) -> None:
        for _, client in self.users:
            await client.disconnect()
        if self.bot is not None:
            await self.bot.disconnect()


# -- measuring ------------------------------------------------------------------------------------


@dataclass
class Sample:
    rate: float
    p50: float
    p99: float
    client_us: float = 0.0
    """CPU time of the clients' process per round trip, in microseconds."""
    server_us: float = 0.0
    """CPU time of the server's process per round trip, in microseconds."""


@dataclass
class Result:
    samples: list[Sample] = field(default_factory=list)

    def median(self) -> Sample:
        return Sample(
            statistics.median(s.rate for s in self.samples),
            statistics.median(s.p50 for s in self.samples),
            statistics.median(s.p99 for s in self.samples),
            statistics.median(s.client_us for s in self.samples),
            statistics.median(s.server_us for s in self.samples),
        )


async def measure(
    presses: list[Press], duration: float, warmup: float, server_cpu: Callable[[], float]
) -> Sample:
    latencies: list[float] = []
    stop = False
    clock = time.perf_counter

    async def loop(press: Press) -> None:
        while not stop:
            started = clock()
            await press()
            latencies.append(clock() - started)

    tasks = [asyncio.create_task(loop(p)) for p in presses]
    await asyncio.sleep(warmup)
    latencies.clear()
    started = clock()
    cpu, server = time.process_time(), server_cpu()
    await asyncio.sleep(duration)
    done = len(latencies)
    elapsed = clock() - started
    cpu, server = time.process_time() - cpu, server_cpu() - server
    window = latencies[:done]
    stop = True
    await asyncio.gather(*tasks)
    return Sample(
        done / elapsed,
        percentile(window, 0.5) * 1e3,
        percentile(window, 0.99) * 1e3,
        cpu / done * 1e6,
        server / done * 1e6,
    )


# -- the run --------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = cpu_model()
    import telethon

    from loopgram.crypto import get_backend

    return {
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": platform.platform(),
        "cpu": f"{cpu}, {os.cpu_count()} logical CPUs",
        "aes": get_backend().name,
        "telethon": telethon.__version__,
    }


class ServerProcess:
    """The server child: ``script --serve`` (this file's by default), whose first line of
    output is the JSON of its facts."""

    def __init__(
        self, profile: str | None, script: str = __file__, extra: Sequence[str] = ()
    ) -> None:
        args = [sys.executable, script, "--serve", *extra]
        if profile:
            args += ["--profile-server", profile]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert self.proc.stdout is not None
        self.facts: dict[str, Any] = json.loads(self.proc.stdout.readline())

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.proc.pid)

    async def settle(self, limit: float = 120.0) -> None:
        """Wait until the server is idle: after many logins it refills its pools of DH
        keypairs and pq in worker threads, which would share its CPU with the measurement."""
        if not Path(f"/proc/{self.proc.pid}/stat").exists():
            return
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            await asyncio.sleep(0.5)
            if self.cpu_seconds() - before < 0.05:
                return

    def command(self, line: str) -> str:
        """Send one command line; its answer line."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # our own child, by its handle
            self.proc.wait(5)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    levels = tuple(int(x) for x in args.users.split(","))
    server = ServerProcess(args.profile_server)
    facts = server.facts
    names = ["floor", "loopgram"] + ([] if args.no_telethon else ["telethon"])
    results: dict[tuple[str, int], Result] = {(n, lv): Result() for n in names for lv in levels}
    lg = LoopgramSide(facts)
    tl = TelethonSide(facts)
    floor: Floor | None = None
    try:
        top = max(levels)
        started = time.perf_counter()
        await lg.setup(top)
        sizes = await lg.calibrate()
        print(f"loopgram: {top} users and a bot ready in {time.perf_counter() - started:.1f} s")
        print(f"frame sizes (bytes per round trip): {sizes}")
        if not args.no_telethon:
            started = time.perf_counter()
            await tl.setup(top)
            print(f"telethon: {top} users and a bot ready in {time.perf_counter() - started:.1f} s")
        await server.settle()
        floor = Floor(facts["echo_port"], sizes)
        floor_presses = await floor.start(top)
        for level in levels:
            for run_no in range(args.runs):
                for name in names:
                    if name == "floor":
                        presses = floor_presses[:level]
                    elif name == "loopgram":
                        presses = lg.presses(level)
                    else:
                        presses = tl.presses(level)
                    profiling = args.profile_server and name == "loopgram" and level == top
                    if profiling and run_no == 0:
                        server.command("profile-on")
                    client_profiler = None
                    if args.profile_clients and name == "loopgram" and level == top and not run_no:
                        import cProfile

                        client_profiler = cProfile.Profile(time.process_time)
                        client_profiler.enable()
                    sample = await measure(presses, args.duration, args.warmup, server.cpu_seconds)
                    if client_profiler is not None:
                        client_profiler.disable()
                        client_profiler.dump_stats(args.profile_clients)
                    if profiling and run_no == 0:
                        server.command("profile-off")
                    results[(name, level)].samples.append(sample)
                    print(
                        f"  {level:>3} users  {name:<9} run {run_no + 1}: "
                        f"{sample.rate:8.0f} rt/s  p50 {sample.p50:6.2f} ms  "
                        f"p99 {sample.p99:6.2f} ms"
                        f"  cpu/rt: clients {sample.client_us:4.0f} us, "
                        f"server {sample.server_us:4.0f} us",
                        flush=True,
                    )
    finally:
        if floor is not None:
            floor.close()
        await lg.close()
        if not args.no_telethon:
            await tl.close()
        server.stop()
    return {"levels": levels, "names": names, "results": results, "sizes": sizes}


def report(info: dict[str, str], outcome: dict[str, Any], args: argparse.Namespace) -> str:
    levels: tuple[int, ...] = outcome["levels"]
    names: list[str] = outcome["names"]
    results: dict[tuple[str, int], Result] = outcome["results"]
    lines = [
        "| users | library | round trips/s | p50 ms | p99 ms "
        "| client CPU µs/rt | server CPU µs/rt |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    medians = {key: r.median() for key, r in results.items()}
    for level in levels:
        for name in names:
            m = medians[(name, level)]
            label = {"floor": "(a) floor", "loopgram": "(b) loopgram", "telethon": "(c) Telethon"}[
                name
            ]
            lines.append(
                f"| {level} | {label} | {m.rate:,.0f} | {m.p50:.2f} | {m.p99:.2f} "
                f"| {m.client_us:.0f} | {m.server_us:.0f} |"
            )
    lines += [
        "",
        "| users | b/a (loopgram / floor) | b/c (loopgram / Telethon) |",
        "|---:|---:|---:|",
    ]
    for level in levels:
        b = medians[("loopgram", level)].rate
        a = medians[("floor", level)].rate
        c = medians[("telethon", level)].rate if "telethon" in names else float("nan")
        lines.append(f"| {level} | {b / a:.2f} | {b / c:.2f} |")
    head = [
        f"- python: {info['python']}",
        f"- platform: {info['platform']}",
        f"- cpu: {info['cpu']}",
        f"- AES backend: {info['aes']}; Telethon {info['telethon']}",
        f"- runs: median of {args.runs} runs of {args.duration:g} s each (after {args.warmup:g} s "
        "warm-up), the three libraries taking turns",
    ]
    return "\n".join(head) + "\n\n" + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile-server", metavar="FILE", help="cProfile the server (b, max N)")
    parser.add_argument(
        "--profile-clients", metavar="FILE", help="cProfile the clients' process (b, max N)"
    )
    parser.add_argument("--quick", action="store_true", help="1 run of 1 s per point")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--users", default=",".join(map(str, LEVELS)))
    parser.add_argument("--no-telethon", action="store_true")
    parser.add_argument("--write", metavar="FILE", help="write the results table (markdown)")
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.profile_server))
        # Pool refills may still run in worker threads: they are of no use any more.
        os._exit(0)
    if args.quick:
        args.runs, args.duration, args.warmup = 1, 1.0, 0.3
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("telethon").setLevel(logging.ERROR)
    info = machine()
    for key, value in info.items():
        print(f"{key:<9}{value}")
    outcome = asyncio.run(run(args))
    text = report(info, outcome, args)
    print()
    print(text)
    if args.write:
        write_results(Path(args.write), text)
    return 0


def write_results(path: Path, text: str) -> None:
    """Replace the body of the ``## Results`` section of ``path`` (up to its first ``###``)
    with ``text``, keeping the analysis around it; a new file gets the table alone."""
    start, end = "## Results\n", "\n### "
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if start in old:
        head, rest = old.split(start, 1)
        tail = rest[rest.index(end) :] if end in rest else ""
        path.write_text(f"{head}{start}\n{text}{tail}", encoding="utf-8")
    else:
        path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
