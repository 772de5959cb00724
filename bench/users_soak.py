"""Standing check: many users pressing one bot's buttons at once lose or misroute no answer.

Run from the repository root: ``python bench/users_soak.py`` (200 users for 60 s), ``--short``
for the CI version (20 users for 5 s), ``--users N --duration S`` to size it. Exit status 1 on
any lost or misrouted answer, a server traceback or crash.

The server (``LoopgramServer`` on a temporary SQLite directory, default configuration: flood
limits included) runs in a child process; one loopgram bot and all the loopgram users run in
this one, concurrently. The bot sends each user a message with four callback buttons and
answers every press with the presser's id, the message id (as the bot sees it) and the
button's data. Each user
presses a random button of its own message in a loop, waiting for each answer: an answer
that does not name that user, message and button is misrouted; a press that raises (a
timeout, ``BOT_RESPONSE_TIMEOUT``, a flood wait longer than the client sleeps through) or
gets no answer within ``--timeout`` seconds is lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _hardening import (
    CANARY_BOT,
    HOST,
    ServerProc,
    Verdict,
    machine,
    print_machine,
    raise_nofile,
)


async def run(args: argparse.Namespace) -> int:
    from loopgram.client import Button, CallbackQuery, Client, Message

    raise_nofile()
    verdict = Verdict()
    with tempfile.TemporaryDirectory(prefix="loopgram-users-") as tmp:
        server = ServerProc(Path(tmp))
        facts = await server.start()
        port, pem = facts["port"], facts["pem"]
        bot = Client(host=HOST, port=port, public_key=pem)
        await bot.start(bot_token=facts["bot_token"])
        answered = 0

        @bot.on_callback_query()
        async def answer(query: CallbackQuery) -> None:
            nonlocal answered
            data = (query.data or b"").decode()
            await query.answer(f"{query.user_id}:{query.msg_id}:{data}", cache_time=0)
            answered += 1

        users: list[Any] = [None] * args.users
        messages: list[Any] = [None] * args.users
        bot_ids: list[int] = [0] * args.users
        inboxes: list[asyncio.Queue[Message]] = [asyncio.Queue() for _ in range(args.users)]
        gate = asyncio.Semaphore(16)
        started = time.perf_counter()

        async def login(i: int) -> None:
            async with gate:
                client = Client(host=HOST, port=port, public_key=pem)
                await client.start(phone=f"+1555333{i:04d}", code="12345")

                @client.on_message()
                async def record(message: Message) -> None:
                    if not message.out and message.buttons:
                        await inboxes[i].put(message)

                await client.send_message(CANARY_BOT, "/start")
                users[i] = client

        with contextlib.redirect_stdout(io.StringIO()):
            await asyncio.gather(*(login(i) for i in range(args.users)))
        for i, client in enumerate(users):
            while bot.session.get_peer(client.me_id) is None:
                await asyncio.sleep(0.02)
            row = [Button.callback(str(k), f"u{i}b{k}") for k in range(4)]
            sent = await bot.send_message(client.me_id, f"keyboard {i}", buttons=[row])
            bot_ids[i] = sent.id  # message ids are per side in a private chat
        for i in range(args.users):
            messages[i] = await asyncio.wait_for(inboxes[i].get(), 60)
        print(
            f"{args.users} users logged in and holding a keyboard in "
            f"{time.perf_counter() - started:.1f} s; pressing for {args.duration:g} s"
        )

        stop = False
        ok = 0
        lost: Counter[str] = Counter()
        misrouted: list[str] = []
        latencies: list[float] = []

        async def presser(i: int) -> None:
            nonlocal ok
            rng = random.Random(i)
            client, message = users[i], messages[i]
            while not stop:
                k = rng.randrange(4)
                expected = f"{client.me_id}:{bot_ids[i]}:u{i}b{k}"
                t0 = time.perf_counter()
                try:
                    got = await asyncio.wait_for(message.press(0, k), args.timeout)
                except Exception as exc:
                    lost[f"{type(exc).__name__}: {exc}"[:120]] += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                if got.message != expected:
                    misrouted.append(f"user {i} got {got.message!r} for {expected!r}")
                else:
                    ok += 1

        await server.stats(mark=True)
        t0 = time.perf_counter()
        tasks = [asyncio.create_task(presser(i)) for i in range(args.users)]
        await asyncio.sleep(args.duration)
        stop = True
        # Presses in flight finish (answered or lost) before the count.
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
        stats = await server.stats()
        for client in [*users, bot]:
            with contextlib.suppress(Exception):
                await client.disconnect()
        alive = server.alive()
        code = await server.stop()
        stderr_tb = server.stderr_tracebacks()

    ordered = sorted(latencies) or [0.0]
    total = ok + len(misrouted) + sum(lost.values())
    print()
    print(
        f"presses: {total:,} in {elapsed:.1f} s ({total / elapsed:,.0f}/s); answered right "
        f"{ok:,}, misrouted {len(misrouted)}, lost {sum(lost.values())}"
    )
    print(
        f"latency p50 {ordered[len(ordered) // 2] * 1e3:.1f} ms, p99 "
        f"{ordered[int(len(ordered) * 0.99)] * 1e3:.1f} ms, max {ordered[-1] * 1e3:.0f} ms"
    )
    for reason, count in lost.most_common(5):
        print(f"  lost {count:>6}  {reason}")
    for line in misrouted[:5]:
        print(f"  misrouted: {line}")
    print(
        f"server: rss {stats.get('rss_mb', 0):.0f} MB (peak {stats.get('peak_rss_mb', 0):.0f}), "
        f"longest event-loop block {stats.get('max_block_s', 0) * 1e3:.0f} ms, log records "
        f"{stats.get('warnings', 0)} warnings, {stats.get('errors', 0)} errors, tracebacks "
        f"{stats.get('tracebacks', 0)} logged / {stderr_tb} on stderr"
    )
    for text, count in stats.get("top", []):
        print(f"  {count:>8}  {text}")
    print()
    verdict.check(total > 0, "presses were made")
    verdict.check(not lost, "no lost answer")
    verdict.check(not misrouted, "no misrouted answer")
    verdict.check(alive and code == 0, f"server alive to the end and stopped cleanly (exit {code})")
    verdict.check(stats.get("tracebacks", 1) == 0 and stderr_tb == 0, "no traceback")
    return 1 if verdict.failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a press may take")
    parser.add_argument("--short", action="store_true", help="the CI version: 20 users, 5 s")
    args = parser.parse_args(argv)
    if args.short:
        args.users, args.duration = 20, 5.0
    print_machine(machine())
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
