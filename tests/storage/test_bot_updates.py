"""Storage contract of the Bot API update queues (``storage.bot_updates``), on every
backend of the ``storage`` fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopgram.storage import AccountNotFound, SqliteStorage, Storage
from loopgram.storage.bot_updates import BotQueueNotFound, Webhook

from .conftest import START, FakeClock


def _bot(storage: Storage, name: str = "queuebot") -> int:
    return storage.accounts.create_bot(name, "Queue", "secret").id


def test_a_queue_opens_once_at_its_first_id(storage: Storage) -> None:
    bot = _bot(storage)
    assert storage.bot_updates.state(bot) is None
    state = storage.bot_updates.open(bot, first_id=500)
    assert (state.next_id, state.first_pending, state.pending) == (500, None, 0)
    # Opening again keeps the queue as it is.
    assert storage.bot_updates.open(bot, first_id=9).next_id == 500
    assert storage.bot_updates.bots() == [bot]


def test_opening_a_queue_for_an_unknown_account_fails(storage: Storage) -> None:
    with pytest.raises(AccountNotFound):
        storage.bot_updates.open(123, first_id=1)


def test_pushed_updates_count_up_from_the_first_id(storage: Storage, clock: FakeClock) -> None:
    bot = _bot(storage)
    storage.bot_updates.open(bot, first_id=1000)
    first = storage.bot_updates.push(bot, "message", b'{"a":1}')
    second = storage.bot_updates.push(bot, "callback_query", b'{"b":2}', date=START + 5)
    assert (first.update_id, second.update_id) == (1000, 1001)
    assert first.date == int(clock()) and second.date == START + 5
    state = storage.bot_updates.state(bot)
    assert state is not None
    assert (state.next_id, state.first_pending, state.pending) == (1002, 1000, 2)
    pending = storage.bot_updates.pending(bot, from_id=0, limit=10)
    assert [(u.update_id, u.kind, u.body) for u in pending] == [
        (1000, "message", b'{"a":1}'),
        (1001, "callback_query", b'{"b":2}'),
    ]


def test_push_many_queues_a_batch_in_order_per_bot_and_skips_bots_without_a_queue(
    storage: Storage, clock: FakeClock
) -> None:
    a, b, stray = _bot(storage, "firstbot"), _bot(storage, "secondbot"), _bot(storage, "straybot")
    storage.bot_updates.open(a, first_id=10)
    storage.bot_updates.open(b, first_id=500)
    storage.bot_updates.push(a, "message", b"a0")
    batch = [
        (a, "callback_query", b"a1"),
        (b, "callback_query", b"b1"),
        (stray, "callback_query", b"lost"),
        (a, "inline_query", b"a2"),
    ]
    pushed = storage.bot_updates.push_many(batch)
    assert [(u.bot_id, u.update_id, u.kind, u.body) for u in pushed] == [
        (a, 11, "callback_query", b"a1"),
        (b, 500, "callback_query", b"b1"),
        (a, 12, "inline_query", b"a2"),
    ]
    assert all(u.date == int(clock()) for u in pushed)
    assert [u.body for u in storage.bot_updates.pending(a, from_id=0, limit=10)] == [
        b"a0",
        b"a1",
        b"a2",
    ]
    # The ids go on from the batch, and a queue without a batch row is untouched.
    assert storage.bot_updates.push(a, "message", b"a3").update_id == 13
    assert storage.bot_updates.push(b, "message", b"b2").update_id == 501
    assert storage.bot_updates.state(stray) is None
    assert storage.bot_updates.push_many([]) == []


def test_push_without_a_queue_fails(storage: Storage) -> None:
    bot = _bot(storage)
    with pytest.raises(BotQueueNotFound):
        storage.bot_updates.push(bot, "message", b"{}")


def test_pending_reads_from_an_id_up_to_a_limit(storage: Storage) -> None:
    bot = _bot(storage)
    storage.bot_updates.open(bot, first_id=10)
    for _ in range(5):
        storage.bot_updates.push(bot, "message", b"{}")
    assert [u.update_id for u in storage.bot_updates.pending(bot, from_id=12, limit=2)] == [12, 13]
    assert storage.bot_updates.pending(bot, from_id=15, limit=10) == []


def test_confirm_forgets_what_is_below_and_ids_keep_counting(storage: Storage) -> None:
    bot = _bot(storage)
    storage.bot_updates.open(bot, first_id=10)
    for _ in range(3):
        storage.bot_updates.push(bot, "message", b"{}")
    assert storage.bot_updates.confirm(bot, 12) == 2
    assert storage.bot_updates.confirm(bot, 12) == 0
    assert storage.bot_updates.confirm(bot, 13) == 1
    assert storage.bot_updates.push(bot, "message", b"{}").update_id == 13
    state = storage.bot_updates.state(bot)
    assert state is not None and state.first_pending == 13 and state.pending == 1


def test_drop_forgets_old_updates_of_one_kind(storage: Storage) -> None:
    bot = _bot(storage)
    storage.bot_updates.open(bot, first_id=1)
    storage.bot_updates.push(bot, "callback_query", b"{}", date=START)
    storage.bot_updates.push(bot, "message", b"{}", date=START)
    storage.bot_updates.push(bot, "callback_query", b"{}", date=START + 100)
    assert storage.bot_updates.drop(bot, kind="callback_query", dated_before=START + 50) == 1
    left = storage.bot_updates.pending(bot, from_id=0, limit=10)
    assert [(u.update_id, u.kind) for u in left] == [(2, "message"), (3, "callback_query")]


def test_allowed_updates_are_remembered(storage: Storage) -> None:
    bot = _bot(storage)
    with pytest.raises(BotQueueNotFound):
        storage.bot_updates.set_allowed_updates(bot, '["message"]')
    storage.bot_updates.open(bot, first_id=1)
    storage.bot_updates.set_allowed_updates(bot, '["message"]')
    state = storage.bot_updates.state(bot)
    assert state is not None and state.allowed_updates == '["message"]'
    storage.bot_updates.set_allowed_updates(bot, None)
    state = storage.bot_updates.state(bot)
    assert state is not None and state.allowed_updates is None


def test_queues_are_per_bot(storage: Storage) -> None:
    a, b = _bot(storage, "firstbot"), _bot(storage, "secondbot")
    storage.bot_updates.open(a, first_id=1)
    storage.bot_updates.open(b, first_id=100)
    storage.bot_updates.push(a, "message", b"a")
    storage.bot_updates.push(b, "message", b"b")
    storage.bot_updates.confirm(a, 2)
    assert storage.bot_updates.pending(a, from_id=0, limit=10) == []
    assert [u.body for u in storage.bot_updates.pending(b, from_id=0, limit=10)] == [b"b"]
    assert storage.bot_updates.bots() == sorted([a, b])


def test_unconfirmed_updates_survive_reopening_the_database(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    with SqliteStorage(path, synchronous="NORMAL") as first:
        bot = _bot(first)
        first.bot_updates.open(bot, first_id=77)
        first.bot_updates.push(bot, "message", b'{"x":1}')
        first.bot_updates.push(bot, "message", b'{"x":2}')
        first.bot_updates.confirm(bot, 78)
    with SqliteStorage(path, synchronous="NORMAL") as second:
        left = second.bot_updates.pending(bot, from_id=0, limit=10)
        assert [(u.update_id, u.body) for u in left] == [(78, b'{"x":2}')]
        assert second.bot_updates.push(bot, "message", b"{}").update_id == 79


def test_a_webhook_is_set_fails_and_is_deleted(storage: Storage) -> None:
    bot = _bot(storage)
    with pytest.raises(BotQueueNotFound):
        storage.bot_updates.set_webhook(bot, "http://127.0.0.1:1/hook")
    storage.bot_updates.open(bot, first_id=1)
    storage.bot_updates.set_webhook(bot, "http://127.0.0.1:1/hook", secret="s3", max_connections=5)
    state = storage.bot_updates.state(bot)
    assert state is not None and state.webhook == Webhook("http://127.0.0.1:1/hook", "s3", 5)
    storage.bot_updates.webhook_failed(bot, date=START, message="Connection refused")
    state = storage.bot_updates.state(bot)
    assert state is not None and state.webhook is not None
    assert (state.webhook.last_error_date, state.webhook.last_error_message) == (
        START,
        "Connection refused",
    )
    # Setting it again clears the error; deleting it forgets it.
    storage.bot_updates.set_webhook(bot, "http://127.0.0.1:1/hook")
    state = storage.bot_updates.state(bot)
    assert state is not None and state.webhook == Webhook("http://127.0.0.1:1/hook", None, 40)
    storage.bot_updates.set_webhook(bot, None)
    state = storage.bot_updates.state(bot)
    assert state is not None and state.webhook is None
    storage.bot_updates.webhook_failed(bot, date=START, message="ignored without a webhook")
    state = storage.bot_updates.state(bot)
    assert state is not None and state.webhook is None


def test_queue_writes_skip_the_fsync_and_leave_the_setting_as_configured(
    tmp_path: Path,
) -> None:
    """The per-update writes commit with ``synchronous=NORMAL`` (no fsync: they still
    survive a restart of the process) and put the storage's own setting back."""
    storage = SqliteStorage(tmp_path / "q.db", synchronous="FULL")
    try:
        conn = storage._db.conn
        assert conn is not None
        seen: list[str] = []
        conn.set_trace_callback(seen.append)
        bot = _bot(storage)
        storage.bot_updates.open(bot, first_id=1)
        pushed = storage.bot_updates.push(bot, "message", b'{"m":1}')
        storage.bot_updates.confirm(bot, pushed.update_id + 1)
        before_batch = len(seen)
        storage.bot_updates.push_many([(bot, "callback_query", b"{}")] * 3)
        conn.set_trace_callback(None)
        relaxed = [s for s in seen if s == "PRAGMA synchronous = NORMAL"]
        assert len(relaxed) == 3  # the push, the confirm and the batch
        assert seen[before_batch:].count("COMMIT") == 1  # a batch is one transaction
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
        # Writes of the rest of the storage are not relaxed.
        seen.clear()
        conn.set_trace_callback(seen.append)
        storage.accounts.create_bot("otherbot", "Other", "secret")
        conn.set_trace_callback(None)
        assert not [s for s in seen if s.startswith("PRAGMA synchronous")]
    finally:
        storage.close()
