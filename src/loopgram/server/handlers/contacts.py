"""Server layer: handlers of the ``contacts`` namespace."""

from __future__ import annotations

import loopgram.tl.functions.contacts as fn
from loopgram.server.context import RequestContext
from loopgram.server.handlers.registry import Registry
from loopgram.tl.types import contacts as contact_types

registry = Registry()


@registry.method(fn.ResolveUsername)
async def handle_resolve_username(
    ctx: RequestContext, req: fn.ResolveUsername
) -> contact_types.ResolvedPeer:
    """contacts.resolveUsername#725afbbc flags:# username:string referer:flags.0?string =
    contacts.ResolvedPeer;"""
    return ctx.services.users.resolve_username(ctx.me, req.username)
