"""Fixtures of the storage tests: every backend behind one ``storage`` fixture.

A new backend joins the contract suite by adding a name to ``BACKENDS`` and a branch to
``make_storage``; the tests themselves do not change.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from loopgram.storage import MemoryStorage, SqliteStorage, Storage
from loopgram.storage.postgres import PostgresStorage
from loopgram.testing.postgres import SchemaPool, require_postgres_url

BACKENDS = ["memory", "sqlite", "postgres"]

START = 1_700_000_000


class FakeClock:
    """A settable clock: storage times are exact and tests can move time."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def seeded_random(seed: int = 1) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


def make_storage(
    backend: str, tmp_path: Path, clock: FakeClock, postgres_url: str | None = None
) -> Storage:
    if backend == "memory":
        return MemoryStorage(clock=clock, random_bytes=seeded_random())
    if backend == "sqlite":
        # NORMAL keeps the suite fast on slow disks; FULL is covered by the SQLite tests.
        return SqliteStorage(
            tmp_path / "contract.db",
            clock=clock,
            random_bytes=seeded_random(),
            synchronous="NORMAL",
        )
    if backend == "postgres":
        if postgres_url is None:
            raise AssertionError("the postgres backend needs a schema URL")
        return PostgresStorage(postgres_url, clock=clock, random_bytes=seeded_random())
    raise AssertionError(f"unknown backend {backend}")


@pytest.fixture(scope="session")
def postgres_schemas() -> Iterator[SchemaPool]:
    """Migrated schemas, emptied between tests (a fresh one per test costs its migrations)."""
    pool = SchemaPool(require_postgres_url())
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Storage]:
    if request.param != "postgres":
        store = make_storage(request.param, tmp_path, clock)
        try:
            yield store
        finally:
            store.close()
        return
    pool: SchemaPool = request.getfixturevalue("postgres_schemas")
    with pool.lease() as url:
        store = make_storage("postgres", tmp_path, clock, url)
        try:
            yield store
        finally:
            store.close()
