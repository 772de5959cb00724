"""Storage layer: supergroups and broadcast channels -- the channel rows, their participants,
their messages and their update log.

Unlike a basic group, a channel keeps one copy of each message: ids count per channel
(1, 2, 3, ...) and every change (new message, edit, deletion) takes the channel's next pts
and is logged under it, so ``updates.getChannelDifference`` replays the same log for every
member. A participant row carries the member's role (creator, admin, member, or banned: a
banned user keeps its row so it cannot rejoin) and its read mark, from which unread counts
follow, and its catch-up mark (the channel pts up to which ``updates.getDifference`` told
it, version 8). Both backends sit beside the SQLite steps (``loopgram.storage.migrations``,
versions 7 and 8), as ``loopgram.storage.chats`` does for version 5.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Protocol

from loopgram.storage import _common as c
from loopgram.storage._common import UNSET, Unset
from loopgram.storage.errors import (
    AccountNotFound,
    Conflict,
    MessageNotFound,
    NotFound,
    UsernameTaken,
)

if TYPE_CHECKING:
    from loopgram.storage.memory import _Data
    from loopgram.storage.sqlite import _Db

MIGRATION_NAME: Final = "supergroups and channels"

MIGRATION_SQL: Final = """
CREATE TABLE channels (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    title           TEXT    NOT NULL,
    about           TEXT    NOT NULL DEFAULT '',
    megagroup       INTEGER NOT NULL CHECK (megagroup IN (0, 1)),
    creator_id      INTEGER NOT NULL REFERENCES accounts (id),
    date            INTEGER NOT NULL,
    username        TEXT,
    -- lower(username), as for accounts.
    username_key    TEXT UNIQUE,
    migrated_from   INTEGER,
    pts             INTEGER NOT NULL DEFAULT 0,
    last_message_id INTEGER NOT NULL DEFAULT 0,
    CHECK ((username IS NULL) = (username_key IS NULL))
);

CREATE TABLE channel_participants (
    channel_id  INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    inviter_id  INTEGER NOT NULL,
    date        INTEGER NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('creator', 'admin', 'member', 'banned')),
    -- A serialised chatAdminRights for an admin, opaque here.
    rights      BLOB,
    read_max_id INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, user_id)
) WITHOUT ROWID;
CREATE INDEX channel_participants_by_user ON channel_participants (user_id);

CREATE TABLE channel_messages (
    channel_id   INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    id           INTEGER NOT NULL,
    sender_id    INTEGER NOT NULL,
    date         INTEGER NOT NULL,
    edit_date    INTEGER,
    text         TEXT    NOT NULL,
    entities     BLOB,
    reply_markup BLOB,
    media        BLOB,
    extra        BLOB,
    pts          INTEGER NOT NULL,
    PRIMARY KEY (channel_id, id)
) WITHOUT ROWID;

CREATE TABLE channel_random_ids (
    channel_id INTEGER NOT NULL,
    sender_id  INTEGER NOT NULL,
    random_id  INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (channel_id, sender_id, random_id),
    FOREIGN KEY (channel_id, message_id)
        REFERENCES channel_messages (channel_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX channel_random_ids_by_message ON channel_random_ids (channel_id, message_id);

CREATE TABLE channel_updates (
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    pts        INTEGER NOT NULL,
    pts_count  INTEGER NOT NULL,
    date       INTEGER NOT NULL,
    body       BLOB    NOT NULL,
    PRIMARY KEY (channel_id, pts)
) WITHOUT ROWID;
"""
"""The channels part of the SQLite step (``loopgram.storage.migrations`` version 7)."""

CAUGHT_UP_NAME: Final = "channel catch-up marks"

CAUGHT_UP_SQL: Final = """
-- The channel pts up to which updates.getDifference has told this member of the channel
-- (version 8): a member joins caught up with the channel as it is.
ALTER TABLE channel_participants ADD COLUMN caught_up_pts INTEGER NOT NULL DEFAULT 0;
UPDATE channel_participants
    SET caught_up_pts = (SELECT pts FROM channels WHERE channels.id = channel_id);
"""
"""``loopgram.storage.migrations`` version 8."""

FIRST_CHANNEL_ID: Final = 1_700_000_001
"""Channel ids are a counter of their own, in the ten-digit range Telegram's have."""


class ChannelNotFound(NotFound):
    pass


class ChannelRandomIdTaken(Conflict):
    """The sender already posted with this ``random_id`` in the channel; nothing written."""

    def __init__(self, random_id: int, existing: ChannelMessage) -> None:
        self.random_id = random_id
        self.existing = existing
        super().__init__(f"random_id {random_id} already used in channel {existing.channel_id}")


class ChannelRole(StrEnum):
    CREATOR = "creator"
    ADMIN = "admin"
    MEMBER = "member"
    BANNED = "banned"
    """Removed by an admin: not a member, and kept out until unbanned."""


_PRESENT: Final = (ChannelRole.CREATOR, ChannelRole.ADMIN, ChannelRole.MEMBER)


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    id: int
    title: str
    about: str
    megagroup: bool
    """A supergroup (every member writes) rather than a broadcast channel (admins post)."""
    creator_id: int
    date: int
    username: str | None = None
    migrated_from: int | None = None
    """The basic group this supergroup was made from (``messages.migrateChat``)."""
    pts: int = 0
    last_message_id: int = 0
    """The highest message id handed out (ids are never reused after a deletion)."""


@dataclass(frozen=True, slots=True)
class ChannelMember:
    channel_id: int
    user_id: int
    inviter_id: int
    date: int
    role: ChannelRole
    rights: bytes | None = None
    read_max_id: int = 0
    caught_up_pts: int = 0
    """The channel pts up to which ``updates.getDifference`` has told the member; a new
    member starts at the channel's pts of when it joined."""

    @property
    def present(self) -> bool:
        """A member now (not banned)."""
        return self.role is not ChannelRole.BANNED

    @property
    def is_admin(self) -> bool:
        return self.role in (ChannelRole.CREATOR, ChannelRole.ADMIN)


@dataclass(frozen=True, slots=True)
class ChannelMessage:
    """The one copy of a channel message; ``id`` counts per channel."""

    channel_id: int
    id: int
    sender_id: int
    date: int
    edit_date: int | None
    text: str
    entities: bytes | None
    reply_markup: bytes | None
    media: bytes | None
    extra: bytes | None
    pts: int
    """The channel's pts of the last update that created or edited the message."""


@dataclass(frozen=True, slots=True)
class ChannelUpdate:
    """An entry of a channel's update log (what ``updates.getChannelDifference`` replays)."""

    channel_id: int
    pts: int
    pts_count: int
    date: int
    body: bytes


ChannelMessageRenderer = Callable[[ChannelMessage], bytes]
"""Builds the serialised update (new or edited channel message) inside the write."""

ChannelDeletionRenderer = Callable[[tuple[int, ...], int, int], bytes]
"""``(ids, pts, pts_count) -> serialised updateDeleteChannelMessages``."""


class ChannelRepository(Protocol):
    def create(
        self,
        creator_id: int,
        title: str,
        *,
        about: str,
        megagroup: bool,
        date: int,
        migrated_from: int | None = None,
    ) -> ChannelRecord:
        """A new channel with its creator as the only participant; ``AccountNotFound``."""
        ...

    def get(self, channel_id: int) -> ChannelRecord | None: ...

    def get_many(self, channel_ids: Iterable[int]) -> list[ChannelRecord]:
        """Found channels in the order asked (each once), missing ones skipped."""
        ...

    def get_by_username(self, username: str) -> ChannelRecord | None:
        """Case-insensitive."""
        ...

    def migrated_from(self, chat_id: int) -> ChannelRecord | None:
        """The supergroup basic group ``chat_id`` became, if it did."""
        ...

    def update(
        self,
        channel_id: int,
        *,
        title: str | Unset = UNSET,
        about: str | Unset = UNSET,
        username: str | Unset | None = UNSET,
    ) -> ChannelRecord:
        """Change the given fields; ``UsernameTaken`` if another channel has the username,
        ``ChannelNotFound``."""
        ...

    def members(
        self, channel_id: int, roles: Iterable[ChannelRole] | None = None
    ) -> list[ChannelMember]:
        """Participants with one of ``roles`` (default: every present member), by join
        order (date, then user id)."""
        ...

    def member(self, channel_id: int, user_id: int) -> ChannelMember | None:
        """The user's row, banned or present; ``None`` if it never joined or left."""
        ...

    def count(self, channel_id: int) -> int:
        """How many present members."""
        ...

    def put_member(
        self,
        channel_id: int,
        user_id: int,
        *,
        role: ChannelRole,
        inviter_id: int,
        date: int,
        rights: bytes | None = None,
    ) -> ChannelMember:
        """Insert or replace the user's row (its read mark and catch-up mark are kept; a
        new row is caught up with the channel's pts); ``ChannelNotFound``,
        ``AccountNotFound``."""
        ...

    def set_caught_up(self, channel_id: int, user_id: int, pts: int) -> None:
        """Move the member's catch-up mark up to ``pts`` (never down); nothing for a
        non-member."""
        ...

    def remove_member(self, channel_id: int, user_id: int) -> bool:
        """Forget the user's row (leaving); ``False`` if there was none."""
        ...

    def channels_of(self, user_id: int) -> list[int]:
        """Ids of the channels the account is a present member of, ascending."""
        ...

    def post(
        self,
        channel_id: int,
        *,
        sender_id: int,
        text: str,
        render_update: ChannelMessageRenderer,
        entities: bytes | None = None,
        reply_markup: bytes | None = None,
        media: bytes | None = None,
        extra: bytes | None = None,
        date: int | None = None,
        random_id: int | None = None,
    ) -> tuple[ChannelMessage, ChannelUpdate]:
        """Store a message under the channel's next id and next pts and log its update.
        A sender's second post with the same ``random_id`` raises ``ChannelRandomIdTaken``;
        ``ChannelNotFound``; ``ValueTooLarge``."""
        ...

    def message(self, channel_id: int, msg_id: int) -> ChannelMessage | None: ...

    def messages(self, channel_id: int, msg_ids: Iterable[int]) -> list[ChannelMessage]:
        """Found messages in the order asked, missing ones skipped."""
        ...

    def history(
        self,
        channel_id: int,
        *,
        offset_id: int = 0,
        add_offset: int = 0,
        limit: int = 100,
        max_id: int = 0,
        min_id: int = 0,
    ) -> list[ChannelMessage]:
        """``messages.getHistory`` semantics, as ``MessageRepository.history``."""
        ...

    def edit(
        self,
        channel_id: int,
        msg_id: int,
        *,
        render_update: ChannelMessageRenderer,
        text: str | Unset = UNSET,
        entities: bytes | Unset | None = UNSET,
        reply_markup: bytes | Unset | None = UNSET,
        media: bytes | Unset | None = UNSET,
        edit_date: int | None = None,
    ) -> tuple[ChannelMessage, ChannelUpdate]:
        """Edit the message under the channel's next pts; ``MessageNotFound``."""
        ...

    def delete(
        self,
        channel_id: int,
        msg_ids: Iterable[int],
        *,
        render_update: ChannelDeletionRenderer,
        date: int | None = None,
    ) -> tuple[tuple[int, ...], ChannelUpdate] | None:
        """Delete the messages that exist (one pts per message); ``None`` if none did."""
        ...

    def updates_since(self, channel_id: int, pts: int, limit: int = 100) -> list[ChannelUpdate]:
        """Logged updates with pts above ``pts``, ascending."""
        ...

    def trim_updates(self, channel_id: int, up_to_pts: int) -> int:
        """Forget log entries with pts <= ``up_to_pts``; return how many."""
        ...

    def mark_read(self, channel_id: int, user_id: int, max_id: int) -> int | None:
        """Move the member's read mark up to ``max_id`` (capped at the last message id);
        the new mark, or ``None`` when it did not move or the user is not a member."""
        ...

    def unread_count(self, channel_id: int, user_id: int) -> int:
        """Messages above the member's read mark that others sent."""
        ...

    def message_count(self, channel_id: int) -> int:
        """How many messages the channel holds (deleted ones not counted)."""
        ...


def _role(value: str) -> ChannelRole:
    return ChannelRole(value)


def _changes(
    text: str | Unset,
    entities: bytes | Unset | None,
    reply_markup: bytes | Unset | None,
    media: bytes | Unset | None,
) -> dict[str, Any]:
    """The fields an edit passes, as the record stores them."""
    changes: dict[str, Any] = {}
    if not isinstance(text, Unset):
        changes["text"] = text
    for name, blob in (("entities", entities), ("reply_markup", reply_markup), ("media", media)):
        if not isinstance(blob, Unset):
            changes[name] = c.opt_bytes(blob)
    return changes


def _check_message(text: str | Unset, *blobs: bytes | Unset | None) -> None:
    c.check_sizes(text, *blobs)


# -- memory -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _MemChannel:
    record: ChannelRecord
    members: dict[int, ChannelMember] = field(default_factory=dict)
    messages: dict[int, ChannelMessage] = field(default_factory=dict)
    log: list[ChannelUpdate] = field(default_factory=list)
    random_ids: dict[tuple[int, int], int] = field(default_factory=dict)


class MemoryChannels:
    def __init__(self, data: _Data) -> None:
        self._data = data
        self._channels: dict[int, _MemChannel] = {}
        self._by_username: dict[str, int] = {}
        self._next_id = FIRST_CHANNEL_ID

    def create(
        self,
        creator_id: int,
        title: str,
        *,
        about: str,
        megagroup: bool,
        date: int,
        migrated_from: int | None = None,
    ) -> ChannelRecord:
        with self._data.tx() as d:
            d.require_account(creator_id)
            record = ChannelRecord(
                self._next_id, title, about, megagroup, creator_id, date, None, migrated_from
            )
            self._next_id += 1
            channel = _MemChannel(record)
            channel.members[creator_id] = ChannelMember(
                record.id, creator_id, creator_id, date, ChannelRole.CREATOR
            )
            self._channels[record.id] = channel
            return record

    def get(self, channel_id: int) -> ChannelRecord | None:
        with self._data.tx():
            channel = self._channels.get(channel_id)
            return None if channel is None else channel.record

    def get_many(self, channel_ids: Iterable[int]) -> list[ChannelRecord]:
        with self._data.tx():
            return [
                self._channels[i].record for i in dict.fromkeys(channel_ids) if i in self._channels
            ]

    def get_by_username(self, username: str) -> ChannelRecord | None:
        with self._data.tx():
            found = self._by_username.get(c.username_key(username))
            return None if found is None else self._channels[found].record

    def migrated_from(self, chat_id: int) -> ChannelRecord | None:
        with self._data.tx():
            return next(
                (ch.record for ch in self._channels.values() if ch.record.migrated_from == chat_id),
                None,
            )

    def update(
        self,
        channel_id: int,
        *,
        title: str | Unset = UNSET,
        about: str | Unset = UNSET,
        username: str | Unset | None = UNSET,
    ) -> ChannelRecord:
        with self._data.tx():
            channel = self._require(channel_id)
            record = channel.record
            if not isinstance(title, Unset):
                record = replace(record, title=title)
            if not isinstance(about, Unset):
                record = replace(record, about=about)
            if not isinstance(username, Unset):
                if username is not None:
                    owner = self._by_username.get(c.username_key(username))
                    if owner is not None and owner != channel_id:
                        raise UsernameTaken(username)
                if record.username is not None:
                    self._by_username.pop(c.username_key(record.username), None)
                if username is not None:
                    self._by_username[c.username_key(username)] = channel_id
                record = replace(record, username=username)
            channel.record = record
            return record

    def members(
        self, channel_id: int, roles: Iterable[ChannelRole] | None = None
    ) -> list[ChannelMember]:
        wanted = set(_PRESENT if roles is None else roles)
        with self._data.tx() as d:
            channel = self._channels.get(channel_id)
            if channel is None:
                return []
            found = [
                m for m in channel.members.values() if m.role in wanted and m.user_id in d.accounts
            ]
            return sorted(found, key=lambda m: (m.date, m.user_id))

    def member(self, channel_id: int, user_id: int) -> ChannelMember | None:
        with self._data.tx():
            channel = self._channels.get(channel_id)
            return None if channel is None else channel.members.get(user_id)

    def count(self, channel_id: int) -> int:
        return len(self.members(channel_id))

    def put_member(
        self,
        channel_id: int,
        user_id: int,
        *,
        role: ChannelRole,
        inviter_id: int,
        date: int,
        rights: bytes | None = None,
    ) -> ChannelMember:
        with self._data.tx() as d:
            channel = self._require(channel_id)
            d.require_account(user_id)
            before = channel.members.get(user_id)
            member = ChannelMember(
                channel_id,
                user_id,
                inviter_id,
                date,
                role,
                None if rights is None else bytes(rights),
                0 if before is None else before.read_max_id,
                channel.record.pts if before is None else before.caught_up_pts,
            )
            channel.members[user_id] = member
            return member

    def set_caught_up(self, channel_id: int, user_id: int, pts: int) -> None:
        with self._data.tx():
            channel = self._channels.get(channel_id)
            member = None if channel is None else channel.members.get(user_id)
            if channel is not None and member is not None and member.caught_up_pts < pts:
                channel.members[user_id] = replace(member, caught_up_pts=pts)

    def remove_member(self, channel_id: int, user_id: int) -> bool:
        with self._data.tx():
            channel = self._channels.get(channel_id)
            return channel is not None and channel.members.pop(user_id, None) is not None

    def channels_of(self, user_id: int) -> list[int]:
        with self._data.tx():
            return sorted(
                i
                for i, ch in self._channels.items()
                if (m := ch.members.get(user_id)) is not None and m.present
            )

    def post(
        self,
        channel_id: int,
        *,
        sender_id: int,
        text: str,
        render_update: ChannelMessageRenderer,
        entities: bytes | None = None,
        reply_markup: bytes | None = None,
        media: bytes | None = None,
        extra: bytes | None = None,
        date: int | None = None,
        random_id: int | None = None,
    ) -> tuple[ChannelMessage, ChannelUpdate]:
        _check_message(text, entities, reply_markup, media, extra)
        with self._data.tx() as d:
            channel = self._require(channel_id)
            if random_id is not None:
                c.check_int64(random_id, "random_id")
                taken = channel.random_ids.get((sender_id, random_id))
                if taken is not None and taken in channel.messages:
                    raise ChannelRandomIdTaken(random_id, channel.messages[taken])
            when = d.now() if date is None else date
            record = channel.record
            msg = ChannelMessage(
                channel_id,
                record.last_message_id + 1,
                sender_id,
                when,
                None,
                text,
                c.opt_bytes(entities),
                c.opt_bytes(reply_markup),
                c.opt_bytes(media),
                c.opt_bytes(extra),
                record.pts + 1,
            )
            update = ChannelUpdate(channel_id, msg.pts, 1, when, render_update(msg))
            channel.messages[msg.id] = msg
            channel.log.append(update)
            channel.record = replace(record, pts=msg.pts, last_message_id=msg.id)
            if random_id is not None:
                channel.random_ids[(sender_id, random_id)] = msg.id
            return msg, update

    def message(self, channel_id: int, msg_id: int) -> ChannelMessage | None:
        with self._data.tx():
            channel = self._channels.get(channel_id)
            return None if channel is None else channel.messages.get(msg_id)

    def messages(self, channel_id: int, msg_ids: Iterable[int]) -> list[ChannelMessage]:
        with self._data.tx():
            channel = self._channels.get(channel_id)
            if channel is None:
                return []
            return [channel.messages[i] for i in msg_ids if i in channel.messages]

    def history(
        self,
        channel_id: int,
        *,
        offset_id: int = 0,
        add_offset: int = 0,
        limit: int = 100,
        max_id: int = 0,
        min_id: int = 0,
    ) -> list[ChannelMessage]:
        limit = c.check_limit(limit)
        with self._data.tx():
            channel = self._channels.get(channel_id)
            if channel is None:
                return []
            ids = sorted(
                (
                    i
                    for i in channel.messages
                    if (max_id <= 0 or i < max_id) and (min_id <= 0 or i > min_id)
                ),
                reverse=True,
            )
            newest_first = [channel.messages[i] for i in ids]
            return c.history_window(newest_first, ids, offset_id, add_offset, limit)

    def edit(
        self,
        channel_id: int,
        msg_id: int,
        *,
        render_update: ChannelMessageRenderer,
        text: str | Unset = UNSET,
        entities: bytes | Unset | None = UNSET,
        reply_markup: bytes | Unset | None = UNSET,
        media: bytes | Unset | None = UNSET,
        edit_date: int | None = None,
    ) -> tuple[ChannelMessage, ChannelUpdate]:
        _check_message(text, entities, reply_markup, media)
        with self._data.tx() as d:
            channel = self._require(channel_id)
            msg = channel.messages.get(msg_id)
            if msg is None:
                raise MessageNotFound(channel_id, msg_id)
            when = d.now() if edit_date is None else edit_date
            changes = _changes(text, entities, reply_markup, media)
            pts = channel.record.pts + 1
            msg = replace(msg, edit_date=when, pts=pts, **changes)
            update = ChannelUpdate(channel_id, pts, 1, when, render_update(msg))
            channel.messages[msg_id] = msg
            channel.log.append(update)
            channel.record = replace(channel.record, pts=pts)
            return msg, update

    def delete(
        self,
        channel_id: int,
        msg_ids: Iterable[int],
        *,
        render_update: ChannelDeletionRenderer,
        date: int | None = None,
    ) -> tuple[tuple[int, ...], ChannelUpdate] | None:
        with self._data.tx() as d:
            channel = self._require(channel_id)
            gone = tuple(i for i in dict.fromkeys(msg_ids) if i in channel.messages)
            if not gone:
                return None
            when = d.now() if date is None else date
            pts = channel.record.pts + len(gone)
            update = ChannelUpdate(
                channel_id, pts, len(gone), when, render_update(gone, pts, len(gone))
            )
            for i in gone:
                del channel.messages[i]
            channel.random_ids = {k: v for k, v in channel.random_ids.items() if v not in gone}
            channel.log.append(update)
            channel.record = replace(channel.record, pts=pts)
            return gone, update

    def updates_since(self, channel_id: int, pts: int, limit: int = 100) -> list[ChannelUpdate]:
        limit = c.check_limit(limit)
        with self._data.tx():
            channel = self._channels.get(channel_id)
            if channel is None:
                return []
            return [u for u in channel.log if u.pts > pts][:limit]

    def trim_updates(self, channel_id: int, up_to_pts: int) -> int:
        with self._data.tx():
            channel = self._channels.get(channel_id)
            if channel is None:
                return 0
            before = len(channel.log)
            channel.log = [u for u in channel.log if u.pts > up_to_pts]
            return before - len(channel.log)

    def mark_read(self, channel_id: int, user_id: int, max_id: int) -> int | None:
        with self._data.tx():
            channel = self._channels.get(channel_id)
            member = None if channel is None else channel.members.get(user_id)
            if channel is None or member is None or not member.present:
                return None
            mark = min(max_id, channel.record.last_message_id)
            if mark <= member.read_max_id:
                return None
            channel.members[user_id] = replace(member, read_max_id=mark)
            return mark

    def unread_count(self, channel_id: int, user_id: int) -> int:
        with self._data.tx():
            channel = self._channels.get(channel_id)
            member = None if channel is None else channel.members.get(user_id)
            if channel is None or member is None:
                return 0
            return sum(
                1
                for m in channel.messages.values()
                if m.id > member.read_max_id and m.sender_id != user_id
            )

    def message_count(self, channel_id: int) -> int:
        with self._data.tx():
            channel = self._channels.get(channel_id)
            return 0 if channel is None else len(channel.messages)

    def _require(self, channel_id: int) -> _MemChannel:
        channel = self._channels.get(channel_id)
        if channel is None:
            raise ChannelNotFound(channel_id)
        return channel


# -- SQLite -----------------------------------------------------------------------------------

_CHANNEL_COLUMNS: Final = (
    "id, title, about, megagroup, creator_id, date, username, migrated_from, pts, last_message_id"
)
_MEMBER_COLUMNS: Final = (
    "channel_id, user_id, inviter_id, date, role, rights, read_max_id, caught_up_pts"
)
_MESSAGE_COLUMNS: Final = (
    "channel_id, id, sender_id, date, edit_date, text, entities, reply_markup, media, extra, pts"
)


def _channel(row: Sequence[Any]) -> ChannelRecord:
    return ChannelRecord(
        row[0], row[1], row[2], bool(row[3]), row[4], row[5], row[6], row[7], row[8], row[9]
    )


def _member(row: Sequence[Any]) -> ChannelMember:
    return ChannelMember(
        row[0], row[1], row[2], row[3], _role(row[4]), c.opt_bytes(row[5]), row[6], row[7]
    )


def _message(row: Sequence[Any]) -> ChannelMessage:
    return ChannelMessage(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        c.opt_bytes(row[6]),
        c.opt_bytes(row[7]),
        c.opt_bytes(row[8]),
        c.opt_bytes(row[9]),
        row[10],
    )


def _update(row: Sequence[Any]) -> ChannelUpdate:
    return ChannelUpdate(row[0], row[1], row[2], row[3], bytes(row[4]))


class SqliteChannels:
    def __init__(self, db: _Db) -> None:
        self._db = db

    def create(
        self,
        creator_id: int,
        title: str,
        *,
        about: str,
        megagroup: bool,
        date: int,
        migrated_from: int | None = None,
    ) -> ChannelRecord:
        with self._db.write() as conn:
            self._require_account(conn, creator_id)
            columns = "title, about, megagroup, creator_id, date, migrated_from"
            values: tuple[Any, ...] = (
                title,
                about,
                int(megagroup),
                creator_id,
                date,
                migrated_from,
            )
            if conn.execute("SELECT 1 FROM channels LIMIT 1").fetchone() is None:
                # The first channel sets where the AUTOINCREMENT counter starts.
                columns = "id, " + columns
                values = (FIRST_CHANNEL_ID, *values)
            cur = conn.execute(
                f"INSERT INTO channels ({columns}) VALUES ({', '.join('?' * len(values))})",
                values,
            )
            channel_id = int(cur.lastrowid or 0)
            conn.execute(
                f"INSERT INTO channel_participants ({_MEMBER_COLUMNS}) "
                "VALUES (?, ?, ?, ?, 'creator', NULL, 0, 0)",
                (channel_id, creator_id, creator_id, date),
            )
            return self._require(conn, channel_id)

    def get(self, channel_id: int) -> ChannelRecord | None:
        # One SELECT reads one snapshot by itself (no BEGIN/COMMIT): the press path reads
        # the channel, the presser's and the bot's rows and the message on every press.
        row = self._db.one(f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE id = ?", (channel_id,))
        return None if row is None else _channel(row)

    def get_many(self, channel_ids: Iterable[int]) -> list[ChannelRecord]:
        wanted = list(dict.fromkeys(channel_ids))
        found: dict[int, ChannelRecord] = {}
        with self._db.read() as conn:
            for part in c.chunks(wanted):
                rows = conn.execute(
                    f"SELECT {_CHANNEL_COLUMNS} FROM channels "
                    f"WHERE id IN ({', '.join('?' * len(part))})",
                    tuple(part),
                ).fetchall()
                found.update((r[0], _channel(r)) for r in rows)
        return [found[i] for i in wanted if i in found]

    def get_by_username(self, username: str) -> ChannelRecord | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE username_key = ?",
                (c.username_key(username),),
            ).fetchone()
        return None if row is None else _channel(row)

    def migrated_from(self, chat_id: int) -> ChannelRecord | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE migrated_from = ? LIMIT 1",
                (chat_id,),
            ).fetchone()
        return None if row is None else _channel(row)

    def update(
        self,
        channel_id: int,
        *,
        title: str | Unset = UNSET,
        about: str | Unset = UNSET,
        username: str | Unset | None = UNSET,
    ) -> ChannelRecord:
        with self._db.write() as conn:
            self._require(conn, channel_id)
            if not isinstance(title, Unset):
                conn.execute("UPDATE channels SET title = ? WHERE id = ?", (title, channel_id))
            if not isinstance(about, Unset):
                conn.execute("UPDATE channels SET about = ? WHERE id = ?", (about, channel_id))
            if not isinstance(username, Unset):
                key = None if username is None else c.username_key(username)
                if key is not None:
                    owner = conn.execute(
                        "SELECT id FROM channels WHERE username_key = ?", (key,)
                    ).fetchone()
                    if owner is not None and owner[0] != channel_id:
                        raise UsernameTaken(str(username))
                conn.execute(
                    "UPDATE channels SET username = ?, username_key = ? WHERE id = ?",
                    (username, key, channel_id),
                )
            return self._require(conn, channel_id)

    def members(
        self, channel_id: int, roles: Iterable[ChannelRole] | None = None
    ) -> list[ChannelMember]:
        wanted = [r.value for r in (_PRESENT if roles is None else roles)]
        if not wanted:
            return []
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_MEMBER_COLUMNS} FROM channel_participants "
                f"WHERE channel_id = ? AND role IN ({', '.join('?' * len(wanted))}) "
                "ORDER BY date, user_id",
                (channel_id, *wanted),
            ).fetchall()
        return [_member(r) for r in rows]

    def member(self, channel_id: int, user_id: int) -> ChannelMember | None:
        row = self._db.one(
            f"SELECT {_MEMBER_COLUMNS} FROM channel_participants "
            "WHERE channel_id = ? AND user_id = ?",
            (channel_id, user_id),
        )
        return None if row is None else _member(row)

    def count(self, channel_id: int) -> int:
        row = self._db.one(
            "SELECT count(*) FROM channel_participants WHERE channel_id = ? AND role != 'banned'",
            (channel_id,),
        )
        return 0 if row is None else int(row[0])

    def put_member(
        self,
        channel_id: int,
        user_id: int,
        *,
        role: ChannelRole,
        inviter_id: int,
        date: int,
        rights: bytes | None = None,
    ) -> ChannelMember:
        with self._db.write() as conn:
            self._require(conn, channel_id)
            self._require_account(conn, user_id)
            conn.execute(
                f"INSERT INTO channel_participants ({_MEMBER_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, 0, (SELECT pts FROM channels WHERE id = ?)) "
                "ON CONFLICT (channel_id, user_id) DO UPDATE SET inviter_id = excluded.inviter_id, "
                "date = excluded.date, role = excluded.role, rights = excluded.rights",
                (
                    channel_id,
                    user_id,
                    inviter_id,
                    date,
                    role.value,
                    c.opt_bytes(rights),
                    channel_id,
                ),
            )
            row = conn.execute(
                f"SELECT {_MEMBER_COLUMNS} FROM channel_participants "
                "WHERE channel_id = ? AND user_id = ?",
                (channel_id, user_id),
            ).fetchone()
            return _member(row)

    def set_caught_up(self, channel_id: int, user_id: int, pts: int) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE channel_participants SET caught_up_pts = ? "
                "WHERE channel_id = ? AND user_id = ? AND caught_up_pts < ?",
                (pts, channel_id, user_id, pts),
            )

    def remove_member(self, channel_id: int, user_id: int) -> bool:
        with self._db.write() as conn:
            cur = conn.execute(
                "DELETE FROM channel_participants WHERE channel_id = ? AND user_id = ?",
                (channel_id, user_id),
            )
            return cur.rowcount > 0

    def channels_of(self, user_id: int) -> list[int]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT channel_id FROM channel_participants "
                "WHERE user_id = ? AND role != 'banned' ORDER BY channel_id",
                (user_id,),
            ).fetchall()
        return [r[0] for r in rows]

    def post(
        self,
        channel_id: int,
        *,
        sender_id: int,
        text: str,
        render_update: ChannelMessageRenderer,
        entities: bytes | None = None,
        reply_markup: bytes | None = None,
        media: bytes | None = None,
        extra: bytes | None = None,
        date: int | None = None,
        random_id: int | None = None,
    ) -> tuple[ChannelMessage, ChannelUpdate]:
        _check_message(text, entities, reply_markup, media, extra)
        if random_id is not None:
            c.check_int64(random_id, "random_id")
        with self._db.write() as conn:
            record = self._require(conn, channel_id)
            if random_id is not None:
                row = conn.execute(
                    f"SELECT {', '.join('m.' + x.strip() for x in _MESSAGE_COLUMNS.split(','))} "
                    "FROM channel_random_ids r JOIN channel_messages m "
                    "ON m.channel_id = r.channel_id AND m.id = r.message_id "
                    "WHERE r.channel_id = ? AND r.sender_id = ? AND r.random_id = ?",
                    (channel_id, sender_id, random_id),
                ).fetchone()
                if row is not None:
                    raise ChannelRandomIdTaken(random_id, _message(row))
            when = self._db.now() if date is None else date
            msg = ChannelMessage(
                channel_id,
                record.last_message_id + 1,
                sender_id,
                when,
                None,
                text,
                c.opt_bytes(entities),
                c.opt_bytes(reply_markup),
                c.opt_bytes(media),
                c.opt_bytes(extra),
                record.pts + 1,
            )
            update = ChannelUpdate(channel_id, msg.pts, 1, when, render_update(msg))
            conn.execute(
                f"INSERT INTO channel_messages ({_MESSAGE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    channel_id,
                    msg.id,
                    sender_id,
                    when,
                    None,
                    text,
                    msg.entities,
                    msg.reply_markup,
                    msg.media,
                    msg.extra,
                    msg.pts,
                ),
            )
            if random_id is not None:
                conn.execute(
                    "INSERT INTO channel_random_ids (channel_id, sender_id, random_id, message_id) "
                    "VALUES (?, ?, ?, ?)",
                    (channel_id, sender_id, random_id, msg.id),
                )
            self._log(conn, update)
            conn.execute(
                "UPDATE channels SET pts = ?, last_message_id = ? WHERE id = ?",
                (msg.pts, msg.id, channel_id),
            )
            return msg, update

    def message(self, channel_id: int, msg_id: int) -> ChannelMessage | None:
        row = self._db.one(
            f"SELECT {_MESSAGE_COLUMNS} FROM channel_messages WHERE channel_id = ? AND id = ?",
            (channel_id, msg_id),
        )
        return None if row is None else _message(row)

    def messages(self, channel_id: int, msg_ids: Iterable[int]) -> list[ChannelMessage]:
        wanted = list(msg_ids)
        found: dict[int, ChannelMessage] = {}
        with self._db.read() as conn:
            for part in c.chunks(list(dict.fromkeys(wanted))):
                rows = conn.execute(
                    f"SELECT {_MESSAGE_COLUMNS} FROM channel_messages WHERE channel_id = ? "
                    f"AND id IN ({', '.join('?' * len(part))})",
                    (channel_id, *part),
                ).fetchall()
                found.update((r[1], _message(r)) for r in rows)
        return [found[i] for i in wanted if i in found]

    def history(
        self,
        channel_id: int,
        *,
        offset_id: int = 0,
        add_offset: int = 0,
        limit: int = 100,
        max_id: int = 0,
        min_id: int = 0,
    ) -> list[ChannelMessage]:
        limit = c.check_limit(limit)
        where = "channel_id = ?"
        params: list[Any] = [channel_id]
        if max_id > 0:
            where += " AND id < ?"
            params.append(max_id)
        if min_id > 0:
            where += " AND id > ?"
            params.append(min_id)
        with self._db.read() as conn:
            if add_offset >= 0:
                # The common page: older than offset_id, skipping add_offset.
                page_where = where + (" AND id < ?" if offset_id > 0 else "")
                page_params = [*params, offset_id] if offset_id > 0 else params
                rows = conn.execute(
                    f"SELECT {_MESSAGE_COLUMNS} FROM channel_messages WHERE {page_where} "
                    "ORDER BY id DESC LIMIT ? OFFSET ?",
                    (*page_params, limit, add_offset),
                ).fetchall()
                return [_message(r) for r in rows]
            # A window reaching newer messages: rare, so the ids are walked in full.
            ids = [
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM channel_messages WHERE {where} ORDER BY id DESC", params
                ).fetchall()
            ]
            chosen = c.history_window(ids, ids, offset_id, add_offset, limit)
        by_id = {m.id: m for m in self.messages(channel_id, chosen)}
        return [by_id[i] for i in chosen if i in by_id]

    def edit(
        self,
        channel_id: int,
        msg_id: int,
        *,
        render_update: ChannelMessageRenderer,
        text: str | Unset = UNSET,
        entities: bytes | Unset | None = UNSET,
        reply_markup: bytes | Unset | None = UNSET,
        media: bytes | Unset | None = UNSET,
        edit_date: int | None = None,
    ) -> tuple[ChannelMessage, ChannelUpdate]:
        _check_message(text, entities, reply_markup, media)
        with self._db.write() as conn:
            record = self._require(conn, channel_id)
            row = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM channel_messages WHERE channel_id = ? AND id = ?",
                (channel_id, msg_id),
            ).fetchone()
            if row is None:
                raise MessageNotFound(channel_id, msg_id)
            when = self._db.now() if edit_date is None else edit_date
            changes = _changes(text, entities, reply_markup, media)
            msg = replace(_message(row), edit_date=when, pts=record.pts + 1, **changes)
            update = ChannelUpdate(channel_id, msg.pts, 1, when, render_update(msg))
            conn.execute(
                "UPDATE channel_messages SET edit_date = ?, text = ?, entities = ?, "
                "reply_markup = ?, media = ?, pts = ? WHERE channel_id = ? AND id = ?",
                (
                    when,
                    msg.text,
                    msg.entities,
                    msg.reply_markup,
                    msg.media,
                    msg.pts,
                    channel_id,
                    msg_id,
                ),
            )
            self._log(conn, update)
            conn.execute("UPDATE channels SET pts = ? WHERE id = ?", (msg.pts, channel_id))
            return msg, update

    def delete(
        self,
        channel_id: int,
        msg_ids: Iterable[int],
        *,
        render_update: ChannelDeletionRenderer,
        date: int | None = None,
    ) -> tuple[tuple[int, ...], ChannelUpdate] | None:
        wanted = list(dict.fromkeys(msg_ids))
        with self._db.write() as conn:
            record = self._require(conn, channel_id)
            present: set[int] = set()
            for part in c.chunks(wanted):
                rows = conn.execute(
                    f"SELECT id FROM channel_messages WHERE channel_id = ? "
                    f"AND id IN ({', '.join('?' * len(part))})",
                    (channel_id, *part),
                ).fetchall()
                present.update(r[0] for r in rows)
            gone = tuple(i for i in wanted if i in present)
            if not gone:
                return None
            when = self._db.now() if date is None else date
            pts = record.pts + len(gone)
            update = ChannelUpdate(
                channel_id, pts, len(gone), when, render_update(gone, pts, len(gone))
            )
            conn.executemany(
                "DELETE FROM channel_messages WHERE channel_id = ? AND id = ?",
                [(channel_id, i) for i in gone],
            )
            self._log(conn, update)
            conn.execute("UPDATE channels SET pts = ? WHERE id = ?", (pts, channel_id))
            return gone, update

    def updates_since(self, channel_id: int, pts: int, limit: int = 100) -> list[ChannelUpdate]:
        limit = c.check_limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT channel_id, pts, pts_count, date, body FROM channel_updates "
                "WHERE channel_id = ? AND pts > ? ORDER BY pts LIMIT ?",
                (channel_id, pts, limit),
            ).fetchall()
        return [_update(r) for r in rows]

    def trim_updates(self, channel_id: int, up_to_pts: int) -> int:
        with self._db.write() as conn:
            cur = conn.execute(
                "DELETE FROM channel_updates WHERE channel_id = ? AND pts <= ?",
                (channel_id, up_to_pts),
            )
            return cur.rowcount

    def mark_read(self, channel_id: int, user_id: int, max_id: int) -> int | None:
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT p.read_max_id, p.role, c.last_message_id FROM channel_participants p "
                "JOIN channels c ON c.id = p.channel_id WHERE p.channel_id = ? AND p.user_id = ?",
                (channel_id, user_id),
            ).fetchone()
            if row is None or row[1] == ChannelRole.BANNED.value:
                return None
            mark = min(max_id, int(row[2]))
            if mark <= row[0]:
                return None
            conn.execute(
                "UPDATE channel_participants SET read_max_id = ? "
                "WHERE channel_id = ? AND user_id = ?",
                (mark, channel_id, user_id),
            )
            return mark

    def unread_count(self, channel_id: int, user_id: int) -> int:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT count(*) FROM channel_messages m JOIN channel_participants p "
                "ON p.channel_id = m.channel_id AND p.user_id = ? "
                "WHERE m.channel_id = ? AND m.id > p.read_max_id AND m.sender_id != ?",
                (user_id, channel_id, user_id),
            ).fetchone()
        return int(row[0])

    def message_count(self, channel_id: int) -> int:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT count(*) FROM channel_messages WHERE channel_id = ?", (channel_id,)
            ).fetchone()
        return int(row[0])

    @staticmethod
    def _log(conn: sqlite3.Connection, update: ChannelUpdate) -> None:
        conn.execute(
            "INSERT INTO channel_updates (channel_id, pts, pts_count, date, body) "
            "VALUES (?, ?, ?, ?, ?)",
            (update.channel_id, update.pts, update.pts_count, update.date, update.body),
        )

    @staticmethod
    def _require(conn: sqlite3.Connection, channel_id: int) -> ChannelRecord:
        row = conn.execute(
            f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE id = ?", (channel_id,)
        ).fetchone()
        if row is None:
            raise ChannelNotFound(channel_id)
        return _channel(row)

    @staticmethod
    def _require_account(conn: sqlite3.Connection, account_id: int) -> None:
        if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchone() is None:
            raise AccountNotFound(account_id)


__all__ = [
    "FIRST_CHANNEL_ID",
    "MIGRATION_NAME",
    "MIGRATION_SQL",
    "ChannelDeletionRenderer",
    "ChannelMember",
    "ChannelMessage",
    "ChannelMessageRenderer",
    "ChannelNotFound",
    "ChannelRandomIdTaken",
    "ChannelRecord",
    "ChannelRepository",
    "ChannelRole",
    "ChannelUpdate",
    "MemoryChannels",
    "SqliteChannels",
]
