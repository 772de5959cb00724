"""Fixtures for the cluster layer: a real redis-server, one key prefix per test; one cluster
of three ``loopgram serve`` processes shared by the tests that kill nothing.

``LOOPGRAM_TEST_REDIS`` names the server (``.ci/run`` starts one and exports it). Without it
the tests use a redis-server on the default local port; in CI its absence is a failure, never
a skip.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from redis.asyncio import Redis

from loopgram.testing.cluster import ServerCluster
from loopgram.testing.postgres import MissingService

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


@contextmanager
def running(cluster: ServerCluster) -> Iterator[ServerCluster]:
    """``cluster`` started (a missing service fails the test, naming it) and stopped."""
    try:
        cluster.start()
    except MissingService as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="package")
def cluster() -> Iterator[ServerCluster]:
    """One cluster for the tests that kill nothing and need the default answer window:
    three interpreter starts per test would be most of this package's time. Each test makes
    its own bots and users."""
    with running(ServerCluster(3)) as started:
        yield started


_bots = itertools.count(1)


def new_bot(cluster: ServerCluster) -> str:
    """A bot of its own for one test (usernames unique within the cluster's schema)."""
    return cluster.create_bot(f"cluster{next(_bots)}bot")
