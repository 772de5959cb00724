"""Server layer: the Telegram rpc errors the server answers, as one table of data.

Clients map an ``rpc_error`` to an exception class by its code and message, so the names are
Telegram's own. The rows live in ``loopgram.errors_table`` (the single source, read by the
client too); ``ERRORS`` indexes them: services raise ``SPEC()`` (an ``RpcError``),
the dispatcher turns it into ``rpc_error``, and loopgram's client generates its exception
classes from the same table. A name ending in ``_X`` carries a number in place of ``X``
(``FLOOD_WAIT_X`` is sent as ``FLOOD_WAIT_17``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from loopgram import LoopgramError
from loopgram.errors_table import ROWS as _ROWS


class RpcError(LoopgramError):
    """An error answered to the client as ``rpc_error error_code error_message``."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code} {message}")


class FloodWait(RpcError):
    """``420 FLOOD_WAIT_X``: the caller must wait ``seconds`` before calling again."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        super().__init__(420, f"FLOOD_WAIT_{seconds}")


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """One row of the table: code, name and what it means."""

    code: int
    name: str
    description: str

    def __call__(self) -> RpcError:
        """The error to raise (names ending in ``_X`` are built by their own classes)."""
        return RpcError(self.code, self.name)


ERRORS: Final[Mapping[str, ErrorSpec]] = MappingProxyType(
    {name: ErrorSpec(code, name, description) for code, name, description in _ROWS}
)
"""Every error the server answers, by name."""

QUERY_ID_INVALID: Final = ERRORS["QUERY_ID_INVALID"]
URL_INVALID: Final = ERRORS["URL_INVALID"]
BOT_RESPONSE_TIMEOUT: Final = ERRORS["BOT_RESPONSE_TIMEOUT"]
USER_BOT_REQUIRED: Final = ERRORS["USER_BOT_REQUIRED"]
BOT_METHOD_INVALID: Final = ERRORS["BOT_METHOD_INVALID"]
MESSAGE_TOO_LONG: Final = ERRORS["MESSAGE_TOO_LONG"]
ENTITY_BOUNDS_INVALID: Final = ERRORS["ENTITY_BOUNDS_INVALID"]
ENTITIES_TOO_LONG: Final = ERRORS["ENTITIES_TOO_LONG"]
ENTITY_MENTION_USER_INVALID: Final = ERRORS["ENTITY_MENTION_USER_INVALID"]
LASTNAME_INVALID: Final = ERRORS["LASTNAME_INVALID"]
CONNECTION_LANG_PACK_INVALID: Final = ERRORS["CONNECTION_LANG_PACK_INVALID"]
INPUT_REQUEST_TOO_LONG: Final = ERRORS["INPUT_REQUEST_TOO_LONG"]
DATA_INVALID: Final = ERRORS["DATA_INVALID"]
MESSAGE_ID_INVALID: Final = ERRORS["MESSAGE_ID_INVALID"]
MESSAGE_EMPTY: Final = ERRORS["MESSAGE_EMPTY"]
MESSAGE_NOT_MODIFIED: Final = ERRORS["MESSAGE_NOT_MODIFIED"]
MESSAGE_AUTHOR_REQUIRED: Final = ERRORS["MESSAGE_AUTHOR_REQUIRED"]
PEER_ID_INVALID: Final = ERRORS["PEER_ID_INVALID"]
CHAT_ADMIN_REQUIRED: Final = ERRORS["CHAT_ADMIN_REQUIRED"]
CHAT_TITLE_EMPTY: Final = ERRORS["CHAT_TITLE_EMPTY"]
CHAT_WRITE_FORBIDDEN: Final = ERRORS["CHAT_WRITE_FORBIDDEN"]
USER_ALREADY_PARTICIPANT: Final = ERRORS["USER_ALREADY_PARTICIPANT"]
USER_NOT_PARTICIPANT: Final = ERRORS["USER_NOT_PARTICIPANT"]
USER_ID_INVALID: Final = ERRORS["USER_ID_INVALID"]
USER_IS_BOT: Final = ERRORS["USER_IS_BOT"]
PHONE_CODE_EMPTY: Final = ERRORS["PHONE_CODE_EMPTY"]
PHONE_CODE_INVALID: Final = ERRORS["PHONE_CODE_INVALID"]
PHONE_CODE_EXPIRED: Final = ERRORS["PHONE_CODE_EXPIRED"]
PHONE_NUMBER_INVALID: Final = ERRORS["PHONE_NUMBER_INVALID"]
PHONE_NUMBER_OCCUPIED: Final = ERRORS["PHONE_NUMBER_OCCUPIED"]
FIRSTNAME_INVALID: Final = ERRORS["FIRSTNAME_INVALID"]
ACCESS_TOKEN_INVALID: Final = ERRORS["ACCESS_TOKEN_INVALID"]
USERNAME_INVALID: Final = ERRORS["USERNAME_INVALID"]
USERNAME_OCCUPIED: Final = ERRORS["USERNAME_OCCUPIED"]
USERNAME_NOT_OCCUPIED: Final = ERRORS["USERNAME_NOT_OCCUPIED"]
BUTTON_DATA_INVALID: Final = ERRORS["BUTTON_DATA_INVALID"]
BUTTON_TEXT_INVALID: Final = ERRORS["BUTTON_TEXT_INVALID"]
BUTTON_TYPE_INVALID: Final = ERRORS["BUTTON_TYPE_INVALID"]
BUTTON_URL_INVALID: Final = ERRORS["BUTTON_URL_INVALID"]
REPLY_MARKUP_INVALID: Final = ERRORS["REPLY_MARKUP_INVALID"]
REPLY_MARKUP_TOO_LONG: Final = ERRORS["REPLY_MARKUP_TOO_LONG"]
REPLY_MESSAGE_ID_INVALID: Final = ERRORS["REPLY_MESSAGE_ID_INVALID"]
MEDIA_INVALID: Final = ERRORS["MEDIA_INVALID"]
GAME_BOT_INVALID: Final = ERRORS["GAME_BOT_INVALID"]
PASSWORD_MISSING: Final = ERRORS["PASSWORD_MISSING"]
LIMIT_INVALID: Final = ERRORS["LIMIT_INVALID"]
CONNECTION_LAYER_INVALID: Final = ERRORS["CONNECTION_LAYER_INVALID"]
INPUT_METHOD_INVALID: Final = ERRORS["INPUT_METHOD_INVALID"]
METHOD_NOT_IMPLEMENTED: Final = ERRORS["METHOD_NOT_IMPLEMENTED"]
BOT_COMMAND_INVALID: Final = ERRORS["BOT_COMMAND_INVALID"]
BOT_COMMAND_DESCRIPTION_INVALID: Final = ERRORS["BOT_COMMAND_DESCRIPTION_INVALID"]
BOT_COMMANDS_TOO_MUCH: Final = ERRORS["BOT_COMMANDS_TOO_MUCH"]
LANG_CODE_INVALID: Final = ERRORS["LANG_CODE_INVALID"]
SEARCH_QUERY_EMPTY: Final = ERRORS["SEARCH_QUERY_EMPTY"]
PHONE_NOT_OCCUPIED: Final = ERRORS["PHONE_NOT_OCCUPIED"]
MESSAGE_IDS_EMPTY: Final = ERRORS["MESSAGE_IDS_EMPTY"]
RANDOM_ID_INVALID: Final = ERRORS["RANDOM_ID_INVALID"]
INPUT_FETCH_ERROR: Final = ERRORS["INPUT_FETCH_ERROR"]
PERSISTENT_TIMESTAMP_INVALID: Final = ERRORS["PERSISTENT_TIMESTAMP_INVALID"]
AUTH_KEY_UNREGISTERED: Final = ERRORS["AUTH_KEY_UNREGISTERED"]
INTERNAL: Final = ERRORS["INTERNAL"]
BOT_INVALID: Final = ERRORS["BOT_INVALID"]
INLINE_RESULT_EXPIRED: Final = ERRORS["INLINE_RESULT_EXPIRED"]
QUERY_ID_EMPTY: Final = ERRORS["QUERY_ID_EMPTY"]
RESULT_ID_EMPTY: Final = ERRORS["RESULT_ID_EMPTY"]
RESULT_ID_INVALID: Final = ERRORS["RESULT_ID_INVALID"]
RESULT_ID_DUPLICATE: Final = ERRORS["RESULT_ID_DUPLICATE"]
RESULT_TYPE_INVALID: Final = ERRORS["RESULT_TYPE_INVALID"]
SEND_MESSAGE_TYPE_INVALID: Final = ERRORS["SEND_MESSAGE_TYPE_INVALID"]
RESULTS_TOO_MUCH: Final = ERRORS["RESULTS_TOO_MUCH"]
ARTICLE_TITLE_EMPTY: Final = ERRORS["ARTICLE_TITLE_EMPTY"]
NEXT_OFFSET_INVALID: Final = ERRORS["NEXT_OFFSET_INVALID"]

__all__ = [
    "ERRORS",
    "ErrorSpec",
    "FloodWait",
    "RpcError",
]
