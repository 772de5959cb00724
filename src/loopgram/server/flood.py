"""Server layer: flood limits, token buckets on the injected clock.

One mechanism, several keys: every call spends a token of its (caller, method) bucket, at the
rate ``ServerConfig.rate_for(method)`` gives; a message a bot sends also spends one of its
(bot, chat) bucket -- ``bot_chat_rate`` in a private chat, ``bot_group_rate`` in a group or
channel -- and one of its (bot, all chats) bucket, ``bot_messages_rate``. Those are the limits
Telegram publishes for bots (about one message a second per chat, 20 a minute per group, 30 a
second overall), each with the short burst Telegram lets through, so an ordinary bot test
never waits while a bot that floods a chat does.

A caller that empties a bucket gets ``420 FLOOD_WAIT_X`` with X the whole seconds until the
next call would be allowed; the refused call costs nothing, in no bucket, as on Telegram.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Final

from loopgram.clock import Clock
from loopgram.server.config import Rate, ServerConfig
from loopgram.server.errors import FloodWait
from loopgram.tl import types

__all__ = ["BOT_MESSAGE_METHODS", "FloodLimiter"]

BOT_MESSAGE_METHODS: Final = frozenset(
    {
        "messages.sendMessage",
        "messages.sendMedia",
        "messages.sendMultiMedia",
        "messages.forwardMessages",
    }
)
"""The methods that post a message into a chat (what the per-chat limits count)."""

_ALL_CHATS: Final = "*"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    rate: Rate


def _chat_of(query: object) -> tuple[Hashable, bool] | None:
    """The chat a message goes to, and whether it is a group (or channel)."""
    peer = getattr(query, "to_peer", None) or getattr(query, "peer", None)
    if isinstance(peer, types.InputPeerUser | types.InputPeerUserFromMessage):
        return ("user", peer.user_id), False
    if isinstance(peer, types.InputPeerChat):
        return ("chat", peer.chat_id), True
    if isinstance(peer, types.InputPeerChannel | types.InputPeerChannelFromMessage):
        return ("channel", peer.channel_id), True
    if isinstance(peer, types.InputPeerSelf):
        return ("self",), False
    return None  # no peer the server knows: the handler refuses the call anyway


class FloodLimiter:
    """``check(caller, method)`` spends one token of every bucket the call counts against, or
    raises ``FloodWait`` and spends none.

    ``config`` gives the rates, read at each call. Buckets that have refilled completely
    carry no information, so they are dropped whenever the table grows past ``max_buckets``.
    """

    def __init__(self, clock: Clock, config: ServerConfig, *, max_buckets: int = 100_000) -> None:
        self._clock = clock
        self._config = config
        self._max_buckets = max_buckets
        self._buckets: dict[Hashable, _Bucket] = {}

    def check(
        self, caller: Hashable, method: str, query: object = None, *, bot: bool = False
    ) -> None:
        """Count one call of ``method`` by ``caller``; ``query`` and ``bot`` say whether it
        is a bot's message and where it goes."""
        config = self._config
        rate = config.rate_for(method)
        if bot and method in BOT_MESSAGE_METHODS and config.flood_enabled:
            wanted = self._message_rates(caller, query)
            if rate is not None:
                wanted.append(((caller, method), rate))
            if wanted:
                self._spend(wanted)
        elif rate is not None:  # every other call: its (caller, method) bucket alone
            self._spend((((caller, method), rate),))

    def _message_rates(self, caller: Hashable, query: object) -> list[tuple[Hashable, Rate]]:
        """The (bot, chat) and (bot, all chats) buckets a bot's message counts against."""
        config = self._config
        wanted: list[tuple[Hashable, Rate]] = []
        chat = _chat_of(query)
        if chat is not None:
            key, group = chat
            per_chat = config.bot_group_rate if group else config.bot_chat_rate
            if per_chat is not None:
                wanted.append(((caller, key), per_chat))
        if config.bot_messages_rate is not None:
            wanted.append(((caller, _ALL_CHATS), config.bot_messages_rate))
        return wanted

    def _spend(self, wanted: Sequence[tuple[Hashable, Rate]]) -> None:
        """One token of each bucket, or ``FloodWait`` (the longest wait) and none."""
        now = self._clock()
        buckets = [self._refilled(key, rate, now) for key, rate in wanted]
        wait = 0.0
        for bucket in buckets:
            if bucket.tokens < 1.0:
                wait = max(wait, (1.0 - bucket.tokens) / bucket.rate.per_second)
        if wait > 0:
            raise FloodWait(max(1, math.ceil(wait)))
        for bucket in buckets:
            bucket.tokens -= 1.0

    def _refilled(self, key: Hashable, rate: Rate, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_buckets:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(float(rate.burst), now, rate)
            return bucket
        bucket.rate = rate
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(rate.burst), bucket.tokens + elapsed * rate.per_second)
        bucket.updated = now
        return bucket

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.updated) * b.rate.per_second >= b.rate.burst
        ]
        for key in full:
            del self._buckets[key]
