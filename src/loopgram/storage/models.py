"""Storage layer: the records the repositories store and return.

Plain frozen dataclasses, independent of any backend. TL objects (reply markups, message
entities, media, update bodies) are stored as their serialised bytes: the storage never needs
to look inside them, and the server owns the object model and its per-layer conversions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from loopgram import tl

if TYPE_CHECKING:
    from loopgram.tl.abcs import ReplyMarkup

FIRST_ACCOUNT_ID: Final = 1_000_000_000
"""The first account id handed out. Ten digits look like a real Telegram user id, and staying
below 2**31 keeps the ids valid for clients or layers that still treat user ids as int32."""

AUTH_KEY_SIZE: Final = 256

# Well-known keys of the settings table.
RSA_PRIVATE_KEY_PEM: Final = "server.rsa_private_key_pem"
CHAT_INSTANCE_SECRET: Final = "server.chat_instance_secret"


class PeerKind(StrEnum):
    """What a box's peer is: a private chat with a user, or a basic group. ``CHANNEL``
    names a supergroup or channel, whose messages are not in boxes
    (``loopgram.storage.channels``): it is never stored in a box."""

    USER = "user"
    CHAT = "chat"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class PeerRef:
    """A chat as seen from one account: the other user, or the group."""

    kind: PeerKind
    id: int

    @classmethod
    def user(cls, user_id: int) -> PeerRef:
        return cls(PeerKind.USER, user_id)

    @classmethod
    def chat(cls, chat_id: int) -> PeerRef:
        return cls(PeerKind.CHAT, chat_id)


@dataclass(frozen=True, slots=True)
class AuthKeyRecord:
    """An auth key created by a key exchange; it outlives connections and restarts."""

    id: int
    """The auth key id: the low 64 bits of SHA1(key), as a signed int64."""
    key: bytes
    created_at: int
    account_id: int | None = None
    """The account logged in with this key; ``None`` before login and after logout."""
    layer: int | None = None
    """The API layer the client announced with ``invokeWithLayer``."""
    expires_at: int | None = None
    """Set for temporary (PFS) keys only."""

    @property
    def is_temporary(self) -> bool:
        return self.expires_at is not None


@dataclass(frozen=True, slots=True)
class ServerSalt:
    salt: int
    valid_since: int
    valid_until: int


@dataclass(frozen=True, slots=True)
class SessionState:
    """The server-side part of an MTProto session that must survive a restart."""

    auth_key_id: int
    session_id: int
    last_msg_id: int = 0
    """High-water mark of client msg_ids seen, so replays are refused after a restart."""
    out_seqno: int = 0
    """Content-related messages the server has sent; the next seqno continues from it."""
    salts: tuple[ServerSalt, ...] = ()
    """The current salt and the future salts, ordered by ``valid_since``."""


@dataclass(frozen=True, slots=True)
class UnackedMessage:
    """An outgoing message the client has not acknowledged yet; resent after a reconnect."""

    msg_id: int
    seqno: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Account:
    """A user or a bot. The bot token's secret is deliberately not part of the record."""

    id: int
    access_hash: int
    is_bot: bool
    first_name: str
    last_name: str | None
    username: str | None
    phone: str | None
    created_at: int
    bot_inline_placeholder: str | None = None
    bot_info_version: int | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One account's copy of a message: the shared message plus the box row.

    ``id`` is the message id in ``owner_id``'s box (per-account, sequential from 1); the same
    message has another id in the other participant's box. ``peer`` is the chat as seen by
    the owner: for a private chat it is the other participant.
    """

    owner_id: int
    id: int
    global_id: int
    sender_id: int
    peer: PeerRef
    out: bool
    date: int
    edit_date: int | None
    text: str
    entities: bytes | None
    """A serialised ``Vector<MessageEntity>``."""
    reply_markup: bytes | None
    """A serialised ``ReplyMarkup``; ``markup()`` parses it."""
    media: bytes | None
    """A serialised ``MessageMedia``."""
    extra: bytes | None
    """Anything else the server wants to keep with the message (via_bot, ...), opaque."""
    pts: int
    """The owner's pts of the last update that created or edited this copy."""
    reply_to: int | None = None
    """The box id, in the owner's box, of the message this one replies to (``None``: not a
    reply, or the owner no longer has that message)."""

    def markup(self) -> ReplyMarkup | None:
        """The reply markup as a TL object (parsed on every call; keep the result)."""
        if self.reply_markup is None:
            return None
        markup: ReplyMarkup = tl.read(self.reply_markup)
        return markup


@dataclass(frozen=True, slots=True)
class DeletedMessages:
    """Messages removed from one account's box by one delete, and the pts it took."""

    owner_id: int
    ids: tuple[int, ...]
    pts: int
    pts_count: int


@dataclass(frozen=True, slots=True)
class StoredUpdate:
    """An entry of an account's update log: what ``updates.getDifference`` replays."""

    account_id: int
    pts: int
    pts_count: int
    date: int
    body: bytes
    """The serialised TL ``Update``."""


@dataclass(frozen=True, slots=True)
class UpdateState:
    """An account's update counters, as ``updates.getState`` reports them."""

    pts: int = 0
    qts: int = 0
    seq: int = 0
    date: int = 0
    """Date of the last update that moved ``pts`` (0 before the first one)."""


@dataclass(frozen=True, slots=True)
class InlineMessage:
    """A message sent via a bot in inline mode, addressed by its opaque inline message id."""

    id: bytes
    bot_id: int
    text: str
    entities: bytes | None
    reply_markup: bytes | None
    date: int
    edit_date: int | None = None

    def markup(self) -> ReplyMarkup | None:
        if self.reply_markup is None:
            return None
        markup: ReplyMarkup = tl.read(self.reply_markup)
        return markup


MessageRenderer = Callable[[StoredMessage], bytes]
"""Builds the serialised ``Update`` (updateNewMessage / updateEditMessage) for one box copy.

The storage calls it inside the write transaction, once the box id and pts are known, and
stores the result in the owner's update log; so the log can never miss a message write.
"""

DeletionRenderer = Callable[[DeletedMessages], bytes]
"""Builds the serialised ``updateDeleteMessages`` for one account's deletion."""

PtsRenderer = Callable[[int, int], bytes]
"""``(pts, pts_count) -> serialised Update``, for updates not tied to a message write."""
