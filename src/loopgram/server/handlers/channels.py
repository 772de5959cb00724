"""Server layer: handlers of the ``channels`` namespace (supergroups and broadcast
channels) and ``messages.migrateChat``."""

from __future__ import annotations

import loopgram.tl.functions.channels as fn
import loopgram.tl.functions.messages as fmsg
from loopgram.server.context import RequestContext
from loopgram.server.handlers.registry import Registry
from loopgram.tl import abcs, layers, types
from loopgram.tl.types import channels as ch_types
from loopgram.tl.types import messages as msg_types

registry = Registry()

_INVITED_USERS_LAYER = 198
"""The oldest served layer whose inviteToChannel answers ``messages.invitedUsers``."""
_JOIN_RESULT_LAYER = 227
"""The oldest served layer whose joinChannel answers ``messages.ChatInviteJoinResult``."""


def _older_than(ctx: RequestContext, layer: int) -> bool:
    announced = ctx.session.layer
    return announced is not None and layers.nearest_layer(announced) < layer


@registry.method(fn.CreateChannel)
async def handle_create_channel(ctx: RequestContext, req: fn.CreateChannel) -> types.Updates:
    """channels.createChannel#91006707 flags:# broadcast:flags.0?true megagroup:flags.1?true
    for_import:flags.3?true forum:flags.5?true title:string about:string
    geo_point:flags.2?InputGeoPoint address:flags.2?string ttl_period:flags.4?int = Updates;"""
    # Neither flag is a broadcast channel, as Telegram reads it.
    return ctx.services.channels.create(
        ctx.me, req.title, req.about, megagroup=req.megagroup, origin=ctx.origin
    )


@registry.method(fn.InviteToChannel)
async def handle_invite_to_channel(
    ctx: RequestContext, req: fn.InviteToChannel
) -> msg_types.InvitedUsers | abcs.Updates:
    """channels.inviteToChannel#c9e33d54 channel:InputChannel users:Vector<InputUser>
    = messages.InvitedUsers;"""
    result = ctx.services.channels.invite(ctx.me, req.channel, req.users, origin=ctx.origin)
    return result.updates if _older_than(ctx, _INVITED_USERS_LAYER) else result


@registry.method(fn.JoinChannel)
async def handle_join_channel(
    ctx: RequestContext, req: fn.JoinChannel
) -> msg_types.ChatInviteJoinResultOk | abcs.Updates:
    """channels.joinChannel#7f6a1e22 channel:InputChannel = messages.ChatInviteJoinResult;"""
    updates = ctx.services.channels.join(ctx.me, req.channel, origin=ctx.origin)
    if _older_than(ctx, _JOIN_RESULT_LAYER):
        return updates
    return msg_types.ChatInviteJoinResultOk(updates=updates)


@registry.method(fn.LeaveChannel)
async def handle_leave_channel(ctx: RequestContext, req: fn.LeaveChannel) -> types.Updates:
    """channels.leaveChannel#f836aa95 channel:InputChannel = Updates;"""
    return ctx.services.channels.leave(ctx.me, req.channel, origin=ctx.origin)


@registry.method(fn.GetChannels)
async def handle_get_channels(ctx: RequestContext, req: fn.GetChannels) -> msg_types.Chats:
    """channels.getChannels#a7f6bbb id:Vector<InputChannel> = messages.Chats;"""
    return ctx.services.channels.get_channels(ctx.me, req.id)


@registry.method(fn.GetFullChannel)
async def handle_get_full_channel(
    ctx: RequestContext, req: fn.GetFullChannel
) -> msg_types.ChatFull:
    """channels.getFullChannel#8736a09 channel:InputChannel = messages.ChatFull;"""
    return ctx.services.channels.get_full(ctx.me, req.channel)


@registry.method(fn.GetParticipants)
async def handle_get_participants(
    ctx: RequestContext, req: fn.GetParticipants
) -> ch_types.ChannelParticipants:
    """channels.getParticipants#77ced9d0 channel:InputChannel filter:ChannelParticipantsFilter
    offset:int limit:int hash:long = channels.ChannelParticipants;"""
    return ctx.services.channels.participants(
        ctx.me, req.channel, req.filter, offset=req.offset, limit=req.limit
    )


@registry.method(fn.GetParticipant)
async def handle_get_participant(
    ctx: RequestContext, req: fn.GetParticipant
) -> ch_types.ChannelParticipant:
    """channels.getParticipant#a0ab6cc6 channel:InputChannel participant:InputPeer
    = channels.ChannelParticipant;"""
    return ctx.services.channels.participant(ctx.me, req.channel, req.participant)


@registry.method(fn.EditAdmin)
async def handle_edit_admin(ctx: RequestContext, req: fn.EditAdmin) -> types.Updates:
    """channels.editAdmin#9a98ad68 flags:# channel:InputChannel user_id:InputUser
    admin_rights:ChatAdminRights rank:flags.0?string = Updates;"""
    return ctx.services.channels.edit_admin(
        ctx.me, req.channel, req.user_id, req.admin_rights, req.rank
    )


@registry.method(fn.EditBanned)
async def handle_edit_banned(ctx: RequestContext, req: fn.EditBanned) -> types.Updates:
    """channels.editBanned#96e6cd81 channel:InputChannel participant:InputPeer
    banned_rights:ChatBannedRights = Updates;"""
    return ctx.services.channels.edit_banned(
        ctx.me, req.channel, req.participant, req.banned_rights, origin=ctx.origin
    )


@registry.method(fn.EditTitle)
async def handle_edit_title(ctx: RequestContext, req: fn.EditTitle) -> types.Updates:
    """channels.editTitle#566decd0 channel:InputChannel title:string = Updates;"""
    return ctx.services.channels.edit_title(ctx.me, req.channel, req.title, origin=ctx.origin)


@registry.method(fn.UpdateUsername)
async def handle_update_username(ctx: RequestContext, req: fn.UpdateUsername) -> bool:
    """channels.updateUsername#3514b3de channel:InputChannel username:string = Bool;"""
    return ctx.services.channels.update_username(ctx.me, req.channel, req.username)


@registry.method(fn.CheckUsername)
async def handle_check_username(ctx: RequestContext, req: fn.CheckUsername) -> bool:
    """channels.checkUsername#10e6bd2c channel:InputChannel username:string = Bool;"""
    return ctx.services.channels.check_username(ctx.me, req.channel, req.username)


@registry.method(fn.GetMessages)
async def handle_get_messages(
    ctx: RequestContext, req: fn.GetMessages
) -> msg_types.ChannelMessages:
    """channels.getMessages#ad8c9a23 channel:InputChannel id:Vector<InputMessage>
    = messages.Messages;"""
    return ctx.services.channels.get_messages(ctx.me, req.channel, req.id)


@registry.method(fn.DeleteMessages)
async def handle_delete_messages(
    ctx: RequestContext, req: fn.DeleteMessages
) -> msg_types.AffectedMessages:
    """channels.deleteMessages#84c1fd4e channel:InputChannel id:Vector<int>
    = messages.AffectedMessages;"""
    return ctx.services.channels.delete_messages(ctx.me, req.channel, req.id, origin=ctx.origin)


@registry.method(fn.ReadHistory)
async def handle_read_history(ctx: RequestContext, req: fn.ReadHistory) -> bool:
    """channels.readHistory#cc104937 channel:InputChannel max_id:int = Bool;"""
    return ctx.services.channels.read_history(ctx.me, req.channel, req.max_id)


@registry.method(fmsg.MigrateChat)
async def handle_migrate_chat(ctx: RequestContext, req: fmsg.MigrateChat) -> types.Updates:
    """messages.migrateChat#a2875319 chat_id:long = Updates;"""
    record, created = ctx.services.channels.migrate_chat(ctx.me, req.chat_id, origin=ctx.origin)
    moved = ctx.services.chats.migrated(ctx.me, req.chat_id, record.id, origin=ctx.origin)
    # One answer: the supergroup's updates, then the group's last message.
    known = {u.id for u in created.users if isinstance(u, types.User)}
    return types.Updates(
        updates=[*created.updates, *moved.updates],
        users=[
            *created.users,
            *(u for u in moved.users if isinstance(u, types.User) and u.id not in known),
        ],
        chats=[*created.chats, *moved.chats],
        date=created.date,
        seq=0,
    )
