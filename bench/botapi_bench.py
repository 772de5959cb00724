"""End-to-end benchmark of the Bot API gateway: callback round trips through HTTP bots.

Run from the repository root: ``python bench/botapi_bench.py`` (``--quick`` for a short run,
``--write docs/benchmarks/botapi.md`` to record the results). Not a timed test.

Two processes, as in ``bench/roundtrip.py``: the server (a ``LoopgramServer`` on a temporary
SQLite data directory with the Bot API on, plus two bare hello-worlds for the ``getMe``
floor: aiohttp's, and an ``asyncio.Protocol`` over httptools, the parser of the gateway's
wire driver) in a child process, and every client -- N loopgram users and the bots -- in this
one. ``--http aiohttp`` serves the Bot API with aiohttp alone (the driver before the wire
one; ``LOOPGRAM_BOT_API_HTTP``), for A/B runs.
In the same run, for N = 1, 10 and 100 concurrent users, each pressing a callback button of
its own keyboard message from the bot under test in a loop (``await message.press(0, 0)``):

(a) mtproto: a loopgram client bot over MTProto, ``await query.answer("ok", cache_time=0)``.
(b) raw: a minimal long-polling HTTP bot -- one keep-alive connection written by hand:
    ``getUpdates`` (long poll, ``timeout=50``), then, pipelined on the same connection, one
    ``answerCallbackQuery`` per update it got and the next ``getUpdates`` (its ``offset``
    confirms the batch).
(c) python-telegram-bot (``concurrent_updates``) and aiogram (its default: every update a
    task), long polling with their own HTTP clients, answering in a callback-query handler.

Each point is ``--duration`` seconds after a warm-up; the bots take turns within every
repetition and the tables show medians of ``--runs`` repetitions: round trips per second (all
users together), p50/p99 latency of one press, and the CPU time of the server process per
round trip. Then ``getMe`` over ``--getme-connections`` keep-alive connections (a raw client,
sequential requests on each) against the gateway and against the hello-worlds, in turns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib.util
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

if importlib.util.find_spec("loopgram") is None:  # not installed: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import cpu_model, percentile, process_cpu_seconds

from loopgram.client import Button, CallbackQuery, Client, Message

LEVELS = (1, 10, 100)
HOST = "127.0.0.1"
BOTS = {
    "mtproto": "mtbenchbot",
    "raw": "rawbenchbot",
    "ptb": "ptbbenchbot",
    "aiogram": "aiobenchbot",
}
LABELS = {
    "mtproto": "(a) loopgram MTProto bot",
    "raw": "(b) raw long-polling HTTP bot",
    "ptb": "(c) python-telegram-bot",
    "aiogram": "(c) aiogram",
}
HELLO_BODY = b'{"ok":true,"result":{"id":1,"is_bot":true,"first_name":"hello"}}'

Press = Callable[[], Awaitable[object]]


# -- the server process -------------------------------------------------------------------------


class _HttptoolsHello(asyncio.Protocol):
    """The hello-world of the wire driver's HTTP library: httptools under a bare protocol,
    every request of a read answered in one write."""

    def __init__(self) -> None:
        import httptools

        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.out: list[bytes] = []
        length = len(HELLO_BODY)
        self.answer = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
            + f"Content-Length: {length}\r\n\r\n".encode()
            + HELLO_BODY
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self.out.append(self.answer)

    def data_received(self, data: bytes) -> None:
        import httptools

        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()
            return
        if self.out and self.transport is not None:
            self.transport.write(b"".join(self.out))
            self.out.clear()


async def _serve(profile: str | None) -> None:
    from aiohttp import web

    from loopgram.node import LoopgramServer
    from loopgram.server import Rate, ServerConfig

    logging.basicConfig(level=logging.WARNING)
    # The default flood limit would cap one bot's answers: this measures round trips.
    config = ServerConfig(flood_default=Rate(per_second=1e9, burst=10**9))

    async def hello(request: web.Request) -> web.Response:
        return web.Response(body=HELLO_BODY, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hello)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    hello_port = runner.addresses[0][1]
    loop = asyncio.get_running_loop()
    bare = await loop.create_server(_HttptoolsHello, HOST, 0)
    bare_port = bare.sockets[0].getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="loopgram-bench-") as data_dir:
        async with LoopgramServer(
            data_dir=data_dir, host=HOST, port=0, bot_api_port=0, config=config
        ) as server:
            facts = {
                "port": server.port,
                "pem": server.public_key_pem,
                "bot_api_url": server.bot_api_url,
                "hello_url": f"http://{HOST}:{hello_port}",
                "httptools_url": f"http://{HOST}:{bare_port}",
                "driver": server._bot_api.driver if server._bot_api is not None else "",
                "tokens": {kind: server.create_bot(name) for kind, name in BOTS.items()},
            }
            print(json.dumps(facts), flush=True)
            profiler = None
            # Requests per bot and method, for "stats" (what each framework really sends).
            counts: dict[str, int] = {}
            gateway = server._bot_api.gateway if server._bot_api is not None else None
            if gateway is not None:
                call = gateway.call

                async def counted(route: Any, fields: Any) -> Any:
                    key = f"{route.token.partition(':')[0]} {route.method}"
                    counts[key] = counts.get(key, 0) + 1
                    return await call(route, fields)

                gateway.call = counted  # type: ignore[method-assign]
            reader = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
            while line := (await reader.readline()).strip():
                if line == b"profile-on" and profile:
                    import cProfile

                    # LOOPGRAM_BENCH_WALL=1: wall-clock time (waits on the disk show up).
                    wall = os.environ.get("LOOPGRAM_BENCH_WALL")
                    profiler = cProfile.Profile(time.perf_counter if wall else time.process_time)
                    profiler.enable()
                elif line == b"stats":
                    print(json.dumps(counts), flush=True)
                    counts.clear()
                    continue
                elif line == b"profile-off" and profiler is not None and profile:
                    profiler.disable()
                    profiler.dump_stats(profile)
                    profiler = None
                print("ok", flush=True)
    bare.close()
    await runner.cleanup()


class ServerProcess:
    def __init__(self, profile: str | None, http: str) -> None:
        args = [sys.executable, __file__, "--serve"]
        if profile:
            args += ["--profile-server", profile]
        env = {**os.environ, "LOOPGRAM_BOT_API_HTTP": http}
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=env
        )
        assert self.proc.stdout is not None
        self.facts: dict[str, Any] = json.loads(self.proc.stdout.readline())

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.proc.pid)

    async def settle(self, limit: float = 120.0) -> None:
        """Wait until the server is idle (it refills its DH and pq pools after logins)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            await asyncio.sleep(0.5)
            if self.cpu_seconds() - before < 0.05:
                return

    def command(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline()

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # our own child, by its handle
            self.proc.wait(5)


# -- a raw keep-alive HTTP/1.1 client -------------------------------------------------------------


class RawHttp:
    """One keep-alive connection; requests may be pipelined, answers are read in order."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host = parts.hostname or HOST
        self.port = parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def request(self, path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode()

    def write(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)

    async def answer(self) -> bytes:
        """The body of the next answer (Content-Length framing, as aiohttp answers)."""
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


class RawBot:
    """(b): long polls, and answers each batch's callback queries pipelined with the next
    poll on the same connection."""

    def __init__(self, base: str, token: str) -> None:
        self.http = RawHttp(base)
        self.prefix = f"/bot{token}/"
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.http.connect()
        allowed = quote('["callback_query"]')
        poll = self.http.request(f"{self.prefix}getUpdates?timeout=0&allowed_updates={allowed}")
        self.http.write(poll)
        await self.http.answer()  # allowed_updates recorded; nothing queued for it yet
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            await self._loop()
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            print(f"the raw bot stopped: {e!r}", file=sys.stderr, flush=True)
            raise

    async def _loop(self) -> None:
        http, prefix = self.http, self.prefix
        offset = 0
        http.write(http.request(f"{prefix}getUpdates?offset={offset}&timeout=50"))
        pending = 1
        while True:
            body = json.loads(await http.answer())
            pending -= 1
            if pending:
                continue  # an answerCallbackQuery's true
            updates = body["result"]
            out = []
            for update in updates:
                offset = update["update_id"] + 1
                query = update.get("callback_query")
                if query is not None:
                    out.append(
                        http.request(
                            f"{prefix}answerCallbackQuery?callback_query_id={query['id']}&text=ok"
                        )
                    )
            out.append(http.request(f"{prefix}getUpdates?offset={offset}&timeout=50"))
            pending = len(out)
            http.write(b"".join(out))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.http.close()


# -- the bots under test -------------------------------------------------------------------------


class Bots:
    def __init__(self, facts: dict[str, Any]) -> None:
        self.facts = facts
        self.tokens: dict[str, str] = facts["tokens"]
        self.mtproto = Client(host=HOST, port=facts["port"], public_key=facts["pem"])
        self.raw = RawBot(facts["bot_api_url"], self.tokens["raw"])
        self.ptb: Any = None
        self.aiogram: Any = None
        self.aiogram_task: asyncio.Task[Any] | None = None
        self.dispatcher: Any = None

    async def start(self) -> None:
        await self.mtproto.start(bot_token=self.tokens["mtproto"])

        @self.mtproto.on_callback_query()
        async def answer(query: CallbackQuery) -> None:
            await query.answer("ok", cache_time=0)

        await self.raw.start()
        await self._start_ptb()
        await self._start_aiogram()

    async def _start_ptb(self) -> None:
        from telegram import Update
        from telegram.ext import CallbackQueryHandler, ContextTypes

        from loopgram.testing.botapi import ptb_application_builder

        async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.callback_query is not None
            await update.callback_query.answer("ok")

        builder = ptb_application_builder(self.facts["bot_api_url"], self.tokens["ptb"])
        app = builder.concurrent_updates(True).build()
        app.add_handler(CallbackQueryHandler(pressed))
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=50)
        self.ptb = app

    async def _start_aiogram(self) -> None:
        import aiogram
        from aiogram.types import CallbackQuery as AiogramQuery

        from loopgram.testing.botapi import aiogram_bot

        router = aiogram.Router()

        @router.callback_query()
        async def pressed(query: AiogramQuery) -> None:
            await query.answer("ok")

        bot = aiogram_bot(self.facts["bot_api_url"], self.tokens["aiogram"])
        dispatcher = aiogram.Dispatcher()
        dispatcher.include_router(router)
        self.aiogram, self.dispatcher = bot, dispatcher
        self.aiogram_task = asyncio.ensure_future(
            dispatcher.start_polling(bot, handle_signals=False, polling_timeout=50)
        )

    async def stop(self) -> None:
        await self.raw.stop()
        if self.ptb is not None:
            await self.ptb.updater.stop()
            await self.ptb.stop()
            await self.ptb.shutdown()
        if self.dispatcher is not None:
            await self.dispatcher.stop_polling()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.aiogram_task, 10)
            await self.aiogram.session.close()
        await self.mtproto.disconnect()


class Users:
    """N loopgram users, each with a keyboard message from every bot."""

    def __init__(self, facts: dict[str, Any], bots: Bots) -> None:
        self.facts = facts
        self.bots = bots
        self.clients: list[Client] = []
        self.messages: dict[str, list[Message]] = {kind: [] for kind in BOTS}

    async def setup(self, n: int) -> None:
        from aiohttp import ClientSession

        inboxes: list[asyncio.Queue[Message]] = []
        # A hundred key exchanges at once overrun the client's connect timeout on a busy
        # machine: a few at a time.
        logins = asyncio.Semaphore(8)

        async def login(i: int) -> None:
            client = Client(host=HOST, port=self.facts["port"], public_key=self.facts["pem"])
            async with logins:
                await client.start(phone=f"+1555300{i:04d}", code="12345")
            inbox: asyncio.Queue[Message] = asyncio.Queue()

            @client.on_message()
            async def record(message: Message) -> None:
                if not message.out:
                    await inbox.put(message)

            # A bot may only write to a user who has started it.
            for name in BOTS.values():
                await client.send_message(name, "/start")
            self.clients[i] = client
            inboxes[i] = inbox

        self.clients = [None] * n  # type: ignore[list-item]
        inboxes = [asyncio.Queue() for _ in range(n)]
        await asyncio.gather(*(login(i) for i in range(n)))
        bot = self.bots.mtproto
        keyboard = [[Button.callback("Press", b"p")]]
        markup = json.dumps({"inline_keyboard": [[{"text": "Press", "callback_data": "p"}]]})
        base = self.facts["bot_api_url"]
        async with ClientSession() as http:
            for i, client in enumerate(self.clients):
                while bot.session.get_peer(client.me_id) is None:
                    await asyncio.sleep(0.01)
                await bot.send_message(client.me_id, "bench", buttons=keyboard)
                self.messages["mtproto"].append(await asyncio.wait_for(inboxes[i].get(), 10))
                for kind in ("raw", "ptb", "aiogram"):
                    url = f"{base}/bot{self.bots.tokens[kind]}/sendMessage"
                    form = {"chat_id": str(client.me_id), "text": "bench", "reply_markup": markup}
                    async with http.post(url, data=form) as response:
                        body = await response.json()
                        if not body.get("ok"):
                            raise RuntimeError(f"sendMessage failed: {body}")
                    self.messages[kind].append(await asyncio.wait_for(inboxes[i].get(), 10))

    def presses(self, kind: str, n: int) -> list[Press]:
        return [functools.partial(m.press, 0, 0) for m in self.messages[kind][:n]]

    async def close(self) -> None:
        for client in self.clients:
            if client is not None:
                await client.disconnect()


# -- measuring ------------------------------------------------------------------------------------


@dataclass
class Sample:
    rate: float
    p50: float
    p99: float
    server_us: float = 0.0
    """CPU time of the server's process per round trip (or request), in microseconds."""


@dataclass
class Result:
    samples: list[Sample] = field(default_factory=list)

    def median(self) -> Sample:
        return Sample(
            statistics.median(s.rate for s in self.samples),
            statistics.median(s.p50 for s in self.samples),
            statistics.median(s.p99 for s in self.samples),
            statistics.median(s.server_us for s in self.samples),
        )


async def measure(
    steps: list[Press], duration: float, warmup: float, server_cpu: Callable[[], float]
) -> Sample:
    """Each step awaited in a loop of its own; after ``warmup`` seconds, the round trips
    completed in ``duration`` seconds (a p50/p99 of NaN: nothing completed, the bot under
    test is stuck)."""
    latencies: list[float] = []
    stop = False
    clock = time.perf_counter

    async def loop(step: Press) -> None:
        while not stop:
            started = clock()
            await step()
            latencies.append(clock() - started)

    tasks = [asyncio.create_task(loop(step)) for step in steps]
    await asyncio.sleep(warmup)
    latencies.clear()
    started = clock()
    server = server_cpu()
    await asyncio.sleep(duration)
    done = len(latencies)
    elapsed = clock() - started
    server = server_cpu() - server
    window = latencies[:done]
    stop = True
    await asyncio.gather(*tasks)
    return Sample(
        done / elapsed,
        percentile(window, 0.5) * 1e3,
        percentile(window, 0.99) * 1e3,
        server / max(done, 1) * 1e6,
    )


async def getme_rate(
    base: str, path: str, connections: int, duration: float, server_cpu: Callable[[], float]
) -> Sample:
    """Sequential GETs on each of ``connections`` keep-alive connections."""
    links = [RawHttp(base) for _ in range(connections)]
    for link in links:
        await link.connect()

    def get(link: RawHttp) -> Press:
        request = link.request(path)

        async def step() -> None:
            link.write(request)
            await link.answer()

        return step

    sample = await measure([get(link) for link in links], duration, 0.2, server_cpu)
    for link in links:
        await link.close()
    return sample


# -- the run --------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = cpu_model()
    from importlib.metadata import version

    libraries = ", ".join(
        f"{name} {version(name)}"
        for name in ("aiohttp", "httptools", "python-telegram-bot", "aiogram")
    )
    return {
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": platform.platform(),
        "cpu": f"{cpu}, {os.cpu_count()} logical CPUs",
        "libraries": libraries,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    levels = tuple(int(x) for x in args.users.split(","))
    names = [n for n in BOTS if n not in args.skip.split(",")]
    server = ServerProcess(args.profile_server, args.http)
    facts = server.facts
    print(f"Bot API HTTP driver: {facts['driver']}")
    results: dict[tuple[str, int], Result] = {(n, lv): Result() for n in names for lv in levels}
    getme: dict[str, Result] = {"gateway": Result(), "hello": Result(), "httptools": Result()}
    bots = Bots(facts)
    users = Users(facts, bots)
    try:
        started = time.perf_counter()
        await bots.start()
        await users.setup(max(levels))
        took = time.perf_counter() - started
        print(f"{max(levels)} users and {len(BOTS)} bots ready in {took:.1f} s")
        await server.settle()
        idle = server.cpu_seconds()
        await asyncio.sleep(1.0)
        print(f"server CPU while idle: {(server.cpu_seconds() - idle) * 1e3:.0f} ms/s")
        for level in levels:
            for run_no in range(args.runs):
                for name in names:
                    profiling = args.profile_server and name == args.profile_bot and run_no == 0
                    profiling = profiling and level == max(levels)
                    if profiling:
                        server.command("profile-on")
                    sample = await measure(
                        users.presses(name, level), args.duration, args.warmup, server.cpu_seconds
                    )
                    if profiling:
                        server.command("profile-off")
                    if args.stats:
                        print(f"  requests: {server.command('stats').strip()}")
                    results[(name, level)].samples.append(sample)
                    print(
                        f"  {level:>3} users  {name:<8} run {run_no + 1}: "
                        f"{sample.rate:8.0f} rt/s  p50 {sample.p50:6.2f} ms  "
                        f"p99 {sample.p99:6.2f} ms  server {sample.server_us:5.0f} us/rt",
                        flush=True,
                    )
        me_path = f"/bot{bots.tokens['raw']}/getMe"
        for run_no in range(args.runs):
            targets = (
                ("gateway", facts["bot_api_url"]),
                ("hello", facts["hello_url"]),
                ("httptools", facts["httptools_url"]),
            )
            for target, base in targets:
                profiling = args.profile_server and args.profile_bot == "getme" and not run_no
                profiling = profiling and target == "gateway"
                if profiling:
                    server.command("profile-on")
                sample = await getme_rate(
                    base, me_path, args.getme_connections, args.duration, server.cpu_seconds
                )
                if profiling:
                    server.command("profile-off")
                getme[target].samples.append(sample)
                print(
                    f"  getMe {target:<8} run {run_no + 1}: {sample.rate:8.0f} req/s  "
                    f"p50 {sample.p50:6.2f} ms  server {sample.server_us:5.0f} us/req",
                    flush=True,
                )
    finally:
        await bots.stop()
        await users.close()
        server.stop()
    return {
        "levels": levels,
        "names": names,
        "results": results,
        "getme": getme,
        "driver": facts["driver"],
        "load": os.getloadavg(),
    }


def report(info: dict[str, str], outcome: dict[str, Any], args: argparse.Namespace) -> str:
    levels: tuple[int, ...] = outcome["levels"]
    names: list[str] = outcome["names"]
    medians = {key: r.median() for key, r in outcome["results"].items()}
    lines = [
        "| users | bot | round trips/s | p50 ms | p99 ms | server CPU µs/rt |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for level in levels:
        for name in names:
            m = medians[(name, level)]
            lines.append(
                f"| {level} | {LABELS[name]} | {m.rate:,.0f} | {m.p50:.2f} | {m.p99:.2f} "
                f"| {m.server_us:.0f} |"
            )
    goals = ["", "| goal | measured | met |", "|---|---:|---|"]
    if "raw" in names and "mtproto" in names:
        top = max(levels)
        raw, mt = medians[("raw", top)], medians[("mtproto", top)]
        ratio = raw.rate / mt.rate
        goals.append(
            f"| (b)/(a) round trips/s at {top} users ≥ 0.6 | {ratio:.2f} "
            f"| {'yes' if ratio >= 0.6 else 'no'} |"
        )
        if 1 in levels:
            p50 = medians[("raw", 1)].p50
            goals.append(
                f"| (b) p50 at 1 user ≤ 1 ms | {p50:.2f} ms | {'yes' if p50 <= 1 else 'no'} |"
            )
        cpu = statistics.median(
            medians[("raw", lv)].server_us / medians[("mtproto", lv)].server_us for lv in levels
        )
        goals.append(
            f"| (b)/(a) server CPU per round trip ≤ 1.5 (median over N) | {cpu:.2f} "
            f"| {'yes' if cpu <= 1.5 else 'no'} |"
        )
    gw, hello = outcome["getme"]["gateway"].median(), outcome["getme"]["hello"].median()
    bare = outcome["getme"]["httptools"].median()
    # The floor is the hello-world of the HTTP library that answers getMe: httptools for the
    # wire driver, aiohttp for the aiohttp one.
    driver = outcome["driver"]
    floor, floor_name = (bare, "httptools") if driver == "wire" else (hello, "aiohttp")
    getme_ratio = gw.rate / floor.rate
    goals.append(
        f"| getMe gateway / {floor_name} hello-world ≥ 0.5 | {getme_ratio:.2f} "
        f"| {'yes' if getme_ratio >= 0.5 else 'no'} |"
    )
    me_lines = [
        "",
        f"| getMe, {args.getme_connections} keep-alive connections | requests/s | p50 ms "
        "| server CPU µs/request |",
        "|---|---:|---:|---:|",
        f"| gateway `getMe` | {gw.rate:,.0f} | {gw.p50:.2f} | {gw.server_us:.0f} |",
        f"| bare aiohttp hello-world | {hello.rate:,.0f} | {hello.p50:.2f} "
        f"| {hello.server_us:.0f} |",
        f"| bare httptools hello-world | {bare.rate:,.0f} | {bare.p50:.2f} "
        f"| {bare.server_us:.0f} |",
    ]
    head = [
        f"- python: {info['python']}",
        f"- platform: {info['platform']}",
        f"- cpu: {info['cpu']}",
        f"- {info['libraries']}",
        f"- Bot API HTTP driver: {driver}; load average at the end "
        + ", ".join(f"{x:.2f}" for x in outcome["load"]),
        f"- runs: median of {args.runs} runs of {args.duration:g} s each (after {args.warmup:g} s "
        "warm-up), the bots taking turns",
    ]
    return "\n".join([*head, "", *lines, *me_lines, *goals]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile-server", metavar="FILE", help="cProfile the server")
    parser.add_argument(
        "--profile-bot",
        default="raw",
        choices=[*BOTS, "getme"],
        help="what the server profile covers (first run, max N; default raw)",
    )
    parser.add_argument("--quick", action="store_true", help="1 run of 1 s per point")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--users", default=",".join(map(str, LEVELS)))
    parser.add_argument("--getme-connections", type=int, default=8)
    parser.add_argument("--skip", default="", help="bots to leave out, comma-separated")
    parser.add_argument(
        "--stats", action="store_true", help="print the Bot API requests of each point"
    )
    parser.add_argument("--write", metavar="FILE", help="write the results tables (markdown)")
    parser.add_argument(
        "--http",
        default="wire",
        choices=("wire", "aiohttp"),
        help="the gateway's HTTP driver (default wire; aiohttp: the driver before it)",
    )
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.profile_server))
        os._exit(0)  # pool refills may still run in worker threads
    if args.quick:
        args.runs, args.duration, args.warmup = 1, 1.0, 0.3
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("httpx", "telegram", "aiogram"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    info = machine()
    for key, value in info.items():
        print(f"{key:<10}{value}")
    outcome = asyncio.run(run(args))
    text = report(info, outcome, args)
    print()
    print(text)
    if args.write:
        Path(args.write).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
