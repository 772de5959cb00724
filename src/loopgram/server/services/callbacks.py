"""Server layer: the callback-query rules (DESIGN.md, "The callback-query rules").

Pure logic over storage and the injected clock and randomness, no event loop: a user's
``messages.getBotCallbackAnswer`` becomes a ``PendingPress`` (``press``): a ``PendingCall``
and the update for the bot; the bot's ``messages.setBotCallbackAnswer`` is checked against
that call (``answer``) and gives the user's ``messages.botCallbackAnswer``, or fails with
Telegram's error. Keeping calls pending, claiming them once and timing them out
(``BOT_RESPONSE_TIMEOUT``) is the pending-call table's (``loopgram.server.pending``), which
the broker (``loopgram.server.presses``) drives.

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

import re
from typing import Final
from urllib.parse import parse_qs, urlsplit

from loopgram.clock import Clock, RandomBytes
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
from loopgram.server.pending import CallKind, NewCall, PendingCall, PendingCalls
from loopgram.server.services.channels import CHANNEL_PRIVATE, render_channel
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


PendingPress = NewCall
"""A callback query to keep pending: its ``PendingCall`` (kind ``PRESS``) and the update."""


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
        calls: PendingCalls,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._random = random_bytes
        self._peers = peers
        self._messages = messages
        self._keys = keys
        self._config = config
        # Read only to count and to draw fresh ids: the broker adds, claims and expires.
        self._calls = calls
        self._targets = PressTargets()
        # (presser, bot) -> (the presser's record, the User the bot sees): a user presses
        # again and again, and the rendering only changes when the record does.
        self._pressers: dict[tuple[int, int], tuple[Account, types.User]] = {}

    def __len__(self) -> int:
        """Presses pending in this process."""
        return self._calls.count(CallKind.PRESS)

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
        if isinstance(peer, types.InputPeerChannel):
            return self._press_in_channel(user, peer, msg_id, data=data, game=game)
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
        """The press to keep pending until the bot answers or ``callback_timeout`` passes."""
        return NewCall(
            PendingCall(
                kind=CallKind.PRESS,
                query_id=query_id,
                bot_id=bot.id,
                user_id=user.id,
                deadline=now + self._config.callback_timeout,
                game=game,
            ),
            types.Updates(
                updates=[update],
                users=[self._presser(user, bot.id)],
                chats=chats,
                date=int(now),
                seq=0,
            ),
        )

    def _pressed_target(
        self, bot: Account, bot_ref: PeerRef, copy: StoredMessage, *, data: bytes | None, game: bool
    ) -> tuple[StoredMessage, str | None]:
        """The button a press on the bot's message ``copy`` hits: the bot's own copy of the
        message (in its box under ``bot_ref``) and, for a game button, the game's short name."""
        game_short_name = self._button(copy.reply_markup, copy.media, data=data, game=game)
        bot_copy = self._messages.find_copy(bot.id, bot_ref, copy.global_id)
        if bot_copy is None:
            raise MESSAGE_ID_INVALID()
        return bot_copy, game_short_name

    def _button(
        self, markup: bytes | None, media_bytes: bytes | None, *, data: bytes | None, game: bool
    ) -> str | None:
        """Check that the keyboard ``markup`` has the pressed button; for a game button, the
        game's short name (from the message's ``media_bytes``)."""
        target = self._targets.find(markup, data=data, game=game)
        if target is None:
            raise DATA_INVALID()
        if target.requires_password:
            raise PASSWORD_MISSING()
        if not target.game:
            return None
        media = parse_media(media_bytes)
        if not isinstance(media, types.MessageMediaGame) or not isinstance(media.game, types.Game):
            raise DATA_INVALID()
        return media.game.short_name

    def _press_in_channel(
        self,
        user: Account,
        peer: types.InputPeerChannel,
        msg_id: int,
        *,
        data: bytes | None,
        game: bool,
    ) -> PendingPress:
        """A press in a supergroup or channel: any present member (a channel's subscriber
        too) presses a bot's message, which has one id for everyone; the bot gets the
        channel as ``peer`` and the channel's ``chat_instance``. An unknown channel (or
        another viewer's access hash) is ``PEER_ID_INVALID``; a user who left or was
        banned gets ``CHANNEL_PRIVATE``."""
        channel = self._storage.channels.get(peer.channel_id)
        if channel is None or peer.access_hash != self._keys.channel_access_hash(
            user.id, channel.id
        ):
            raise PEER_ID_INVALID()
        member = self._storage.channels.member(channel.id, user.id)
        if member is None or not member.present:
            raise CHANNEL_PRIVATE()
        msg = self._storage.channels.message(channel.id, msg_id)
        if msg is None:
            raise MESSAGE_ID_INVALID()
        if game == (data is not None):
            raise DATA_INVALID()
        bot = self._storage.accounts.get(msg.sender_id)
        if bot is None or not bot.is_bot or bot.id == user.id:
            raise DATA_INVALID()
        game_short_name = self._button(msg.reply_markup, msg.media, data=data, game=game)
        now = self._clock()
        query_id = self._new_query_id()
        update = types.UpdateBotCallbackQuery(
            query_id=query_id,
            user_id=user.id,
            peer=types.PeerChannel(channel_id=channel.id),
            msg_id=msg.id,
            chat_instance=self._keys.channel_chat_instance(channel.id),
            data=data,
            game_short_name=game_short_name,
        )
        chats = [render_channel(self._storage, self._keys, channel, bot.id)]
        return self._enqueue(user, bot, query_id, update, chats, game=game, now=now)

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
        chats: list[abcs.Chat] = (
            [] if chat is None else [render_chat(self._storage, chat, bot.id, keys=self._keys)]
        )
        return self._enqueue(user, bot, query_id, update, chats, game=game, now=now)

    # -- the bot's side -----------------------------------------------------------------------

    def answer(
        self,
        bot: Account,
        pending: PendingCall | None,
        *,
        alert: bool = False,
        message: str | None = None,
        url: str | None = None,
        cache_time: int = 0,
    ) -> msg_types.BotCallbackAnswer:
        """``messages.setBotCallbackAnswer`` for the press ``pending`` (``None``: no press
        pending under the id given): the user's answer, or Telegram's error.

        A refused answer (too long, bad URL) leaves the query pending, so the bot can answer
        again correctly within the window; the caller claims the press for an accepted one.
        """
        if not bot.is_bot:
            raise USER_BOT_REQUIRED()
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
        return msg_types.BotCallbackAnswer(
            alert=alert,
            has_url=bool(url),
            message=message or None,
            url=url or None,
            cache_time=min(max(cache_time, 0), MAX_CACHE_TIME),
        )

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
            if query_id != 0 and not self._calls.known(CallKind.PRESS, query_id):
                return query_id
