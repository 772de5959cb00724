"""MTProto layer: the server salts of one auth key, with rotation and a grace window.

Spec: core.telegram.org/mtproto/description ("Server Salt"),
core.telegram.org/mtproto/service_messages ("Request for several future salts") and
core.telegram.org/api/optimisation (salts live about an hour; clients fetch future ones).

Each salt is valid for ``period`` seconds, the next one starting where it ends. A client
that has not switched yet keeps working for ``grace`` more seconds, so a request in flight
across the boundary is not refused. The salts are a value of the auth key (they outlive
connections and sessions: a client keeps its salt when it opens a new session), so a
:class:`~loopgram.mtproto.store.SessionStore` keeps one :class:`ServerSalts` per key.
"""

from __future__ import annotations

from typing import Final

from loopgram.clock import RandomBytes
from loopgram.tl.mtproto.types import FutureSalt

__all__ = ["DEFAULT_GRACE", "DEFAULT_PERIOD", "MAX_FUTURE_SALTS", "ServerSalts"]

DEFAULT_PERIOD: Final = 3600
DEFAULT_GRACE: Final = 1800
MAX_FUTURE_SALTS: Final = 64
"""Telegram answers ``get_future_salts`` with at most 64 salts, whatever ``num`` asks."""


class ServerSalts:
    """The salt schedule of one auth key: ``(valid_since, salt)`` pairs, oldest first.

    ``first`` is the salt the key exchange handed out (``new_nonce ^ server_nonce``), valid
    from ``now``. Later salts come from ``random_bytes`` as time needs them.
    """

    __slots__ = ("_random_bytes", "grace", "now_salt", "now_until", "period", "salts")

    def __init__(
        self,
        first: int,
        now: float,
        random_bytes: RandomBytes,
        *,
        period: int = DEFAULT_PERIOD,
        grace: int = DEFAULT_GRACE,
    ) -> None:
        if period <= 0 or grace < 0:
            raise ValueError("salt period must be positive and grace non-negative")
        self.period = period
        self.grace = grace
        self._random_bytes = random_bytes
        self.salts: list[tuple[int, int]] = [(int(now), first)]
        # The current salt and the end of its period, cached for the per-message check:
        # ``salt == now_salt and now < now_until`` is all a message usually costs.
        self.now_salt = first
        self.now_until = int(now) + period

    def _new_salt(self) -> int:
        while True:
            salt = int.from_bytes(self._random_bytes(8), "little", signed=True)
            if salt:  # 0 is what clients start with: it must never be valid
                return salt

    def _advance(self, now: float) -> None:
        """Extend the schedule up to ``now``, drop what is past its grace, cache the current."""
        salts = self.salts
        period = self.period
        while salts[-1][0] + period <= now:
            salts.append((salts[-1][0] + period, self._new_salt()))
        horizon = now - period - self.grace
        while len(salts) > 1 and salts[0][0] <= horizon:
            del salts[0]
        for since, salt in salts:
            if since <= now < since + period:
                self.now_salt = salt
                self.now_until = since + period
                break

    def current(self, now: float) -> int:
        """The salt a client should use at ``now``."""
        if now >= self.now_until:
            self._advance(now)
        return self.now_salt

    def accepts(self, salt: int, now: float) -> bool:
        """Whether a message carrying ``salt`` is accepted at ``now`` (current or in grace)."""
        if salt == self.now_salt and now < self.now_until:
            return True  # the hot path: one comparison per message
        self._advance(now)
        period = self.period
        grace = self.grace
        for since, known in self.salts:
            if known == salt and since <= now < since + period + grace:
                return True
        return False

    def future(self, now: float, num: int) -> list[FutureSalt]:
        """``num`` salts (1..64) starting with the current one, for ``future_salts``."""
        num = max(1, min(num, MAX_FUTURE_SALTS))
        self._advance(now)
        salts = self.salts
        period = self.period
        # The current salt's slot; 0 if the clock went back before the first one.
        start = next((i for i, (since, _) in enumerate(salts) if since <= now < since + period), 0)
        while len(salts) - start < num:
            salts.append((salts[-1][0] + period, self._new_salt()))
        return [
            FutureSalt(valid_since=since, valid_until=since + period, salt=salt)
            for since, salt in salts[start : start + num]
        ]
