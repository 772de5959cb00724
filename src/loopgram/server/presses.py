"""Server layer: callback presses and inline queries as awaitables, on the event loop.

``CallbackService`` (and ``InlineService``) hold the rules and the pending tables without any
event loop; ``PressBroker`` gives each pending press an ``asyncio.Future`` that the user's
``getBotCallbackAnswer`` awaits, publishes the press to the bot through the hub, resolves the
future when the bot answers, and fails it with ``BOT_RESPONSE_TIMEOUT`` when ``expire_due``
finds the window closed. An inline query (``getInlineBotResults`` waiting for the bot's
``setInlineBotResults``) is a press of another kind: ``inline_query`` and ``answer_inline`` do
the same with the same timer. Time only moves through the injected clock: the driver runs
``run_timers`` (which sleeps in real time until the next deadline by that clock), tests call
``expire_due`` after advancing a fake clock. Several server processes would replace this class
with one that keeps the pending table in Redis; handlers only see ``press`` and ``answer``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from loopgram.mtproto.deps import Clock
from loopgram.server.errors import BOT_RESPONSE_TIMEOUT
from loopgram.server.hub import UpdateHub
from loopgram.server.services.callbacks import CallbackService, PendingPress
from loopgram.server.services.inline import InlineService, PendingInlineQuery
from loopgram.storage import Account
from loopgram.tl import abcs
from loopgram.tl.types import messages as msg_types

Sleep = Callable[[float], Awaitable[None]]
Pending = PendingPress | PendingInlineQuery
"""A user's call waiting for a bot: a callback press or an inline query."""


class PressBroker:
    def __init__(
        self, callbacks: CallbackService, inline: InlineService, hub: UpdateHub, clock: Clock
    ) -> None:
        self._callbacks = callbacks
        self._inline = inline
        self._hub = hub
        self._clock = clock
        self._waiters: dict[int, asyncio.Future[msg_types.BotCallbackAnswer]] = {}
        # Inline query ids are drawn apart from press ids: a table of their own.
        self._inline_waiters: dict[int, asyncio.Future[msg_types.BotResults]] = {}
        self._wakeup: asyncio.Event | None = None
        self._wake_at = 0.0
        """Clock time at which ``run_timers`` looks again by itself."""

    @property
    def waiting(self) -> int:
        """Presses whose user is still waiting for the answer."""
        return len(self._waiters)

    @property
    def inline_waiting(self) -> int:
        """Inline queries whose user is still waiting for the results."""
        return len(self._inline_waiters)

    async def press(
        self,
        user: Account,
        peer: abcs.InputPeer,
        msg_id: int,
        *,
        data: bytes | None,
        game: bool,
        password: abcs.InputCheckPasswordSRP | None = None,
    ) -> msg_types.BotCallbackAnswer:
        """Register the press, deliver it to the bot, wait for the answer or the timeout."""
        self.expire_due()
        pending = self._callbacks.press(user, peer, msg_id, data=data, game=game, password=password)
        future: asyncio.Future[msg_types.BotCallbackAnswer] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiters[pending.query_id] = future
        # Waking the timer task costs a few tasks and futures: only when this deadline
        # comes before the timer's next look (never with the default window and interval).
        if self._wakeup is not None and pending.deadline < self._wake_at:
            self._wakeup.set()
        # An offline bot simply gets nothing: the user then times out like any other press.
        self._hub.publish(pending.bot_id, pending.update)
        try:
            return await future
        finally:
            # Answered, timed out, or the client went away (task cancelled): either way the
            # answer has nowhere else to go. The bot may still answer a cancelled press.
            self._waiters.pop(pending.query_id, None)

    def answer(
        self,
        bot: Account,
        query_id: int,
        *,
        alert: bool = False,
        message: str | None = None,
        url: str | None = None,
        cache_time: int = 0,
    ) -> bool:
        """The bot's answer: ``True``, or the rule's ``RpcError``."""
        self.expire_due()
        pending, result = self._callbacks.answer(
            bot, query_id, alert=alert, message=message, url=url, cache_time=cache_time
        )
        future = self._waiters.pop(pending.query_id, None)
        if future is not None and not future.done():
            future.set_result(result)
        return True

    async def inline_query(
        self,
        user: Account,
        bot: abcs.InputUser,
        peer: abcs.InputPeer,
        query: str,
        offset: str,
    ) -> msg_types.BotResults:
        """Register the inline query, deliver it to the bot, wait for its results or the
        timeout."""
        self.expire_due()
        pending = self._inline.query(user, bot, peer, query, offset)
        future: asyncio.Future[msg_types.BotResults] = asyncio.get_running_loop().create_future()
        self._inline_waiters[pending.query_id] = future
        if self._wakeup is not None and pending.deadline < self._wake_at:
            self._wakeup.set()
        # As for presses: an offline bot gets nothing, and the user times out.
        self._hub.publish(pending.bot_id, pending.update)
        try:
            return await future
        finally:
            self._inline_waiters.pop(pending.query_id, None)

    def answer_inline(
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
    ) -> bool:
        """The bot's results: ``True``, or the rule's ``RpcError``."""
        self.expire_due()
        pending, result = self._inline.answer(
            bot,
            query_id,
            results,
            cache_time=cache_time,
            gallery=gallery,
            next_offset=next_offset,
            switch_pm=switch_pm,
            switch_webview=switch_webview,
        )
        future = self._inline_waiters.pop(pending.query_id, None)
        if future is not None and not future.done():
            future.set_result(result)
        return True

    def expire_due(self) -> list[Pending]:
        """Time out every press and inline query whose window has closed by the clock;
        returns them."""
        now = self._clock()
        expired: list[Pending] = []
        for pending in self._callbacks.expire(now):
            expired.append(pending)
            _time_out(self._waiters.pop(pending.query_id, None))
        for query in self._inline.expire(now):
            expired.append(query)
            _time_out(self._inline_waiters.pop(query.query_id, None))
        return expired

    def next_deadline(self) -> float | None:
        deadlines = [
            d
            for d in (self._callbacks.next_deadline(), self._inline.next_deadline())
            if d is not None
        ]
        return min(deadlines, default=None)

    async def run_timers(self, *, sleep: Sleep = asyncio.sleep, max_interval: float = 1.0) -> None:
        """Expire presses on time, forever (run it as a task; cancel it to stop)."""
        self._wakeup = asyncio.Event()
        try:
            while True:
                self.expire_due()
                deadline = self.next_deadline()
                delay = max_interval
                now = self._clock()
                if deadline is not None:
                    delay = min(max_interval, max(0.0, deadline - now))
                self._wake_at = now + delay
                self._wakeup.clear()
                sleeper = asyncio.ensure_future(sleep(delay))
                waker = asyncio.ensure_future(self._wakeup.wait())
                try:
                    await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeper.cancel()
                    waker.cancel()
        finally:
            self._wakeup = None


def _time_out(future: asyncio.Future[Any] | None) -> None:
    if future is not None and not future.done():
        future.set_exception(BOT_RESPONSE_TIMEOUT())
