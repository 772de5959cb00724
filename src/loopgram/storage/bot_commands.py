"""Storage layer: bots' command lists, per scope and language code, durable.

One row per (bot, scope, language code): the commands as ``(command, description)`` pairs in
the bot's order. The scope is the canonical text ``loopgram.server.services.commands`` makes of
an MTProto ``BotCommandScope`` or a Bot API ``BotCommandScope`` (both doors store the same
keys); the rules (what a command may look like, which scope applies to whom) live there.
Both backends sit beside the SQLite step, as ``loopgram.storage.bot_updates`` does.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final, Protocol

from loopgram.storage.errors import AccountNotFound

if TYPE_CHECKING:
    from loopgram.storage.memory import _Data
    from loopgram.storage.sqlite import _Db

Command = tuple[str, str]
"""``(command, description)``."""

MIGRATION_NAME: Final = "bot commands, read state of dialogs and contacts"

MIGRATION_SQL: Final = """
CREATE TABLE bot_commands (
    bot_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    scope     TEXT    NOT NULL,
    lang_code TEXT    NOT NULL,
    -- JSON [[command, description], ...]: read and written whole, never queried.
    commands  TEXT    NOT NULL,
    PRIMARY KEY (bot_id, scope, lang_code)
) WITHOUT ROWID;
"""
"""The bot commands part of the SQLite step (``loopgram.storage.migrations`` version 4)."""


class BotCommandRepository(Protocol):
    def set(self, bot_id: int, scope: str, lang_code: str, commands: list[Command]) -> None:
        """Replace the list (an empty list deletes it); ``AccountNotFound`` for an unknown bot."""
        ...

    def get(self, bot_id: int, scope: str, lang_code: str) -> list[Command] | None:
        """The list, ``None`` if none is set."""
        ...


def _encode(commands: list[Command]) -> str:
    return json.dumps([[c, d] for c, d in commands], ensure_ascii=False)


def _decode(text: str) -> list[Command]:
    return [(str(c), str(d)) for c, d in json.loads(text)]


class MemoryBotCommands:
    def __init__(self, data: _Data) -> None:
        self._data = data
        self._rows: dict[tuple[int, str, str], str] = {}

    def set(self, bot_id: int, scope: str, lang_code: str, commands: list[Command]) -> None:
        with self._data.tx() as d:
            d.require_account(bot_id)
            key = (bot_id, scope, lang_code)
            if commands:
                self._rows[key] = _encode(commands)
            else:
                self._rows.pop(key, None)

    def get(self, bot_id: int, scope: str, lang_code: str) -> list[Command] | None:
        with self._data.tx() as d:
            # An account deleted since keeps no commands, as the SQLite cascade does.
            stored = self._rows.get((bot_id, scope, lang_code))
            if stored is None or bot_id not in d.accounts:
                return None
            return _decode(stored)


class SqliteBotCommands:
    def __init__(self, db: _Db) -> None:
        self._db = db

    def set(self, bot_id: int, scope: str, lang_code: str, commands: list[Command]) -> None:
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (bot_id,)).fetchone() is None:
                raise AccountNotFound(bot_id)
            if commands:
                conn.execute(
                    "INSERT OR REPLACE INTO bot_commands (bot_id, scope, lang_code, commands) "
                    "VALUES (?, ?, ?, ?)",
                    (bot_id, scope, lang_code, _encode(commands)),
                )
            else:
                conn.execute(
                    "DELETE FROM bot_commands WHERE bot_id = ? AND scope = ? AND lang_code = ?",
                    (bot_id, scope, lang_code),
                )

    def get(self, bot_id: int, scope: str, lang_code: str) -> list[Command] | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT commands FROM bot_commands "
                "WHERE bot_id = ? AND scope = ? AND lang_code = ?",
                (bot_id, scope, lang_code),
            ).fetchone()
        if row is None:
            return None
        return _decode(row[0])


__all__ = [
    "MIGRATION_NAME",
    "MIGRATION_SQL",
    "BotCommandRepository",
    "Command",
    "MemoryBotCommands",
    "SqliteBotCommands",
]
