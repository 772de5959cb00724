"""Server layer: handlers of the ``updates`` namespace."""

from __future__ import annotations

import loopgram.tl.functions.updates as fn
from loopgram.server.context import RequestContext
from loopgram.server.handlers.registry import Registry
from loopgram.tl import abcs
from loopgram.tl.types import updates as upd_types

registry = Registry()


@registry.method(fn.GetState)
async def handle_get_state(ctx: RequestContext, req: fn.GetState) -> upd_types.State:
    """updates.getState#edd4882a = updates.State;"""
    return ctx.services.updates.state(ctx.me)


@registry.method(fn.GetDifference)
async def handle_get_difference(
    ctx: RequestContext, req: fn.GetDifference
) -> abcs.updates.Difference:
    """updates.getDifference#19c2f763 flags:# pts:int pts_limit:flags.1?int
    pts_total_limit:flags.0?int date:int qts:int qts_limit:flags.2?int = updates.Difference;"""
    return ctx.services.updates.difference(ctx.me, pts=req.pts, pts_total_limit=req.pts_total_limit)


@registry.method(fn.GetChannelDifference)
async def handle_get_channel_difference(
    ctx: RequestContext, req: fn.GetChannelDifference
) -> abcs.updates.ChannelDifference:
    """updates.getChannelDifference#3173d78 flags:# force:flags.0?true channel:InputChannel
    filter:ChannelMessagesFilter pts:int limit:int = updates.ChannelDifference;"""
    return ctx.services.channels.difference(ctx.me, req.channel, pts=req.pts, limit=req.limit)
