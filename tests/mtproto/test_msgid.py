"""msg_id generation and checks, seq_no, and the replay window (mtproto/description)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopgram.clock import FakeClock
from loopgram.mtproto.msgid import (
    DUPLICATE,
    BadMsgCode,
    MsgIdGenerator,
    ReceivedWindow,
    SeqNo,
    check_client_msg_id,
    msg_id_time,
)

NOW = 1_764_000_000.0


def test_client_ids_divisible_by_four_and_increasing() -> None:
    clock = FakeClock(NOW)
    gen = MsgIdGenerator(clock, server=False)
    ids = [gen.next() for _ in range(100)]  # the clock does not move: +4 each time
    assert all(i % 4 == 0 for i in ids)
    assert ids == sorted(set(ids))
    assert abs(msg_id_time(ids[0]) - NOW) < 1e-3


def test_server_ids_parity_by_kind() -> None:
    clock = FakeClock(NOW)
    gen = MsgIdGenerator(clock, server=True)
    ids = []
    for i in range(50):
        response = i % 3 == 0
        mid = gen.next(response)
        assert mid % 4 == (1 if response else 3)
        ids.append(mid)
        clock.advance(1e-7)
    assert ids == sorted(set(ids))


def test_ids_follow_the_clock_and_offset() -> None:
    clock = FakeClock(NOW)
    gen = MsgIdGenerator(clock, server=False, offset=-10.0)
    first = gen.next()
    assert abs(msg_id_time(first) - (NOW - 10)) < 1e-3
    clock.advance(5)
    assert abs(msg_id_time(gen.next()) - (NOW - 5)) < 1e-3
    assert gen.now() == NOW - 5


def test_ids_stay_monotonic_when_the_clock_goes_back() -> None:
    clock = FakeClock(NOW)
    gen = MsgIdGenerator(clock, server=True)
    a = gen.next()
    clock.advance(-60)
    b = gen.next(True)
    assert b > a
    assert b % 4 == 1


def test_seqno() -> None:
    seq = SeqNo()
    assert [seq.next(c) for c in (True, False, True, True, False)] == [1, 2, 3, 5, 6]


@pytest.mark.parametrize(
    ("delta", "bits", "expected"),
    [
        (0, 0, 0),
        (-299, 0, 0),
        (29, 0, 0),
        (-301, 0, BadMsgCode.MSG_ID_TOO_LOW),
        (31, 0, BadMsgCode.MSG_ID_TOO_HIGH),
        (0, 1, BadMsgCode.MSG_ID_BAD_BITS),
        (0, 2, BadMsgCode.MSG_ID_BAD_BITS),
        (-1000, 3, BadMsgCode.MSG_ID_BAD_BITS),  # the bits are checked first
    ],
)
def test_check_client_msg_id(delta: float, bits: int, expected: int) -> None:
    msg_id = (int((NOW + delta) * 2**32) & ~3) | bits
    assert check_client_msg_id(msg_id, NOW) == expected


def test_window_duplicates_and_floor() -> None:
    w = ReceivedWindow(size=4)
    for i in range(1, 100):
        assert w.accept(i * 4, 2 * i - 1, True) == 0
    assert w.accept(99 * 4, 197, True) == DUPLICATE
    # Forgotten ids: anything at or below the floor cannot be told from a replay.
    assert w.floor > 0
    assert w.accept(w.floor, 1, True) == BadMsgCode.MSG_TOO_OLD
    assert len(w) <= 4 + 64


def test_window_seqno_parity() -> None:
    w = ReceivedWindow()
    assert w.accept(4, 0, True) == BadMsgCode.SEQNO_ODD_EXPECTED
    assert w.accept(4, 1, False) == BadMsgCode.SEQNO_EVEN_EXPECTED
    assert w.accept(4, 1, None) == 0
    assert w.accept(8, 2, None) == 0


def test_window_seqno_order() -> None:
    w = ReceivedWindow()
    assert w.accept(100, 5, True) == 0
    # A later id with a lower seq_no, or the same odd one: too low.
    assert w.accept(104, 3, True) == BadMsgCode.SEQNO_TOO_LOW
    assert w.accept(104, 5, True) == BadMsgCode.SEQNO_TOO_LOW
    assert w.accept(104, 6, False) == 0
    # An earlier id with a higher seq_no than a later message: too high.
    assert w.accept(96, 7, True) == BadMsgCode.SEQNO_TOO_HIGH
    # Out of order but consistent: fine.
    assert w.accept(96, 3, True) == 0
    assert w.accept(98, 6, False) == BadMsgCode.SEQNO_TOO_HIGH  # 100 has seq_no 5
    assert w.accept(98, 4, False) == 0
    assert w.check(100, 5, True) == DUPLICATE


def test_window_even_seqnos_may_repeat() -> None:
    w = ReceivedWindow()
    assert w.accept(4, 2, False) == 0
    assert w.accept(8, 2, False) == 0  # acks share the seq_no of the content before them
    assert w.accept(12, 3, True) == 0


@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=200))
def test_window_accepts_each_id_once(ids: list[int]) -> None:
    w = ReceivedWindow(size=64)
    seen: set[int] = set()
    for i in ids:
        code = w.accept(i * 4, 0, None)
        if i * 4 in seen:
            assert code == DUPLICATE or code == BadMsgCode.MSG_TOO_OLD
        elif code == 0:
            seen.add(i * 4)
        else:
            assert code == BadMsgCode.MSG_TOO_OLD
            assert i * 4 <= w.floor


def test_window_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ReceivedWindow(0)
