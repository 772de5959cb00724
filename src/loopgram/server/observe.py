"""Server layer: the call feed -- what every front door did, for whoever watches.

Both front doors report here: ``ServerCore.start`` every RPC (MTProto sessions and the web
page's sessions alike) and the Bot API gateway every HTTP method call; the hub wrapper every
``publish`` (so a watcher sees a press reach the bot). Nothing is built or timed while nobody
listens: ``listening`` is one attribute read on the hot path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from loopgram.server.hub import Subscription, UpdateHub, UpdateSink
from loopgram.tl.abcs import Updates

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One call answered by a front door."""

    door: str
    """``"rpc"`` (MTProto and web sessions) or ``"botapi"``."""
    account_id: int | None
    method: str
    error: str | None
    """``"400 QUERY_ID_INVALID"`` style, ``None`` for a result."""
    started: float
    """``time.perf_counter()`` when the call came in."""
    duration: float
    request: Any
    """The TL request, or the Bot API fields (a mapping): read, never keep or change."""
    session: Hashable = None
    """The hub key of the calling session (RPC only)."""


@dataclass(frozen=True, slots=True)
class PublishEvent:
    """Updates handed to the hub for an account."""

    account_id: int
    updates: Updates
    at: float


FeedEvent = CallEvent | PublishEvent
Listener = Callable[[FeedEvent], None]


class CallFeed:
    """Fan-out of ``FeedEvent`` to listeners; free while there are none."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self.listening = False

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns the function that removes it again."""
        self._listeners.append(listener)
        self.listening = True

        def cancel() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)
            self.listening = bool(self._listeners)

        return cancel

    def emit(self, event: FeedEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                # A broken watcher must not break the call it watches.
                log.exception("call feed listener failed")

    def call(
        self,
        door: str,
        account_id: int | None,
        method: str,
        error: str | None,
        started: float,
        request: Any,
        session: Hashable = None,
    ) -> None:
        now = time.perf_counter()
        self.emit(
            CallEvent(door, account_id, method, error, started, now - started, request, session)
        )


class ObservedHub:
    """An ``UpdateHub`` that reports each ``publish`` to the feed (while it is listened to)."""

    def __init__(self, hub: UpdateHub, feed: CallFeed) -> None:
        self.inner = hub
        self._feed = feed

    def subscribe(self, account_id: int, key: Hashable, sink: UpdateSink) -> Subscription:
        return self.inner.subscribe(account_id, key, sink)

    def publish(self, account_id: int, updates: Updates, *, exclude: Hashable = None) -> int:
        if self._feed.listening:
            self._feed.emit(PublishEvent(account_id, updates, time.perf_counter()))
        return self.inner.publish(account_id, updates, exclude=exclude)

    def online(self, account_id: int) -> bool:
        return self.inner.online(account_id)
