"""``loopgram.ratelog``: what a client can make the server log is rate-limited, one line per
kind and period, with a count of the lines left out, on an injected clock. Its users (the
dispatcher, the network driver, the application) are tested where they are."""

from __future__ import annotations

import logging

import pytest

from loopgram.clock import FakeClock
from loopgram.ratelog import RateLimitedLog

log = logging.getLogger("tests.ratelog")


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == log.name]


def test_one_line_per_key_and_period_then_the_count_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(1000.0)
    limited = RateLimitedLog(log, clock=clock, period=60.0)
    with caplog.at_level(logging.WARNING, logger=log.name):
        assert limited.warning("layer", "bad layer %d", 1)
        for n in range(2, 100):
            clock.advance(0.5)
            assert not limited.warning("layer", "bad layer %d", n)
        assert limited.warning("other", "another kind")  # keys do not share a period
        clock.advance(60.0)
        assert limited.warning("layer", "bad layer %d", 100)
    assert caplog.records[0].funcName == "test_one_line_per_key_and_period_then_the_count_left_out"
    assert lines(caplog) == [
        "bad layer 1",
        "another kind",
        "bad layer 100 (and 98 more like it since the last such line)",
    ]


def test_keys_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(0.0)
    limited = RateLimitedLog(log, clock=clock, max_keys=4)
    with caplog.at_level(logging.WARNING, logger=log.name):
        for n in range(1000):
            limited.warning(("client", n), "line %d", n)
    assert len(limited._kinds) == 4
    assert len(lines(caplog)) == 1000  # every key new: each logged once


def test_nothing_is_counted_below_the_logger_level(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(0.0)
    limited = RateLimitedLog(log, clock=clock)
    with caplog.at_level(logging.ERROR, logger=log.name):
        assert not limited.warning("k", "hidden")
    assert lines(caplog) == []
