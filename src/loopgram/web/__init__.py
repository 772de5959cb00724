"""Web layer: loopgram in the browser -- a page where a person plays users against bots.

``WebFrontend`` mounts the page, its WebSocket and the live panel on an aiohttp application
(the Bot API listener's); each tab is a ``WebSession``, a client of ``ServerCore`` like an
MTProto session. See docs/web.md.
"""

from __future__ import annotations

from loopgram.web.server import COOKIE, PREFIX, WebFrontend, is_loopback
from loopgram.web.session import WebError, WebSession

__all__ = ["COOKIE", "PREFIX", "WebError", "WebFrontend", "WebSession", "is_loopback"]
