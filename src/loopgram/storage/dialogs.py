"""Storage layer: what a dialog list needs beyond the messages -- read state and contacts.

An account's dialogs are the peers its box holds messages with; the newest copy per peer is
the dialog's top message. The read state of a dialog is two box ids: the newest incoming
message the owner has read (``read_inbox_max_id``) and the newest outgoing one the peer
has read (``read_outbox_max_id``); both only grow. Contacts are an account's address book:
another account under the name the owner gave it. Both backends sit beside the SQLite step
(version 4 with ``loopgram.storage.bot_commands``), as ``loopgram.storage.bot_updates`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from loopgram.storage.errors import AccountNotFound
from loopgram.storage.models import PeerKind, PeerRef

if TYPE_CHECKING:
    from loopgram.storage.memory import _Data
    from loopgram.storage.sqlite import _Db

MIGRATION_SQL: Final = """
CREATE TABLE dialog_reads (
    owner_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    peer_kind  TEXT    NOT NULL,
    peer_id    INTEGER NOT NULL,
    inbox_max  INTEGER NOT NULL DEFAULT 0,
    outbox_max INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (owner_id, peer_kind, peer_id)
) WITHOUT ROWID;

CREATE TABLE contacts (
    owner_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    first_name TEXT    NOT NULL,
    last_name  TEXT    NOT NULL,
    PRIMARY KEY (owner_id, contact_id)
) WITHOUT ROWID;
"""
"""The dialogs part of the SQLite step (``loopgram.storage.migrations`` version 4)."""


@dataclass(frozen=True, slots=True)
class ReadState:
    inbox_max: int = 0
    """The newest incoming box id the owner has read."""
    outbox_max: int = 0
    """The newest outgoing box id the peer has read."""


@dataclass(frozen=True, slots=True)
class Contact:
    owner_id: int
    contact_id: int
    first_name: str
    last_name: str


class DialogRepository(Protocol):
    def tops(self, owner_id: int) -> list[tuple[PeerRef, int]]:
        """Every peer the owner's box holds messages with, and the newest box id with it,
        newest first."""
        ...

    def unread(self, owner_id: int, peer: PeerRef, after_id: int) -> int:
        """How many incoming copies with ``peer`` have a box id above ``after_id``."""
        ...

    def read_state(self, owner_id: int, peer: PeerRef) -> ReadState: ...

    def mark_read(
        self, owner_id: int, peer: PeerRef, *, inbox_max: int = 0, outbox_max: int = 0
    ) -> ReadState:
        """Raise the marks to at least the given ids (never lower); the state after.
        ``AccountNotFound`` for an unknown owner."""
        ...


class ContactRepository(Protocol):
    def put(self, owner_id: int, contact_id: int, first_name: str, last_name: str) -> Contact:
        """Add or rename; ``AccountNotFound`` if either account is unknown."""
        ...

    def delete(self, owner_id: int, contact_ids: list[int]) -> list[int]:
        """Remove; the ids that were contacts."""
        ...

    def list(self, owner_id: int) -> list[Contact]:
        """By ascending contact id."""
        ...


# -- memory -----------------------------------------------------------------------------------


class MemoryDialogs:
    def __init__(self, data: _Data) -> None:
        self._data = data
        self._reads: dict[tuple[int, PeerRef], ReadState] = {}

    def tops(self, owner_id: int) -> list[tuple[PeerRef, int]]:
        with self._data.tx() as d:
            newest: dict[PeerRef, int] = {}
            for box in d.boxes.get(owner_id, {}).values():
                if box.box_id > newest.get(box.peer, 0):
                    newest[box.peer] = box.box_id
            return sorted(newest.items(), key=lambda item: -item[1])

    def unread(self, owner_id: int, peer: PeerRef, after_id: int) -> int:
        with self._data.tx() as d:
            return sum(
                1
                for box in d.boxes.get(owner_id, {}).values()
                if box.peer == peer and not box.out and box.box_id > after_id
            )

    def read_state(self, owner_id: int, peer: PeerRef) -> ReadState:
        with self._data.tx() as d:
            if owner_id not in d.accounts:
                return ReadState()
            return self._reads.get((owner_id, peer), ReadState())

    def mark_read(
        self, owner_id: int, peer: PeerRef, *, inbox_max: int = 0, outbox_max: int = 0
    ) -> ReadState:
        with self._data.tx() as d:
            d.require_account(owner_id)
            old = self._reads.get((owner_id, peer), ReadState())
            new = ReadState(max(old.inbox_max, inbox_max), max(old.outbox_max, outbox_max))
            self._reads[(owner_id, peer)] = new
            return new


class MemoryContacts:
    def __init__(self, data: _Data) -> None:
        self._data = data
        self._rows: dict[int, dict[int, Contact]] = {}

    def put(self, owner_id: int, contact_id: int, first_name: str, last_name: str) -> Contact:
        with self._data.tx() as d:
            d.require_account(owner_id)
            d.require_account(contact_id)
            contact = Contact(owner_id, contact_id, first_name, last_name)
            self._rows.setdefault(owner_id, {})[contact_id] = contact
            return contact

    def delete(self, owner_id: int, contact_ids: list[int]) -> list[int]:
        with self._data.tx():
            book = self._rows.get(owner_id, {})
            return [i for i in dict.fromkeys(contact_ids) if book.pop(i, None) is not None]

    def list(self, owner_id: int) -> list[Contact]:
        with self._data.tx() as d:
            if owner_id not in d.accounts:
                return []
            book = self._rows.get(owner_id, {})
            return [book[i] for i in sorted(book) if i in d.accounts]


# -- SQLite -----------------------------------------------------------------------------------


class SqliteDialogs:
    def __init__(self, db: _Db) -> None:
        self._db = db

    def tops(self, owner_id: int) -> list[tuple[PeerRef, int]]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT peer_kind, peer_id, max(box_id) AS top FROM message_boxes "
                "WHERE owner_id = ? GROUP BY peer_kind, peer_id ORDER BY top DESC",
                (owner_id,),
            ).fetchall()
        return [(PeerRef(PeerKind(kind), peer_id), top) for kind, peer_id, top in rows]

    def unread(self, owner_id: int, peer: PeerRef, after_id: int) -> int:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT count(*) FROM message_boxes WHERE owner_id = ? AND peer_kind = ? "
                "AND peer_id = ? AND box_id > ? AND out = 0",
                (owner_id, peer.kind.value, peer.id, after_id),
            ).fetchone()
        return int(row[0])

    def read_state(self, owner_id: int, peer: PeerRef) -> ReadState:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT inbox_max, outbox_max FROM dialog_reads "
                "WHERE owner_id = ? AND peer_kind = ? AND peer_id = ?",
                (owner_id, peer.kind.value, peer.id),
            ).fetchone()
        return ReadState() if row is None else ReadState(row[0], row[1])

    def mark_read(
        self, owner_id: int, peer: PeerRef, *, inbox_max: int = 0, outbox_max: int = 0
    ) -> ReadState:
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (owner_id,)).fetchone() is None:
                raise AccountNotFound(owner_id)
            row = conn.execute(
                "INSERT INTO dialog_reads (owner_id, peer_kind, peer_id, inbox_max, outbox_max) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (owner_id, peer_kind, peer_id) DO UPDATE SET "
                # Qualified: PostgreSQL reads a bare name here as ambiguous with excluded.
                "inbox_max = max(dialog_reads.inbox_max, excluded.inbox_max), "
                "outbox_max = max(dialog_reads.outbox_max, excluded.outbox_max) "
                "RETURNING inbox_max, outbox_max",
                (owner_id, peer.kind.value, peer.id, inbox_max, outbox_max),
            ).fetchone()
        return ReadState(row[0], row[1])


class SqliteContacts:
    def __init__(self, db: _Db) -> None:
        self._db = db

    def put(self, owner_id: int, contact_id: int, first_name: str, last_name: str) -> Contact:
        with self._db.write() as conn:
            for account_id in (owner_id, contact_id):
                found = conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,))
                if found.fetchone() is None:
                    raise AccountNotFound(account_id)
            conn.execute(
                "INSERT OR REPLACE INTO contacts (owner_id, contact_id, first_name, last_name) "
                "VALUES (?, ?, ?, ?)",
                (owner_id, contact_id, first_name, last_name),
            )
        return Contact(owner_id, contact_id, first_name, last_name)

    def delete(self, owner_id: int, contact_ids: list[int]) -> list[int]:
        gone: list[int] = []
        with self._db.write() as conn:
            for contact_id in dict.fromkeys(contact_ids):
                cur = conn.execute(
                    "DELETE FROM contacts WHERE owner_id = ? AND contact_id = ?",
                    (owner_id, contact_id),
                )
                if cur.rowcount:
                    gone.append(contact_id)
        return gone

    def list(self, owner_id: int) -> list[Contact]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT contact_id, first_name, last_name FROM contacts WHERE owner_id = ? "
                "ORDER BY contact_id",
                (owner_id,),
            ).fetchall()
        return [Contact(owner_id, r[0], r[1], r[2]) for r in rows]


__all__ = [
    "MIGRATION_SQL",
    "Contact",
    "ContactRepository",
    "DialogRepository",
    "MemoryContacts",
    "MemoryDialogs",
    "ReadState",
    "SqliteContacts",
    "SqliteDialogs",
]
