"""The Bot API queues' signals between processes: two ``RedisQueueSignals`` (two processes)
over one real redis-server -- signals reach the other process, not the sender; one process at
a time delivers a bot's webhook, and another takes over once the holder's right is gone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from loopgram.botapi.queue import POLLING, QUEUED
from loopgram.cluster import RedisQueueSignals
from tests.cluster.conftest import drop_keys


@pytest.fixture
async def pair(
    redis_url: str, redis_prefix: str
) -> AsyncIterator[tuple[RedisQueueSignals, RedisQueueSignals]]:
    a = RedisQueueSignals.from_url(redis_url, prefix=redis_prefix, node_id="a")
    b = RedisQueueSignals.from_url(redis_url, prefix=redis_prefix, node_id="b")
    await a.start()
    await b.start()
    yield a, b
    await a.aclose()
    await b.aclose()
    await drop_keys(redis_url, redis_prefix)


async def test_a_signal_reaches_the_other_process_and_not_the_sender(
    pair: tuple[RedisQueueSignals, RedisQueueSignals],
) -> None:
    a, b = pair
    at_a: list[tuple[str, int]] = []
    at_b: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    a.bind(lambda kind, bot_id: at_a.append((kind, bot_id)))
    b.bind(lambda kind, bot_id: at_b.put_nowait((kind, bot_id)))
    a.send(QUEUED, 7)
    a.send(QUEUED, 7)  # the same signal twice in one turn leaves once
    a.send(POLLING, 8)
    got = [await asyncio.wait_for(at_b.get(), 5) for _ in range(2)]
    assert got == [(QUEUED, 7), (POLLING, 8)]
    b.send(QUEUED, 9)  # a round trip later, anything a sent to itself would be here

    async def heard() -> None:
        while not at_a:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(heard(), 5)
    assert at_a == [(QUEUED, 9)]
    assert at_b.empty()


async def test_one_process_at_a_time_delivers_a_bots_webhook(
    pair: tuple[RedisQueueSignals, RedisQueueSignals], redis_url: str, redis_prefix: str
) -> None:
    a, b = pair
    assert await a.deliverer(7)
    assert not await b.deliverer(7)
    assert await b.deliverer(8)  # another bot: another right
    assert await a.deliverer(7)  # kept
    a.resign(7)
    await a.aclose()  # waits for the hand-back
    assert await b.deliverer(7)
    # The holder died without handing back: its right expires (here: deleted, as expiry
    # would), and the other process takes over.
    client = Redis.from_url(redis_url)
    try:
        assert await client.pttl(f"{redis_prefix}botapi:deliverer:8") > 0
        await client.delete(f"{redis_prefix}botapi:deliverer:7")
    finally:
        await client.aclose()
    fresh = RedisQueueSignals.from_url(redis_url, prefix=redis_prefix, node_id="c")
    try:
        assert await fresh.deliverer(7)
        assert not await fresh.deliverer(8)
    finally:
        await fresh.aclose()
