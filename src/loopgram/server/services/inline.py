"""Server layer: the inline-mode rules -- inline queries, the bot's results, the chosen result.

Pure logic over storage, the injected clock and randomness and the hub, no event loop, in
the shape of ``CallbackService``: a user's ``messages.getInlineBotResults`` becomes a
``PendingInlineQuery`` (``query``): a ``PendingCall`` and the ``updateBotInlineQuery`` for the
bot; the bot's ``messages.setInlineBotResults`` is checked against that call (``answer``) and
gives ``messages.botResults``, or fails with Telegram's error. Keeping queries pending,
claiming them once and timing them out (``BOT_RESPONSE_TIMEOUT``) is the pending-call table's
(``loopgram.server.pending``), as for presses; the broker (``loopgram.server.presses``) drives
it and hands the accepted answer back (``remember``). The answered results stay sendable for a
while: the user's ``messages.sendInlineBotResult`` (``send``) turns one into a chat message
via the bot (``MessageService.send_inline``), whose inline keyboard the bot then gets presses
of as ``updateInlineBotCallbackQuery`` and edits with ``messages.editInlineBotMessage``.

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

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from loopgram.clock import Clock, RandomBytes
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
from loopgram.server.pending import CallKind, DeadlineMap, NewCall, PendingCall, PendingCalls
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

PendingInlineQuery = NewCall
"""An inline query to keep pending: its ``PendingCall`` (kind ``INLINE``) and the update."""


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
class Answered:
    """An accepted answer's results, sendable by the user who asked until ``expires``."""

    query_id: int
    bot_id: int
    user_id: int
    query: str
    expires: float
    results: Mapping[str, _Result]


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
        calls: PendingCalls,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._random = random_bytes
        self._hub = hub
        self._peers = peers
        self._messages = messages
        self._config = config
        self._markup = MarkupRules(config)
        # Read only to count and to draw fresh ids: the broker adds, claims and expires.
        self._calls = calls
        self._answered: DeadlineMap[int, Answered] = DeadlineMap()

    def __len__(self) -> int:
        """Queries pending in this process, waiting for the bot's answer."""
        return self._calls.count(CallKind.INLINE)

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
        return NewCall(
            PendingCall(
                kind=CallKind.INLINE,
                query_id=query_id,
                bot_id=target.id,
                user_id=user.id,
                deadline=now + self._config.callback_timeout,
                query=text,
            ),
            types.Updates(
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

    # -- the bot answers ----------------------------------------------------------------------

    def answer(
        self,
        bot: Account,
        pending: PendingCall | None,
        results: Sequence[abcs.InputBotInlineResult],
        *,
        cache_time: int,
        gallery: bool = False,
        next_offset: str | None = None,
        switch_pm: abcs.InlineBotSwitchPM | None = None,
        switch_webview: abcs.InlineBotWebView | None = None,
    ) -> tuple[msg_types.BotResults, Answered]:
        """``messages.setInlineBotResults`` for the query ``pending`` (``None``: no query
        pending under the id given): the user's results and what stays sendable of them
        (for ``remember``), or Telegram's error.

        A refused answer (a bad result) leaves the query pending, so the bot can answer again
        correctly within the window; the caller claims the query for an accepted one.
        """
        if not bot.is_bot:
            raise USER_BOT_REQUIRED()
        now = self._clock()
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
        answered = Answered(
            query_id=pending.query_id,
            bot_id=bot.id,
            user_id=pending.user_id,
            query=pending.query,
            expires=now + self._config.inline_results_ttl,
            results=stored,
        )
        # The session's record may predate a profile change: the user sees the current one.
        current = self._storage.accounts.get(bot.id) or bot
        found = msg_types.BotResults(
            gallery=gallery,
            query_id=pending.query_id,
            next_offset=next_offset or None,
            switch_pm=switch_pm,
            switch_webview=switch_webview,
            results=rendered,
            cache_time=min(max(cache_time, 0), MAX_CACHE_TIME),
            users=[render_user(current, pending.user_id)],
        )
        return found, answered

    def remember(self, answered: Answered) -> None:
        """Keep an accepted answer's results sendable (the caller claimed its query)."""
        self._answered.add(answered.query_id, answered.expires, answered)

    def remember_delivered(self, call: PendingCall, found: msg_types.BotResults) -> None:
        """Keep the results a user got sendable in the process where the user waited, when
        the bot answered in another one (which remembered them there): rebuilt from what
        the user got, whose keyboards are the checked form of the bot's."""
        if call.query_id in self._answered:
            return
        kept: dict[str, _Result] = {}
        for result in found.results:
            if not isinstance(result, types.BotInlineResult):
                continue  # loopgram answers articles only
            shown = result.send_message
            if not isinstance(shown, types.BotInlineMessageText):
                continue
            markup = shown.reply_markup
            kept[result.id] = _Result(
                text=shown.message,
                entities=shown.entities,
                reply_markup=markup,
                inline_keyboard=isinstance(markup, types.ReplyInlineMarkup) and bool(markup.rows),
            )
        answered = Answered(
            query_id=call.query_id,
            bot_id=call.bot_id,
            user_id=call.user_id,
            query=call.query,
            expires=self._clock() + self._config.inline_results_ttl,
            results=kept,
        )
        self._answered.add(answered.query_id, answered.expires, answered)

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

    def expire(self, now: float | None = None) -> None:
        """Forget the results whose time to be sent has passed by ``now``."""
        self._answered.expire(self._clock() if now is None else now)

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
            if (
                query_id != 0
                and not self._calls.known(CallKind.INLINE, query_id)
                and query_id not in self._answered
            ):
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
