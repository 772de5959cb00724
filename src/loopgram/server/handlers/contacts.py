"""Server layer: handlers of the ``contacts`` namespace."""

from __future__ import annotations

import loopgram.tl.functions.contacts as fn
from loopgram.server.context import RequestContext
from loopgram.server.handlers.registry import Registry
from loopgram.tl import types
from loopgram.tl.types import contacts as contact_types

registry = Registry()


@registry.method(fn.ResolveUsername)
async def handle_resolve_username(
    ctx: RequestContext, req: fn.ResolveUsername
) -> contact_types.ResolvedPeer:
    """contacts.resolveUsername#725afbbc flags:# username:string referer:flags.0?string =
    contacts.ResolvedPeer;"""
    channel = ctx.services.channels.resolve_username(ctx.me, req.username)
    if channel is not None:
        return channel
    return ctx.services.users.resolve_username(ctx.me, req.username)


@registry.method(fn.ImportContacts)
async def handle_import_contacts(
    ctx: RequestContext, req: fn.ImportContacts
) -> contact_types.ImportedContacts:
    """contacts.importContacts#2c800be5 contacts:Vector<InputContact>
    = contacts.ImportedContacts;"""
    return ctx.services.contacts.import_contacts(ctx.me, req.contacts)


@registry.method(fn.GetContacts)
async def handle_get_contacts(ctx: RequestContext, req: fn.GetContacts) -> contact_types.Contacts:
    """contacts.getContacts#5dd69e12 hash:long = contacts.Contacts;"""
    return ctx.services.contacts.get_contacts(ctx.me)


@registry.method(fn.DeleteContacts)
async def handle_delete_contacts(ctx: RequestContext, req: fn.DeleteContacts) -> types.Updates:
    """contacts.deleteContacts#96a0e00 id:Vector<InputUser> = Updates;"""
    return ctx.services.contacts.delete_contacts(ctx.me, req.id)


@registry.method(fn.ResolvePhone)
async def handle_resolve_phone(
    ctx: RequestContext, req: fn.ResolvePhone
) -> contact_types.ResolvedPeer:
    """contacts.resolvePhone#8af94344 phone:string = contacts.ResolvedPeer;"""
    return ctx.services.contacts.resolve_phone(ctx.me, req.phone)


@registry.method(fn.Search)
async def handle_search(ctx: RequestContext, req: fn.Search) -> contact_types.Found:
    """contacts.search#5f58d0f flags:# broadcasts:flags.0?true bots:flags.1?true q:string
    limit:int = contacts.Found;"""
    return ctx.services.contacts.search(ctx.me, req.q, req.limit)
