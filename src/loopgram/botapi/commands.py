"""Bot API layer: ``setMyCommands`` / ``getMyCommands`` / ``deleteMyCommands`` -- the Bot API
forms read into the shared command lists of ``loopgram.server.services.commands``.

The lists, their rules and their storage are the server's (``bots.setBotCommands`` reads and
writes the same ones); this module only parses what the Bot API sends: the JSON shapes, a
leading ``/`` dropped from a command (as TDLib does), the scope object and its ``chat_id``
(private chats: a user id or ``@username``), and the language code, worded as the official
server words its refusals. The command rules themselves answer with Telegram's rpc names
(``Bad Request: BOT_COMMAND_INVALID``), as the official server passes them on.
"""

from __future__ import annotations

import re
from typing import Any, Final

from loopgram.botapi.errors import bad_request
from loopgram.botapi.request import INT64_MAX
from loopgram.server.services.commands import DEFAULT_SCOPE, CommandScope
from loopgram.storage import PeerRef, Storage
from loopgram.storage.bot_commands import Command

_LANGUAGE: Final = re.compile(r"(?:[a-z]{2})?")
_SCOPES: Final = {
    "default": ("default", ()),
    "all_private_chats": ("users", ()),
    "all_group_chats": ("chats", ()),
    "all_chat_administrators": ("chat_admins", ()),
    "chat": ("peer", ("chat_id",)),
    "chat_administrators": ("peer_admins", ("chat_id",)),
    "chat_member": ("peer_user", ("chat_id", "user_id")),
}


def scope_of(scope: Any, storage: Storage) -> CommandScope:
    """A Bot API ``BotCommandScope`` (``None``: the default scope) as the server's scope."""
    if scope is None:
        return DEFAULT_SCOPE
    if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
        raise bad_request("can't parse BotCommandScope: expected an Object with a type")
    found = _SCOPES.get(scope["type"])
    if found is None:
        raise bad_request("can't parse BotCommandScope: unsupported type")
    kind, fields = found
    values: list[int | str] = []
    for name in fields:
        value = scope.get(name)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise bad_request(f'can\'t parse BotCommandScope: field "{name}" must be given')
        values.append(value)
    if not values:
        return CommandScope(kind)
    chat = PeerRef.user(_account_id(storage, values[0], "chat not found"))
    if len(values) == 1:
        return CommandScope(kind, chat)
    return CommandScope(kind, chat, _account_id(storage, values[1], "user not found"))


def _account_id(storage: Storage, value: int | str, missing: str) -> int:
    # Private chats only: a chat id is a user id (positive, within int64) or "@username".
    if isinstance(value, str) and value.strip().startswith("@"):
        account = storage.accounts.get_by_username(value.strip()[1:])
    else:
        try:
            number = int(value)
        except ValueError:
            raise bad_request(missing) from None
        account = storage.accounts.get(number) if 0 < number <= INT64_MAX else None
    if account is None:
        raise bad_request(missing)
    return account.id


def language(value: str | None) -> str:
    code = (value or "").strip().lower()
    if not _LANGUAGE.fullmatch(code):
        raise bad_request("invalid language code specified")
    return code


def parse_commands(value: Any) -> list[Command]:
    """The ``commands`` array as ``(command, description)`` pairs (the server checks them)."""
    if not isinstance(value, list):
        raise bad_request("can't parse commands JSON object: expected an Array")
    out: list[Command] = []
    for item in value:
        if not isinstance(item, dict):
            raise bad_request("can't parse BotCommand: expected an Object")
        command, description = item.get("command"), item.get("description")
        if not isinstance(command, str) or not isinstance(description, str):
            raise bad_request("can't parse BotCommand: command and description must be Strings")
        out.append((command.removeprefix("/"), description))
    return out


def commands_to_api(commands: list[Command]) -> list[dict[str, str]]:
    return [{"command": c, "description": d} for c, d in commands]


__all__ = ["commands_to_api", "language", "parse_commands", "scope_of"]
