"""Server layer: callback presses and inline queries as awaitables, on the event loop.

``CallbackService`` and ``InlineService`` hold the rules without any event loop or table;
``PressBroker`` keeps what they make pending in the pending-call table
(``loopgram.server.pending``): the user's ``getBotCallbackAnswer`` / ``getInlineBotResults``
awaits the future ``PendingCalls.add`` gives, after the press or query went to the bot through
the hub; the bot's answer, checked by the service against the call, settles it (claimed once,
delivered to whichever process waits); ``expire_due`` times out the waits whose window closed
(``BOT_RESPONSE_TIMEOUT``). Time only moves through the injected clock: the driver runs
``run_timers`` (which sleeps in real time until the next deadline by that clock), tests call
``expire_due`` after advancing a fake clock. With a table shared between processes the same
broker serves a press arriving here and answered by a bot connected elsewhere; handlers only
see ``press``, ``answer``, ``inline_query`` and ``answer_inline``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from loopgram.clock import Clock
from loopgram.server.errors import QUERY_ID_INVALID
from loopgram.server.hub import UpdateHub
from loopgram.server.pending import CallKind, NewCall, PendingCall, PendingCalls
from loopgram.server.services.callbacks import CallbackService
from loopgram.server.services.inline import InlineService
from loopgram.storage import Account
from loopgram.tl import abcs
from loopgram.tl.types import messages as msg_types

Sleep = Callable[[float], Awaitable[None]]
Pending = PendingCall
"""A user's call waiting for a bot: a callback press or an inline query."""


class PressBroker:
    def __init__(
        self,
        callbacks: CallbackService,
        inline: InlineService,
        hub: UpdateHub,
        clock: Clock,
        calls: PendingCalls,
    ) -> None:
        self._callbacks = callbacks
        self._inline = inline
        self._hub = hub
        self._clock = clock
        self._calls = calls
        self._wakeup: asyncio.Event | None = None
        self._wake_at = 0.0
        """Clock time at which ``run_timers`` looks again by itself."""

    @property
    def waiting(self) -> int:
        """Presses whose user is still waiting for the answer (in this process)."""
        return self._calls.waiting(CallKind.PRESS)

    @property
    def inline_waiting(self) -> int:
        """Inline queries whose user is still waiting for the results (in this process)."""
        return self._calls.waiting(CallKind.INLINE)

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
        new = self._callbacks.press(user, peer, msg_id, data=data, game=game, password=password)
        return cast(msg_types.BotCallbackAnswer, await self._wait(new))

    async def answer(
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
        call = await self._calls.get(CallKind.PRESS, query_id)
        result = self._callbacks.answer(
            bot, call, alert=alert, message=message, url=url, cache_time=cache_time
        )
        # Another process may have claimed it meanwhile (an answer, or its caller's timeout).
        if call is None or not await self._calls.settle(call, result):
            raise QUERY_ID_INVALID()
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
        new = self._inline.query(user, bot, peer, query, offset)
        return cast(msg_types.BotResults, await self._wait(new))

    async def answer_inline(
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
        call = await self._calls.get(CallKind.INLINE, query_id)
        found, answered = self._inline.answer(
            bot,
            call,
            results,
            cache_time=cache_time,
            gallery=gallery,
            next_offset=next_offset,
            switch_pm=switch_pm,
            switch_webview=switch_webview,
        )
        if call is None or not await self._calls.settle(call, found):
            raise QUERY_ID_INVALID()
        self._inline.remember(answered)
        return True

    async def _wait(self, new: NewCall) -> Any:
        call = new.call
        future = await self._calls.add(call)
        # Waking the timer task costs a few tasks and futures: only when this deadline
        # comes before the timer's next look (never with the default window and interval).
        if self._wakeup is not None and call.deadline < self._wake_at:
            self._wakeup.set()
        # An offline bot simply gets nothing: the user then times out like any other press.
        self._hub.publish(call.bot_id, new.update)
        try:
            result = await future
            if call.kind is CallKind.INLINE and isinstance(result, msg_types.BotResults):
                # Answered in another process: the results must be sendable here too.
                self._inline.remember_delivered(call, result)
            return result
        finally:
            # Answered, timed out, or the client went away (task cancelled): either way the
            # answer has nowhere else to go. The bot may still answer a cancelled press.
            self._calls.forget(call)

    def expire_due(self) -> list[Pending]:
        """Time out every press and inline query waited on here whose window has closed by
        the clock; returns them."""
        now = self._clock()
        self._inline.expire(now)
        return self._calls.expire(now)

    def next_deadline(self) -> float | None:
        return self._calls.next_deadline()

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
