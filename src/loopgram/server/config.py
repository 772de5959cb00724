"""Server layer: the knobs of the rules (login code, callback window, limits) and the facts
about where the server listens, both plain frozen dataclasses passed in by whoever builds the
server (``loopgram serve``, the test fixture).
"""

from __future__ import annotations

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
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate needs per_second > 0 and burst >= 1")


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Where clients reach the server: what ``help.getConfig`` advertises as DC 2."""

    host: str = "127.0.0.1"
    port: int = 14900
    dc_id: int = DC_ID


def _no_limits() -> Mapping[str, Rate]:
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
    inline_results_ttl: float = 300.0
    """Seconds after the bot's answer during which its inline results can be sent."""
    difference_limit: int = 1000
    """Most log entries one ``updates.getDifference`` returns before it answers a slice."""
    min_layer: int = 158
    """Oldest API layer served (older clients get CONNECTION_LAYER_INVALID)."""
    flood_default: Rate = Rate(per_second=100.0, burst=1000)
    """The rate every (account, method) pair may call at; generous, so only abuse hits it."""
    flood_limits: Mapping[str, Rate] = field(default_factory=_no_limits)
    """Per-method rates by TL name (``"messages.sendMessage"``), overriding the default."""

    def rate_for(self, method: str) -> Rate:
        return self.flood_limits.get(method, self.flood_default)
