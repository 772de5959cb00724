"""Server layer: the knobs of the rules (login code, callback window, limits) and the facts
about where the server listens, both plain frozen dataclasses passed in by whoever builds the
server (``loopgram serve``, the test fixture).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

DC_ID: Final = 2
"""The one data centre loopgram pretends to be (never ``*_MIGRATE_X``)."""

MAX_CACHE_TIME: Final = 2_592_000
"""Thirty days: the longest ``cache_time`` a callback answer keeps (larger values are clamped)."""


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket: ``burst`` calls at once, refilled at ``per_second`` calls a second."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if not self.per_second > 0 or self.burst < 1:
            raise ValueError("a rate needs per_second > 0 and burst >= 1")

    @classmethod
    def parse(cls, text: str) -> Rate | None:
        """``"30/s"``, ``"20/min burst 5"``, ``"100/h"`` or ``"off"`` (``None``: no limit).

        The burst defaults to the count per unit (``"20/min"``: 20 at once, then one every
        3 s), the shape of Telegram's published limits.
        """
        words = text.strip().lower().split()
        if words == ["off"]:
            return None
        count, seconds, burst = 0.0, None, None
        if len(words) in (1, 3):
            count_text, _, unit = words[0].partition("/")
            seconds = _UNITS.get(unit)
            with contextlib.suppress(ValueError):
                count = float(count_text)
        if len(words) == 3:
            if words[1] != "burst" or not words[2].isdigit():
                seconds = None
            else:
                burst = int(words[2])
        if seconds is None or not 0 < count < math.inf or burst == 0:
            raise ValueError(
                f"{text!r} is not a rate: write COUNT/UNIT (unit s, min or h), optionally "
                "followed by 'burst N', or 'off'"
            )
        return cls(count / seconds, burst if burst is not None else max(1, math.ceil(count)))

    def __str__(self) -> str:
        for unit, seconds in _UNITS.items():
            count = self.per_second * seconds
            if count >= 1 and abs(count - round(count)) < 1e-9:
                return f"{round(count)}/{unit} burst {self.burst}"
        return f"{self.per_second:g}/s burst {self.burst}"


_UNITS: Final = {"s": 1.0, "min": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Where clients reach the server: what ``help.getConfig`` advertises as DC 2."""

    host: str = "127.0.0.1"
    port: int = 14900
    dc_id: int = DC_ID


FLOOD_EXEMPT: Final = frozenset(
    {
        "messages.setBotCallbackAnswer",
        "messages.setInlineBotResults",
        "messages.getBotCallbackAnswer",
        "messages.getInlineBotResults",
    }
)
"""Methods with no (account, method) limit by default: a bot answers as many callback and
inline queries as users send it, and each press or inline query waits on that bot, so it
is paced by the bot's answers; a per-method rate would only turn a busy test into
FLOOD_WAITs (one bot answering 220 pressing users got 13 119 of them at 100/s)."""


def _no_limits() -> Mapping[str, Rate | None]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The rules' parameters; every default is Telegram's value or a documented choice."""

    login_code: str = "12345"
    """The code every phone number signs in with (there is no SMS)."""
    login_code_ttl: int = 300
    """Seconds a ``phone_code_hash`` from ``auth.sendCode`` stays valid."""
    callback_timeout: float = 15.0
    """Seconds a bot has to answer a callback query before the user gets BOT_RESPONSE_TIMEOUT."""
    callback_message_max: int = 200
    """Longest ``message`` of a callback answer, in characters."""
    message_length_max: int = 4096
    """Longest message text, in characters."""
    callback_data_max: int = 64
    """Longest callback data of a button, in bytes."""
    max_buttons: int = 100
    """Most buttons one inline keyboard may hold."""
    history_limit_max: int = 100
    """Most messages one ``messages.getHistory`` page returns."""
    inline_results_max: int = 50
    """Most results one answer to an inline query may hold."""
    entities_max: int = 100
    """Most formatting entities one message keeps; Telegram ignores those past the 100th."""
    entities_size_max: int = 10_240
    """Most bytes the entities of one message take serialised (ENTITIES_TOO_LONG): Telegram
    bounds their total size, at roughly 10 KB of Markdown."""
    url_length_max: int = 2048
    """Longest URL of a text-URL entity or a URL button, in bytes."""
    buttons_per_row_max: int = 8
    """Most buttons one row of an inline keyboard may hold (12 in a reply keyboard)."""
    reply_keyboard_buttons_max: int = 300
    """Most buttons one reply keyboard may hold (Telegram: 300, 12 a row)."""
    reply_markup_size_max: int = 10_240
    """Most bytes one reply markup takes serialised (REPLY_MARKUP_TOO_LONG, about 10 KB as
    on Telegram)."""
    name_length_max: int = 64
    """Longest first or last name (and bot name), in characters."""
    inline_query_length_max: int = 256
    """Longest inline query text a user may send, in characters."""
    client_string_max: int = 256
    """Longest ``device_model``, ``system_version`` and ``app_version`` kept from
    ``initConnection`` (longer ones are cut, as they are only shown, never acted on)."""
    lang_code_max: int = 16
    """Longest ``lang_code``, ``system_lang_code`` and ``lang_pack`` of ``initConnection``
    (CONNECTION_LANG_PACK_INVALID beyond it)."""
    difference_size_max: int = 1_048_576
    """Most bytes of logged updates one ``updates.getDifference`` returns before it answers
    a slice (at least one update always goes)."""
    inline_results_ttl: float = 300.0
    """Seconds after the bot's answer during which its inline results can be sent."""
    difference_limit: int = 1000
    """Most log entries one ``updates.getDifference`` returns before it answers a slice."""
    min_layer: int = 158
    """Oldest API layer served (older clients get CONNECTION_LAYER_INVALID)."""
    flood_enabled: bool = True
    """Whether any flood limit applies (``False``: none of the rates below)."""
    flood_default: Rate | None = Rate(per_second=100.0, burst=1000)
    """What every (account, method) pair may call at, unless ``flood_limits`` or
    ``FLOOD_EXEMPT`` says otherwise: generous, so that only a runaway loop hits it."""
    flood_limits: Mapping[str, Rate | None] = field(default_factory=_no_limits)
    """Per-method rates by TL name (``"messages.sendMessage"``), overriding the default and
    the exemptions; ``None`` lifts the limit of that method."""
    bot_chat_rate: Rate | None = Rate(per_second=1.0, burst=20)
    """Messages one bot may send into one private chat: Telegram asks for about one a second
    and lets a short burst through."""
    bot_group_rate: Rate | None = Rate(per_second=20 / 60, burst=20)
    """Messages one bot may send into one group or channel: Telegram's 20 a minute."""
    bot_messages_rate: Rate | None = Rate(per_second=30.0, burst=1000)
    """Messages one bot may send in all chats together: Telegram's 30 a second."""

    def rate_for(self, method: str) -> Rate | None:
        """The (account, method) rate of ``method``; ``None``: not limited."""
        if not self.flood_enabled:
            return None
        if method in self.flood_limits:
            return self.flood_limits[method]
        if method in FLOOD_EXEMPT:
            return None
        return self.flood_default
