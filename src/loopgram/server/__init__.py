"""Server layer: the rules and the API surface of the loopgram server, without the network.

``ServerCore`` (``core``) wires everything: services holding the rules (``services``), one
thin handler per TL method (``handlers``), the dispatcher (``dispatch``), per-session
contexts (``context``), the update hub (``hub``), callback presses and inline queries as
awaitables (``presses``), flood limits (``flood``), Telegram's errors (``errors``) and the
knobs (``config``). The asyncio driver in ``loopgram.net`` feeds it requests from MTProto
connections and writes back what it answers and pushes.
"""

from __future__ import annotations

from loopgram.server.config import Rate, ServerConfig, ServerInfo
from loopgram.server.context import ClientInfo, RequestContext, SessionContext
from loopgram.server.core import ServerCore
from loopgram.server.dispatch import Answer, Dispatcher, encode_result
from loopgram.server.errors import ERRORS, ErrorSpec, FloodWait, RpcError
from loopgram.server.hub import LocalHub, UpdateHub, UpdateSink

__all__ = [
    "ERRORS",
    "Answer",
    "ClientInfo",
    "Dispatcher",
    "ErrorSpec",
    "FloodWait",
    "LocalHub",
    "Rate",
    "RequestContext",
    "RpcError",
    "ServerConfig",
    "ServerCore",
    "ServerInfo",
    "SessionContext",
    "UpdateHub",
    "UpdateSink",
    "encode_result",
]
