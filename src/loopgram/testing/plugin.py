"""The loopgram pytest plugin (entry point ``pytest11``: ``loopgram``).

Installed with loopgram, it gives every test suite:

- ``loopgram_server`` -- a fresh server per test on a free loopback port below 32768 (some
  clients store the port in a signed 16-bit field), with a temporary
  data directory (SQLite, as ``loopgram serve`` uses), running on its own thread
  (:class:`~loopgram.testing.server.ServerThread`), so sync and async tests of any event
  loop can use it. Stopped after the test.
- ``loopgram_rsa_key`` -- one RSA key for the whole run (generating one costs ~0.1 s), used
  by every ``loopgram_server``.
- the marker ``@pytest.mark.loopgram(**options)``: options of
  :class:`~loopgram.server.app.LoopgramServer` for that test's server, e.g.
  ``answer_timeout=1.0`` (the callback-answer window), ``clock=FakeClock(...)``,
  ``config=ServerConfig(...)``, ``data_dir=None`` (memory only).

Example::

    import pytest
    from loopgram.testing.telethon import telethon_client

    @pytest.mark.loopgram(answer_timeout=2.0)
    async def test_button(loopgram_server):
        token = loopgram_server.create_bot("shopbot")
        bot = telethon_client(loopgram_server)
        await bot.start(bot_token=token)
        ...
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    # Imported lazily below: pytest loads this plugin in every run of every suite where
    # loopgram is installed, and should not pay for the server stack unless it is used.
    from loopgram.crypto import RsaPrivateKey
    from loopgram.testing.server import ServerThread

__all__ = ["loopgram_rsa_key", "loopgram_server"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "loopgram(**options): options of the LoopgramServer behind the loopgram_server fixture",
    )


@pytest.fixture(scope="session")
def loopgram_rsa_key() -> RsaPrivateKey:
    """The RSA key of every ``loopgram_server`` of the run."""
    from loopgram.crypto import RsaPrivateKey

    return RsaPrivateKey.generate()


@pytest.fixture
def loopgram_server(
    request: pytest.FixtureRequest, loopgram_rsa_key: RsaPrivateKey, tmp_path: Path
) -> Iterator[ServerThread]:
    """A running loopgram server for this test (see the module doc for its options)."""
    from loopgram.testing.server import ServerThread, start_on_a_free_low_port

    options: dict[str, Any] = {
        "data_dir": tmp_path / "loopgram-data",
        "rsa_key": loopgram_rsa_key,
        # The test process may be killed, never the machine: one fsync per write is waste.
        "synchronous": "NORMAL",
    }
    marker = request.node.get_closest_marker("loopgram")
    if marker is not None:
        if marker.args:
            raise TypeError("@pytest.mark.loopgram takes keyword options only")
        options.update(marker.kwargs)
    if "port" in options:
        server = ServerThread(**options).start()
    else:
        server = start_on_a_free_low_port(**options)
    try:
        yield server
    finally:
        server.stop()
