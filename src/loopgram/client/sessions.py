"""Client layer: what a client keeps between runs -- auth key, address, login, update state,
and the access hashes of the peers it has seen.

Three stores share one interface (:class:`Session`):

- :class:`MemorySession` -- forgotten when the process ends (the default);
- :class:`StringSession` -- the same, plus :meth:`StringSession.export`: one versioned,
  base64url string holding the auth key, the data centre and its address and the login,
  to paste into an environment variable or a CI secret and resume from without logging in;
- :class:`SQLiteSession` -- a file, with the update state and the peers too.

The MTProto session itself (session id, seq_no, unanswered queries) lives only as long as
the :class:`~loopgram.client.Client`: a new process starts a new MTProto session on the kept
key, as every Telegram client does, and catches up on missed updates with
``updates.getDifference``.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

__all__ = [
    "STRING_VERSION",
    "MemorySession",
    "PeerEntry",
    "SQLiteSession",
    "Session",
    "SessionData",
    "StringSession",
    "UpdateState",
]

STRING_VERSION: Final = "1"
"""First character of an exported session string: the layout of what follows."""

_AUTH_KEY_SIZE: Final = 256
# Version 1: dc_id, port, user_id (0: not logged in), flags (bit 0: bot), host length;
# then the host (UTF-8) and the 256-byte auth key.
_V1_HEAD: Final = struct.Struct(">BHqBB")
_FLAG_BOT: Final = 1


@dataclass(slots=True)
class SessionData:
    """Where the key was made and who it is logged in as."""

    host: str
    port: int
    dc_id: int = 2
    auth_key: bytes | None = None
    """The 256-byte MTProto auth key (``None``: none made yet)."""
    user_id: int | None = None
    """The account the key is logged in as (``None``: not logged in)."""
    bot: bool = False
    salt: int = 0
    """Last server salt known (0 lets the server send the right one)."""
    time_offset: float = 0.0
    """Server clock minus ours, in seconds."""


@dataclass(frozen=True, slots=True)
class UpdateState:
    """The account's position in its update sequence (``updates.state``)."""

    pts: int
    qts: int
    date: int
    seq: int


@dataclass(frozen=True, slots=True)
class PeerEntry:
    """What addressing a user needs: id and access hash (plus the username, to resolve
    ``@name`` without asking)."""

    id: int
    access_hash: int
    username: str | None = None
    bot: bool = False


class Session:
    """The interface, implemented in memory; subclasses add persistence by overriding the
    ``_persist_*`` hooks (called after every change)."""

    def __init__(self) -> None:
        self._data: SessionData | None = None
        self._state: UpdateState | None = None
        self._peers: dict[int, PeerEntry] = {}
        self._usernames: dict[str, int] = {}

    # -- the session proper -------------------------------------------------------------------

    def load(self) -> SessionData | None:
        """What was saved (a copy), or ``None`` for a fresh session."""
        return None if self._data is None else replace(self._data)

    def save(self, data: SessionData) -> None:
        if data.auth_key is not None and len(data.auth_key) != _AUTH_KEY_SIZE:
            raise ValueError(f"an auth key has {_AUTH_KEY_SIZE} bytes")
        self._data = replace(data)
        self._persist_data(self._data)

    def clear(self) -> None:
        """Forget everything (logged out, or the server no longer knows the key)."""
        self._data = None
        self._state = None
        self._peers.clear()
        self._usernames.clear()
        self._persist_clear()

    # -- updates ------------------------------------------------------------------------------

    def update_state(self) -> UpdateState | None:
        return self._state

    def set_update_state(self, state: UpdateState | None) -> None:
        if state != self._state:
            self._state = state
            self._persist_state(state)

    # -- peers --------------------------------------------------------------------------------

    def put_peers(self, entries: list[PeerEntry]) -> None:
        """Remember peers; only the ones that changed reach the ``_persist_peers`` hook (this
        runs for every update that names users)."""
        changed: list[PeerEntry] = []
        peers = self._peers
        for entry in entries:
            if peers.get(entry.id) != entry:
                old = peers.get(entry.id)
                if old is not None and old.username:
                    self._usernames.pop(old.username.lower(), None)
                peers[entry.id] = entry
                if entry.username:
                    self._usernames[entry.username.lower()] = entry.id
                changed.append(entry)
        if changed:
            self._persist_peers(changed)

    def get_peer(self, user_id: int) -> PeerEntry | None:
        return self._peers.get(user_id)

    def peer_by_username(self, username: str) -> PeerEntry | None:
        user_id = self._usernames.get(username.lower().lstrip("@"))
        return None if user_id is None else self._peers.get(user_id)

    def close(self) -> None:
        """Release the backing store (nothing in memory)."""

    # -- persistence hooks --------------------------------------------------------------------

    def _persist_data(self, data: SessionData) -> None:
        pass

    def _persist_state(self, state: UpdateState | None) -> None:
        pass

    def _persist_peers(self, entries: list[PeerEntry]) -> None:
        pass

    def _persist_clear(self) -> None:
        pass


class MemorySession(Session):
    """Kept in memory only."""


class StringSession(Session):
    """In memory, created from and exported to a string (``Client.export_session()``).

    The string is ``"1"`` followed by base64url (no padding) of: dc id (1 byte), port (2),
    user id (8, signed, 0 when not logged in), flags (1: bot), host length (1), host (UTF-8),
    auth key (256). Big-endian. Anything else raises ``ValueError``.
    """

    def __init__(self, string: str | None = None) -> None:
        super().__init__()
        if string:
            self._data = decode_string(string)

    def export(self) -> str:
        if self._data is None or self._data.auth_key is None:
            raise ValueError("nothing to export: the session has no auth key yet")
        return encode_string(self._data)


def encode_string(data: SessionData) -> str:
    if data.auth_key is None:
        raise ValueError("a session string needs an auth key")
    host = data.host.encode("utf-8")
    if len(host) > 255:
        raise ValueError("host name too long for a session string")
    raw = (
        _V1_HEAD.pack(
            data.dc_id,
            data.port,
            data.user_id or 0,
            _FLAG_BOT if data.bot else 0,
            len(host),
        )
        + host
        + data.auth_key
    )
    return STRING_VERSION + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_string(string: str) -> SessionData:
    string = string.strip()
    if not string or string[0] != STRING_VERSION:
        raise ValueError(f"not a loopgram session string (version {string[:1]!r})")
    body = string[1:]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"session string is not base64url: {exc}") from None
    if len(raw) < _V1_HEAD.size:
        raise ValueError("session string too short")
    dc_id, port, user_id, flags, host_len = _V1_HEAD.unpack_from(raw)
    if len(raw) != _V1_HEAD.size + host_len + _AUTH_KEY_SIZE:
        raise ValueError("session string has the wrong length")
    host = raw[_V1_HEAD.size : _V1_HEAD.size + host_len].decode("utf-8")
    return SessionData(
        host=host,
        port=port,
        dc_id=dc_id,
        auth_key=raw[_V1_HEAD.size + host_len :],
        user_id=user_id or None,
        bot=bool(flags & _FLAG_BOT),
    )


_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS session (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    host TEXT NOT NULL, port INTEGER NOT NULL, dc_id INTEGER NOT NULL,
    auth_key BLOB, user_id INTEGER, bot INTEGER NOT NULL,
    salt INTEGER NOT NULL, time_offset REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS update_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pts INTEGER NOT NULL, qts INTEGER NOT NULL, date INTEGER NOT NULL, seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS peers (
    id INTEGER PRIMARY KEY, access_hash INTEGER NOT NULL, username TEXT, bot INTEGER NOT NULL
);
"""
_SQLITE_VERSION: Final = 1


class SQLiteSession(Session):
    """A session in an SQLite file (created if missing), loaded whole when opened.

    Every change is written at once, in WAL mode with ``synchronous=NORMAL``: a crash can
    lose the last changes, never corrupt the file, and the auth key is written once.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT version FROM meta").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta (version) VALUES (?)", (_SQLITE_VERSION,))
        elif row[0] != _SQLITE_VERSION:
            raise ValueError(f"{self.path}: session file version {row[0]} is not supported")
        self._load()

    def _load(self) -> None:
        db = self._db
        row = db.execute(
            "SELECT host, port, dc_id, auth_key, user_id, bot, salt, time_offset FROM session"
        ).fetchone()
        if row is not None:
            self._data = SessionData(
                host=row[0],
                port=row[1],
                dc_id=row[2],
                auth_key=row[3],
                user_id=row[4],
                bot=bool(row[5]),
                salt=row[6],
                time_offset=row[7],
            )
        row = db.execute("SELECT pts, qts, date, seq FROM update_state").fetchone()
        if row is not None:
            self._state = UpdateState(*row)
        for peer_id, access_hash, username, bot in db.execute(
            "SELECT id, access_hash, username, bot FROM peers"
        ):
            entry = PeerEntry(peer_id, access_hash, username, bool(bot))
            self._peers[peer_id] = entry
            if username:
                self._usernames[username.lower()] = peer_id

    def _persist_data(self, data: SessionData) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO session "
            "(id, host, port, dc_id, auth_key, user_id, bot, salt, time_offset) "
            "VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                data.host,
                data.port,
                data.dc_id,
                data.auth_key,
                data.user_id,
                int(data.bot),
                data.salt,
                data.time_offset,
            ),
        )

    def _persist_state(self, state: UpdateState | None) -> None:
        if state is None:
            self._db.execute("DELETE FROM update_state")
            return
        self._db.execute(
            "INSERT OR REPLACE INTO update_state (id, pts, qts, date, seq) VALUES (1, ?, ?, ?, ?)",
            (state.pts, state.qts, state.date, state.seq),
        )

    def _persist_peers(self, entries: list[PeerEntry]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO peers (id, access_hash, username, bot) VALUES (?, ?, ?, ?)",
            [(e.id, e.access_hash, e.username, int(e.bot)) for e in entries],
        )

    def _persist_clear(self) -> None:
        with self._db:
            self._db.execute("BEGIN")
            for table in ("session", "update_state", "peers"):
                self._db.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        self._db.close()
