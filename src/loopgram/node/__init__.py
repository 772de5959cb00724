"""Node layer: the composition root, on top of every other layer.

It builds storage, services, the MTProto listener (``loopgram.net``) and the HTTP listener
(``loopgram.botapi`` with ``loopgram.web``) from a configuration, and starts and stops them:

- ``server``: :class:`LoopgramServer`, one server in this process, and its lifecycle;
- ``links``: :class:`ServerApp`, which runs the RPCs of MTProto links through the core;
- ``facts``: what a data directory says about its server (key, last address, defaults,
  the bot tokens the tools made), readable without starting one (``loopgram info``).

``loopgram.server`` below holds the rules and no network code.
"""

from __future__ import annotations

from loopgram.net import LOW_PORTS
from loopgram.node.facts import (
    BOT_TOKEN_PREFIX,
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_PORT,
    LAST_BOT_API_URL,
    LAST_HOST,
    LAST_PORT,
    LAST_WEB_URL,
    ServerFacts,
    ever_served,
    load_facts,
    load_rsa_key,
    recall_bot_token,
    remember_bot_token,
)
from loopgram.node.links import ServerApp
from loopgram.node.server import LoopgramServer

__all__ = [
    "BOT_TOKEN_PREFIX",
    "DEFAULT_DATA_DIR",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LAST_BOT_API_URL",
    "LAST_HOST",
    "LAST_PORT",
    "LAST_WEB_URL",
    "LOW_PORTS",
    "LoopgramServer",
    "ServerApp",
    "ServerFacts",
    "ever_served",
    "load_facts",
    "load_rsa_key",
    "recall_bot_token",
    "remember_bot_token",
]
