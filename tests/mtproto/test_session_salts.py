"""Server salts: rotation, grace window, future salts (mtproto/description, "Server Salt")."""

from __future__ import annotations

from loopgram.clock import seeded_random
from loopgram.mtproto.salts import MAX_FUTURE_SALTS, ServerSalts
from loopgram.mtproto.session import PaddingPool

NOW = 1_764_000_000.0


def salts(first: int = 42) -> ServerSalts:
    return ServerSalts(first, NOW, seeded_random(3), period=3600, grace=1800)


def test_first_salt_is_current_for_one_period() -> None:
    s = salts()
    assert s.current(NOW) == 42
    assert s.accepts(42, NOW + 3599)
    assert not s.accepts(0, NOW)
    assert not s.accepts(43, NOW)


def test_rotation_and_grace() -> None:
    s = salts()
    second = s.current(NOW + 3600)
    assert second not in (0, 42)
    assert s.accepts(second, NOW + 3600)
    assert s.accepts(42, NOW + 3600 + 1799)  # the previous salt, within its grace
    assert not s.accepts(42, NOW + 3600 + 1800)
    third = s.current(NOW + 3 * 3600)
    assert third != second
    assert not s.accepts(second, NOW + 3 * 3600 + 1800)


def test_future_salts_start_with_the_current_and_are_kept() -> None:
    s = salts()
    future = s.future(NOW + 10, 5)
    assert future[0].salt == 42
    assert [f.valid_since for f in future] == [int(NOW) + 3600 * i for i in range(5)]
    assert all(f.valid_until == f.valid_since + 3600 for f in future)
    # The salts handed out are the ones later accepted and announced as current.
    assert s.current(NOW + 3 * 3600) == future[3].salt
    assert s.accepts(future[3].salt, NOW + 3 * 3600 + 1)
    assert len(s.future(NOW, 1000)) == MAX_FUTURE_SALTS
    assert len(s.future(NOW, 0)) == 1


def test_clock_going_back_keeps_a_salt() -> None:
    s = salts()
    s.current(NOW + 7200)
    assert s.current(NOW - 100) != 0
    assert s.future(NOW - 100, 2)


def test_padding_pool_draws_in_chunks() -> None:
    calls: list[int] = []
    source = seeded_random(1)

    def counting(n: int) -> bytes:
        calls.append(n)
        return source(n)

    pool = PaddingPool(counting)
    taken = [pool.take(12 + i % 16) for i in range(300)]
    assert all(len(t) == 12 + i % 16 for i, t in enumerate(taken))
    assert len(calls) < 10
    assert len(pool.take(10_000)) == 10_000
