"""Benchmark: one process's storage operations on SQLite against PostgreSQL (storage layer).

The operations a server makes most, each timed on a fresh store per backend in one run:

* ``press reads``: one ``reading()`` scope with the reads of a callback press (the bot, the
  presser, the pressed message copy): cached rows after the first time, so on SQLite one
  ``PRAGMA data_version`` and on PostgreSQL one snapshot check per scope;
* ``send``: a private message (two box copies, two pts, two update log rows): one write;
* ``history``: the newest 20 messages of a dialog;
* ``bot queue``: a Bot API update pushed, read by ``getUpdates`` and confirmed;
* ``login``: a new auth key and its first session saved.

SQLite runs with ``synchronous=FULL`` (the server's default) in a temporary directory;
PostgreSQL in a throwaway schema of ``LOOPGRAM_TEST_POSTGRES`` (``.ci/services.sh``), with
its server's defaults (``synchronous_commit=on``), once per freshness check (``snapshot``:
strict, a round trip per reading scope; ``notify``: announcements read off the socket).
Printed: operations per second, and PostgreSQL's rates as fractions of SQLite's. The
issue's goal (one process on PostgreSQL + Redis at least 0.7x one on SQLite) is about
callback round trips, measured by ``bench/roundtrip.py``; this shows what the storage alone
costs.

    python bench/storage_bench.py [--ops 300] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from loopgram.clock import FakeClock, seeded_random
from loopgram.storage import PeerRef, PostgresStorage, SqliteStorage, Storage, StoredMessage
from loopgram.storage.postgres import Freshness
from loopgram.testing.postgres import POSTGRES_ENV, postgres_schema

Operation = Callable[[int], None]


def render(m: StoredMessage) -> bytes:
    return f"{m.owner_id}/{m.id}".encode()


@contextmanager
def sqlite_store() -> Iterator[Storage]:
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStorage(
            Path(directory) / "bench.db", clock=FakeClock(), random_bytes=seeded_random(1)
        )
        try:
            yield store
        finally:
            store.close()


def postgres_store(freshness: Freshness) -> Callable[[], AbstractContextManager[Storage]]:
    @contextmanager
    def opened() -> Iterator[Storage]:
        with postgres_schema(prefix="lgbench") as url:
            store = PostgresStorage(
                url, clock=FakeClock(), random_bytes=seeded_random(1), freshness=freshness
            )
            try:
                yield store
            finally:
                store.close()

    return opened


def operations(store: Storage) -> dict[str, Operation]:
    bot = store.accounts.create_bot("BenchBot", "Bench", "secret").id
    user = store.accounts.create_user("15550100", "User").id
    (_, _), (pressed, _) = store.messages.send(
        sender_id=bot, peer=PeerRef.user(user), text="buttons", render_update=render
    )
    for i in range(30):
        store.messages.send(
            sender_id=bot, peer=PeerRef.user(user), text=f"m{i}", render_update=render
        )
    store.bot_updates.open(bot, first_id=1)
    key = bytes(range(256))

    def press_reads(_: int) -> None:
        with store.reading():
            store.accounts.get(bot)
            store.accounts.get(user)
            store.messages.get(user, pressed.id)

    def send(i: int) -> None:
        store.messages.send(
            sender_id=user, peer=PeerRef.user(bot), text=f"hello {i}", render_update=render
        )

    def history(_: int) -> None:
        store.messages.history(user, PeerRef.user(bot), limit=20)

    def bot_queue(_: int) -> None:
        update = store.bot_updates.push(bot, "message", b'{"message": {}}')
        store.bot_updates.pending(bot, from_id=update.update_id, limit=100)
        store.bot_updates.confirm(bot, update.update_id + 1)

    def login(i: int) -> None:
        from loopgram.storage import SessionState

        key_id = 1_000_000 + i
        store.auth_keys.put(key_id, key)
        store.sessions.save(SessionState(key_id, 7, 0, 0, ()))

    return {
        "press reads": press_reads,
        "send": send,
        "history": history,
        "bot queue": bot_queue,
        "login": login,
    }


def measure(
    open_store: Callable[[], AbstractContextManager[Storage]], ops: int
) -> dict[str, float]:
    with open_store() as store:
        table = operations(store)
        rates = {}
        offset = 0
        for name, op in table.items():
            op(offset)  # warm: caches, prepared statements
            offset += 1
            start = time.perf_counter()
            for i in range(ops):
                op(offset + i)
            rates[name] = ops / (time.perf_counter() - start)
            offset += ops
        return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=300, help="operations per kind and run")
    parser.add_argument("--runs", type=int, default=3, help="runs per backend (median shown)")
    args = parser.parse_args(argv)
    if not os.environ.get(POSTGRES_ENV):
        print(f"{POSTGRES_ENV} is not set (see .ci/services.sh)", file=sys.stderr)
        return 2
    backends: dict[str, Callable[[], AbstractContextManager[Storage]]] = {
        "sqlite FULL": sqlite_store,
        "pg snapshot": postgres_store("snapshot"),
        "pg notify": postgres_store("notify"),
    }
    results: dict[str, dict[str, list[float]]] = {name: {} for name in backends}
    for _ in range(args.runs):
        for backend, opener in backends.items():
            for name, rate in measure(opener, args.ops).items():
                results[backend].setdefault(name, []).append(rate)
    print(f"storage operations per second, one process, median of {args.runs} x {args.ops}")
    print(f"{'operation':<14}" + "".join(f"{b:>14}" for b in backends) + "  (pg / sqlite)")
    for name in results["sqlite FULL"]:
        rates = [statistics.median(results[b][name]) for b in backends]
        ratios = " ".join(f"{r / rates[0]:.2f}x" for r in rates[1:])
        print(f"{name:<14}" + "".join(f"{r:>14,.0f}" for r in rates) + f"  ({ratios})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
