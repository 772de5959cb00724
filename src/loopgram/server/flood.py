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

Several processes serving one set of accounts share the buckets that a bot or a test would
hit -- a bot's per-chat and all-chats buckets, and the per-method rates configured in
``flood_limits`` -- through ``SharedBuckets`` (``loopgram.cluster`` keeps them in Redis); the
generous default per-method rate, there only to stop a runaway loop, stays per process. The
check stays local and synchronous (it runs before every call): each spend of a shared
bucket is reported, and the shared bucket's level that comes back replaces the local one's.
A bot flooding one chat through two processes thus hits the limit, give or take the spends
still on their way (at most a few calls past the burst, never twice the burst).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from loopgram.clock import Clock
from loopgram.server.config import Rate, ServerConfig
from loopgram.server.errors import FloodWait
from loopgram.tl import types

__all__ = ["BOT_MESSAGE_METHODS", "FloodLimiter", "SharedBuckets"]

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


Level = Callable[[str, float, float], None]
"""``(key, tokens, at)``: the shared bucket ``key`` held ``tokens`` at clock time ``at``, minus
the spends of this process not reported yet."""


class SharedBuckets(Protocol):
    """The buckets every process of a cluster spends from."""

    def bind(self, level: Level) -> None:
        """Report the shared levels to ``level`` from now on."""
        ...

    def spent(self, key: str, rate: Rate, now: float) -> None:
        """One token of the shared bucket ``key`` (at ``rate``) was spent at ``now``; never
        blocks (the report goes in the background)."""
        ...


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
        self._shared: SharedBuckets | None = None

    def share(self, shared: SharedBuckets) -> None:
        """Spend the shared buckets (see the module) with the other processes of ``shared``."""
        self._shared = shared
        shared.bind(self.level)

    def level(self, key: str, tokens: float, at: float) -> None:
        """What a shared bucket holds everywhere (``Level``): the local bucket follows it."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return
        bucket.tokens = min(float(bucket.rate.burst), tokens)
        bucket.updated = at

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
                wanted.append(self._keyed((caller, method), rate, method in config.flood_limits))
            if wanted:
                self._spend(wanted)
        elif rate is not None:  # every other call: its (caller, method) bucket alone
            if self._shared is None:  # a process alone: the common case, kept short
                self._spend((((caller, method), rate, False),))
            else:
                self._spend((self._keyed((caller, method), rate, method in config.flood_limits),))

    def _keyed(self, key: Hashable, rate: Rate, shared: bool) -> tuple[Hashable, Rate, bool]:
        """A bucket as ``_spend`` takes it; a shared one is named by text, as in Redis."""
        if shared and self._shared is not None:
            return repr(key), rate, True
        return key, rate, False

    def _message_rates(self, caller: Hashable, query: object) -> list[tuple[Hashable, Rate, bool]]:
        """The (bot, chat) and (bot, all chats) buckets a bot's message counts against."""
        config = self._config
        wanted: list[tuple[Hashable, Rate, bool]] = []
        chat = _chat_of(query)
        if chat is not None:
            key, group = chat
            per_chat = config.bot_group_rate if group else config.bot_chat_rate
            if per_chat is not None:
                wanted.append(self._keyed((caller, key), per_chat, True))
        if config.bot_messages_rate is not None:
            wanted.append(self._keyed((caller, _ALL_CHATS), config.bot_messages_rate, True))
        return wanted

    def _spend(self, wanted: Sequence[tuple[Hashable, Rate, bool]]) -> None:
        """One token of each bucket, or ``FloodWait`` (the longest wait) and none."""
        now = self._clock()
        buckets = [self._refilled(key, rate, now) for key, rate, _ in wanted]
        wait = 0.0
        for bucket in buckets:
            if bucket.tokens < 1.0:
                wait = max(wait, (1.0 - bucket.tokens) / bucket.rate.per_second)
        if wait > 0:
            raise FloodWait(max(1, math.ceil(wait)))
        for bucket in buckets:
            bucket.tokens -= 1.0
        shared = self._shared
        if shared is not None:
            for key, rate, is_shared in wanted:
                if is_shared:
                    shared.spent(str(key), rate, now)

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
