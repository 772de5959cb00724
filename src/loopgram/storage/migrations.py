"""Storage layer: the SQLite schema, as an ordered list of migration steps.

A database records every step applied to it in ``schema_migrations``; opening a database
applies the missing steps in order, each in one transaction with its record. Steps are never
edited once released: a schema change is a new step appended to ``MIGRATIONS``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from loopgram.storage.bot_commands import MIGRATION_NAME as EVERYDAY_NAME
from loopgram.storage.bot_commands import MIGRATION_SQL as BOT_COMMANDS_SQL
from loopgram.storage.bot_updates import MIGRATION_NAME as BOT_QUEUES_NAME
from loopgram.storage.bot_updates import MIGRATION_SQL as BOT_QUEUES_SQL
from loopgram.storage.channels import CAUGHT_UP_NAME, CAUGHT_UP_SQL
from loopgram.storage.channels import MIGRATION_NAME as CHANNELS_NAME
from loopgram.storage.channels import MIGRATION_SQL as CHANNELS_SQL
from loopgram.storage.chats import MIGRATION_NAME as CHATS_NAME
from loopgram.storage.chats import MIGRATION_SQL as CHATS_SQL
from loopgram.storage.dialogs import MIGRATION_SQL as DIALOGS_SQL


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> Iterator[str]:
        """The step's SQL split into single statements.

        ``executescript`` would commit the surrounding transaction first, so the statements
        are run one by one; ``complete_statement`` keeps semicolons inside literals intact.
        """
        pending = ""
        for line in self.sql.splitlines(keepends=True):
            pending += line
            if sqlite3.complete_statement(pending):
                yield pending.strip()
                pending = ""
        if pending.strip():
            raise ValueError(f"migration {self.version} ends with an incomplete statement")


BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
)
"""

_INITIAL = """
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE accounts (
    id                     INTEGER PRIMARY KEY,
    access_hash            INTEGER NOT NULL,
    is_bot                 INTEGER NOT NULL CHECK (is_bot IN (0, 1)),
    first_name             TEXT    NOT NULL,
    last_name              TEXT,
    username               TEXT,
    -- lower(username): portable case-insensitive uniqueness (no COLLATE NOCASE).
    username_key           TEXT UNIQUE,
    phone                  TEXT UNIQUE,
    bot_secret_hash        BLOB,
    created_at             INTEGER NOT NULL,
    bot_inline_placeholder TEXT,
    bot_info_version       INTEGER,
    CHECK ((username IS NULL) = (username_key IS NULL))
);

-- Per-account counters, written on every message; kept apart from the profile row.
CREATE TABLE account_state (
    account_id  INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    pts         INTEGER NOT NULL DEFAULT 0,
    qts         INTEGER NOT NULL DEFAULT 0,
    seq         INTEGER NOT NULL DEFAULT 0,
    date        INTEGER NOT NULL DEFAULT 0,
    last_box_id INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE auth_keys (
    id         INTEGER PRIMARY KEY,
    key        BLOB    NOT NULL CHECK (length(key) = 256),
    created_at INTEGER NOT NULL,
    account_id INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    layer      INTEGER,
    expires_at INTEGER
);
CREATE INDEX auth_keys_by_account ON auth_keys (account_id) WHERE account_id IS NOT NULL;
CREATE INDEX auth_keys_by_expiry ON auth_keys (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE sessions (
    auth_key_id INTEGER NOT NULL REFERENCES auth_keys (id) ON DELETE CASCADE,
    session_id  INTEGER NOT NULL,
    last_msg_id INTEGER NOT NULL,
    out_seqno   INTEGER NOT NULL,
    -- JSON [[salt, valid_since, valid_until], ...]: read and written whole, never queried.
    salts       TEXT    NOT NULL,
    PRIMARY KEY (auth_key_id, session_id)
) WITHOUT ROWID;

CREATE TABLE unacked_messages (
    auth_key_id INTEGER NOT NULL,
    session_id  INTEGER NOT NULL,
    msg_id      INTEGER NOT NULL,
    seqno       INTEGER NOT NULL,
    body        BLOB    NOT NULL,
    PRIMARY KEY (auth_key_id, session_id, msg_id),
    FOREIGN KEY (auth_key_id, session_id)
        REFERENCES sessions (auth_key_id, session_id) ON DELETE CASCADE
);

-- One row per message; every participant's copy is a row of message_boxes.
CREATE TABLE messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    sender_id    INTEGER NOT NULL REFERENCES accounts (id),
    -- The destination as the sender sees it.
    peer_kind    TEXT    NOT NULL,
    peer_id      INTEGER NOT NULL,
    date         INTEGER NOT NULL,
    edit_date    INTEGER,
    text         TEXT    NOT NULL,
    entities     BLOB,
    reply_markup BLOB,
    media        BLOB,
    extra        BLOB
);

CREATE TABLE message_boxes (
    owner_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    box_id     INTEGER NOT NULL,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    peer_kind  TEXT    NOT NULL,
    peer_id    INTEGER NOT NULL,
    out        INTEGER NOT NULL CHECK (out IN (0, 1)),
    pts        INTEGER NOT NULL,
    PRIMARY KEY (owner_id, box_id)
) WITHOUT ROWID;
CREATE INDEX message_boxes_by_message ON message_boxes (message_id);
CREATE INDEX message_boxes_by_dialog ON message_boxes (owner_id, peer_kind, peer_id, box_id);

CREATE TABLE updates (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    pts        INTEGER NOT NULL,
    pts_count  INTEGER NOT NULL,
    date       INTEGER NOT NULL,
    body       BLOB    NOT NULL,
    PRIMARY KEY (account_id, pts)
);

CREATE TABLE inline_messages (
    id           BLOB    PRIMARY KEY,
    bot_id       INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    text         TEXT    NOT NULL,
    entities     BLOB,
    reply_markup BLOB,
    date         INTEGER NOT NULL,
    edit_date    INTEGER
);
"""

_RANDOM_IDS = """
-- A sender's random_id names one message: a repeated send answers with that message.
CREATE TABLE random_ids (
    sender_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    random_id  INTEGER NOT NULL,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    PRIMARY KEY (sender_id, random_id)
) WITHOUT ROWID;
CREATE INDEX random_ids_by_message ON random_ids (message_id);
"""

_REPLIES = """
-- The message this one replies to (messages.id); each owner sees it under its own box id.
ALTER TABLE messages ADD COLUMN reply_to_id INTEGER;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _INITIAL),
    Migration(2, "random ids of sent messages", _RANDOM_IDS),
    Migration(3, BOT_QUEUES_NAME, BOT_QUEUES_SQL),
    Migration(4, EVERYDAY_NAME, BOT_COMMANDS_SQL + DIALOGS_SQL),
    Migration(5, CHATS_NAME, CHATS_SQL),
    Migration(6, "replies", _REPLIES),
    Migration(7, CHANNELS_NAME, CHANNELS_SQL),
    Migration(8, CAUGHT_UP_NAME, CAUGHT_UP_SQL),
)
"""Every schema step, by ascending version; the latest is the schema this code uses."""
