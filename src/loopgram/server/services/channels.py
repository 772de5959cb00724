"""Server layer: supergroups and broadcast channels -- creating them, their members and
admins, their messages, their per-channel pts and ``updates.getChannelDifference``.

A channel message is stored once (``loopgram.storage.channels``): its id and pts count per
channel, and every new message, edit and deletion is logged under the channel's pts, so one
log serves every member's ``getChannelDifference``. Live members get the update pushed; an
offline member costs nothing until it asks for the difference. The logged body is the
message as a non-author sees it; the author's copy differs only in ``out``.

What a viewer sees: a ``channel`` carries an access hash derived per viewer (a hash one
account saw does not let another name the channel); a banned user sees ``channelForbidden``.
In a broadcast channel only admins post, and posts carry ``post`` without ``from_id``; in a
supergroup every member writes. Bots follow privacy mode as in basic groups: in a
supergroup a bot with privacy on (and not an admin) gets pushed only commands, mentions
and service messages; in a broadcast channel a bot sees posts only as an admin.

Membership changes (invite, join, leave, ``editAdmin``, ``editBanned``) reach bots as
Telegram sends them, as ``updateChannelParticipant`` with the participant before and after:
the bot concerned gets it, and so does every administrator bot of the channel for others.
Users get the service message (supergroups) and ``updateChannel`` instead. loopgram keeps
no ``qts`` sequence: the update carries ``qts`` 0, which clients read as no sequence to
check (as Telethon's ``if qts``), rather than a gap to fill.

Choices where Telegram's rule needs a local reading: reading a channel one is not a member
of is allowed for public (username) channels only, else ``CHANNEL_PRIVATE``; only the
creator edits admins; admins ban; a user who left or was banned cannot press buttons
(``CHANNEL_PRIVATE``); ``getChannelDifference`` answers ``channelDifferenceTooLong`` when
the client is more than ``limit`` updates behind or the log no longer reaches its pts.

Catching up (``catch_up``, the channels' part of ``updates.getDifference``): each member
row keeps the channel pts up to which getDifference has told the member (a new member
starts at the channel's pts of its joining). A user is told which channels moved past it
(``updateChannelTooLong`` with the channel's pts) and fetches them itself; a bot gets the
updates themselves, privacy mode applied -- Telegram gives bots their channel updates
through getDifference -- or ``updateChannelTooLong`` past the difference limit. Pushes do
not move the mark (the fan-out stays free of writes): a later catch-up may repeat an
update, which clients drop by its pts. ``getChannelDifference`` moves the mark too, and
hides from a bot in privacy mode what the pushes hide (its pts still moves past it).
A reply (``reply_to``) is kept with the message (``MessageExtra.reply_to_id``); a reply
to a bot's message reaches that bot in privacy mode, as in basic groups.
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
    REPLY_MESSAGE_ID_INVALID,
    USER_ALREADY_PARTICIPANT,
    USER_NOT_PARTICIPANT,
    USERNAME_INVALID,
    USERNAME_OCCUPIED,
)
from loopgram.server.hub import UpdateHub
from loopgram.server.services.chats import sees
from loopgram.server.services.extra import MessageExtra
from loopgram.server.services.keys import ServerKeys
from loopgram.server.services.limits import pack_checked_entities
from loopgram.server.services.markup import MarkupRules
from loopgram.server.services.messages import MessageService
from loopgram.server.services.peers import Peers
from loopgram.server.services.render import (
    parse_entities,
    parse_markup,
    parse_media,
    render_user_ids,
    render_users,
)
from loopgram.storage import Account, PeerKind, PeerRef, Storage, StoredMessage, UsernameTaken
from loopgram.storage.channels import (
    ChannelMember,
    ChannelMessage,
    ChannelRandomIdTaken,
    ChannelRecord,
    ChannelRole,
    ChannelUpdate,
)
from loopgram.tl import abcs, types
from loopgram.tl.types import channels as ch_types
from loopgram.tl.types import contacts as contact_types
from loopgram.tl.types import messages as msg_types
from loopgram.tl.types import updates as upd_types

CHANNEL_INVALID: Final = ERRORS["CHANNEL_INVALID"]
CHANNEL_PRIVATE: Final = ERRORS["CHANNEL_PRIVATE"]
USER_CREATOR: Final = ERRORS["USER_CREATOR"]
USERNAME_NOT_MODIFIED: Final = ERRORS["USERNAME_NOT_MODIFIED"]
USER_ADMIN_INVALID: Final = ERRORS["USER_ADMIN_INVALID"]
PERSISTENT_TIMESTAMP_INVALID: Final = ERRORS["PERSISTENT_TIMESTAMP_INVALID"]
MESSAGE_AUTHOR_REQUIRED: Final = ERRORS["MESSAGE_AUTHOR_REQUIRED"]
MESSAGE_NOT_MODIFIED: Final = ERRORS["MESSAGE_NOT_MODIFIED"]

TITLE_MAX: Final = 128
ABOUT_MAX: Final = 255
PARTICIPANTS_MAX: Final = 200
DIFFERENCE_MAX: Final = 100
_USERNAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")

_CREATOR_RIGHTS: Final = types.ChatAdminRights(
    change_info=True,
    post_messages=True,
    edit_messages=True,
    delete_messages=True,
    ban_users=True,
    invite_users=True,
    pin_messages=True,
    add_admins=True,
    manage_call=True,
    other=True,
)
_NO_RIGHTS: Final = types.ChatBannedRights(until_date=0)
_BANNED: Final = types.ChatBannedRights(view_messages=True, until_date=0)


def peer_channel(channel_id: int) -> types.PeerChannel:
    return types.PeerChannel(channel_id=channel_id)


def _admin_rights(member: ChannelMember) -> types.ChatAdminRights:
    if member.role is ChannelRole.CREATOR:
        return _CREATOR_RIGHTS
    if member.rights is not None:
        rights = tl.read(member.rights)
        if isinstance(rights, types.ChatAdminRights):
            return rights
    return types.ChatAdminRights()


def render_channel_message(
    msg: ChannelMessage, channel: ChannelRecord, viewer_id: int
) -> abcs.Message:
    """The message as ``viewer_id`` sees it (``out`` for the author)."""
    extra = MessageExtra.decode(msg.extra)
    broadcast = not channel.megagroup
    # A broadcast post speaks for the channel: no author, ``post`` set.
    from_id = None if broadcast else types.PeerUser(user_id=msg.sender_id)
    out = msg.sender_id == viewer_id
    if extra.action is not None:
        action: abcs.MessageAction = tl.read(extra.action)
        return types.MessageService(
            out=out,
            post=broadcast,
            id=msg.id,
            from_id=from_id,
            peer_id=peer_channel(msg.channel_id),
            date=msg.date,
            action=action,
        )
    return types.Message(
        out=out,
        post=broadcast,
        id=msg.id,
        from_id=from_id,
        peer_id=peer_channel(msg.channel_id),
        via_bot_id=extra.via_bot_id,
        fwd_from=None
        if extra.fwd_from_id is None
        else types.MessageFwdHeader(
            from_id=types.PeerUser(user_id=extra.fwd_from_id), date=extra.fwd_date or 0
        ),
        date=msg.date,
        message=msg.text,
        media=parse_media(msg.media),
        reply_markup=parse_markup(msg.reply_markup),
        entities=parse_entities(msg.entities),
        edit_date=msg.edit_date,
        reply_to=None
        if extra.reply_to_id is None
        else types.MessageReplyHeader(reply_to_msg_id=extra.reply_to_id),
    )


def render_channel(
    storage: Storage,
    keys: ServerKeys,
    channel: ChannelRecord,
    viewer_id: int,
    member: ChannelMember | None = None,
    count: int | None = None,
) -> abcs.Chat:
    """``channel`` as ``viewer_id`` sees it (its own access hash; ``channelForbidden`` once
    banned); ``member``: the viewer's row and ``count``: how many members, if the caller
    has them (one message to N members renders the channel N times)."""
    if member is None or member.user_id != viewer_id:
        member = storage.channels.member(channel.id, viewer_id)
    access_hash = keys.channel_access_hash(viewer_id, channel.id)
    if member is not None and member.role is ChannelRole.BANNED:
        return types.ChannelForbidden(
            broadcast=not channel.megagroup,
            megagroup=channel.megagroup,
            id=channel.id,
            access_hash=access_hash,
            title=channel.title,
        )
    return types.Channel(
        creator=channel.creator_id == viewer_id,
        left=member is None,
        broadcast=not channel.megagroup,
        megagroup=channel.megagroup,
        id=channel.id,
        access_hash=access_hash,
        title=channel.title,
        username=channel.username,
        photo=types.ChatPhotoEmpty(),
        date=channel.date if member is None else member.date,
        admin_rights=_admin_rights(member) if member is not None and member.is_admin else None,
        default_banned_rights=_NO_RIGHTS if channel.megagroup else None,
        participants_count=storage.channels.count(channel.id) if count is None else count,
    )


def channel_message_user_ids(msg: ChannelMessage) -> list[int]:
    """Accounts a client needs in ``users`` to show the message."""
    ids = [msg.sender_id]
    extra = MessageExtra.decode(msg.extra)
    for other in (extra.via_bot_id, extra.fwd_from_id):
        if other is not None:
            ids.append(other)
    if extra.action is not None:
        action = tl.read(extra.action)
        ids += list(getattr(action, "users", None) or [])
        for name in ("user_id", "inviter_id"):
            value = getattr(action, name, None)
            if isinstance(value, int):
                ids.append(value)
    return ids


def _mark_out(update: abcs.Update, viewer_id: int, sender_id: int) -> abcs.Update:
    """The logged (non-author) update as the author sees it: ``out`` set."""
    message = getattr(update, "message", None)
    if viewer_id != sender_id or not isinstance(message, types.Message | types.MessageService):
        return update
    message.out = True
    return update


class ChannelService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        hub: UpdateHub,
        peers: Peers,
        messages: MessageService,
        keys: ServerKeys,
        config: ServerConfig,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._hub = hub
        self._peers = peers
        self._messages = messages
        self._keys = keys
        self._config = config
        self._markup = MarkupRules(config)

    # -- rendering ----------------------------------------------------------------------------

    def render(
        self,
        channel: ChannelRecord,
        viewer_id: int,
        member: ChannelMember | None = None,
        count: int | None = None,
    ) -> abcs.Chat:
        return render_channel(self._storage, self._keys, channel, viewer_id, member, count)

    def render_many(self, channel_ids: Iterable[int], viewer_id: int) -> list[abcs.Chat]:
        return [self.render(c, viewer_id) for c in self._storage.channels.get_many(channel_ids)]

    def input_channel(self, viewer_id: int, channel_id: int) -> types.InputChannel:
        return types.InputChannel(
            channel_id=channel_id,
            access_hash=self._keys.channel_access_hash(viewer_id, channel_id),
        )

    # -- lookups ------------------------------------------------------------------------------

    def resolve(
        self, viewer: Account, channel: abcs.InputChannel | abcs.InputPeer
    ) -> ChannelRecord:
        """The channel an ``InputChannel`` / ``inputPeerChannel`` names with the viewer's
        own access hash; ``CHANNEL_INVALID`` otherwise."""
        if isinstance(channel, types.InputChannel | types.InputPeerChannel):
            record = self._storage.channels.get(channel.channel_id)
            if record is None or channel.access_hash != self._keys.channel_access_hash(
                viewer.id, record.id
            ):
                raise CHANNEL_INVALID()
            return record
        if isinstance(channel, types.InputChannelFromMessage | types.InputPeerChannelFromMessage):
            # The channel is shown in a message of a chat the viewer can read.
            record = self._storage.channels.get(channel.channel_id)
            if record is None or not self._can_read(viewer.id, record):
                raise CHANNEL_INVALID()
            return record
        raise CHANNEL_INVALID()

    def reader(self, viewer: Account, channel: abcs.InputChannel | abcs.InputPeer) -> ChannelRecord:
        """A channel the viewer may read: a member's, or a public one."""
        record = self.resolve(viewer, channel)
        if not self._can_read(viewer.id, record):
            raise CHANNEL_PRIVATE()
        return record

    def member_of(
        self, viewer: Account, channel: abcs.InputChannel | abcs.InputPeer
    ) -> tuple[ChannelRecord, ChannelMember]:
        """The channel and the viewer's present membership; ``CHANNEL_PRIVATE`` for a user
        who left or was banned."""
        record = self.resolve(viewer, channel)
        member = self._storage.channels.member(record.id, viewer.id)
        if member is None or not member.present:
            raise CHANNEL_PRIVATE()
        return record, member

    def _can_read(self, viewer_id: int, record: ChannelRecord) -> bool:
        member = self._storage.channels.member(record.id, viewer_id)
        if member is not None:
            return member.present
        return record.username is not None

    # -- creating and membership --------------------------------------------------------------

    def create(
        self,
        creator: Account,
        title: str,
        about: str,
        *,
        megagroup: bool,
        origin: Hashable = None,
        migrated_from: int | None = None,
    ) -> types.Updates:
        """``channels.createChannel``: the channel and its ``messageActionChannelCreate``."""
        if creator.is_bot:
            raise ERRORS["BOT_METHOD_INVALID"]()
        title = self._title(title)
        record = self._storage.channels.create(
            creator.id,
            title,
            about=about.strip()[:ABOUT_MAX],
            megagroup=megagroup,
            date=int(self._clock()),
            migrated_from=migrated_from,
        )
        action: abcs.MessageAction = types.MessageActionChannelCreate(title=title)
        if migrated_from is not None:
            action = types.MessageActionChannelMigrateFrom(title=title, chat_id=migrated_from)
        return self.service_message(
            creator, record, action, origin, extra=[types.UpdateChannel(channel_id=record.id)]
        )

    def migrate_chat(
        self, actor: Account, chat_id: int, *, origin: Hashable = None
    ) -> tuple[ChannelRecord, types.Updates]:
        """``messages.migrateChat``: the basic group's creator makes it a supergroup with
        the same title and members (its admins as admins), whose first message is
        ``messageActionChannelMigrateFrom``; the caller then deactivates the group
        (``ChatService.migrated``)."""
        chat = self._storage.chats.get(chat_id)
        if chat is None:
            raise ERRORS["CHAT_ID_INVALID"]()
        if self._storage.chats.participant(chat_id, actor.id) is None:
            raise CHAT_WRITE_FORBIDDEN()
        if actor.id != chat.creator_id:
            raise CHAT_ADMIN_REQUIRED()
        if chat.migrated_to is not None or self._storage.channels.migrated_from(chat_id):
            raise ERRORS["CHAT_ALREADY_MIGRATED"]()
        record = self._storage.channels.create(
            actor.id,
            chat.title,
            about="",
            megagroup=True,
            date=int(self._clock()),
            migrated_from=chat_id,
        )
        for p in self._storage.chats.participants(chat_id):
            if p.user_id == actor.id:
                continue
            row = self._storage.channels.put_member(
                record.id,
                p.user_id,
                role=ChannelRole.ADMIN if p.admin else ChannelRole.MEMBER,
                inviter_id=p.inviter_id,
                date=p.date,
                rights=bytes(types.ChatAdminRights(other=True)) if p.admin else None,
            )
            # A bot of the group joins the supergroup as on Telegram (the Bot API's
            # my_chat_member there; none says it left the group).
            self._participant_changed(actor.id, record, p.user_id, None, row, admins_too=False)
        action = types.MessageActionChannelMigrateFrom(title=chat.title, chat_id=chat_id)
        updates = self.service_message(
            actor, record, action, origin, extra=[types.UpdateChannel(channel_id=record.id)]
        )
        return record, updates

    def invite(
        self,
        actor: Account,
        channel: abcs.InputChannel,
        users: Sequence[abcs.InputUser],
        *,
        origin: Hashable = None,
    ) -> msg_types.InvitedUsers:
        """``channels.inviteToChannel``: members invite to a supergroup, admins to a
        channel. In a supergroup the invitation is a ``messageActionChatAddUser``."""
        record, me = self.member_of(actor, channel)
        if not record.megagroup and not me.is_admin:
            raise CHAT_ADMIN_REQUIRED()
        added: list[Account] = []
        now = int(self._clock())
        for user in users:
            account = self._peers.user(actor, user)
            existing = self._storage.channels.member(record.id, account.id)
            if existing is not None and existing.present:
                if len(users) == 1:
                    raise USER_ALREADY_PARTICIPANT()
                continue
            if existing is not None and not me.is_admin:
                raise CHAT_ADMIN_REQUIRED()  # only an admin lifts a ban
            row = self._storage.channels.put_member(
                record.id, account.id, role=ChannelRole.MEMBER, inviter_id=actor.id, date=now
            )
            self._participant_changed(actor.id, record, account.id, existing, row)
            added.append(account)
        if record.megagroup and added:
            action = types.MessageActionChatAddUser(users=[a.id for a in added])
            updates = self.service_message(actor, record, action, origin)
        else:
            updates = self._channel_updates(
                actor.id, record, [types.UpdateChannel(channel_id=record.id)]
            )
        for account in added:
            self._notify_channel(account.id, record)
        return msg_types.InvitedUsers(updates=updates, missing_invitees=[])

    def join(
        self, user: Account, channel: abcs.InputChannel, *, origin: Hashable = None
    ) -> types.Updates:
        """``channels.joinChannel``: a public channel (or one the user was invited to and
        left); a banned user gets ``CHANNEL_PRIVATE``."""
        record = self.resolve(user, channel)
        existing = self._storage.channels.member(record.id, user.id)
        if existing is not None:
            if not existing.present:
                raise CHANNEL_PRIVATE()
            raise USER_ALREADY_PARTICIPANT()
        row = self._storage.channels.put_member(
            record.id,
            user.id,
            role=ChannelRole.MEMBER,
            inviter_id=user.id,
            date=int(self._clock()),
        )
        self._participant_changed(user.id, record, user.id, None, row)
        if record.megagroup:
            action = types.MessageActionChatAddUser(users=[user.id])
            return self.service_message(user, record, action, origin)
        return self._channel_updates(user.id, record, [types.UpdateChannel(channel_id=record.id)])

    def leave(
        self, user: Account, channel: abcs.InputChannel, *, origin: Hashable = None
    ) -> types.Updates:
        """``channels.leaveChannel``: the creator cannot leave (``USER_CREATOR``)."""
        record, member = self.member_of(user, channel)
        if member.role is ChannelRole.CREATOR:
            raise USER_CREATOR()
        if record.megagroup:
            action = types.MessageActionChatDeleteUser(user_id=user.id)
            updates = self.service_message(user, record, action, origin)
            self._storage.channels.remove_member(record.id, user.id)
            self._participant_changed(user.id, record, user.id, member, None)
            return updates
        self._storage.channels.remove_member(record.id, user.id)
        self._participant_changed(user.id, record, user.id, member, None)
        return self._channel_updates(user.id, record, [types.UpdateChannel(channel_id=record.id)])

    def edit_admin(
        self,
        actor: Account,
        channel: abcs.InputChannel,
        user: abcs.InputUser,
        rights: abcs.ChatAdminRights,
        rank: str | None,
    ) -> types.Updates:
        """``channels.editAdmin``: the creator promotes a member (a bot too) or demotes an
        admin (no rights at all)."""
        record, me = self.member_of(actor, channel)
        if me.role is not ChannelRole.CREATOR:
            raise CHAT_ADMIN_REQUIRED()
        target = self._peers.user(actor, user)
        if target.id == record.creator_id:
            raise ERRORS["CHAT_NOT_MODIFIED"]()
        existing = self._storage.channels.member(record.id, target.id)
        if existing is not None and not existing.present:
            raise USER_NOT_PARTICIPANT()
        any_right = isinstance(rights, types.ChatAdminRights) and any(
            getattr(rights, name) is True for name in type(rights).__slots__
        )
        now = int(self._clock())
        if any_right:
            row = self._storage.channels.put_member(
                record.id,
                target.id,
                role=ChannelRole.ADMIN,
                inviter_id=actor.id if existing is None else existing.inviter_id,
                date=now if existing is None else existing.date,
                rights=bytes(rights),
            )
        elif existing is None:
            raise USER_NOT_PARTICIPANT()
        else:
            row = self._storage.channels.put_member(
                record.id,
                target.id,
                role=ChannelRole.MEMBER,
                inviter_id=existing.inviter_id,
                date=existing.date,
            )
        self._participant_changed(actor.id, record, target.id, existing, row)
        self._notify_channel(target.id, record)
        return self._channel_updates(actor.id, record, [types.UpdateChannel(channel_id=record.id)])

    def edit_banned(
        self,
        actor: Account,
        channel: abcs.InputChannel,
        participant: abcs.InputPeer,
        rights: abcs.ChatBannedRights,
        *,
        origin: Hashable = None,
    ) -> types.Updates:
        """``channels.editBanned``: an admin bans (``view_messages``: the user is removed
        and kept out) or lifts a ban (no rights: the user may join again)."""
        record, me = self.member_of(actor, channel)
        if not me.is_admin:
            raise CHAT_ADMIN_REQUIRED()
        target = self._peers.peer(actor, participant)
        if target.id == record.creator_id or target.id == actor.id:
            raise USER_ADMIN_INVALID()
        existing = self._storage.channels.member(record.id, target.id)
        ban = isinstance(rights, types.ChatBannedRights) and rights.view_messages
        if ban:
            updates = self._channel_updates(
                actor.id, record, [types.UpdateChannel(channel_id=record.id)]
            )
            if record.megagroup and existing is not None and existing.present:
                updates = self.service_message(
                    actor, record, types.MessageActionChatDeleteUser(user_id=target.id), origin
                )
            row = self._storage.channels.put_member(
                record.id,
                target.id,
                role=ChannelRole.BANNED,
                inviter_id=actor.id,
                date=int(self._clock()),
            )
            self._participant_changed(actor.id, record, target.id, existing, row)
            self._notify_channel(target.id, record)
            return updates
        if existing is not None and not existing.present:
            self._storage.channels.remove_member(record.id, target.id)
            self._participant_changed(actor.id, record, target.id, existing, None)
        return self._channel_updates(actor.id, record, [types.UpdateChannel(channel_id=record.id)])

    def edit_title(
        self, actor: Account, channel: abcs.InputChannel, title: str, *, origin: Hashable = None
    ) -> types.Updates:
        """``channels.editTitle``: an admin with ``change_info`` renames the channel; the
        members get a ``messageActionChatEditTitle`` carrying the renamed channel."""
        record, me = self.member_of(actor, channel)
        if not me.is_admin or not _admin_rights(me).change_info:
            raise CHAT_ADMIN_REQUIRED()
        title = self._title(title)
        if title == record.title:
            raise ERRORS["CHAT_NOT_MODIFIED"]()
        record = self._storage.channels.update(record.id, title=title)
        action = types.MessageActionChatEditTitle(title=title)
        return self.service_message(actor, record, action, origin)

    def update_username(self, actor: Account, channel: abcs.InputChannel, username: str) -> bool:
        """``channels.updateUsername``: the creator makes the channel public (or private
        again with an empty username); usernames are shared with accounts."""
        record, me = self.member_of(actor, channel)
        if me.role is not ChannelRole.CREATOR:
            raise CHAT_ADMIN_REQUIRED()
        wanted = username or None
        if wanted is not None and not _USERNAME.fullmatch(wanted):
            raise USERNAME_INVALID()
        if (wanted or "").lower() == (record.username or "").lower():
            raise USERNAME_NOT_MODIFIED()
        if wanted is not None and self._storage.accounts.get_by_username(wanted) is not None:
            raise USERNAME_OCCUPIED()
        try:
            self._storage.channels.update(record.id, username=wanted)
        except UsernameTaken:
            raise USERNAME_OCCUPIED() from None
        return True

    def check_username(self, actor: Account, channel: abcs.InputChannel, username: str) -> bool:
        """``channels.checkUsername``: whether ``username`` is free for this channel."""
        record, _ = self.member_of(actor, channel)
        if not _USERNAME.fullmatch(username):
            raise USERNAME_INVALID()
        if self._storage.accounts.get_by_username(username) is not None:
            return False
        owner = self._storage.channels.get_by_username(username)
        return owner is None or owner.id == record.id

    def resolve_username(self, viewer: Account, username: str) -> contact_types.ResolvedPeer | None:
        """``contacts.resolveUsername`` for a public channel; ``None`` if no channel has
        the username (an account may)."""
        record = self._storage.channels.get_by_username(username.removeprefix("@"))
        if record is None:
            return None
        return contact_types.ResolvedPeer(
            peer=peer_channel(record.id), chats=[self.render(record, viewer.id)], users=[]
        )

    # -- reading the channel ------------------------------------------------------------------

    def get_channels(
        self, viewer: Account, channels: Sequence[abcs.InputChannel]
    ) -> msg_types.Chats:
        """``channels.getChannels``."""
        return msg_types.Chats(
            chats=[self.render(self.resolve(viewer, c), viewer.id) for c in channels]
        )

    def get_full(self, viewer: Account, channel: abcs.InputChannel) -> msg_types.ChatFull:
        """``channels.getFullChannel``: counts, the viewer's read marks, the bots."""
        record = self.reader(viewer, channel)
        members = self._storage.channels.members(record.id)
        admins = [m for m in members if m.is_admin]
        banned = self._storage.channels.members(record.id, [ChannelRole.BANNED])
        me = next((m for m in members if m.user_id == viewer.id), None)
        accounts = self._storage.accounts.get_many([m.user_id for m in members])
        bots = [a for a in accounts if a.is_bot]
        full = types.ChannelFull(
            can_view_participants=record.megagroup or (me is not None and me.is_admin),
            can_set_username=me is not None and me.role is ChannelRole.CREATOR,
            id=record.id,
            about=record.about,
            participants_count=len(members),
            admins_count=len(admins),
            kicked_count=len(banned),
            banned_count=0,
            read_inbox_max_id=0 if me is None else me.read_max_id,
            read_outbox_max_id=self._outbox_mark(record, viewer.id),
            unread_count=0
            if me is None
            else self._storage.channels.unread_count(record.id, viewer.id),
            chat_photo=types.PhotoEmpty(id=0),
            notify_settings=types.PeerNotifySettings(),
            bot_info=[types.BotInfo(user_id=b.id, description="", commands=[]) for b in bots],
            migrated_from_chat_id=record.migrated_from,
            migrated_from_max_id=0 if record.migrated_from is not None else None,
            pts=record.pts,
        )
        return msg_types.ChatFull(
            full_chat=full,
            chats=[self.render(record, viewer.id, me)],
            users=render_user_ids(self._storage, [viewer.id, *(b.id for b in bots)], viewer.id),
        )

    def _outbox_mark(self, record: ChannelRecord, viewer_id: int) -> int:
        """The newest of the viewer's messages someone else has read: the highest read mark
        of the other members, capped by the viewer's own last message."""
        marks = [
            m.read_max_id
            for m in self._storage.channels.members(record.id)
            if m.user_id != viewer_id
        ]
        return max(marks, default=0)

    def participants(
        self,
        viewer: Account,
        channel: abcs.InputChannel,
        query: abcs.ChannelParticipantsFilter,
        *,
        offset: int,
        limit: int,
    ) -> ch_types.ChannelParticipants:
        """``channels.getParticipants`` with the recent, admins, bots, search and kicked
        filters (others answer like recent)."""
        record, me = self.member_of(viewer, channel)
        if not record.megagroup and not me.is_admin:
            raise CHAT_ADMIN_REQUIRED()
        roles: list[ChannelRole] | None = None
        if isinstance(query, types.ChannelParticipantsAdmins):
            roles = [ChannelRole.CREATOR, ChannelRole.ADMIN]
        elif isinstance(query, types.ChannelParticipantsKicked | types.ChannelParticipantsBanned):
            roles = [ChannelRole.BANNED]
        members = self._storage.channels.members(record.id, roles)
        accounts = {a.id: a for a in self._storage.accounts.get_many([m.user_id for m in members])}
        if isinstance(query, types.ChannelParticipantsBots):
            members = [m for m in members if (a := accounts.get(m.user_id)) and a.is_bot]
        text = getattr(query, "q", None)
        if isinstance(text, str) and text:
            needle = text.lower()
            members = [
                m
                for m in members
                if (a := accounts.get(m.user_id)) is not None
                and any(
                    needle in (part or "").lower()
                    for part in (a.first_name, a.last_name, a.username)
                )
            ]
        page = members[max(offset, 0) : max(offset, 0) + max(0, min(limit, PARTICIPANTS_MAX))]
        return ch_types.ChannelParticipants(
            count=len(members),
            participants=[self._participant(m, viewer.id) for m in page],
            chats=[],
            users=render_user_ids(self._storage, [m.user_id for m in page], viewer.id),
        )

    def participant(
        self, viewer: Account, channel: abcs.InputChannel, peer: abcs.InputPeer
    ) -> ch_types.ChannelParticipant:
        """``channels.getParticipant``: ``USER_NOT_PARTICIPANT`` for a non-member."""
        record, _ = self.member_of(viewer, channel)
        target = self._peers.peer(viewer, peer)
        member = self._storage.channels.member(record.id, target.id)
        if member is None:
            raise USER_NOT_PARTICIPANT()
        return ch_types.ChannelParticipant(
            participant=self._participant(member, viewer.id),
            chats=[self.render(record, viewer.id)],
            users=render_user_ids(self._storage, [target.id], viewer.id),
        )

    def _participant(self, m: ChannelMember, viewer_id: int) -> abcs.ChannelParticipant:
        if m.role is ChannelRole.CREATOR:
            return types.ChannelParticipantCreator(user_id=m.user_id, admin_rights=_CREATOR_RIGHTS)
        if m.role is ChannelRole.ADMIN:
            return types.ChannelParticipantAdmin(
                self_=m.user_id == viewer_id,
                user_id=m.user_id,
                inviter_id=m.inviter_id if m.user_id == viewer_id else None,
                promoted_by=m.inviter_id,
                date=m.date,
                admin_rights=_admin_rights(m),
            )
        if m.role is ChannelRole.BANNED:
            return types.ChannelParticipantBanned(
                peer=types.PeerUser(user_id=m.user_id),
                kicked_by=m.inviter_id,
                date=m.date,
                banned_rights=_BANNED,
            )
        if m.user_id == viewer_id:
            return types.ChannelParticipantSelf(
                user_id=m.user_id, inviter_id=m.inviter_id, date=m.date
            )
        return types.ChannelParticipant(user_id=m.user_id, date=m.date)

    def history(
        self,
        viewer: Account,
        channel: abcs.InputChannel | abcs.InputPeer,
        *,
        offset_id: int = 0,
        add_offset: int = 0,
        limit: int = 100,
        max_id: int = 0,
        min_id: int = 0,
    ) -> msg_types.ChannelMessages:
        """``messages.getHistory`` of a channel."""
        record = self.reader(viewer, channel)
        limit = max(0, min(limit, self._config.history_limit_max))
        found = self._storage.channels.history(
            record.id,
            offset_id=offset_id,
            add_offset=add_offset,
            limit=limit,
            max_id=max_id,
            min_id=min_id,
        )
        return self._messages_answer(
            viewer, record, found, count=self._storage.channels.message_count(record.id)
        )

    def get_messages(
        self, viewer: Account, channel: abcs.InputChannel, ids: Sequence[abcs.InputMessage]
    ) -> msg_types.ChannelMessages:
        """``channels.getMessages``: unknown ids are ``messageEmpty``; ``count`` is the
        channel's, as in ``messages.getHistory``."""
        record = self.reader(viewer, channel)
        # A bot names the message of a press by the id it got in the query.
        wanted = [
            i.id if isinstance(i, types.InputMessageID | types.InputMessageCallbackQuery) else 0
            for i in ids
        ]
        found = {m.id: m for m in self._storage.channels.messages(record.id, wanted)}
        rendered: list[abcs.Message] = []
        for msg_id in wanted:
            msg = found.get(msg_id)
            rendered.append(
                types.MessageEmpty(id=msg_id)
                if msg is None
                else render_channel_message(msg, record, viewer.id)
            )
        users = [viewer.id, *(i for m in found.values() for i in channel_message_user_ids(m))]
        return msg_types.ChannelMessages(
            pts=record.pts,
            count=self._storage.channels.message_count(record.id),
            messages=rendered,
            topics=[],
            chats=[self.render(record, viewer.id)],
            users=render_user_ids(self._storage, users, viewer.id),
        )

    def _messages_answer(
        self, viewer: Account, record: ChannelRecord, found: list[ChannelMessage], *, count: int
    ) -> msg_types.ChannelMessages:
        users = [viewer.id, *(i for m in found for i in channel_message_user_ids(m))]
        return msg_types.ChannelMessages(
            pts=record.pts,
            count=max(count, len(found)),
            messages=[render_channel_message(m, record, viewer.id) for m in found],
            topics=[],
            chats=[self.render(record, viewer.id)],
            users=render_user_ids(self._storage, users, viewer.id),
        )

    # -- writing ------------------------------------------------------------------------------

    def send_message(
        self,
        sender: Account,
        channel: abcs.InputPeer,
        text: str,
        *,
        random_id: int,
        reply_markup: abcs.ReplyMarkup | None = None,
        entities: list[abcs.MessageEntity] | None = None,
        reply_to: int | None = None,
        origin: Hashable = None,
    ) -> types.Updates:
        """``messages.sendMessage`` to a supergroup (any member) or a channel (admins);
        ``reply_to``: the id of a message of the channel (``REPLY_MESSAGE_ID_INVALID``
        for one it does not hold)."""
        record, _ = self._writer(sender, channel)
        self._messages.check_text(text, allow_empty=False)
        packed = pack_checked_entities(
            text, entities, self._config, lambda u: self._peers.user(sender, u)
        )
        markup = self._messages.bot_markup(sender, reply_markup, allow_game=False)
        if reply_to is not None and self._storage.channels.message(record.id, reply_to) is None:
            raise REPLY_MESSAGE_ID_INVALID()
        return self._post(
            sender,
            record,
            text,
            random_id=random_id,
            markup=None if markup is None else bytes(markup),
            entities=packed,
            extra=None if reply_to is None else MessageExtra(reply_to_id=reply_to),
            origin=origin,
        )

    def send_game(
        self,
        sender: Account,
        channel: abcs.InputPeer,
        media: abcs.InputMedia,
        *,
        text: str = "",
        random_id: int,
        reply_markup: abcs.ReplyMarkup | None = None,
        entities: list[abcs.MessageEntity] | None = None,
        origin: Hashable = None,
    ) -> types.Updates:
        """``messages.sendMedia`` with ``inputMediaGame`` to a supergroup or channel."""
        short_name = self._messages.game_short_name(sender, media)
        record, _ = self._writer(sender, channel)
        self._messages.check_text(text, allow_empty=True)
        packed = pack_checked_entities(
            text, entities, self._config, lambda u: self._peers.user(sender, u)
        )
        stored_media, markup = self._messages.game_media(sender, short_name, reply_markup)
        return self._post(
            sender,
            record,
            text,
            random_id=random_id,
            markup=None if markup is None else bytes(markup),
            entities=packed,
            media=stored_media,
            origin=origin,
        )

    def forward_messages(
        self,
        sender: Account,
        from_peer: abcs.InputPeer,
        ids: Sequence[int],
        random_ids: Sequence[int],
        to_peer: abcs.InputPeer,
        *,
        drop_author: bool = False,
        origin: Hashable = None,
    ) -> types.Updates:
        """``messages.forwardMessages`` into a channel, from a private chat, a basic group
        or a channel; ``fwd_from`` as between private chats, keyboards stay behind."""
        record, _ = self._writer(sender, to_peer)
        source = self._messages.forward_source(sender, from_peer)
        plan = self._messages.forward_plan(sender, source, ids, random_ids, drop_author=drop_author)
        id_part: list[abcs.Update] = []
        new_part: list[abcs.Update] = []
        user_ids: list[int] = [sender.id]
        for original, extra, random_id in plan:
            result = self._post(
                sender,
                record,
                original.text,
                random_id=random_id,
                markup=None,
                entities=original.entities,
                media=original.media,
                extra=extra,
                origin=origin,
            )
            for update in result.updates:
                (id_part if isinstance(update, types.UpdateMessageID) else new_part).append(update)
            user_ids += [u.id for u in result.users if isinstance(u, types.User)]
        return types.Updates(
            updates=id_part + new_part,
            users=render_user_ids(self._storage, user_ids, sender.id),
            chats=[self.render(record, sender.id)],
            date=int(self._clock()),
            seq=0,
        )

    def readable(self, viewer: Account, peer: abcs.InputPeer) -> int:
        """``ChannelSource.readable``: forwarding out of a channel."""
        return self.reader(viewer, peer).id

    def originals(
        self, viewer: Account, channel_id: int, msg_ids: Sequence[int]
    ) -> list[StoredMessage]:
        """``ChannelSource.originals``: the messages as box-like copies of ``viewer``."""
        return [
            StoredMessage(
                owner_id=viewer.id,
                id=m.id,
                global_id=m.id,
                sender_id=m.sender_id,
                peer=PeerRef(PeerKind.CHANNEL, channel_id),
                out=m.sender_id == viewer.id,
                date=m.date,
                edit_date=m.edit_date,
                text=m.text,
                entities=m.entities,
                reply_markup=m.reply_markup,
                media=m.media,
                extra=m.extra,
                pts=m.pts,
            )
            for m in self._storage.channels.messages(channel_id, msg_ids)
        ]

    def edit_message(
        self,
        editor: Account,
        channel: abcs.InputPeer,
        msg_id: int,
        *,
        text: str | None = None,
        reply_markup: abcs.ReplyMarkup | None = None,
        origin: Hashable = None,
    ) -> types.Updates:
        """``messages.editMessage`` in a channel: the author edits (a bot's edit replaces
        its keyboard); every member sees ``updateEditChannelMessage``."""
        record, _ = self.member_of(editor, channel)
        msg = self._storage.channels.message(record.id, msg_id)
        if msg is None or MessageExtra.decode(msg.extra).action is not None:
            raise MESSAGE_ID_INVALID()
        if msg.sender_id != editor.id:
            raise MESSAGE_AUTHOR_REQUIRED()
        new_text = msg.text if text is None else text
        self._messages.check_text(new_text, allow_empty=False)
        markup_bytes = msg.reply_markup
        if editor.is_bot:
            markup = None
            if reply_markup is not None:
                markup = self._markup.check(
                    reply_markup,
                    resolve_user=lambda u: self._peers.user(editor, u),
                    allow_game=isinstance(parse_media(msg.media), types.MessageMediaGame),
                )
            markup_bytes = None if markup is None else bytes(markup)
        if new_text == msg.text and markup_bytes == msg.reply_markup:
            raise MESSAGE_NOT_MODIFIED()
        edited, logged = self._storage.channels.edit(
            record.id,
            msg_id,
            render_update=lambda m: bytes(
                types.UpdateEditChannelMessage(
                    message=render_channel_message(m, record, 0), pts=m.pts, pts_count=1
                )
            ),
            text=new_text,
            reply_markup=markup_bytes,
        )
        return self._fan_out(editor, record, edited, logged, origin, random_id=None)

    def delete_messages(
        self,
        actor: Account,
        channel: abcs.InputChannel | abcs.InputPeer,
        msg_ids: Sequence[int],
        *,
        origin: Hashable = None,
    ) -> msg_types.AffectedMessages:
        """``channels.deleteMessages``: the author or an admin deletes for everyone; ids
        that name no message are ignored, others' messages need an admin
        (``MESSAGE_DELETE_FORBIDDEN`` is answered as ``CHAT_ADMIN_REQUIRED``)."""
        record, me = self.member_of(actor, channel)
        if not me.is_admin:
            for msg in self._storage.channels.messages(record.id, msg_ids):
                if msg.sender_id != actor.id:
                    raise CHAT_ADMIN_REQUIRED()
        result = self._storage.channels.delete(
            record.id,
            msg_ids,
            render_update=lambda gone, pts, count: bytes(
                types.UpdateDeleteChannelMessages(
                    channel_id=record.id, messages=list(gone), pts=pts, pts_count=count
                )
            ),
        )
        if result is None:
            current = self._storage.channels.get(record.id) or record
            return msg_types.AffectedMessages(pts=current.pts, pts_count=0)
        _, logged = result
        update: abcs.Update = tl.read(logged.body)
        for member in self._storage.channels.members(record.id):
            if self._hub.online(member.user_id):
                self._hub.publish(
                    member.user_id,
                    self._channel_updates(member.user_id, record, [update], member=member),
                    exclude=origin if member.user_id == actor.id else None,
                )
        return msg_types.AffectedMessages(pts=logged.pts, pts_count=logged.pts_count)

    def read_history(
        self, viewer: Account, channel: abcs.InputChannel | abcs.InputPeer, max_id: int
    ) -> bool:
        """``channels.readHistory``: the viewer's inbox mark (0: everything); the authors
        of the messages read see ``updateReadChannelOutbox``."""
        record, _ = self.member_of(viewer, channel)
        before = self._storage.channels.member(record.id, viewer.id)
        previous = 0 if before is None else before.read_max_id
        mark = self._storage.channels.mark_read(
            record.id, viewer.id, max_id if max_id > 0 else record.last_message_id
        )
        if mark is None:
            return True
        inbox = types.UpdateReadChannelInbox(
            channel_id=record.id,
            max_id=mark,
            still_unread_count=self._storage.channels.unread_count(record.id, viewer.id),
            pts=record.pts,
        )
        if self._hub.online(viewer.id):
            self._hub.publish(viewer.id, self._channel_updates(viewer.id, record, [inbox]))
        read = self._storage.channels.history(record.id, min_id=previous, max_id=mark + 1)
        authors = {m.sender_id for m in read if m.sender_id != viewer.id}
        for author in authors:
            if self._hub.online(author):
                outbox = types.UpdateReadChannelOutbox(channel_id=record.id, max_id=mark)
                self._hub.publish(author, self._channel_updates(author, record, [outbox]))
        return True

    def set_typing(
        self, sender: Account, channel: abcs.InputPeer, action: abcs.SendMessageAction
    ) -> None:
        """``messages.setTyping`` in a supergroup: ``updateChannelUserTyping`` to the other
        online members (not logged)."""
        record, _ = self.member_of(sender, channel)
        update = types.UpdateShort(
            update=types.UpdateChannelUserTyping(
                channel_id=record.id, from_id=types.PeerUser(user_id=sender.id), action=action
            ),
            date=int(self._clock()),
        )
        for member in self._storage.channels.members(record.id):
            if member.user_id != sender.id and self._hub.online(member.user_id):
                self._hub.publish(member.user_id, update)

    # -- difference ---------------------------------------------------------------------------

    def difference(
        self, viewer: Account, channel: abcs.InputChannel, *, pts: int, limit: int
    ) -> abcs.updates.ChannelDifference:
        """``updates.getChannelDifference`` from ``pts``: the logged updates above it (at
        most ``limit``, ``final`` unset when more remain), ``channelDifferenceEmpty`` when
        nothing is newer, ``channelDifferenceTooLong`` (the dialog and the newest
        messages) when the log does not reach back to ``pts`` or the gap is too long."""
        record = self.reader(viewer, channel)
        if pts <= 0:
            raise PERSISTENT_TIMESTAMP_INVALID()
        # What the member fetches here, getDifference need not announce again.
        self._storage.channels.set_caught_up(record.id, viewer.id, record.pts)
        if pts >= record.pts:
            return upd_types.ChannelDifferenceEmpty(final=True, pts=record.pts)
        # Bots may ask for more at once (Telegram's documentation: users pass 10-100).
        most = self._config.difference_limit if viewer.is_bot else DIFFERENCE_MAX
        limit = max(1, min(limit, most))
        entries = self._storage.channels.updates_since(record.id, pts, limit=limit + 1)
        if not entries or entries[0].pts - entries[0].pts_count > pts or len(entries) > limit:
            return self._too_long(viewer, record)
        new_messages: list[abcs.Message] = []
        other: list[abcs.Update] = []
        user_ids: list[int] = [viewer.id]
        member = self._storage.channels.member(record.id, viewer.id) if viewer.is_bot else None
        for entry in entries:
            update = self._viewer_update(entry, viewer.id)
            if member is not None and not self._bot_shown(viewer, member, record, update):
                continue  # the pts moves on past what privacy mode hides
            if isinstance(update, types.UpdateNewChannelMessage):
                new_messages.append(update.message)
            else:
                other.append(update)
            message = getattr(update, "message", None)
            if isinstance(message, types.Message | types.MessageService):
                user_ids += _message_users(message)
        return upd_types.ChannelDifference(
            final=True,
            pts=entries[-1].pts,
            new_messages=new_messages,
            other_updates=other,
            chats=[self.render(record, viewer.id)],
            users=render_user_ids(self._storage, user_ids, viewer.id),
        )

    def catch_up(self, viewer: Account) -> tuple[list[abcs.Update], list[int], list[abcs.Chat]]:
        """The channels' part of ``updates.getDifference``: ``(updates, user ids, chats)``
        for every channel whose log moved past the viewer's catch-up mark.

        A user gets ``updateChannelTooLong`` with the channel's pts and fetches the rest
        with ``getChannelDifference``. A bot gets the channel's updates themselves (as
        Telegram gives bots their channel updates through getDifference), the messages
        privacy mode lets it see, or ``updateChannelTooLong`` when more than the
        difference limit piled up. Either way the mark moves to the channel's pts: an
        update pushed live is announced again by the next catch-up, and clients drop it
        by its pts, as they drop any update they already applied."""
        updates: list[abcs.Update] = []
        user_ids: list[int] = []
        chats: list[abcs.Chat] = []
        ids = self._storage.channels.channels_of(viewer.id)
        for record in self._storage.channels.get_many(ids):
            member = self._storage.channels.member(record.id, viewer.id)
            if member is None or not member.present or record.pts <= member.caught_up_pts:
                continue
            found = None
            if viewer.is_bot:
                found = self._bot_catch_up(viewer, member, record)
            if found is None:
                updates.append(types.UpdateChannelTooLong(channel_id=record.id, pts=record.pts))
            else:
                updates += found
                for update in found:
                    message = getattr(update, "message", None)
                    if isinstance(message, types.Message | types.MessageService):
                        user_ids += _message_users(message)
            chats.append(self.render(record, viewer.id, member))
            self._storage.channels.set_caught_up(record.id, viewer.id, record.pts)
        return updates, user_ids, chats

    def _bot_catch_up(
        self, bot: Account, member: ChannelMember, record: ChannelRecord
    ) -> list[abcs.Update] | None:
        """The channel's logged updates past the bot's mark that the bot sees; ``None``
        when the log does not reach back to the mark or holds more than the limit."""
        limit = self._config.difference_limit
        mark = member.caught_up_pts
        entries = self._storage.channels.updates_since(record.id, mark, limit=limit + 1)
        if not entries or entries[0].pts - entries[0].pts_count > mark or len(entries) > limit:
            return None
        updates = (self._viewer_update(entry, bot.id) for entry in entries)
        return [u for u in updates if self._bot_shown(bot, member, record, u)]

    def _bot_shown(
        self, bot: Account, member: ChannelMember, record: ChannelRecord, update: abcs.Update
    ) -> bool:
        """Whether a logged update is for the bot: a message privacy mode hides from it
        is not (service messages and deletions are)."""
        message = getattr(update, "message", None)
        if not isinstance(message, types.Message):
            return True
        header = message.reply_to
        if isinstance(header, types.MessageReplyHeader) and header.reply_to_msg_id is not None:
            if self._replied_author(record.id, header.reply_to_msg_id) == bot.id:
                return True
        return self._bot_sees_text(bot, member, record, message.message)

    def _too_long(
        self, viewer: Account, record: ChannelRecord
    ) -> upd_types.ChannelDifferenceTooLong:
        newest = self._storage.channels.history(record.id, limit=DIFFERENCE_MAX)
        dialog = self.dialog(viewer.id, record, newest[0] if newest else None)
        users = [viewer.id, *(i for m in newest for i in channel_message_user_ids(m))]
        return upd_types.ChannelDifferenceTooLong(
            final=True,
            dialog=dialog,
            messages=[render_channel_message(m, record, viewer.id) for m in newest],
            chats=[self.render(record, viewer.id)],
            users=render_user_ids(self._storage, users, viewer.id),
        )

    def _viewer_update(self, entry: ChannelUpdate, viewer_id: int) -> abcs.Update:
        update: abcs.Update = tl.read(entry.body)
        message = getattr(update, "message", None)
        if isinstance(message, types.Message | types.MessageService):
            sender = message.from_id
            if isinstance(sender, types.PeerUser) and sender.user_id == viewer_id:
                message.out = True
        return update

    # -- dialogs ------------------------------------------------------------------------------

    def dialog(
        self, viewer_id: int, record: ChannelRecord, top: ChannelMessage | None
    ) -> types.Dialog:
        member = self._storage.channels.member(record.id, viewer_id)
        return types.Dialog(
            peer=peer_channel(record.id),
            top_message=0 if top is None else top.id,
            read_inbox_max_id=0 if member is None else member.read_max_id,
            read_outbox_max_id=self._outbox_mark(record, viewer_id),
            unread_count=0
            if member is None
            else self._storage.channels.unread_count(record.id, viewer_id),
            unread_mentions_count=0,
            unread_reactions_count=0,
            unread_poll_votes_count=0,
            notify_settings=types.PeerNotifySettings(),
            pts=record.pts,
        )

    def dialogs(
        self, viewer: Account, channel_ids: Iterable[int] | None = None
    ) -> list[tuple[int, types.Dialog, abcs.Message | None, abcs.Chat, list[int]]]:
        """The viewer's channel dialogs (``channel_ids``, default: every channel it is in):
        ``(date of the top message, dialog, top message, channel, user ids to show)``."""
        ids = self._storage.channels.channels_of(viewer.id) if channel_ids is None else channel_ids
        found: list[tuple[int, types.Dialog, abcs.Message | None, abcs.Chat, list[int]]] = []
        for record in self._storage.channels.get_many(ids):
            newest = self._storage.channels.history(record.id, limit=1)
            top = newest[0] if newest else None
            found.append(
                (
                    record.date if top is None else top.date,
                    self.dialog(viewer.id, record, top),
                    None if top is None else render_channel_message(top, record, viewer.id),
                    self.render(record, viewer.id),
                    [] if top is None else channel_message_user_ids(top),
                )
            )
        return found

    # -- internals ----------------------------------------------------------------------------

    def _writer(
        self, sender: Account, channel: abcs.InputPeer
    ) -> tuple[ChannelRecord, ChannelMember]:
        record = self.resolve(sender, channel)
        member = self._storage.channels.member(record.id, sender.id)
        if member is None or not member.present:
            raise CHAT_WRITE_FORBIDDEN()
        if not record.megagroup and not member.is_admin:
            raise CHAT_ADMIN_REQUIRED()
        return record, member

    def _title(self, title: str) -> str:
        title = title.strip()
        if not title:
            raise CHAT_TITLE_EMPTY()
        return title[:TITLE_MAX]

    def _post(
        self,
        sender: Account,
        record: ChannelRecord,
        text: str,
        *,
        random_id: int | None,
        markup: bytes | None,
        entities: bytes | None,
        media: bytes | None = None,
        extra: MessageExtra | None = None,
        origin: Hashable,
    ) -> types.Updates:
        try:
            msg, logged = self._storage.channels.post(
                record.id,
                sender_id=sender.id,
                text=text,
                render_update=lambda m: bytes(
                    types.UpdateNewChannelMessage(
                        message=render_channel_message(m, record, 0), pts=m.pts, pts_count=1
                    )
                ),
                entities=entities,
                reply_markup=markup,
                media=media,
                extra=None if extra is None else extra.encode(),
                random_id=random_id,
            )
        except ChannelRandomIdTaken as taken:
            first = taken.existing
            return types.Updates(
                updates=[
                    types.UpdateMessageID(id=first.id, random_id=taken.random_id),
                    types.UpdateNewChannelMessage(
                        message=render_channel_message(first, record, sender.id),
                        pts=first.pts,
                        pts_count=1,
                    ),
                ],
                users=render_user_ids(
                    self._storage, [sender.id, *channel_message_user_ids(first)], sender.id
                ),
                chats=[self.render(record, sender.id)],
                date=first.date,
                seq=0,
            )
        return self._fan_out(sender, record, msg, logged, origin, random_id=random_id)

    def service_message(
        self,
        actor: Account,
        record: ChannelRecord,
        action: abcs.MessageAction,
        origin: Hashable,
        *,
        extra: Sequence[abcs.Update] = (),
    ) -> types.Updates:
        """Post a ``messageService`` with ``action`` and deliver it like any message."""
        msg, logged = self._storage.channels.post(
            record.id,
            sender_id=actor.id,
            text="",
            render_update=lambda m: bytes(
                types.UpdateNewChannelMessage(
                    message=render_channel_message(m, record, 0), pts=m.pts, pts_count=1
                )
            ),
            extra=MessageExtra(action=bytes(action)).encode(),
        )
        answer = self._fan_out(actor, record, msg, logged, origin, random_id=None)
        answer.updates = [*extra, *answer.updates]
        return answer

    def _fan_out(
        self,
        actor: Account,
        record: ChannelRecord,
        msg: ChannelMessage,
        logged: ChannelUpdate,
        origin: Hashable,
        *,
        random_id: int | None,
    ) -> types.Updates:
        """Push the logged update to every online member who sees it; the actor's answer."""
        record = self._storage.channels.get(record.id) or record
        extra = MessageExtra.decode(msg.extra)
        service = extra.action is not None
        replied = self._replied_author(record.id, extra.reply_to_id)
        user_ids = [actor.id, *channel_message_user_ids(msg)]
        if replied is not None:
            user_ids.append(replied)
        accounts = self._storage.accounts.get_many(list(dict.fromkeys(user_ids)))
        members = self._storage.channels.members(record.id)
        online = [m for m in members if m.user_id != actor.id and self._hub.online(m.user_id)]
        bots = {
            a.id: a
            for a in self._storage.accounts.get_many([m.user_id for m in online])
            if a.is_bot
        }
        # One parsed update for every member: the batches only read it. The same for the
        # users, unless the member is one of them (``self``): the push path writes each
        # shared object once (node.links).
        update: abcs.Update = tl.read(logged.body)
        named = {a.id for a in accounts}
        others = render_users(accounts, 0)
        for member in online:
            bot = bots.get(member.user_id)
            if (
                bot is not None
                and not service
                and bot.id != replied
                and not self._bot_sees_text(bot, member, record, msg.text)
            ):
                continue
            self._hub.publish(
                member.user_id,
                types.Updates(
                    updates=[update],
                    users=(
                        render_users(accounts, member.user_id)
                        if member.user_id in named
                        else others
                    ),
                    chats=[self.render(record, member.user_id, member, len(members))],
                    date=int(self._clock()),
                    seq=0,
                ),
            )
        own = _mark_out(tl.read(logged.body), actor.id, msg.sender_id)
        own_batch = types.Updates(
            updates=[own],
            users=render_users(accounts, actor.id),
            chats=[self.render(record, actor.id)],
            date=int(self._clock()),
            seq=0,
        )
        if self._hub.online(actor.id):
            self._hub.publish(actor.id, own_batch, exclude=origin)
        answer: list[abcs.Update] = [own]
        if random_id is not None:
            answer.insert(0, types.UpdateMessageID(id=msg.id, random_id=random_id))
        return types.Updates(
            updates=answer,
            users=own_batch.users,
            chats=own_batch.chats,
            date=own_batch.date,
            seq=0,
        )

    def _replied_author(self, channel_id: int, reply_to_id: int | None) -> int | None:
        """Who wrote the message a reply answers (a reply to a bot's message reaches it in
        privacy mode); ``None`` without a reply or once that message is gone."""
        if reply_to_id is None:
            return None
        replied = self._storage.channels.message(channel_id, reply_to_id)
        return None if replied is None else replied.sender_id

    def _bot_sees_text(
        self, bot: Account, member: ChannelMember, record: ChannelRecord, text: str
    ) -> bool:
        if not record.megagroup:
            return member.is_admin
        return sees(
            bot,
            text,
            privacy=self._storage.chats.bot_privacy(bot.id),
            admin=member.is_admin,
        )

    def _channel_updates(
        self,
        viewer_id: int,
        record: ChannelRecord,
        updates: list[abcs.Update],
        *,
        member: ChannelMember | None = None,
    ) -> types.Updates:
        return types.Updates(
            updates=updates,
            users=render_user_ids(self._storage, [viewer_id], viewer_id),
            chats=[self.render(record, viewer_id, member)],
            date=int(self._clock()),
            seq=0,
        )

    def _participant_changed(
        self,
        actor_id: int,
        record: ChannelRecord,
        user_id: int,
        before: ChannelMember | None,
        after: ChannelMember | None,
        *,
        admins_too: bool = True,
    ) -> None:
        """``updateChannelParticipant`` to the bots it is for: the user itself when it is
        a bot, and (``admins_too``) the channel's administrator bots (``after``: ``None``
        once it left)."""
        candidates: list[int] = []
        if admins_too:
            members = self._storage.channels.members(
                record.id, [ChannelRole.CREATOR, ChannelRole.ADMIN]
            )
            candidates = [m.user_id for m in members if self._hub.online(m.user_id)]
        if self._hub.online(user_id):
            candidates.append(user_id)
        if not candidates:
            return
        bots = [
            a for a in self._storage.accounts.get_many(list(dict.fromkeys(candidates))) if a.is_bot
        ]
        for bot in bots:
            update = types.UpdateChannelParticipant(
                channel_id=record.id,
                date=int(self._clock()),
                actor_id=actor_id,
                user_id=user_id,
                prev_participant=None if before is None else self._participant(before, bot.id),
                new_participant=None if after is None else self._participant(after, bot.id),
                qts=0,
            )
            self._hub.publish(
                bot.id,
                types.Updates(
                    updates=[update],
                    users=render_user_ids(self._storage, [actor_id, user_id], bot.id),
                    chats=[self.render(record, bot.id)],
                    date=update.date,
                    seq=0,
                ),
            )

    def _notify_channel(self, user_id: int, record: ChannelRecord) -> None:
        """Tell an affected user's live sessions the channel changed (``updateChannel``)."""
        if self._hub.online(user_id):
            self._hub.publish(
                user_id,
                self._channel_updates(user_id, record, [types.UpdateChannel(channel_id=record.id)]),
            )

    def chat_instance(self, channel_id: int) -> int:
        return self._keys.channel_chat_instance(channel_id)


def _message_users(message: types.Message | types.MessageService) -> list[int]:
    ids: list[int] = []
    if isinstance(message.from_id, types.PeerUser):
        ids.append(message.from_id.user_id)
    if isinstance(message, types.Message) and message.via_bot_id is not None:
        ids.append(message.via_bot_id)
    if isinstance(message, types.MessageService):
        ids += list(getattr(message.action, "users", None) or [])
        user_id = getattr(message.action, "user_id", None)
        if isinstance(user_id, int):
            ids.append(user_id)
    return ids


__all__ = [
    "ChannelService",
    "channel_message_user_ids",
    "peer_channel",
    "render_channel",
    "render_channel_message",
]
