"""What users' own test suites import: an in-process loopgram server and client adapters.

- :class:`ServerThread` -- a loopgram server on a background thread (any test style);
  :class:`LoopgramServer` is the same server on the caller's event loop.
- the pytest plugin (``loopgram.testing.plugin``, registered as the ``loopgram`` entry
  point of ``pytest11``): fixtures ``loopgram_server`` and ``loopgram_rsa_key``, marker
  ``@pytest.mark.loopgram(**server_options)``, and the server's log in the report of a
  failing test.
- adapters that point unmodified clients at a server: ``loopgram.testing.telethon``
  (Telethon 1.x) and ``loopgram.testing.pyrogram`` (Pyrogram and its fork kurigram).
- :class:`FakeClock` and :func:`seeded_random`, for deterministic time and randomness.

Names are imported on first use: pytest imports this package with the plugin in every run
of every suite where loopgram is installed, and the server stack takes a second to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopgram.clock import FakeClock, seeded_random
    from loopgram.node import LoopgramServer, ServerFacts
    from loopgram.testing.server import ServerLog, ServerThread

LOGIN_CODE = "12345"
"""The code every phone number signs in with (``ServerConfig.login_code``)."""

_LAZY = {
    "FakeClock": "loopgram.clock",
    "seeded_random": "loopgram.clock",
    "LoopgramServer": "loopgram.node",
    "ServerFacts": "loopgram.node",
    "ServerLog": "loopgram.testing.server",
    "ServerThread": "loopgram.testing.server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "LOGIN_CODE",
    "FakeClock",
    "LoopgramServer",
    "ServerFacts",
    "ServerLog",
    "ServerThread",
    "seeded_random",
]
