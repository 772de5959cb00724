"""Server layer: handlers of the basic-group methods of the ``messages`` namespace."""

from __future__ import annotations

import loopgram.tl.functions.messages as fn
from loopgram.server.context import RequestContext
from loopgram.server.handlers.registry import Registry
from loopgram.tl import abcs, layers, types
from loopgram.tl.types import messages as msg_types

registry = Registry()

_INVITED_USERS_LAYER = 198
"""The oldest served layer whose createChat / addChatUser answer ``messages.invitedUsers``;
layer 158 answers them with the bare ``Updates``."""


def _invited(
    ctx: RequestContext, result: msg_types.InvitedUsers
) -> msg_types.InvitedUsers | abcs.Updates:
    layer = ctx.session.layer
    if layer is not None and layers.nearest_layer(layer) < _INVITED_USERS_LAYER:
        return result.updates
    return result


@registry.method(fn.CreateChat)
async def handle_create_chat(
    ctx: RequestContext, req: fn.CreateChat
) -> msg_types.InvitedUsers | abcs.Updates:
    """messages.createChat#92ceddd4 flags:# users:Vector<InputUser> title:string
    ttl_period:flags.0?int = messages.InvitedUsers;"""
    return _invited(ctx, ctx.services.chats.create(ctx.me, req.users, req.title, origin=ctx.origin))


@registry.method(fn.AddChatUser)
async def handle_add_chat_user(
    ctx: RequestContext, req: fn.AddChatUser
) -> msg_types.InvitedUsers | abcs.Updates:
    """messages.addChatUser#cbc6d107 chat_id:long user_id:InputUser fwd_limit:int
    = messages.InvitedUsers;"""
    result = ctx.services.chats.add_user(ctx.me, req.chat_id, req.user_id, origin=ctx.origin)
    return _invited(ctx, result)


@registry.method(fn.DeleteChatUser)
async def handle_delete_chat_user(ctx: RequestContext, req: fn.DeleteChatUser) -> types.Updates:
    """messages.deleteChatUser#a2185cab flags:# revoke_history:flags.0?true chat_id:long
    user_id:InputUser = Updates;"""
    return ctx.services.chats.delete_user(ctx.me, req.chat_id, req.user_id, origin=ctx.origin)


@registry.method(fn.EditChatTitle)
async def handle_edit_chat_title(ctx: RequestContext, req: fn.EditChatTitle) -> types.Updates:
    """messages.editChatTitle#73783ffd chat_id:long title:string = Updates;"""
    return ctx.services.chats.edit_title(ctx.me, req.chat_id, req.title, origin=ctx.origin)


@registry.method(fn.GetChats)
async def handle_get_chats(ctx: RequestContext, req: fn.GetChats) -> msg_types.Chats:
    """messages.getChats#49e9528f id:Vector<long> = messages.Chats;"""
    return ctx.services.chats.get_chats(ctx.me, req.id)


@registry.method(fn.GetFullChat)
async def handle_get_full_chat(ctx: RequestContext, req: fn.GetFullChat) -> msg_types.ChatFull:
    """messages.getFullChat#aeb00b34 chat_id:long = messages.ChatFull;"""
    return ctx.services.chats.get_full(ctx.me, req.chat_id)


@registry.method(fn.EditChatAdmin)
async def handle_edit_chat_admin(ctx: RequestContext, req: fn.EditChatAdmin) -> bool:
    """messages.editChatAdmin#a85bd1c2 chat_id:long user_id:InputUser is_admin:Bool = Bool;"""
    ctx.services.chats.edit_admin(ctx.me, req.chat_id, req.user_id, req.is_admin)
    return True
