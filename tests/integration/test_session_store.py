"""The durable SessionStore adapter over SQLite: what a restart keeps of keys and sessions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopgram.clock import FakeClock, seeded_random
from loopgram.crypto import AuthKey
from loopgram.mtproto.salts import ServerSalts
from loopgram.mtproto.session import ServerSession
from loopgram.mtproto.store import KeyEntry
from loopgram.server.session_store import DurableSessionStore
from loopgram.storage import Storage, open_storage

SESSION_ID = 0x1234


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def reopen(data: Path, clock: FakeClock) -> tuple[Storage, DurableSessionStore]:
    storage = open_storage(data, clock=clock, synchronous="NORMAL")
    return storage, DurableSessionStore(storage, clock=clock, random_bytes=seeded_random(3))


@pytest.fixture
def opened(data: Path, clock: FakeClock) -> Iterator[tuple[Storage, DurableSessionStore]]:
    storage, store = reopen(data, clock)
    yield storage, store
    storage.close()


def new_key(
    clock: FakeClock, store: DurableSessionStore, *, expires_in: float | None = None
) -> KeyEntry:
    auth_key = AuthKey(seeded_random(9)(256))
    salts = ServerSalts(77, clock(), seeded_random(4), period=3600, grace=1800)
    expires = None if expires_in is None else clock() + expires_in
    entry = KeyEntry(auth_key, salts, clock(), expires)
    store.add_key(entry)
    return entry


def new_session(entry: KeyEntry, clock: FakeClock, store: DurableSessionStore) -> ServerSession:
    session = ServerSession(entry.auth_key, entry.salts, SESSION_ID, clock)
    session.announced = True
    store.add_session(session)
    return session


def test_keys_sessions_and_salts_survive_a_restart(
    data: Path, clock: FakeClock, opened: tuple[Storage, DurableSessionStore]
) -> None:
    storage, store = opened
    entry = new_key(clock, store)
    session = new_session(entry, clock, store)
    base = int(clock() * 2**32) & ~3
    for i in range(3):
        assert session.received.accept(base + 4 * i, 2 * i + 1, True) == 0
    update_id = session.push(b"\x01\x02\x03\x04", content=True, response=False)
    clock.advance(4000)  # into the next salt period
    current_salt = entry.salts.current(clock())
    assert store.checkpoint() == 1
    assert store.checkpoint() == 0  # nothing changed: nothing written
    storage.close()

    storage2, store2 = reopen(data, clock)
    try:
        loaded = store2.get_key(entry.id)
        assert loaded is not None
        assert loaded.auth_key == entry.auth_key
        assert loaded.salts.accepts(current_salt, clock())
        assert loaded.salts.accepts(77, clock())  # the previous salt, still in its grace
        restored = store2.get_session(entry.id, SESSION_ID)
        assert restored is not None
        assert restored.announced
        assert restored.received.floor == base + 8  # replays of the old ids are refused
        assert restored.received.check(base + 4, 3, True) != 0
        assert restored.seqno.count == session.seqno.count
        assert restored.outbox == {update_id: session.outbox[update_id]}
        assert restored.msg_ids.next() > update_id
        assert store2.get_session(entry.id, 999) is None
    finally:
        storage2.close()


async def test_released_sessions_are_saved_by_flush_and_forgotten(
    data: Path, clock: FakeClock, opened: tuple[Storage, DurableSessionStore]
) -> None:
    _, store = opened
    entry = new_key(clock, store)
    session = new_session(entry, clock, store)
    session.received.accept(int(clock() * 2**32) & ~3, 1, True)
    store.release([session])
    assert store.releasing == 1
    # Back before the flush: the same live object, not an older snapshot from the storage.
    assert store.get_session(entry.id, SESSION_ID) is session
    store.release([session])
    assert await store.flush() == 1
    assert store.releasing == 0
    assert store.sessions == []
    again = store.get_session(entry.id, SESSION_ID)
    assert again is not None and again is not session
    assert again.received.floor == session.received.highest


def test_temporary_keys_expire(
    clock: FakeClock, opened: tuple[Storage, DurableSessionStore]
) -> None:
    _, store = opened
    entry = new_key(clock, store, expires_in=60)
    assert store.get_key(entry.id) is entry
    clock.advance(61)
    assert store.get_key(entry.id) is None


def test_destroyed_session_is_gone(
    clock: FakeClock, opened: tuple[Storage, DurableSessionStore]
) -> None:
    _, store = opened
    entry = new_key(clock, store)
    new_session(entry, clock, store)
    assert store.remove_session(entry.id, SESSION_ID)
    assert store.get_session(entry.id, SESSION_ID) is None
    assert not store.remove_session(entry.id, SESSION_ID)
