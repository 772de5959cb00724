"""Storage layer: the Bot API's per-bot update queues, durable like everything else.

A bot that has used the Bot API has a queue: the ``update_id`` the next update gets, the
``allowed_updates`` it last asked for, and the updates it has not confirmed yet (as the JSON
body of a Bot API ``Update`` without its ``update_id``, rendered when the update happened,
as the official server does). The queue rules (offsets, limits, the random first id) belong
to ``loopgram.botapi.queue``; this module only keeps the rows, one transaction per call.

Both backends live here, beside the schema step that creates the SQLite tables, so that the
queue is one unit added to the storage rather than lines spread over every backend.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Protocol

from loopgram.storage import _common as c
from loopgram.storage.errors import AccountNotFound, NotFound, StorageClosed

if TYPE_CHECKING:
    from loopgram.storage.memory import _Data
    from loopgram.storage.sqlite import _Db

MIGRATION_NAME: Final = "bot api update queues"

MIGRATION_SQL: Final = """
CREATE TABLE bot_queues (
    bot_id          INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    next_id         INTEGER NOT NULL,
    -- JSON list of update kinds, NULL for the default set.
    allowed_updates TEXT,
    -- The webhook (NULL url: the bot polls with getUpdates) and its last failure.
    webhook_url     TEXT,
    webhook_secret  TEXT,
    webhook_max_connections INTEGER NOT NULL DEFAULT 40,
    last_error_date INTEGER,
    last_error_message TEXT
);

CREATE TABLE bot_updates (
    bot_id    INTEGER NOT NULL REFERENCES bot_queues (bot_id) ON DELETE CASCADE,
    update_id INTEGER NOT NULL,
    date      INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    body      BLOB    NOT NULL,
    PRIMARY KEY (bot_id, update_id)
) WITHOUT ROWID;
"""
"""The SQLite step (``loopgram.storage.migrations`` lists it as version 3)."""


class BotQueueNotFound(NotFound):
    """The bot has no update queue (it never used the Bot API)."""

    def __init__(self, bot_id: int) -> None:
        self.bot_id = bot_id
        super().__init__(f"bot {bot_id} has no update queue")


@dataclass(frozen=True, slots=True)
class BotUpdate:
    bot_id: int
    update_id: int
    date: int
    kind: str
    """The Bot API field the update carries: ``message``, ``callback_query``, ..."""
    body: bytes
    """JSON of the Bot API ``Update`` without ``update_id``."""


@dataclass(frozen=True, slots=True)
class BotQueueState:
    bot_id: int
    next_id: int
    """The ``update_id`` the next update gets."""
    first_pending: int | None
    """The lowest ``update_id`` not confirmed yet (``None``: nothing pending)."""
    pending: int
    allowed_updates: str | None
    webhook: Webhook | None = None


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    secret: str | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


class BotUpdateRepository(Protocol):
    def open(self, bot_id: int, *, first_id: int) -> BotQueueState:
        """The bot's queue, created starting at ``first_id`` if it has none;
        ``AccountNotFound`` for an unknown bot."""
        ...

    def state(self, bot_id: int) -> BotQueueState | None: ...

    def push(self, bot_id: int, kind: str, body: bytes, *, date: int | None = None) -> BotUpdate:
        """Append an update under the queue's next id; ``BotQueueNotFound`` without a queue."""
        ...

    def push_many(
        self, updates: Sequence[tuple[int, str, bytes]], *, date: int | None = None
    ) -> list[BotUpdate]:
        """Append ``(bot_id, kind, body)`` updates in one transaction, each bot's in the
        given order, as ``push`` would one by one; those of bots without a queue are left
        out (the others are still queued). Returns the queued updates."""
        ...

    def pending(self, bot_id: int, *, from_id: int, limit: int) -> list[BotUpdate]:
        """Unconfirmed updates with ``update_id >= from_id``, ascending, at most ``limit``."""
        ...

    def confirm(self, bot_id: int, below: int) -> int:
        """Forget the updates with ``update_id < below``; return how many."""
        ...

    def drop(self, bot_id: int, *, kind: str, dated_before: int) -> int:
        """Forget the updates of ``kind`` older than ``dated_before``; return how many."""
        ...

    def set_allowed_updates(self, bot_id: int, allowed: str | None) -> None:
        """``BotQueueNotFound`` without a queue."""
        ...

    def bots(self) -> list[int]:
        """Every bot with a queue, ascending."""
        ...

    def set_webhook(
        self, bot_id: int, url: str | None, *, secret: str | None = None, max_connections: int = 40
    ) -> None:
        """Set (``url``) or delete (``None``) the webhook, clearing its last error;
        ``BotQueueNotFound`` without a queue."""
        ...

    def webhook_failed(self, bot_id: int, *, date: int, message: str) -> None:
        """Record a failed delivery (``getWebhookInfo``'s ``last_error_*``)."""
        ...


# -- memory -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _MemoryQueue:
    next_id: int
    allowed_updates: str | None = None
    updates: list[BotUpdate] = field(default_factory=list)
    webhook: Webhook | None = None


class MemoryBotUpdates:
    def __init__(self, data: _Data) -> None:
        self._data = data
        self._queues: dict[int, _MemoryQueue] = {}

    def _state(self, bot_id: int, q: _MemoryQueue) -> BotQueueState:
        first = q.updates[0].update_id if q.updates else None
        return BotQueueState(bot_id, q.next_id, first, len(q.updates), q.allowed_updates, q.webhook)

    def _queue(self, bot_id: int) -> _MemoryQueue:
        q = self._queues.get(bot_id)
        # An account deleted since keeps no queue, as the SQLite cascade does.
        if q is None or bot_id not in self._data.accounts:
            raise BotQueueNotFound(bot_id)
        return q

    def open(self, bot_id: int, *, first_id: int) -> BotQueueState:
        c.check_int64(first_id, "update id")
        with self._data.tx() as d:
            d.require_account(bot_id)
            q = self._queues.get(bot_id)
            if q is None:
                q = self._queues[bot_id] = _MemoryQueue(first_id)
            return self._state(bot_id, q)

    def state(self, bot_id: int) -> BotQueueState | None:
        with self._data.tx() as d:
            q = self._queues.get(bot_id)
            if q is None or bot_id not in d.accounts:
                return None
            return self._state(bot_id, q)

    def push(self, bot_id: int, kind: str, body: bytes, *, date: int | None = None) -> BotUpdate:
        with self._data.tx() as d:
            q = self._queue(bot_id)
            update = BotUpdate(bot_id, q.next_id, d.now() if date is None else date, kind, body)
            q.updates.append(update)
            q.next_id += 1
            return update

    def push_many(
        self, updates: Sequence[tuple[int, str, bytes]], *, date: int | None = None
    ) -> list[BotUpdate]:
        pushed: list[BotUpdate] = []
        with self._data.tx() as d:
            when = d.now() if date is None else date
            for bot_id, kind, body in updates:
                q = self._queues.get(bot_id)
                if q is None or bot_id not in d.accounts:
                    continue
                update = BotUpdate(bot_id, q.next_id, when, kind, body)
                q.updates.append(update)
                q.next_id += 1
                pushed.append(update)
        return pushed

    def pending(self, bot_id: int, *, from_id: int, limit: int) -> list[BotUpdate]:
        limit = c.check_limit(limit)
        with self._data.tx():
            q = self._queues.get(bot_id)
            if q is None:
                return []
            return [u for u in q.updates if u.update_id >= from_id][:limit]

    def confirm(self, bot_id: int, below: int) -> int:
        with self._data.tx():
            q = self._queues.get(bot_id)
            if q is None:
                return 0
            kept = [u for u in q.updates if u.update_id >= below]
            dropped = len(q.updates) - len(kept)
            q.updates = kept
            return dropped

    def drop(self, bot_id: int, *, kind: str, dated_before: int) -> int:
        with self._data.tx():
            q = self._queues.get(bot_id)
            if q is None:
                return 0
            kept = [u for u in q.updates if u.kind != kind or u.date >= dated_before]
            dropped = len(q.updates) - len(kept)
            q.updates = kept
            return dropped

    def set_allowed_updates(self, bot_id: int, allowed: str | None) -> None:
        with self._data.tx():
            self._queue(bot_id).allowed_updates = allowed

    def bots(self) -> list[int]:
        with self._data.tx() as d:
            return sorted(b for b in self._queues if b in d.accounts)

    def set_webhook(
        self, bot_id: int, url: str | None, *, secret: str | None = None, max_connections: int = 40
    ) -> None:
        with self._data.tx():
            q = self._queue(bot_id)
            q.webhook = None if url is None else Webhook(url, secret, max_connections)

    def webhook_failed(self, bot_id: int, *, date: int, message: str) -> None:
        with self._data.tx():
            q = self._queue(bot_id)
            if q.webhook is not None:
                q.webhook = replace(q.webhook, last_error_date=date, last_error_message=message)


# -- SQLite -----------------------------------------------------------------------------------


def _bot_update(row: tuple[object, ...]) -> BotUpdate:
    bot_id, update_id, date, kind, body = row
    if not (
        isinstance(bot_id, int)
        and isinstance(update_id, int)
        and isinstance(date, int)
        and isinstance(kind, str)
        and isinstance(body, bytes)
    ):
        raise TypeError("bot_updates row of unexpected types")
    return BotUpdate(bot_id, update_id, date, kind, body)


_STATE_SQL: Final = (
    "SELECT q.next_id, q.allowed_updates, "
    "(SELECT min(update_id) FROM bot_updates u WHERE u.bot_id = q.bot_id), "
    "(SELECT count(*) FROM bot_updates u WHERE u.bot_id = q.bot_id), "
    "q.webhook_url, q.webhook_secret, q.webhook_max_connections, q.last_error_date, "
    "q.last_error_message "
    "FROM bot_queues q WHERE q.bot_id = ?"
)


_NORMAL: Final = 1
"""``PRAGMA synchronous`` reads 0 (OFF), 1 (NORMAL), 2 (FULL) or 3 (EXTRA)."""


def _state(bot_id: int, row: tuple[Any, ...]) -> BotQueueState:
    webhook = None if row[4] is None else Webhook(row[4], row[5], row[6], row[7], row[8])
    return BotQueueState(bot_id, row[0], row[2], row[3], row[1], webhook)


class SqliteBotUpdates:
    """Queue rows on the storage's connection.

    The writes made once per update (``push``, ``push_many``, ``confirm``, ``drop``) commit with
    ``synchronous = NORMAL`` whatever the storage's setting: in WAL mode such a commit
    survives a crash or restart of the process (the queue's promise) and skips the fsync
    that would otherwise cost more than the rest of a callback round trip; only an OS crash
    or power loss can take the newest rows back. Everything else commits as configured.
    """

    def __init__(self, db: _Db) -> None:
        self._db = db
        self._configured: int | None = None

    @contextmanager
    def _queue_write(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        with db.lock:
            conn = db.conn
            if conn is None:
                raise StorageClosed("the storage is closed")
            configured = self._configured
            if configured is None:
                row = conn.execute("PRAGMA synchronous").fetchone()
                configured = self._configured = int(row[0]) if row else _NORMAL
            if configured <= _NORMAL:
                with db.write() as written:
                    yield written
                return
            conn.execute("PRAGMA synchronous = NORMAL")
            try:
                with db.write() as written:
                    yield written
            finally:
                conn.execute(f"PRAGMA synchronous = {configured}")

    def open(self, bot_id: int, *, first_id: int) -> BotQueueState:
        c.check_int64(first_id, "update id")
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (bot_id,)).fetchone() is None:
                raise AccountNotFound(bot_id)
            conn.execute(
                "INSERT OR IGNORE INTO bot_queues (bot_id, next_id) VALUES (?, ?)",
                (bot_id, first_id),
            )
            row = conn.execute(_STATE_SQL, (bot_id,)).fetchone()
        return _state(bot_id, row)

    def state(self, bot_id: int) -> BotQueueState | None:
        # One statement reads one snapshot: no BEGIN/COMMIT around it (asked every poll).
        row = self._db.one(_STATE_SQL, (bot_id,))
        if row is None:
            return None
        return _state(bot_id, row)

    def push(self, bot_id: int, kind: str, body: bytes, *, date: int | None = None) -> BotUpdate:
        when = self._db.now() if date is None else date
        with self._queue_write() as conn:
            row = conn.execute(
                "UPDATE bot_queues SET next_id = next_id + 1 WHERE bot_id = ? RETURNING next_id",
                (bot_id,),
            ).fetchone()
            if row is None:
                raise BotQueueNotFound(bot_id)
            update = BotUpdate(bot_id, row[0] - 1, when, kind, bytes(body))
            conn.execute(
                "INSERT INTO bot_updates (bot_id, update_id, date, kind, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (bot_id, update.update_id, when, kind, update.body),
            )
        return update

    def push_many(
        self, updates: Sequence[tuple[int, str, bytes]], *, date: int | None = None
    ) -> list[BotUpdate]:
        # One commit for a batch: its cost, not the rows', is most of a queued update's.
        when = self._db.now() if date is None else date
        counts: dict[int, int] = {}
        for bot_id, _, _ in updates:
            counts[bot_id] = counts.get(bot_id, 0) + 1
        pushed: list[BotUpdate] = []
        with self._queue_write() as conn:
            next_ids: dict[int, int] = {}
            for bot_id, n in counts.items():
                row = conn.execute(
                    "UPDATE bot_queues SET next_id = next_id + ? WHERE bot_id = ? "
                    "RETURNING next_id",
                    (n, bot_id),
                ).fetchone()
                if row is not None:
                    next_ids[bot_id] = row[0] - n
            for bot_id, kind, body in updates:
                update_id = next_ids.get(bot_id)
                if update_id is None:
                    continue
                next_ids[bot_id] = update_id + 1
                pushed.append(BotUpdate(bot_id, update_id, when, kind, bytes(body)))
            conn.executemany(
                "INSERT INTO bot_updates (bot_id, update_id, date, kind, body) "
                "VALUES (?, ?, ?, ?, ?)",
                [(u.bot_id, u.update_id, when, u.kind, u.body) for u in pushed],
            )
        return pushed

    def pending(self, bot_id: int, *, from_id: int, limit: int) -> list[BotUpdate]:
        limit = c.check_limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT bot_id, update_id, date, kind, body FROM bot_updates "
                "WHERE bot_id = ? AND update_id >= ? ORDER BY update_id LIMIT ?",
                (bot_id, from_id, limit),
            ).fetchall()
        return [_bot_update(r) for r in rows]

    def confirm(self, bot_id: int, below: int) -> int:
        with self._queue_write() as conn:
            cur = conn.execute(
                "DELETE FROM bot_updates WHERE bot_id = ? AND update_id < ?", (bot_id, below)
            )
            return cur.rowcount

    def drop(self, bot_id: int, *, kind: str, dated_before: int) -> int:
        with self._queue_write() as conn:
            cur = conn.execute(
                "DELETE FROM bot_updates WHERE bot_id = ? AND kind = ? AND date < ?",
                (bot_id, kind, dated_before),
            )
            return cur.rowcount

    def set_allowed_updates(self, bot_id: int, allowed: str | None) -> None:
        with self._db.write() as conn:
            cur = conn.execute(
                "UPDATE bot_queues SET allowed_updates = ? WHERE bot_id = ?", (allowed, bot_id)
            )
            if cur.rowcount == 0:
                raise BotQueueNotFound(bot_id)

    def bots(self) -> list[int]:
        with self._db.read() as conn:
            rows = conn.execute("SELECT bot_id FROM bot_queues ORDER BY bot_id").fetchall()
        return [r[0] for r in rows]

    def set_webhook(
        self, bot_id: int, url: str | None, *, secret: str | None = None, max_connections: int = 40
    ) -> None:
        with self._db.write() as conn:
            cur = conn.execute(
                "UPDATE bot_queues SET webhook_url = ?, webhook_secret = ?, "
                "webhook_max_connections = ?, last_error_date = NULL, last_error_message = NULL "
                "WHERE bot_id = ?",
                (url, None if url is None else secret, max_connections, bot_id),
            )
            if cur.rowcount == 0:
                raise BotQueueNotFound(bot_id)

    def webhook_failed(self, bot_id: int, *, date: int, message: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE bot_queues SET last_error_date = ?, last_error_message = ? "
                "WHERE bot_id = ? AND webhook_url IS NOT NULL",
                (date, message, bot_id),
            )


__all__ = [
    "MIGRATION_NAME",
    "MIGRATION_SQL",
    "BotQueueNotFound",
    "BotQueueState",
    "BotUpdate",
    "BotUpdateRepository",
    "MemoryBotUpdates",
    "SqliteBotUpdates",
    "Webhook",
]
