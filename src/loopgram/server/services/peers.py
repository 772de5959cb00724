"""Server layer: the input forms of users and peers -> accounts, with the access-hash check.

A client may only name an account it has seen: ``inputUser``/``inputPeerUser`` carry the
access_hash the server gave out with the user, ``...FromMessage`` forms point at a message
in the caller's box that shows the user. Basic groups (``inputPeerChat``) are resolved by
``services.chats``, which checks membership instead of a hash.
"""

from __future__ import annotations

from loopgram.server.errors import PEER_ID_INVALID, USER_ID_INVALID, ErrorSpec
from loopgram.storage import Account, PeerKind, Storage
from loopgram.tl import abcs, types


class Peers:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def user(self, viewer: Account, user: abcs.InputUser) -> Account:
        """The account an ``InputUser`` names; ``USER_ID_INVALID`` otherwise."""
        if isinstance(user, types.InputUserSelf):
            return viewer
        if isinstance(user, types.InputUser):
            return self._by_hash(user.user_id, user.access_hash, USER_ID_INVALID)
        if isinstance(user, types.InputUserFromMessage):
            return self._from_message(viewer, user.peer, user.msg_id, user.user_id)
        raise USER_ID_INVALID()

    def peer(self, viewer: Account, peer: abcs.InputPeer) -> Account:
        """The account an ``InputPeer`` names; ``PEER_ID_INVALID`` otherwise (groups and
        channels do not exist here)."""
        if isinstance(peer, types.InputPeerSelf):
            return viewer
        if isinstance(peer, types.InputPeerUser):
            return self._by_hash(peer.user_id, peer.access_hash, PEER_ID_INVALID)
        if isinstance(peer, types.InputPeerUserFromMessage):
            return self._from_message(viewer, peer.peer, peer.msg_id, peer.user_id)
        raise PEER_ID_INVALID()

    def _by_hash(self, account_id: int, access_hash: int, error: ErrorSpec) -> Account:
        account = self._storage.accounts.get(account_id)
        if account is None or account.access_hash != access_hash:
            raise error()
        return account

    def _from_message(
        self, viewer: Account, chat: abcs.InputPeer, msg_id: int, user_id: int
    ) -> Account:
        where = self.peer(viewer, chat)
        copy = self._storage.messages.get(viewer.id, msg_id)
        if (
            copy is None
            or copy.peer.kind is not PeerKind.USER
            or copy.peer.id != where.id
            or user_id not in (copy.sender_id, copy.peer.id)
        ):
            raise PEER_ID_INVALID()
        account = self._storage.accounts.get(user_id)
        if account is None:
            raise PEER_ID_INVALID()
        return account
