"""Package root, beside the layers: log lines a client can cause, rate-limited per kind.

A client can make the server log at will: send a layer the server does not serve, hit a bug
that ends in ``500 INTERNAL``, open connections past a cap, make a connection fail. Logged
each time, one client fills the log (an attack filled 110 MB in 25 s). :class:`RateLimitedLog`
writes the first line of each kind (the ``key`` its caller picks: the kind of event, not the
client, so that many clients together are bounded too) and then at most one line of that kind
every ``period`` seconds, saying how many were left out meanwhile. Time comes from the
injected clock, so tests move it instead of sleeping.

It sits at the package root, like the clock, because every layer that meets clients uses it:
the server's dispatcher (``loopgram.server``) and the network driver (``loopgram.net``). It
imports nothing of ours.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["RateLimitedLog"]


class RateLimitedLog:
    """``logger`` with at most one line per ``key`` every ``period`` seconds.

    ``max_keys`` bounds the kinds remembered (the oldest is forgotten first): callers use a
    handful of fixed keys, but a key built from client data must not grow memory.
    """

    __slots__ = ("_clock", "_kinds", "logger", "max_keys", "period")

    def __init__(
        self,
        logger: logging.Logger,
        *,
        clock: Callable[[], float],
        period: float = 60.0,
        max_keys: int = 256,
    ) -> None:
        if period < 0 or max_keys <= 0:
            raise ValueError("period must not be negative and max_keys must be positive")
        self.logger = logger
        self.period = period
        self.max_keys = max_keys
        self._clock = clock
        self._kinds: dict[Hashable, list[float]] = {}  # key -> [last logged at, left out]

    def log(self, level: int, key: Hashable, message: str, *args: object, **kwargs: Any) -> bool:
        """Log ``message % args`` at ``level`` unless a line of ``key`` went out less than
        ``period`` seconds ago; returns whether it was written. ``kwargs`` go to
        ``Logger.log`` (``exc_info=True``...)."""
        if not self.logger.isEnabledFor(level):
            return False
        now = self._clock()
        kinds = self._kinds
        state = kinds.get(key)
        if state is not None and now - state[0] < self.period:
            state[1] += 1
            return False
        left_out = int(state[1]) if state is not None else 0
        if state is None:
            if len(kinds) >= self.max_keys:
                del kinds[next(iter(kinds))]
            kinds[key] = [now, 0]
        else:
            state[0], state[1] = now, 0
        if left_out:
            message += " (and %d more like it since the last such line)"
            args = (*args, left_out)
        kwargs.setdefault("stacklevel", 2)  # the record names the caller, not this module
        self.logger.log(level, message, *args, **kwargs)
        return True

    def warning(self, key: Hashable, message: str, *args: object, **kwargs: Any) -> bool:
        kwargs.setdefault("stacklevel", 3)
        return self.log(logging.WARNING, key, message, *args, **kwargs)

    def error(self, key: Hashable, message: str, *args: object, **kwargs: Any) -> bool:
        kwargs.setdefault("stacklevel", 3)
        return self.log(logging.ERROR, key, message, *args, **kwargs)
