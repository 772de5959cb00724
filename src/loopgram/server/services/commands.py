"""Server layer: bots' command lists per scope and language, shared by both front doors.

``bots.setBotCommands`` / ``getBotCommands`` / ``resetBotCommands`` (MTProto) and the Bot
API's ``setMyCommands`` / ``getMyCommands`` / ``deleteMyCommands`` read and write the same
lists through this service. A scope is a ``CommandScope``; its ``key`` is what the storage
keeps, so a list set through one door is the list the other door reads.

Telegram's rules: at most 100 commands; a command is 1 to 32 lower-case letters, digits and
underscores; a description 1 to 256 characters; a language code empty or two lower-case
letters. Which list a user sees follows Telegram's order, most specific first, each with
the user's language before the empty one: the chat-member scope, the chat, then (private
chats) all private chats, then the default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from loopgram.server.errors import (
    BOT_COMMAND_DESCRIPTION_INVALID,
    BOT_COMMAND_INVALID,
    BOT_COMMANDS_TOO_MUCH,
    LANG_CODE_INVALID,
    PEER_ID_INVALID,
    USER_BOT_REQUIRED,
)
from loopgram.server.services.peers import Peers
from loopgram.server.services.render import DEFAULT_BOT_INFO_VERSION
from loopgram.storage import Account, PeerRef, Storage
from loopgram.storage.bot_commands import Command
from loopgram.tl import abcs, types

COMMANDS_MAX: Final = 100
COMMAND_MAX: Final = 32
DESCRIPTION_MAX: Final = 256
_COMMAND: Final = re.compile(r"[a-z0-9_]{1,32}")
_LANG_CODE: Final = re.compile(r"(?:[a-z]{2})?")


@dataclass(frozen=True, slots=True)
class CommandScope:
    """Where a list applies. ``kind``: ``default``, ``users`` (all private chats), ``chats``
    (all groups), ``chat_admins`` (all group admins), ``peer`` (one chat), ``peer_admins``
    (one chat's admins), ``peer_user`` (one member of one chat)."""

    kind: str
    peer: PeerRef | None = None
    user_id: int | None = None

    @property
    def key(self) -> str:
        parts = [self.kind]
        if self.peer is not None:
            parts += [self.peer.kind.value, str(self.peer.id)]
        if self.user_id is not None:
            parts.append(str(self.user_id))
        return ":".join(parts)


DEFAULT_SCOPE: Final = CommandScope("default")
_PLAIN_SCOPES: Final = {
    types.BotCommandScopeDefault: "default",
    types.BotCommandScopeUsers: "users",
    types.BotCommandScopeChats: "chats",
    types.BotCommandScopeChatAdmins: "chat_admins",
}


class BotCommandService:
    def __init__(self, storage: Storage, peers: Peers) -> None:
        self._storage = storage
        self._peers = peers

    # -- scopes -------------------------------------------------------------------------------

    def scope(self, bot: Account, scope: abcs.BotCommandScope) -> CommandScope:
        """An MTProto ``BotCommandScope`` as the bot names it (``PEER_ID_INVALID`` for a
        peer it cannot name; groups and channels do not exist yet)."""
        kind = _PLAIN_SCOPES.get(type(scope))
        if kind is not None:
            return CommandScope(kind)
        if isinstance(scope, types.BotCommandScopePeerUser):
            peer = self._peer(bot, scope.peer)
            user = self._peers.user(bot, scope.user_id)
            return CommandScope("peer_user", peer, user.id)
        if isinstance(scope, types.BotCommandScopePeer):
            return CommandScope("peer", self._peer(bot, scope.peer))
        if isinstance(scope, types.BotCommandScopePeerAdmins):
            return CommandScope("peer_admins", self._peer(bot, scope.peer))
        raise PEER_ID_INVALID()

    def _peer(self, bot: Account, peer: abcs.InputPeer) -> PeerRef:
        return PeerRef.user(self._peers.peer(bot, peer).id)

    # -- the lists ----------------------------------------------------------------------------

    def set(
        self, bot: Account, scope: CommandScope, lang_code: str, commands: list[Command]
    ) -> None:
        """Replace the list of ``scope`` and ``lang_code`` (an empty list removes it)."""
        _require_bot(bot)
        _check_lang_code(lang_code)
        if len(commands) > COMMANDS_MAX:
            raise BOT_COMMANDS_TOO_MUCH()
        for command, description in commands:
            if not _COMMAND.fullmatch(command):
                raise BOT_COMMAND_INVALID()
            if not description.strip() or len(description) > DESCRIPTION_MAX:
                raise BOT_COMMAND_DESCRIPTION_INVALID()
        if self._storage.bot_commands.get(bot.id, scope.key, lang_code) == (commands or None):
            return
        self._storage.bot_commands.set(bot.id, scope.key, lang_code, list(commands))
        # Clients keep a bot's userFull.bot_info until the user's bot_info_version moves.
        current = self._storage.accounts.get(bot.id)
        if current is not None:
            version = current.bot_info_version or DEFAULT_BOT_INFO_VERSION
            self._storage.accounts.update(bot.id, bot_info_version=version + 1)

    def get(self, bot: Account, scope: CommandScope, lang_code: str) -> list[Command]:
        """The list set for exactly this scope and language (empty if none)."""
        _require_bot(bot)
        _check_lang_code(lang_code)
        return self._storage.bot_commands.get(bot.id, scope.key, lang_code) or []

    def reset(self, bot: Account, scope: CommandScope, lang_code: str) -> None:
        self.set(bot, scope, lang_code, [])

    def seen_in_private_chat(self, bot_id: int, user_id: int, lang_code: str) -> list[Command]:
        """The list ``user_id`` sees in its private chat with ``bot_id`` (Telegram's order
        of scopes, the user's language before the default one)."""
        chat = PeerRef.user(user_id)
        scopes = (
            CommandScope("peer_user", chat, user_id),
            CommandScope("peer", chat),
            CommandScope("users"),
            DEFAULT_SCOPE,
        )
        langs = (lang_code, "") if lang_code and _LANG_CODE.fullmatch(lang_code) else ("",)
        repo = self._storage.bot_commands
        for scope in scopes:
            for lang in langs:
                found = repo.get(bot_id, scope.key, lang)
                if found is not None:
                    return found
        return []


def _require_bot(account: Account) -> None:
    if not account.is_bot:
        raise USER_BOT_REQUIRED()


def _check_lang_code(lang_code: str) -> None:
    if not _LANG_CODE.fullmatch(lang_code):
        raise LANG_CODE_INVALID()


def render_commands(commands: list[Command]) -> list[abcs.BotCommand]:
    return [types.BotCommand(command=c, description=d) for c, d in commands]


__all__ = [
    "COMMANDS_MAX",
    "DEFAULT_SCOPE",
    "DESCRIPTION_MAX",
    "BotCommandService",
    "CommandScope",
    "render_commands",
]
