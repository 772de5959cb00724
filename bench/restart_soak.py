"""Standing check: kill -9 restarts under load lose no acknowledged message.

Run from the repository root: ``python bench/restart_soak.py`` (20 kills), ``--short`` for the
CI version (3 kills), ``--kills N``, ``--users N`` to size it. Exit status 1 on any lost
acknowledged message, failed restart or integrity failure.

``loopgram serve`` runs as a child process on a data directory (SQLite, the default
durability). Loopgram users send messages to a bot and press its buttons continuously from
this process; at a random moment the server gets SIGKILL, the database is checked with
``PRAGMA integrity_check``, and the server starts again on the same directory and port
(restart time measured up to the first accepted TCP connection). Clients whose calls fail
reconnect on their saved session. A message counts as acknowledged when ``send_message``
returned the server's answer; at the end every acknowledged message must be in its chat's
history.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _hardening import HOST, Verdict, machine, print_machine

BOT = "soakbot"


def loopgram_command() -> list[str]:
    found = shutil.which("loopgram")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from loopgram.cli import main; sys.exit(main())"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``loopgram serve`` on one data directory and port, killed and restarted at will."""

    def __init__(self, data: Path, port: int, logs: Path) -> None:
        self.data = data
        self.port = port
        self.logs = logs
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.pem = ""

    async def start(self, timeout: float = 60.0) -> float:
        """Start and wait until it accepts connections; returns the seconds it took."""
        self.starts += 1
        out = (self.logs / f"serve-{self.starts}.out").open("wb")
        err = (self.logs / f"serve-{self.starts}.err").open("wb")
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                *loopgram_command(),
                "serve",
                "--data",
                str(self.data),
                "--port",
                str(self.port),
                "--log-level",
                "WARNING",
            ],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
        out.close()
        err.close()
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"loopgram serve exited with {self.proc.returncode}")
            try:
                _, writer = await asyncio.open_connection(HOST, self.port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"loopgram serve did not listen within {timeout:g} s")
        took = time.perf_counter() - started
        if not self.pem:
            text = (self.logs / f"serve-{self.starts}.out").read_text()
            for _ in range(100):
                match = re.search(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", text, re.S)
                if match:
                    self.pem = match.group(0)
                    break
                await asyncio.sleep(0.05)
                text = (self.logs / f"serve-{self.starts}.out").read_text()
        return took

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # our own child, by its handle
            self.proc.wait()

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def tracebacks(self) -> int:
        return sum(
            path.read_text(errors="replace").count("Traceback (most recent call last)")
            for path in self.logs.glob("serve-*.err")
        )

    def integrity(self) -> str:
        db = sqlite3.connect(self.data / "loopgram.db", timeout=30)
        try:
            return ",".join(row[0] for row in db.execute("PRAGMA integrity_check"))
        finally:
            db.close()


@dataclass
class Load:
    acked: dict[int, list[str]] = field(default_factory=dict)
    sent_failed: int = 0
    presses_ok: int = 0
    presses_failed: int = 0
    wrong_answers: list[str] = field(default_factory=list)
    reconnects: int = 0


class Soak:
    def __init__(self, server: Server, token: str, args: argparse.Namespace) -> None:
        self.server = server
        self.token = token
        self.args = args
        self.load = Load()
        self.stop = False
        self.bot: Any = None
        self.users: list[Any] = []
        self.messages: dict[int, Any] = {}

    def client(self, session: Any = None) -> Any:
        from loopgram.client import Client

        return Client(session, host=HOST, port=self.server.port, public_key=self.server.pem)

    async def setup(self) -> None:
        from loopgram.client import Button, CallbackQuery, Message

        self.bot = self.client()
        await self.bot.start(bot_token=self.token)

        @self.bot.on_callback_query()
        async def answer(query: CallbackQuery) -> None:
            data = (query.data or b"").decode()
            await query.answer(f"{query.user_id}:{data}", cache_time=0)

        inboxes: dict[int, asyncio.Queue[Message]] = {}
        for i in range(self.args.users):
            user = self.client()
            await user.start(phone=f"+1555444{i:04d}", code="12345")
            inbox: asyncio.Queue[Message] = asyncio.Queue()
            inboxes[i] = inbox

            def recorder(box: asyncio.Queue[Message]) -> Any:
                async def record(message: Message) -> None:
                    if not message.out and message.buttons:
                        await box.put(message)

                return record

            user.on_message()(recorder(inbox))
            await user.send_message(BOT, "/start")
            self.users.append(user)
            self.load.acked[i] = []
        for i, user in enumerate(self.users):
            while self.bot.session.get_peer(user.me_id) is None:
                await asyncio.sleep(0.05)
            await self.bot.send_message(
                user.me_id, "press", buttons=[[Button.callback("p", f"p{i}")]]
            )
            self.messages[i] = await asyncio.wait_for(inboxes[i].get(), 30)

    async def reconnect(self, i: int) -> None:
        """Replace user ``i``'s client by a new one on the same session (logged in)."""
        old = self.users[i]
        with contextlib.suppress(Exception):
            await asyncio.wait_for(old.disconnect(), 5)
        self.load.reconnects += 1
        while not self.stop:
            fresh = self.client(old.session)
            try:
                await asyncio.wait_for(fresh.connect(), 10)
                self.users[i] = fresh
                return
            except Exception:
                with contextlib.suppress(Exception):
                    await fresh.disconnect()
                await asyncio.sleep(0.2)

    async def user_loop(self, i: int) -> None:
        n = 0
        rng = random.Random(i)
        while not self.stop:
            user = self.users[i]
            try:
                if rng.random() < 0.7:
                    n += 1
                    text = f"soak u{i} #{n}"
                    await asyncio.wait_for(user.send_message(BOT, text), self.args.call_timeout)
                    self.load.acked[i].append(text)
                else:
                    await self.press(i, user)
            except Exception:
                self.load.sent_failed += 1
                if self.stop:
                    return
                await asyncio.sleep(0.1)
                await self.reconnect(i)
            await asyncio.sleep(self.args.pace)

    async def press(self, i: int, user: Any) -> None:
        message = self.messages[i]
        try:
            got = await asyncio.wait_for(
                user.press_button(message.chat_id, message.id, data=f"p{i}".encode()),
                self.args.call_timeout,
            )
        except Exception:
            self.load.presses_failed += 1
            raise
        expected = f"{user.me_id}:p{i}"
        if got.message != expected:
            self.load.wrong_answers.append(f"{got.message!r} instead of {expected!r}")
        else:
            self.load.presses_ok += 1

    async def bot_keeper(self) -> None:
        """Reconnects the bot whenever its connection is gone (it must answer presses)."""
        while not self.stop:
            await asyncio.sleep(0.5)
            try:
                await asyncio.wait_for(self.bot.get_me(), self.args.call_timeout)
            except Exception:
                if self.stop:
                    return
                old = self.bot
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(old.disconnect(), 5)
                fresh = self.client(old.session)
                fresh._query_handlers = old._query_handlers  # the same answering handler
                try:
                    await asyncio.wait_for(fresh.connect(), 10)
                    self.bot = fresh
                except Exception:
                    with contextlib.suppress(Exception):
                        await fresh.disconnect()

    async def final_presses(self) -> int:
        """Presses that succeed after the last restart (each user tries for 30 s)."""

        async def one(i: int) -> bool:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    await self.press(i, self.users[i])
                    return True
                except Exception:
                    await self.reconnect(i)
            return False

        return sum(await asyncio.gather(*(one(i) for i in range(len(self.users)))))

    async def lost(self) -> tuple[int, int, list[str], int]:
        """(acknowledged, lost, examples, stored twice): every acknowledged text looked up
        in history (a message re-sent across a restart must be stored once: random_id)."""
        acked = lost = twice = 0
        examples: list[str] = []
        for i, texts in self.load.acked.items():
            acked += len(texts)
            seen: Counter[str] = Counter()
            user = self.users[i]
            offset = 0
            while True:
                for attempt in range(20):
                    try:
                        page = await user.get_history(BOT, limit=100, offset_id=offset)
                        break
                    except Exception:
                        await self.reconnect(i)
                        user = self.users[i]
                        if attempt == 19:
                            raise
                if not page:
                    break
                seen.update(m.text for m in page)
                offset = min(m.id for m in page)
            missing = [t for t in texts if t not in seen]
            lost += len(missing)
            examples += missing[:3]
            twice += sum(seen[t] - 1 for t in set(texts) if seen[t] > 1)
        return acked, lost, examples, twice

    async def close(self) -> None:
        for client in [*self.users, self.bot]:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 5)


async def run(args: argparse.Namespace) -> int:
    verdict = Verdict()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="loopgram-restart-") as tmp:
        data = Path(tmp) / "data"
        logs = Path(tmp) / "logs"
        logs.mkdir()
        token = subprocess.run(
            [*loopgram_command(), "bot", "create", BOT, "--data", str(data)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        server = Server(data, free_port(), logs)
        first = await server.start()
        print(f"server up in {first:.2f} s on port {server.port}; {args.users} users and a bot")
        soak = Soak(server, token, args)
        await soak.setup()
        tasks = [asyncio.create_task(soak.user_loop(i)) for i in range(args.users)]
        tasks.append(asyncio.create_task(soak.bot_keeper()))
        restarts: list[float] = []
        failed_restarts = 0
        integrity: list[str] = []
        for kill in range(1, args.kills + 1):
            await asyncio.sleep(rng.uniform(args.min_up, args.max_up))
            acked_now = sum(len(t) for t in soak.load.acked.values())
            server.kill()
            integrity.append(server.integrity())
            try:
                took = await server.start()
                restarts.append(took)
            except RuntimeError as exc:
                failed_restarts += 1
                print(f"  restart {kill} FAILED: {exc}")
                with contextlib.suppress(RuntimeError):
                    restarts.append(await server.start())
            print(
                f"  kill {kill:>2}: {acked_now:>6} messages acknowledged so far, integrity "
                f"{integrity[-1]}, restarted in {restarts[-1] if restarts else float('nan'):.2f} s",
                flush=True,
            )
        await asyncio.sleep(args.max_up)
        soak.stop = True
        for task in tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*tasks, return_exceptions=True)
        soak.stop = False
        served = await soak.final_presses()
        acked, lost, examples, twice = await soak.lost()
        soak.stop = True
        await soak.close()
        code = server.stop()
        integrity.append(server.integrity())
        tracebacks = server.tracebacks()

    load = soak.load
    print()
    print(
        f"kills: {args.kills}; restarts took {min(restarts):.2f} / "
        f"{sorted(restarts)[len(restarts) // 2]:.2f} / {max(restarts):.2f} s (min/median/max)"
    )
    print(
        f"messages acknowledged: {acked:,}; lost: {lost}{' ' + str(examples) if examples else ''}"
        f"; stored twice: {twice}"
    )
    print(
        f"calls that failed around the kills (not acknowledged, retried after reconnecting): "
        f"{load.sent_failed:,}; reconnects: {load.reconnects:,}"
    )
    print(
        f"presses answered: {load.presses_ok:,} (failed around kills: {load.presses_failed:,}; "
        f"wrong answers: {len(load.wrong_answers)}); after the last restart "
        f"{served}/{args.users} users' presses answered"
    )
    print(f"integrity checks: {sorted(set(integrity))} ({len(integrity)} checks)")
    print(f"tracebacks in the servers' standard error: {tracebacks}; last exit code {code}")
    print()
    verdict.check(lost == 0, "no acknowledged message lost")
    verdict.check(acked > 0, "messages were acknowledged")
    verdict.check(twice == 0, "no acknowledged message stored twice")
    verdict.check(failed_restarts == 0, "every restart succeeded")
    verdict.check(set(integrity) == {"ok"}, "PRAGMA integrity_check ok after every kill")
    verdict.check(not load.wrong_answers, "no press got another press's answer")
    verdict.check(served == args.users, "every user's press answered after the last restart")
    verdict.check(tracebacks == 0, "no traceback on the servers' standard error")
    return 1 if verdict.failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--min-up", type=float, default=1.0, help="seconds up before a kill, min")
    parser.add_argument("--max-up", type=float, default=5.0, help="seconds up before a kill, max")
    parser.add_argument("--pace", type=float, default=0.02, help="seconds between a user's calls")
    parser.add_argument("--call-timeout", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--short", action="store_true", help="the CI version: 3 kills")
    args = parser.parse_args(argv)
    if args.short:
        args.kills, args.users, args.min_up, args.max_up = 3, 4, 0.5, 2.0
    print_machine(machine())
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
