"""Storage layer: the in-memory backend, for tests and throwaway servers.

Same contract as the SQLite backend (the contract suite runs against both), nothing on disk.
Every method holds one lock for its whole body, checks everything and calls the caller's
renderers before it changes anything, so a failing call leaves no trace, like a rolled-back
transaction.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from types import TracebackType

from loopgram.clock import Clock, RandomBytes
from loopgram.storage import _common as c
from loopgram.storage._common import UNSET, Unset
from loopgram.storage.bot_commands import MemoryBotCommands
from loopgram.storage.bot_updates import MemoryBotUpdates
from loopgram.storage.channels import MemoryChannels
from loopgram.storage.chats import MemoryChats
from loopgram.storage.dialogs import MemoryContacts, MemoryDialogs
from loopgram.storage.errors import (
    AccountNotFound,
    AuthKeyExists,
    AuthKeyNotFound,
    InlineMessageExists,
    InlineMessageNotFound,
    MessageNotFound,
    PhoneTaken,
    RandomIdTaken,
    SessionNotFound,
    StorageClosed,
    UsernameTaken,
)
from loopgram.storage.models import (
    FIRST_ACCOUNT_ID,
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

SessionKey = tuple[int, int]


@dataclass(slots=True)
class _Counters:
    pts: int = 0
    qts: int = 0
    seq: int = 0
    date: int = 0
    last_box_id: int = 0


@dataclass(frozen=True, slots=True)
class _MessageRow:
    id: int
    sender_id: int
    peer: PeerRef
    date: int
    edit_date: int | None
    text: str
    entities: bytes | None
    reply_markup: bytes | None
    media: bytes | None
    extra: bytes | None
    reply_to_id: int | None = None


@dataclass(frozen=True, slots=True)
class _Box:
    owner_id: int
    box_id: int
    message_id: int
    peer: PeerRef
    out: bool
    pts: int


@dataclass(slots=True)
class _Data:
    clock: Clock
    random_bytes: RandomBytes
    lock: threading.RLock = field(default_factory=threading.RLock)
    closed: bool = False
    settings: dict[str, bytes] = field(default_factory=dict)
    accounts: dict[int, Account] = field(default_factory=dict)
    secret_hashes: dict[int, bytes] = field(default_factory=dict)
    by_phone: dict[str, int] = field(default_factory=dict)
    by_username: dict[str, int] = field(default_factory=dict)
    counters: dict[int, _Counters] = field(default_factory=dict)
    auth_keys: dict[int, AuthKeyRecord] = field(default_factory=dict)
    sessions: dict[SessionKey, SessionState] = field(default_factory=dict)
    unacked: dict[SessionKey, dict[int, UnackedMessage]] = field(default_factory=dict)
    messages: dict[int, _MessageRow] = field(default_factory=dict)
    last_message_id: int = 0
    boxes: dict[int, dict[int, _Box]] = field(default_factory=dict)
    copies: dict[int, set[tuple[int, int]]] = field(default_factory=dict)
    updates: dict[int, list[StoredUpdate]] = field(default_factory=dict)
    inline: dict[bytes, InlineMessage] = field(default_factory=dict)
    random_ids: dict[tuple[int, int], int] = field(default_factory=dict)
    """(sender, random_id) -> message id."""

    @contextmanager
    def tx(self) -> Iterator[_Data]:
        with self.lock:
            if self.closed:
                raise StorageClosed("the storage is closed")
            yield self

    def now(self) -> int:
        return c.now(self.clock)

    def require_account(self, account_id: int) -> None:
        if account_id not in self.accounts:
            raise AccountNotFound(account_id)

    def copy_of(self, box: _Box, row: _MessageRow | None = None) -> StoredMessage:
        """The box's copy, as stored or (with ``row``) as it is about to be."""
        if row is None:
            row = self.messages[box.message_id]
        return StoredMessage(
            owner_id=box.owner_id,
            id=box.box_id,
            global_id=row.id,
            sender_id=row.sender_id,
            peer=box.peer,
            out=box.out,
            date=row.date,
            edit_date=row.edit_date,
            text=row.text,
            entities=row.entities,
            reply_markup=row.reply_markup,
            media=row.media,
            extra=row.extra,
            pts=box.pts,
            reply_to=self.reply_box(box.owner_id, row.reply_to_id),
        )

    def reply_box(self, owner_id: int, reply_to_id: int | None) -> int | None:
        """The owner's box id of the replied message (``None`` without one)."""
        if reply_to_id is None:
            return None
        mine = [b for o, b in self.copies.get(reply_to_id, ()) if o == owner_id]
        return min(mine) if mine else None

    def render(
        self, boxes: list[_Box], row: _MessageRow, render_update: MessageRenderer, when: int
    ) -> list[tuple[StoredMessage, StoredUpdate]]:
        """Each box's copy as it is about to be, and its update: callers render everything
        before changing anything, so that a renderer that raises leaves no trace."""
        result = []
        for box in boxes:
            copy = self.copy_of(box, row)
            body = bytes(render_update(copy))
            result.append((copy, StoredUpdate(box.owner_id, box.pts, 1, when, body)))
        return result

    def log(self, update: StoredUpdate, date: int) -> None:
        counters = self.counters[update.account_id]
        counters.pts = update.pts
        counters.date = date
        self.updates.setdefault(update.account_id, []).append(update)


class MemorySettings:
    def __init__(self, data: _Data) -> None:
        self._data = data

    def get(self, key: str) -> bytes | None:
        with self._data.tx() as d:
            return d.settings.get(key)

    def set(self, key: str, value: bytes) -> None:
        with self._data.tx() as d:
            d.settings[key] = bytes(value)

    def setdefault(self, key: str, value: bytes) -> bytes:
        with self._data.tx() as d:
            return d.settings.setdefault(key, bytes(value))

    def delete(self, key: str) -> None:
        with self._data.tx() as d:
            d.settings.pop(key, None)

    def items(self) -> dict[str, bytes]:
        with self._data.tx() as d:
            return dict(sorted(d.settings.items()))


class MemoryAuthKeys:
    def __init__(self, data: _Data) -> None:
        self._data = data

    def put(self, key_id: int, key: bytes, *, expires_at: int | None = None) -> AuthKeyRecord:
        c.check_int64(key_id, "auth key id")
        key = c.check_key(key)
        with self._data.tx() as d:
            if key_id in d.auth_keys:
                raise AuthKeyExists(key_id)
            record = AuthKeyRecord(key_id, key, d.now(), expires_at=expires_at)
            d.auth_keys[key_id] = record
            return record

    def get(self, key_id: int) -> AuthKeyRecord | None:
        c.check_int64(key_id, "auth key id")
        with self._data.tx() as d:
            return d.auth_keys.get(key_id)

    def _get_existing(self, d: _Data, key_id: int) -> AuthKeyRecord:
        c.check_int64(key_id, "auth key id")
        record = d.auth_keys.get(key_id)
        if record is None:
            raise AuthKeyNotFound(key_id)
        return record

    def bind_account(self, key_id: int, account_id: int | None) -> AuthKeyRecord:
        with self._data.tx() as d:
            record = self._get_existing(d, key_id)
            if account_id is not None:
                d.require_account(account_id)
            record = d.auth_keys[key_id] = replace(record, account_id=account_id)
            return record

    def set_layer(self, key_id: int, layer: int | None) -> AuthKeyRecord:
        with self._data.tx() as d:
            record = self._get_existing(d, key_id)
            record = d.auth_keys[key_id] = replace(record, layer=layer)
            return record

    def delete(self, key_id: int) -> bool:
        c.check_int64(key_id, "auth key id")
        with self._data.tx() as d:
            return _delete_key(d, key_id)

    def for_account(self, account_id: int) -> list[AuthKeyRecord]:
        with self._data.tx() as d:
            keys = [k for k in d.auth_keys.values() if k.account_id == account_id]
        return sorted(keys, key=lambda k: (k.created_at, k.id))

    def delete_expired(self, now: int) -> int:
        with self._data.tx() as d:
            expired = [
                k.id
                for k in d.auth_keys.values()
                if k.expires_at is not None and k.expires_at <= now
            ]
            for key_id in expired:
                _delete_key(d, key_id)
            return len(expired)


def _delete_key(d: _Data, key_id: int) -> bool:
    if d.auth_keys.pop(key_id, None) is None:
        return False
    for session in [s for s in d.sessions if s[0] == key_id]:
        del d.sessions[session]
        d.unacked.pop(session, None)
    return True


class MemorySessions:
    def __init__(self, data: _Data) -> None:
        self._data = data

    def load(self, auth_key_id: int, session_id: int) -> SessionState | None:
        key = c.check_session(auth_key_id, session_id)
        with self._data.tx() as d:
            return d.sessions.get(key)

    def save(self, state: SessionState) -> None:
        key = c.check_session_state(state)
        with self._data.tx() as d:
            if state.auth_key_id not in d.auth_keys:
                raise AuthKeyNotFound(state.auth_key_id)
            d.sessions[key] = replace(state, salts=tuple(state.salts))

    def delete(self, auth_key_id: int, session_id: int) -> bool:
        key = c.check_session(auth_key_id, session_id)
        with self._data.tx() as d:
            d.unacked.pop(key, None)
            return d.sessions.pop(key, None) is not None

    def session_ids(self, auth_key_id: int) -> list[int]:
        c.check_int64(auth_key_id, "auth key id")
        with self._data.tx() as d:
            return sorted(s for k, s in d.sessions if k == auth_key_id)

    def add_unacked(
        self, auth_key_id: int, session_id: int, messages: Iterable[UnackedMessage]
    ) -> None:
        key = c.check_session(auth_key_id, session_id)
        batch = [replace(m, body=bytes(m.body)) for m in messages]
        for m in batch:
            c.check_int64(m.msg_id, "msg_id")
        with self._data.tx() as d:
            if key not in d.sessions:
                raise SessionNotFound(auth_key_id, session_id)
            pending = d.unacked.setdefault(key, {})
            for m in batch:
                pending[m.msg_id] = m

    def remove_unacked(self, auth_key_id: int, session_id: int, msg_ids: Iterable[int]) -> int:
        key = c.check_session(auth_key_id, session_id)
        ids = [c.check_int64(i, "msg_id") for i in dict.fromkeys(msg_ids)]
        with self._data.tx() as d:
            pending = d.unacked.get(key, {})
            return sum(1 for i in ids if pending.pop(i, None) is not None)

    def unacked(self, auth_key_id: int, session_id: int) -> list[UnackedMessage]:
        key = c.check_session(auth_key_id, session_id)
        with self._data.tx() as d:
            return sorted(d.unacked.get(key, {}).values(), key=lambda m: m.msg_id)


class MemoryAccounts:
    def __init__(self, data: _Data) -> None:
        self._data = data

    def _insert(
        self,
        d: _Data,
        *,
        is_bot: bool,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        phone: str | None = None,
        secret_hash: bytes | None = None,
    ) -> Account:
        if phone is not None and phone in d.by_phone:
            raise PhoneTaken(phone)
        if username is not None and c.username_key(username) in d.by_username:
            raise UsernameTaken(username)
        account = Account(
            id=max(FIRST_ACCOUNT_ID, max(d.accounts, default=0) + 1),
            access_hash=c.random_int64(d.random_bytes),
            is_bot=is_bot,
            first_name=first_name,
            last_name=last_name,
            username=username,
            phone=phone,
            created_at=d.now(),
            bot_info_version=1 if is_bot else None,
        )
        d.accounts[account.id] = account
        d.counters[account.id] = _Counters()
        if phone is not None:
            d.by_phone[phone] = account.id
        if username is not None:
            d.by_username[c.username_key(username)] = account.id
        if secret_hash is not None:
            d.secret_hashes[account.id] = secret_hash
        return account

    def create_user(self, phone: str, first_name: str, last_name: str | None = None) -> Account:
        with self._data.tx() as d:
            return self._insert(
                d, is_bot=False, first_name=first_name, last_name=last_name, phone=phone
            )

    def create_bot(self, username: str, first_name: str, secret: str) -> Account:
        secret_hash = c.hash_bot_secret(c.check_secret(secret))
        with self._data.tx() as d:
            return self._insert(
                d, is_bot=True, first_name=first_name, username=username, secret_hash=secret_hash
            )

    def get(self, account_id: int) -> Account | None:
        with self._data.tx() as d:
            return d.accounts.get(account_id)

    def get_many(self, account_ids: Iterable[int]) -> list[Account]:
        with self._data.tx() as d:
            return [d.accounts[i] for i in dict.fromkeys(account_ids) if i in d.accounts]

    def get_by_phone(self, phone: str) -> Account | None:
        with self._data.tx() as d:
            account_id = d.by_phone.get(phone)
            return None if account_id is None else d.accounts[account_id]

    def get_by_username(self, username: str) -> Account | None:
        with self._data.tx() as d:
            account_id = d.by_username.get(c.username_key(username))
            return None if account_id is None else d.accounts[account_id]

    def get_by_bot_token(self, token: str) -> Account | None:
        parsed = c.parse_bot_token(token)
        if parsed is None:
            return None
        bot_id, secret = parsed
        with self._data.tx() as d:
            account = d.accounts.get(bot_id)
            if account is None or not account.is_bot:
                return None
            return account if c.secret_matches(secret, d.secret_hashes.get(bot_id)) else None

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
        with self._data.tx() as d:
            account = d.accounts.get(account_id)
            if account is None:
                raise AccountNotFound(account_id)
            new_key = None
            if not isinstance(username, Unset) and username is not None:
                new_key = c.username_key(username)
                if d.by_username.get(new_key, account_id) != account_id:
                    raise UsernameTaken(username)
            if not isinstance(first_name, Unset):
                account = replace(account, first_name=first_name)
            if not isinstance(last_name, Unset):
                account = replace(account, last_name=last_name)
            if not isinstance(bot_inline_placeholder, Unset):
                account = replace(account, bot_inline_placeholder=bot_inline_placeholder)
            if not isinstance(bot_info_version, Unset):
                account = replace(account, bot_info_version=bot_info_version)
            if not isinstance(username, Unset):
                old = d.accounts[account_id].username
                if old is not None:
                    del d.by_username[c.username_key(old)]
                if new_key is not None:
                    d.by_username[new_key] = account_id
                account = replace(account, username=username)
            d.accounts[account_id] = account
            return account

    def set_bot_secret(self, bot_id: int, secret: str) -> None:
        secret_hash = c.hash_bot_secret(c.check_secret(secret))
        with self._data.tx() as d:
            account = d.accounts.get(bot_id)
            if account is None or not account.is_bot:
                raise AccountNotFound(bot_id)
            d.secret_hashes[bot_id] = secret_hash

    def list_all(self, *, is_bot: bool | None = None) -> list[Account]:
        with self._data.tx() as d:
            return [
                a for _, a in sorted(d.accounts.items()) if is_bot is None or a.is_bot == is_bot
            ]


class MemoryMessages:
    def __init__(self, data: _Data) -> None:
        self._data = data

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
        owners = c.box_owners(sender_id, peer, member_ids)
        c.check_sizes(text, entities, reply_markup, media, extra)
        if random_id is not None:
            c.check_int64(random_id, "random_id")
        with self._data.tx() as d:
            d.require_account(sender_id)
            for owner_id, _, _ in owners:
                d.require_account(owner_id)
            if random_id is not None:
                sent = self._sent_copy(d, sender_id, random_id)
                if sent is not None:
                    raise RandomIdTaken(sender_id, random_id, sent)
            when = d.now() if date is None else date
            row = _MessageRow(
                id=d.last_message_id + 1,
                sender_id=sender_id,
                peer=peer,
                date=when,
                edit_date=None,
                text=text,
                entities=c.opt_bytes(entities),
                reply_markup=c.opt_bytes(reply_markup),
                media=c.opt_bytes(media),
                extra=c.opt_bytes(extra),
                reply_to_id=reply_to_id,
            )
            boxes = []
            for owner_id, owner_peer, out in owners:
                counters = d.counters[owner_id]
                box_id, pts = counters.last_box_id + 1, counters.pts + 1
                boxes.append(_Box(owner_id, box_id, row.id, owner_peer, out, pts))
            result = d.render(boxes, row, render_update, when)
            d.messages[row.id] = row
            d.last_message_id = row.id
            d.copies[row.id] = set()
            for box, (_, update) in zip(boxes, result, strict=True):
                d.boxes.setdefault(box.owner_id, {})[box.box_id] = box
                d.copies[row.id].add((box.owner_id, box.box_id))
                d.counters[box.owner_id].last_box_id = box.box_id
                d.log(update, when)
            if random_id is not None:
                d.random_ids[(sender_id, random_id)] = row.id
            return result

    @staticmethod
    def _sent_copy(d: _Data, sender_id: int, random_id: int) -> StoredMessage | None:
        """The sender's copy of the message sent with ``random_id``, while it has one."""
        message_id = d.random_ids.get((sender_id, random_id))
        if message_id is None:
            return None
        for owner_id, box_id in sorted(d.copies.get(message_id, ())):
            if owner_id == sender_id:
                return d.copy_of(d.boxes[owner_id][box_id])
        del d.random_ids[(sender_id, random_id)]  # deleted since: the id is free again
        return None

    def get(self, owner_id: int, msg_id: int) -> StoredMessage | None:
        with self._data.tx() as d:
            box = d.boxes.get(owner_id, {}).get(msg_id)
            return None if box is None else d.copy_of(box)

    def get_many(self, owner_id: int, msg_ids: Iterable[int]) -> list[StoredMessage]:
        with self._data.tx() as d:
            box = d.boxes.get(owner_id, {})
            return [d.copy_of(box[i]) for i in dict.fromkeys(msg_ids) if i in box]

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
        limit = c.check_limit(limit)
        with self._data.tx() as d:
            ids = sorted(
                (
                    box_id
                    for box_id, box in d.boxes.get(owner_id, {}).items()
                    if box.peer == peer
                    and (max_id <= 0 or box_id < max_id)
                    and (min_id <= 0 or box_id > min_id)
                ),
                reverse=True,
            )
            window = c.history_window(ids, ids, offset_id, add_offset, limit)
            return [d.copy_of(d.boxes[owner_id][i]) for i in window]

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
        c.check_sizes(text, entities, reply_markup, media, extra)
        with self._data.tx() as d:
            target = d.boxes.get(owner_id, {}).get(msg_id)
            if target is None:
                raise MessageNotFound(owner_id, msg_id)
            when = d.now() if edit_date is None else edit_date
            row = replace(d.messages[target.message_id], edit_date=when)
            if not isinstance(text, Unset):
                row = replace(row, text=text)
            if not isinstance(entities, Unset):
                row = replace(row, entities=c.opt_bytes(entities))
            if not isinstance(reply_markup, Unset):
                row = replace(row, reply_markup=c.opt_bytes(reply_markup))
            if not isinstance(media, Unset):
                row = replace(row, media=c.opt_bytes(media))
            if not isinstance(extra, Unset):
                row = replace(row, extra=c.opt_bytes(extra))
            order = sorted(d.copies[row.id], key=lambda k: (k[0] != owner_id, k[0], k[1]))
            boxes = [replace(d.boxes[o][b], pts=d.counters[o].pts + 1) for o, b in order]
            result = d.render(boxes, row, render_update, when)
            d.messages[row.id] = row
            for box, (_, update) in zip(boxes, result, strict=True):
                d.boxes[box.owner_id][box.box_id] = box
                d.log(update, when)
            return result

    def delete(
        self,
        owner_id: int,
        msg_ids: Iterable[int],
        *,
        revoke: bool,
        render_update: DeletionRenderer,
        date: int | None = None,
    ) -> list[tuple[DeletedMessages, StoredUpdate]]:
        with self._data.tx() as d:
            when = d.now() if date is None else date
            box = d.boxes.get(owner_id, {})
            own = [box[i] for i in dict.fromkeys(msg_ids) if i in box]
            if revoke:
                doomed = {k for b in own for k in d.copies[b.message_id]}
            else:
                doomed = {(owner_id, b.box_id) for b in own}
            by_owner: dict[int, list[int]] = {}
            for o, b in sorted(doomed, key=lambda k: (k[0] != owner_id, k[0], k[1])):
                by_owner.setdefault(o, []).append(b)
            result = []
            for o, ids in by_owner.items():
                deleted = DeletedMessages(o, tuple(ids), d.counters[o].pts + len(ids), len(ids))
                body = bytes(render_update(deleted))
                result.append((deleted, StoredUpdate(o, deleted.pts, len(ids), when, body)))
            for o, b in doomed:
                message_id = d.boxes[o].pop(b).message_id
                copies = d.copies[message_id]
                copies.discard((o, b))
                if not copies:
                    del d.copies[message_id]
                    del d.messages[message_id]
            for _, update in result:
                d.log(update, when)
            return result


class MemoryUpdates:
    def __init__(self, data: _Data) -> None:
        self._data = data

    def state(self, account_id: int) -> UpdateState:
        with self._data.tx() as d:
            counters = d.counters.get(account_id)
            if counters is None:
                raise AccountNotFound(account_id)
            return UpdateState(counters.pts, counters.qts, counters.seq, counters.date)

    def append(
        self, account_id: int, *, pts_count: int, render: PtsRenderer, date: int | None = None
    ) -> StoredUpdate:
        c.check_pts_count(pts_count)
        with self._data.tx() as d:
            d.require_account(account_id)
            when = d.now() if date is None else date
            pts = d.counters[account_id].pts + pts_count
            update = StoredUpdate(account_id, pts, pts_count, when, bytes(render(pts, pts_count)))
            d.log(update, when)
            return update

    def since(self, account_id: int, pts: int, limit: int = 100) -> list[StoredUpdate]:
        limit = c.check_limit(limit)
        with self._data.tx() as d:
            return [u for u in d.updates.get(account_id, []) if u.pts > pts][:limit]

    def trim(self, account_id: int, up_to_pts: int) -> int:
        with self._data.tx() as d:
            log = d.updates.get(account_id, [])
            kept = [u for u in log if u.pts > up_to_pts]
            d.updates[account_id] = kept
            return len(log) - len(kept)


class MemoryInlineMessages:
    def __init__(self, data: _Data) -> None:
        self._data = data

    def put(self, message: InlineMessage) -> None:
        key = bytes(message.id)
        c.check_sizes(message.text, message.entities, message.reply_markup)
        with self._data.tx() as d:
            d.require_account(message.bot_id)
            if key in d.inline:
                raise InlineMessageExists(f"inline message {key.hex()} exists")
            d.inline[key] = replace(
                message,
                id=key,
                entities=c.opt_bytes(message.entities),
                reply_markup=c.opt_bytes(message.reply_markup),
            )

    def get(self, inline_message_id: bytes) -> InlineMessage | None:
        with self._data.tx() as d:
            return d.inline.get(bytes(inline_message_id))

    def edit(
        self,
        inline_message_id: bytes,
        *,
        text: str | Unset = UNSET,
        entities: bytes | Unset | None = UNSET,
        reply_markup: bytes | Unset | None = UNSET,
        edit_date: int | None = None,
    ) -> InlineMessage:
        key = bytes(inline_message_id)
        c.check_sizes(text, entities, reply_markup)
        with self._data.tx() as d:
            message = d.inline.get(key)
            if message is None:
                raise InlineMessageNotFound(f"inline message {key.hex()} not found")
            message = replace(message, edit_date=d.now() if edit_date is None else edit_date)
            if not isinstance(text, Unset):
                message = replace(message, text=text)
            if not isinstance(entities, Unset):
                message = replace(message, entities=c.opt_bytes(entities))
            if not isinstance(reply_markup, Unset):
                message = replace(message, reply_markup=c.opt_bytes(reply_markup))
            d.inline[key] = message
            return message

    def delete(self, inline_message_id: bytes) -> bool:
        with self._data.tx() as d:
            return d.inline.pop(bytes(inline_message_id), None) is not None


class MemoryStorage:
    """The in-memory ``Storage``; everything is gone when the object is."""

    def __init__(self, *, clock: Clock = time.time, random_bytes: RandomBytes = os.urandom) -> None:
        data = _Data(clock=clock, random_bytes=random_bytes)
        self._data = data
        self._settings = MemorySettings(data)
        self._auth_keys = MemoryAuthKeys(data)
        self._sessions = MemorySessions(data)
        self._accounts = MemoryAccounts(data)
        self._messages = MemoryMessages(data)
        self._updates = MemoryUpdates(data)
        self._inline_messages = MemoryInlineMessages(data)
        self._bot_updates = MemoryBotUpdates(data)
        self._bot_commands = MemoryBotCommands(data)
        self._dialogs = MemoryDialogs(data)
        self._contacts = MemoryContacts(data)
        self._chats = MemoryChats(data)
        self._channels = MemoryChannels(data)

    @property
    def settings(self) -> MemorySettings:
        return self._settings

    @property
    def auth_keys(self) -> MemoryAuthKeys:
        return self._auth_keys

    @property
    def sessions(self) -> MemorySessions:
        return self._sessions

    @property
    def accounts(self) -> MemoryAccounts:
        return self._accounts

    @property
    def messages(self) -> MemoryMessages:
        return self._messages

    @property
    def updates(self) -> MemoryUpdates:
        return self._updates

    @property
    def inline_messages(self) -> MemoryInlineMessages:
        return self._inline_messages

    @property
    def bot_updates(self) -> MemoryBotUpdates:
        return self._bot_updates

    @property
    def bot_commands(self) -> MemoryBotCommands:
        return self._bot_commands

    @property
    def dialogs(self) -> MemoryDialogs:
        return self._dialogs

    @property
    def contacts(self) -> MemoryContacts:
        return self._contacts

    @property
    def chats(self) -> MemoryChats:
        return self._chats

    @property
    def channels(self) -> MemoryChannels:
        return self._channels

    def reading(self) -> AbstractContextManager[None]:
        """Nothing to group here: every read sees the one copy of the data."""
        return nullcontext()

    def close(self) -> None:
        with self._data.lock:
            self._data.closed = True

    def __enter__(self) -> MemoryStorage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
