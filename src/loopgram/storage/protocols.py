"""Storage layer: the repository protocols every backend implements.

The server programs against these protocols only. Each method is one transaction: it either
happens completely or not at all, and it is visible to every other ``Storage`` opened on the
same data once it returns. Lookups of absent rows return ``None``; mutations of absent rows
raise a ``NotFound`` subclass; uniqueness violations raise a ``Conflict`` subclass; malformed
arguments (a 255-byte key, an id outside int64) raise ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Protocol

from loopgram.storage._common import UNSET, Unset
from loopgram.storage.bot_commands import BotCommandRepository
from loopgram.storage.bot_updates import BotUpdateRepository
from loopgram.storage.channels import ChannelRepository
from loopgram.storage.chats import ChatRepository
from loopgram.storage.dialogs import ContactRepository, DialogRepository
from loopgram.storage.models import (
    Account,
    AuthKeyRecord,
    DeletedMessages,
    DeletionRenderer,
    InlineMessage,
    MessageRenderer,
    PeerRef,
    PtsRenderer,
    SessionState,
    StoredMessage,
    StoredUpdate,
    UnackedMessage,
    UpdateState,
)


class SettingsRepository(Protocol):
    """Small server facts as bytes: the RSA private key PEM, the chat_instance secret, ..."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes) -> None: ...

    def setdefault(self, key: str, value: bytes) -> bytes:
        """Store ``value`` unless ``key`` is set; return what is stored.

        Two processes starting at once (server and CLI) converge on one value this way.
        """
        ...

    def delete(self, key: str) -> None: ...

    def items(self) -> dict[str, bytes]: ...


class AuthKeyRepository(Protocol):
    def put(self, key_id: int, key: bytes, *, expires_at: int | None = None) -> AuthKeyRecord:
        """Store a new key (``created_at`` from the storage clock); ``AuthKeyExists`` if taken."""
        ...

    def get(self, key_id: int) -> AuthKeyRecord | None: ...

    def bind_account(self, key_id: int, account_id: int | None) -> AuthKeyRecord:
        """Log the key in as ``account_id`` (``None``: log out)."""
        ...

    def set_layer(self, key_id: int, layer: int | None) -> AuthKeyRecord: ...

    def delete(self, key_id: int) -> bool:
        """Delete the key and its sessions; ``False`` if there was none."""
        ...

    def for_account(self, account_id: int) -> list[AuthKeyRecord]:
        """Keys logged in as the account, oldest first."""
        ...

    def delete_expired(self, now: int) -> int:
        """Delete temporary keys with ``expires_at <= now``; return how many."""
        ...


class SessionRepository(Protocol):
    def load(self, auth_key_id: int, session_id: int) -> SessionState | None: ...

    def save(self, state: SessionState) -> None:
        """Insert or replace the session; ``AuthKeyNotFound`` if its key is gone."""
        ...

    def delete(self, auth_key_id: int, session_id: int) -> bool:
        """``destroy_session``: drop the state and its unacknowledged messages."""
        ...

    def session_ids(self, auth_key_id: int) -> list[int]: ...

    def add_unacked(
        self, auth_key_id: int, session_id: int, messages: Iterable[UnackedMessage]
    ) -> None:
        """Remember sent messages until acknowledged (a repeated msg_id replaces the old)."""
        ...

    def remove_unacked(self, auth_key_id: int, session_id: int, msg_ids: Iterable[int]) -> int:
        """Forget acknowledged messages; unknown ids are ignored. Returns how many went."""
        ...

    def unacked(self, auth_key_id: int, session_id: int) -> list[UnackedMessage]:
        """Unacknowledged messages by ascending msg_id."""
        ...


class AccountRepository(Protocol):
    def create_user(self, phone: str, first_name: str, last_name: str | None = None) -> Account:
        """A new user with the next account id and a random access_hash; ``PhoneTaken``."""
        ...

    def create_bot(self, username: str, first_name: str, secret: str) -> Account:
        """A new bot; its token is ``f"{account.id}:{secret}"``; ``UsernameTaken``."""
        ...

    def get(self, account_id: int) -> Account | None: ...

    def get_many(self, account_ids: Iterable[int]) -> list[Account]:
        """Found accounts in the order asked, missing ones skipped."""
        ...

    def get_by_phone(self, phone: str) -> Account | None: ...

    def get_by_username(self, username: str) -> Account | None:
        """Case-insensitive."""
        ...

    def get_by_bot_token(self, token: str) -> Account | None:
        """The bot whose token this is; ``None`` for a malformed or wrong token."""
        ...

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
        """Change the given fields (``UNSET`` leaves one alone, ``None`` clears it)."""
        ...

    def set_bot_secret(self, bot_id: int, secret: str) -> None:
        """Replace a bot's token secret (the old token stops working)."""
        ...

    def list_all(self, *, is_bot: bool | None = None) -> list[Account]:
        """Every account (or only bots / only users) by ascending id."""
        ...


class MessageRepository(Protocol):
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
        """Store a message and deliver it into every participant's box, atomically.

        ``peer`` is the destination as the sender sees it. A private message gets a copy in
        the sender's box (``out``) and the recipient's; a group message (``peer`` a chat)
        one in each of ``member_ids``, which must include the sender. Each copy takes the
        owner's next box id and next pts (pts_count 1) and logs ``render_update(copy)``.
        ``date`` defaults to the storage clock. Returns the copies, sender's first.

        With a ``random_id``, a sender's second message with the same id stores nothing
        and raises ``RandomIdTaken`` holding the sender's copy of the first, checked in the
        same transaction as the write (once the sender's copy is deleted the id is free
        again). A text or blob beyond ``MAX_VALUE_BYTES`` raises ``ValueTooLarge``.

        ``reply_to_id`` is the ``global_id`` of the message replied to: each copy's
        ``reply_to`` is that message's id in the copy owner's box, read whenever a copy is
        (``None`` once the owner no longer has it).
        """
        ...

    def get(self, owner_id: int, msg_id: int) -> StoredMessage | None: ...

    def get_many(self, owner_id: int, msg_ids: Iterable[int]) -> list[StoredMessage]:
        """Found copies in the order asked, missing ones skipped."""
        ...

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
        """``messages.getHistory`` semantics: newest first, ids below ``offset_id`` (0: all)
        shifted by ``add_offset``; ``max_id``/``min_id`` (0: unbounded) are exclusive."""
        ...

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
        """Edit the message behind one copy; every box holding it takes its next pts and
        logs ``render_update(copy)``. ``edit_date`` defaults to the clock. Returns every
        copy, the edited box's first; ``MessageNotFound``."""
        ...

    def delete(
        self,
        owner_id: int,
        msg_ids: Iterable[int],
        *,
        revoke: bool,
        render_update: DeletionRenderer,
        date: int | None = None,
    ) -> list[tuple[DeletedMessages, StoredUpdate]]:
        """Delete from the owner's box (and with ``revoke`` every other copy too). Each
        account that lost messages takes pts_count = how many. Unknown ids are ignored."""
        ...


class UpdateRepository(Protocol):
    def state(self, account_id: int) -> UpdateState:
        """``AccountNotFound`` for an unknown account."""
        ...

    def append(
        self, account_id: int, *, pts_count: int, render: PtsRenderer, date: int | None = None
    ) -> StoredUpdate:
        """Take the next ``pts_count`` pts and log ``render(pts, pts_count)`` atomically
        (message writes do this themselves)."""
        ...

    def since(self, account_id: int, pts: int, limit: int = 100) -> list[StoredUpdate]:
        """Logged updates with pts above ``pts``, ascending: what getDifference returns."""
        ...

    def trim(self, account_id: int, up_to_pts: int) -> int:
        """Forget log entries with pts <= ``up_to_pts``; return how many."""
        ...


class InlineMessageRepository(Protocol):
    def put(self, message: InlineMessage) -> None:
        """``InlineMessageExists`` if the id is taken; ``AccountNotFound`` for the bot."""
        ...

    def get(self, inline_message_id: bytes) -> InlineMessage | None: ...

    def edit(
        self,
        inline_message_id: bytes,
        *,
        text: str | Unset = UNSET,
        entities: bytes | Unset | None = UNSET,
        reply_markup: bytes | Unset | None = UNSET,
        edit_date: int | None = None,
    ) -> InlineMessage: ...

    def delete(self, inline_message_id: bytes) -> bool: ...


class Storage(Protocol):
    """One opened store: its repositories, and ``close()``."""

    @property
    def settings(self) -> SettingsRepository: ...

    @property
    def auth_keys(self) -> AuthKeyRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def accounts(self) -> AccountRepository: ...

    @property
    def messages(self) -> MessageRepository: ...

    @property
    def updates(self) -> UpdateRepository: ...

    @property
    def inline_messages(self) -> InlineMessageRepository: ...

    @property
    def bot_updates(self) -> BotUpdateRepository:
        """The Bot API's per-bot update queues (``loopgram.storage.bot_updates``)."""
        ...

    @property
    def bot_commands(self) -> BotCommandRepository:
        """Bots' command lists per scope and language (``loopgram.storage.bot_commands``)."""
        ...

    @property
    def dialogs(self) -> DialogRepository:
        """Dialog tops, unread counts and read marks (``loopgram.storage.dialogs``)."""
        ...

    @property
    def contacts(self) -> ContactRepository:
        """Accounts' address books (``loopgram.storage.dialogs``)."""
        ...

    @property
    def chats(self) -> ChatRepository:
        """Basic groups, their members and bots' privacy mode (``loopgram.storage.chats``)."""
        ...

    @property
    def channels(self) -> ChannelRepository:
        """Supergroups and channels, their members, messages and update logs
        (``loopgram.storage.channels``)."""
        ...

    def reading(self) -> AbstractContextManager[None]:
        """A scope for the reads of one short synchronous step: a backend that caches
        rows may check them against other writers once per scope rather than at every
        read. Writes inside are seen at once, as anywhere."""
        ...

    def close(self) -> None:
        """Release the backend; using the storage afterwards raises ``StorageClosed``."""
        ...

    def __enter__(self) -> Storage: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
