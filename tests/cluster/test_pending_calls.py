"""The pending-call table's contract, run unchanged against every implementation.

``local`` is the in-process table (both "processes" are the one table); ``redis`` is two
``RedisPendingCalls`` over their own connections to a real redis-server, sharing a key
prefix, as two server processes would: the caller waits in ``a``, the bot answers through
``b``. Time moves only through the fake clock; the waits on futures are bounded by
``asyncio.wait_for`` so that a broken delivery fails instead of hanging.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis

from loopgram.clock import FakeClock
from loopgram.cluster import RedisPendingCalls
from loopgram.server.errors import RpcError
from loopgram.server.pending import CallKind, LocalPendingCalls, PendingCall, PendingCalls
from loopgram.tl.types import messages as msg_types
from tests.cluster.conftest import drop_keys

WINDOW = 15.0


@dataclass
class Tables:
    a: PendingCalls
    """Where the caller waits."""
    b: PendingCalls
    """Where the bot answers (another process for a shared table)."""
    clock: FakeClock


@pytest.fixture(params=["local", "redis"])
async def tables(request: pytest.FixtureRequest) -> AsyncIterator[Tables]:
    clock = FakeClock()
    if request.param == "local":
        local = LocalPendingCalls()
        yield Tables(local, local, clock)
        await local.aclose()
        return
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    a = RedisPendingCalls.from_url(url, clock, prefix=prefix, node_id="a")
    b = RedisPendingCalls.from_url(url, clock, prefix=prefix, node_id="b")
    yield Tables(a, b, clock)
    await a.aclose()
    await b.aclose()
    await drop_keys(url, prefix)


def press(clock: FakeClock, query_id: int = 77, **fields: Any) -> PendingCall:
    values: dict[str, Any] = {
        "kind": CallKind.PRESS,
        "query_id": query_id,
        "bot_id": 1000,
        "user_id": 2000,
        "deadline": clock() + WINDOW,
    }
    values.update(fields)
    return PendingCall(**values)


def reply(text: str = "hi") -> msg_types.BotCallbackAnswer:
    return msg_types.BotCallbackAnswer(message=text, cache_time=5, alert=True)


async def outcome(future: asyncio.Future[Any]) -> Any:
    return await asyncio.wait_for(asyncio.shield(future), 5)


async def test_an_answer_from_either_side_reaches_the_waiting_caller(tables: Tables) -> None:
    future = await tables.a.add(press(tables.clock))
    call = await tables.b.get(CallKind.PRESS, 77)
    assert call is not None
    assert await tables.b.settle(call, reply()) is True
    assert await outcome(future) == reply()
    assert tables.a.count(CallKind.PRESS) == 0 and tables.a.waiting(CallKind.PRESS) == 0


async def test_the_call_read_back_carries_its_bot_user_deadline_and_payload(
    tables: Tables,
) -> None:
    game = press(tables.clock, 5, game=True)
    inline = press(tables.clock, 6, kind=CallKind.INLINE, query="héllo wörld ✓")
    await tables.a.add(game)
    await tables.a.add(inline)
    read_game = await tables.b.get(CallKind.PRESS, 5)
    read_inline = await tables.b.get(CallKind.INLINE, 6)
    assert read_game is not None and read_inline is not None
    fields = ("kind", "query_id", "bot_id", "user_id", "deadline", "game", "query")
    for made, read in ((game, read_game), (inline, read_inline)):
        assert [getattr(read, f) for f in fields] == [getattr(made, f) for f in fields]


async def test_kinds_keep_their_ids_apart(tables: Tables) -> None:
    await tables.a.add(press(tables.clock, 9))
    assert await tables.b.get(CallKind.INLINE, 9) is None
    assert tables.a.known(CallKind.PRESS, 9) and not tables.a.known(CallKind.INLINE, 9)


async def test_an_unknown_id_reads_as_nothing(tables: Tables) -> None:
    assert await tables.b.get(CallKind.PRESS, 123456789) is None


async def test_adding_an_id_that_is_pending_is_refused(tables: Tables) -> None:
    await tables.a.add(press(tables.clock, 42))
    with pytest.raises(ValueError):
        await tables.a.add(press(tables.clock, 42))


async def test_a_call_is_claimed_once(tables: Tables) -> None:
    future = await tables.a.add(press(tables.clock))
    call = await tables.b.get(CallKind.PRESS, 77)
    assert call is not None
    assert await tables.b.settle(call, reply("first")) is True
    assert await tables.b.settle(call, reply("second")) is False
    assert await tables.b.get(CallKind.PRESS, 77) is None
    assert (await outcome(future)).message == "first"


async def test_racing_answers_from_both_sides_settle_it_once(tables: Tables) -> None:
    future = await tables.a.add(press(tables.clock))
    from_a = await tables.a.get(CallKind.PRESS, 77)
    from_b = await tables.b.get(CallKind.PRESS, 77)
    assert from_a is not None and from_b is not None
    won = await asyncio.gather(
        tables.a.settle(from_a, reply("a")), tables.b.settle(from_b, reply("b"))
    )
    assert sorted(won) == [False, True]
    assert (await outcome(future)).message == ("a" if won[0] else "b")


async def test_the_deadline_times_out_the_caller_and_closes_the_call(tables: Tables) -> None:
    call = press(tables.clock)
    future = await tables.a.add(call)
    assert tables.a.expire(call.deadline - 0.001) == []
    assert tables.a.next_deadline() == call.deadline
    tables.clock.advance(WINDOW)
    assert [c.query_id for c in tables.a.expire(tables.clock())] == [77]
    with pytest.raises(RpcError) as raised:
        await outcome(future)
    assert raised.value.message == "BOT_RESPONSE_TIMEOUT"
    late = await tables.b.get(CallKind.PRESS, 77)
    assert late is None or await tables.b.settle(late, reply()) is False
    assert tables.a.next_deadline() is None and tables.a.count(CallKind.PRESS) == 0


async def test_an_answer_that_beat_the_timeout_still_reaches_the_caller(tables: Tables) -> None:
    call = press(tables.clock)
    future = await tables.a.add(call)
    read = await tables.b.get(CallKind.PRESS, 77)
    assert read is not None and await tables.b.settle(read, reply("just in time")) is True
    tables.clock.advance(WINDOW)
    tables.a.expire(tables.clock())
    assert (await outcome(future)).message == "just in time"


async def test_a_caller_that_stopped_waiting_leaves_the_call_answerable(tables: Tables) -> None:
    future = await tables.a.add(press(tables.clock))
    tables.a.forget(press(tables.clock))
    assert tables.a.waiting(CallKind.PRESS) == 0
    call = await tables.b.get(CallKind.PRESS, 77)
    assert call is not None and await tables.b.settle(call, reply()) is True
    assert not future.done() or future.result() == reply()


async def test_next_deadline_is_the_earliest_call_waited_on_here(tables: Tables) -> None:
    first = press(tables.clock, 1)
    tables.clock.advance(2)
    second = press(tables.clock, 2, kind=CallKind.INLINE)
    await tables.a.add(second)
    await tables.a.add(first)
    assert tables.a.next_deadline() == first.deadline
    assert tables.a.count(CallKind.PRESS) == 1 and tables.a.count(CallKind.INLINE) == 1
    tables.clock.advance(WINDOW - 2)
    assert [c.query_id for c in tables.a.expire(tables.clock())] == [1]
    assert tables.a.next_deadline() == second.deadline


async def test_hundreds_of_calls_are_answered_each_to_its_own_caller(tables: Tables) -> None:
    futures = [await tables.a.add(press(tables.clock, i)) for i in range(1, 301)]
    for i in reversed(range(1, 301)):
        call = await tables.b.get(CallKind.PRESS, i)
        assert call is not None and await tables.b.settle(call, reply(f"to {i}"))
    answers = await asyncio.wait_for(asyncio.gather(*futures), 5)
    assert [a.message for a in answers] == [f"to {i}" for i in range(1, 301)]


async def test_closing_the_table_times_out_its_waits(tables: Tables) -> None:
    future = await tables.a.add(press(tables.clock))
    await tables.a.aclose()
    with pytest.raises(RpcError):
        await outcome(future)


# -- what only a shared table can go through -------------------------------------------------


@dataclass
class Shared:
    a: RedisPendingCalls
    b: RedisPendingCalls
    clock: FakeClock


@pytest.fixture
async def shared(redis_url: str, redis_prefix: str) -> AsyncIterator[Shared]:
    clock = FakeClock()
    a = RedisPendingCalls.from_url(redis_url, clock, prefix=redis_prefix)
    b = RedisPendingCalls.from_url(redis_url, clock, prefix=redis_prefix)
    yield Shared(a, b, clock)
    await a.aclose()
    await b.aclose()
    await drop_keys(redis_url, redis_prefix)


async def test_a_claim_whose_answer_never_arrives_still_times_out(
    shared: Shared, redis_url: str, redis_prefix: str
) -> None:
    """A process that claimed the call and died before its answer was published must not
    leave the caller hanging: the caller's process times it out a little later."""
    future = await shared.a.add(press(shared.clock))
    raw = Redis.from_url(redis_url)
    try:
        assert await raw.delete(f"{redis_prefix}call:{CallKind.PRESS:d}:77") == 1
    finally:
        await raw.aclose()
    shared.clock.advance(WINDOW)
    shared.a.expire(shared.clock())
    await shared.a.claims_done()
    assert not future.done()
    shared.clock.advance(5)
    shared.a.expire(shared.clock())
    with pytest.raises(RpcError) as raised:
        await outcome(future)
    assert raised.value.message == "BOT_RESPONSE_TIMEOUT"


async def test_every_process_listens_on_its_own_channel(shared: Shared) -> None:
    # Two processes, each with a caller waiting: each answer reaches only its own caller.
    on_a = await shared.a.add(press(shared.clock, 1))
    on_b = await shared.b.add(press(shared.clock, 2))
    for query_id, text in ((2, "to b"), (1, "to a")):
        call = await shared.a.get(CallKind.PRESS, query_id)
        assert call is not None and await shared.a.settle(call, reply(text))
    assert (await outcome(on_a)).message == "to a"
    assert (await outcome(on_b)).message == "to b"


def test_process_ids_are_unique_by_default() -> None:
    clock = FakeClock()
    assert RedisPendingCalls(Redis(), clock).node_id != RedisPendingCalls(Redis(), clock).node_id


async def test_a_call_added_while_redis_is_unreachable_is_bot_response_timeout_at_once() -> None:
    clock = FakeClock()
    table = RedisPendingCalls.from_url("redis://127.0.0.1:1/0", clock)
    try:
        with pytest.raises(RpcError) as refused:
            await asyncio.wait_for(table.add(press(clock)), 10)
        assert refused.value.message == "BOT_RESPONSE_TIMEOUT"
        assert table.count(CallKind.PRESS) == 0 and table.waiting(CallKind.PRESS) == 0
    finally:
        await table.aclose()
