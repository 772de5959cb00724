"""Server layer: handlers of the ``users`` namespace."""

from __future__ import annotations

import loopgram.tl.functions.users as fn
from loopgram.server.context import RequestContext
from loopgram.server.handlers.registry import Registry
from loopgram.tl import abcs
from loopgram.tl.types import users as user_types

registry = Registry()


@registry.method(fn.GetUsers)
async def handle_get_users(ctx: RequestContext, req: fn.GetUsers) -> list[abcs.User]:
    """users.getUsers#d91a548 id:Vector<InputUser> = Vector<User>;"""
    return ctx.services.users.get_users(ctx.me, req.id)


@registry.method(fn.GetFullUser)
async def handle_get_full_user(ctx: RequestContext, req: fn.GetFullUser) -> user_types.UserFull:
    """users.getFullUser#b60f5918 id:InputUser = users.UserFull;"""
    info = ctx.session.client_info
    lang_code = info.lang_code if info is not None else ""
    return ctx.services.users.get_full_user(ctx.me, req.id, lang_code=lang_code)
