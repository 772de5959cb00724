"""Fixtures for the cluster layer: a real redis-server, one key prefix per test.

``LOOPGRAM_TEST_REDIS`` names the server (``.ci/run`` starts one and exports it). Without it
the tests use a redis-server on the default local port; in CI its absence is a failure, never
a skip.
"""

from __future__ import annotations

import os
import uuid

import pytest
from redis.asyncio import Redis

REDIS_ENV = "LOOPGRAM_TEST_REDIS"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"{REDIS_ENV} is not set: .ci/run must start redis-server and export it")
    return LOCAL_REDIS


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of this test's own (``drop_keys`` removes its keys afterwards)."""
    return f"loopgram-test:{uuid.uuid4().hex}:"


async def drop_keys(url: str, prefix: str) -> None:
    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
