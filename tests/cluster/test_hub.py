"""The update fan-out between processes: two ``RedisHub`` over one real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from loopgram.cluster import RedisHub
from loopgram.tl import abcs, types
from tests.cluster.conftest import drop_keys


@pytest.fixture
async def hubs(redis_url: str, redis_prefix: str) -> AsyncIterator[tuple[RedisHub, RedisHub]]:
    a = RedisHub.from_url(redis_url, prefix=redis_prefix, node_id="a")
    b = RedisHub.from_url(redis_url, prefix=redis_prefix, node_id="b")
    await a.start()
    await b.start()
    yield a, b
    await a.aclose()
    await b.aclose()
    await drop_keys(redis_url, redis_prefix)


def typing_of(user_id: int) -> types.UpdateShort:
    return types.UpdateShort(
        update=types.UpdateUserTyping(user_id=user_id, action=types.SendMessageTypingAction()),
        date=1_764_000_000,
    )


async def test_an_update_published_on_one_process_reaches_sessions_on_both(
    hubs: tuple[RedisHub, RedisHub],
) -> None:
    a, b = hubs
    on_a: list[abcs.Updates] = []
    on_b: asyncio.Queue[abcs.Updates] = asyncio.Queue()
    a.subscribe(7, "session-a", on_a.append)
    b.subscribe(7, "session-b", on_b.put_nowait)
    assert a.publish(7, typing_of(1)) == 1  # the local session, at once
    assert await asyncio.wait_for(on_b.get(), 5) == typing_of(1)
    assert on_a == [typing_of(1)]  # not a second time through Redis


async def test_updates_keep_their_order_and_their_account(
    hubs: tuple[RedisHub, RedisHub],
) -> None:
    a, b = hubs
    seven: asyncio.Queue[abcs.Updates] = asyncio.Queue()
    eight: asyncio.Queue[abcs.Updates] = asyncio.Queue()
    b.subscribe(7, "s7", seven.put_nowait)
    b.subscribe(8, "s8", eight.put_nowait)
    for user_id in range(1, 51):
        a.publish(7 if user_id % 2 else 8, typing_of(user_id))
    got_seven = [await asyncio.wait_for(seven.get(), 5) for _ in range(25)]
    got_eight = [await asyncio.wait_for(eight.get(), 5) for _ in range(25)]
    assert got_seven == [typing_of(u) for u in range(1, 51, 2)]
    assert got_eight == [typing_of(u) for u in range(2, 51, 2)]


async def test_every_account_counts_as_online_somewhere(hubs: tuple[RedisHub, RedisHub]) -> None:
    # Presence is not shared yet: services must not skip an account connected elsewhere.
    a, _ = hubs
    assert a.online(12345)


async def test_origin_subscribers_get_only_what_their_own_process_published(
    hubs: tuple[RedisHub, RedisHub],
) -> None:
    a, b = hubs
    origin_b: list[abcs.Updates] = []
    everything_b: asyncio.Queue[abcs.Updates] = asyncio.Queue()
    unheard: list[tuple[int, abcs.Updates]] = []
    b.origin.subscribe(7, "queue", origin_b.append)
    b.subscribe(7, "session", everything_b.put_nowait)
    b.origin.unheard = lambda account_id, updates: unheard.append((account_id, updates))
    a.publish(7, typing_of(1))  # published on a: b's sessions get it, b's origin does not
    assert await asyncio.wait_for(everything_b.get(), 5) == typing_of(1)
    assert origin_b == []
    b.publish(7, typing_of(2))
    assert origin_b == [typing_of(2)]
    assert unheard == []
    # An account nobody subscribed at b's origin: the hook hears of it.
    b.publish(9, typing_of(3))
    assert unheard == [(9, typing_of(3))]
    # Leaving out the one subscriber is not "nobody subscribed".
    b.publish(7, typing_of(4), exclude="queue")
    assert unheard == [(9, typing_of(3))] and origin_b == [typing_of(2)]
