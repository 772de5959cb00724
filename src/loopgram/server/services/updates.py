"""Server layer: an account's update state and what a reconnecting client missed.

Every pts-moving update (``updateNewMessage``, ``updateEditMessage``) is logged by the storage
in the same transaction as the message write, so ``updates.getDifference`` replays exactly
what was pushed. Callback queries are not pts updates: a bot that is offline misses them
(and the user gets BOT_RESPONSE_TIMEOUT), as on Telegram.
"""

from __future__ import annotations

from loopgram import tl
from loopgram.clock import Clock
from loopgram.server.config import ServerConfig
from loopgram.server.services.channels import ChannelService
from loopgram.server.services.chats import render_chats
from loopgram.server.services.render import render_user_ids, render_users
from loopgram.storage import Account, Storage, StoredUpdate
from loopgram.tl import abcs, types
from loopgram.tl.types import updates as upd_types


class UpdateService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        config: ServerConfig,
        channels: ChannelService,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._config = config
        self._channels = channels

    def state(self, account: Account) -> upd_types.State:
        """``updates.getState``."""
        state = self._storage.updates.state(account.id)
        return upd_types.State(
            pts=state.pts,
            qts=state.qts,
            date=int(self._clock()),
            seq=state.seq,
            unread_count=0,
        )

    def difference(
        self, account: Account, *, pts: int, pts_total_limit: int | None = None
    ) -> abcs.updates.Difference:
        """``updates.getDifference`` from ``pts``: everything logged above it (a slice when
        there is more than one page) and what the account's channels hold for it
        (``ChannelService.catch_up``), or ``differenceEmpty``."""
        state = self._storage.updates.state(account.id)
        now = int(self._clock())
        entries: list[StoredUpdate] = []
        if pts < state.pts:
            limit = self._config.difference_limit
            if pts_total_limit is not None and pts_total_limit > 0:
                limit = min(limit, pts_total_limit)
            entries = self._storage.updates.since(account.id, pts, limit=limit)
            if not entries or entries[0].pts - entries[0].pts_count > pts:
                # The log no longer reaches back to the client's pts (the channels wait
                # for the next call, which the client makes from the new pts).
                return upd_types.DifferenceTooLong(pts=state.pts)
        channel_updates, channel_users, channel_chats = self._channels.catch_up(account)
        if not entries:
            # Nothing newer (a client ahead of the server restarted with a fresh state: its
            # next getState puts it right).
            if not channel_updates:
                return upd_types.DifferenceEmpty(date=now, seq=state.seq)
            return upd_types.Difference(
                new_messages=[],
                new_encrypted_messages=[],
                other_updates=channel_updates,
                chats=channel_chats,
                users=render_user_ids(self._storage, [account.id, *channel_users], account.id),
                state=upd_types.State(
                    pts=state.pts, qts=state.qts, date=now, seq=state.seq, unread_count=0
                ),
            )
        entries = _within(entries, self._config.difference_size_max)
        new_messages: list[abcs.Message] = []
        other: list[abcs.Update] = list(channel_updates)
        user_ids: list[int] = [account.id, *channel_users]
        for entry in entries:
            update = tl.read(entry.body)
            if isinstance(update, types.UpdateNewMessage):
                new_messages.append(update.message)
            else:
                other.append(update)
            message = getattr(update, "message", None)
            if isinstance(message, types.Message | types.MessageService):
                user_ids.extend(_message_users(message))
            if isinstance(message, types.MessageService):
                user_ids.extend(getattr(message.action, "users", None) or [])
                removed = getattr(message.action, "user_id", None)
                if isinstance(removed, int):
                    user_ids.append(removed)
        users = render_users(self._storage.accounts.get_many(dict.fromkeys(user_ids)), account.id)
        chats = [
            *render_chats(self._storage, _message_chats(new_messages, other), account.id),
            *channel_chats,
        ]
        last = entries[-1]
        if last.pts < state.pts:
            return upd_types.DifferenceSlice(
                new_messages=new_messages,
                new_encrypted_messages=[],
                other_updates=other,
                chats=chats,
                users=users,
                intermediate_state=upd_types.State(
                    pts=last.pts, qts=state.qts, date=last.date, seq=state.seq, unread_count=0
                ),
            )
        return upd_types.Difference(
            new_messages=new_messages,
            new_encrypted_messages=[],
            other_updates=other,
            chats=chats,
            users=users,
            state=upd_types.State(
                pts=state.pts, qts=state.qts, date=now, seq=state.seq, unread_count=0
            ),
        )


def _within(entries: list[StoredUpdate], size_max: int) -> list[StoredUpdate]:
    """The first entries whose bodies fit in ``size_max`` bytes (at least one): many large
    messages make a slice, not an answer too big for the client to take."""
    total = 0
    for i, entry in enumerate(entries):
        total += len(entry.body)
        if total > size_max and i > 0:
            return entries[:i]
    return entries


def _message_chats(new: list[abcs.Message], other: list[abcs.Update]) -> list[int]:
    """Basic groups the messages of a difference are in: the client needs them in ``chats``."""
    messages = [*new, *(getattr(u, "message", None) for u in other)]
    return [
        m.peer_id.chat_id
        for m in messages
        if isinstance(m, types.Message | types.MessageService)
        and isinstance(m.peer_id, types.PeerChat)
    ]


def _message_users(message: types.Message | types.MessageService) -> list[int]:
    ids: list[int] = []
    for peer in (message.from_id, message.peer_id):
        if isinstance(peer, types.PeerUser):
            ids.append(peer.user_id)
    if isinstance(message, types.Message) and message.via_bot_id is not None:
        ids.append(message.via_bot_id)
    return ids
