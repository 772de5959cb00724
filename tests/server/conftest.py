"""Fixtures of the server tests: a ``ServerCore`` on memory storage and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loopgram.clock import FakeClock, seeded_random
from loopgram.server import ServerConfig, ServerCore
from loopgram.storage import Storage, open_storage

from .support import make_core


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config() -> ServerConfig:
    return ServerConfig()


@pytest.fixture
def storage(clock: FakeClock) -> Iterator[Storage]:
    store = open_storage("memory:", clock=clock, random_bytes=seeded_random(1))
    yield store
    store.close()


@pytest.fixture
def core(storage: Storage, clock: FakeClock, config: ServerConfig) -> ServerCore:
    return make_core(storage, clock, config)
