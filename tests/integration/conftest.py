"""Fixtures of the end-to-end tests.

``loopgram_server`` comes from the loopgram pytest plugin itself (a server thread with a
SQLite data directory): these tests use it as users' suites would. Tests of timing run a
``LoopgramServer`` on the test's own loop with a fake clock (``clocked_server``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

pytest.importorskip("telethon")

from loopgram.clock import FakeClock
from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer
from loopgram.testing.server import ServerThread

from .support import Pair, make_pair


@pytest.fixture
def clock() -> FakeClock:
    # Near real time: Telethon's msg_ids come from the real clock (offset by the server time
    # it learns in the key exchange), and either side ignores messages more than 30 s ahead
    # of it: a test may move this clock by less than 30 s in all.
    return FakeClock(time.time())


@pytest.fixture
async def clocked_server(
    clock: FakeClock, loopgram_rsa_key: RsaPrivateKey
) -> AsyncIterator[LoopgramServer]:
    async with LoopgramServer(port=0, clock=clock, rsa_key=loopgram_rsa_key) as server:
        yield server


@pytest.fixture
async def pair(loopgram_server: ServerThread) -> AsyncIterator[Pair]:
    token = loopgram_server.create_bot("examplebot")
    both = await make_pair(loopgram_server, token)
    yield both
    await both.disconnect()


@pytest.fixture
async def clocked_pair(clocked_server: LoopgramServer) -> AsyncIterator[Pair]:
    token = clocked_server.create_bot("examplebot")
    both = await make_pair(clocked_server, token)
    yield both
    await both.disconnect()
