"""Bot API layer: the Telegram Bot API over HTTP, a second front door over the same services.

``BotApiGateway`` serves the methods over a ``ServerCore``; ``BotApiServer`` is the HTTP
driver (aiohttp). Parsing, coercion, rendering, the errors table and the queue rules are
pure modules beside them.
"""

from __future__ import annotations

from loopgram.botapi.errors import BotApiError
from loopgram.botapi.gateway import IMPLEMENTED, BotApiGateway
from loopgram.botapi.http import BotApiServer

__all__ = ["IMPLEMENTED", "BotApiError", "BotApiGateway", "BotApiServer"]
