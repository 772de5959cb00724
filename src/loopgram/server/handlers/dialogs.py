"""Server layer: handlers of the dialog list and forwarding (``messages`` namespace), kept
apart from the message handlers."""

from __future__ import annotations

import loopgram.tl.functions.messages as fn
from loopgram.server.context import RequestContext
from loopgram.server.handlers.registry import Registry
from loopgram.tl import abcs, types
from loopgram.tl.types import messages as msg_types

registry = Registry()


@registry.method(fn.GetDialogs)
async def handle_get_dialogs(ctx: RequestContext, req: fn.GetDialogs) -> abcs.messages.Dialogs:
    """messages.getDialogs#a0f4cb4f flags:# exclude_pinned:flags.0?true folder_id:flags.1?int
    offset_date:int offset_id:int offset_peer:InputPeer limit:int hash:long
    = messages.Dialogs;"""
    return ctx.services.dialogs.get_dialogs(
        ctx.me,
        offset_date=req.offset_date,
        offset_id=req.offset_id,
        limit=req.limit,
        folder_id=req.folder_id,
    )


@registry.method(fn.GetPeerDialogs)
async def handle_get_peer_dialogs(
    ctx: RequestContext, req: fn.GetPeerDialogs
) -> msg_types.PeerDialogs:
    """messages.getPeerDialogs#e470bcfd peers:Vector<InputDialogPeer> = messages.PeerDialogs;"""
    return ctx.services.dialogs.get_peer_dialogs(ctx.me, req.peers)


@registry.method(fn.ForwardMessages)
async def handle_forward_messages(ctx: RequestContext, req: fn.ForwardMessages) -> types.Updates:
    """messages.forwardMessages#13704a7c flags:# silent:flags.5?true background:flags.6?true
    with_my_score:flags.8?true drop_author:flags.11?true drop_media_captions:flags.12?true
    noforwards:flags.14?true allow_paid_floodskip:flags.19?true from_ephemeral:flags.25?true
    from_peer:InputPeer
    id:Vector<int> random_id:Vector<long> to_peer:InputPeer top_msg_id:flags.9?int
    reply_to:flags.22?InputReplyTo schedule_date:flags.10?int
    schedule_repeat_period:flags.24?int send_as:flags.13?InputPeer
    quick_reply_shortcut:flags.17?InputQuickReplyShortcut effect:flags.18?long
    video_timestamp:flags.20?int allow_paid_stars:flags.21?long
    suggested_post:flags.23?SuggestedPost = Updates;"""
    if isinstance(req.to_peer, types.InputPeerChannel):
        return ctx.services.channels.forward_messages(
            ctx.me,
            req.from_peer,
            req.id,
            req.random_id,
            req.to_peer,
            drop_author=req.drop_author,
            origin=ctx.origin,
        )
    if isinstance(req.to_peer, types.InputPeerChat):
        return ctx.services.chats.forward_messages(
            ctx.me,
            req.from_peer,
            req.id,
            req.random_id,
            req.to_peer.chat_id,
            drop_author=req.drop_author,
            origin=ctx.origin,
        )
    return ctx.services.messages.forward_messages(
        ctx.me,
        req.from_peer,
        req.id,
        req.random_id,
        req.to_peer,
        drop_author=req.drop_author,
        origin=ctx.origin,
    )
