"""Storage layer: the PostgreSQL backend, for several server processes or machines.

It runs the SQLite backend's repositories unchanged (``loopgram.storage.sqlite`` and its
siblings): one SQL implementation, two connections. ``_PgConnection`` gives the repositories
the few ``sqlite3.Connection`` calls they make (``execute``, ``executemany``, ``rowcount``,
``lastrowid``, ``fetchone``/``fetchall``) over psycopg 3, and translates the SQLite dialect
statement by statement (``translate``, cached per statement text):

- ``?`` placeholders become ``%s``; in DDL ``INTEGER`` becomes ``BIGINT`` (every id is
  int64), ``BLOB`` becomes ``BYTEA``, ``INTEGER PRIMARY KEY AUTOINCREMENT`` an identity
  column, and ``WITHOUT ROWID`` goes;
- ``INSERT OR IGNORE`` becomes ``ON CONFLICT DO NOTHING``, and ``INSERT OR REPLACE`` an
  upsert on the table's primary key (read from the catalog);
- ``lastrowid`` comes from ``RETURNING``; an explicit id written into an identity column
  moves its sequence past it, as SQLite's AUTOINCREMENT continues after the largest id;
- SQLite's two-argument ``max``/``min`` exist as SQL functions in the schema; ``PRAGMA``
  statements read nothing and change nothing (durability is the server's
  ``synchronous_commit``); Python booleans are written as integers.

Transactions keep the SQLite backend's semantics, which its repositories rely on (for
example an account id is ``MAX(id) + 1`` read and written in one transaction):

- a write transaction takes a transaction-scoped advisory lock, per schema, first: writers
  run one at a time, like SQLite's ``BEGIN IMMEDIATE``, and each statement sees every
  earlier commit (READ COMMITTED). Waiting longer than ``busy_timeout`` is ``StorageBusy``;
- a read transaction is ``REPEATABLE READ READ ONLY``: one snapshot, never a serialisation
  failure; a lone read statement runs outside any transaction.

Row caches (accounts, message copies) stay coherent across processes like on SQLite, where
``PRAGMA data_version`` tells whether another connection committed. Here every write commit
announces the tables it changed (``NOTIFY`` on the schema's channel, payload the table names,
in the COMMIT's round trip, whatever the storage's freshness). With ``freshness="notify"``
(the default) the connection listens there, and the first cached read of a ``reading()``
scope reads the announcements already on its socket (no round trip) and forgets the cache
those tables feed. With ``freshness="snapshot"`` that read instead compares
``pg_current_snapshot()`` with the last one seen and forgets the caches when a transaction
other than this connection's own writes has completed since: one round trip per scope,
strict (see ``PostgresStorage``).

A connection lost between calls (PostgreSQL restarted) costs no call: the next statement
finds it dead before anything of its transaction has happened and runs again on a new
connection. One lost in the middle of a transaction fails that call with ``StorageBusy``.
While PostgreSQL is down every call fails that way; a server process recovers by itself.
"""

from __future__ import annotations

import os
import re
import select
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from loopgram.clock import Clock, RandomBytes
from loopgram.storage.errors import (
    Conflict,
    StorageBusy,
    StorageClosed,
    StorageError,
    ValueTooLarge,
)
from loopgram.storage.migrations import MIGRATIONS, Migration
from loopgram.storage.sqlite import SqlStorage, _Db

if TYPE_CHECKING:
    import sqlite3

    import psycopg

Row = tuple[Any, ...]
Freshness = Literal["notify", "snapshot"]

DEFAULT_SCHEMA: Final = "public"

_ANY_TABLE: Final = "*"
"""An announcement's payload for "any table may have changed" (DDL, or not known)."""

_MAX_READS: Final = 64
"""Socket reads per look for announcements (each takes what the kernel holds)."""

_LOCK_CLASS: Final = 0x6C67  # "lg": keeps our advisory locks apart from other users' keys

# SQLite's scalar max(a, b) and min(a, b); PostgreSQL's max/min are aggregates only. A
# two-argument function of the same name resolves unambiguously beside them.
_PRELUDE: Final = (
    "CREATE OR REPLACE FUNCTION {schema}.max(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE "
    "PARALLEL SAFE AS 'SELECT GREATEST($1, $2)'",
    "CREATE OR REPLACE FUNCTION {schema}.min(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE "
    "PARALLEL SAFE AS 'SELECT LEAST($1, $2)'",
)


# -- the dialect ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQLite statement translated for PostgreSQL."""

    sql: str
    ddl: bool = False
    insert_table: str | None = None
    """The table of an ``INSERT``, for ``lastrowid`` and identity sequences."""
    insert_columns: tuple[str, ...] = ()
    returning: bool = False
    replace: bool = False
    """``INSERT OR REPLACE``: ``sql`` holds ``_CONFLICT`` where the upsert clause goes."""
    pragma: bool = False
    """A SQLite ``PRAGMA``: not sent; it reads no rows."""
    writes: tuple[str, ...] | None = ()
    """The tables it may change: none for a read, ``None`` when that is not known (DDL)."""


_CONFLICT: Final = "\x00conflict\x00"

_SEGMENTS: Final = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.S)
_DDL_START: Final = re.compile(r"(?:\s|--[^\n]*|/\*.*?\*/)*(CREATE|ALTER|DROP)\b", re.I | re.S)
_INSERT: Final = re.compile(
    r"\s*INSERT\s+(?:OR\s+(?P<or>IGNORE|REPLACE)\s+)?INTO\s+(?P<table>\w+)\s*"
    r"(?:\((?P<columns>[^)]*)\))?",
    re.I,
)
_PRAGMA: Final = re.compile(r"\s*PRAGMA\b", re.I)
_READ: Final = re.compile(r"\s*SELECT\b", re.I)
_CHANGE: Final = re.compile(r"\s*(?:UPDATE|DELETE\s+FROM)\s+(\w+)\b", re.I)
_INSERT_OR: Final = re.compile(r"^\s*INSERT\s+OR\s+(?:IGNORE|REPLACE)\s+INTO\b", re.I)
_RETURNING: Final = re.compile(r"\bRETURNING\b", re.I)
_DDL_RULES: Final = (
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.I),
     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
    (re.compile(r"\)\s*WITHOUT\s+ROWID\b", re.I), ")"),
)  # fmt: skip


def _code_map(sql: str, code: Any, other: Any = None) -> str:
    """Apply ``code`` to the SQL outside literals, quoted names and comments, ``other``
    (default: unchanged) to those."""
    out: list[str] = []
    pos = 0
    for m in _SEGMENTS.finditer(sql):
        out.append(code(sql[pos : m.start()]))
        out.append(m.group() if other is None else other(m.group()))
        pos = m.end()
    out.append(code(sql[pos:]))
    return "".join(out)


@lru_cache(maxsize=4096)
def translate(sql: str, has_params: bool = True) -> Statement:
    """The PostgreSQL form of one SQLite statement (see the module docstring)."""
    if _PRAGMA.match(sql):
        return Statement(sql, pragma=True)
    ddl = _DDL_START.match(sql) is not None
    text = sql
    if ddl:

        def ddl_code(part: str) -> str:
            for pattern, replacement in _DDL_RULES:
                part = pattern.sub(replacement, part)
            return part

        text = _code_map(text, ddl_code)
    if has_params:
        # psycopg reads % everywhere (even inside literals) as the start of a placeholder.
        text = _code_map(
            text, lambda part: part.replace("%", "%%").replace("?", "%s"),
            lambda part: part.replace("%", "%%"),
        )  # fmt: skip
    insert = _INSERT.match(text)
    if insert is None:
        change = _CHANGE.match(text)
        writes: tuple[str, ...] | None = None
        if change is not None:
            writes = (change.group(1).lower(),)
        elif not ddl and _READ.match(text):
            writes = ()
        return Statement(text, ddl=ddl, writes=writes)
    table = insert.group("table").lower()
    columns = tuple(
        c.strip().strip('"').lower() for c in (insert.group("columns") or "").split(",") if c
    )
    mode = (insert.group("or") or "").upper()
    if mode:
        text = _INSERT_OR.sub("INSERT INTO", text, count=1)
    # RETURNING as a keyword, not inside a literal or a comment.
    masked = _code_map(text, lambda part: part, lambda part: " " * len(part))
    found = list(_RETURNING.finditer(masked))
    returning = bool(found)
    if mode:
        at = found[-1].start() if found else len(text)
        clause = " ON CONFLICT DO NOTHING" if mode == "IGNORE" else _CONFLICT
        text = text[:at].rstrip() + clause + (" " + text[at:] if returning else "")
    return Statement(
        text,
        insert_table=table,
        insert_columns=columns,
        returning=returning,
        replace=mode == "REPLACE",
        writes=(table,),
    )


# -- the connection ---------------------------------------------------------------------------


class _PgCursor:
    """The result of one statement, read the way the repositories read sqlite3 cursors."""

    __slots__ = ("_rows", "lastrowid", "rowcount")

    def __init__(self, rows: list[Row] | None, rowcount: int, lastrowid: int | None) -> None:
        self._rows = rows
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self) -> Row | None:
        if not self._rows:
            return None
        return self._rows.pop(0)

    def fetchall(self) -> list[Row]:
        rows, self._rows = self._rows or [], []
        return rows

    def close(self) -> None:
        self._rows = None


class _PgConnection:
    """psycopg 3 behind the part of ``sqlite3.Connection`` the repositories use.

    It holds one PostgreSQL connection and opens a new one when that one is lost; the
    catalog facts the translation needs (primary keys, identity columns) are cached per
    table and forgotten after any DDL.
    """

    def __init__(
        self,
        conninfo: str,
        schema: str,
        *,
        connect_timeout: float,
        lock_timeout: float,
        channel: str,
        listen: bool = False,
    ) -> None:
        self._conninfo = conninfo
        self.schema = schema
        self.channel = channel
        """Where write commits are announced, whatever this connection's freshness."""
        self.listen = listen
        """Whether it listens there (``freshness="notify"``)."""
        self._heard: set[str] | None = set()
        """Tables other connections announced changing since the last look (``None``: any)."""
        self.written: set[str] | None = set()
        """Tables the current transaction may have changed (``None``: unknown, any)."""
        self._readable: select.poll | None = None
        self._ended = False
        self._connect_timeout = connect_timeout
        self._lock_timeout = lock_timeout
        self.pg: psycopg.Connection[Row] | None = None
        self._primary_keys: dict[str, tuple[str, ...]] = {}
        self._identities: dict[str, tuple[str, str] | None] = {}
        self.in_transaction = False
        self.begun = False
        """In a transaction whose BEGIN has been sent."""
        self._begin: list[tuple[str, tuple[Any, ...] | None]] = []
        self.generation = 0
        """Counts connections made: a new one has missed nothing but knows nothing."""

    # -- connecting

    def connect(self) -> psycopg.Connection[Row]:
        """The live connection, connecting (again) if there is none or it broke."""
        pg = self.pg
        if pg is not None and not pg.closed and not pg.broken:
            return pg
        try:
            import psycopg
            from psycopg import sql
            from psycopg.types.numeric import Int8Dumper
        except ImportError as e:
            raise StorageError(
                "the PostgreSQL backend needs psycopg: pip install 'loopgram[postgres]'"
            ) from e

        class BoolAsInteger(Int8Dumper):
            # The schema stores flags as 0/1 integers, as on SQLite.
            def dump(self, obj: Any) -> bytes:
                return str(int(obj)).encode()

        self.pg = None
        self.begun = False
        try:
            pg = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=max(1, round(self._connect_timeout)),
            )
        except psycopg.Error as e:
            # libpq's message spans lines; one line reads better in a log or a CLI error.
            raise StorageBusy(f"cannot connect to PostgreSQL: {' '.join(str(e).split())}") from e
        pg.adapters.register_dumper(bool, BoolAsInteger)
        try:
            pg.execute(
                sql.SQL("SET search_path TO {}; SET lock_timeout = {}").format(
                    sql.Identifier(self.schema), sql.Literal(f"{int(self._lock_timeout * 1000)}ms")
                )
            )
        except psycopg.Error as e:
            pg.close()
            raise translate_error(e) from e
        if self.listen:
            pg.add_notify_handler(self._on_notify)
            pg.add_notice_handler(self._on_notice)
            try:
                pg.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            except psycopg.Error as e:
                pg.close()
                raise translate_error(e) from e
        if self.listen:
            # poll, not select: a server's sockets may be numbered past select's limit.
            self._readable = select.poll()
            self._readable.register(pg.pgconn.socket, select.POLLIN)
        self.pg = pg
        self._ended = False
        self.generation += 1
        return pg

    def _on_notice(self, diag: psycopg.errors.Diagnostic) -> None:
        # A server ending an idle session (shutdown, pg_terminate_backend) sends a FATAL
        # error first, which libpq hands over as a notice; the socket's end may arrive a
        # moment later, after a read that already found nothing more to consume.
        if diag.severity_nonlocalized in ("FATAL", "PANIC"):
            self._ended = True

    def _on_notify(self, notify: psycopg.Notify) -> None:
        # psycopg hands over what arrived during a statement of ours.
        pg = self.pg
        self._hear(notify.pid, notify.payload, None if pg is None else pg.info.backend_pid)

    def _hear(self, pid: int, payload: str, own: int | None) -> None:
        if pid == own:
            return  # our own commits' announcements come back too and are not news
        if self._heard is None:
            return
        tables = payload.split(",") if payload else []
        if not tables or _ANY_TABLE in tables:
            self._heard = None
        else:
            self._heard.update(tables)

    def changed_elsewhere(self) -> set[str] | None:
        """The tables other connections announced changing since the last call (``None``:
        possibly any): reads what has already arrived on the socket, without a round trip.
        """
        import psycopg

        generation = self.generation
        pg = self.connect()
        pgconn = pg.pgconn
        try:
            # Everything that has arrived, to the end: a server shutting down sends its
            # goodbye and closes, and only the read after the goodbye finds the end. A
            # session that ended has missed announcements since.
            readable = self._readable
            for _ in range(_MAX_READS):
                if readable is None or not readable.poll(0):
                    break
                pgconn.consume_input()
            # Reading only buffers; parsing is what hands a server's goodbye (a FATAL
            # error while idle) to _on_notice, even when the socket's end is still on
            # its way.
            pgconn.is_busy()
            lost = self._ended or pgconn.status != psycopg.pq.ConnStatus.OK
        except (psycopg.OperationalError, OSError):
            lost = True
        if lost:
            pg.close()
            pg = self.connect()
            pgconn = pg.pgconn
        own = pg.info.backend_pid
        while (notify := pgconn.notifies()) is not None:
            self._hear(notify.be_pid, notify.extra.decode("utf-8", "replace"), own)
        heard, self._heard = self._heard, set()
        if self.generation != generation:
            return None  # a new session has heard nothing of what came before
        return heard

    def announcement(self) -> str | None:
        """The ``NOTIFY`` that announces the current transaction's changes at its commit
        (``None``: it changed nothing)."""
        written = self.written
        if written is not None and not written:
            return None
        payload = _ANY_TABLE if written is None else ",".join(sorted(written))
        return f"NOTIFY \"{self.channel}\", '{payload}'"

    def close(self) -> None:
        if self.pg is not None:
            self.pg.close()
            self.pg = None

    # -- the sqlite3.Connection subset

    def cursor(self) -> _PgCursor:
        return _PgCursor(None, -1, None)

    # -- transactions: BEGIN travels with the first statement (one round trip, not two)

    def begin(self, statements: list[tuple[str, tuple[Any, ...] | None]]) -> None:
        """Start a transaction with ``statements``, sent in front of its first statement."""
        self.in_transaction = True
        self.begun = False
        self._begin = statements
        self.written = set()

    def end(self) -> None:
        self.in_transaction = False
        self.begun = False
        self._begin = []

    def _session(self) -> psycopg.Connection[Row]:
        if not self.begun:
            return self.connect()
        pg = self.pg
        if pg is None or pg.closed or pg.broken:
            # Never carry on in a new session: the transaction's earlier work is gone.
            raise StorageBusy("the connection to PostgreSQL was lost in a transaction")
        return pg

    def _run(
        self, pg: psycopg.Connection[Row], text: str, params: Any, many: bool = False
    ) -> psycopg.Cursor[Row]:
        import psycopg

        alone = not self.in_transaction  # a lone read, outside any transaction
        try:
            return self._send(pg, text, params, many)
        except psycopg.OperationalError:
            if not pg.broken or not (alone or not self.begun):
                raise
        # The connection died under a lone read or under a transaction's first statement:
        # nothing has happened yet (PostgreSQL rolls back what a dead session began), so
        # once on a new connection. A restarted database costs no call that came after.
        pg = self.connect()
        return self._send(pg, text, params, many)

    def _send(
        self, pg: psycopg.Connection[Row], text: str, params: Any, many: bool
    ) -> psycopg.Cursor[Row]:
        cur = pg.cursor()
        if not self.in_transaction or self.begun:
            if many:
                cur.executemany(cast("Any", text), params)
            else:
                cur.execute(cast("Any", text), params)
            return cur
        try:
            with pg.pipeline():
                for begin_sql, begin_params in self._begin:
                    pg.execute(cast("Any", begin_sql), begin_params)
                if many:
                    cur.executemany(cast("Any", text), params)
                else:
                    cur.execute(cast("Any", text), params)
        finally:
            # Begun even when the statement failed: the transaction must be rolled back.
            self.begun = not pg.broken
        return cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _PgCursor:
        pg = self._session()
        statement = translate(sql, bool(params))
        if statement.pragma:
            return _PgCursor(None, -1, None)
        self._note_writes(statement)
        text = self._complete(pg, statement)
        add_returning = False
        if statement.insert_table is not None and not statement.returning:
            identity = self._identity(pg, statement.insert_table)
            add_returning = identity is not None
            if identity is not None:
                text += f" RETURNING {identity[0]}"
        cur = self._run(pg, text, tuple(params) if params else None)
        rows = cur.fetchall() if cur.description is not None else None
        lastrowid = None
        if add_returning:
            lastrowid = rows[0][0] if rows else None
            rows = None
        if statement.ddl:
            self._primary_keys.clear()
            self._identities.clear()
        elif statement.insert_table is not None:
            self._follow_explicit_id(pg, statement)
        return _PgCursor(rows, cur.rowcount, lastrowid)

    def executemany(self, sql: str, seq_of_params: Iterable[Sequence[Any]]) -> _PgCursor:
        pg = self._session()
        batch = [tuple(p) for p in seq_of_params]
        if not batch:
            return _PgCursor(None, 0, None)
        statement = translate(sql, True)
        self._note_writes(statement)
        cur = self._run(pg, self._complete(pg, statement), batch, many=True)
        if statement.insert_table is not None:
            self._follow_explicit_id(pg, statement)
        return _PgCursor(None, cur.rowcount, None)

    def _note_writes(self, statement: Statement) -> None:
        if self.written is None:
            return
        if statement.writes is None:
            self.written = None
        else:
            self.written.update(statement.writes)

    # -- catalog facts

    def _complete(self, pg: psycopg.Connection[Row], statement: Statement) -> str:
        if not statement.replace:
            return statement.sql
        table = statement.insert_table or ""
        if not statement.insert_columns:
            raise StorageError(f"INSERT OR REPLACE into {table} needs its column list")
        keys = self._primary_key(pg, table)
        updates = [c for c in statement.insert_columns if c not in keys]
        if not keys:
            raise StorageError(f"INSERT OR REPLACE into {table}, which has no primary key")
        if updates:
            assignments = ", ".join(f"{c} = excluded.{c}" for c in updates)
            clause = f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {assignments}"
        else:
            clause = f" ON CONFLICT ({', '.join(keys)}) DO NOTHING"
        return statement.sql.replace(_CONFLICT, clause)

    def _primary_key(self, pg: psycopg.Connection[Row], table: str) -> tuple[str, ...]:
        keys = self._primary_keys.get(table)
        if keys is None:
            rows = pg.execute(
                "SELECT a.attname FROM pg_index i "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
                "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary ORDER BY a.attnum",
                (f"{self.schema}.{table}",),
            ).fetchall()
            keys = self._primary_keys[table] = tuple(r[0] for r in rows)
        return keys

    def _identity(self, pg: psycopg.Connection[Row], table: str) -> tuple[str, str] | None:
        """``(column, sequence)`` of the table's identity column, if it has one."""
        if table not in self._identities:
            row = pg.execute(
                "SELECT a.attname, pg_get_serial_sequence(%s, a.attname) FROM pg_attribute a "
                "WHERE a.attrelid = to_regclass(%s) AND a.attidentity <> '' LIMIT 1",
                (f"{self.schema}.{table}", f"{self.schema}.{table}"),
            ).fetchone()
            self._identities[table] = None if row is None else (row[0], row[1])
        return self._identities[table]

    def _follow_explicit_id(self, pg: psycopg.Connection[Row], statement: Statement) -> None:
        table = statement.insert_table or ""
        identity = self._identity(pg, table)
        if identity is None or identity[0] not in statement.insert_columns:
            return
        column, sequence = identity
        # The sequence never moves back (a deleted top id is not given out again).
        pg.execute(
            cast(
                "Any",
                f"SELECT setval(%s, GREATEST((SELECT max({column}) FROM {table}), "
                f"(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence}), 1))",
            ),
            (sequence,),
        )


# -- errors -----------------------------------------------------------------------------------

_BUSY_STATES: Final = frozenset({"40001", "40P01", "55P03", "57014"})
"""Serialisation failure, deadlock, lock wait timeout, statement cancelled (timeout)."""


def translate_error(e: Exception) -> Exception:
    """The storage error (or ``ValueError`` for a caller's bad value) a psycopg error means."""
    import psycopg

    state = getattr(e, "sqlstate", None) or ""
    if isinstance(e, psycopg.IntegrityError):
        return Conflict(str(e))
    if state == "54000":
        return ValueTooLarge(str(e))
    if state in ("22003", "22021", "22P05"):
        # An integer beyond int64, or text PostgreSQL cannot hold (a NUL character).
        return ValueError(str(e))
    if state in _BUSY_STATES:
        return StorageBusy(str(e))
    if isinstance(e, psycopg.OperationalError) or state[:2] in ("08", "57"):
        return StorageBusy(f"PostgreSQL unavailable: {e}")
    return StorageError(f"{type(e).__name__}: {e}")


# -- transactions and caches ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    xmax: int
    running: frozenset[int]

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        _, xmax, running = text.split(":")
        return cls(int(xmax), frozenset(int(x) for x in running.split(",") if x))


_MAX_XID_GAP: Final = 4096
"""Beyond this many new transaction ids between two checks, simply forget the caches."""


def others_finished(seen: Snapshot, now: Snapshot, own: set[int]) -> bool:
    """Whether a transaction other than ``own`` finished between the two snapshots."""
    if now.xmax - seen.xmax > _MAX_XID_GAP:
        return True
    # Finished since the last look: what was running then, and every id given out since,
    # except what is still running now.
    finished = {x for x in seen.running if x not in now.running}
    finished.update(x for x in range(seen.xmax, now.xmax) if x not in now.running)
    return not finished <= own


_ACCOUNT_TABLES: Final = frozenset({"accounts"})
"""What the cached accounts are read from: a change announced there forgets them."""
_MESSAGE_TABLES: Final = frozenset({"message_boxes", "messages", "accounts"})
"""What the cached message copies are read from, and ``accounts``, whose rows' deletion
cascades into ``message_boxes``."""


class _PgDb(_Db):
    """``_Db`` over a ``_PgConnection``: the same caches and scopes, PostgreSQL
    transactions, and a snapshot comparison in place of ``PRAGMA data_version``."""

    def __init__(
        self, conn: _PgConnection, clock: Clock, random_bytes: RandomBytes, lock_key: int
    ) -> None:
        # The repositories type their connection as sqlite3's; this one answers the calls
        # they make (the contract suite run on PostgreSQL is what holds it to that).
        super().__init__(cast("sqlite3.Connection", conn), clock, random_bytes)
        self.pgconn: _PgConnection | None = conn
        self._lock_key = lock_key
        self._lock_sql = f"SELECT pg_advisory_xact_lock({lock_key})"
        self._seen: Snapshot | None = None
        self._seen_generation = -1
        self._own_xids: set[int] = set()

    def _live(self) -> _PgConnection:
        conn = self.pgconn
        if conn is None:
            raise StorageClosed("the storage is closed")
        return conn

    def fresh(self) -> None:
        conn = self._live()
        if self._scopes and self._checked:
            return
        if conn.listen:
            try:
                changed = conn.changed_elsewhere()
            except Exception as e:
                raise _storage_error(e) from e
            self._checked = self._scopes > 0
            if changed is None or conn.generation != self._seen_generation:
                self.accounts.clear()
                self.messages.clear()
            else:
                if not changed.isdisjoint(_ACCOUNT_TABLES):
                    self.accounts.clear()
                if not changed.isdisjoint(_MESSAGE_TABLES):
                    self.messages.clear()
            self._seen_generation = conn.generation
            return
        try:
            row = conn.execute("SELECT pg_current_snapshot()::text").fetchone()
        except Exception as e:
            raise _storage_error(e) from e
        self._checked = self._scopes > 0
        snapshot = Snapshot.parse(row[0] if row else "0:0:")
        if self._others_committed(snapshot, conn.generation):
            self.accounts.clear()
            self.messages.clear()
        self._seen = snapshot
        self._seen_generation = conn.generation
        self._own_xids.clear()

    def _others_committed(self, now: Snapshot, generation: int) -> bool:
        if self._seen is None or generation != self._seen_generation:
            return True
        return others_finished(self._seen, now, self._own_xids)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self.lock:
            conn = self._live()
            try:
                return conn.execute(sql, params).fetchone()
            except Exception as e:
                raise _storage_error(e) from e

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        with self.lock:
            conn = self._live()
            if conn.in_transaction:
                raise StorageError("nested storage transaction")
            if write:
                # The writers' lock first: writers run one at a time, as on SQLite.
                conn.begin([("BEGIN", None), (self._lock_sql, None)])
            else:
                conn.begin([("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", None)])
            try:
                yield cast("sqlite3.Connection", conn)
                pg = conn.pg
                announce = conn.announcement() if write else None
                if not conn.begun or pg is None:
                    pass  # nothing was sent: nothing to commit
                elif conn.listen:
                    # Announced in the same round trip, delivered only if it commits.
                    pg.execute(cast("Any", f"{announce}; COMMIT" if announce else "COMMIT"))
                elif announce:
                    # Announced for the processes that listen, whatever this one does.
                    cur = pg.execute(
                        cast(
                            "Any",
                            f"SELECT pg_current_xact_id_if_assigned()::text; {announce}; COMMIT",
                        )
                    )
                    row = cur.fetchone()
                    if row is not None and row[0] is not None:
                        self._own_xids.add(int(row[0]))
                else:
                    pg.execute("COMMIT")
            except Exception as e:
                if conn.begun and conn.pg is not None:
                    _rollback(conn.pg)
                raise _storage_error(e) from e
            except BaseException:
                if conn.begun and conn.pg is not None:
                    _rollback(conn.pg)
                raise
            finally:
                conn.end()

    def close(self) -> None:
        with self.lock:
            self.accounts.clear()
            self.messages.clear()
            if self.pgconn is not None:
                self.pgconn.close()
                self.pgconn = None
            self.conn = None


def _storage_error(e: Exception) -> Exception:
    import psycopg

    if isinstance(e, psycopg.Error):
        return translate_error(e)
    return e


def _rollback(pg: psycopg.Connection[Row]) -> None:
    import psycopg

    if pg.closed or pg.broken:
        return
    try:
        pg.execute("ROLLBACK")
    except psycopg.Error:
        pass  # the original error is the one worth reporting


# -- the storage ------------------------------------------------------------------------------


def split_url(url: str) -> tuple[str, str]:
    """``(conninfo, schema)`` of a storage URL: a libpq URL whose ``schema`` query
    parameter (default ``public``) names the schema holding loopgram's tables."""
    conninfo, options = _parse_url(url)
    return conninfo, options.get("schema", DEFAULT_SCHEMA)


_OWN_PARAMETERS: Final = frozenset({"schema", "freshness"})
"""Query parameters of a storage URL that are loopgram's, not libpq's."""


def _parse_url(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    options: dict[str, str] = {}
    kept = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in _OWN_PARAMETERS:
            options[key] = value
        else:
            kept.append((key, value))
    schema = options.get("schema", DEFAULT_SCHEMA)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
        raise ValueError(f"invalid schema name {schema!r}")
    freshness = options.get("freshness", "notify")
    if freshness not in ("notify", "snapshot"):
        raise ValueError(f"freshness must be notify or snapshot, not {freshness!r}")
    return urlunsplit(parts._replace(scheme="postgresql", query=urlencode(kept))), options


def lock_key(schema: str) -> int:
    """The advisory lock of one schema's writers (a signed 64-bit key)."""
    key = (_LOCK_CLASS << 32) | zlib.crc32(schema.encode())
    return key - (1 << 64) if key >= 1 << 63 else key


class PostgresStorage(SqlStorage):
    """The PostgreSQL ``Storage``: one schema of one database, migrated at open.

    Any number of processes may open the same schema at once (migrations run under the
    writers' advisory lock, one process applying each step).

    ``freshness`` (or the URL's ``freshness=`` parameter) is how cached rows learn of other
    processes' commits. ``"notify"`` (the default) reads the announcements every write
    commit sends on the schema's channel (``LISTEN``/``NOTIFY``) from the socket, without a
    round trip, so a press answered from cached rows costs no database trip at all.
    PostgreSQL signals the listening sessions before the writer's commit returns and they
    pass the announcement on at once; what is not awaited is its way through the reader's
    PostgreSQL session and socket, so a read in this process that follows another
    process's commit by less than that (microseconds; longer when the machine is
    overloaded) may still see the cached row as it was. Every request that can depend on
    such a commit reaches this process over at least one more hop (the other process's
    answer to its client, then the client's next request; or a Redis message), which the
    announcement overtakes. A session lost or restarted forgets every cached row.
    ``"snapshot"`` is strict, at one round trip per ``reading()`` scope: it compares
    ``pg_current_snapshot()`` (see the module docstring), and every read sees every commit
    that returned before it, as the storage protocols promise.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        clock: Clock = time.time,
        random_bytes: RandomBytes = os.urandom,
        busy_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        freshness: Freshness | None = None,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        conninfo, options = _parse_url(url)
        if freshness is None:
            freshness = "snapshot" if options.get("freshness") == "snapshot" else "notify"
        if freshness not in ("notify", "snapshot"):
            raise ValueError(f"freshness must be notify or snapshot, not {freshness!r}")
        self.freshness: Freshness = freshness
        self.schema = schema or options.get("schema", DEFAULT_SCHEMA)
        split_url(f"postgresql:///?schema={self.schema}")  # validates an explicit name
        conn = _PgConnection(
            conninfo,
            self.schema,
            connect_timeout=connect_timeout,
            lock_timeout=busy_timeout,
            channel=f"loopgram_{self.schema}",
            listen=freshness == "notify",
        )
        db = _PgDb(conn, clock, random_bytes, lock_key(self.schema))
        try:
            _prepare_schema(db, self.schema)
        except BaseException:
            db.close()
            raise
        super().__init__(db, migrations)


def _prepare_schema(db: _PgDb, schema: str) -> None:
    """Create the schema and the dialect's functions if missing (under the writers' lock,
    so that processes starting together do not race on the catalog)."""
    with db.write() as conn:
        # Looked up first: CREATE ... IF NOT EXISTS needs the privilege to create even when
        # there is nothing to do, and a role may well use a schema it may not create.
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = ?", (schema,)).fetchone():
            present = conn.execute(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = ? AND p.proname IN ('max', 'min') AND p.pronargs = 2",
                (schema,),
            ).fetchone()
            if present is not None and present[0] == len(_PRELUDE):
                return
        else:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        for sql in _PRELUDE:
            conn.execute(sql.format(schema=f'"{schema}"'))


__all__ = [
    "DEFAULT_SCHEMA",
    "Freshness",
    "PostgresStorage",
    "Snapshot",
    "Statement",
    "lock_key",
    "others_finished",
    "split_url",
    "translate",
]
