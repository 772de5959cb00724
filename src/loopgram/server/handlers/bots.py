"""Server layer: handlers of the ``bots`` namespace (command lists)."""

from __future__ import annotations

import loopgram.tl.functions.bots as fn
from loopgram.server.context import RequestContext
from loopgram.server.handlers.registry import Registry
from loopgram.server.services.commands import render_commands
from loopgram.tl import abcs, types

registry = Registry()


@registry.method(fn.SetBotCommands)
async def handle_set_bot_commands(ctx: RequestContext, req: fn.SetBotCommands) -> bool:
    """bots.setBotCommands#517165a scope:BotCommandScope lang_code:string
    commands:Vector<BotCommand> = Bool;"""
    service = ctx.services.commands
    listed = [(c.command, c.description) for c in req.commands if isinstance(c, types.BotCommand)]
    service.set(ctx.me, service.scope(ctx.me, req.scope), req.lang_code, listed)
    return True


@registry.method(fn.GetBotCommands)
async def handle_get_bot_commands(
    ctx: RequestContext, req: fn.GetBotCommands
) -> list[abcs.BotCommand]:
    """bots.getBotCommands#e34c0dd6 scope:BotCommandScope lang_code:string
    = Vector<BotCommand>;"""
    service = ctx.services.commands
    return render_commands(service.get(ctx.me, service.scope(ctx.me, req.scope), req.lang_code))


@registry.method(fn.ResetBotCommands)
async def handle_reset_bot_commands(ctx: RequestContext, req: fn.ResetBotCommands) -> bool:
    """bots.resetBotCommands#3d8de0f9 scope:BotCommandScope lang_code:string = Bool;"""
    service = ctx.services.commands
    service.reset(ctx.me, service.scope(ctx.me, req.scope), req.lang_code)
    return True
