"""Cluster layer: the pending-call table in Redis, for several server processes.

``RedisPendingCalls`` implements ``loopgram.server.pending.PendingCalls`` so that a user's
call waiting in one process can be answered by a bot connected to another:

- a call is one string key, ``{prefix}call:{kind}:{query_id}``, holding the bot, the user,
  the deadline, the kind's payload and the *waiter* (the id of the process where the caller
  waits); ``SET NX`` makes it, with a Redis expiry ``grace`` seconds past the deadline so that
  calls of a process that died vanish on their own;
- ``settle`` claims and delivers in one Lua script: if the key still holds exactly the call
  that was read and checked, delete it and ``PUBLISH`` the answer on the waiter's channel,
  ``{prefix}node:{waiter}``. Whoever deletes first wins; nothing can answer twice. When the
  caller waits in the answering process, the claim alone goes to Redis and the answer is
  delivered here, and ``get`` reads such a call from memory: a press answered where it was
  made costs two round trips (``SET`` and the claim), one answered elsewhere three;
- each process expires its own waits (the deadline is in the entry; no central timer): at
  the deadline by the injected clock it claims its call with the same compare-and-delete. If
  that claim loses, a bot's answer claimed it first and was published in the same atomic
  step, so it is already on its way: the wait then gets ``answer_grace`` more seconds (by the
  clock) before it times out anyway, so that no caller hangs on a lost message;
- every process listens on its own channel with one pub/sub connection, started by the first
  ``add``; the answer travels as the TL object's bytes.

Ids and deadlines are the services'; only this module talks to Redis (``redis.asyncio``). A
Redis that cannot be reached makes ``add`` refuse the call with ``BOT_RESPONSE_TIMEOUT`` at
once (no bot could answer it: the user's press ends as one nobody answers, never hangs), and
``get`` and ``settle`` raise (the dispatcher answers the bot ``500 INTERNAL`` for that call);
a wait whose claim cannot reach Redis times out.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import struct
import uuid
from collections.abc import Awaitable
from typing import Any, Final, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from loopgram import tl
from loopgram.clock import Clock
from loopgram.cluster.pubsub import Listener, Script, client_for
from loopgram.server.errors import BOT_RESPONSE_TIMEOUT
from loopgram.server.pending import (
    CallKind,
    DeadlineMap,
    PendingCall,
    deliver,
    time_out,
)
from loopgram.tl import TLObject

log = logging.getLogger(__name__)

_ENTRY: Final = struct.Struct("<qqdBH")
"""bot id, user id, deadline, game, length of the waiter's id; then the waiter, the query."""
_MESSAGE: Final = struct.Struct("<Bq")
"""kind, query id; then the answer's TL bytes."""

# KEYS[1] the call, KEYS[2] the waiter's channel; ARGV[1] the call as read, ARGV[2] the
# message. The compare makes the claim the claim of the call that was checked.
_CLAIM_AND_PUBLISH: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[2], ARGV[2])
  return 1
end
return 0
"""
_CLAIM: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

_Key = tuple[CallKind, int]
T = TypeVar("T")


class RedisPendingCalls:
    def __init__(
        self,
        redis: Redis,
        clock: Clock,
        *,
        prefix: str = "loopgram:",
        node_id: str | None = None,
        grace: float = 30.0,
        answer_grace: float = 5.0,
        owns_client: bool = False,
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._prefix = prefix
        self.node_id = node_id or uuid.uuid4().hex
        self._channel = f"{prefix}node:{self.node_id}"
        self._grace = grace
        self._answer_grace = answer_grace
        self._owns_client = owns_client
        self._claim_and_publish = Script(redis, _CLAIM_AND_PUBLISH)
        self._claim = Script(redis, _CLAIM)
        # The calls waited on here until their wait ends, and when to look at them next:
        # their deadline, or (in ``_late``) how long an answer that won the claim against
        # our timeout may still take to arrive.
        self._held: dict[_Key, PendingCall] = {}
        self._waits: DeadlineMap[_Key, PendingCall] = DeadlineMap()
        self._late: set[_Key] = set()
        self._waiters: dict[CallKind, dict[int, asyncio.Future[Any]]] = {k: {} for k in CallKind}
        self._counts = dict.fromkeys(CallKind, 0)
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: Listener | None = None

    @classmethod
    def from_url(cls, url: str, clock: Clock, **options: Any) -> RedisPendingCalls:
        """A table over its own client for ``url`` (``redis://host:port/db``)."""
        return cls(client_for(url), clock, owns_client=True, **options)

    # -- PendingCalls ---------------------------------------------------------------------------

    async def add(self, call: PendingCall) -> asyncio.Future[Any]:
        mine = dataclasses.replace(call, waiter=self.node_id)
        key = (call.kind, call.query_id)
        # Relative expiry by the injected clock: Redis's own clock need not agree with it.
        ttl = call.deadline - self._clock() + self._grace
        try:
            await self._listening()
            made = await _in_task(
                self._redis.set(
                    self._key(call.kind, call.query_id),
                    _encode(mine),
                    px=max(1, int(ttl * 1000)),
                    nx=True,
                )
            )
        except (RedisError, RuntimeError):
            # RuntimeError: the answer channel's listener ended before subscribing.
            log.warning("Redis is unreachable: query %d refused as unanswered", call.query_id)
            raise BOT_RESPONSE_TIMEOUT() from None
        if not made:
            raise ValueError(f"query id {call.query_id} is pending already")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._held[key] = mine
        self._waits.add(key, call.deadline, mine)
        self._counts[call.kind] += 1
        self._waiters[call.kind][call.query_id] = future
        return future

    async def get(self, kind: CallKind, query_id: int) -> PendingCall | None:
        # A call waited on here is read from memory: the bot answering in the caller's
        # process costs no round trip. It may have been claimed elsewhere meanwhile; then
        # ``settle``'s compare-and-delete refuses, as it would have refused a call read now.
        held = self._held.get((kind, query_id))
        if held is not None:
            return held
        raw = await _in_task(self._redis.get(self._key(kind, query_id)))
        if raw is None:
            return None
        if not isinstance(raw, bytes):
            raise TypeError("the Redis client must answer bytes (decode_responses off)")
        return _decode(kind, query_id, raw)

    async def settle(self, call: PendingCall, answer: TLObject) -> bool:
        key = (call.kind, call.query_id)
        if call.waiter == self.node_id:
            # The caller waits here: claim, and deliver without the trip through pub/sub.
            won = await _in_task(self._claim(keys=[self._key(*key)], args=[_encode(call)]))
            if won:
                self._finish(key, answer)
            return bool(won)
        message = _MESSAGE.pack(call.kind, call.query_id) + bytes(answer)
        won = await _in_task(
            self._claim_and_publish(
                keys=[self._key(call.kind, call.query_id), f"{self._prefix}node:{call.waiter}"],
                args=[_encode(call), message],
            )
        )
        return bool(won)

    def expire(self, now: float) -> list[PendingCall]:
        expired: list[PendingCall] = []
        for call in self._waits.expire(now):
            key = (call.kind, call.query_id)
            if key not in self._held:
                continue
            if key in self._late:
                # The answer that won the claim never came: time out after all.
                self._finish(key, None)
                continue
            expired.append(call)
            self._spawn(self._time_out(call))
        return expired

    def next_deadline(self) -> float | None:
        return self._waits.next_deadline()

    def forget(self, call: PendingCall) -> None:
        self._waiters[call.kind].pop(call.query_id, None)

    def known(self, kind: CallKind, query_id: int) -> bool:
        return (kind, query_id) in self._held

    def count(self, kind: CallKind) -> int:
        return self._counts[kind]

    def waiting(self, kind: CallKind) -> int:
        return len(self._waiters[kind])

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._listener is not None:
            await self._listener.aclose()
            self._listener = None
        for key in list(self._held):
            self._finish(key, None)
        if self._owns_client:
            await self._redis.aclose()

    async def claims_done(self) -> None:
        """Wait for the timeout claims ``expire`` started (tests; an orderly shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- internals ------------------------------------------------------------------------------

    def _key(self, kind: CallKind, query_id: int) -> str:
        return f"{self._prefix}call:{kind:d}:{query_id}"

    def _finish(self, key: _Key, answer: object | None) -> None:
        """The wait of the call ``key`` ends: with ``answer``, or (``None``) with a timeout.
        Only the first end counts."""
        if self._held.pop(key, None) is None:
            return
        self._waits.pop(key)
        self._late.discard(key)
        kind, query_id = key
        self._counts[kind] -= 1
        future = self._waiters[kind].pop(query_id, None)
        if answer is None:
            time_out(future)
        else:
            deliver(future, answer)

    async def _time_out(self, call: PendingCall) -> None:
        key = (call.kind, call.query_id)
        try:
            won = await self._claim(keys=[self._key(*key)], args=[_encode(call)])
        except RedisError:
            log.warning("could not claim query %d to time it out", call.query_id, exc_info=True)
            won = 1
        if won:
            self._finish(key, None)
        elif key in self._held:
            # An answer claimed it first: it was published in the same step and is on its way.
            self._late.add(key)
            self._waits.add(key, self._clock() + self._answer_grace, call)

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listening(self) -> None:
        listener = self._listener
        if listener is None or listener.task.done():
            # Started by the first add (again after a failed start): answers can only be
            # addressed to this process once its channel is heard.
            listener = self._listener = Listener(self._redis, self._channel, self._received)
        await listener.ready()

    def _received(self, data: bytes) -> None:
        try:
            kind_value, query_id = _MESSAGE.unpack_from(data)
            kind = CallKind(kind_value)
            answer = tl.read(data[_MESSAGE.size :])
        except (ValueError, struct.error, tl.TLDecodeError):
            log.warning("dropped an undecodable answer on %s", self._channel, exc_info=True)
            return
        self._finish((kind, query_id), answer)


async def _in_task(work: Awaitable[T]) -> T:
    """Await ``work`` inside a task: the dispatcher runs a handler's first step outside any
    task (most handlers never wait), and redis-py's timeouts only work inside one."""
    if asyncio.current_task() is None:
        return await asyncio.ensure_future(work)
    return await work


def _encode(call: PendingCall) -> bytes:
    waiter = call.waiter.encode()
    return (
        _ENTRY.pack(call.bot_id, call.user_id, call.deadline, call.game, len(waiter))
        + waiter
        + call.query.encode()
    )


def _decode(kind: CallKind, query_id: int, raw: bytes) -> PendingCall:
    bot_id, user_id, deadline, game, waiter_len = _ENTRY.unpack_from(raw)
    start = _ENTRY.size
    return PendingCall(
        kind=kind,
        query_id=query_id,
        bot_id=bot_id,
        user_id=user_id,
        deadline=deadline,
        game=bool(game),
        waiter=raw[start : start + waiter_len].decode(),
        query=raw[start + waiter_len :].decode(),
    )
