"""Fixtures of the client tests: a loopgram server on loopback TCP, sharing a fake clock with
the clients, and a ``World`` that makes logged-in bots and users.

The clock is fake for the protocol (msg ids, salts, callback windows, flood buckets,
``cache_time``); sockets and timers are the event loop's, so nothing here sleeps for the
clock: tests ``advance`` it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from loopgram.clock import FakeClock
from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer
from loopgram.server import ServerConfig

from .support import World


@pytest.fixture(scope="session")
def rsa_key() -> RsaPrivateKey:
    # Generating a 2048-bit key takes a while: one for the whole run.
    return RsaPrivateKey.generate()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server_options() -> dict[str, Any]:
    """Overridden by tests (via ``pytest.mark.parametrize`` or a local fixture)."""
    return {}


@pytest.fixture
async def server(
    rsa_key: RsaPrivateKey, clock: FakeClock, server_options: dict[str, Any]
) -> AsyncIterator[LoopgramServer]:
    options: dict[str, Any] = {"config": ServerConfig(), **server_options}
    async with LoopgramServer(
        data_dir=None, port=0, clock=clock, rsa_key=rsa_key, pool_size=2, **options
    ) as srv:
        yield srv


@pytest.fixture
async def world(server: LoopgramServer, clock: FakeClock) -> AsyncIterator[World]:
    w = World(server, clock)
    try:
        yield w
    finally:
        await w.close()
