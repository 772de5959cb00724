"""Flood limits shared between processes: two ``FloodLimiter`` (two processes' dispatchers)
spending one bot's buckets through ``RedisFloodBuckets`` over a real redis-server, on one fake
clock; and a Redis that cannot be reached, which leaves each process limiting alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import loopgram.tl.functions.messages as fmsg
from loopgram.clock import FakeClock
from loopgram.cluster import RedisFloodBuckets
from loopgram.server import FloodWait, ServerConfig
from loopgram.server.flood import FloodLimiter
from loopgram.tl import types
from tests.cluster.conftest import drop_keys

BOT = ("account", 1)
BURST = ServerConfig().bot_chat_rate.burst  # type: ignore[union-attr]


def to_user(user_id: int) -> fmsg.SendMessage:
    peer = types.InputPeerUser(user_id=user_id, access_hash=0)
    return fmsg.SendMessage(peer=peer, message="x", random_id=1)


def send(limiter: FloodLimiter, user_id: int = 7) -> None:
    limiter.check(BOT, "messages.sendMessage", to_user(user_id), bot=True)


@pytest.fixture
async def shared(
    redis_url: str, redis_prefix: str
) -> AsyncIterator[tuple[FakeClock, list[tuple[FloodLimiter, RedisFloodBuckets]]]]:
    clock = FakeClock(1_765_000_000.0)
    processes = []
    for _ in range(2):
        limiter = FloodLimiter(clock, ServerConfig())
        buckets = RedisFloodBuckets.from_url(redis_url, prefix=redis_prefix)
        buckets.start()
        limiter.share(buckets)
        processes.append((limiter, buckets))
    yield clock, processes
    for _, buckets in processes:
        await buckets.aclose()
    await drop_keys(redis_url, redis_prefix)


async def test_a_bot_flooding_one_chat_through_two_processes_gets_one_burst(
    shared: tuple[FakeClock, list[tuple[FloodLimiter, RedisFloodBuckets]]],
) -> None:
    clock, processes = shared
    sent = 0
    refused: FloodWait | None = None
    for turn in range(2 * BURST):
        limiter, buckets = processes[turn % 2]
        try:
            send(limiter)
        except FloodWait as e:
            refused = e
            break
        sent += 1
        await buckets.flushed()
    # One burst between them, not one each: each process knows the shared level as of its
    # own last report, so the other's last spend is one it has not seen yet.
    assert sent == BURST + 1
    assert refused is not None and refused.seconds == 1
    # Both processes see the empty bucket now; another chat has its own.
    for limiter, _ in processes:
        with pytest.raises(FloodWait):
            send(limiter)
        send(limiter, user_id=8)
    # The shared bucket refills by the clock: one message a second, wherever it is sent.
    clock.advance(1.0)
    first, second = processes
    send(second[0])
    await second[1].flushed()
    with pytest.raises(FloodWait):
        send(first[0])


async def test_spends_on_their_way_are_counted_once_they_arrive(
    shared: tuple[FakeClock, list[tuple[FloodLimiter, RedisFloodBuckets]]],
) -> None:
    """A process that spent without waiting for the reports: the other one learns the level
    with its own next report, and stops at once."""
    _, ((one, one_buckets), (two, two_buckets)) = shared
    for _ in range(BURST - 2):
        send(one)
    await one_buckets.flushed()
    send(two)  # its first report brings back the level process one left
    await two_buckets.flushed()
    send(two)
    await two_buckets.flushed()
    with pytest.raises(FloodWait):
        send(two)


async def test_an_unreachable_redis_leaves_each_process_limiting_alone() -> None:
    clock = FakeClock(1_765_000_000.0)
    limiter = FloodLimiter(clock, ServerConfig())
    buckets = RedisFloodBuckets.from_url("redis://127.0.0.1:1/0")
    buckets.start()
    limiter.share(buckets)
    try:
        for _ in range(BURST):
            send(limiter)
            await buckets.flushed()
        with pytest.raises(FloodWait):
            send(limiter)
    finally:
        await buckets.aclose()
