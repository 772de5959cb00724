"""Bot API layer: the Bot API's errors, and the one table that maps the server's rpc errors
to them.

An error answer is ``{"ok": false, "error_code": N, "description": "...", "parameters":
{...}}`` with HTTP status ``N``. Descriptions carry the official prefixes (``Bad Request: ``,
``Forbidden: ``, ``Conflict: ``, ``Unauthorized``, ``Not Found: ``, ``Too Many Requests: ``).

``RPC_ROWS`` is data, like ``loopgram.errors_table``: ``(rpc name, methods, Bot API code,
text)`` for every rpc error whose Bot API form is not the default one (``methods``: the
lower-case methods the row holds for, ``None`` for all). The official server passes
any other rpc error on as ``Bad Request: <NAME>`` (400); where it (or TDLib under it)
rewrites one, the row holds the official text. ``FLOOD_WAIT_X`` becomes 429 with
``retry_after``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from loopgram import LoopgramError
from loopgram.server.errors import FloodWait, RpcError

_EDITS: Final = frozenset({"editmessagetext", "editmessagereplymarkup", "editmessagecaption"})
_SENDS: Final = frozenset({"sendmessage"}) | _EDITS

RPC_ROWS: Final[tuple[tuple[str, frozenset[str] | None, int, str], ...]] = (
    # Rewritten by the official server itself (telegram-bot-api, Client::fail_query_with_error),
    # whatever the method.
    (
        "QUERY_ID_INVALID",
        None,
        400,
        "query is too old and response timeout expired or query ID is invalid",
    ),
    (
        "MESSAGE_NOT_MODIFIED",
        None,
        400,
        "message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message",
    ),
    ("REPLY_MARKUP_TOO_LONG", None, 400, "reply markup is too long"),
    # Worded by TDLib, under the Bot API server, for the methods whose checks it makes
    # itself; elsewhere the rpc name passes (answerCallbackQuery: "MESSAGE_TOO_LONG").
    ("MESSAGE_EMPTY", _SENDS, 400, "message text is empty"),
    ("MESSAGE_TOO_LONG", _SENDS, 400, "message is too long"),
    ("MESSAGE_ID_INVALID", _EDITS, 400, "message to edit not found"),
    ("MESSAGE_AUTHOR_REQUIRED", _EDITS, 400, "message can't be edited"),
    # A bot writing first to a user (TDLib: "Bot can't initiate conversation with a user");
    # rows of a name are tried in order, so this one comes before the general one.
    (
        "PEER_ID_INVALID",
        frozenset({"sendmessage"}),
        403,
        "bot can't initiate conversation with a user",
    ),
    ("PEER_ID_INVALID", None, 400, "chat not found"),
    ("CHAT_ID_INVALID", None, 400, "chat not found"),
    ("USER_ID_INVALID", None, 400, "user not found"),
    ("USER_IS_BOT", None, 403, "bot can't send messages to bots"),
)
"""Every rpc error with a Bot API form of its own."""

GROUP_UPGRADED_TEXT: Final = "group chat was upgraded to a supergroup chat"
"""The official answer (telegram-bot-api, ``check_chat_access``) for writing to, or reading
the members of, a basic group that became a supergroup; no rpc error carries the new id, so
the gateway raises it itself with ``group_upgraded``."""

_PREFIXES: Final[Mapping[int, str]] = MappingProxyType(
    {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        429: "Too Many Requests",
        500: "Internal Server Error",
    }
)

_FLOOD_WAIT: Final = re.compile(r"FLOOD_WAIT_(\d{1,9})")

_BY_RPC: Final[Mapping[str, tuple[tuple[frozenset[str] | None, int, str], ...]]] = MappingProxyType(
    {name: tuple((m, c, t) for n, m, c, t in RPC_ROWS if n == name) for name, _, _, _ in RPC_ROWS}
)


class BotApiError(LoopgramError):
    """An error answer: HTTP status and ``error_code`` ``code``."""

    def __init__(
        self, code: int, description: str, parameters: Mapping[str, Any] | None = None
    ) -> None:
        self.code = code
        self.description = description
        self.parameters = dict(parameters) if parameters else None
        super().__init__(f"{code} {description}")

    @property
    def retry_after(self) -> int | None:
        value = (self.parameters or {}).get("retry_after")
        return value if isinstance(value, int) else None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def error(code: int, text: str = "") -> BotApiError:
    """``code`` with its official prefix in front of ``text`` (the bare prefix if empty)."""
    prefix = _PREFIXES.get(code, "Bad Request")
    return BotApiError(code, f"{prefix}: {text}" if text else prefix)


def bad_request(text: str) -> BotApiError:
    return error(400, text)


def conflict(text: str) -> BotApiError:
    return error(409, text)


def too_many_requests(retry_after: int) -> BotApiError:
    return BotApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


UNAUTHORIZED_TEXT: Final = "Unauthorized"
METHOD_NOT_FOUND_TEXT: Final = "Not Found: method not found"


def unauthorized() -> BotApiError:
    return BotApiError(401, UNAUTHORIZED_TEXT)


def method_not_found() -> BotApiError:
    return BotApiError(404, METHOD_NOT_FOUND_TEXT)


def group_upgraded(migrate_to_chat_id: int) -> BotApiError:
    """A migrated basic group: 400 with the supergroup's Bot API id in ``parameters``."""
    return BotApiError(
        400, f"Bad Request: {GROUP_UPGRADED_TEXT}", {"migrate_to_chat_id": migrate_to_chat_id}
    )


def not_implemented(method: str) -> BotApiError:
    """A Bot API method that exists but that loopgram does not serve (yet)."""
    return bad_request(f"method {method} is not implemented by loopgram")


def from_rpc(exc: RpcError, method: str = "") -> BotApiError:
    """The Bot API form of an rpc error a service raised while serving ``method`` (lower
    case)."""
    if isinstance(exc, FloodWait):
        return too_many_requests(max(exc.seconds, 1))
    flood = _FLOOD_WAIT.fullmatch(exc.message)
    if flood is not None:
        return too_many_requests(max(int(flood[1]), 1))
    for methods, code, text in _BY_RPC.get(exc.message, ()):
        if methods is None or method in methods:
            return error(code, text)
    if exc.code == 401:
        return error(401)
    if exc.code >= 500:
        return error(500)
    # The official server reports everything else as a 400 under the rpc name.
    return bad_request(exc.message)


__all__ = [
    "GROUP_UPGRADED_TEXT",
    "METHOD_NOT_FOUND_TEXT",
    "RPC_ROWS",
    "UNAUTHORIZED_TEXT",
    "BotApiError",
    "bad_request",
    "conflict",
    "error",
    "from_rpc",
    "group_upgraded",
    "method_not_found",
    "not_implemented",
    "too_many_requests",
    "unauthorized",
]
