"""Storage layer, SQLite backend: durability, migrations, WAL and several openers of one file."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from loopgram.storage import (
    DB_FILENAME,
    FIRST_ACCOUNT_ID,
    InlineMessage,
    PeerRef,
    RandomIdTaken,
    SchemaError,
    ServerSalt,
    SessionState,
    SqliteStorage,
    StorageBusy,
    StorageError,
    StoredMessage,
    UnackedMessage,
    ValueTooLarge,
)
from loopgram.storage.migrations import MIGRATIONS, Migration
from loopgram.storage.sqlite import Synchronous

from .conftest import START, FakeClock, seeded_random

KEY = bytes(range(256))
EXTRA = Migration(
    len(MIGRATIONS) + 1, "test: account notes", "ALTER TABLE accounts ADD notes TEXT;"
)


def render(m: StoredMessage) -> bytes:
    return f"{m.owner_id}/{m.id}@{m.pts}".encode()


def open_db(
    path: Path,
    *,
    clock: FakeClock | None = None,
    random_bytes: Callable[[int], bytes] = os.urandom,
    synchronous: Synchronous = "FULL",
    busy_timeout: float = 5.0,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> SqliteStorage:
    return SqliteStorage(
        path,
        clock=clock or FakeClock(),
        random_bytes=random_bytes,
        synchronous=synchronous,
        busy_timeout=busy_timeout,
        migrations=migrations,
    )


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    with open_db(path, random_bytes=seeded_random(7)) as s:
        s.settings.set("server.rsa_private_key_pem", b"-----BEGIN PRIVATE KEY-----")
        bot = s.accounts.create_bot("TestBot", "Test", "secret")
        user = s.accounts.create_user("15550001", "Alice", "Smith")
        s.auth_keys.put(-42, KEY)
        s.auth_keys.bind_account(-42, user.id)
        s.auth_keys.set_layer(-42, 198)
        session = SessionState(
            -42, 7, last_msg_id=123_456_789_012, out_seqno=9, salts=(ServerSalt(1, 2, 3),)
        )
        s.sessions.save(session)
        s.sessions.add_unacked(-42, 7, [UnackedMessage(1001, 3, b"rpc_result")])
        sent = s.messages.send(
            sender_id=bot.id, peer=PeerRef.user(user.id), text="hi", render_update=render
        )
        s.inline_messages.put(InlineMessage(b"inline", bot.id, "t", None, None, START))
        before_history = s.messages.history(user.id, PeerRef.user(bot.id))
        before_updates = s.updates.since(user.id, 0)
        before_state = s.updates.state(user.id)
    with open_db(path) as s:
        assert s.settings.get("server.rsa_private_key_pem") == b"-----BEGIN PRIVATE KEY-----"
        assert s.accounts.get(bot.id) == bot
        assert s.accounts.get_by_phone("15550001") == user
        assert s.accounts.get_by_bot_token(f"{bot.id}:secret") == bot
        key = s.auth_keys.get(-42)
        assert key is not None and (key.key, key.account_id, key.layer) == (KEY, user.id, 198)
        assert s.sessions.load(-42, 7) == session
        assert s.sessions.unacked(-42, 7) == [UnackedMessage(1001, 3, b"rpc_result")]
        assert s.messages.get(user.id, 1) == sent[1][0]
        assert s.messages.history(user.id, PeerRef.user(bot.id)) == before_history
        assert s.updates.since(user.id, 0) == before_updates
        assert s.updates.state(user.id) == before_state
        assert s.inline_messages.get(b"inline") is not None
        # Counters continue where they stopped: no id or pts is handed out twice.
        assert s.accounts.create_user("15550002", "Bob").id == user.id + 1
        again = s.messages.send(
            sender_id=bot.id, peer=PeerRef.user(user.id), text="again", render_update=render
        )
        assert [(m.id, m.pts) for m, _ in again] == [(2, 2), (2, 2)]
        assert again[0][0].global_id > sent[0][0].global_id


def test_migrations_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    clock = FakeClock()
    with open_db(path, clock=clock) as s:
        assert s.applied_migrations == [m.version for m in MIGRATIONS]
        first = s.schema_versions()
    assert [(v, n) for v, n, _ in first] == [(m.version, m.name) for m in MIGRATIONS]
    clock.advance(100)
    for _ in range(2):
        with open_db(path, clock=clock) as s:
            assert s.applied_migrations == []
            assert s.schema_versions() == first


def test_upgrade_from_every_released_version(tmp_path: Path) -> None:
    steps = (*MIGRATIONS, EXTRA)
    for n in range(1, len(steps)):
        path = tmp_path / f"v{n}.db"
        with open_db(path, migrations=steps[:n]) as s:
            bot = s.accounts.create_bot("TestBot", "Test", "secret")
        with open_db(path, migrations=steps) as s:
            assert s.applied_migrations == list(range(n + 1, len(steps) + 1))
            assert s.accounts.get(bot.id) == bot
            assert [v for v, _, _ in s.schema_versions()] == list(range(1, len(steps) + 1))
    with sqlite3.connect(tmp_path / f"v{len(steps) - 1}.db") as raw:
        columns = [r[1] for r in raw.execute("PRAGMA table_info(accounts)")]
    assert "notes" in columns


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    open_db(path, migrations=(*MIGRATIONS, EXTRA)).close()
    with pytest.raises(SchemaError, match="newer"):
        open_db(path)


def test_diverged_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    open_db(path).close()
    renamed = (*MIGRATIONS[:-1], Migration(MIGRATIONS[-1].version, "something else", "SELECT 1;"))
    with pytest.raises(SchemaError, match="recorded as"):
        open_db(path, migrations=renamed)


def test_failed_migration_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    open_db(path).close()
    broken = Migration(
        len(MIGRATIONS) + 1,
        "broken",
        "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);",
    )
    with pytest.raises(SchemaError, match="broken"):
        open_db(path, migrations=(*MIGRATIONS, broken))
    with open_db(path) as s:
        assert [v for v, _, _ in s.schema_versions()] == [m.version for m in MIGRATIONS]
    with sqlite3.connect(path) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half_done" not in tables


def test_migration_versions_must_be_contiguous(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        open_db(tmp_path / "x.db", migrations=(Migration(2, "gap", "SELECT 1;"),))


def test_statement_splitting_respects_literals() -> None:
    m = Migration(1, "t", "CREATE TABLE a (x TEXT DEFAULT ';');\n-- note\nCREATE TABLE b (y);\n")
    assert list(m.statements()) == [
        "CREATE TABLE a (x TEXT DEFAULT ';');",
        "-- note\nCREATE TABLE b (y);",
    ]
    with pytest.raises(ValueError):
        list(Migration(1, "t", "CREATE TABLE a (x)").statements())


def test_pragmas(tmp_path: Path) -> None:
    with open_db(tmp_path / "full.db") as s:
        assert s.pragma("journal_mode") == "wal"
        assert s.pragma("foreign_keys") == 1
        assert s.pragma("synchronous") == 2  # FULL
        assert s.pragma("busy_timeout") == 5000
    with open_db(tmp_path / "normal.db", synchronous="NORMAL", busy_timeout=0.5) as s:
        assert s.pragma("synchronous") == 1
        assert s.pragma("busy_timeout") == 500
    with pytest.raises(ValueError):
        open_db(tmp_path / "bad.db", synchronous="OFF")  # type: ignore[arg-type]
    # WAL is a property of the file: a plain connection sees it too.
    with sqlite3.connect(tmp_path / "full.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_data_directory_is_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with SqliteStorage.in_directory(data) as s:
        assert s.path == data / DB_FILENAME
        s.settings.set("k", b"v")
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / DB_FILENAME).stat().st_mode) == 0o600


# -- several openers of one file --------------------------------------------------------------


def test_two_storages_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    with open_db(path) as server, open_db(path) as cli:
        bot = cli.accounts.create_bot("TestBot", "Test", "secret")
        assert server.accounts.get_by_bot_token(f"{bot.id}:secret") == bot
        user = server.accounts.create_user("15550001", "Alice")
        assert user.id == bot.id + 1
        assert cli.accounts.get(user.id) == user
        assert server.settings.setdefault("secret", b"server") == b"server"
        assert cli.settings.setdefault("secret", b"cli") == b"server"


def test_rows_read_before_another_connection_writes_are_not_served_stale(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.db"
    with open_db(path) as server, open_db(path) as cli:
        bot = server.accounts.create_bot("TestBot", "Test", "secret")
        user = server.accounts.create_user("15550001", "Alice")
        (own, _), (theirs, _) = server.messages.send(
            sender_id=bot.id, peer=PeerRef.user(user.id), text="one", render_update=render
        )
        assert server.messages.get(user.id, theirs.id) == theirs
        assert server.accounts.get(bot.id) == bot

        renamed = cli.accounts.update(bot.id, username="NewBot")
        assert server.accounts.get(bot.id) == renamed
        (edited, _), _ = cli.messages.edit(bot.id, own.id, render_update=render, text="two")
        seen = server.messages.get(user.id, theirs.id)
        assert seen is not None and seen.text == "two" and seen.pts == theirs.pts + 1
        assert server.messages.get(bot.id, own.id) == edited
        cli.messages.delete(bot.id, [own.id], revoke=True, render_update=lambda d: b"gone")
        assert server.messages.get(user.id, theirs.id) is None
        assert server.messages.get(bot.id, own.id) is None


def test_accounts_read_together_come_from_the_cache_and_never_stale(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    with open_db(path) as server, open_db(path) as cli:
        bot = server.accounts.create_bot("TestBot", "Test", "secret")
        user = server.accounts.create_user("15550001", "Alice")
        first = server.accounts.get_many([user.id, bot.id, user.id, 999_999])
        assert first == [user, bot]
        # A second look is served from the cache: the very records of the first.
        again = server.accounts.get_many([bot.id, user.id])
        assert again[0] is first[1] and again[1] is first[0]
        renamed = cli.accounts.update(bot.id, username="NewBot")
        assert server.accounts.get_many([user.id, bot.id]) == [user, renamed]


def data_version_checks(storage: SqliteStorage) -> list[str]:
    """The ``PRAGMA data_version`` statements the storage's connection runs from now on."""
    seen: list[str] = []
    conn = storage._db.conn
    assert conn is not None
    conn.set_trace_callback(lambda sql: seen.append(sql) if "data_version" in sql else None)
    return seen


def test_cached_reads_in_one_reading_scope_check_other_writers_once(tmp_path: Path) -> None:
    with open_db(tmp_path / "x.db") as storage:
        bot = storage.accounts.create_bot("TestBot", "Test", "secret")
        user = storage.accounts.create_user("15550001", "Alice")
        _, (theirs, _) = storage.messages.send(
            sender_id=bot.id, peer=PeerRef.user(user.id), text="one", render_update=render
        )
        checks = data_version_checks(storage)
        for _ in range(3):
            storage.accounts.get(bot.id)
        assert len(checks) == 3
        checks.clear()
        with storage.reading():
            assert checks == []  # nothing read yet, nothing checked
            for _ in range(3):
                assert storage.accounts.get(bot.id) == bot
                assert storage.messages.get(user.id, theirs.id) == theirs
            with storage.reading():
                storage.accounts.get(user.id)
        assert len(checks) == 1
        with storage.reading():
            storage.accounts.get(bot.id)
        assert len(checks) == 2


def test_another_connections_commit_is_seen_from_the_next_reading_scope(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.db"
    with open_db(path) as server, open_db(path) as cli:
        bot = server.accounts.create_bot("TestBot", "Test", "secret")
        with server.reading():
            assert server.accounts.get(bot.id) == bot
            renamed = cli.accounts.update(bot.id, username="NewBot")
            own = server.accounts.create_user("15550001", "Alice")
            assert server.accounts.get(own.id) == own  # its own writes: at once
        with server.reading():
            assert server.accounts.get(bot.id) == renamed


def test_a_reading_scope_keeps_other_threads_out_until_it_ends(tmp_path: Path) -> None:
    with open_db(tmp_path / "x.db") as storage:
        bot = storage.accounts.create_bot("TestBot", "Test", "secret")
        order: list[str] = []
        entered = threading.Event()

        def other() -> None:
            entered.wait()
            storage.accounts.get(bot.id)
            order.append("other thread read")

        thread = threading.Thread(target=other)
        thread.start()
        with storage.reading():
            entered.set()
            thread.join(timeout=0.2)  # it cannot finish while the scope holds the lock
            order.append("scope ended")
        thread.join()
        assert order == ["scope ended", "other thread read"]


def test_reading_on_a_closed_storage_lets_the_reads_raise(tmp_path: Path) -> None:
    storage = open_db(tmp_path / "x.db")
    storage.close()
    with pytest.raises(StorageError), storage.reading():
        storage.accounts.get(FIRST_ACCOUNT_ID)


def test_concurrent_writers_get_distinct_ids(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    open_db(path).close()
    created: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(prefix: str) -> None:
        try:
            with open_db(path, synchronous="NORMAL") as s:
                start.wait()
                for i in range(40):
                    created.append(s.accounts.create_user(f"{prefix}{i}", "U").id)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(p,)) for p in ("1555", "1666")]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert sorted(created) == list(range(FIRST_ACCOUNT_ID, FIRST_ACCOUNT_ID + 80))


def test_concurrent_first_open_migrates_once(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    start = threading.Barrier(4)
    applied: list[list[int]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            with open_db(path) as s:
                applied.append(s.applied_migrations)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert sorted(applied) == [[], [], [], [m.version for m in MIGRATIONS]]


def hold_write_lock(path: Path, seconds: float, locked: threading.Event) -> None:
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    raw.execute("INSERT INTO settings (key, value) VALUES ('held', x'00')")
    locked.set()
    time.sleep(seconds)
    raw.execute("COMMIT")
    raw.close()


def test_writer_waits_for_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    with open_db(path) as s:
        s.settings.set("before", b"1")
        locked = threading.Event()
        holder = threading.Thread(target=hold_write_lock, args=(path, 0.3, locked))
        holder.start()
        locked.wait()
        # WAL: reading is not blocked by the writer.
        assert s.settings.get("before") == b"1"
        began = time.monotonic()
        s.settings.set("after", b"2")
        assert time.monotonic() - began >= 0.2
        holder.join()
        assert s.settings.get("held") == b"\x00"


def test_busy_timeout_exceeded(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    with open_db(path, busy_timeout=0.05) as s:
        locked = threading.Event()
        holder = threading.Thread(target=hold_write_lock, args=(path, 0.5, locked))
        holder.start()
        locked.wait()
        with pytest.raises(StorageBusy):
            s.accounts.create_user("15550001", "Alice")
        holder.join()
        assert s.accounts.create_user("15550001", "Alice").id == FIRST_ACCOUNT_ID


CLI_SCRIPT = """
import sys
from loopgram.storage import open_storage
with open_storage(sys.argv[1]) as s:
    bot = s.accounts.create_bot(sys.argv[2], "CLI bot", "tok")
print(f"{bot.id}:tok")
"""


def test_cli_process_writes_while_server_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with SqliteStorage.in_directory(data) as server:
        first = server.accounts.create_user("15550001", "Alice")
        out = subprocess.run(
            [sys.executable, "-c", CLI_SCRIPT, str(data), "CliBot"],
            check=True,
            capture_output=True,
            text=True,
        )
        token = out.stdout.strip()
        bot = server.accounts.get_by_bot_token(token)
        assert bot is not None and bot.id == first.id + 1 and bot.username == "CliBot"
        assert server.accounts.create_user("15550002", "Bob").id == bot.id + 1


CRASH_SCRIPT = """
import os, sys
from loopgram.storage import SqliteStorage
s = SqliteStorage(sys.argv[1])
s.accounts.create_user("15550001", "Alice")
s.auth_keys.put(5, bytes(256))
os._exit(0)  # no close(), no checkpoint: the commits live only in the WAL
"""


def test_commits_survive_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(path)], check=True)
    assert os.path.exists(str(path) + "-wal")
    with open_db(path) as s:
        assert s.accounts.get_by_phone("15550001") is not None
        assert s.auth_keys.get(5) is not None


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(StorageError):
        open_db(path)
    with pytest.raises(ValueError):
        SqliteStorage(":memory:")


def test_random_ids_survive_a_reopen_and_an_upgrade_from_version_1(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    with open_db(path, migrations=MIGRATIONS[:1]) as s:
        bot = s.accounts.create_bot("TestBot", "Test", "secret").id
        user = s.accounts.create_user("15550001", "Alice").id
    with open_db(path) as s:
        s.messages.send(
            sender_id=user, peer=PeerRef.user(bot), text="once", render_update=render, random_id=5
        )
    with open_db(path) as s, pytest.raises(RandomIdTaken) as taken:
        s.messages.send(
            sender_id=user, peer=PeerRef.user(bot), text="again", render_update=render, random_id=5
        )
    assert (taken.value.existing.id, taken.value.existing.text) == (1, "once")


def test_sqlites_own_size_limit_is_reported_as_value_too_large(tmp_path: Path) -> None:
    with open_db(tmp_path / "x.db") as s:
        bot = s.accounts.create_bot("TestBot", "Test", "secret").id
        user = s.accounts.create_user("15550001", "Alice").id
        conn = s._db.conn
        assert conn is not None
        # What a 1 GB value does to a default build ("string or blob too big"), made cheap.
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1000)
        with pytest.raises(ValueTooLarge):
            s.messages.send(
                sender_id=bot, peer=PeerRef.user(user), text="x" * 2000, render_update=render
            )
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000_000_000)
        [(copy, _), _] = s.messages.send(
            sender_id=bot, peer=PeerRef.user(user), text="fits", render_update=render
        )
        assert (copy.id, copy.pts) == (1, 1)
