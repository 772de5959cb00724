"""``ServerThread(capture_log=True)``: the records of the server's own thread, and a process
whose logging sees what it saw before."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from loopgram.crypto import RsaPrivateKey
from loopgram.testing.server import ServerLog, ServerThread

SERVER = logging.getLogger("loopgram.server")
LOOPGRAM = logging.getLogger("loopgram")


@pytest.fixture
def server(loopgram_rsa_key: RsaPrivateKey) -> Iterator[ServerThread]:
    with ServerThread(capture_log=True, data_dir=None, rsa_key=loopgram_rsa_key) as server:
        yield server


def messages(log: ServerLog) -> list[str]:
    return [record.getMessage() for record in log.records()]


def test_the_log_holds_the_servers_thread_and_not_the_tests(server: ServerThread) -> None:
    server.call(SERVER.info, "on the server's loop")
    logging.getLogger("loopgram.client").warning("on the test's thread")
    assert "on the server's loop" in messages(server.log)
    assert "on the test's thread" not in messages(server.log)
    assert any(m.startswith("listening on 127.0.0.1:") for m in messages(server.log))


def test_two_servers_keep_their_own_records(
    server: ServerThread, loopgram_rsa_key: RsaPrivateKey
) -> None:
    with ServerThread(capture_log=True, data_dir=None, rsa_key=loopgram_rsa_key) as other:
        other.call(SERVER.info, "other")
        server.call(SERVER.info, "first")
    assert "first" in messages(server.log) and "other" not in messages(server.log)
    assert "other" in messages(other.log) and "first" not in messages(other.log)


def test_the_process_sees_only_what_it_saw_before(
    caplog: pytest.LogCaptureFixture, loopgram_rsa_key: RsaPrivateKey
) -> None:
    """``loopgram`` at WARNING (Python's default): the capture lowers it to INFO for itself,
    yet the process's handlers (pytest's here) get the server's WARNING and not its INFO."""
    caplog.set_level(logging.WARNING, logger="loopgram")
    with ServerThread(capture_log=True, data_dir=None, rsa_key=loopgram_rsa_key) as server:
        server.call(SERVER.info, "quiet")
        server.call(SERVER.warning, "loud")
    seen = [record.getMessage() for record in caplog.records]
    assert "loud" in seen and "quiet" not in seen
    assert {"quiet", "loud"} <= set(messages(server.log))


def test_a_process_logging_loopgram_at_info_keeps_seeing_it(
    caplog: pytest.LogCaptureFixture, loopgram_rsa_key: RsaPrivateKey
) -> None:
    caplog.set_level(logging.INFO, logger="loopgram")
    with ServerThread(capture_log=True, data_dir=None, rsa_key=loopgram_rsa_key) as server:
        server.call(SERVER.info, "wanted")
    assert "wanted" in [record.getMessage() for record in caplog.records]
    assert "wanted" in messages(server.log)


def test_the_logger_is_restored_after_the_last_server_stops(
    loopgram_rsa_key: RsaPrivateKey,
) -> None:
    before = (LOOPGRAM.level, LOOPGRAM.propagate, list(LOOPGRAM.handlers))
    with ServerThread(capture_log=True, data_dir=None, rsa_key=loopgram_rsa_key):
        assert LOOPGRAM.getEffectiveLevel() == logging.INFO
    assert (LOOPGRAM.level, LOOPGRAM.propagate, list(LOOPGRAM.handlers)) == before


def test_without_capture_nothing_is_kept(loopgram_rsa_key: RsaPrivateKey) -> None:
    with ServerThread(data_dir=None, rsa_key=loopgram_rsa_key) as server:
        server.call(SERVER.warning, "not kept")
    assert server.log.records() == []


def test_the_log_keeps_the_newest_records_and_says_how_many_it_dropped() -> None:
    log = ServerLog(limit=2)
    for n in range(5):
        log.add(logging.LogRecord("loopgram.rpc", logging.INFO, __file__, 1, f"call {n}", (), None))
    text, end = log.read(1)
    assert end == 5
    assert text.splitlines()[0] == "(2 earlier records not kept)"
    assert [line.rsplit(": ", 1)[1] for line in text.splitlines()[1:]] == ["call 3", "call 4"]
    assert log.read(end) == ("", 5)
