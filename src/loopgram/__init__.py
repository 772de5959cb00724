"""loopgram: Telegram's bot callback-answer system on one machine.

An MTProto 2.0 server that unmodified Telegram client libraries connect to, a typed
Python client for the same protocol, and the TL toolchain under both. See DESIGN.md.
"""

from __future__ import annotations

__version__ = "0.1.0"


class LoopgramError(Exception):
    """Base class of every error loopgram raises on purpose."""
