"""Fixtures shared by the tests of the HTTP front doors (tests/botapi, tests/web): a server on
the test's own loop with its HTTP listener (Bot API, hence the web page) on a free port, and
the fake clock it runs on. Their conftests import them by name."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from loopgram.clock import FakeClock
from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer


@pytest.fixture
def clock() -> FakeClock:
    # Near real time: Telethon peers check message times (see tests/integration/conftest);
    # tests move it only for timeouts.
    return FakeClock(time.time())


@pytest.fixture
async def server(
    clock: FakeClock, loopgram_rsa_key: RsaPrivateKey
) -> AsyncIterator[LoopgramServer]:
    async with LoopgramServer(
        port=0, bot_api_port=0, clock=clock, rsa_key=loopgram_rsa_key
    ) as running:
        yield running
