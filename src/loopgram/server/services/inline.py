"""Server layer: the inline-mode rules -- inline queries, the bot's results, the chosen result.

Pure logic over storage, the injected clock and randomness and the hub, no event loop, in
the shape of ``CallbackService``: a user's ``messages.getInlineBotResults`` becomes a
``PendingInlineQuery`` (``query``) holding the ``updateBotInlineQuery`` for the bot; the bot's
``messages.setInlineBotResults`` resolves it (``answer``) into ``messages.botResults`` or
fails with Telegram's error; ``expire(now)`` hands back the queries whose window closed (their
users get ``BOT_RESPONSE_TIMEOUT``). The answered results stay sendable for a while: the
user's ``messages.sendInlineBotResult`` (``send``) turns one into a chat message via the bot
(``MessageService.send_inline``), whose inline keyboard the bot then gets presses of as
``updateInlineBotCallbackQuery`` and edits with ``messages.editInlineBotMessage``. Whoever owns
the waiting callers (``loopgram.server.presses``) maps pending queries to awaitables.

Choices where Telegram's rule needs a local reading:

- Every bot has inline mode (there is no @BotFather to switch it on), so no
  ``BOT_INLINE_DISABLED``; bots never ask for the user's location, so ``geo_point`` is dropped.
- The window for the bot's answer is the callback-query window (``callback_timeout``).
- Every query asks the bot: results are not cached on the server for other users, whatever
  ``cache_time`` and ``private`` say; ``cache_time`` is clamped like a callback answer's and
  relayed for the client's cache.
- An answer's results can be sent for ``inline_results_ttl`` seconds (default 300) after it, by
  the user who asked, as often as they like. Past that, or for a query that was never answered
  or is someone else's, ``sendInlineBotResult`` answers ``INLINE_RESULT_EXPIRED``, as Telegram
  does for results it no longer holds.
- Results: ``inputBotInlineResult`` of type ``article`` (a title is required) with an
  ``inputBotInlineMessageText``, optionally with an inline keyboard. Media results (photo,
  document, game) answer ``RESULT_TYPE_INVALID`` and other message kinds
  ``SEND_MESSAGE_TYPE_INVALID``: loopgram stores no media. A result with an empty id (Telethon's
  builder sends ``""`` unless told otherwise) gets a server-made one, unique in the answer.
- ``switch_pm`` / ``switch_webview`` are relayed as given; ``gallery`` is relayed.
- A query longer than ``inline_query_length_max`` (256) characters, or an offset longer than
  64 bytes, reaches the bot cut to that length.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from loopgram.mtproto.deps import Clock, RandomBytes
from loopgram.server.config import MAX_CACHE_TIME, ServerConfig
from loopgram.server.errors import (
    ARTICLE_TITLE_EMPTY,
    BOT_INVALID,
    BOT_METHOD_INVALID,
    INLINE_RESULT_EXPIRED,
    MESSAGE_EMPTY,
    MESSAGE_TOO_LONG,
    NEXT_OFFSET_INVALID,
    QUERY_ID_EMPTY,
    QUERY_ID_INVALID,
    REPLY_MARKUP_INVALID,
    RESULT_ID_DUPLICATE,
    RESULT_ID_EMPTY,
    RESULT_ID_INVALID,
    RESULT_TYPE_INVALID,
    RESULTS_TOO_MUCH,
    SEND_MESSAGE_TYPE_INVALID,
    USER_BOT_REQUIRED,
)
from loopgram.server.hub import UpdateHub
from loopgram.server.services.limits import pack_checked_entities
from loopgram.server.services.markup import MarkupRules
from loopgram.server.services.messages import MessageService
from loopgram.server.services.peers import Peers
from loopgram.server.services.render import render_user
from loopgram.storage import Account, Storage
from loopgram.tl import abcs, types
from loopgram.tl.types import messages as msg_types

_ARTICLE: Final = "article"
_ID_MAX_BYTES: Final = 64
_OFFSET_MAX_BYTES: Final = 64

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PendingInlineQuery:
    """An inline query waiting for the bot's results."""

    query_id: int
    bot_id: int
    user_id: int
    query: str
    deadline: float
    """Clock time at which the window closes (an answer at or after it is too late)."""
    update: types.Updates
    """What the bot receives: ``updates`` with one ``updateBotInlineQuery``, the user in
    ``users``, ``date`` set, ``seq`` 0."""


@dataclass(frozen=True, slots=True)
class _Result:
    """What sending one result writes into the chat."""

    text: str
    entities: list[abcs.MessageEntity] | None
    reply_markup: abcs.ReplyMarkup | None
    """As the bot gave it: ``send_inline`` checks it again and stores its output form."""
    inline_keyboard: bool
    """Whether the message gets buttons (and the bot its inline message id)."""


@dataclass(frozen=True, slots=True)
class _Answered:
    bot_id: int
    user_id: int
    query: str
    expires: float
    results: Mapping[str, _Result]


class _Deadlines(Generic[T]):
    """Items by query id, each due at a deadline; ``expire`` pops the due ones in O(log n)."""

    def __init__(self) -> None:
        self._items: dict[int, tuple[float, T]] = {}
        self._heap: list[tuple[float, int]] = []

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: int) -> bool:
        return key in self._items

    def add(self, key: int, deadline: float, item: T) -> None:
        self._items[key] = (deadline, item)
        heapq.heappush(self._heap, (deadline, key))

    def get(self, key: int) -> T | None:
        entry = self._items.get(key)
        return None if entry is None else entry[1]

    def pop(self, key: int) -> T | None:
        entry = self._items.pop(key, None)
        return None if entry is None else entry[1]

    def expire(self, now: float) -> list[T]:
        due: list[T] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, key = heapq.heappop(heap)
            entry = self._items.get(key)
            # Items popped before their deadline leave their heap entry behind: skip it.
            if entry is not None and entry[0] == deadline:
                del self._items[key]
                due.append(entry[1])
        return due

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap and heap[0][1] not in self._items:
            heapq.heappop(heap)
        return heap[0][0] if heap else None


class InlineService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        random_bytes: RandomBytes,
        hub: UpdateHub,
        peers: Peers,
        messages: MessageService,
        config: ServerConfig,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._random = random_bytes
        self._hub = hub
        self._peers = peers
        self._messages = messages
        self._config = config
        self._markup = MarkupRules(config)
        self._pending: _Deadlines[PendingInlineQuery] = _Deadlines()
        self._answered: _Deadlines[_Answered] = _Deadlines()

    def __len__(self) -> int:
        """Queries still waiting for the bot's answer."""
        return len(self._pending)

    def get(self, query_id: int) -> PendingInlineQuery | None:
        return self._pending.get(query_id)

    # -- the user asks ------------------------------------------------------------------------

    def query(
        self,
        user: Account,
        bot: abcs.InputUser,
        peer: abcs.InputPeer,
        text: str,
        offset: str,
    ) -> PendingInlineQuery:
        """``messages.getInlineBotResults``: a new pending query for the bot.

        ``peer_type`` tells the bot where the user types: the chat with the bot itself
        (``SameBotPM``), with another bot (``BotPM``) or with a user, oneself included (``PM``);
        ``inputPeerEmpty`` (a client that does not say) sends none.
        """
        if user.is_bot:
            raise BOT_METHOD_INVALID()
        target = self._peers.user(user, bot)
        if not target.is_bot:
            raise BOT_INVALID()
        # What the bot is handed stays within Telegram's sizes (a query of 256 characters,
        # an offset of 64 bytes -- the bot's own next_offset, echoed).
        text = text[: self._config.inline_query_length_max]
        if len(offset.encode()) > _OFFSET_MAX_BYTES:
            offset = offset.encode()[:_OFFSET_MAX_BYTES].decode(errors="ignore")
        peer_type: abcs.InlineQueryPeerType | None = None
        if not isinstance(peer, types.InputPeerEmpty):
            chat = self._peers.peer(user, peer)
            if chat.id == target.id:
                peer_type = types.InlineQueryPeerTypeSameBotPM()
            elif chat.is_bot:
                peer_type = types.InlineQueryPeerTypeBotPM()
            else:
                peer_type = types.InlineQueryPeerTypePM()
        now = self._clock()
        query_id = self._new_query_id()
        pending = PendingInlineQuery(
            query_id=query_id,
            bot_id=target.id,
            user_id=user.id,
            query=text,
            deadline=now + self._config.callback_timeout,
            update=types.Updates(
                updates=[
                    types.UpdateBotInlineQuery(
                        query_id=query_id,
                        user_id=user.id,
                        query=text,
                        peer_type=peer_type,
                        offset=offset,
                    )
                ],
                users=[render_user(user, target.id)],
                chats=[],
                date=int(now),
                seq=0,
            ),
        )
        self._pending.add(query_id, pending.deadline, pending)
        return pending

    # -- the bot answers ----------------------------------------------------------------------

    def answer(
        self,
        bot: Account,
        query_id: int,
        results: Sequence[abcs.InputBotInlineResult],
        *,
        cache_time: int,
        gallery: bool = False,
        next_offset: str | None = None,
        switch_pm: abcs.InlineBotSwitchPM | None = None,
        switch_webview: abcs.InlineBotWebView | None = None,
    ) -> tuple[PendingInlineQuery, msg_types.BotResults]:
        """``messages.setInlineBotResults``: resolve the query or raise Telegram's error.

        A refused answer (a bad result) leaves the query pending, so the bot can answer again
        correctly within the window.
        """
        if not bot.is_bot:
            raise USER_BOT_REQUIRED()
        now = self._clock()
        pending = self._pending.get(query_id)
        if pending is None or pending.bot_id != bot.id or now >= pending.deadline:
            # Past the window the query belongs to expire(), which times the user out.
            raise QUERY_ID_INVALID()
        if len(results) > self._config.inline_results_max:
            raise RESULTS_TOO_MUCH()
        if next_offset is not None and len(next_offset.encode()) > _OFFSET_MAX_BYTES:
            raise NEXT_OFFSET_INVALID()
        given = [r.id for r in results if isinstance(r, types.InputBotInlineResult) and r.id]
        if len(set(given)) != len(given):
            raise RESULT_ID_DUPLICATE()
        taken = set(given)
        rendered: list[abcs.BotInlineResult] = []
        stored: dict[str, _Result] = {}
        for result in results:
            result_id = result.id if isinstance(result, types.InputBotInlineResult) else ""
            if not result_id:
                result_id = self._new_result_id(taken)
                taken.add(result_id)
            shown, kept = self._result(bot, result, result_id)
            rendered.append(shown)
            stored[result_id] = kept
        self._pending.pop(query_id)
        self._answered.add(
            query_id,
            now + self._config.inline_results_ttl,
            _Answered(
                bot_id=bot.id,
                user_id=pending.user_id,
                query=pending.query,
                expires=now + self._config.inline_results_ttl,
                results=stored,
            ),
        )
        # The session's record may predate a profile change: the user sees the current one.
        current = self._storage.accounts.get(bot.id) or bot
        return pending, msg_types.BotResults(
            gallery=gallery,
            query_id=query_id,
            next_offset=next_offset or None,
            switch_pm=switch_pm,
            switch_webview=switch_webview,
            results=rendered,
            cache_time=min(max(cache_time, 0), MAX_CACHE_TIME),
            users=[render_user(current, pending.user_id)],
        )

    # -- the user sends a result --------------------------------------------------------------

    def send(
        self,
        user: Account,
        peer: abcs.InputPeer,
        *,
        random_id: int,
        query_id: int,
        result_id: str,
        origin: Hashable = None,
    ) -> types.Updates:
        """``messages.sendInlineBotResult``: the chosen result as the user's message via the
        bot; the caller's answer is what ``messages.sendMessage`` answers.

        The bot always gets ``updateBotInlineSend`` (on Telegram only with inline feedback
        switched on at @BotFather, which loopgram does not have); as on Telegram, its
        ``msg_id`` -- the ``inputBotInlineMessageID64`` that presses and
        ``editInlineBotMessage`` use -- only when the message has an inline keyboard. Like
        callback queries it is not logged for ``updates.getDifference``: an offline bot
        misses it.
        """
        if user.is_bot:
            raise BOT_METHOD_INVALID()
        chat = self._peers.peer(user, peer)
        if query_id == 0:
            raise QUERY_ID_EMPTY()
        if not result_id:
            raise RESULT_ID_EMPTY()
        now = self._clock()
        answered = self._answered.get(query_id)
        if answered is None or answered.user_id != user.id or now >= answered.expires:
            raise INLINE_RESULT_EXPIRED()
        result = answered.results.get(result_id)
        if result is None:
            raise RESULT_ID_INVALID()
        bot = self._storage.accounts.get(answered.bot_id)
        if bot is None:
            raise INLINE_RESULT_EXPIRED()
        sent = self._messages.send_inline(
            bot,
            user,
            chat,
            result.text,
            reply_markup=result.reply_markup,
            entities=result.entities,
            random_id=random_id,
            origin=origin,
        )
        if sent.repeated:
            return sent.updates  # the bot heard of this message when it was first sent
        feedback = types.UpdateBotInlineSend(
            user_id=user.id,
            query=answered.query,
            id=result_id,
            msg_id=sent.inline_id if result.inline_keyboard else None,
        )
        self._hub.publish(
            bot.id,
            types.Updates(
                updates=[feedback],
                users=[render_user(user, bot.id)],
                chats=[],
                date=int(now),
                seq=0,
            ),
        )
        return sent.updates

    # -- time -----------------------------------------------------------------------------------

    def expire(self, now: float | None = None) -> list[PendingInlineQuery]:
        """Remove and return the queries whose window has closed by ``now`` (and forget the
        results whose time to be sent has passed)."""
        if now is None:
            now = self._clock()
        self._answered.expire(now)
        return self._pending.expire(now)

    def next_deadline(self) -> float | None:
        """The earliest deadline of a query still pending (``None``: nothing pending)."""
        return self._pending.next_deadline()

    # -- internals ------------------------------------------------------------------------------

    def _result(
        self, bot: Account, result: abcs.InputBotInlineResult, result_id: str
    ) -> tuple[types.BotInlineResult, _Result]:
        if not isinstance(result, types.InputBotInlineResult) or result.type != _ARTICLE:
            raise RESULT_TYPE_INVALID()
        if len(result_id.encode()) > _ID_MAX_BYTES:
            raise RESULT_ID_INVALID()
        if not (result.title or "").strip():
            raise ARTICLE_TITLE_EMPTY()
        message = result.send_message
        if not isinstance(message, types.InputBotInlineMessageText):
            raise SEND_MESSAGE_TYPE_INVALID()
        if not message.message.strip():
            raise MESSAGE_EMPTY()
        if len(message.message) > self._config.message_length_max:
            raise MESSAGE_TOO_LONG()
        # Checked now, so that the bot learns of bad formatting, not the user who sends it.
        pack_checked_entities(
            message.message,
            message.entities,
            self._config,
            lambda user: self._peers.user(bot, user),
        )
        markup: abcs.ReplyMarkup | None = None
        if message.reply_markup is not None:
            # An inline message has no chat of its own to show a reply keyboard in.
            if not isinstance(message.reply_markup, types.ReplyInlineMarkup):
                raise REPLY_MARKUP_INVALID()
            markup = self._markup.check(
                message.reply_markup,
                resolve_user=lambda u: self._peers.user(bot, u),
                allow_game=False,
            )
        shown = types.BotInlineResult(
            id=result_id,
            type=result.type,
            title=result.title,
            description=result.description,
            url=result.url,
            thumb=_web_document(result.thumb),
            content=_web_document(result.content),
            send_message=types.BotInlineMessageText(
                no_webpage=message.no_webpage,
                invert_media=message.invert_media,
                message=message.message,
                entities=message.entities,
                reply_markup=markup,
            ),
        )
        kept = _Result(
            text=message.message,
            entities=message.entities,
            reply_markup=message.reply_markup,
            inline_keyboard=isinstance(markup, types.ReplyInlineMarkup) and bool(markup.rows),
        )
        return shown, kept

    def _new_query_id(self) -> int:
        while True:
            query_id = int.from_bytes(self._random(8), "little", signed=True)
            # The id names the answered results too: it must not collide with those either.
            if query_id != 0 and query_id not in self._pending and query_id not in self._answered:
                return query_id

    def _new_result_id(self, taken: set[str]) -> str:
        while True:
            result_id = self._random(8).hex()
            if result_id not in taken:
                return result_id


def _web_document(document: abcs.InputWebDocument | None) -> abcs.WebDocument | None:
    if not isinstance(document, types.InputWebDocument):
        return None
    return types.WebDocumentNoProxy(
        url=document.url,
        size=document.size,
        mime_type=document.mime_type,
        attributes=document.attributes,
    )
