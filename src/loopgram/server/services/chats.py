"""Server layer: basic groups -- creating them, their members, their messages, bot privacy.

A chat message is one message row with a box copy per member who sees it, each copy with
its owner's own box id and pts (``MessageRepository.send`` with ``member_ids``), so every
member's ``updates.getDifference`` replays exactly what was pushed. Membership changes and
title edits are service messages (``messageService`` with the chat action), delivered the
same way. A removed member keeps the copies it had and gets the service message removing
it; nothing after.

Bots in groups follow Telegram's privacy mode: with privacy on (the default) a bot gets a
copy only of the messages meant for it -- commands (``/cmd`` or ``/cmd@thisbot``), mentions
of its username, replies to its messages, and service messages; with privacy off, or as an
admin, it gets every message. A message a bot did not get cannot be pressed through it
either: only bots' messages carry keyboards, and a bot always has a copy of its own messages.

Choices where Telegram's rule needs a local reading: a member removed from a group who
presses a button of an old message gets ``400 PEER_ID_INVALID`` (the group is no longer
a peer it can act in); sending to a group one is not a member of answers
``403 CHAT_WRITE_FORBIDDEN``; any member may add users and edit the title, only the
creator (the admin) or the inviter may remove someone else.

After ``messages.migrateChat`` the group is deactivated, as on Telegram: its ``chat`` has
``deactivated`` and ``migrated_to`` (the supergroup, with the viewer's access hash), its
last message is ``messageActionChatMigrateTo``, and writing to it (sending, editing,
adding, renaming, typing) answers ``400 CHAT_ID_INVALID``; what was said stays readable.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from typing import Final

from loopgram import tl
from loopgram.clock import Clock
from loopgram.server.config import ServerConfig
from loopgram.server.errors import (
    CHAT_ADMIN_REQUIRED,
    CHAT_TITLE_EMPTY,
    CHAT_WRITE_FORBIDDEN,
    ERRORS,
    MESSAGE_ID_INVALID,
    PEER_ID_INVALID,
    USER_ALREADY_PARTICIPANT,
    USER_NOT_PARTICIPANT,
)
from loopgram.server.hub import UpdateHub
from loopgram.server.services.extra import MessageExtra
from loopgram.server.services.keys import ServerKeys
from loopgram.server.services.limits import pack_checked_entities
from loopgram.server.services.markup import MarkupRules
from loopgram.server.services.messages import MessageService
from loopgram.server.services.peers import Peers
from loopgram.server.services.read_marks import mark_inbox_read, mark_outbox_read
from loopgram.server.services.render import (
    message_user_ids,
    parse_media,
    render_any,
    render_user_ids,
    render_users,
)
from loopgram.storage import (
    Account,
    PeerRef,
    RandomIdTaken,
    Storage,
    StoredMessage,
    StoredUpdate,
)
from loopgram.storage.chats import ChatRecord, Participant
from loopgram.tl import abcs, types
from loopgram.tl.types import messages as msg_types

CHAT_ID_INVALID: Final = ERRORS["CHAT_ID_INVALID"]
CHAT_NOT_MODIFIED: Final = ERRORS["CHAT_NOT_MODIFIED"]

TITLE_MAX: Final = 128
_READ_PAGE: Final = 100
_COMMAND: Final = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@([A-Za-z0-9_]{1,32}))?(?:\s|$)")


def render_chat(
    storage: Storage,
    chat: ChatRecord,
    viewer_id: int,
    members: Sequence[Participant] | None = None,
    *,
    keys: ServerKeys | None = None,
) -> types.Chat:
    """``chat`` as ``viewer_id`` sees it: ``left`` once the viewer is no longer a member,
    ``deactivated`` once migrated. ``members``: the current participants, when the caller
    has them already; ``keys``: to name the supergroup a migrated chat became in
    ``migrated_to`` (its access hash is the viewer's own)."""
    if members is None:
        members = storage.chats.participants(chat.id)
    migrated_to = None
    if chat.migrated_to is not None and keys is not None:
        migrated_to = types.InputChannel(
            channel_id=chat.migrated_to,
            access_hash=keys.channel_access_hash(viewer_id, chat.migrated_to),
        )
    return types.Chat(
        creator=chat.creator_id == viewer_id,
        left=all(p.user_id != viewer_id for p in members),
        deactivated=chat.migrated_to is not None,
        id=chat.id,
        title=chat.title,
        photo=types.ChatPhotoEmpty(),
        participants_count=len(members),
        date=chat.date,
        version=chat.version,
        migrated_to=migrated_to,
    )


def render_chats(
    storage: Storage,
    chat_ids: Iterable[int],
    viewer_id: int,
    *,
    keys: ServerKeys | None = None,
) -> list[abcs.Chat]:
    """The chats among ``chat_ids`` (repeats and unknown ids dropped), for ``chats`` fields."""
    found = storage.chats.get_many(list(dict.fromkeys(chat_ids)))
    return [render_chat(storage, chat, viewer_id, keys=keys) for chat in found]


def sees(bot: Account, text: str, *, privacy: bool, admin: bool) -> bool:
    """Whether a bot in a group gets a member's message ``text`` (privacy mode)."""
    if not privacy or admin:
        return True
    username = (bot.username or "").lower()
    command = _COMMAND.match(text)
    if command is not None:
        addressed = command.group(1)
        return addressed is None or addressed.lower() == username
    return bool(username) and f"@{username}" in text.lower()


def _render_new(copy: StoredMessage) -> bytes:
    return bytes(types.UpdateNewMessage(message=render_any(copy), pts=copy.pts, pts_count=1))


def _render_edit(copy: StoredMessage) -> bytes:
    return bytes(types.UpdateEditMessage(message=render_any(copy), pts=copy.pts, pts_count=1))


class ChatService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        hub: UpdateHub,
        peers: Peers,
        messages: MessageService,
        config: ServerConfig,
        keys: ServerKeys | None = None,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._hub = hub
        self._peers = peers
        self._messages = messages
        self._config = config
        self._keys = keys
        self._markup = MarkupRules(config)

    # -- lookups ------------------------------------------------------------------------------

    def chat(self, chat_id: int) -> ChatRecord:
        chat = self._storage.chats.get(chat_id)
        if chat is None:
            raise CHAT_ID_INVALID()
        return chat

    def member(self, viewer: Account, chat_id: int) -> tuple[ChatRecord, Participant]:
        """The chat and the viewer's membership; ``PEER_ID_INVALID`` for an unknown chat
        or one the viewer is not (or no longer) a member of."""
        chat = self._storage.chats.get(chat_id)
        participant = None if chat is None else self._storage.chats.participant(chat_id, viewer.id)
        if chat is None or participant is None:
            raise PEER_ID_INVALID()
        return chat, participant

    # -- membership ---------------------------------------------------------------------------

    def create(
        self, creator: Account, users: Sequence[abcs.InputUser], title: str, *, origin: Hashable
    ) -> msg_types.InvitedUsers:
        """``messages.createChat``: the chat and its ``messageActionChatCreate``."""
        title = self._title(title)
        invited = [self._peers.user(creator, u) for u in users]
        chat, members = self._storage.chats.create(
            creator.id, title, [a.id for a in invited], date=int(self._clock())
        )
        action = types.MessageActionChatCreate(title=title, users=[p.user_id for p in members])
        updates = self._service(creator, chat, action, [p.user_id for p in members], origin)
        return msg_types.InvitedUsers(updates=updates, missing_invitees=[])

    def add_user(
        self, actor: Account, chat_id: int, user: abcs.InputUser, *, origin: Hashable
    ) -> msg_types.InvitedUsers:
        """``messages.addChatUser``: any member adds a user (a bot too)."""
        chat, _ = self._writer(actor, chat_id)
        added = self._peers.user(actor, user)
        if self._storage.chats.participant(chat.id, added.id) is not None:
            raise USER_ALREADY_PARTICIPANT()
        chat = self._storage.chats.add(chat.id, added.id, actor.id, date=int(self._clock()))
        action = types.MessageActionChatAddUser(users=[added.id])
        updates = self._service(actor, chat, action, self._member_ids(chat.id), origin)
        return msg_types.InvitedUsers(updates=updates, missing_invitees=[])

    def delete_user(
        self, actor: Account, chat_id: int, user: abcs.InputUser, *, origin: Hashable
    ) -> types.Updates:
        """``messages.deleteChatUser``: leave (the user is the actor) or kick. The removed
        member gets the service message too, as its last message of the chat."""
        chat, me = self._writer(actor, chat_id)
        removed = self._peers.user(actor, user)
        target = self._storage.chats.participant(chat.id, removed.id)
        if target is None:
            raise USER_NOT_PARTICIPANT()
        if removed.id != actor.id and not me.admin and target.inviter_id != actor.id:
            raise CHAT_ADMIN_REQUIRED()
        audience = self._member_ids(chat.id)
        chat = self._storage.chats.remove(chat.id, removed.id)
        action = types.MessageActionChatDeleteUser(user_id=removed.id)
        return self._service(actor, chat, action, audience, origin)

    def edit_title(
        self, actor: Account, chat_id: int, title: str, *, origin: Hashable
    ) -> types.Updates:
        """``messages.editChatTitle``."""
        chat, _ = self._writer(actor, chat_id)
        title = self._title(title)
        if title == chat.title:
            raise CHAT_NOT_MODIFIED()
        chat = self._storage.chats.set_title(chat.id, title)
        action = types.MessageActionChatEditTitle(title=title)
        return self._service(actor, chat, action, self._member_ids(chat.id), origin)

    def edit_admin(self, actor: Account, chat_id: int, user: abcs.InputUser, admin: bool) -> None:
        """``messages.editChatAdmin``: the creator makes a member an admin or not (an admin
        bot sees every message, privacy mode or not)."""
        chat, _ = self._writer(actor, chat_id)
        if actor.id != chat.creator_id:
            raise CHAT_ADMIN_REQUIRED()
        target = self._peers.user(actor, user)
        if target.id == chat.creator_id:
            raise CHAT_NOT_MODIFIED()  # the creator is an admin for good
        current = self._storage.chats.participant(chat.id, target.id)
        if current is None:
            raise USER_NOT_PARTICIPANT()
        if current.admin == admin:
            return
        chat = self._storage.chats.set_admin(chat.id, target.id, admin)
        # As on Telegram, every member learns of it (no pts: the list has a version).
        update = types.UpdateChatParticipantAdmin(
            chat_id=chat.id, user_id=target.id, is_admin=admin, version=chat.version
        )
        for member_id in self._member_ids(chat.id):
            if self._hub.online(member_id):
                self._hub.publish(
                    member_id, self._answer(member_id, chat.id, [update], [target.id])
                )

    def migrated(
        self, actor: Account, chat_id: int, channel_id: int, *, origin: Hashable
    ) -> types.Updates:
        """The second half of ``messages.migrateChat`` (``ChannelService.migrate_chat``
        made the supergroup): the group is deactivated and its last message,
        ``messageActionChatMigrateTo``, reaches every member with the deactivated chat."""
        self._writer(actor, chat_id)
        chat = self._storage.chats.set_migrated_to(chat_id, channel_id)
        action = types.MessageActionChatMigrateTo(channel_id=channel_id)
        return self._service(actor, chat, action, self._member_ids(chat.id), origin)

    # -- reading --------------------------------------------------------------------------------

    def get_chats(self, viewer: Account, chat_ids: Sequence[int]) -> msg_types.Chats:
        """``messages.getChats``: the chats the viewer is or was in; others are skipped."""
        known = [i for i in chat_ids if self._was_member(viewer.id, i)]
        return msg_types.Chats(chats=render_chats(self._storage, known, viewer.id, keys=self._keys))

    def get_full(self, viewer: Account, chat_id: int) -> msg_types.ChatFull:
        """``messages.getFullChat``: the chat, its participants and its bots' commands."""
        chat, _ = self.member(viewer, chat_id)
        members = self._storage.chats.participants(chat.id)
        participants: list[abcs.ChatParticipant] = []
        for p in members:
            if p.user_id == chat.creator_id:
                participants.append(types.ChatParticipantCreator(user_id=p.user_id))
            elif p.admin:
                participants.append(
                    types.ChatParticipantAdmin(
                        user_id=p.user_id, inviter_id=p.inviter_id, date=p.date
                    )
                )
            else:
                participants.append(
                    types.ChatParticipant(user_id=p.user_id, inviter_id=p.inviter_id, date=p.date)
                )
        accounts = self._storage.accounts.get_many([p.user_id for p in members])
        full = types.ChatFull(
            id=chat.id,
            about="",
            participants=types.ChatParticipants(
                chat_id=chat.id, participants=participants, version=chat.version
            ),
            notify_settings=types.PeerNotifySettings(),
            bot_info=[
                types.BotInfo(user_id=a.id, description="", commands=[])
                for a in accounts
                if a.is_bot
            ],
        )
        return msg_types.ChatFull(
            full_chat=full,
            chats=[render_chat(self._storage, chat, viewer.id, keys=self._keys)],
            users=render_users(accounts, viewer.id),
        )

    def history(
        self,
        viewer: Account,
        chat_id: int,
        *,
        offset_id: int = 0,
        add_offset: int = 0,
        limit: int = 100,
        max_id: int = 0,
        min_id: int = 0,
    ) -> abcs.messages.Messages:
        """``messages.getHistory`` of a chat: the viewer's copies (a former member keeps
        what it had)."""
        if not self._was_member(viewer.id, chat_id):
            raise PEER_ID_INVALID()
        limit = max(0, min(limit, self._config.history_limit_max))
        found = self._storage.messages.history(
            viewer.id,
            PeerRef.chat(chat_id),
            offset_id=offset_id,
            add_offset=add_offset,
            limit=limit,
            max_id=max_id,
            min_id=min_id,
        )
        user_ids = [viewer.id, *self._member_ids(chat_id)]
        for copy in found:
            user_ids += self._copy_user_ids(copy)
        return msg_types.Messages(
            messages=[render_any(m) for m in found],
            topics=[],
            chats=render_chats(self._storage, [chat_id], viewer.id, keys=self._keys),
            users=self._users(viewer.id, user_ids),
        )

    # -- messages -----------------------------------------------------------------------------

    def send_message(
        self,
        sender: Account,
        chat_id: int,
        text: str,
        *,
        random_id: int,
        reply_markup: abcs.ReplyMarkup | None = None,
        entities: list[abcs.MessageEntity] | None = None,
        reply_to: int | None = None,
        origin: Hashable = None,
    ) -> types.Updates:
        """``messages.sendMessage`` to a chat: a copy for every member who sees it;
        ``reply_to`` is the sender's id of the message replied to."""
        chat, _ = self._writer(sender, chat_id)
        self._messages.check_text(text, allow_empty=False)
        packed = pack_checked_entities(
            text, entities, self._config, lambda u: self._peers.user(sender, u)
        )
        markup = self._messages.bot_markup(sender, reply_markup, allow_game=False)
        ref = PeerRef.chat(chat.id)
        replied = self._messages.reply_target(sender, ref, reply_to)
        replied_copy = None if reply_to is None else self._storage.messages.get(sender.id, reply_to)
        return self._send(
            sender,
            chat.id,
            text,
            random_id,
            markup,
            packed,
            None,
            origin,
            reply_to_id=replied,
            replied_author=None if replied_copy is None else replied_copy.sender_id,
        )

    def forward_messages(
        self,
        sender: Account,
        from_peer: abcs.InputPeer,
        ids: Sequence[int],
        random_ids: Sequence[int],
        chat_id: int,
        *,
        drop_author: bool = False,
        origin: Hashable = None,
    ) -> types.Updates:
        """``messages.forwardMessages`` into a chat (from a private chat or a chat), with
        the same ``fwd_from`` and random_id rules as between private chats."""
        source = self._messages.forward_source(sender, from_peer)
        chat, _ = self._writer(sender, chat_id)
        plan = self._messages.forward_plan(sender, source, ids, random_ids, drop_author=drop_author)
        ids_part: list[abcs.Update] = []
        new_part: list[abcs.Update] = []
        users: dict[int, abcs.User] = {}
        chats: list[abcs.Chat] = []
        for original, extra, random_id in plan:
            result = self._send(
                sender,
                chat.id,
                original.text,
                random_id,
                None,
                original.entities,
                original.media,
                origin,
                extra=extra,
            )
            for update in result.updates:
                (ids_part if isinstance(update, types.UpdateMessageID) else new_part).append(update)
            users.update({u.id: u for u in result.users if isinstance(u, types.User)})
            chats = result.chats
        return types.Updates(
            updates=ids_part + new_part,
            users=list(users.values()),
            chats=chats,
            date=int(self._clock()),
            seq=0,
        )

    def send_game(
        self,
        sender: Account,
        chat_id: int,
        media: abcs.InputMedia,
        *,
        text: str = "",
        random_id: int,
        reply_markup: abcs.ReplyMarkup | None = None,
        entities: list[abcs.MessageEntity] | None = None,
        origin: Hashable = None,
    ) -> types.Updates:
        """``messages.sendMedia`` with ``inputMediaGame`` to a chat (as in private chats,
        ``MessageService.send_game``)."""
        short_name = self._messages.game_short_name(sender, media)
        chat, _ = self._writer(sender, chat_id)
        self._messages.check_text(text, allow_empty=True)
        packed = pack_checked_entities(
            text, entities, self._config, lambda u: self._peers.user(sender, u)
        )
        stored_media, markup = self._messages.game_media(sender, short_name, reply_markup)
        return self._send(sender, chat.id, text, random_id, markup, packed, stored_media, origin)

    def _send(
        self,
        sender: Account,
        chat_id: int,
        text: str,
        random_id: int,
        markup: abcs.ReplyMarkup | None,
        entities: bytes | None,
        media: bytes | None,
        origin: Hashable,
        extra: MessageExtra | None = None,
        *,
        reply_to_id: int | None = None,
        replied_author: int | None = None,
    ) -> types.Updates:
        audience = self._audience(sender, chat_id, text, replied_author)
        try:
            written = self._storage.messages.send(
                sender_id=sender.id,
                peer=PeerRef.chat(chat_id),
                text=text,
                render_update=_render_new,
                member_ids=audience,
                entities=entities,
                reply_markup=None if markup is None else bytes(markup),
                media=media,
                extra=None if extra is None else extra.encode(),
                random_id=random_id,
                reply_to_id=reply_to_id,
            )
        except RandomIdTaken as taken:
            first = taken.existing
            update = types.UpdateNewMessage(message=render_any(first), pts=first.pts, pts_count=1)
            return self._answer(
                sender.id,
                chat_id,
                [types.UpdateMessageID(id=first.id, random_id=random_id), update],
                self._copy_user_ids(first),
            )
        return self._deliver(sender, chat_id, written, origin, random_id=random_id)

    def edit_message(
        self,
        editor: Account,
        chat_id: int,
        msg_id: int,
        *,
        text: str | None = None,
        reply_markup: abcs.ReplyMarkup | None = None,
        origin: Hashable = None,
    ) -> types.Updates:
        """``messages.editMessage`` in a chat: the author edits; every member's copy follows
        (a bot's edit replaces its keyboard, as in private chats)."""
        chat, _ = self.member(editor, chat_id)
        if chat.migrated_to is not None:
            raise CHAT_ID_INVALID()
        copy = self._storage.messages.get(editor.id, msg_id)
        if copy is None or copy.peer != PeerRef.chat(chat_id):
            raise MESSAGE_ID_INVALID()
        if copy.sender_id != editor.id:
            raise ERRORS["MESSAGE_AUTHOR_REQUIRED"]()
        new_text = copy.text if text is None else text
        self._messages.check_text(new_text, allow_empty=False)
        markup_bytes = copy.reply_markup
        if editor.is_bot:
            markup = None
            if reply_markup is not None:
                markup = self._markup.check(
                    reply_markup,
                    resolve_user=lambda u: self._peers.user(editor, u),
                    allow_game=isinstance(parse_media(copy.media), types.MessageMediaGame),
                )
            markup_bytes = None if markup is None else bytes(markup)
        if new_text == copy.text and markup_bytes == copy.reply_markup:
            raise ERRORS["MESSAGE_NOT_MODIFIED"]()
        written = self._storage.messages.edit(
            editor.id,
            msg_id,
            render_update=_render_edit,
            text=new_text,
            reply_markup=markup_bytes,
        )
        return self._deliver(editor, chat_id, written, origin, random_id=None)

    # -- read marks and typing -----------------------------------------------------------------

    def read_history(
        self, viewer: Account, chat_id: int, max_id: int, *, origin: Hashable = None
    ) -> msg_types.AffectedMessages:
        """``messages.readHistory`` in a chat: the viewer's inbox mark (logged with its pts)
        and, for each member whose messages this read reaches, that member's outbox mark."""
        if not self._was_member(viewer.id, chat_id):
            raise PEER_ID_INVALID()
        ref = PeerRef.chat(chat_id)
        inbox = mark_inbox_read(self._storage, viewer.id, ref, max_id)
        if inbox is None:
            return msg_types.AffectedMessages(
                pts=self._storage.updates.state(viewer.id).pts, pts_count=0
            )
        if self._hub.online(viewer.id):
            self._hub.publish(
                viewer.id,
                self._answer(viewer.id, chat_id, [tl.read(inbox.update.body)], []),
                exclude=origin,
            )
        # The newest message of each author among the ones just read marks its outbox.
        read = self._storage.messages.history(
            viewer.id, ref, offset_id=inbox.upto + 1, min_id=inbox.before, limit=_READ_PAGE
        )
        newest_by_author: dict[int, StoredMessage] = {}
        for copy in read:
            if not copy.out and copy.sender_id not in newest_by_author:
                newest_by_author[copy.sender_id] = copy
        for author_id, copy in newest_by_author.items():
            self._mark_outbox(author_id, chat_id, copy)
        return msg_types.AffectedMessages(pts=inbox.update.pts, pts_count=1)

    def _mark_outbox(self, author_id: int, chat_id: int, read: StoredMessage) -> None:
        ref = PeerRef.chat(chat_id)
        theirs = self._messages.find_copy(author_id, ref, read.global_id)
        if theirs is None:
            return
        outbox = mark_outbox_read(self._storage, author_id, ref, theirs.id)
        if outbox is None:
            return
        if self._hub.online(author_id):
            self._hub.publish(
                author_id, self._answer(author_id, chat_id, [tl.read(outbox.body)], [])
            )

    def set_typing(self, sender: Account, chat_id: int, action: abcs.SendMessageAction) -> None:
        """``messages.setTyping`` in a chat: every other online member gets
        ``updateChatUserTyping`` (not logged, as in private chats)."""
        self._writer(sender, chat_id)
        update = types.UpdateShort(
            update=types.UpdateChatUserTyping(
                chat_id=chat_id, from_id=types.PeerUser(user_id=sender.id), action=action
            ),
            date=int(self._clock()),
        )
        for member_id in self._member_ids(chat_id):
            if member_id != sender.id and self._hub.online(member_id):
                self._hub.publish(member_id, update)

    # -- internals ----------------------------------------------------------------------------

    def _writer(self, actor: Account, chat_id: int) -> tuple[ChatRecord, Participant]:
        chat = self._storage.chats.get(chat_id)
        if chat is None or chat.migrated_to is not None:
            # A migrated group is deactivated: no chat to write to any more.
            raise CHAT_ID_INVALID()
        participant = self._storage.chats.participant(chat_id, actor.id)
        if participant is None:
            raise CHAT_WRITE_FORBIDDEN()
        return chat, participant

    def _was_member(self, viewer_id: int, chat_id: int) -> bool:
        if self._storage.chats.participant(chat_id, viewer_id) is not None:
            return True
        return bool(self._storage.messages.history(viewer_id, PeerRef.chat(chat_id), limit=1))

    def _title(self, title: str) -> str:
        title = title.strip()
        if not title:
            raise CHAT_TITLE_EMPTY()
        return title[:TITLE_MAX]

    def _member_ids(self, chat_id: int) -> list[int]:
        return [p.user_id for p in self._storage.chats.participants(chat_id)]

    def _audience(
        self, sender: Account, chat_id: int, text: str, replied_author: int | None = None
    ) -> list[int]:
        """Who gets a copy: every member but bots in privacy mode the message is not meant
        for (a reply to a bot's message is meant for it)."""
        members = self._storage.chats.participants(chat_id)
        accounts = {a.id: a for a in self._storage.accounts.get_many([p.user_id for p in members])}
        audience = [sender.id]
        for p in members:
            account = accounts.get(p.user_id)
            if account is None or account.id == sender.id:
                continue
            if (
                account.is_bot
                and account.id != replied_author
                and not sees(
                    account,
                    text,
                    privacy=self._storage.chats.bot_privacy(account.id),
                    admin=p.admin,
                )
            ):
                continue
            audience.append(account.id)
        return audience

    def _service(
        self,
        actor: Account,
        chat: ChatRecord,
        action: abcs.MessageAction,
        audience: list[int],
        origin: Hashable,
    ) -> types.Updates:
        members = [actor.id, *(i for i in audience if i != actor.id)]
        written = self._storage.messages.send(
            sender_id=actor.id,
            peer=PeerRef.chat(chat.id),
            text="",
            render_update=_render_new,
            member_ids=members,
            extra=MessageExtra(action=bytes(action)).encode(),
        )
        return self._deliver(actor, chat.id, written, origin, random_id=None)

    def _deliver(
        self,
        actor: Account,
        chat_id: int,
        written: list[tuple[StoredMessage, StoredUpdate]],
        origin: Hashable,
        *,
        random_id: int | None,
    ) -> types.Updates:
        # One message to N members: the chat row, its members and the users to show are
        # read once, not once per member (only the per-viewer flags differ).
        chat = self._storage.chats.get(chat_id)
        members = self._storage.chats.participants(chat_id)
        user_ids = [actor.id, *(self._copy_user_ids(written[0][0]) if written else [])]
        accounts = self._storage.accounts.get_many(list(dict.fromkeys(user_ids)))

        def batch(viewer_id: int, updates: list[abcs.Update]) -> types.Updates:
            return types.Updates(
                updates=updates,
                users=render_users(accounts, viewer_id),
                chats=[]
                if chat is None
                else [render_chat(self._storage, chat, viewer_id, members, keys=self._keys)],
                date=int(self._clock()),
                seq=0,
            )

        own: list[abcs.Update] = []
        for copy, stored in written:
            update: abcs.Update = tl.read(stored.body)
            if copy.owner_id == actor.id:
                if random_id is not None:
                    own.append(types.UpdateMessageID(id=copy.id, random_id=random_id))
                own.append(update)
                if self._hub.online(actor.id):
                    self._hub.publish(actor.id, batch(actor.id, [update]), exclude=origin)
            elif self._hub.online(copy.owner_id):
                self._hub.publish(copy.owner_id, batch(copy.owner_id, [update]))
        return batch(actor.id, own)

    def _answer(
        self, viewer_id: int, chat_id: int, updates: list[abcs.Update], user_ids: list[int]
    ) -> types.Updates:
        return types.Updates(
            updates=updates,
            users=self._users(viewer_id, user_ids),
            chats=render_chats(self._storage, [chat_id], viewer_id, keys=self._keys),
            date=int(self._clock()),
            seq=0,
        )

    def _copy_user_ids(self, copy: StoredMessage) -> list[int]:
        ids = message_user_ids(copy)
        action = MessageExtra.decode(copy.extra).action
        if action is not None:
            parsed = tl.read(action)
            ids += list(getattr(parsed, "users", []) or [])
            user_id = getattr(parsed, "user_id", None)
            if isinstance(user_id, int):
                ids.append(user_id)
        return ids

    def _users(self, viewer_id: int, ids: Iterable[int]) -> list[abcs.User]:
        return render_user_ids(self._storage, [viewer_id, *ids], viewer_id)
