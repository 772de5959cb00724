"""Server layer: handlers of the ``help`` namespace (answered before login too)."""

from __future__ import annotations

import loopgram.tl.functions.help as fn
from loopgram.server.context import RequestContext
from loopgram.server.handlers.registry import Registry
from loopgram.tl import types

registry = Registry()


@registry.method(fn.GetConfig, needs_account=False)
async def handle_get_config(ctx: RequestContext, req: fn.GetConfig) -> types.Config:
    """help.getConfig#c4f9186b = Config;"""
    return ctx.services.help.config()


@registry.method(fn.GetNearestDc, needs_account=False)
async def handle_get_nearest_dc(ctx: RequestContext, req: fn.GetNearestDc) -> types.NearestDc:
    """help.getNearestDc#1fb33026 = NearestDc;"""
    return ctx.services.help.nearest_dc()
