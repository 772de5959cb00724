"""Supergroup benchmark: fan-out of one message to N online members, and button presses in a
supergroup against presses in private chats.

Run from the repository root: ``python bench/group_bench.py`` (a few minutes), ``--short``
for a quick run (10 and 100 members), ``--profile-server FILE`` to cProfile the server during
the largest fan-out. Not a timed test.

Two processes, as in ``bench/roundtrip.py``: the server (a ``LoopgramServer`` on a temporary
SQLite directory, flood limits off) in a child process, every client -- loopgram's own
``Client`` -- in this one. The members' accounts and auth keys are written into the server's
storage when it starts (a thousand key exchanges would take the run's minutes and measure
nothing of interest here): each member's client starts from a session holding its key and
connects like any client coming back (``bad_server_salt``, ``updates.getState``). The
supergroups are made over the API: ``channels.createChannel`` (megagroup) by the first member,
``channels.inviteToChannel`` in batches.

(a) Fan-out: the first member sends a message to a supergroup of N members (N = 10, 100,
    1 000), all connected; measured: the time from the call until the last other member's
    client has delivered the ``updateNewChannelMessage`` to its handler, the server's CPU
    (``/proc``) per delivered update (the acks the clients send back included), and this
    process's CPU per update (the clients' share of the machine).
(b) The same 1 000-member supergroup with only 100 members connected: it should cost what
    the 100-member supergroup costs. Then the 900 come back and catch up through
    ``updates.getChannelDifference``: each must get exactly the messages it missed.
(c) Presses: 100 members press the one callback button of a message a loopgram bot posted in
    a supergroup (the bot answers each press, ``cache_time`` 0), against the private-chat
    round trips of ``bench/roundtrip.py`` (100 users, each pressing its own message) in the
    same run, the two taking turns within each repetition; ratio group / private.

Every figure is the median of ``--runs`` repetitions (a fan-out repetition sends
``--messages`` messages one after the other; its latency is their median).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import importlib.util
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if importlib.util.find_spec("loopgram") is None:  # not installed: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _hardening import raise_nofile
from roundtrip import (
    HOST,
    LG_BOT,
    LoopgramSide,
    Press,
    Sample,
    ServerProcess,
    machine,
    measure,
    serve_commands,
)

from loopgram.client import Button, CallbackQuery, Client, MemorySession, SessionData
from loopgram.client.objects import keyboard
from loopgram.tl import abcs, functions, types
from loopgram.tl.types import updates as upd_types

GROUP_BOT = "groupbenchbot"
LOGIN_BATCH = 50
"""Connections opened at once: a hundred at a time overran the client's connect timeout."""
INVITE_BATCH = 200
"""Telegram's limit of users per ``channels.inviteToChannel``."""


# -- the server process -------------------------------------------------------------------------


def member_key(seed: str, i: int) -> bytes:
    """Member ``i``'s 256-byte auth key, derived from the run's seed on both sides."""
    return b"".join(hashlib.sha256(f"{seed}:{i}:{j}".encode()).digest() for j in range(8))


def member_phone(i: int) -> str:
    return f"+1555400{i:04d}"


async def _serve(profile: str | None, members: int, seed: str) -> None:
    from loopgram.crypto import AuthKey
    from loopgram.node import LoopgramServer
    from loopgram.server import Rate, ServerConfig

    logging.basicConfig(level=logging.WARNING)
    # Flood limits would cap the bot's answers and the members' calls: this measures delivery.
    config = ServerConfig(flood_default=Rate(per_second=1e9, burst=10**9))
    with tempfile.TemporaryDirectory(prefix="loopgram-group-") as data_dir:
        async with LoopgramServer(data_dir=data_dir, host=HOST, port=0, config=config) as server:
            storage = server.storage
            seeded: list[list[int]] = []
            for i in range(members):
                account = server.create_user(member_phone(i), f"member{i}")
                key = AuthKey(member_key(seed, i))
                storage.auth_keys.put(key.id, key.key)
                storage.auth_keys.bind_account(key.id, account.id)
                seeded.append([account.id, account.access_hash])
            bot_token = server.create_bot(GROUP_BOT)
            bot = storage.accounts.get_by_username(GROUP_BOT)
            assert bot is not None
            facts: dict[str, Any] = {
                "port": server.port,
                "pem": server.public_key_pem,
                "lg_token": server.create_bot(LG_BOT),
                "bot_token": bot_token,
                "bot_id": bot.id,
                "bot_hash": bot.access_hash,
                "members": seeded,
            }
            print(json.dumps(facts), flush=True)
            keys = server.core.services.keys
            viewers = [uid for uid, _ in seeded] + [facts["bot_id"]]

            def answer(line: bytes) -> str:
                # "hashes CHANNEL": every member's and the bot's access hash of the channel
                # (each viewer has its own; loopgram's client keeps no chats to learn it from).
                word, _, arg = line.partition(b" ")
                if word == b"cpu":
                    # /proc counts in ticks of 10 ms: too coarse for one fan-out.
                    return repr(time.process_time())
                if word == b"hashes":
                    channel_id = int(arg)
                    return json.dumps({v: keys.channel_access_hash(v, channel_id) for v in viewers})
                return "unknown command"

            await serve_commands(profile, answer)


class GroupServer(ServerProcess):
    def cpu_seconds(self) -> float:
        """The server's CPU seconds (all its threads), at the clock's full resolution."""
        return float(self.command("cpu"))


# -- the members --------------------------------------------------------------------------------


class Tracker:
    """What the members' handlers saw: the arrival of the message being timed, and each
    member's last pts per channel."""

    def __init__(self) -> None:
        self.text = ""
        self.waiting = 0
        self.last = 0.0
        self.done = asyncio.Event()
        self.pts: dict[tuple[int, int], int] = {}

    def expect(self, text: str, count: int) -> None:
        self.text, self.waiting, self.last = text, count, 0.0
        self.done.clear()

    def handler(self, index: int) -> Callable[[abcs.Update], Awaitable[None]]:
        async def got(update: abcs.Update) -> None:
            if not isinstance(update, types.UpdateNewChannelMessage):
                return
            message = update.message
            if not isinstance(message, types.Message | types.MessageService):
                return
            peer = message.peer_id
            if isinstance(peer, types.PeerChannel):
                key = (index, peer.channel_id)
                self.pts[key] = max(self.pts.get(key, 0), update.pts)
            if isinstance(message, types.Message) and message.message == self.text:
                self.last = time.perf_counter()
                self.waiting -= 1
                if self.waiting == 0:
                    self.done.set()

        return got


@dataclass
class Members:
    facts: dict[str, Any]
    seed: str
    tracker: Tracker = field(default_factory=Tracker)
    clients: list[Client] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [uid for uid, _ in self.facts["members"]]

    def _client(self, i: int) -> Client:
        session = MemorySession()
        session.save(
            SessionData(
                host=HOST,
                port=self.facts["port"],
                auth_key=member_key(self.seed, i),
                user_id=self.facts["members"][i][0],
            )
        )
        client = Client(session, host=HOST, port=self.facts["port"], public_key=self.facts["pem"])
        client.on_update(types.UpdateNewChannelMessage)(self.tracker.handler(i))
        return client

    async def connect_all(self) -> None:
        self.clients = [self._client(i) for i in range(len(self.facts["members"]))]
        await self.connect(range(len(self.clients)))

    async def connect(self, indexes: Sequence[int]) -> None:
        for start in range(0, len(indexes), LOGIN_BATCH):
            batch = indexes[start : start + LOGIN_BATCH]
            await asyncio.gather(*(self.clients[i].connect() for i in batch))

    async def disconnect(self, indexes: Sequence[int]) -> None:
        for start in range(0, len(indexes), LOGIN_BATCH):
            batch = indexes[start : start + LOGIN_BATCH]
            await asyncio.gather(*(self.clients[i].disconnect() for i in batch))

    def input_user(self, i: int) -> types.InputUser:
        uid, access_hash = self.facts["members"][i]
        return types.InputUser(user_id=uid, access_hash=access_hash)


@dataclass
class Group:
    """A supergroup and every viewer's access hash of it."""

    id: int
    hashes: dict[int, int]

    def peer(self, viewer_id: int) -> types.InputPeerChannel:
        return types.InputPeerChannel(channel_id=self.id, access_hash=self.hashes[viewer_id])

    def channel(self, viewer_id: int) -> types.InputChannel:
        return types.InputChannel(channel_id=self.id, access_hash=self.hashes[viewer_id])


async def make_group(
    server: GroupServer,
    members: Members,
    size: int,
    title: str,
    extra: Sequence[types.InputUser] = (),
) -> Group:
    """A supergroup of members 0..size-1 (the first creates it) plus the users ``extra``."""
    creator = members.clients[0]
    created = await creator.invoke(
        functions.channels.CreateChannel(megagroup=True, title=title, about="bench")
    )
    assert isinstance(created, types.Updates)
    channel = next(c for c in created.chats if isinstance(c, types.Channel))
    hashes = {int(k): v for k, v in json.loads(server.command(f"hashes {channel.id}")).items()}
    group = Group(channel.id, hashes)
    invitees: list[abcs.InputUser] = [members.input_user(i) for i in range(1, size)]
    invitees += extra
    creator_id = members.ids[0]
    for start in range(0, len(invitees), INVITE_BATCH):
        await creator.invoke(
            functions.channels.InviteToChannel(
                channel=group.channel(creator_id), users=invitees[start : start + INVITE_BATCH]
            )
        )
    return group


# -- fan-out ------------------------------------------------------------------------------------


@dataclass
class FanOut:
    latency_ms: float
    server_us: float
    """Server CPU per delivered update."""
    client_us: float
    """This process's CPU per delivered update."""


async def fan_out(
    server: GroupServer, members: Members, group: Group, online: int, messages: int, tag: str
) -> FanOut:
    """The first member sends ``messages`` messages to ``group``, each once the last of the
    ``online - 1`` other connected members has the one before."""
    sender = members.clients[0]
    peer = group.peer(members.ids[0])
    tracker = members.tracker
    latencies: list[float] = []
    cpu, server_cpu = time.process_time(), server.cpu_seconds()
    for k in range(messages):
        text = f"{tag} {k}"
        tracker.expect(text, online - 1)
        started = time.perf_counter()
        await sender.invoke(
            functions.messages.SendMessage(
                peer=peer, message=text, random_id=int.from_bytes(os.urandom(8), "little") >> 1
            )
        )
        await asyncio.wait_for(tracker.done.wait(), 60)
        latencies.append(tracker.last - started)
    # The clients' acks come back after the last delivery: part of its cost.
    await asyncio.sleep(0.2)
    delivered = messages * (online - 1)
    return FanOut(
        statistics.median(latencies) * 1e3,
        (server.cpu_seconds() - server_cpu) / delivered * 1e6,
        (time.process_time() - cpu) / delivered * 1e6,
    )


@dataclass
class Series:
    samples: list[Any] = field(default_factory=list)

    def median(self, name: str) -> float:
        return float(statistics.median(getattr(s, name) for s in self.samples))


@dataclass
class CatchUp:
    members: int
    seconds: float
    server_ms: float
    """Server CPU per member caught up, in milliseconds."""
    missed: int


async def catch_up(
    server: GroupServer, members: Members, group: Group, indexes: Sequence[int], missed: int
) -> CatchUp:
    """Members ``indexes`` reconnect and ask ``getChannelDifference`` from the last pts
    they saw; each must get exactly the ``missed`` messages."""
    started, server_cpu = time.perf_counter(), server.cpu_seconds()
    await members.connect(indexes)
    tracker = members.tracker

    async def differ(i: int) -> None:
        client = members.clients[i]
        uid = members.ids[i]
        answer = await client.invoke(
            functions.updates.GetChannelDifference(
                channel=group.channel(uid),
                filter=types.ChannelMessagesFilterEmpty(),
                pts=tracker.pts[(i, group.id)],
                limit=1000,
            )
        )
        if not isinstance(answer, upd_types.ChannelDifference):
            raise RuntimeError(f"member {i}: {type(answer).__name__} instead of the difference")
        got = sum(isinstance(m, types.Message) for m in answer.new_messages)
        if got != missed:
            raise RuntimeError(f"member {i} caught up {got} messages, missed {missed}")

    for start in range(0, len(indexes), LOGIN_BATCH):
        await asyncio.gather(*(differ(i) for i in indexes[start : start + LOGIN_BATCH]))
    seconds = time.perf_counter() - started
    return CatchUp(
        len(indexes), seconds, (server.cpu_seconds() - server_cpu) / len(indexes) * 1e3, missed
    )


# -- presses in a supergroup --------------------------------------------------------------------


async def group_presses(
    facts: dict[str, Any], members: Members, group: Group, users: int
) -> tuple[Client, list[Press]]:
    """The bot posts one message with a button in ``group``; ``users`` members press it."""
    bot = Client(host=HOST, port=facts["port"], public_key=facts["pem"])
    await bot.start(bot_token=facts["bot_token"])

    @bot.on_callback_query()
    async def answer(query: CallbackQuery) -> None:
        await query.answer("ok", cache_time=0)

    posted = await bot.invoke(
        functions.messages.SendMessage(
            peer=group.peer(facts["bot_id"]),
            message="vote",
            random_id=int.from_bytes(os.urandom(8), "little") >> 1,
            reply_markup=keyboard([[Button.callback("Press", b"p")]]),
        )
    )
    assert isinstance(posted, types.Updates)
    msg_id = next(
        u.message.id
        for u in posted.updates
        if isinstance(u, types.UpdateNewChannelMessage) and isinstance(u.message, types.Message)
    )
    presses: list[Press] = []
    for i in range(users):
        request = functions.messages.GetBotCallbackAnswer(
            peer=group.peer(members.ids[i]), msg_id=msg_id, data=b"p"
        )
        presses.append(functools.partial(members.clients[i].invoke, request))
    return bot, presses


# -- the run ------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    raise_nofile()
    levels = (10, 100) if args.short else (10, 100, 1000)
    top = max(levels)
    online_part = top // 10
    seed = os.urandom(16).hex()
    server = GroupServer(args.profile_server, __file__, ["--members", str(top), "--seed", seed])
    facts = server.facts
    members = Members(facts, seed)
    private = LoopgramSide(facts)
    bot: Client | None = None
    out: dict[str, Any] = {"levels": levels, "online_part": online_part}
    try:
        started = time.perf_counter()
        await members.connect_all()
        print(f"{top} members connected in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        groups = {n: await make_group(server, members, n, f"fan {n}") for n in levels}
        print(f"supergroups {levels} made in {time.perf_counter() - started:.1f} s", flush=True)
        await server.settle()

        fan: dict[str, Series] = {f"online {n}": Series() for n in levels}
        for run_no in range(args.runs):
            for n in levels:
                profiling = args.profile_server and n == top and run_no == 0
                if profiling:
                    server.command("profile-on")
                sample = await fan_out(
                    server, members, groups[n], n, args.messages, f"r{run_no} n{n}"
                )
                if profiling:
                    server.command("profile-off")
                fan[f"online {n}"].samples.append(sample)
                print(
                    f"  {n:>4} online  run {run_no + 1}: last member after "
                    f"{sample.latency_ms:7.2f} ms; cpu/update server {sample.server_us:5.0f} us, "
                    f"clients {sample.client_us:5.0f} us",
                    flush=True,
                )

        # (b) only a tenth of the largest group connected, against a group of that size.
        offline = list(range(online_part, top))
        await members.disconnect(offline)
        await server.settle()
        partial = f"{top} members, {online_part} online"
        fan[partial] = Series()
        fan[f"again {online_part}"] = Series()
        for run_no in range(args.runs):
            for name, group in (
                (partial, groups[top]),
                (f"again {online_part}", groups[online_part]),
            ):
                sample = await fan_out(
                    server, members, group, online_part, args.messages, f"o{run_no} {name}"
                )
                fan[name].samples.append(sample)
                print(
                    f"  {name:<24} run {run_no + 1}: last member after {sample.latency_ms:7.2f} ms;"
                    f" cpu/update server {sample.server_us:5.0f} us",
                    flush=True,
                )
        out["catch_up"] = await catch_up(
            server, members, groups[top], offline, args.runs * args.messages
        )
        print(f"  catch-up: {out['catch_up']}", flush=True)
        out["fan"] = fan

        # (c) presses: 100 members in a supergroup against 100 users in private chats.
        pressers = min(100, top)
        press_group = await make_group(
            server,
            members,
            pressers,
            "press",
            extra=[types.InputUser(user_id=facts["bot_id"], access_hash=facts["bot_hash"])],
        )
        bot, in_group = await group_presses(facts, members, press_group, pressers)
        started = time.perf_counter()
        await private.setup(pressers)
        print(f"private side: {pressers} users logged in in {time.perf_counter() - started:.1f} s")
        await server.settle()
        in_private = private.presses(pressers)
        presses: dict[str, Series] = {"private": Series(), "supergroup": Series()}
        for run_no in range(args.runs):
            for name, batch in (("private", in_private), ("supergroup", in_group)):
                profiling = args.profile_server and run_no == 0
                if profiling:
                    server.command("profile-on")
                rt: Sample = await measure(batch, args.duration, args.warmup, server.cpu_seconds)
                if profiling:
                    server.command(f"profile-off {args.profile_server}.{name}")
                presses[name].samples.append(rt)
                print(
                    f"  {name:<10} run {run_no + 1}: {rt.rate:7.0f} rt/s  "
                    f"p50 {rt.p50:6.2f} ms  server cpu/rt {rt.server_us:4.0f} us",
                    flush=True,
                )
        out["presses"] = presses
        out["pressers"] = pressers
    finally:
        if bot is not None:
            await bot.disconnect()
        await private.close()
        await members.disconnect([i for i, c in enumerate(members.clients) if c.connected])
        server.stop()
    return out


def report(info: dict[str, str], out: dict[str, Any], args: argparse.Namespace) -> str:
    fan: dict[str, Series] = out["fan"]
    lines = [
        "| supergroup | updates per message | last member ms | server CPU µs/update "
        "| clients' CPU µs/update |",
        "|---|---:|---:|---:|---:|",
    ]
    top = max(out["levels"])
    online_part = out["online_part"]
    for name, series in fan.items():
        if name.startswith("online "):
            label, deliveries = f"{name[7:]} members, all online", int(name[7:]) - 1
        elif name.startswith("again "):
            label, deliveries = f"{name[6:]} members, all online (again)", online_part - 1
        else:
            label, deliveries = name, online_part - 1
        lines.append(
            f"| {label} | {deliveries} | {series.median('latency_ms'):.2f} "
            f"| {series.median('server_us'):.0f} | {series.median('client_us'):.0f} |"
        )
    partial = fan[f"{top} members, {online_part} online"]
    alone = fan[f"again {online_part}"]
    c: CatchUp = out["catch_up"]
    presses: dict[str, Series] = out["presses"]
    group_rate = presses["supergroup"].median("rate")
    private_rate = presses["private"].median("rate")
    largest = fan[f"online {top}"].median("latency_ms")
    lines += [
        "",
        f"- offline members: {top - online_part} of {top} offline cost "
        f"{partial.median('server_us') / alone.median('server_us'):.2f}x the server CPU per "
        f"update of a {online_part}-member group ({partial.median('server_us'):.0f} against "
        f"{alone.median('server_us'):.0f} µs); the {c.members} caught up on {c.missed} "
        f"missed messages each through getChannelDifference in {c.seconds:.1f} s "
        f"({c.server_ms:.2f} ms server CPU per member, reconnection included)",
        f"- fan-out to {top}: {largest:.1f} ms to the last member "
        f"(goal 30 ms{', met' if largest <= 30 else ', missed' if top == 1000 else ''})",
        "",
        "| presses by 100 members | round trips/s | p50 ms | p99 ms | server CPU µs/rt "
        "| clients' CPU µs/rt |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ("private", "supergroup"):
        s = presses[name]
        lines.append(
            f"| {name} | {s.median('rate'):,.0f} | {s.median('p50'):.2f} "
            f"| {s.median('p99'):.2f} | {s.median('server_us'):.0f} "
            f"| {s.median('client_us'):.0f} |"
        )
    lines += [
        "",
        f"- supergroup / private: {group_rate / private_rate:.2f} (goal at least 0.9)",
    ]
    load = os.getloadavg()
    head = [
        f"- python: {info['python']}",
        f"- platform: {info['platform']}",
        f"- cpu: {info['cpu']}",
        f"- AES backend: {info['aes']}",
        f"- load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        f"- runs: median of {args.runs}; a fan-out run sends {args.messages} messages "
        f"(its value: their median), a press run lasts {args.duration:g} s after "
        f"{args.warmup:g} s of warm-up",
    ]
    return "\n".join(head) + "\n\n" + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--members", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--seed", default="", help=argparse.SUPPRESS)
    parser.add_argument(
        "--profile-server",
        metavar="FILE",
        help="cProfile the server in the largest fan-out (FILE) and the presses (FILE.private, "
        "FILE.supergroup)",
    )
    parser.add_argument("--short", action="store_true", help="10 and 100 members, short runs")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=5, help="messages per fan-out run")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per press run")
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--write", metavar="FILE", help="write the results (markdown)")
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.profile_server, args.members, args.seed))
        os._exit(0)  # pool refills may still run in worker threads: no use any more
    if args.short:
        args.runs, args.messages, args.duration, args.warmup = 3, 3, 1.0, 0.3
    logging.basicConfig(level=logging.WARNING)
    info = machine()
    for key in ("python", "platform", "cpu", "aes"):
        print(f"{key:<9}{info[key]}")
    out = asyncio.run(run(args))
    text = report(info, out, args)
    print()
    print(text)
    if args.write:
        from roundtrip import write_results

        write_results(Path(args.write), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
