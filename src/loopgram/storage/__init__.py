"""Storage layer: durable server state behind repository protocols.

``Storage`` (see ``protocols``) gives access to one repository per kind of state:
``settings``, ``auth_keys``, ``sessions``, ``accounts``, ``messages``, ``updates`` and
``inline_messages``. Backends: ``MemoryStorage`` (tests), ``SqliteStorage`` (the embedded
default) and ``PostgresStorage`` (several processes or machines), behind the same
protocols and the same contract suite (``loopgram.testing.storage_contract``). Storage is
synchronous: each call is one short transaction. It knows nothing of MTProto: TL objects
are stored as bytes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Final

from loopgram.clock import Clock, RandomBytes
from loopgram.storage._common import UNSET, Unset
from loopgram.storage.errors import (
    AccountNotFound,
    AuthKeyExists,
    AuthKeyNotFound,
    Conflict,
    InlineMessageExists,
    InlineMessageNotFound,
    MessageNotFound,
    NotFound,
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
from loopgram.storage.memory import MemoryStorage
from loopgram.storage.models import (
    CHAT_INSTANCE_SECRET,
    FIRST_ACCOUNT_ID,
    RSA_PRIVATE_KEY_PEM,
    Account,
    AuthKeyRecord,
    DeletedMessages,
    InlineMessage,
    PeerKind,
    PeerRef,
    ServerSalt,
    SessionState,
    StoredMessage,
    StoredUpdate,
    UnackedMessage,
    UpdateState,
)
from loopgram.storage.postgres import PostgresStorage
from loopgram.storage.protocols import (
    AccountRepository,
    AuthKeyRepository,
    InlineMessageRepository,
    MessageRepository,
    SessionRepository,
    SettingsRepository,
    Storage,
    UpdateRepository,
)
from loopgram.storage.sqlite import DB_FILENAME, SqliteStorage, Synchronous

_MEMORY: Final = frozenset({"memory:", "memory://", ":memory:"})
_DB_SUFFIXES: Final = frozenset({".db", ".sqlite", ".sqlite3"})


def open_storage(
    target: str | os.PathLike[str],
    *,
    clock: Clock = time.time,
    random_bytes: RandomBytes = os.urandom,
    synchronous: Synchronous = "FULL",
) -> Storage:
    """Open the storage a URL or path names.

    ``memory:`` is a fresh ``MemoryStorage``. ``sqlite:///abs/path`` or a plain path is
    SQLite: a path ending in ``.db``, ``.sqlite`` or ``.sqlite3`` is the database file itself,
    any other path is a data directory holding ``loopgram.db`` (created if missing).
    ``synchronous`` is SQLite's durability setting (see ``loopgram.storage.sqlite``).
    ``postgresql://user:password@host:port/database?schema=name`` (or ``postgres://``) is
    PostgreSQL: the tables live in that schema (default ``public``), created if missing;
    any other query parameter is libpq's (see ``loopgram.storage.postgres``).
    """
    text = os.fspath(target)
    if text in _MEMORY:
        return MemoryStorage(clock=clock, random_bytes=random_bytes)
    scheme, sep, rest = text.partition("://")
    if sep and scheme.isalpha():
        if scheme == "sqlite":
            text = rest
        elif scheme in ("postgres", "postgresql"):
            return PostgresStorage(text, clock=clock, random_bytes=random_bytes)
        else:
            raise StorageError(f"unknown storage URL scheme {scheme!r}")
    if not text:
        raise StorageError("empty storage path")
    path = Path(text).expanduser()
    if path.suffix.lower() in _DB_SUFFIXES:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return SqliteStorage(path, clock=clock, random_bytes=random_bytes, synchronous=synchronous)
    return SqliteStorage.in_directory(
        path, clock=clock, random_bytes=random_bytes, synchronous=synchronous
    )


__all__ = [
    "CHAT_INSTANCE_SECRET",
    "DB_FILENAME",
    "FIRST_ACCOUNT_ID",
    "RSA_PRIVATE_KEY_PEM",
    "UNSET",
    "Account",
    "AccountNotFound",
    "AccountRepository",
    "AuthKeyExists",
    "AuthKeyNotFound",
    "AuthKeyRecord",
    "AuthKeyRepository",
    "Conflict",
    "DeletedMessages",
    "InlineMessage",
    "InlineMessageExists",
    "InlineMessageNotFound",
    "InlineMessageRepository",
    "MemoryStorage",
    "MessageNotFound",
    "MessageRepository",
    "NotFound",
    "PeerKind",
    "PeerRef",
    "PhoneTaken",
    "PostgresStorage",
    "RandomIdTaken",
    "SchemaError",
    "ServerSalt",
    "SessionNotFound",
    "SessionRepository",
    "SessionState",
    "SettingsRepository",
    "SqliteStorage",
    "Storage",
    "StorageBusy",
    "StorageClosed",
    "StorageError",
    "StoredMessage",
    "StoredUpdate",
    "UnackedMessage",
    "Unset",
    "UpdateRepository",
    "UpdateState",
    "UsernameTaken",
    "ValueTooLarge",
    "open_storage",
]
