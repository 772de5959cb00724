"""Client layer: loopgram's own asyncio MTProto client.

``Client`` (connect, key exchange, ``invoke``, reconnect and resend, flood waits, updates,
login), sessions (``MemorySession``, ``StringSession``, ``SQLiteSession``), the rpc error
hierarchy (``loopgram.client.errors``) and the high-level objects of callback buttons
(``Message.press``, ``CallbackQuery.answer``, ``CallbackAnswer``, ``Button``).
"""

from __future__ import annotations

from loopgram.client.client import Client
from loopgram.client.errors import (
    AlreadyAnsweredError,
    BadRequestError,
    BotResponseTimeoutError,
    ClientError,
    ConnectionLostError,
    FloodError,
    FloodWaitError,
    QueryIdInvalidError,
    RpcError,
)
from loopgram.client.objects import Button, CallbackAnswer, CallbackQuery, Message
from loopgram.client.sessions import (
    MemorySession,
    PeerEntry,
    Session,
    SessionData,
    SQLiteSession,
    StringSession,
    UpdateState,
)
from loopgram.net.client import ReconnectPolicy

__all__ = [
    "AlreadyAnsweredError",
    "BadRequestError",
    "BotResponseTimeoutError",
    "Button",
    "CallbackAnswer",
    "CallbackQuery",
    "Client",
    "ClientError",
    "ConnectionLostError",
    "FloodError",
    "FloodWaitError",
    "MemorySession",
    "Message",
    "PeerEntry",
    "QueryIdInvalidError",
    "ReconnectPolicy",
    "RpcError",
    "SQLiteSession",
    "Session",
    "SessionData",
    "StringSession",
    "UpdateState",
]
