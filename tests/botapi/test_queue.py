"""The update queue rules (offsets, limits, first id, allowed_updates, expiry) over a
memory storage and a fake clock."""

from __future__ import annotations

import json
import random

import pytest

from loopgram.botapi.queue import (
    FIRST_ID_HIGH,
    FIRST_ID_LOW,
    UpdateQueues,
    allowed_kinds,
    first_update_id,
    render_update,
    update_json,
)
from loopgram.clock import FakeClock
from loopgram.storage import MemoryStorage

START = 1_700_000_000.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def setup(clock: FakeClock) -> tuple[UpdateQueues, int]:
    storage = MemoryStorage(clock=clock)
    bot = storage.accounts.create_bot("queuebot", "Q", "s").id
    queues = UpdateQueues(storage, clock, random.Random(3).randbytes, callback_ttl=15)
    queues.open(bot)
    return queues, bot


def _ids(queues: UpdateQueues, bot: int, offset: int, limit: int = 100) -> list[int]:
    return [u.update_id for u in queues.take(bot, offset, limit)]


def _push(queues: UpdateQueues, bot: int, n: int, kind: str = "message") -> list[int]:
    out = []
    for i in range(n):
        pushed = queues.push(bot, kind, {"n": i})
        assert pushed is not None
        out.append(pushed.update_id)
    return out


def test_first_ids_are_random_within_the_official_range() -> None:
    rng = random.Random(1)
    ids = {first_update_id(rng.randbytes) for _ in range(200)}
    assert len(ids) > 190
    assert all(FIRST_ID_LOW <= i <= FIRST_ID_HIGH for i in ids)


def test_update_ids_count_up_by_one(setup: tuple[UpdateQueues, int]) -> None:
    queues, bot = setup
    ids = _push(queues, bot, 3)
    assert FIRST_ID_LOW <= ids[0] <= FIRST_ID_HIGH
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]


def test_offset_confirms_everything_below_it(setup: tuple[UpdateQueues, int]) -> None:
    queues, bot = setup
    ids = _push(queues, bot, 3)
    assert _ids(queues, bot, 0) == ids
    assert _ids(queues, bot, ids[1]) == ids[1:]
    # Confirmed updates are gone: offset 0 now starts at the second.
    assert _ids(queues, bot, 0) == ids[1:]
    assert _ids(queues, bot, ids[2] + 1) == []
    assert queues.pending_count(bot) == 0


def test_offset_one_on_a_fresh_queue_reads_from_the_head(setup: tuple[UpdateQueues, int]) -> None:
    queues, bot = setup
    ids = _push(queues, bot, 2)
    # Far behind the head (ids start above 2 000 000): the head, nothing confirmed.
    assert _ids(queues, bot, 1) == ids
    assert queues.pending_count(bot) == 2


def test_an_offset_far_ahead_falls_back_to_the_head(setup: tuple[UpdateQueues, int]) -> None:
    queues, bot = setup
    ids = _push(queues, bot, 2)
    assert _ids(queues, bot, ids[-1] + 1000) == ids
    assert queues.pending_count(bot) == 2


def test_negative_offset_keeps_the_last_updates(setup: tuple[UpdateQueues, int]) -> None:
    queues, bot = setup
    ids = _push(queues, bot, 5)
    assert _ids(queues, bot, -2) == ids[-2:]
    assert queues.pending_count(bot) == 2
    assert _ids(queues, bot, -10) == ids[-2:]


def test_limit_is_clamped_to_one_through_a_hundred(setup: tuple[UpdateQueues, int]) -> None:
    queues, bot = setup
    ids = _push(queues, bot, 105)
    assert _ids(queues, bot, 0, 2) == ids[:2]
    assert _ids(queues, bot, 0, 0) == ids[:1]
    assert _ids(queues, bot, 0, 1000) == ids[:100]


def test_allowed_updates_filter_what_is_queued_and_are_remembered(
    setup: tuple[UpdateQueues, int], clock: FakeClock
) -> None:
    queues, bot = setup
    queues.set_allowed(bot, ["callback_query"])
    assert queues.push(bot, "message", {}) is None
    assert queues.push(bot, "callback_query", {}) is not None
    # A new UpdateQueues over the same storage (a restart) still filters.
    again = UpdateQueues(queues._storage, clock, random.Random(4).randbytes, callback_ttl=15)
    assert again.push(bot, "message", {}) is None
    queues.set_allowed(bot, [])
    assert queues.push(bot, "message", {}) is not None


def test_default_set_leaves_out_chat_member_and_reactions() -> None:
    kinds = allowed_kinds(None)
    assert "message" in kinds and "callback_query" in kinds
    assert not {"chat_member", "message_reaction", "message_reaction_count"} & kinds


def test_callback_queries_leave_the_queue_after_their_window(
    setup: tuple[UpdateQueues, int], clock: FakeClock
) -> None:
    queues, bot = setup
    (query,) = _push(queues, bot, 1, "callback_query")
    (message,) = _push(queues, bot, 1, "message")
    clock.advance(10)
    assert _ids(queues, bot, 0) == [query, message]
    clock.advance(10)
    assert _ids(queues, bot, 0) == [message]
    clock.advance(86_400)
    assert _ids(queues, bot, 0) == []


def test_rendered_updates_carry_their_id(setup: tuple[UpdateQueues, int]) -> None:
    queues, bot = setup
    pushed = queues.push(bot, "message", {"text": "é"})
    assert pushed is not None
    assert render_update(pushed) == {"update_id": pushed.update_id, "message": {"text": "é"}}


def test_update_json_is_the_rendered_update_as_text(setup: tuple[UpdateQueues, int]) -> None:
    queues, bot = setup
    pushed = queues.push(bot, "callback_query", {"id": "5", "data": 'a"\\é'})
    assert pushed is not None
    assert json.loads(update_json(pushed)) == render_update(pushed)


def test_staged_updates_are_invisible_until_flushed_then_queued_in_order(
    setup: tuple[UpdateQueues, int],
) -> None:
    queues, bot = setup
    queues.set_allowed(bot, ["callback_query", "message"])
    assert queues.stage(bot, "callback_query", {"n": 1})
    assert queues.stage(bot, "callback_query", {"n": 2})
    assert not queues.stage(bot, "inline_query", {"n": 0})  # left out by allowed_updates
    assert queues.staged == 2
    assert queues.take(bot, 0, 100) == []  # nothing a bot could see before the commit
    flushed = queues.flush()
    assert [u.update_id for u in flushed] == [flushed[0].update_id, flushed[0].update_id + 1]
    assert queues.staged == 0 and queues.flush() == []
    assert [json.loads(u.body)["callback_query"]["n"] for u in queues.take(bot, 0, 100)] == [1, 2]


def test_an_update_queued_now_is_written_after_the_staged_ones(
    setup: tuple[UpdateQueues, int],
) -> None:
    queues, bot = setup
    assert queues.stage(bot, "callback_query", {"n": 1})
    pushed = queues.push(bot, "message", {"n": 2})
    assert pushed is not None and queues.staged == 0
    taken = queues.take(bot, 0, 100)
    assert [u.kind for u in taken] == ["callback_query", "message"]
    assert taken[1].update_id == pushed.update_id == taken[0].update_id + 1
