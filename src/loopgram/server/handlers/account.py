"""Server layer: handlers of the ``account`` namespace."""

from __future__ import annotations

import loopgram.tl.functions.account as fn
from loopgram.server.context import RequestContext
from loopgram.server.handlers.registry import Registry
from loopgram.server.services.render import render_user
from loopgram.tl import abcs

registry = Registry()


@registry.method(fn.UpdateStatus)
async def handle_update_status(ctx: RequestContext, req: fn.UpdateStatus) -> bool:
    """account.updateStatus#6628562c offline:Bool = Bool;"""
    return True  # online status is not tracked: every user shows as "recently"


@registry.method(fn.UpdateUsername)
async def handle_update_username(ctx: RequestContext, req: fn.UpdateUsername) -> abcs.User:
    """account.updateUsername#3e0bdd7c username:string = User;"""
    account = ctx.services.accounts.set_username(ctx.me, req.username, origin=ctx.origin)
    ctx.session.refresh_account(account)
    return render_user(account, account.id)


@registry.method(fn.CheckUsername)
async def handle_check_username(ctx: RequestContext, req: fn.CheckUsername) -> bool:
    """account.checkUsername#2714d86c username:string = Bool;"""
    return ctx.services.accounts.username_available(ctx.me, req.username)


@registry.method(fn.UpdateProfile)
async def handle_update_profile(ctx: RequestContext, req: fn.UpdateProfile) -> abcs.User:
    """account.updateProfile#78515775 flags:# first_name:flags.0?string
    last_name:flags.1?string about:flags.2?string = User;"""
    account = ctx.services.accounts.update_profile(
        ctx.me,
        first_name=req.first_name,
        last_name=req.last_name,
        about=req.about,
        origin=ctx.origin,
    )
    ctx.session.refresh_account(account)
    return render_user(account, account.id)
