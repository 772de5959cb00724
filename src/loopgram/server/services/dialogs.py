"""Server layer: dialog lists, read state, typing, and contacts -- for private chats.

A dialog is a peer the caller's box holds messages with (``storage.dialogs.tops``); its top
message is the newest copy, its unread count the incoming copies above the caller's read
mark. ``messages.readHistory`` raises the caller's inbox mark (``updateReadHistoryInbox``
to the caller's other sessions) and the peer's outbox mark to the peer's copy of the newest
message read (``updateReadHistoryOutbox`` to the peer); both take a pts, as on Telegram, so
``getDifference`` replays them. Everything is keyed by ``PeerRef``: groups slot in later as
another kind of peer.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Final

from loopgram import tl
from loopgram.clock import Clock
from loopgram.server.errors import (
    LIMIT_INVALID,
    PEER_ID_INVALID,
    PHONE_NOT_OCCUPIED,
    PHONE_NUMBER_INVALID,
    SEARCH_QUERY_EMPTY,
)
from loopgram.server.hub import UpdateHub
from loopgram.server.services.channels import ChannelService
from loopgram.server.services.chats import render_chats
from loopgram.server.services.messages import MessageService
from loopgram.server.services.peers import Peers
from loopgram.server.services.read_marks import mark_inbox_read, mark_outbox_read
from loopgram.server.services.render import (
    message_user_ids,
    peer_of,
    render_any,
    render_user_ids,
)
from loopgram.storage import Account, PeerKind, PeerRef, Storage, StoredMessage
from loopgram.tl import abcs, types
from loopgram.tl.types import contacts as contact_types
from loopgram.tl.types import messages as msg_types

DIALOGS_MAX: Final = 100
SEARCH_MAX: Final = 100
_ARCHIVE_FOLDER: Final = 1
_READ_PAGE: Final = 100


class DialogService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        hub: UpdateHub,
        peers: Peers,
        messages: MessageService,
        channels: ChannelService | None = None,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._hub = hub
        self._peers = peers
        self._messages = messages
        self._channels = channels

    # -- dialog lists -------------------------------------------------------------------------

    def get_dialogs(
        self,
        viewer: Account,
        *,
        offset_date: int = 0,
        offset_id: int = 0,
        limit: int = 100,
        folder_id: int | None = None,
    ) -> abcs.messages.Dialogs:
        """``messages.getDialogs``: newest first, after the previous page's last top message
        (``offset_id``, else ``offset_date``); the archive folder is empty."""
        if limit < 0:
            raise LIMIT_INVALID()
        limit = min(limit, DIALOGS_MAX)
        tops = [] if folder_id == _ARCHIVE_FOLDER else self._storage.dialogs.tops(viewer.id)
        copies = self._tops(viewer.id, tops)
        ordered = [(peer, copies[top]) for peer, top in tops if top in copies]
        # Box ids grow with dates, so the id alone places the page; a date alone (clients
        # that page by date) takes the dialogs older than it.
        if offset_id:
            ordered = [(peer, copy) for peer, copy in ordered if copy.id < offset_id]
        elif offset_date:
            ordered = [(peer, copy) for peer, copy in ordered if copy.date < offset_date]
        page = ordered[:limit]
        dialogs, messages, users = self._render(viewer, page)
        chats = render_chats(
            self._storage, [p.id for p, _ in page if p.kind is PeerKind.CHAT], viewer.id
        )
        total = len(tops)
        more = len(page) < len(ordered)
        if self._channels is not None and folder_id != _ARCHIVE_FOLDER:
            # Channels keep one copy of each message, not a box: their dialogs come from
            # the channel service and merge into the list by the date of the top message.
            found = self._channels.dialogs(viewer)
            total += len(found)
            if offset_date:
                found = [f for f in found if f[0] < offset_date]
            elif offset_id:
                found = []
            dated: list[tuple[int, abcs.Dialog, abcs.Message | None]] = [
                (copy.date, d, m) for (_, copy), d, m in zip(page, dialogs, messages, strict=True)
            ]
            dated += [(date, d, m) for date, d, m, _, _ in found]
            dated.sort(key=lambda entry: entry[0], reverse=True)
            more = more or len(dated) > limit
            kept = {id(d) for _, d, _ in dated[:limit]}
            dialogs = [d for _, d, _ in dated[:limit]]
            messages = [m for _, d, m in dated[:limit] if m is not None]
            chats += [chat for _, d, _, chat, _ in found if id(d) in kept]
            extra_users = [i for _, d, _, _, ids in found if id(d) in kept for i in ids]
            users += render_user_ids(self._storage, extra_users, viewer.id)
        if more or offset_id or offset_date:
            return msg_types.DialogsSlice(
                count=total, dialogs=dialogs, messages=messages, chats=chats, users=users
            )
        return msg_types.Dialogs(dialogs=dialogs, messages=messages, chats=chats, users=users)

    def get_peer_dialogs(
        self, viewer: Account, peers: Sequence[abcs.InputDialogPeer]
    ) -> msg_types.PeerDialogs:
        """``messages.getPeerDialogs``: one dialog per peer asked (an empty chat too, with
        top message 0, as Telegram answers for a chat not started yet)."""
        refs: list[PeerRef] = []
        channel_ids: list[int] = []
        for item in peers:
            if not isinstance(item, types.InputDialogPeer):
                raise PEER_ID_INVALID()
            if isinstance(item.peer, types.InputPeerChannel) and self._channels is not None:
                channel_ids.append(self._channels.reader(viewer, item.peer).id)
                continue
            if isinstance(item.peer, types.InputPeerChat):
                chat_id = item.peer.chat_id
                if self._storage.chats.participant(chat_id, viewer.id) is None and not (
                    self._storage.messages.history(viewer.id, PeerRef.chat(chat_id), limit=1)
                ):
                    raise PEER_ID_INVALID()
                refs.append(PeerRef.chat(chat_id))
                continue
            refs.append(PeerRef.user(self._peers.peer(viewer, item.peer).id))
        tops = dict(self._storage.dialogs.tops(viewer.id))
        copies = self._tops(viewer.id, [(ref, tops.get(ref, 0)) for ref in refs])
        page = [(ref, copies.get(tops.get(ref, 0))) for ref in dict.fromkeys(refs)]
        dialogs, messages, users = self._render(viewer, page)
        chats = render_chats(
            self._storage, [r.id for r, _ in page if r.kind is PeerKind.CHAT], viewer.id
        )
        if channel_ids and self._channels is not None:
            for _, dialog, top, chat, ids in self._channels.dialogs(viewer, channel_ids):
                dialogs.append(dialog)
                messages += [] if top is None else [top]
                chats.append(chat)
                users += render_user_ids(self._storage, ids, viewer.id)
        return msg_types.PeerDialogs(
            dialogs=dialogs,
            messages=messages,
            chats=chats,
            users=users,
            state=self._state(viewer.id),
        )

    def _tops(self, owner_id: int, tops: Iterable[tuple[PeerRef, int]]) -> dict[int, StoredMessage]:
        ids = [top for _, top in tops if top]
        return {copy.id: copy for copy in self._storage.messages.get_many(owner_id, ids)}

    def _render(
        self, viewer: Account, page: Sequence[tuple[PeerRef, StoredMessage | None]]
    ) -> tuple[list[abcs.Dialog], list[abcs.Message], list[abcs.User]]:
        dialogs: list[abcs.Dialog] = []
        messages: list[abcs.Message] = []
        user_ids: list[int] = [viewer.id]
        for peer, top in page:
            read = self._storage.dialogs.read_state(viewer.id, peer)
            dialogs.append(
                types.Dialog(
                    peer=peer_of(peer),
                    top_message=0 if top is None else top.id,
                    read_inbox_max_id=read.inbox_max,
                    read_outbox_max_id=read.outbox_max,
                    unread_count=self._storage.dialogs.unread(viewer.id, peer, read.inbox_max),
                    unread_mentions_count=0,
                    unread_reactions_count=0,
                    unread_poll_votes_count=0,
                    notify_settings=types.PeerNotifySettings(),
                )
            )
            if peer.kind is PeerKind.USER:
                user_ids.append(peer.id)
            if top is not None:
                messages.append(render_any(top))
                user_ids += message_user_ids(top)
        return dialogs, messages, render_user_ids(self._storage, user_ids, viewer.id)

    def _state(self, account_id: int) -> types.updates.State:
        state = self._storage.updates.state(account_id)
        return types.updates.State(
            pts=state.pts, qts=state.qts, date=int(self._clock()), seq=state.seq, unread_count=0
        )

    # -- read state ---------------------------------------------------------------------------

    def read_history(
        self, viewer: Account, peer: abcs.InputPeer, max_id: int, *, origin: Hashable = None
    ) -> msg_types.AffectedMessages:
        """``messages.readHistory``: mark the chat read up to ``max_id`` (0: all of it)."""
        chat = self._peers.peer(viewer, peer)
        read = mark_inbox_read(self._storage, viewer.id, PeerRef.user(chat.id), max_id)
        if read is None:
            return self._affected(viewer.id, 0)
        self._push(viewer.id, tl.read(read.update.body), [chat.id], origin)
        self._mark_outbox(viewer, chat, read.upto)
        return msg_types.AffectedMessages(pts=read.update.pts, pts_count=1)

    def _mark_outbox(self, reader: Account, author: Account, upto: int) -> None:
        # The author's outbox mark is its own copy of the newest incoming message read.
        if author.id == reader.id:
            return
        newest_incoming = None
        offset = upto + 1
        while newest_incoming is None:
            page = self._storage.messages.history(
                reader.id, PeerRef.user(author.id), offset_id=offset, limit=_READ_PAGE
            )
            newest_incoming = next((c for c in page if not c.out), None)
            if len(page) < _READ_PAGE:
                break
            offset = page[-1].id
        if newest_incoming is None:
            return
        back = PeerRef.user(reader.id)
        theirs = self._messages.find_copy(author.id, back, newest_incoming.global_id)
        if theirs is None:
            return
        outbox = mark_outbox_read(self._storage, author.id, back, theirs.id)
        if outbox is None:
            return
        self._push(author.id, tl.read(outbox.body), [reader.id], None)

    def _affected(self, account_id: int, count: int) -> msg_types.AffectedMessages:
        return msg_types.AffectedMessages(
            pts=self._storage.updates.state(account_id).pts, pts_count=count
        )

    # -- typing -------------------------------------------------------------------------------

    def set_typing(
        self, sender: Account, peer: abcs.InputPeer, action: abcs.SendMessageAction
    ) -> None:
        """``messages.setTyping``: the peer's sessions get ``updateUserTyping`` (not logged:
        a typing notice means nothing after a reconnect)."""
        chat = self._peers.peer(sender, peer)
        if chat.id == sender.id or not self._hub.online(chat.id):
            return
        self._hub.publish(
            chat.id,
            types.UpdateShort(
                update=types.UpdateUserTyping(user_id=sender.id, action=action),
                date=int(self._clock()),
            ),
        )

    # -- internals ----------------------------------------------------------------------------

    def _push(
        self, account_id: int, update: abcs.Update, user_ids: list[int], origin: Hashable
    ) -> None:
        self._messages.publish(account_id, [update], user_ids, origin)


class ContactService:
    """``contacts.*``: an address book per account, over the accounts that exist."""

    def __init__(self, storage: Storage, peers: Peers) -> None:
        self._storage = storage
        self._peers = peers

    def import_contacts(
        self, owner: Account, contacts: Sequence[abcs.InputContact]
    ) -> contact_types.ImportedContacts:
        """Contacts whose phone belongs to a user are imported under the given name; the
        others are listed in ``retry_contacts`` (Telegram: not on Telegram)."""
        imported: list[abcs.ImportedContact] = []
        retry: list[int] = []
        user_ids: list[int] = []
        for item in contacts:
            if not isinstance(item, types.InputPhoneContact):
                continue
            account = self._storage.accounts.get_by_phone(_phone(item.phone))
            if account is None or account.is_bot:
                retry.append(item.client_id)
                continue
            self._storage.contacts.put(owner.id, account.id, item.first_name, item.last_name)
            imported.append(types.ImportedContact(user_id=account.id, client_id=item.client_id))
            user_ids.append(account.id)
        return contact_types.ImportedContacts(
            imported=imported,
            popular_invites=[],
            retry_contacts=retry,
            users=self._users(owner, user_ids),
        )

    def get_contacts(self, owner: Account) -> contact_types.Contacts:
        book = self._storage.contacts.list(owner.id)
        mutual = {
            c.contact_id
            for c in book
            if any(
                back.contact_id == owner.id for back in self._storage.contacts.list(c.contact_id)
            )
        }
        return contact_types.Contacts(
            contacts=[
                types.Contact(user_id=c.contact_id, mutual=c.contact_id in mutual) for c in book
            ],
            saved_count=0,
            users=self._users(owner, [c.contact_id for c in book]),
        )

    def delete_contacts(self, owner: Account, ids: Sequence[abcs.InputUser]) -> types.Updates:
        accounts = [self._peers.user(owner, i) for i in ids]
        self._storage.contacts.delete(owner.id, [a.id for a in accounts])
        return types.Updates(
            updates=[],
            users=self._users(owner, [a.id for a in accounts]),
            chats=[],
            date=0,
            seq=0,
        )

    def resolve_phone(self, viewer: Account, phone: str) -> contact_types.ResolvedPeer:
        digits = _phone(phone)
        if not digits:
            raise PHONE_NUMBER_INVALID()
        account = self._storage.accounts.get_by_phone(digits)
        if account is None:
            raise PHONE_NOT_OCCUPIED()
        return contact_types.ResolvedPeer(
            peer=types.PeerUser(user_id=account.id),
            chats=[],
            users=self._users(viewer, [account.id]),
        )

    def search(self, viewer: Account, query: str, limit: int) -> contact_types.Found:
        """``contacts.search``: the caller's contacts whose name or username matches
        (``my_results``), then other accounts by username prefix (``results``)."""
        q = query.strip().lstrip("@").lower()
        if not q:
            raise SEARCH_QUERY_EMPTY()
        limit = max(0, min(limit, SEARCH_MAX))
        mine: list[int] = []
        for c in self._storage.contacts.list(viewer.id):
            account = self._storage.accounts.get(c.contact_id)
            names = (c.first_name, c.last_name, account.username if account else None)
            if any(n and n.lower().startswith(q) for n in names) or (
                account is not None and _name_matches(account, q)
            ):
                mine.append(c.contact_id)
        others: list[int] = []
        for account in self._storage.accounts.list_all():
            if account.id in mine or account.id == viewer.id:
                continue
            if account.username and account.username.lower().startswith(q):
                others.append(account.id)
        mine, others = mine[:limit], others[: max(0, limit - len(mine[:limit]))]
        return contact_types.Found(
            my_results=[types.PeerUser(user_id=i) for i in mine],
            results=[types.PeerUser(user_id=i) for i in others],
            chats=[],
            users=self._users(viewer, mine + others),
        )

    def _users(self, viewer: Account, ids: Iterable[int]) -> list[abcs.User]:
        return render_user_ids(self._storage, ids, viewer.id)


def _phone(text: str) -> str:
    return "".join(ch for ch in text if ch.isascii() and ch.isdigit())


def _name_matches(account: Account, q: str) -> bool:
    full = f"{account.first_name} {account.last_name or ''}".lower()
    return any(part.startswith(q) for part in full.split()) or full.startswith(q)


__all__ = ["DIALOGS_MAX", "ContactService", "DialogService"]
