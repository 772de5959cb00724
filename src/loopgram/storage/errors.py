"""Storage layer: the errors every backend raises.

Backends translate their driver's failures into this family so that the server never has to
know whether it runs on memory, SQLite or (later) PostgreSQL. Lookups of something absent
return ``None``; mutations of something absent raise a ``NotFound`` subclass; uniqueness
violations raise a ``Conflict`` subclass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopgram import LoopgramError

if TYPE_CHECKING:
    from loopgram.storage.models import StoredMessage


class StorageError(LoopgramError):
    """Base class of every error a storage backend raises."""


class StorageClosed(StorageError):
    """The storage was used after ``close()``."""


class StorageBusy(StorageError):
    """Another process held the database lock for longer than the busy timeout."""


class SchemaError(StorageError):
    """The database schema is not one this version of loopgram can use.

    Raised at open when the database records migrations this code does not know (it was
    created by a newer loopgram) or records them under different names (not a loopgram
    database, or a diverged one), and when a migration step fails.
    """


class ValueTooLarge(StorageError):
    """A value is larger than the storage keeps (``MAX_VALUE_BYTES``, or the backend's own
    limit, such as SQLite's ``string or blob too big``); nothing was written."""


class Conflict(StorageError):
    """A write would break a uniqueness rule."""


class RandomIdTaken(Conflict):
    """The sender already sent a message with this ``random_id``; nothing was written.

    ``existing`` is the sender's copy of that message, which a repeated send answers with.
    """

    def __init__(self, sender_id: int, random_id: int, existing: StoredMessage) -> None:
        self.sender_id = sender_id
        self.random_id = random_id
        self.existing = existing
        super().__init__(f"account {sender_id} already sent random_id {random_id}")


class UsernameTaken(Conflict):
    """Another account already has this username (compared case-insensitively)."""

    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__(f"username {username!r} is taken")


class PhoneTaken(Conflict):
    """Another account already has this phone number."""

    def __init__(self, phone: str) -> None:
        self.phone = phone
        super().__init__(f"phone {phone!r} is taken")


class AuthKeyExists(Conflict):
    """An auth key with this id is already stored."""

    def __init__(self, key_id: int) -> None:
        self.key_id = key_id
        super().__init__(f"auth key {key_id} already exists")


class InlineMessageExists(Conflict):
    """An inline message with this id is already stored."""


class NotFound(StorageError):
    """A mutation names a row that does not exist."""


class AccountNotFound(NotFound):
    """No account has this id."""

    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        super().__init__(f"account {account_id} not found")


class AuthKeyNotFound(NotFound):
    """No auth key has this id."""

    def __init__(self, key_id: int) -> None:
        self.key_id = key_id
        super().__init__(f"auth key {key_id} not found")


class SessionNotFound(NotFound):
    """No session is stored for this (auth key id, session id)."""

    def __init__(self, auth_key_id: int, session_id: int) -> None:
        self.auth_key_id = auth_key_id
        self.session_id = session_id
        super().__init__(f"session {session_id} of auth key {auth_key_id} not found")


class MessageNotFound(NotFound):
    """The account's box holds no message with this id."""

    def __init__(self, owner_id: int, msg_id: int) -> None:
        self.owner_id = owner_id
        self.msg_id = msg_id
        super().__init__(f"message {msg_id} not found in the box of account {owner_id}")


class InlineMessageNotFound(NotFound):
    """No inline message has this id."""
