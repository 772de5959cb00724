"""The ``loopgram_server`` fixture: what it starts, and when."""

from __future__ import annotations

from loopgram.testing.server import ServerThread


def test_the_fixture_starts_the_bot_api_at_the_first_read_of_its_url(
    loopgram_server: ServerThread,
) -> None:
    assert loopgram_server.server.bot_api_url is None  # nothing paid for it yet
    url = loopgram_server.bot_api_url
    assert url is not None and url.startswith("http://127.0.0.1:")
    assert loopgram_server.server.bot_api_url == url == loopgram_server.bot_api_url
