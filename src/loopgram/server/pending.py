"""Server layer: the pending-call table, the one seam between the rules and who waits.

A callback press (``messages.getBotCallbackAnswer``) and an inline query
(``messages.getInlineBotResults``) are the same thing here: a query id, the bot that must
answer, a deadline, and a user waiting in some server process for the answer. The rule
services (``CallbackService``, ``InlineService``) make a ``PendingCall`` and check an answer
against it without any I/O; the broker (``loopgram.server.presses``) keeps it in a
``PendingCalls`` table and awaits it.

``PendingCalls`` is what every table does:

- ``add`` makes the call answerable by any process and returns the future its caller awaits
  here (the answer, or ``BOT_RESPONSE_TIMEOUT``);
- ``get`` reads a call for the answering side's checks;
- ``settle`` claims the call once -- whoever claims first wins, a second claim gets ``False``
  -- and delivers the answer to the process where its caller waits;
- ``expire`` times out, by the injected clock, the calls *waited on in this process* whose
  deadline has passed: each process expires its own waits, no central timer;
- ``forget`` drops a caller that stopped waiting (the call stays answerable until its
  deadline, as on Telegram).

``LocalPendingCalls`` serves one process and never suspends: the press path costs what a dict
and a heap cost. ``loopgram.cluster.pending.RedisPendingCalls`` serves several processes.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from loopgram.server.errors import BOT_RESPONSE_TIMEOUT
from loopgram.tl import TLObject, types

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class CallKind(enum.IntEnum):
    """What the user waits for; query ids are unique within a kind."""

    PRESS = 1
    """A callback press: ``messages.botCallbackAnswer``."""
    INLINE = 2
    """An inline query: ``messages.botResults``."""


@dataclass(frozen=True, slots=True)
class PendingCall:
    """A user's call waiting for a bot, as every process sees it."""

    kind: CallKind
    query_id: int
    bot_id: int
    """The only bot that may answer."""
    user_id: int
    deadline: float
    """Clock time at which the window closes (an answer at or after it is too late)."""
    game: bool = False
    """Press: a game button (the answer's URL is the game's, not a deep link)."""
    query: str = ""
    """Inline: the text asked (kept with the answered results)."""
    waiter: str = ""
    """The process its caller waits in, as a shared table names it (the services leave it
    empty; the table that keeps the call fills it in)."""


@dataclass(frozen=True, slots=True)
class NewCall:
    """A call a rule service made, before it is pending: the call and what the bot gets."""

    call: PendingCall
    update: types.Updates
    """``updates`` with one ``updateBotCallbackQuery`` / ``updateInlineBotCallbackQuery`` /
    ``updateBotInlineQuery``, the user in ``users``, ``date`` set, ``seq`` 0."""


class PendingCalls(Protocol):
    async def add(self, call: PendingCall) -> asyncio.Future[Any]:
        """Make ``call`` answerable everywhere, its caller waiting in this process; the future
        gets the answer or ``BOT_RESPONSE_TIMEOUT``."""
        ...

    async def get(self, kind: CallKind, query_id: int) -> PendingCall | None:
        """The call still pending under that id (answered, expired, unknown: ``None``)."""
        ...

    async def settle(self, call: PendingCall, answer: TLObject) -> bool:
        """Claim ``call`` once and deliver ``answer`` to its caller; ``False`` when it was
        claimed already (answered, or timed out by its caller's process)."""
        ...

    def expire(self, now: float) -> list[PendingCall]:
        """Time out the calls waited on here whose deadline is at or before ``now``."""
        ...

    def next_deadline(self) -> float | None:
        """The earliest deadline of a call waited on here (``None``: none)."""
        ...

    def forget(self, call: PendingCall) -> None:
        """The caller stopped waiting (its task was cancelled); the call stays answerable."""
        ...

    def known(self, kind: CallKind, query_id: int) -> bool:
        """Whether this process holds a call under that id (fresh ids avoid them)."""
        ...

    def count(self, kind: CallKind) -> int:
        """Calls of that kind pending and held by this process."""
        ...

    def waiting(self, kind: CallKind) -> int:
        """Callers in this process still waiting on a call of that kind."""
        ...

    async def aclose(self) -> None:
        """Release what the table holds (connections, tasks); waits fail with a timeout."""
        ...


class DeadlineMap(Generic[K, T]):
    """Items by key, each due at a deadline; ``expire`` pops the due ones in O(log n).

    The one deadline mechanism of the server: pending calls, the caller waits a shared table
    keeps, inline results that stay sendable for a while.
    """

    __slots__ = ("_heap", "_items", "_order")

    def __init__(self) -> None:
        self._items: dict[K, tuple[float, T]] = {}
        self._heap: list[tuple[float, int, K]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def add(self, key: K, deadline: float, item: T) -> None:
        self._items[key] = (deadline, item)
        # The counter breaks ties between equal deadlines: keys need not be comparable.
        heapq.heappush(self._heap, (deadline, next(self._order), key))

    def get(self, key: K) -> T | None:
        entry = self._items.get(key)
        return None if entry is None else entry[1]

    def pop(self, key: K) -> T | None:
        entry = self._items.pop(key, None)
        return None if entry is None else entry[1]

    def claim(self, key: K, item: T) -> bool:
        """Remove ``item`` if it is still the one under ``key``; whether it was."""
        entry = self._items.get(key)
        if entry is None or entry[1] is not item:
            return False
        del self._items[key]
        return True

    def expire(self, now: float) -> list[T]:
        """Remove and return the items due at or before ``now``, earliest first."""
        due: list[T] = []
        heap = self._heap
        items = self._items
        while heap and heap[0][0] <= now:
            deadline, _, key = heapq.heappop(heap)
            entry = items.get(key)
            # Items popped before their deadline leave their heap entry behind: skip it.
            if entry is not None and entry[0] == deadline:
                del items[key]
                due.append(entry[1])
        return due

    def next_deadline(self) -> float | None:
        heap = self._heap
        items = self._items
        while heap:
            deadline, _, key = heap[0]
            entry = items.get(key)
            if entry is not None and entry[0] == deadline:
                return deadline
            heapq.heappop(heap)
        return None


def time_out(future: asyncio.Future[Any] | None) -> None:
    """Fail a caller's wait with ``BOT_RESPONSE_TIMEOUT`` (if it still waits)."""
    if future is not None and not future.done():
        future.set_exception(BOT_RESPONSE_TIMEOUT())


def deliver(future: asyncio.Future[Any] | None, answer: object) -> None:
    if future is not None and not future.done():
        future.set_result(answer)


class LocalPendingCalls:
    """The in-process table: calls in a ``DeadlineMap``, their callers' futures beside it.

    Nothing here suspends, so a handler that awaits these methods runs to its end at once and
    a claim cannot interleave with another: claim-once holds by the event loop's single
    thread.
    """

    def __init__(self) -> None:
        self._calls: DeadlineMap[tuple[CallKind, int], PendingCall] = DeadlineMap()
        self._waiters: dict[CallKind, dict[int, asyncio.Future[Any]]] = {k: {} for k in CallKind}
        self._counts = dict.fromkeys(CallKind, 0)

    async def add(self, call: PendingCall) -> asyncio.Future[Any]:
        key = (call.kind, call.query_id)
        if key in self._calls:
            raise ValueError(f"query id {call.query_id} is pending already")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls.add(key, call.deadline, call)
        self._counts[call.kind] += 1
        self._waiters[call.kind][call.query_id] = future
        return future

    async def get(self, kind: CallKind, query_id: int) -> PendingCall | None:
        return self._calls.get((kind, query_id))

    async def settle(self, call: PendingCall, answer: TLObject) -> bool:
        kind = call.kind
        if not self._calls.claim((kind, call.query_id), call):
            return False
        self._counts[kind] -= 1
        future = self._waiters[kind].pop(call.query_id, None)
        if future is not None and not future.done():
            future.set_result(answer)
        return True

    def expire(self, now: float) -> list[PendingCall]:
        expired = self._calls.expire(now)
        for call in expired:
            self._counts[call.kind] -= 1
            time_out(self._waiters[call.kind].pop(call.query_id, None))
        return expired

    def next_deadline(self) -> float | None:
        return self._calls.next_deadline()

    def forget(self, call: PendingCall) -> None:
        self._waiters[call.kind].pop(call.query_id, None)

    def known(self, kind: CallKind, query_id: int) -> bool:
        return (kind, query_id) in self._calls

    def count(self, kind: CallKind) -> int:
        return self._counts[kind]

    def waiting(self, kind: CallKind) -> int:
        return len(self._waiters[kind])

    async def aclose(self) -> None:
        for waiters in self._waiters.values():
            for future in waiters.values():
                time_out(future)
            waiters.clear()
