"""Bot API layer: groups as a Bot API bot sees them -- basic groups, supergroups and
channels: chat ids, access, the group methods (``getChatMember``, ``getChatAdministrators``,
``getChatMemberCount``, ``leaveChat``), the group branches of the message methods, and the
group updates, over the chats and channels services.

The official server's reading, kept here: a basic group's Bot API id is its TL id negated
(``-chat_id``, at most 12 digits); a supergroup's or channel's is ``-100`` followed by its
TL id (``-(10**12 + channel_id)``), and a public one is also named ``@username``. A bot
knows a group it is or was in (a supergroup or channel: one it is in or was banned from, or
a public one); any other id is ``chat not found``. Reading a group (``getChat``,
``leaveChat``, ``getChatMember`` of itself) works after the bot left; writing, editing and
reading the members need the bot to be a member: otherwise ``403 bot is not a member of the
group chat`` (``supergroup chat``, ``channel chat``), or ``bot was kicked from ...`` when
someone else removed it. Posting in a channel needs an administrator.

Membership changes reach the bot as the official server forms them from the updates
Telegram gives bots: ``my_chat_member`` when the bot itself is added, removed, promoted or
demoted, ``chat_member`` for other members when the bot is an administrator (and lists
``chat_member`` in ``allowed_updates``). In a basic group they are read off the service
messages and ``updateChatParticipantAdmin``; in a supergroup or channel off
``updateChannelParticipant`` (the participant before and after), which also covers a
broadcast channel, where no service message says who came or went. A channel's posts are
``channel_post`` / ``edited_channel_post``. A basic group that became a supergroup answers
writes and member lists with the official ``group chat was upgraded to a supergroup chat``
and the new id in ``parameters.migrate_to_chat_id``. Which messages the bot gets at all is the
services' privacy rule, applied when the message is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from loopgram import tl
from loopgram.botapi import objects
from loopgram.botapi.errors import bad_request, error, group_upgraded
from loopgram.botapi.objects import JsonObject
from loopgram.botapi.request import Params
from loopgram.server.services.channels import render_channel_message
from loopgram.server.services.render import render_any, render_message, render_users
from loopgram.storage import Account, PeerRef
from loopgram.storage.channels import ChannelMember, ChannelRecord, ChannelRole
from loopgram.storage.chats import Participant
from loopgram.tl import abcs, types

if TYPE_CHECKING:
    from loopgram.botapi.gateway import BotApiGateway, _Bot

BASIC_GROUP_ID_MAX: Final = 999_999_999_999
"""The largest TL id of a basic group the Bot API can name (``-chat_id`` has 12 digits)."""

NOT_A_MEMBER: Final = "bot is not a member of the group chat"
KICKED: Final = "bot was kicked from the group chat"
DELETE_WINDOW: Final = 48 * 3600

Item = tuple[str, JsonObject]
"""One Bot API update: its kind and object."""


@dataclass(frozen=True, slots=True)
class Group:
    """A basic group the bot knows, as it sees it now."""

    chat: types.Chat
    creator_id: int
    member: Participant | None
    """The bot's membership; ``None`` once it left or was removed."""
    kicked: bool
    migrated_to: int | None = None
    """The supergroup the group became (``messages.migrateChat``): it is deactivated."""

    @property
    def id(self) -> int:
        return self.chat.id

    @property
    def peer(self) -> types.InputPeerChat:
        return types.InputPeerChat(chat_id=self.chat.id)

    def require_member(self) -> Participant:
        # As officially, a deactivated group answers with its successor before anything
        # else, even to a bot that was no longer in it.
        if self.migrated_to is not None:
            raise group_upgraded(objects.channel_chat_id(self.migrated_to))
        if self.member is None:
            raise error(403, KICKED if self.kicked else NOT_A_MEMBER)
        return self.member


@dataclass(frozen=True, slots=True)
class Channel:
    """A supergroup or broadcast channel the bot knows, as it sees it now."""

    record: ChannelRecord
    chat: types.Channel | types.ChannelForbidden
    member: ChannelMember | None
    """The bot's row: present, banned, or ``None`` (never in, or left)."""
    access_hash: int

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def megagroup(self) -> bool:
        return self.record.megagroup

    @property
    def peer(self) -> types.InputPeerChannel:
        return types.InputPeerChannel(channel_id=self.record.id, access_hash=self.access_hash)

    @property
    def input(self) -> types.InputChannel:
        return types.InputChannel(channel_id=self.record.id, access_hash=self.access_hash)

    @property
    def kind(self) -> str:
        return "supergroup" if self.record.megagroup else "channel"

    def require_member(self) -> ChannelMember:
        member = self.member
        if member is None or not member.present:
            kicked = member is not None
            text = "kicked from" if kicked else "not a member of"
            prefix = "was" if kicked else "is"
            raise error(403, f"bot {prefix} {text} the {self.kind} chat")
        return member

    def require_writer(self) -> ChannelMember:
        member = self.require_member()
        if not self.megagroup and not member.is_admin:
            raise bad_request("need administrator rights in the channel chat")
        return member


def group_id(raw: str) -> int | None:
    """The TL id of the basic group a ``chat_id`` names, or ``None`` when it names no basic
    group (a user, a username, a supergroup, not a number)."""
    try:
        value = int(raw.strip())
    except ValueError:
        return None
    if -BASIC_GROUP_ID_MAX <= value < 0:
        return -value
    return None


def channel_id(raw: str) -> int | None:
    """The TL id of the supergroup or channel a ``chat_id`` (``-100...``) names."""
    try:
        value = int(raw.strip())
    except ValueError:
        return None
    if value <= -objects.CHANNEL_ID_BASE - 1:
        return -value - objects.CHANNEL_ID_BASE
    return None


def group_of(gw: BotApiGateway, bot: _Bot, params: Params) -> Group | Channel | None:
    """The basic group, supergroup or channel of the request's ``chat_id`` (``None``: not
    a group id, for the private-chat path); ``chat not found`` for one the bot does not
    know."""
    raw = params.text("chat_id")
    if raw is None:
        return None
    if raw.strip().startswith("@"):
        # As officially, a username names a public supergroup or channel (or a bot).
        record = gw.storage.channels.get_by_username(raw.strip()[1:])
        return None if record is None else load_channel(gw, bot.account, record.id)
    chat_id = group_id(raw)
    if chat_id is not None:
        return load(gw, bot.account, chat_id)
    supergroup_id = channel_id(raw)
    if supergroup_id is not None:
        return load_channel(gw, bot.account, supergroup_id)
    return None


def load(gw: BotApiGateway, bot: Account, chat_id: int) -> Group:
    # getChats answers the chats the viewer is or was in, rendered for it: the same
    # "known chat" rule as the MTProto side.
    found = gw.services.chats.get_chats(bot, [chat_id]).chats
    chat = found[0] if found else None
    record = gw.storage.chats.get(chat_id)
    if not isinstance(chat, types.Chat) or record is None:
        raise bad_request("chat not found")
    member = gw.storage.chats.participant(chat_id, bot.id)
    kicked = member is None and _kicked(gw, bot.id, chat_id)
    return Group(chat, record.creator_id, member, kicked, record.migrated_to)


def load_channel(gw: BotApiGateway, bot: Account, channel_id: int) -> Channel:
    # A channel the bot is (or was banned from) in, or a public one: what it can read.
    record = gw.storage.channels.get(channel_id)
    member = None if record is None else gw.storage.channels.member(channel_id, bot.id)
    if record is None or (member is None and record.username is None):
        raise bad_request("chat not found")
    chat = gw.services.channels.render(record, bot.id, member)
    if not isinstance(chat, types.Channel | types.ChannelForbidden):
        raise bad_request("chat not found")
    access_hash = gw.services.channels.input_channel(bot.id, channel_id).access_hash
    return Channel(record, chat, member, access_hash)


def _kicked(gw: BotApiGateway, bot_id: int, chat_id: int) -> bool:
    """Whether the bot's last message of the group is someone else removing it."""
    newest = gw.storage.messages.history(bot_id, PeerRef.chat(chat_id), limit=1)
    if not newest:
        return False
    message = render_any(newest[0])
    return (
        isinstance(message, types.MessageService)
        and isinstance(message.action, types.MessageActionChatDeleteUser)
        and message.action.user_id == bot_id
        and newest[0].sender_id != bot_id
    )


def status_of(creator_id: int, participant: Participant | None, *, kicked: bool = False) -> str:
    """A ``ChatMember`` status in a basic group."""
    if participant is None:
        return "kicked" if kicked else "left"
    if participant.user_id == creator_id:
        return "creator"
    return "administrator" if participant.admin else "member"


# -- the message methods' group branches ------------------------------------------------------


def send_message(
    gw: BotApiGateway,
    bot: _Bot,
    group: Group | Channel,
    text: str,
    entities: list[abcs.MessageEntity] | None,
    markup: abcs.ReplyMarkup | None,
    reply_to: int | None = None,
) -> JsonObject:
    origin = gw.hub_key(bot.account.id)
    result: abcs.Updates
    if isinstance(group, Channel):
        group.require_writer()
        gw.flood(bot, "messages.sendMessage", group.peer)
        result = gw.services.channels.send_message(
            bot.account,
            group.peer,
            text,
            random_id=gw.random_id(),
            reply_markup=markup,
            entities=entities,
            reply_to=reply_to,
            origin=origin,
        )
        return gw.render(bot, result)
    group.require_member()
    gw.flood(bot, "messages.sendMessage", group.peer)
    result = gw.services.chats.send_message(
        bot.account,
        group.id,
        text,
        random_id=gw.random_id(),
        reply_markup=markup,
        entities=entities,
        reply_to=reply_to,
        origin=origin,
    )
    return gw.render(bot, result)


def reply_target(
    gw: BotApiGateway,
    bot: _Bot,
    group: Group | Channel,
    message_id: int,
    chat_id: str | None,
    *,
    allow_without: bool,
) -> int | None:
    """The bot's id of the group message a send replies to, checked as officially: a
    missing one fails the send unless ``allow_without``."""
    if isinstance(group, Channel):
        if chat_id is not None and channel_id(chat_id) != group.id:
            raise bad_request("replies to messages of other chats are not implemented by loopgram")
        found = gw.storage.channels.message(group.id, message_id) is not None
    else:
        if chat_id is not None and group_id(chat_id) != group.id:
            raise bad_request("replies to messages of other chats are not implemented by loopgram")
        copy = gw.storage.messages.get(bot.account.id, message_id)
        found = copy is not None and copy.peer == PeerRef.chat(group.id)
    if not found:
        if allow_without:
            return None
        raise bad_request("message to be replied not found")
    return message_id


def channel_reply(
    gw: BotApiGateway,
    bot: _Bot,
    message: types.Message,
    rendered: JsonObject,
    users: Mapping[int, JsonObject],
    chats: Mapping[int, JsonObject],
) -> JsonObject:
    """``rendered`` (a supergroup's or channel's message) with ``reply_to_message``, read
    from the channel, one level deep as officially (left out once it was deleted)."""
    header = message.reply_to
    if (
        not isinstance(header, types.MessageReplyHeader)
        or header.reply_to_msg_id is None
        or not isinstance(message.peer_id, types.PeerChannel)
    ):
        return rendered
    record = gw.storage.channels.get(message.peer_id.channel_id)
    replied = (
        None if record is None else gw.storage.channels.message(record.id, header.reply_to_msg_id)
    )
    if record is None or replied is None:
        return rendered
    shown = render_channel_message(replied, record, bot.account.id)
    if replied.sender_id not in users:
        known = gw.storage.accounts.get(replied.sender_id)
        if known is not None:
            users = {**users, **_render_users(gw, bot, [known])}
    if isinstance(shown, types.MessageService):
        service = objects.service_message_to_api(shown, users, chats, bot.account.id)
        if service is not None:
            rendered["reply_to_message"] = service
    elif isinstance(shown, types.Message):
        rendered["reply_to_message"] = objects.message_to_api(shown, users, chats)
    return rendered


def edit_message(
    gw: BotApiGateway,
    bot: _Bot,
    group: Group | Channel,
    message_id: int,
    text: str | None,
    markup: abcs.ReplyMarkup | None,
) -> JsonObject:
    group.require_member()
    gw.flood(bot, "messages.editMessage", group.peer)
    origin = gw.hub_key(bot.account.id)
    result: abcs.Updates
    if isinstance(group, Channel):
        result = gw.services.channels.edit_message(
            bot.account, group.peer, message_id, text=text, reply_markup=markup, origin=origin
        )
    else:
        result = gw.services.chats.edit_message(
            bot.account, group.id, message_id, text=text, reply_markup=markup, origin=origin
        )
    return gw.render(bot, result)


def delete_messages(
    gw: BotApiGateway,
    bot: _Bot,
    group: Group | Channel,
    message_ids: list[int],
    *,
    single: bool,
) -> bool:
    """``deleteMessage`` (``single``: its errors) and ``deleteMessages`` in a group: the
    bot's own messages within 48 hours, and any while it is an administrator."""
    if isinstance(group, Channel):
        return _delete_in_channel(gw, bot, group, message_ids, single=single)
    member = group.require_member()
    oldest = gw.clock() - DELETE_WINDOW
    ref = PeerRef.chat(group.id)
    doomed = []
    for message_id in dict.fromkeys(message_ids):
        copy = gw.storage.messages.get(bot.account.id, message_id)
        if copy is None or copy.peer != ref:
            if single:
                raise bad_request("message to delete not found")
            continue
        if copy.date < oldest or (copy.sender_id != bot.account.id and not member.admin):
            if single:
                raise bad_request("message can't be deleted")
            continue
        doomed.append(message_id)
    if doomed:
        gw.flood(bot, "messages.deleteMessages", group.peer)
        gw.services.messages.delete_messages(
            bot.account, doomed, revoke=True, origin=gw.hub_key(bot.account.id)
        )
    return True


def _delete_in_channel(
    gw: BotApiGateway, bot: _Bot, channel: Channel, message_ids: list[int], *, single: bool
) -> bool:
    member = channel.require_member()
    oldest = gw.clock() - DELETE_WINDOW
    found = {m.id: m for m in gw.storage.channels.messages(channel.id, message_ids)}
    doomed = []
    for message_id in dict.fromkeys(message_ids):
        msg = found.get(message_id)
        if msg is None:
            if single:
                raise bad_request("message to delete not found")
            continue
        own = msg.sender_id == bot.account.id and msg.date >= oldest
        if not own and not member.is_admin:
            if single:
                raise bad_request("message can't be deleted")
            continue
        doomed.append(message_id)
    if doomed:
        gw.flood(bot, "channels.deleteMessages", channel.peer)
        gw.services.channels.delete_messages(
            bot.account, channel.peer, doomed, origin=gw.hub_key(bot.account.id)
        )
    return True


def send_chat_action(
    gw: BotApiGateway, bot: _Bot, group: Group | Channel, action: abcs.SendMessageAction
) -> bool:
    group.require_member()
    if isinstance(group, Channel):
        gw.services.channels.set_typing(bot.account, group.peer, action)
    else:
        gw.services.chats.set_typing(bot.account, group.id, action)
    return True


def get_chat(gw: BotApiGateway, bot: _Bot, group: Group | Channel) -> JsonObject:
    if isinstance(group, Channel):
        return objects.channel_full_info(group.chat, group.record.about)
    return objects.group_full_info(group.chat)


# -- the group methods --------------------------------------------------------------------------


def _user_id(params: Params) -> int:
    # Read as the official server reads it: anything that is not a positive number is 0.
    raw = (params.text("user_id") or "").strip()
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise bad_request("invalid user_id specified")
    return value


def _private_chat(gw: BotApiGateway, params: Params) -> Account:
    account, _ = gw.chat_peer(params)
    return account


def _user(gw: BotApiGateway, bot: _Bot, user_id: int) -> JsonObject:
    if user_id == bot.account.id:
        return gw.me(bot)
    found = gw.storage.accounts.get(user_id)
    if found is None:
        raise bad_request("member not found")
    return _render_users(gw, bot, [found])[user_id]


def _render_users(gw: BotApiGateway, bot: _Bot, accounts: list[Account]) -> dict[int, JsonObject]:
    return {
        a.id: gw.me(bot) if a.id == bot.account.id else objects.user_to_api(u)
        for a, u in zip(accounts, render_users(accounts, bot.account.id), strict=True)
    }


def _channel_member(channel: Channel, user: JsonObject, member: ChannelMember | None) -> JsonObject:
    if member is None:
        return objects.chat_member_to_api(user, "left")
    if member.role is ChannelRole.BANNED:
        return objects.chat_member_to_api(user, "kicked")
    if member.role is ChannelRole.CREATOR:
        return objects.chat_member_to_api(user, "creator")
    if member.role is ChannelRole.ADMIN:
        rights = _stored_rights(member)
        shown = objects.admin_rights_to_api(rights, megagroup=channel.megagroup)
        return objects.chat_member_to_api(user, "administrator", shown)
    return objects.chat_member_to_api(user, "member")


def _stored_rights(member: ChannelMember) -> types.ChatAdminRights:
    """An administrator's stored rights (none recorded: no rights)."""
    if member.rights is not None:
        rights = tl.read(member.rights)
        if isinstance(rights, types.ChatAdminRights):
            return rights
    return types.ChatAdminRights()


def get_chat_member(gw: BotApiGateway, bot: _Bot, params: Params) -> JsonObject:
    user_id = _user_id(params)
    group = group_of(gw, bot, params)
    if group is None:
        account = _private_chat(gw, params)
        if user_id not in (account.id, bot.account.id):
            raise bad_request("member not found")
        return objects.chat_member_to_api(_user(gw, bot, user_id), "member")
    if isinstance(group, Channel):
        if user_id != bot.account.id:
            me = group.require_member()
            if not group.megagroup and not me.is_admin:
                raise bad_request("member list is inaccessible")
        user = _user(gw, bot, user_id)
        return _channel_member(group, user, gw.storage.channels.member(group.id, user_id))
    if user_id != bot.account.id:
        group.require_member()
    user = _user(gw, bot, user_id)
    if user_id == bot.account.id:
        participant = group.member
    else:
        participant = gw.storage.chats.participant(group.id, user_id)
    kicked = group.kicked and user_id == bot.account.id
    return objects.chat_member_to_api(user, status_of(group.creator_id, participant, kicked=kicked))


def get_chat_administrators(gw: BotApiGateway, bot: _Bot, params: Params) -> list[JsonObject]:
    group = group_of(gw, bot, params)
    if group is None:
        _private_chat(gw, params)
        raise bad_request("there are no administrators in the private chat")
    group.require_member()
    return_bots = params.boolean("return_bots")
    if isinstance(group, Channel):
        rows = [m for m in gw.storage.channels.members(group.id) if m.is_admin]
        ids = [m.user_id for m in rows]
    else:
        admins = [p for p in gw.storage.chats.participants(group.id) if p.admin]
        ids = [p.user_id for p in admins]
    accounts = {a.id: a for a in gw.storage.accounts.get_many(ids)}
    users = _render_users(gw, bot, list(accounts.values()))
    out = []
    for index, user_id in enumerate(ids):  # in the chat's own member order
        account = accounts.get(user_id)
        if account is None:
            continue
        if account.is_bot and account.id != bot.account.id and not return_bots:
            continue  # as officially: other bots only when asked for
        if isinstance(group, Channel):
            out.append(_channel_member(group, users[user_id], rows[index]))
        else:
            status = status_of(group.creator_id, admins[index])
            out.append(objects.chat_member_to_api(users[user_id], status))
    return out


def get_chat_member_count(gw: BotApiGateway, bot: _Bot, params: Params) -> int:
    group = group_of(gw, bot, params)
    if group is None:
        account = _private_chat(gw, params)
        return 1 if account.id == bot.account.id else 2
    group.require_member()
    if isinstance(group, Channel):
        return gw.storage.channels.count(group.id)
    return len(gw.storage.chats.participants(group.id))


def leave_chat(gw: BotApiGateway, bot: _Bot, params: Params) -> bool:
    group = group_of(gw, bot, params)
    if group is None:
        _private_chat(gw, params)
        raise bad_request("can't leave private chats")
    if isinstance(group, Channel):
        if group.member is None or not group.member.present:
            return True
        gw.services.channels.leave(bot.account, group.input, origin=None)
        return True
    if group.member is None:
        return True  # as officially: leaving a group one is not in does nothing
    # No origin: the bot's own service message reaches its queue too, as officially
    # (``left_chat_member`` naming itself), with its ``my_chat_member``.
    gw.services.chats.delete_user(bot.account, group.id, types.InputUserSelf(), origin=None)
    return True


# -- updates ----------------------------------------------------------------------------------

_SHOWN_WHEN_OWN: Final = (types.MessageActionChatDeleteUser, types.MessageActionChatEditTitle)
"""Service messages of the bot's own doing that it still gets (as officially: leaving a
group, renaming it)."""


def group_updates(
    gw: BotApiGateway,
    bot: _Bot,
    update: abcs.Update,
    users: Mapping[int, JsonObject],
    chats: Mapping[int, JsonObject],
) -> list[Item] | None:
    """The Bot API updates of one TL update of a group (``None``: not a group update, for
    the private-chat conversion)."""
    if isinstance(update, types.UpdateNewMessage | types.UpdateEditMessage):
        message = update.message
        if not isinstance(message, types.Message | types.MessageService) or not isinstance(
            message.peer_id, types.PeerChat
        ):
            return None
        new = isinstance(update, types.UpdateNewMessage)
        if isinstance(message, types.MessageService):
            return _service_updates(gw, bot, message, users, chats) if new else []
        if message.out:
            return []
        kind = "message" if new else "edited_message"
        rendered = objects.message_to_api(message, users, chats)
        return [(kind, gw.with_reply(bot, message, rendered, users, chats))]
    if isinstance(update, types.UpdateNewChannelMessage | types.UpdateEditChannelMessage):
        return _channel_message_updates(gw, bot, update, users, chats)
    if isinstance(update, types.UpdateBotCallbackQuery) and isinstance(
        update.peer, types.PeerChannel
    ):
        return _channel_callback(gw, bot, update, update.peer.channel_id, users, chats)
    if isinstance(update, types.UpdateBotCallbackQuery):
        if not isinstance(update.peer, types.PeerChat):
            return None
        copy = gw.storage.messages.get(bot.account.id, update.msg_id)
        chat = chats.get(-update.peer.chat_id) or {"id": -update.peer.chat_id, "type": "group"}
        shown: JsonObject
        if copy is None:
            shown = {"message_id": update.msg_id, "chat": chat, "date": 0}
        else:
            pressed = render_message(copy)
            shown = objects.message_to_api(pressed, users, chats)
            shown = gw.with_reply(bot, pressed, shown, users, chats)
        return [("callback_query", objects.callback_query_to_api(update, users, shown))]
    if isinstance(update, types.UpdateChatParticipantAdmin):
        return _admin_updates(gw, bot, update, users, chats)
    if isinstance(update, types.UpdateChannelParticipant):
        return _channel_participant_updates(gw, bot, update, users, chats)
    return None


def _participant_status(
    participant: abcs.ChannelParticipant | None, *, megagroup: bool
) -> tuple[str, JsonObject | None]:
    """A ``ChatMember`` status (and an administrator's rights) of a TL channel participant;
    none: the user is not in the channel."""
    if isinstance(participant, types.ChannelParticipantCreator):
        return "creator", None
    if isinstance(participant, types.ChannelParticipantAdmin):
        rights = participant.admin_rights
        if not isinstance(rights, types.ChatAdminRights):
            rights = types.ChatAdminRights()
        return "administrator", objects.admin_rights_to_api(rights, megagroup=megagroup)
    if isinstance(participant, types.ChannelParticipantBanned):
        return "kicked", None
    if isinstance(participant, types.ChannelParticipant | types.ChannelParticipantSelf):
        return "member", None
    return "left", None


def _channel_participant_updates(
    gw: BotApiGateway,
    bot: _Bot,
    update: types.UpdateChannelParticipant,
    users: Mapping[int, JsonObject],
    chats: Mapping[int, JsonObject],
) -> list[Item]:
    """``my_chat_member`` (the bot itself) or ``chat_member`` (another member; the services
    send those to administrator bots only) in a supergroup or channel."""
    chat = chats.get(objects.channel_chat_id(update.channel_id))
    record = gw.storage.channels.get(update.channel_id)
    if chat is None or record is None:
        return []
    actors = gw.storage.accounts.get_many(list(dict.fromkeys([update.actor_id, update.user_id])))
    rendered = _render_users(gw, bot, actors)
    actor, user = rendered.get(update.actor_id), rendered.get(update.user_id)
    if actor is None or user is None:
        return []
    old, old_rights = _participant_status(update.prev_participant, megagroup=record.megagroup)
    new, new_rights = _participant_status(update.new_participant, megagroup=record.megagroup)
    # Only administrator bots are sent another member's change.
    item = _member_item(
        bot, True, chat, actor, update.date, user, old, new, rights=(old_rights, new_rights)
    )
    return [] if item is None else [item]


def _member_item(
    bot: _Bot,
    bot_admin: bool,
    chat: JsonObject,
    actor: JsonObject,
    date: int,
    user: JsonObject,
    old: str,
    new: str,
    rights: tuple[JsonObject | None, JsonObject | None] = (None, None),
) -> Item | None:
    """``my_chat_member`` for the bot itself; ``chat_member`` for another member while the
    bot is an administrator of the group (``bot_admin``); otherwise nothing. ``rights``:
    an administrator's before and after (a basic group's fixed set when not given)."""
    if user["id"] == bot.account.id:
        kind = "my_chat_member"
    elif bot_admin:
        kind = "chat_member"
    else:
        return None
    return kind, objects.chat_member_updated_to_api(
        chat,
        actor,
        date,
        objects.chat_member_to_api(user, old, rights[0]),
        objects.chat_member_to_api(user, new, rights[1]),
    )


def _service_updates(
    gw: BotApiGateway,
    bot: _Bot,
    message: types.MessageService,
    users: Mapping[int, JsonObject],
    chats: Mapping[int, JsonObject],
) -> list[Item]:
    shown = objects.service_message_to_api(message, users, chats, bot.account.id)
    if shown is None or "from" not in shown:
        return []
    peer = message.peer_id
    creator_id: int | None = None
    bot_admin = False
    if isinstance(peer, types.PeerChat):
        record = gw.storage.chats.get(peer.chat_id)
        creator_id = None if record is None else record.creator_id
        mine = gw.storage.chats.participant(peer.chat_id, bot.account.id)
        bot_admin = mine is not None and mine.admin
    elif isinstance(peer, types.PeerChannel):
        channel = gw.storage.channels.get(peer.channel_id)
        creator_id = None if channel is None else channel.creator_id
        member = gw.storage.channels.member(peer.channel_id, bot.account.id)
        bot_admin = member is not None and member.is_admin
    chat: JsonObject = shown["chat"]
    actor: JsonObject = shown["from"]
    action = message.action
    out: list[Item] = []
    changes: list[tuple[int, str, str]] = []
    if isinstance(action, types.MessageActionChatCreate | types.MessageActionChatAddUser):
        changes = [(i, "left", "member") for i in action.users]
    elif isinstance(action, types.MessageActionChatDeleteUser):
        # An administrator's rank went with its participant row: it leaves as a "member".
        creator = creator_id == action.user_id
        changes = [(action.user_id, "creator" if creator else "member", "left")]
    if isinstance(peer, types.PeerChannel):
        changes = []  # ``updateChannelParticipant`` tells of those (above)
    for user_id, old, new in changes:
        user = users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": ""}
        item = _member_item(bot, bot_admin, chat, actor, message.date, user, old, new)
        if item is not None:
            out.append(item)
    if not message.out or isinstance(action, _SHOWN_WHEN_OWN):
        out.append(("message", shown))
    return out


def _admin_updates(
    gw: BotApiGateway,
    bot: _Bot,
    update: types.UpdateChatParticipantAdmin,
    users: Mapping[int, JsonObject],
    chats: Mapping[int, JsonObject],
) -> list[Item]:
    """A member promoted or demoted: only the creator does that in a basic group."""
    chat_record = gw.storage.chats.get(update.chat_id)
    tl_chat = chats.get(-update.chat_id)
    if chat_record is None or tl_chat is None:
        return []
    creator = gw.storage.accounts.get(chat_record.creator_id)
    target = gw.storage.accounts.get(update.user_id)
    if creator is None or target is None:
        return []
    rendered = _render_users(gw, bot, [creator, target])
    old, new = ("member", "administrator") if update.is_admin else ("administrator", "member")
    mine = gw.storage.chats.participant(update.chat_id, bot.account.id)
    item = _member_item(
        bot,
        mine is not None and mine.admin,
        tl_chat,
        rendered[creator.id],
        int(gw.clock()),
        rendered[target.id],
        old,
        new,
    )
    return [] if item is None else [item]


def _channel_message_updates(
    gw: BotApiGateway,
    bot: _Bot,
    update: types.UpdateNewChannelMessage | types.UpdateEditChannelMessage,
    users: Mapping[int, JsonObject],
    chats: Mapping[int, JsonObject],
) -> list[Item]:
    """A supergroup's message (``message`` / ``edited_message``) or a channel's post
    (``channel_post`` / ``edited_channel_post``), as the bot sees it; its own are not
    updates for it. Which messages reach a bot is the channels service's privacy rule."""
    message = update.message
    if not isinstance(message, types.Message | types.MessageService):
        return []
    if not isinstance(message.peer_id, types.PeerChannel):
        return []
    new = isinstance(update, types.UpdateNewChannelMessage)
    chat = chats.get(objects.channel_chat_id(message.peer_id.channel_id))
    broadcast = chat is not None and chat.get("type") == "channel"
    if isinstance(message, types.MessageService):
        return _service_updates(gw, bot, message, users, chats) if new else []
    if message.out:
        return []
    if broadcast:
        kind = "channel_post" if new else "edited_channel_post"
    else:
        kind = "message" if new else "edited_message"
    rendered = objects.message_to_api(message, users, chats)
    return [(kind, channel_reply(gw, bot, message, rendered, users, chats))]


def _channel_callback(
    gw: BotApiGateway,
    bot: _Bot,
    update: types.UpdateBotCallbackQuery,
    channel_id: int,
    users: Mapping[int, JsonObject],
    chats: Mapping[int, JsonObject],
) -> list[Item]:
    """A press on the bot's message in a supergroup or channel: the message has one id for
    everyone, read from the channel itself."""
    chat_id = objects.channel_chat_id(channel_id)
    record = gw.storage.channels.get(channel_id)
    msg = None if record is None else gw.storage.channels.message(channel_id, update.msg_id)
    shown: JsonObject
    if record is None or msg is None:
        chat = chats.get(chat_id) or {"id": chat_id, "type": "supergroup"}
        shown = {"message_id": update.msg_id, "chat": chat, "date": 0}
    else:
        rendered = render_channel_message(msg, record, bot.account.id)
        if not isinstance(rendered, types.Message):
            return []
        shown = objects.message_to_api(rendered, users, chats)
    return [("callback_query", objects.callback_query_to_api(update, users, shown))]


__all__ = [
    "BASIC_GROUP_ID_MAX",
    "Channel",
    "Group",
    "channel_id",
    "delete_messages",
    "edit_message",
    "get_chat",
    "get_chat_administrators",
    "get_chat_member",
    "get_chat_member_count",
    "group_id",
    "group_of",
    "group_updates",
    "leave_chat",
    "load",
    "load_channel",
    "reply_target",
    "send_chat_action",
    "send_message",
    "status_of",
]
