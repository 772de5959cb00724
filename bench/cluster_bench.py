"""Cluster benchmark: callback round trips on one process against several on PostgreSQL + Redis.

Run from the repository root with the test services named (``.ci/services.sh`` exports them)::

    LOOPGRAM_TEST_POSTGRES=postgresql://... LOOPGRAM_TEST_REDIS=redis://... \\
        python bench/cluster_bench.py --runs 3 --duration 3

Every server is a real ``loopgram serve`` process (``--log-level WARNING --no-flood-limits``);
the clients -- one bot and ``--users`` users, loopgram's own client, each user pressing the
button of its own keyboard message in a loop, the bot answering every press -- live in this
process. In one run, configurations taking turns within each repetition:

(a) one process on SQLite (a temporary data directory, as ``loopgram serve`` uses it);
(b) one process on PostgreSQL (a throwaway schema) and Redis (a throwaway prefix);
(c) two processes on the same PostgreSQL and Redis, the bot on the first, the users split
    evenly across both: half the presses reach the bot through the update fan-out and are
    answered through the shared pending-call table.

Reported per configuration (median of ``--runs``): round trips/s, p50/p99 latency and CPU
per round trip of the loopgram server processes together, of redis-server (when its pid can
be read from ``INFO``), and of the clients' process; PostgreSQL's backends are not counted.
Then the ratios to the first configuration. On a 2-core machine the clients' process
competes with the servers for the same cores: read the ratios, not the absolute rates.

``--configs bc`` runs only some configurations; ``--freshness snapshot`` the strict cache
check instead of the default announcements (docs/storage.md); ``--profile DIR`` samples
each configuration's first server with py-spy (a separate tool, not a dependency) during
the measurement and leaves collapsed stacks in ``DIR/<letter>.folded``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.util
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if importlib.util.find_spec("loopgram") is None:  # not installed: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import process_cpu_seconds
from roundtrip import Press, Sample, machine, measure

from loopgram.client import Button, CallbackQuery, Client, Message
from loopgram.testing.cluster import ClusterNode, ServerCluster, spawn_node
from loopgram.testing.postgres import postgres_url

BOT = "clusterbenchbot"
QUIET = ["--log-level", "WARNING", "--no-flood-limits"]


@dataclass
class Setup:
    """One configuration: its server processes and a way to make the bot's token."""

    name: str
    nodes: list[ClusterNode]
    token: str
    redis_pid: int | None = None
    samples: list[Sample] = field(default_factory=list)
    redis_us: list[float] = field(default_factory=list)

    def server_cpu(self) -> float:
        return sum(process_cpu_seconds(node.pid) for node in self.nodes)

    def redis_cpu(self) -> float:
        return 0.0 if self.redis_pid is None else process_cpu_seconds(self.redis_pid)


@contextmanager
def sqlite_node(workdir: Path) -> Iterator[Setup]:
    from loopgram.node import remember_bot_token
    from loopgram.server import ServerCore
    from loopgram.storage import open_storage

    data = workdir / "sqlite-data"
    storage = open_storage(data)
    try:
        token = ServerCore(storage).create_bot(BOT).token
        remember_bot_token(storage, token)
    finally:
        storage.close()
    args = ["--data", str(data), "--host", "127.0.0.1", "--port", "0", "--bot-api-port", "0"]
    node = spawn_node(0, [*args, *QUIET], workdir / "sqlite.log")
    try:
        node.wait_listening(time.monotonic() + 60)
        yield Setup("(a) 1 process, SQLite", [node], token)
    finally:
        node.terminate()


@contextmanager
def cluster(size: int, name: str, postgres: str) -> Iterator[Setup]:
    with ServerCluster(size, postgres=postgres, extra_args=["--no-flood-limits"]) as nodes:
        token = nodes.create_bot(BOT)
        try:
            yield Setup(name, nodes.nodes, token, redis_pid(nodes.redis_url))
        except BaseException:
            print(f"{name}: the servers' output\n{nodes.output()[-20000:]}", file=sys.stderr)
            raise


def redis_pid(url: str) -> int | None:
    from redis import Redis

    client = Redis.from_url(url)
    try:
        pid = client.info("server").get("process_id")
    finally:
        client.close()
    if isinstance(pid, int) and Path(f"/proc/{pid}/stat").exists():
        return pid
    return None


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))


class Clients:
    """The bot on the setup's first node, users spread round-robin over all its nodes."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        first = setup.nodes[0]
        self.bot = Client(host=first.host, port=first.port, public_key=first.public_key_pem)
        self.users: list[Client] = []
        self.messages: list[Message] = []

    async def start(self, users: int) -> None:
        await self.bot.start(bot_token=self.setup.token)

        @self.bot.on_callback_query()
        async def answer(query: CallbackQuery) -> None:
            await query.answer("ok", cache_time=0)

        inboxes: dict[int, asyncio.Queue[Message]] = {}

        async def login(i: int) -> Client:
            node = self.setup.nodes[i % len(self.setup.nodes)]
            client = Client(host=node.host, port=node.port, public_key=node.public_key_pem)
            await client.start(phone=f"+1555200{i:04d}", code="12345")
            inbox: asyncio.Queue[Message] = asyncio.Queue()
            inboxes[i] = inbox

            @client.on_message()
            async def record(message: Message) -> None:
                if not message.out:
                    await inbox.put(message)

            await client.send_message(BOT, "/start")
            return client

        self.users = list(await asyncio.gather(*(login(i) for i in range(users))))
        keyboard = [[Button.callback("Press", b"p")]]
        for i, client in enumerate(self.users):
            # The bot learns each user's access hash from the /start update.
            while self.bot.session.get_peer(client.me_id) is None:
                await asyncio.sleep(0.01)
            await self.bot.send_message(client.me_id, "bench", buttons=keyboard)
            self.messages.append(await asyncio.wait_for(inboxes[i].get(), 30))

    def presses(self) -> list[Press]:
        return [functools.partial(m.press, 0, 0) for m in self.messages]

    async def close(self) -> None:
        await asyncio.gather(*(c.disconnect() for c in self.users), self.bot.disconnect())


async def settle(cpu: Callable[[], float], limit: float = 120.0) -> None:
    """Until the servers are idle (logins make them refill their key pools in threads)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = cpu()
        await asyncio.sleep(0.5)
        if cpu() - before < 0.05:
            return


async def run(args: argparse.Namespace, setups: list[Setup]) -> None:
    sides = [Clients(setup) for setup in setups]
    try:
        for side in sides:
            started = time.perf_counter()
            await side.start(args.users)
            took = time.perf_counter() - started
            print(f"{side.setup.name}: {args.users} users and a bot ready in {took:.1f} s")
        for side in sides:
            await settle(side.setup.server_cpu)
        seconds = args.runs * len(sides) * (args.duration + args.warmup + 1)
        profilers = [profile(side.setup, args, seconds) for side in sides] if args.profile else []
        for run_no in range(args.runs):
            for side in sides:
                setup = side.setup
                redis_before = setup.redis_cpu()
                sample = await measure(side.presses(), args.duration, args.warmup, setup.server_cpu)
                rounds = sample.rate * args.duration
                redis_us = (setup.redis_cpu() - redis_before) / max(rounds, 1) * 1e6
                setup.samples.append(sample)
                setup.redis_us.append(redis_us)
                print(
                    f"  run {run_no + 1} {setup.name:<32} {sample.rate:7.0f} rt/s  "
                    f"p50 {sample.p50:6.2f} ms  p99 {sample.p99:6.2f} ms  cpu/rt: "
                    f"servers {sample.server_us:5.0f} us, redis {redis_us:4.0f} us, "
                    f"clients {sample.client_us:4.0f} us",
                    flush=True,
                )
    finally:
        for profiler in profilers:
            profiler.wait(60)
        for side in sides:
            await side.close()


def profile(setup: Setup, args: argparse.Namespace, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy sampling the setup's first server for about the whole measurement: collapsed
    stacks (flamegraph.pl or speedscope draw them) per configuration in ``--profile``'s
    directory, named by its letter."""
    out = Path(args.profile) / f"{setup.name[1]}.folded"
    return subprocess.Popen(
        ["py-spy", "record", "--pid", str(setup.nodes[0].pid), "--duration",
         str(int(seconds)), "--output", str(out), "--rate", "200", "--nonblocking",
         "--format", "raw"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def report(setups: list[Setup], args: argparse.Namespace) -> str:
    lines = [
        "| configuration | round trips/s | p50 ms | p99 ms | servers CPU µs/rt "
        "| redis CPU µs/rt | clients CPU µs/rt |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    rates: list[float] = []
    for setup in setups:
        s = setup.samples
        rate = statistics.median(x.rate for x in s)
        rates.append(rate)
        lines.append(
            f"| {setup.name} | {rate:,.0f} | {statistics.median(x.p50 for x in s):.2f} "
            f"| {statistics.median(x.p99 for x in s):.2f} "
            f"| {statistics.median(x.server_us for x in s):.0f} "
            f"| {statistics.median(setup.redis_us):.0f} "
            f"| {statistics.median(x.client_us for x in s):.0f} |"
        )
    a = rates[0]
    ratios = ", ".join(
        f"{s.name[:3]}/{setups[0].name[:3]} = {r / a:.2f}"
        for s, r in zip(setups[1:], rates[1:], strict=True)
    )
    return (
        f"{args.users} users, median of {args.runs} runs of {args.duration:g} s "
        f"(after {args.warmup:g} s warm-up), configurations taking turns, PostgreSQL "
        f"freshness={args.freshness}\n\n" + "\n".join(lines) + f"\n\nratios: {ratios}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument(
        "--freshness",
        choices=("snapshot", "notify"),
        default="notify",
        help="the PostgreSQL backend's cache freshness (docs/storage.md; default notify)",
    )
    parser.add_argument(
        "--configs",
        default="abc",
        help="which configurations to run, by letter (default abc); ratios are to the first",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="record py-spy samples (collapsed stacks) of each configuration's first server in DIR",
    )
    args = parser.parse_args(argv)
    postgres = with_query(postgres_url(), freshness=args.freshness)
    logging.basicConfig(level=logging.WARNING)
    for key, value in machine().items():
        print(f"{key:<9}{value}")
    with tempfile.TemporaryDirectory(prefix="loopgram-cluster-bench-") as tmp, ExitStack() as stack:
        makers = {
            "a": lambda: sqlite_node(Path(tmp)),
            "b": lambda: cluster(1, "(b) 1 process, PostgreSQL + Redis", postgres),
            "c": lambda: cluster(2, "(c) 2 processes, PostgreSQL + Redis", postgres),
        }
        setups = [stack.enter_context(makers[c]()) for c in makers if c in args.configs]
        asyncio.run(run(args, setups))
        text = report(setups, args)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
