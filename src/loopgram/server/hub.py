"""Server layer: fan-out of updates to the live sessions of an account.

Services ``publish`` TL ``Updates`` for an account; every session subscribed for that account
(minus the one that caused them, if asked) gets them through the sink its driver gave when it
subscribed, which encodes them for the session's layer and writes them out. ``UpdateHub`` is
the interface; ``LocalHub`` serves one process. A hub shared between processes (Redis pub/sub)
implements the same three methods.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import Protocol

from loopgram.tl.abcs import Updates

log = logging.getLogger(__name__)

UpdateSink = Callable[[Updates], None]
"""Delivers updates to one session; must not block (the driver queues the bytes)."""


class Subscription(Protocol):
    def cancel(self) -> None:
        """Stop delivering to this sink (idempotent)."""
        ...


class UpdateHub(Protocol):
    def subscribe(self, account_id: int, key: Hashable, sink: UpdateSink) -> Subscription:
        """Deliver the account's updates to ``sink``; ``key`` names the session (for
        ``exclude``). Subscribing a key again replaces its sink."""
        ...

    def publish(self, account_id: int, updates: Updates, *, exclude: Hashable = None) -> int:
        """Deliver to every session of the account except ``exclude``; returns how many
        local sessions got it."""
        ...

    def online(self, account_id: int) -> bool:
        """Whether some session of the account is subscribed."""
        ...


class _LocalSubscription:
    __slots__ = ("_account_id", "_hub", "_key", "sink")

    def __init__(self, hub: LocalHub, account_id: int, key: Hashable, sink: UpdateSink) -> None:
        self._hub = hub
        self._account_id = account_id
        self._key = key
        self.sink = sink

    def cancel(self) -> None:
        self._hub._remove(self._account_id, self._key, self)


class LocalHub:
    """The in-process hub: a dict of account id -> {session key: subscription}."""

    def __init__(self) -> None:
        self._subs: dict[int, dict[Hashable, _LocalSubscription]] = {}

    def subscribe(self, account_id: int, key: Hashable, sink: UpdateSink) -> Subscription:
        sub = _LocalSubscription(self, account_id, key, sink)
        self._subs.setdefault(account_id, {})[key] = sub
        return sub

    def publish(self, account_id: int, updates: Updates, *, exclude: Hashable = None) -> int:
        subs = self._subs.get(account_id)
        if not subs:
            return 0
        delivered = 0
        for key, sub in list(subs.items()):
            if exclude is not None and key == exclude:
                continue
            try:
                sub.sink(updates)
            except Exception:
                # One broken session must not keep the update from the others.
                log.exception("update sink of session %r failed", key)
                continue
            delivered += 1
        return delivered

    def online(self, account_id: int) -> bool:
        return bool(self._subs.get(account_id))

    def _remove(self, account_id: int, key: Hashable, sub: _LocalSubscription) -> None:
        subs = self._subs.get(account_id)
        # Only the subscription still installed under the key may remove it: a newer one
        # under the same key stays.
        if subs is not None and subs.get(key) is sub:
            del subs[key]
            if not subs:
                del self._subs[account_id]
