"""Server layer: the callback-query rules (DESIGN.md, "The callback-query rules").

Pure logic over storage and the injected clock and randomness, no event loop: a user's
``messages.getBotCallbackAnswer`` becomes a ``PendingPress`` (``press``) holding the update
for the bot; the bot's ``messages.setBotCallbackAnswer`` resolves it (``answer``) or fails
with Telegram's error; ``expire(now)`` hands back the presses whose window closed, whose
users get ``BOT_RESPONSE_TIMEOUT``. Pending presses live in a dict keyed by query id with a
heap of deadlines beside it, so hundreds at once cost O(log n) each. Whoever owns the
waiting callers (``loopgram.server.presses``) maps presses to awaitables.

Choices where Telegram's rule needs a local reading:

- A button press is checked against the message's keyboard *when pressed*: a keyboard the
  bot edits while the press is pending does not invalidate the answer.
- ``requires_password`` buttons: no loopgram account has a 2FA password, so pressing one
  answers ``PASSWORD_MISSING``, as Telegram does for accounts without a password.
- Answer URLs: for a callback button, only the bot's own deep link --
  ``[http[s]://](t.me|telegram.me)/<bot>?start=<1-64 of A-Za-z0-9_->`` or
  ``tg://resolve?domain=<bot>&start=<...>``, username compared case-insensitively. For a game
  button, Telegram accepts the game URL registered with @BotFather; loopgram has no game
  registry, so any ``http(s)`` URL with a host is the game's URL.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, urlsplit

from loopgram.mtproto.deps import Clock, RandomBytes
from loopgram.server.config import MAX_CACHE_TIME, ServerConfig
from loopgram.server.errors import (
    BOT_METHOD_INVALID,
    DATA_INVALID,
    MESSAGE_ID_INVALID,
    MESSAGE_TOO_LONG,
    PASSWORD_MISSING,
    PEER_ID_INVALID,
    QUERY_ID_INVALID,
    URL_INVALID,
    USER_BOT_REQUIRED,
)
from loopgram.server.services.chats import render_chat
from loopgram.server.services.keys import ServerKeys
from loopgram.server.services.markup import PressTargets
from loopgram.server.services.messages import MessageService
from loopgram.server.services.peers import Peers
from loopgram.server.services.render import parse_media, render_user
from loopgram.storage import Account, PeerKind, PeerRef, Storage, StoredMessage
from loopgram.tl import abcs, types
from loopgram.tl.types import messages as msg_types

_START_PARAM: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DEEP_LINK_HOSTS: Final = frozenset({"t.me", "telegram.me"})
_PRESSER_MEMO_SIZE: Final = 16_384


@dataclass(frozen=True, slots=True)
class PendingPress:
    """A callback query waiting for the bot's answer."""

    query_id: int
    bot_id: int
    user_id: int
    deadline: float
    """Clock time at which the window closes (an answer at or after it is too late)."""
    game: bool
    update: types.Updates
    """What the bot receives: ``updates`` with one ``updateBotCallbackQuery`` or
    ``updateInlineBotCallbackQuery``, the presser in ``users``, ``date`` set, ``seq`` 0."""


def is_bot_deep_link(url: str, username: str | None) -> bool:
    """Whether ``url`` is ``username``'s ``?start=`` deep link (see the module docstring)."""
    if not username:
        return False
    parts = urlsplit(url if "://" in url else f"https://{url}")
    scheme = parts.scheme.lower()
    query = parse_qs(parts.query, keep_blank_values=True)
    if parts.fragment:
        return False
    if scheme in ("http", "https"):
        if (parts.hostname or "") not in _DEEP_LINK_HOSTS or parts.port is not None:
            return False
        if parts.username or parts.password:
            return False
        name = parts.path.removeprefix("/")
        expected = {"start"}
    elif scheme == "tg":
        if parts.netloc.lower() != "resolve" or parts.path not in ("", "/"):
            return False
        name = query.get("domain", [""])[0]
        expected = {"domain", "start"}
    else:
        return False
    if set(query) != expected or any(len(values) != 1 for values in query.values()):
        return False
    return name.lower() == username.lower() and bool(_START_PARAM.fullmatch(query["start"][0]))


def is_game_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


class CallbackService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        random_bytes: RandomBytes,
        peers: Peers,
        messages: MessageService,
        keys: ServerKeys,
        config: ServerConfig,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._random = random_bytes
        self._peers = peers
        self._messages = messages
        self._keys = keys
        self._config = config
        self._pending: dict[int, PendingPress] = {}
        self._deadlines: list[tuple[float, int]] = []
        self._targets = PressTargets()
        # (presser, bot) -> (the presser's record, the User the bot sees): a user presses
        # again and again, and the rendering only changes when the record does.
        self._pressers: dict[tuple[int, int], tuple[Account, types.User]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def get(self, query_id: int) -> PendingPress | None:
        return self._pending.get(query_id)

    # -- the user's side ----------------------------------------------------------------------

    def press(
        self,
        user: Account,
        peer: abcs.InputPeer,
        msg_id: int,
        *,
        data: bytes | None,
        game: bool,
        password: abcs.InputCheckPasswordSRP | None = None,
    ) -> PendingPress:
        """``messages.getBotCallbackAnswer``: a new pending query for the message's bot."""
        if user.is_bot:
            raise BOT_METHOD_INVALID()
        if isinstance(peer, types.InputPeerChat):
            return self._press_in_chat(user, peer.chat_id, msg_id, data=data, game=game)
        chat = self._peers.peer(user, peer)
        copy = self._storage.messages.get(user.id, msg_id)
        if copy is None or copy.peer.kind is not PeerKind.USER or copy.peer.id != chat.id:
            raise MESSAGE_ID_INVALID()
        # Exactly one of data / game: a game button carries no data.
        if game == (data is not None):
            raise DATA_INVALID()
        chat_instance = self._keys.private_chat_instance(user.id, chat.id)
        now = self._clock()

        inline = self._messages.inline_record(copy)
        update: abcs.Update
        if inline is not None:
            record, inline_id = inline
            bot = self._storage.accounts.get(record.bot_id)
            target = self._targets.find(record.reply_markup, data=data, game=game)
            if bot is None or target is None or target.game:
                # Inline messages carry no game media, so no game short name to send.
                raise DATA_INVALID()
            if target.requires_password:
                raise PASSWORD_MISSING()
            query_id = self._new_query_id()
            update = types.UpdateInlineBotCallbackQuery(
                query_id=query_id,
                user_id=user.id,
                msg_id=inline_id,
                chat_instance=chat_instance,
                data=data,
            )
        else:
            # In a private chat the sender is the chat's other side or the presser: both
            # records are at hand already.
            if copy.sender_id == chat.id:
                sender: Account | None = chat
            elif copy.sender_id == user.id:
                sender = user
            else:
                sender = self._storage.accounts.get(copy.sender_id)
            if sender is None or not sender.is_bot or sender.id == user.id:
                raise DATA_INVALID()  # only bots' messages carry inline keyboards
            bot = sender
            bot_copy, game_short_name = self._pressed_target(
                bot, PeerRef.user(user.id), copy, data=data, game=game
            )
            query_id = self._new_query_id()
            update = types.UpdateBotCallbackQuery(
                query_id=query_id,
                user_id=user.id,
                peer=types.PeerUser(user_id=user.id),
                msg_id=bot_copy.id,
                chat_instance=chat_instance,
                data=data,
                game_short_name=game_short_name,
            )

        return self._enqueue(user, bot, query_id, update, [], game=game, now=now)

    def _enqueue(
        self,
        user: Account,
        bot: Account,
        query_id: int,
        update: abcs.Update,
        chats: list[abcs.Chat],
        *,
        game: bool,
        now: float,
    ) -> PendingPress:
        """Keep the press pending until the bot answers or ``callback_timeout`` passes."""
        pending = PendingPress(
            query_id=query_id,
            bot_id=bot.id,
            user_id=user.id,
            deadline=now + self._config.callback_timeout,
            game=game,
            update=types.Updates(
                updates=[update],
                users=[self._presser(user, bot.id)],
                chats=chats,
                date=int(now),
                seq=0,
            ),
        )
        self._pending[query_id] = pending
        heapq.heappush(self._deadlines, (pending.deadline, query_id))
        return pending

    def _pressed_target(
        self, bot: Account, bot_ref: PeerRef, copy: StoredMessage, *, data: bytes | None, game: bool
    ) -> tuple[StoredMessage, str | None]:
        """The button a press on the bot's message ``copy`` hits: the bot's own copy of the
        message (in its box under ``bot_ref``) and, for a game button, the game's short name."""
        target = self._targets.find(copy.reply_markup, data=data, game=game)
        if target is None:
            raise DATA_INVALID()
        if target.requires_password:
            raise PASSWORD_MISSING()
        game_short_name = None
        if target.game:
            media = parse_media(copy.media)
            if not isinstance(media, types.MessageMediaGame) or not isinstance(
                media.game, types.Game
            ):
                raise DATA_INVALID()
            game_short_name = media.game.short_name
        bot_copy = self._messages.find_copy(bot.id, bot_ref, copy.global_id)
        if bot_copy is None:
            raise MESSAGE_ID_INVALID()
        return bot_copy, game_short_name

    def _press_in_chat(
        self, user: Account, chat_id: int, msg_id: int, *, data: bytes | None, game: bool
    ) -> PendingPress:
        """A press in a basic group: any current member may press a bot's message; the bot
        gets the group as ``peer`` and the group's ``chat_instance``. A user who left or
        was removed keeps its copies but gets ``PEER_ID_INVALID``."""
        if self._storage.chats.participant(chat_id, user.id) is None:
            raise PEER_ID_INVALID()
        ref = PeerRef.chat(chat_id)
        copy = self._storage.messages.get(user.id, msg_id)
        if copy is None or copy.peer != ref:
            raise MESSAGE_ID_INVALID()
        if game == (data is not None):
            raise DATA_INVALID()
        sender = self._storage.accounts.get(copy.sender_id)
        if sender is None or not sender.is_bot or sender.id == user.id:
            raise DATA_INVALID()
        bot = sender
        bot_copy, game_short_name = self._pressed_target(bot, ref, copy, data=data, game=game)
        now = self._clock()
        query_id = self._new_query_id()
        update = types.UpdateBotCallbackQuery(
            query_id=query_id,
            user_id=user.id,
            peer=types.PeerChat(chat_id=chat_id),
            msg_id=bot_copy.id,
            chat_instance=self._keys.group_chat_instance(chat_id),
            data=data,
            game_short_name=game_short_name,
        )
        chat = self._storage.chats.get(chat_id)
        chats: list[abcs.Chat] = [] if chat is None else [render_chat(self._storage, chat, bot.id)]
        return self._enqueue(user, bot, query_id, update, chats, game=game, now=now)

    # -- the bot's side -----------------------------------------------------------------------

    def answer(
        self,
        bot: Account,
        query_id: int,
        *,
        alert: bool = False,
        message: str | None = None,
        url: str | None = None,
        cache_time: int = 0,
    ) -> tuple[PendingPress, msg_types.BotCallbackAnswer]:
        """``messages.setBotCallbackAnswer``: resolve the press or raise Telegram's error.

        A refused answer (too long, bad URL) leaves the query pending, so the bot can answer
        again correctly within the window.
        """
        if not bot.is_bot:
            raise USER_BOT_REQUIRED()
        pending = self._pending.get(query_id)
        if (
            pending is None
            or pending.bot_id != bot.id
            # Past the window the press belongs to expire(), which times the user out.
            or self._clock() >= pending.deadline
        ):
            raise QUERY_ID_INVALID()
        if message is not None and len(message) > self._config.callback_message_max:
            raise MESSAGE_TOO_LONG()
        if url:
            # The session's record may predate a username change: ask the storage.
            current = self._storage.accounts.get(bot.id) or bot
            ok = len(url.encode()) <= self._config.url_length_max and (
                is_game_url(url) if pending.game else is_bot_deep_link(url, current.username)
            )
            if not ok:
                raise URL_INVALID()
        del self._pending[query_id]
        result = msg_types.BotCallbackAnswer(
            alert=alert,
            has_url=bool(url),
            message=message or None,
            url=url or None,
            cache_time=min(max(cache_time, 0), MAX_CACHE_TIME),
        )
        return pending, result

    # -- time -----------------------------------------------------------------------------------

    def expire(self, now: float | None = None) -> list[PendingPress]:
        """Remove and return the presses whose window has closed by ``now``."""
        if now is None:
            now = self._clock()
        expired: list[PendingPress] = []
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            deadline, query_id = heapq.heappop(heap)
            pending = self._pending.get(query_id)
            # Answered presses leave their heap entry behind: skip it.
            if pending is not None and pending.deadline == deadline:
                del self._pending[query_id]
                expired.append(pending)
        return expired

    def next_deadline(self) -> float | None:
        """The earliest deadline still pending (``None``: nothing pending)."""
        heap = self._deadlines
        while heap and heap[0][1] not in self._pending:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _presser(self, user: Account, bot_id: int) -> types.User:
        key = (user.id, bot_id)
        memo = self._pressers
        hit = memo.get(key)
        if hit is not None and (hit[0] is user or hit[0] == user):
            return hit[1]
        rendered = render_user(user, bot_id)
        if hit is None and len(memo) >= _PRESSER_MEMO_SIZE:
            del memo[next(iter(memo))]
        memo[key] = (user, rendered)
        return rendered

    def _new_query_id(self) -> int:
        while True:
            query_id = int.from_bytes(self._random(8), "little", signed=True)
            if query_id != 0 and query_id not in self._pending:
                return query_id
