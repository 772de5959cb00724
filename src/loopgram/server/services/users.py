"""Server layer: looking accounts up -- by input user, by username, in full."""

from __future__ import annotations

from collections.abc import Sequence

from loopgram.server.errors import USERNAME_INVALID, USERNAME_NOT_OCCUPIED, RpcError
from loopgram.server.services.accounts import about_of
from loopgram.server.services.commands import BotCommandService, render_commands
from loopgram.server.services.peers import Peers
from loopgram.server.services.render import render_user
from loopgram.storage import Account, Storage
from loopgram.tl import abcs, types
from loopgram.tl.types import contacts as contact_types
from loopgram.tl.types import users as user_types


class UserService:
    def __init__(
        self, storage: Storage, peers: Peers, commands: BotCommandService | None = None
    ) -> None:
        self._storage = storage
        self._peers = peers
        self._commands = commands or BotCommandService(storage, peers)

    def get_users(self, viewer: Account, ids: Sequence[abcs.InputUser]) -> list[abcs.User]:
        """``users.getUsers``: the users the caller may see; others are left out."""
        found: list[abcs.User] = []
        for item in ids:
            try:
                account = self._peers.user(viewer, item)
            except RpcError:
                continue
            found.append(render_user(account, viewer.id))
        return found

    def get_full_user(
        self, viewer: Account, user: abcs.InputUser, *, lang_code: str = ""
    ) -> user_types.UserFull:
        """``users.getFullUser``: ``userFull`` (with ``bot_info`` for bots, holding the
        commands the viewer sees in its private chat with the bot, in its language)."""
        account = self._peers.user(viewer, user)
        bot_info = None
        if account.is_bot:
            commands = self._commands.seen_in_private_chat(account.id, viewer.id, lang_code)
            bot_info = types.BotInfo(
                user_id=account.id, description="", commands=render_commands(commands)
            )
        full = types.UserFull(
            id=account.id,
            about=about_of(self._storage, account.id),
            settings=types.PeerSettings(),
            notify_settings=types.PeerNotifySettings(),
            bot_info=bot_info,
            common_chats_count=0,
        )
        return user_types.UserFull(
            full_user=full, chats=[], users=[render_user(account, viewer.id)]
        )

    def resolve_username(self, viewer: Account, username: str) -> contact_types.ResolvedPeer:
        """``contacts.resolveUsername`` (case-insensitive, a leading ``@`` allowed)."""
        name = username.removeprefix("@")
        if not name or len(name) > 32:
            raise USERNAME_INVALID()
        account = self._storage.accounts.get_by_username(name)
        if account is None:
            raise USERNAME_NOT_OCCUPIED()
        return contact_types.ResolvedPeer(
            peer=types.PeerUser(user_id=account.id),
            chats=[],
            users=[render_user(account, viewer.id)],
        )
