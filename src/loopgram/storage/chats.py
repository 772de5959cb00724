"""Storage layer: basic groups (``chat``) -- the chat rows, their participants, and bots'
privacy mode.

A chat's messages are ordinary message rows with a ``chat`` peer, one box copy per member
(``MessageRepository.send`` with ``member_ids``); this module keeps who the members are.
``version`` counts changes of the participant list, as Telegram's ``chatParticipants``
does. A bot's privacy flag (on by default, as on Telegram) says whether it sees every
message of a group or only the ones meant for it. Both backends sit beside the SQLite step
(version 5), as ``loopgram.storage.dialogs`` does for version 4.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final, Protocol

from loopgram.storage.errors import AccountNotFound, NotFound

if TYPE_CHECKING:
    from loopgram.storage.memory import _Data
    from loopgram.storage.sqlite import _Db

MIGRATION_NAME: Final = "basic groups and bot privacy"

MIGRATION_SQL: Final = """
CREATE TABLE chats (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    title       TEXT    NOT NULL,
    creator_id  INTEGER NOT NULL REFERENCES accounts (id),
    date        INTEGER NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    migrated_to INTEGER
);

CREATE TABLE chat_participants (
    chat_id    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    inviter_id INTEGER NOT NULL,
    date       INTEGER NOT NULL,
    admin      INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;
CREATE INDEX chat_participants_by_user ON chat_participants (user_id);

CREATE TABLE bot_privacy (
    bot_id  INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1))
);
"""
"""The chats part of the SQLite step (``loopgram.storage.migrations`` version 5)."""

FIRST_CHAT_ID: Final = 100_001
"""Chat ids are a counter of their own; a small number looks like a basic group's id."""


class ChatNotFound(NotFound):
    pass


@dataclass(frozen=True, slots=True)
class ChatRecord:
    id: int
    title: str
    creator_id: int
    date: int
    version: int = 1
    """Bumped on every change of the participant list."""
    migrated_to: int | None = None
    """The supergroup this chat became (``messages.migrateChat``), when it did."""


@dataclass(frozen=True, slots=True)
class Participant:
    chat_id: int
    user_id: int
    inviter_id: int
    date: int
    admin: bool = False


class ChatRepository(Protocol):
    def create(
        self, creator_id: int, title: str, member_ids: list[int], *, date: int
    ) -> tuple[ChatRecord, list[Participant]]:
        """A new chat: the creator (an admin, invited by itself) and the members it invited.
        ``AccountNotFound`` for an unknown account; repeated ids count once."""
        ...

    def get(self, chat_id: int) -> ChatRecord | None: ...

    def get_many(self, chat_ids: list[int]) -> list[ChatRecord]:
        """Found chats in the order asked, missing ones skipped."""
        ...

    def participants(self, chat_id: int) -> list[Participant]:
        """Current members by join order (date, then user id)."""
        ...

    def participant(self, chat_id: int, user_id: int) -> Participant | None: ...

    def add(self, chat_id: int, user_id: int, inviter_id: int, *, date: int) -> ChatRecord:
        """Add a member (no-op for a member) and bump the version; ``ChatNotFound``,
        ``AccountNotFound``."""
        ...

    def remove(self, chat_id: int, user_id: int) -> ChatRecord:
        """Remove a member (no-op for a non-member) and bump the version."""
        ...

    def set_title(self, chat_id: int, title: str) -> ChatRecord: ...

    def set_migrated_to(self, chat_id: int, channel_id: int) -> ChatRecord:
        """Record the supergroup the chat became (the chat is deactivated from then on);
        ``ChatNotFound``."""
        ...

    def set_admin(self, chat_id: int, user_id: int, admin: bool) -> ChatRecord:
        """Make a member an admin or not (bumps the version when it changes);
        ``ChatNotFound``, ``AccountNotFound`` for a non-member."""
        ...

    def chats_of(self, user_id: int) -> list[int]:
        """Ids of the chats the account is a member of, ascending."""
        ...

    def set_bot_privacy(self, bot_id: int, enabled: bool) -> None:
        """``AccountNotFound`` for an unknown bot."""
        ...

    def bot_privacy(self, bot_id: int) -> bool:
        """On unless switched off."""
        ...


# -- memory -----------------------------------------------------------------------------------


class MemoryChats:
    def __init__(self, data: _Data) -> None:
        self._data = data
        self._chats: dict[int, ChatRecord] = {}
        self._members: dict[int, dict[int, Participant]] = {}
        self._privacy: dict[int, bool] = {}
        self._next_id = FIRST_CHAT_ID

    def create(
        self, creator_id: int, title: str, member_ids: list[int], *, date: int
    ) -> tuple[ChatRecord, list[Participant]]:
        with self._data.tx() as d:
            ids = list(dict.fromkeys([creator_id, *member_ids]))
            for account_id in ids:
                d.require_account(account_id)
            chat = ChatRecord(self._next_id, title, creator_id, date)
            self._next_id += 1
            members = [
                Participant(chat.id, i, creator_id, date, admin=i == creator_id) for i in ids
            ]
            self._chats[chat.id] = chat
            self._members[chat.id] = {p.user_id: p for p in members}
            return chat, members

    def get(self, chat_id: int) -> ChatRecord | None:
        with self._data.tx():
            return self._chats.get(chat_id)

    def get_many(self, chat_ids: list[int]) -> list[ChatRecord]:
        with self._data.tx():
            return [self._chats[i] for i in chat_ids if i in self._chats]

    def participants(self, chat_id: int) -> list[Participant]:
        with self._data.tx() as d:
            found = [p for p in self._members.get(chat_id, {}).values() if p.user_id in d.accounts]
            return sorted(found, key=lambda p: (p.date, p.user_id))

    def participant(self, chat_id: int, user_id: int) -> Participant | None:
        with self._data.tx():
            return self._members.get(chat_id, {}).get(user_id)

    def add(self, chat_id: int, user_id: int, inviter_id: int, *, date: int) -> ChatRecord:
        with self._data.tx() as d:
            chat = self._require(chat_id)
            d.require_account(user_id)
            members = self._members[chat_id]
            if user_id in members:
                return chat
            members[user_id] = Participant(chat_id, user_id, inviter_id, date)
            return self._bump(chat)

    def remove(self, chat_id: int, user_id: int) -> ChatRecord:
        with self._data.tx():
            chat = self._require(chat_id)
            if self._members[chat_id].pop(user_id, None) is None:
                return chat
            return self._bump(chat)

    def set_title(self, chat_id: int, title: str) -> ChatRecord:
        with self._data.tx():
            chat = replace(self._require(chat_id), title=title)
            self._chats[chat_id] = chat
            return chat

    def set_migrated_to(self, chat_id: int, channel_id: int) -> ChatRecord:
        with self._data.tx():
            chat = replace(self._require(chat_id), migrated_to=channel_id)
            self._chats[chat_id] = chat
            return chat

    def set_admin(self, chat_id: int, user_id: int, admin: bool) -> ChatRecord:
        with self._data.tx():
            chat = self._require(chat_id)
            member = self._members[chat_id].get(user_id)
            if member is None:
                raise AccountNotFound(user_id)
            if member.admin == admin:
                return chat
            self._members[chat_id][user_id] = replace(member, admin=admin)
            return self._bump(chat)

    def chats_of(self, user_id: int) -> list[int]:
        with self._data.tx():
            return sorted(c for c, members in self._members.items() if user_id in members)

    def set_bot_privacy(self, bot_id: int, enabled: bool) -> None:
        with self._data.tx() as d:
            d.require_account(bot_id)
            self._privacy[bot_id] = enabled

    def bot_privacy(self, bot_id: int) -> bool:
        with self._data.tx():
            return self._privacy.get(bot_id, True)

    def _require(self, chat_id: int) -> ChatRecord:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise ChatNotFound(chat_id)
        return chat

    def _bump(self, chat: ChatRecord) -> ChatRecord:
        chat = replace(chat, version=chat.version + 1)
        self._chats[chat.id] = chat
        return chat


# -- SQLite -----------------------------------------------------------------------------------

_CHAT_COLUMNS: Final = "id, title, creator_id, date, version, migrated_to"
_MEMBER_COLUMNS: Final = "chat_id, user_id, inviter_id, date, admin"


def _chat(row: tuple[int, str, int, int, int, int | None]) -> ChatRecord:
    return ChatRecord(row[0], row[1], row[2], row[3], row[4], row[5])


def _member(row: tuple[int, int, int, int, int]) -> Participant:
    return Participant(row[0], row[1], row[2], row[3], bool(row[4]))


class SqliteChats:
    def __init__(self, db: _Db) -> None:
        self._db = db

    def create(
        self, creator_id: int, title: str, member_ids: list[int], *, date: int
    ) -> tuple[ChatRecord, list[Participant]]:
        ids = list(dict.fromkeys([creator_id, *member_ids]))
        with self._db.write() as conn:
            for account_id in ids:
                found = conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,))
                if found.fetchone() is None:
                    raise AccountNotFound(account_id)
            if conn.execute("SELECT 1 FROM chats LIMIT 1").fetchone() is None:
                # The first chat sets where the AUTOINCREMENT counter starts.
                chat_id = FIRST_CHAT_ID
                conn.execute(
                    "INSERT INTO chats (id, title, creator_id, date) VALUES (?, ?, ?, ?)",
                    (chat_id, title, creator_id, date),
                )
            else:
                cur = conn.execute(
                    "INSERT INTO chats (title, creator_id, date) VALUES (?, ?, ?)",
                    (title, creator_id, date),
                )
                chat_id = int(cur.lastrowid or 0)
            members = [
                Participant(chat_id, i, creator_id, date, admin=i == creator_id) for i in ids
            ]
            conn.executemany(
                f"INSERT INTO chat_participants ({_MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                [(p.chat_id, p.user_id, p.inviter_id, p.date, int(p.admin)) for p in members],
            )
        return ChatRecord(chat_id, title, creator_id, date), members

    def get(self, chat_id: int) -> ChatRecord | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = ?", (chat_id,)
            ).fetchone()
        return None if row is None else _chat(row)

    def get_many(self, chat_ids: list[int]) -> list[ChatRecord]:
        found: dict[int, ChatRecord] = {}
        with self._db.read() as conn:
            for chat_id in dict.fromkeys(chat_ids):
                row = conn.execute(
                    f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = ?", (chat_id,)
                ).fetchone()
                if row is not None:
                    found[chat_id] = _chat(row)
        return [found[i] for i in chat_ids if i in found]

    def participants(self, chat_id: int) -> list[Participant]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_MEMBER_COLUMNS} FROM chat_participants WHERE chat_id = ? "
                "ORDER BY date, user_id",
                (chat_id,),
            ).fetchall()
        return [_member(r) for r in rows]

    def participant(self, chat_id: int, user_id: int) -> Participant | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_MEMBER_COLUMNS} FROM chat_participants "
                "WHERE chat_id = ? AND user_id = ?",
                (chat_id, user_id),
            ).fetchone()
        return None if row is None else _member(row)

    def add(self, chat_id: int, user_id: int, inviter_id: int, *, date: int) -> ChatRecord:
        with self._db.write() as conn:
            self._require(conn, chat_id)
            if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (user_id,)).fetchone() is None:
                raise AccountNotFound(user_id)
            cur = conn.execute(
                f"INSERT OR IGNORE INTO chat_participants ({_MEMBER_COLUMNS}) "
                "VALUES (?, ?, ?, ?, 0)",
                (chat_id, user_id, inviter_id, date),
            )
            if cur.rowcount:
                self._bump(conn, chat_id)
            return self._require(conn, chat_id)

    def remove(self, chat_id: int, user_id: int) -> ChatRecord:
        with self._db.write() as conn:
            self._require(conn, chat_id)
            cur = conn.execute(
                "DELETE FROM chat_participants WHERE chat_id = ? AND user_id = ?",
                (chat_id, user_id),
            )
            if cur.rowcount:
                self._bump(conn, chat_id)
            return self._require(conn, chat_id)

    def set_title(self, chat_id: int, title: str) -> ChatRecord:
        with self._db.write() as conn:
            self._require(conn, chat_id)
            conn.execute("UPDATE chats SET title = ? WHERE id = ?", (title, chat_id))
            return self._require(conn, chat_id)

    def set_migrated_to(self, chat_id: int, channel_id: int) -> ChatRecord:
        with self._db.write() as conn:
            self._require(conn, chat_id)
            conn.execute("UPDATE chats SET migrated_to = ? WHERE id = ?", (channel_id, chat_id))
            return self._require(conn, chat_id)

    def set_admin(self, chat_id: int, user_id: int, admin: bool) -> ChatRecord:
        with self._db.write() as conn:
            self._require(conn, chat_id)
            row = conn.execute(
                "SELECT admin FROM chat_participants WHERE chat_id = ? AND user_id = ?",
                (chat_id, user_id),
            ).fetchone()
            if row is None:
                raise AccountNotFound(user_id)
            if bool(row[0]) != admin:
                conn.execute(
                    "UPDATE chat_participants SET admin = ? WHERE chat_id = ? AND user_id = ?",
                    (int(admin), chat_id, user_id),
                )
                self._bump(conn, chat_id)
            return self._require(conn, chat_id)

    def chats_of(self, user_id: int) -> list[int]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT chat_id FROM chat_participants WHERE user_id = ? ORDER BY chat_id",
                (user_id,),
            ).fetchall()
        return [r[0] for r in rows]

    def set_bot_privacy(self, bot_id: int, enabled: bool) -> None:
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (bot_id,)).fetchone() is None:
                raise AccountNotFound(bot_id)
            conn.execute(
                "INSERT OR REPLACE INTO bot_privacy (bot_id, enabled) VALUES (?, ?)",
                (bot_id, int(enabled)),
            )

    def bot_privacy(self, bot_id: int) -> bool:
        # One statement: no BEGIN/COMMIT around it (read at every Bot API getMe).
        row = self._db.one("SELECT enabled FROM bot_privacy WHERE bot_id = ?", (bot_id,))
        return True if row is None else bool(row[0])

    @staticmethod
    def _require(conn: sqlite3.Connection, chat_id: int) -> ChatRecord:
        row = conn.execute(f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = ?", (chat_id,)).fetchone()
        if row is None:
            raise ChatNotFound(chat_id)
        return _chat(row)

    @staticmethod
    def _bump(conn: sqlite3.Connection, chat_id: int) -> None:
        conn.execute("UPDATE chats SET version = version + 1 WHERE id = ?", (chat_id,))


__all__ = [
    "FIRST_CHAT_ID",
    "MIGRATION_NAME",
    "MIGRATION_SQL",
    "ChatNotFound",
    "ChatRecord",
    "ChatRepository",
    "MemoryChats",
    "Participant",
    "SqliteChats",
]
