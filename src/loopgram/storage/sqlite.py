"""Storage layer: the SQLite backend, the embedded default.

One database file (in the server's data directory) in WAL mode, opened by the server and, at
the same time, by CLI commands such as ``loopgram bot create``. Every repository method is
one short transaction; writes start with ``BEGIN IMMEDIATE`` so that two processes queue on
the busy timeout instead of failing on a read-to-write lock upgrade (which the busy handler
cannot resolve in WAL mode).

Durability: ``synchronous=FULL`` by default. In WAL mode NORMAL already survives a crash of
the process, but a commit may be lost to a power cut or OS crash because the WAL is not
synced on each commit; the server acknowledges a request only after its write returns, so
"nothing acknowledged is lost across a restart" needs FULL (one fsync per write
transaction). Callback presses, the hot path, write nothing durable, so the cost lands only
on logins and message writes. ``synchronous="NORMAL"`` is available for tests and benches.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self

from loopgram.clock import Clock, RandomBytes
from loopgram.storage import _common as c
from loopgram.storage._common import UNSET, Unset
from loopgram.storage.bot_commands import SqliteBotCommands
from loopgram.storage.bot_updates import SqliteBotUpdates
from loopgram.storage.channels import SqliteChannels
from loopgram.storage.chats import SqliteChats
from loopgram.storage.dialogs import SqliteContacts, SqliteDialogs
from loopgram.storage.errors import (
    AccountNotFound,
    AuthKeyExists,
    AuthKeyNotFound,
    Conflict,
    InlineMessageExists,
    InlineMessageNotFound,
    MessageNotFound,
    PhoneTaken,
    RandomIdTaken,
    SchemaError,
    SessionNotFound,
    StorageBusy,
    StorageClosed,
    StorageError,
    UsernameTaken,
    ValueTooLarge,
)
from loopgram.storage.migrations import BOOTSTRAP, MIGRATIONS, Migration
from loopgram.storage.models import (
    FIRST_ACCOUNT_ID,
    Account,
    AuthKeyRecord,
    DeletedMessages,
    DeletionRenderer,
    InlineMessage,
    MessageRenderer,
    PeerKind,
    PeerRef,
    PtsRenderer,
    ServerSalt,
    SessionState,
    StoredMessage,
    StoredUpdate,
    UnackedMessage,
    UpdateState,
)

DB_FILENAME: Final = "loopgram.db"
"""The database file's name inside a data directory."""

Synchronous = Literal["FULL", "NORMAL"]
Row = tuple[Any, ...]


def _translate(e: sqlite3.Error) -> StorageError:
    if isinstance(e, sqlite3.IntegrityError):
        return Conflict(str(e))
    text = str(e).lower()
    if isinstance(e, sqlite3.DataError) or "too big" in text:
        return ValueTooLarge(str(e))
    if isinstance(e, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StorageBusy(str(e))
    if isinstance(e, sqlite3.ProgrammingError) and "closed" in text:
        return StorageClosed(str(e))
    return StorageError(f"{type(e).__name__}: {e}")


_CACHE_SIZE: Final = 65_536
"""Rows kept per cache (accounts, message copies); the oldest entry goes first."""


class _ReadScope:
    """``_Db.reading()``: a plain class, not a generator context manager, because the
    server enters one per read from a socket."""

    __slots__ = ("_db",)

    def __init__(self, db: _Db) -> None:
        self._db = db

    def __enter__(self) -> None:
        db = self._db
        db.lock.acquire()
        if not db._scopes:
            db._checked = False  # the first read inside makes the one check
        db._scopes += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        db = self._db
        db._scopes -= 1
        db.lock.release()


class _Db:
    """The connection, its lock, one-transaction-per-call helpers, and the row caches.

    The callback press path reads the same few accounts and message copies over and over;
    they are kept here, and kept coherent:

    - with this connection's own writes: every method that changes an account or a message
      copy puts the new record (or drops the old one) once its transaction has committed;
    - with other connections (``loopgram bot create`` in another process, a second
      ``Storage`` on the same file): before answering from the cache, ``fresh()`` reads
      ``PRAGMA data_version``, which changes exactly when another connection has committed,
      and then forgets everything cached. So every read still sees every commit that
      returned before it, as the protocol promises.
    """

    def __init__(self, conn: sqlite3.Connection, clock: Clock, random_bytes: RandomBytes) -> None:
        self.conn: sqlite3.Connection | None = conn
        # The server calls from one event loop thread, but CLI helpers or tests may use
        # threads: one lock makes every call a whole transaction on the shared connection.
        self.lock = threading.RLock()
        self.clock = clock
        self.random_bytes = random_bytes
        self.accounts: dict[int, Account] = {}
        self.messages: dict[tuple[int, int], StoredMessage] = {}
        # One cursor for the version check: making a cursor costs as much as the pragma.
        self._version_cursor = conn.cursor()
        self._data_version: object = None
        # Inside reading(): how deep, and whether the version was checked in this scope.
        self._scopes = 0
        self._checked = False
        self._scope = _ReadScope(self)

    def now(self) -> int:
        return c.now(self.clock)

    def fresh(self) -> None:
        """Forget the cached rows if another connection has committed since the last look
        (call with the lock held)."""
        if self.conn is None:
            raise StorageClosed("the storage is closed")
        if self._scopes and self._checked:
            return
        cursor = self._version_cursor
        try:
            cursor.execute("PRAGMA data_version")
            row = cursor.fetchone()
        except sqlite3.Error as e:
            raise _translate(e) from e
        self._checked = self._scopes > 0
        version = None if row is None else row[0]
        if version != self._data_version:
            self._data_version = version
            self.accounts.clear()
            self.messages.clear()

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """One single-statement read. No ``BEGIN``/``COMMIT`` around it: in autocommit mode
        a lone ``SELECT`` reads one consistent snapshot by itself."""
        with self.lock:
            conn = self.conn
            if conn is None:
                raise StorageClosed("the storage is closed")
            try:
                row: Row | None = conn.execute(sql, params).fetchone()
            except sqlite3.Error as e:
                raise _translate(e) from e
            except OverflowError as e:
                raise ValueError(str(e)) from e
            return row

    def remember_account(self, account: Account) -> None:
        cache = self.accounts
        if len(cache) >= _CACHE_SIZE and account.id not in cache:
            del cache[next(iter(cache))]
        cache[account.id] = account

    def remember_message(self, copy: StoredMessage) -> None:
        cache = self.messages
        key = (copy.owner_id, copy.id)
        if len(cache) >= _CACHE_SIZE and key not in cache:
            del cache[next(iter(cache))]
        cache[key] = copy

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        with self.lock:
            conn = self.conn
            if conn is None:
                raise StorageClosed("the storage is closed")
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as e:
                raise _translate(e) from e
            try:
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as e:
                _rollback(conn)
                raise _translate(e) from e
            except OverflowError as e:
                # An int beyond SQLite's 64 bits: a caller bug, reported like the others.
                _rollback(conn)
                raise ValueError(str(e)) from e
            except BaseException:
                _rollback(conn)
                raise

    def read(self) -> AbstractContextManager[sqlite3.Connection]:
        return self.transaction(write=False)

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self.transaction(write=True)

    def close(self) -> None:
        with self.lock:
            self.accounts.clear()
            self.messages.clear()
            if self.conn is not None:
                self._version_cursor.close()
                self.conn.close()
                self.conn = None


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the original error is the one worth reporting


def _one(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> Row | None:
    row: Row | None = conn.execute(sql, params).fetchone()
    return row


def _written(row: Row | None) -> Row:
    """A row this transaction has just written, read back: its absence is a broken
    database, not a case callers handle."""
    if row is None:
        raise StorageError("a row written in this transaction is missing")
    return row


def _all(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[Row]:
    return conn.execute(sql, params).fetchall()


def _account_exists(conn: sqlite3.Connection, account_id: int) -> bool:
    return _one(conn, "SELECT 1 FROM accounts WHERE id = ?", (account_id,)) is not None


def _require_account(conn: sqlite3.Connection, account_id: int) -> None:
    if not _account_exists(conn, account_id):
        raise AccountNotFound(account_id)


def _require_accounts(conn: sqlite3.Connection, account_ids: Iterable[int]) -> None:
    """``_require_account`` for each, in one statement (a round trip each on PostgreSQL);
    the first missing one in order is the one reported."""
    wanted = list(dict.fromkeys(account_ids))
    found: set[int] = set()
    for chunk in c.chunks(wanted):
        rows = _all(
            conn, f"SELECT id FROM accounts WHERE id IN ({_placeholders(len(chunk))})", chunk
        )
        found.update(r[0] for r in rows)
    for account_id in wanted:
        if account_id not in found:
            raise AccountNotFound(account_id)


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


def _update_by_id(
    conn: sqlite3.Connection, table: str, row_id: object, changes: dict[str, object]
) -> int:
    """``UPDATE table SET column = value, ... WHERE id = row_id``; return the row count."""
    assignments = ", ".join(f"{column} = ?" for column in changes)
    sql = f"UPDATE {table} SET {assignments} WHERE id = ?"
    return conn.execute(sql, (*changes.values(), row_id)).rowcount


# -- settings ---------------------------------------------------------------------------------


class SqliteSettings:
    def __init__(self, db: _Db) -> None:
        self._db = db

    def get(self, key: str) -> bytes | None:
        row = self._db.one("SELECT value FROM settings WHERE key = ?", (key,))
        return None if row is None else bytes(row[0])

    def set(self, key: str, value: bytes) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, bytes(value)),
            )

    def setdefault(self, key: str, value: bytes) -> bytes:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, bytes(value)),
            )
            row = _one(conn, "SELECT value FROM settings WHERE key = ?", (key,))
        row = _written(row)
        return bytes(row[0])

    def delete(self, key: str) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM settings WHERE key = ?", (key,))

    def items(self) -> dict[str, bytes]:
        with self._db.read() as conn:
            rows = _all(conn, "SELECT key, value FROM settings ORDER BY key")
        return {k: bytes(v) for k, v in rows}


# -- auth keys --------------------------------------------------------------------------------

_AUTH_KEY_COLUMNS = "id, key, created_at, account_id, layer, expires_at"


def _auth_key(row: Row) -> AuthKeyRecord:
    return AuthKeyRecord(
        id=row[0],
        key=bytes(row[1]),
        created_at=row[2],
        account_id=row[3],
        layer=row[4],
        expires_at=row[5],
    )


class SqliteAuthKeys:
    def __init__(self, db: _Db) -> None:
        self._db = db

    def put(self, key_id: int, key: bytes, *, expires_at: int | None = None) -> AuthKeyRecord:
        c.check_int64(key_id, "auth key id")
        record = AuthKeyRecord(
            id=key_id, key=c.check_key(key), created_at=self._db.now(), expires_at=expires_at
        )
        with self._db.write() as conn:
            if _one(conn, "SELECT 1 FROM auth_keys WHERE id = ?", (key_id,)) is not None:
                raise AuthKeyExists(key_id)
            conn.execute(
                f"INSERT INTO auth_keys ({_AUTH_KEY_COLUMNS}) VALUES (?, ?, ?, NULL, NULL, ?)",
                (key_id, record.key, record.created_at, expires_at),
            )
        return record

    def get(self, key_id: int) -> AuthKeyRecord | None:
        c.check_int64(key_id, "auth key id")
        row = self._db.one(f"SELECT {_AUTH_KEY_COLUMNS} FROM auth_keys WHERE id = ?", (key_id,))
        return None if row is None else _auth_key(row)

    def _update(self, key_id: int, column: str, value: int | None) -> AuthKeyRecord:
        c.check_int64(key_id, "auth key id")
        with self._db.write() as conn:
            if column == "account_id" and value is not None:
                _require_account(conn, value)
            cur = conn.execute(f"UPDATE auth_keys SET {column} = ? WHERE id = ?", (value, key_id))
            if cur.rowcount == 0:
                raise AuthKeyNotFound(key_id)
            row = _one(conn, f"SELECT {_AUTH_KEY_COLUMNS} FROM auth_keys WHERE id = ?", (key_id,))
        row = _written(row)
        return _auth_key(row)

    def bind_account(self, key_id: int, account_id: int | None) -> AuthKeyRecord:
        return self._update(key_id, "account_id", account_id)

    def set_layer(self, key_id: int, layer: int | None) -> AuthKeyRecord:
        return self._update(key_id, "layer", layer)

    def delete(self, key_id: int) -> bool:
        c.check_int64(key_id, "auth key id")
        with self._db.write() as conn:
            return conn.execute("DELETE FROM auth_keys WHERE id = ?", (key_id,)).rowcount > 0

    def for_account(self, account_id: int) -> list[AuthKeyRecord]:
        with self._db.read() as conn:
            rows = _all(
                conn,
                f"SELECT {_AUTH_KEY_COLUMNS} FROM auth_keys WHERE account_id = ? "
                "ORDER BY created_at, id",
                (account_id,),
            )
        return [_auth_key(r) for r in rows]

    def delete_expired(self, now: int) -> int:
        with self._db.write() as conn:
            cur = conn.execute(
                "DELETE FROM auth_keys WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
            )
            return cur.rowcount


# -- sessions ---------------------------------------------------------------------------------


def _encode_salts(salts: Iterable[ServerSalt]) -> str:
    return json.dumps([[s.salt, s.valid_since, s.valid_until] for s in salts])


def _decode_salts(text: str) -> tuple[ServerSalt, ...]:
    return tuple(ServerSalt(int(a), int(b), int(x)) for a, b, x in json.loads(text))


class SqliteSessions:
    def __init__(self, db: _Db) -> None:
        self._db = db

    def load(self, auth_key_id: int, session_id: int) -> SessionState | None:
        c.check_session(auth_key_id, session_id)
        row = self._db.one(
            "SELECT last_msg_id, out_seqno, salts FROM sessions "
            "WHERE auth_key_id = ? AND session_id = ?",
            (auth_key_id, session_id),
        )
        if row is None:
            return None
        return SessionState(
            auth_key_id=auth_key_id,
            session_id=session_id,
            last_msg_id=row[0],
            out_seqno=row[1],
            salts=_decode_salts(row[2]),
        )

    def save(self, state: SessionState) -> None:
        c.check_session_state(state)
        with self._db.write() as conn:
            if _one(conn, "SELECT 1 FROM auth_keys WHERE id = ?", (state.auth_key_id,)) is None:
                raise AuthKeyNotFound(state.auth_key_id)
            # An upsert, not INSERT OR REPLACE: replacing would delete the row and cascade
            # away the session's unacknowledged messages.
            conn.execute(
                "INSERT INTO sessions (auth_key_id, session_id, last_msg_id, out_seqno, salts) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (auth_key_id, session_id) DO UPDATE SET "
                "last_msg_id = excluded.last_msg_id, out_seqno = excluded.out_seqno, "
                "salts = excluded.salts",
                (
                    state.auth_key_id,
                    state.session_id,
                    state.last_msg_id,
                    state.out_seqno,
                    _encode_salts(state.salts),
                ),
            )

    def delete(self, auth_key_id: int, session_id: int) -> bool:
        c.check_session(auth_key_id, session_id)
        with self._db.write() as conn:
            cur = conn.execute(
                "DELETE FROM sessions WHERE auth_key_id = ? AND session_id = ?",
                (auth_key_id, session_id),
            )
            return cur.rowcount > 0

    def session_ids(self, auth_key_id: int) -> list[int]:
        c.check_int64(auth_key_id, "auth key id")
        with self._db.read() as conn:
            rows = _all(
                conn,
                "SELECT session_id FROM sessions WHERE auth_key_id = ? ORDER BY session_id",
                (auth_key_id,),
            )
        return [r[0] for r in rows]

    def add_unacked(
        self, auth_key_id: int, session_id: int, messages: Iterable[UnackedMessage]
    ) -> None:
        c.check_session(auth_key_id, session_id)
        batch = list(messages)
        for m in batch:
            c.check_int64(m.msg_id, "msg_id")
        with self._db.write() as conn:
            if (
                _one(
                    conn,
                    "SELECT 1 FROM sessions WHERE auth_key_id = ? AND session_id = ?",
                    (auth_key_id, session_id),
                )
                is None
            ):
                raise SessionNotFound(auth_key_id, session_id)
            conn.executemany(
                "INSERT OR REPLACE INTO unacked_messages "
                "(auth_key_id, session_id, msg_id, seqno, body) VALUES (?, ?, ?, ?, ?)",
                [(auth_key_id, session_id, m.msg_id, m.seqno, bytes(m.body)) for m in batch],
            )

    def remove_unacked(self, auth_key_id: int, session_id: int, msg_ids: Iterable[int]) -> int:
        c.check_session(auth_key_id, session_id)
        ids = [c.check_int64(i, "msg_id") for i in dict.fromkeys(msg_ids)]
        removed = 0
        with self._db.write() as conn:
            for i in ids:
                removed += conn.execute(
                    "DELETE FROM unacked_messages "
                    "WHERE auth_key_id = ? AND session_id = ? AND msg_id = ?",
                    (auth_key_id, session_id, i),
                ).rowcount
        return removed

    def unacked(self, auth_key_id: int, session_id: int) -> list[UnackedMessage]:
        c.check_session(auth_key_id, session_id)
        with self._db.read() as conn:
            rows = _all(
                conn,
                "SELECT msg_id, seqno, body FROM unacked_messages "
                "WHERE auth_key_id = ? AND session_id = ? ORDER BY msg_id",
                (auth_key_id, session_id),
            )
        return [UnackedMessage(r[0], r[1], bytes(r[2])) for r in rows]


# -- accounts ---------------------------------------------------------------------------------

_ACCOUNT_COLUMNS = (
    "id, access_hash, is_bot, first_name, last_name, username, phone, created_at, "
    "bot_inline_placeholder, bot_info_version"
)


def _account(row: Row) -> Account:
    return Account(
        id=row[0],
        access_hash=row[1],
        is_bot=bool(row[2]),
        first_name=row[3],
        last_name=row[4],
        username=row[5],
        phone=row[6],
        created_at=row[7],
        bot_inline_placeholder=row[8],
        bot_info_version=row[9],
    )


class SqliteAccounts:
    def __init__(self, db: _Db) -> None:
        self._db = db

    def _insert(
        self,
        conn: sqlite3.Connection,
        *,
        is_bot: bool,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        phone: str | None = None,
        secret_hash: bytes | None = None,
    ) -> Account:
        if phone is not None and _one(conn, "SELECT 1 FROM accounts WHERE phone = ?", (phone,)):
            raise PhoneTaken(phone)
        key = None if username is None else c.username_key(username)
        if key is not None and _one(conn, "SELECT 1 FROM accounts WHERE username_key = ?", (key,)):
            raise UsernameTaken(username or "")
        top = _one(conn, "SELECT MAX(id) FROM accounts")
        # Sequential ids; safe across processes because the write transaction is IMMEDIATE.
        account_id = max(FIRST_ACCOUNT_ID, (top[0] if top and top[0] is not None else 0) + 1)
        account = Account(
            id=account_id,
            access_hash=c.random_int64(self._db.random_bytes),
            is_bot=is_bot,
            first_name=first_name,
            last_name=last_name,
            username=username,
            phone=phone,
            created_at=self._db.now(),
            bot_info_version=1 if is_bot else None,
        )
        conn.execute(
            f"INSERT INTO accounts ({_ACCOUNT_COLUMNS}, username_key, bot_secret_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                account.id,
                account.access_hash,
                int(is_bot),
                first_name,
                last_name,
                username,
                phone,
                account.created_at,
                None,
                account.bot_info_version,
                key,
                secret_hash,
            ),
        )
        conn.execute("INSERT INTO account_state (account_id) VALUES (?)", (account.id,))
        return account

    def create_user(self, phone: str, first_name: str, last_name: str | None = None) -> Account:
        with self._db.write() as conn:
            return self._insert(
                conn, is_bot=False, first_name=first_name, last_name=last_name, phone=phone
            )

    def create_bot(self, username: str, first_name: str, secret: str) -> Account:
        secret_hash = c.hash_bot_secret(c.check_secret(secret))
        with self._db.write() as conn:
            return self._insert(
                conn, is_bot=True, first_name=first_name, username=username, secret_hash=secret_hash
            )

    def _get_where(self, where: str, param: object) -> Account | None:
        row = self._db.one(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE {where}", (param,))
        return None if row is None else _account(row)

    def get(self, account_id: int) -> Account | None:
        db = self._db
        with db.lock:
            db.fresh()
            cached = db.accounts.get(account_id)
            if cached is not None:
                return cached
            account = self._get_where("id = ?", account_id)
            if account is not None:
                db.remember_account(account)
            return account

    def get_many(self, account_ids: Iterable[int]) -> list[Account]:
        ids = list(dict.fromkeys(account_ids))
        if not ids:
            return []
        db = self._db
        with db.lock:
            # From the row cache as ``get``: a message to a supergroup looks up every online
            # member (which of them are bots) each time.
            db.fresh()
            cache = db.accounts
            found = {i: cache[i] for i in ids if i in cache}
            missing = [i for i in ids if i not in found]
            if missing:
                rows: list[Row] = []
                with db.read() as conn:
                    for chunk in c.chunks(missing):
                        rows += _all(
                            conn,
                            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts "
                            f"WHERE id IN ({_placeholders(len(chunk))})",
                            chunk,
                        )
                for row in rows:
                    account = _account(row)
                    db.remember_account(account)
                    found[account.id] = account
        return [found[i] for i in ids if i in found]

    def get_by_phone(self, phone: str) -> Account | None:
        return self._get_where("phone = ?", phone)

    def get_by_username(self, username: str) -> Account | None:
        return self._get_where("username_key = ?", c.username_key(username))

    def get_by_bot_token(self, token: str) -> Account | None:
        parsed = c.parse_bot_token(token)
        if parsed is None:
            return None
        bot_id, secret = parsed
        with self._db.read() as conn:
            row = _one(
                conn,
                f"SELECT {_ACCOUNT_COLUMNS}, bot_secret_hash FROM accounts "
                "WHERE id = ? AND is_bot = 1",
                (bot_id,),
            )
        if row is None or not c.secret_matches(secret, row[-1]):
            return None
        return _account(row)

    def update(
        self,
        account_id: int,
        *,
        first_name: str | Unset = UNSET,
        last_name: str | Unset | None = UNSET,
        username: str | Unset | None = UNSET,
        bot_inline_placeholder: str | Unset | None = UNSET,
        bot_info_version: int | Unset | None = UNSET,
    ) -> Account:
        changes = c.passed(
            first_name=first_name,
            last_name=last_name,
            username=username,
            bot_inline_placeholder=bot_inline_placeholder,
            bot_info_version=bot_info_version,
        )
        if not isinstance(username, Unset):
            changes["username_key"] = None if username is None else c.username_key(username)
        db = self._db
        # The lock spans the commit and the cache update, so that two threads updating one
        # account cannot leave the older record cached.
        with db.lock:
            with db.write() as conn:
                _require_account(conn, account_id)
                key = changes.get("username_key")
                if key is not None and _one(
                    conn,
                    "SELECT 1 FROM accounts WHERE username_key = ? AND id != ?",
                    (key, account_id),
                ):
                    raise UsernameTaken(str(username))
                if changes:
                    _update_by_id(conn, "accounts", account_id, changes)
                row = _one(
                    conn, f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id = ?", (account_id,)
                )
            row = _written(row)
            account = _account(row)
            db.remember_account(account)
        return account

    def set_bot_secret(self, bot_id: int, secret: str) -> None:
        secret_hash = c.hash_bot_secret(c.check_secret(secret))
        with self._db.write() as conn:
            cur = conn.execute(
                "UPDATE accounts SET bot_secret_hash = ? WHERE id = ? AND is_bot = 1",
                (secret_hash, bot_id),
            )
            if cur.rowcount == 0:
                raise AccountNotFound(bot_id)

    def list_all(self, *, is_bot: bool | None = None) -> list[Account]:
        with self._db.read() as conn:
            if is_bot is None:
                rows = _all(conn, f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY id")
            else:
                rows = _all(
                    conn,
                    f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE is_bot = ? ORDER BY id",
                    (int(is_bot),),
                )
        return [_account(r) for r in rows]


# -- messages and updates ---------------------------------------------------------------------

_MESSAGE_SELECT = (
    "SELECT b.owner_id, b.box_id, m.id, m.sender_id, b.peer_kind, b.peer_id, b.out, m.date, "
    "m.edit_date, m.text, m.entities, m.reply_markup, m.media, m.extra, b.pts, "
    # The replied message under the owner's own box id (each participant numbers it).
    "CASE WHEN m.reply_to_id IS NULL THEN NULL ELSE (SELECT min(r.box_id) FROM message_boxes "
    "AS r WHERE r.owner_id = b.owner_id AND r.message_id = m.reply_to_id) END "
    "FROM message_boxes AS b JOIN messages AS m ON m.id = b.message_id"
)


def _message(row: Row) -> StoredMessage:
    return StoredMessage(
        owner_id=row[0],
        id=row[1],
        global_id=row[2],
        sender_id=row[3],
        peer=PeerRef(PeerKind(row[4]), row[5]),
        out=bool(row[6]),
        date=row[7],
        edit_date=row[8],
        text=row[9],
        entities=c.opt_bytes(row[10]),
        reply_markup=c.opt_bytes(row[11]),
        media=c.opt_bytes(row[12]),
        extra=c.opt_bytes(row[13]),
        pts=row[14],
        reply_to=row[15],
    )


def _next_pts(
    conn: sqlite3.Connection, account_id: int, pts_count: int, date: int, *, new_box_id: bool
) -> tuple[int, int]:
    """Advance the account's pts (and box id counter); return (pts, box id)."""
    cur = conn.execute(
        "UPDATE account_state SET pts = pts + ?, date = ?, last_box_id = last_box_id + ? "
        "WHERE account_id = ?",
        (pts_count, date, int(new_box_id), account_id),
    )
    if cur.rowcount == 0:
        raise AccountNotFound(account_id)
    row = _one(
        conn, "SELECT pts, last_box_id FROM account_state WHERE account_id = ?", (account_id,)
    )
    row = _written(row)
    return row[0], row[1]


def _log(
    conn: sqlite3.Connection, account_id: int, pts: int, pts_count: int, date: int, body: bytes
) -> StoredUpdate:
    update = StoredUpdate(account_id, pts, pts_count, date, bytes(body))
    conn.execute(
        "INSERT INTO updates (account_id, pts, pts_count, date, body) VALUES (?, ?, ?, ?, ?)",
        (account_id, pts, pts_count, date, update.body),
    )
    return update


def _sent_copy(conn: sqlite3.Connection, sender_id: int, random_id: int) -> StoredMessage | None:
    """The sender's copy of the message sent with ``random_id``, while it has one."""
    row = _one(
        conn,
        "SELECT message_id FROM random_ids WHERE sender_id = ? AND random_id = ?",
        (sender_id, random_id),
    )
    if row is None:
        return None
    copy = _one(
        conn,
        f"{_MESSAGE_SELECT} WHERE b.message_id = ? AND b.owner_id = ? ORDER BY b.box_id LIMIT 1",
        (row[0], sender_id),
    )
    if copy is None:
        # The sender deleted its copy since: the id is free again.
        conn.execute(
            "DELETE FROM random_ids WHERE sender_id = ? AND random_id = ?", (sender_id, random_id)
        )
        return None
    return _message(copy)


def _reply_box(conn: sqlite3.Connection, owner_id: int, reply_to_id: int | None) -> int | None:
    """The owner's box id of the replied message (``None`` without one)."""
    if reply_to_id is None:
        return None
    row = _one(
        conn,
        "SELECT min(box_id) FROM message_boxes WHERE owner_id = ? AND message_id = ?",
        (owner_id, reply_to_id),
    )
    return None if row is None else row[0]


class SqliteMessages:
    def __init__(self, db: _Db) -> None:
        self._db = db

    def send(
        self,
        *,
        sender_id: int,
        peer: PeerRef,
        text: str,
        render_update: MessageRenderer,
        member_ids: Sequence[int] | None = None,
        entities: bytes | None = None,
        reply_markup: bytes | None = None,
        media: bytes | None = None,
        extra: bytes | None = None,
        date: int | None = None,
        random_id: int | None = None,
        reply_to_id: int | None = None,
    ) -> list[tuple[StoredMessage, StoredUpdate]]:
        boxes = c.box_owners(sender_id, peer, member_ids)
        c.check_sizes(text, entities, reply_markup, media, extra)
        if random_id is not None:
            c.check_int64(random_id, "random_id")
        when = self._db.now() if date is None else date
        db = self._db
        with db.lock:
            result = self._send(
                db,
                sender_id,
                peer,
                text,
                render_update,
                boxes,
                when,
                entities,
                reply_markup,
                media,
                extra,
                random_id,
                reply_to_id,
            )
            # A fresh message is the one most likely to be pressed next.
            for copy, _ in result:
                db.remember_message(copy)
        return result

    def _send(
        self,
        db: _Db,
        sender_id: int,
        peer: PeerRef,
        text: str,
        render_update: MessageRenderer,
        boxes: list[tuple[int, PeerRef, bool]],
        when: int,
        entities: bytes | None,
        reply_markup: bytes | None,
        media: bytes | None,
        extra: bytes | None,
        random_id: int | None,
        reply_to_id: int | None,
    ) -> list[tuple[StoredMessage, StoredUpdate]]:
        with db.write() as conn:
            _require_accounts(conn, [sender_id, *(owner_id for owner_id, _, _ in boxes)])
            if random_id is not None:
                sent = _sent_copy(conn, sender_id, random_id)
                if sent is not None:
                    raise RandomIdTaken(sender_id, random_id, sent)
            cur = conn.execute(
                "INSERT INTO messages (sender_id, peer_kind, peer_id, date, edit_date, text, "
                "entities, reply_markup, media, extra, reply_to_id) "
                "VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)",
                (
                    sender_id,
                    peer.kind.value,
                    peer.id,
                    when,
                    text,
                    entities,
                    reply_markup,
                    media,
                    extra,
                    reply_to_id,
                ),
            )
            global_id = cur.lastrowid
            if global_id is None:
                raise StorageError("INSERT into messages gave no row id")
            if random_id is not None:
                conn.execute(
                    "INSERT INTO random_ids (sender_id, random_id, message_id) VALUES (?, ?, ?)",
                    (sender_id, random_id, global_id),
                )
            result = []
            for owner_id, owner_peer, out in boxes:
                pts, box_id = _next_pts(conn, owner_id, 1, when, new_box_id=True)
                conn.execute(
                    "INSERT INTO message_boxes "
                    "(owner_id, box_id, message_id, peer_kind, peer_id, out, pts) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (owner_id, box_id, global_id, owner_peer.kind.value, owner_peer.id, out, pts),
                )
                copy = StoredMessage(
                    owner_id=owner_id,
                    id=box_id,
                    global_id=global_id,
                    sender_id=sender_id,
                    peer=owner_peer,
                    out=out,
                    date=when,
                    edit_date=None,
                    text=text,
                    entities=c.opt_bytes(entities),
                    reply_markup=c.opt_bytes(reply_markup),
                    media=c.opt_bytes(media),
                    extra=c.opt_bytes(extra),
                    pts=pts,
                    reply_to=_reply_box(conn, owner_id, reply_to_id),
                )
                result.append((copy, _log(conn, owner_id, pts, 1, when, render_update(copy))))
        return result

    def get(self, owner_id: int, msg_id: int) -> StoredMessage | None:
        db = self._db
        with db.lock:
            db.fresh()
            cached = db.messages.get((owner_id, msg_id))
            if cached is not None:
                return cached
            row = db.one(
                f"{_MESSAGE_SELECT} WHERE b.owner_id = ? AND b.box_id = ?", (owner_id, msg_id)
            )
            if row is None:
                return None
            copy = _message(row)
            db.remember_message(copy)
            return copy

    def get_many(self, owner_id: int, msg_ids: Iterable[int]) -> list[StoredMessage]:
        ids = list(dict.fromkeys(msg_ids))
        if not ids:
            return []
        rows: list[Row] = []
        with self._db.read() as conn:
            for chunk in c.chunks(ids):
                rows += _all(
                    conn,
                    f"{_MESSAGE_SELECT} WHERE b.owner_id = ? "
                    f"AND b.box_id IN ({_placeholders(len(chunk))})",
                    (owner_id, *chunk),
                )
        found = {r[1]: _message(r) for r in rows}
        return [found[i] for i in ids if i in found]

    def history(
        self,
        owner_id: int,
        peer: PeerRef,
        *,
        offset_id: int = 0,
        add_offset: int = 0,
        limit: int = 100,
        max_id: int = 0,
        min_id: int = 0,
    ) -> list[StoredMessage]:
        limit = c.check_limit(limit)
        where = "b.owner_id = ? AND b.peer_kind = ? AND b.peer_id = ?"
        params: list[Any] = [owner_id, peer.kind.value, peer.id]
        if max_id > 0:
            where += " AND b.box_id < ?"
            params.append(max_id)
        if min_id > 0:
            where += " AND b.box_id > ?"
            params.append(min_id)
        with self._db.read() as conn:
            newer: list[Row] = []
            if offset_id > 0 and add_offset < 0:
                # The window reaches -add_offset messages at or above offset_id; fetch them
                # nearest first, then keep those the window's end still covers.
                k = -add_offset
                up = _all(
                    conn,
                    f"{_MESSAGE_SELECT} WHERE {where} AND b.box_id >= ? "
                    "ORDER BY b.box_id ASC LIMIT ?",
                    (*params, offset_id, k),
                )
                newer = up[max(k - limit, 0) :]
                newer.reverse()
                older_offset, older_limit = 0, limit - k
            else:
                older_offset, older_limit = max(add_offset, 0), limit
                if offset_id <= 0 and add_offset < 0:
                    older_limit = limit + add_offset
            older: list[Row] = []
            if older_limit > 0:
                bound = " AND b.box_id < ?" if offset_id > 0 else ""
                older = _all(
                    conn,
                    f"{_MESSAGE_SELECT} WHERE {where}{bound} "
                    "ORDER BY b.box_id DESC LIMIT ? OFFSET ?",
                    (*params, *([offset_id] if offset_id > 0 else []), older_limit, older_offset),
                )
        return [_message(r) for r in (*newer, *older)]

    def edit(
        self,
        owner_id: int,
        msg_id: int,
        *,
        render_update: MessageRenderer,
        text: str | Unset = UNSET,
        entities: bytes | Unset | None = UNSET,
        reply_markup: bytes | Unset | None = UNSET,
        media: bytes | Unset | None = UNSET,
        extra: bytes | Unset | None = UNSET,
        edit_date: int | None = None,
    ) -> list[tuple[StoredMessage, StoredUpdate]]:
        c.check_sizes(text, entities, reply_markup, media, extra)
        when = self._db.now() if edit_date is None else edit_date
        changes = c.passed(
            edit_date=when,
            text=text,
            entities=entities,
            reply_markup=reply_markup,
            media=media,
            extra=extra,
        )
        db = self._db
        with db.lock:
            with self._db.write() as conn:
                row = _one(
                    conn,
                    "SELECT message_id FROM message_boxes WHERE owner_id = ? AND box_id = ?",
                    (owner_id, msg_id),
                )
                if row is None:
                    raise MessageNotFound(owner_id, msg_id)
                global_id = row[0]
                _update_by_id(conn, "messages", global_id, changes)
                copies = _all(
                    conn,
                    "SELECT owner_id, box_id FROM message_boxes WHERE message_id = ? "
                    "ORDER BY owner_id != ?, owner_id, box_id",
                    (global_id, owner_id),
                )
                result = []
                for copy_owner, box_id in copies:
                    pts, _ = _next_pts(conn, copy_owner, 1, when, new_box_id=False)
                    conn.execute(
                        "UPDATE message_boxes SET pts = ? WHERE owner_id = ? AND box_id = ?",
                        (pts, copy_owner, box_id),
                    )
                    full = _one(
                        conn,
                        f"{_MESSAGE_SELECT} WHERE b.owner_id = ? AND b.box_id = ?",
                        (copy_owner, box_id),
                    )
                    full = _written(full)
                    copy = _message(full)
                    result.append((copy, _log(conn, copy_owner, pts, 1, when, render_update(copy))))
            for copy, _ in result:
                db.remember_message(copy)
        return result

    def delete(
        self,
        owner_id: int,
        msg_ids: Iterable[int],
        *,
        revoke: bool,
        render_update: DeletionRenderer,
        date: int | None = None,
    ) -> list[tuple[DeletedMessages, StoredUpdate]]:
        ids = list(dict.fromkeys(msg_ids))
        when = self._db.now() if date is None else date
        if not ids:
            return []
        db = self._db
        with db.lock:
            with self._db.write() as conn:
                own = _all(
                    conn,
                    "SELECT box_id, message_id FROM message_boxes "
                    f"WHERE owner_id = ? AND box_id IN ({_placeholders(len(ids))})",
                    (owner_id, *ids),
                )
                if not own:
                    return []
                global_ids = sorted({g for _, g in own})
                if revoke:
                    doomed = _all(
                        conn,
                        "SELECT owner_id, box_id FROM message_boxes "
                        f"WHERE message_id IN ({_placeholders(len(global_ids))})",
                        global_ids,
                    )
                else:
                    doomed = [(owner_id, box_id) for box_id, _ in own]
                by_owner: dict[int, list[int]] = {}
                for o, box_id in sorted(doomed, key=lambda r: (r[0] != owner_id, r[0], r[1])):
                    by_owner.setdefault(o, []).append(box_id)
                conn.executemany(
                    "DELETE FROM message_boxes WHERE owner_id = ? AND box_id = ?", doomed
                )
                # A message lives as long as one copy of it does.
                conn.execute(
                    f"DELETE FROM messages WHERE id IN ({_placeholders(len(global_ids))}) "
                    "AND NOT EXISTS (SELECT 1 FROM message_boxes WHERE message_id = messages.id)",
                    global_ids,
                )
                result = []
                for o, box_ids in by_owner.items():
                    pts, _ = _next_pts(conn, o, len(box_ids), when, new_box_id=False)
                    deleted = DeletedMessages(o, tuple(box_ids), pts, len(box_ids))
                    result.append(
                        (deleted, _log(conn, o, pts, len(box_ids), when, render_update(deleted)))
                    )
            for deleted, _ in result:
                for box_id in deleted.ids:
                    db.messages.pop((deleted.owner_id, box_id), None)
        return result


class SqliteUpdates:
    def __init__(self, db: _Db) -> None:
        self._db = db

    def state(self, account_id: int) -> UpdateState:
        row = self._db.one(
            "SELECT pts, qts, seq, date FROM account_state WHERE account_id = ?", (account_id,)
        )
        if row is None:
            raise AccountNotFound(account_id)
        return UpdateState(pts=row[0], qts=row[1], seq=row[2], date=row[3])

    def append(
        self, account_id: int, *, pts_count: int, render: PtsRenderer, date: int | None = None
    ) -> StoredUpdate:
        c.check_pts_count(pts_count)
        when = self._db.now() if date is None else date
        with self._db.write() as conn:
            pts, _ = _next_pts(conn, account_id, pts_count, when, new_box_id=False)
            return _log(conn, account_id, pts, pts_count, when, render(pts, pts_count))

    def since(self, account_id: int, pts: int, limit: int = 100) -> list[StoredUpdate]:
        limit = c.check_limit(limit)
        with self._db.read() as conn:
            rows = _all(
                conn,
                "SELECT pts, pts_count, date, body FROM updates "
                "WHERE account_id = ? AND pts > ? ORDER BY pts LIMIT ?",
                (account_id, pts, limit),
            )
        return [StoredUpdate(account_id, r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def trim(self, account_id: int, up_to_pts: int) -> int:
        with self._db.write() as conn:
            cur = conn.execute(
                "DELETE FROM updates WHERE account_id = ? AND pts <= ?", (account_id, up_to_pts)
            )
            return cur.rowcount


# -- inline messages --------------------------------------------------------------------------

_INLINE_COLUMNS = "id, bot_id, text, entities, reply_markup, date, edit_date"


def _inline(row: Row) -> InlineMessage:
    return InlineMessage(
        id=bytes(row[0]),
        bot_id=row[1],
        text=row[2],
        entities=c.opt_bytes(row[3]),
        reply_markup=c.opt_bytes(row[4]),
        date=row[5],
        edit_date=row[6],
    )


class SqliteInlineMessages:
    def __init__(self, db: _Db) -> None:
        self._db = db

    def put(self, message: InlineMessage) -> None:
        c.check_sizes(message.text, message.entities, message.reply_markup)
        with self._db.write() as conn:
            _require_account(conn, message.bot_id)
            if _one(conn, "SELECT 1 FROM inline_messages WHERE id = ?", (bytes(message.id),)):
                raise InlineMessageExists(f"inline message {message.id.hex()} exists")
            conn.execute(
                f"INSERT INTO inline_messages ({_INLINE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    bytes(message.id),
                    message.bot_id,
                    message.text,
                    message.entities,
                    message.reply_markup,
                    message.date,
                    message.edit_date,
                ),
            )

    def get(self, inline_message_id: bytes) -> InlineMessage | None:
        row = self._db.one(
            f"SELECT {_INLINE_COLUMNS} FROM inline_messages WHERE id = ?",
            (bytes(inline_message_id),),
        )
        return None if row is None else _inline(row)

    def edit(
        self,
        inline_message_id: bytes,
        *,
        text: str | Unset = UNSET,
        entities: bytes | Unset | None = UNSET,
        reply_markup: bytes | Unset | None = UNSET,
        edit_date: int | None = None,
    ) -> InlineMessage:
        key = bytes(inline_message_id)
        c.check_sizes(text, entities, reply_markup)
        changes = c.passed(
            edit_date=self._db.now() if edit_date is None else edit_date,
            text=text,
            entities=entities,
            reply_markup=reply_markup,
        )
        with self._db.write() as conn:
            if _update_by_id(conn, "inline_messages", key, changes) == 0:
                raise InlineMessageNotFound(f"inline message {key.hex()} not found")
            row = _one(conn, f"SELECT {_INLINE_COLUMNS} FROM inline_messages WHERE id = ?", (key,))
        row = _written(row)
        return _inline(row)

    def delete(self, inline_message_id: bytes) -> bool:
        with self._db.write() as conn:
            cur = conn.execute(
                "DELETE FROM inline_messages WHERE id = ?", (bytes(inline_message_id),)
            )
            return cur.rowcount > 0


# -- the storage ------------------------------------------------------------------------------


def _check_migrations(migrations: Sequence[Migration]) -> None:
    for expected, m in enumerate(migrations, start=1):
        if m.version != expected:
            raise ValueError(f"migration versions must be 1, 2, 3, ...; got {m.version}")


def _migrate(db: _Db, migrations: Sequence[Migration]) -> list[int]:
    """Apply the missing steps in order; return the versions applied now."""
    _check_migrations(migrations)
    with db.write() as conn:
        conn.execute(BOOTSTRAP)
        recorded: dict[int, str] = dict(_all(conn, "SELECT version, name FROM schema_migrations"))
    known = {m.version: m.name for m in migrations}
    for version, name in sorted(recorded.items()):
        if version not in known:
            raise SchemaError(
                f"the database has schema version {max(recorded)}, newer than this loopgram "
                f"knows ({len(migrations)}): upgrade loopgram"
            )
        if known[version] != name:
            raise SchemaError(
                f"migration {version} is recorded as {name!r}, expected {known[version]!r}: "
                "not a database of this loopgram"
            )
    missing = [m for m in migrations if m.version not in recorded]
    if not missing:
        return []
    applied: list[int] = []
    current = missing[0]
    try:
        # Every missing step in one write transaction: two openers starting at once queue on
        # the lock, and the second finds all of them done (one step per transaction let them
        # share the steps between them).
        with db.write() as conn:
            done = {version for (version,) in _all(conn, "SELECT version FROM schema_migrations")}
            for current in missing:
                if current.version in done:
                    continue
                for statement in current.statements():
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (current.version, current.name, db.now()),
                )
                applied.append(current.version)
    except StorageBusy:
        raise
    except StorageError as e:
        raise SchemaError(f"migration {current.version} ({current.name}) failed: {e}") from e
    return applied


class SqlStorage:
    """The repositories of this module and its siblings over one ``_Db``, migrated to the
    latest schema at open: SQLite below, PostgreSQL through ``loopgram.storage.postgres``
    (which runs the same SQL over its own connection)."""

    def __init__(self, db: _Db, migrations: Sequence[Migration] = MIGRATIONS) -> None:
        self._db = db
        try:
            self.applied_migrations: list[int] = _migrate(db, migrations)
        except BaseException:
            db.close()
            raise
        self._settings = SqliteSettings(self._db)
        self._auth_keys = SqliteAuthKeys(self._db)
        self._sessions = SqliteSessions(self._db)
        self._accounts = SqliteAccounts(self._db)
        self._messages = SqliteMessages(self._db)
        self._updates = SqliteUpdates(self._db)
        self._inline_messages = SqliteInlineMessages(self._db)
        self._bot_updates = SqliteBotUpdates(self._db)
        self._bot_commands = SqliteBotCommands(self._db)
        self._dialogs = SqliteDialogs(self._db)
        self._contacts = SqliteContacts(self._db)
        self._chats = SqliteChats(self._db)
        self._channels = SqliteChannels(self._db)

    @property
    def settings(self) -> SqliteSettings:
        return self._settings

    @property
    def auth_keys(self) -> SqliteAuthKeys:
        return self._auth_keys

    @property
    def sessions(self) -> SqliteSessions:
        return self._sessions

    @property
    def accounts(self) -> SqliteAccounts:
        return self._accounts

    @property
    def messages(self) -> SqliteMessages:
        return self._messages

    @property
    def updates(self) -> SqliteUpdates:
        return self._updates

    @property
    def inline_messages(self) -> SqliteInlineMessages:
        return self._inline_messages

    @property
    def bot_updates(self) -> SqliteBotUpdates:
        return self._bot_updates

    @property
    def bot_commands(self) -> SqliteBotCommands:
        return self._bot_commands

    @property
    def dialogs(self) -> SqliteDialogs:
        return self._dialogs

    @property
    def contacts(self) -> SqliteContacts:
        return self._contacts

    @property
    def chats(self) -> SqliteChats:
        return self._chats

    @property
    def channels(self) -> SqliteChannels:
        return self._channels

    def reading(self) -> AbstractContextManager[None]:
        """Group the reads of one synchronous step (the server: one batch of requests).

        The cached rows are checked against other connections' commits once, at the first
        read inside, instead of at every read (the ``PRAGMA data_version`` is most of what a
        cached read costs, and a callback press makes three); a commit elsewhere is seen
        from the next step on. The connection's lock is held inside: other threads using
        this storage wait, so keep the step short and never wait on such a thread in it.
        """
        return self._db._scope

    def schema_versions(self) -> list[tuple[int, str, int]]:
        """``(version, name, applied_at)`` of every applied migration."""
        with self._db.read() as conn:
            rows = _all(
                conn, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
            )
        return [(r[0], r[1], r[2]) for r in rows]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SqliteStorage(SqlStorage):
    """The SQLite ``Storage``: one database file, migrated to the latest schema at open."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock = time.time,
        random_bytes: RandomBytes = os.urandom,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 5.0,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        if os.fspath(path) in ("", ":memory:"):
            raise ValueError("SqliteStorage needs a file; use MemoryStorage for a throwaway store")
        self.path = Path(path)
        _create_private(self.path)
        try:
            conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as e:
            raise _translate(e) from e
        db = _Db(conn, clock, random_bytes)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            _enable_wal(conn, self.path, busy_timeout)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA synchronous = {synchronous}")
        except sqlite3.Error as e:
            db.close()
            raise _translate(e) from e
        except BaseException:
            db.close()
            raise
        super().__init__(db, migrations)

    @classmethod
    def in_directory(
        cls,
        data_dir: str | os.PathLike[str],
        *,
        clock: Clock = time.time,
        random_bytes: RandomBytes = os.urandom,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 5.0,
    ) -> SqliteStorage:
        """Open (creating if needed) ``data_dir/loopgram.db``; the directory is private."""
        directory = Path(data_dir)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(
            directory / DB_FILENAME,
            clock=clock,
            random_bytes=random_bytes,
            synchronous=synchronous,
            busy_timeout=busy_timeout,
        )

    def pragma(self, name: str) -> Any:
        """Read one PRAGMA of the connection (for diagnostics and tests)."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a pragma name: {name!r}")
        with self._db.read() as conn:
            row = _one(conn, f"PRAGMA {name}")
        return None if row is None else row[0]


def _enable_wal(conn: sqlite3.Connection, path: Path, busy_timeout: float) -> None:
    # WAL is persistent in the file, so this only changes something on a fresh database.
    # Switching needs an exclusive lock and SQLite answers SQLITE_BUSY at once, without
    # calling the busy handler, when another opener holds the file (two processes opening a
    # new data dir together): retry within the busy timeout ourselves.
    deadline = time.monotonic() + busy_timeout
    delay = 0.001
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as e:
            if "locked" not in str(e).lower() or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    if str(mode).lower() != "wal":
        raise StorageError(f"cannot enable WAL mode on {path} (got {mode!r})")


def _create_private(path: Path) -> None:
    # The file holds auth keys and the server's RSA private key: create it owner-only
    # (SQLite gives the -wal and -shm files the same permissions).
    if not path.exists():
        try:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as e:
            raise StorageError(f"cannot create {path}: {e}") from e
