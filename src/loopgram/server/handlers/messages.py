"""Server layer: handlers of the ``messages`` namespace, the callback-query pair and inline
mode included."""

from __future__ import annotations

import loopgram.tl.functions.messages as fn
from loopgram.server.context import RequestContext
from loopgram.server.errors import REPLY_MESSAGE_ID_INVALID
from loopgram.server.handlers.registry import Registry
from loopgram.tl import abcs, types
from loopgram.tl.types import messages as msg_types

registry = Registry()


@registry.method(fn.SendMessage)
async def handle_send_message(ctx: RequestContext, req: fn.SendMessage) -> types.Updates:
    """messages.sendMessage#fef48f62 flags:# no_webpage:flags.1?true silent:flags.5?true
    background:flags.6?true clear_draft:flags.7?true noforwards:flags.14?true
    update_stickersets_order:flags.15?true invert_media:flags.16?true
    allow_paid_floodskip:flags.19?true peer:InputPeer reply_to:flags.0?InputReplyTo
    message:string random_id:long reply_markup:flags.2?ReplyMarkup
    entities:flags.3?Vector<MessageEntity> schedule_date:flags.10?int
    schedule_repeat_period:flags.24?int send_as:flags.13?InputPeer
    quick_reply_shortcut:flags.17?InputQuickReplyShortcut effect:flags.18?long
    allow_paid_stars:flags.21?long suggested_post:flags.22?SuggestedPost
    rich_message:flags.23?InputRichMessage = Updates;"""
    if isinstance(req.peer, types.InputPeerChannel):
        return ctx.services.channels.send_message(
            ctx.me,
            req.peer,
            req.message,
            random_id=req.random_id,
            reply_markup=req.reply_markup,
            entities=req.entities,
            reply_to=_reply_to_msg_id(req.reply_to, req.peer),
            origin=ctx.origin,
        )
    if isinstance(req.peer, types.InputPeerChat):
        return ctx.services.chats.send_message(
            ctx.me,
            req.peer.chat_id,
            req.message,
            random_id=req.random_id,
            reply_markup=req.reply_markup,
            entities=req.entities,
            reply_to=_reply_to_msg_id(req.reply_to, req.peer),
            origin=ctx.origin,
        )
    return ctx.services.messages.send_message(
        ctx.me,
        req.peer,
        req.message,
        random_id=req.random_id,
        reply_markup=req.reply_markup,
        entities=req.entities,
        reply_to=_reply_to_msg_id(req.reply_to, req.peer),
        origin=ctx.origin,
    )


def _reply_to_msg_id(reply_to: abcs.InputReplyTo | None, peer: abcs.InputPeer) -> int | None:
    """The id of the message replied to in ``peer`` (stories, quotes and topics are not
    kept); a reply into another chat names a message this one cannot hold."""
    if not isinstance(reply_to, types.InputReplyToMessage):
        return None
    other = reply_to.reply_to_peer_id
    if other is not None and other != peer:
        raise REPLY_MESSAGE_ID_INVALID()
    return reply_to.reply_to_msg_id


@registry.method(fn.SendMedia)
async def handle_send_media(ctx: RequestContext, req: fn.SendMedia) -> types.Updates:
    """messages.sendMedia#330e77f flags:# silent:flags.5?true background:flags.6?true
    clear_draft:flags.7?true noforwards:flags.14?true update_stickersets_order:flags.15?true
    invert_media:flags.16?true allow_paid_floodskip:flags.19?true peer:InputPeer
    reply_to:flags.0?InputReplyTo media:InputMedia message:string random_id:long
    reply_markup:flags.2?ReplyMarkup entities:flags.3?Vector<MessageEntity>
    schedule_date:flags.10?int schedule_repeat_period:flags.24?int
    send_as:flags.13?InputPeer quick_reply_shortcut:flags.17?InputQuickReplyShortcut
    effect:flags.18?long allow_paid_stars:flags.21?long
    suggested_post:flags.22?SuggestedPost = Updates;"""
    # Only games are supported: the media of the callback-query story.
    if isinstance(req.peer, types.InputPeerChannel):
        return ctx.services.channels.send_game(
            ctx.me,
            req.peer,
            req.media,
            text=req.message,
            random_id=req.random_id,
            reply_markup=req.reply_markup,
            entities=req.entities,
            origin=ctx.origin,
        )
    if isinstance(req.peer, types.InputPeerChat):
        return ctx.services.chats.send_game(
            ctx.me,
            req.peer.chat_id,
            req.media,
            text=req.message,
            random_id=req.random_id,
            reply_markup=req.reply_markup,
            entities=req.entities,
            origin=ctx.origin,
        )
    return ctx.services.messages.send_game(
        ctx.me,
        req.peer,
        req.media,
        text=req.message,
        random_id=req.random_id,
        reply_markup=req.reply_markup,
        entities=req.entities,
        origin=ctx.origin,
    )


@registry.method(fn.EditMessage)
async def handle_edit_message(ctx: RequestContext, req: fn.EditMessage) -> types.Updates:
    """messages.editMessage#b106e66c flags:# no_webpage:flags.1?true invert_media:flags.16?true
    peer:InputPeer id:int message:flags.11?string media:flags.14?InputMedia
    reply_markup:flags.2?ReplyMarkup entities:flags.3?Vector<MessageEntity>
    schedule_date:flags.15?int schedule_repeat_period:flags.18?int
    quick_reply_shortcut_id:flags.17?int rich_message:flags.23?InputRichMessage = Updates;"""
    if isinstance(req.peer, types.InputPeerChannel):
        return ctx.services.channels.edit_message(
            ctx.me,
            req.peer,
            req.id,
            text=req.message,
            reply_markup=req.reply_markup,
            origin=ctx.origin,
        )
    if isinstance(req.peer, types.InputPeerChat):
        return ctx.services.chats.edit_message(
            ctx.me,
            req.peer.chat_id,
            req.id,
            text=req.message,
            reply_markup=req.reply_markup,
            origin=ctx.origin,
        )
    return ctx.services.messages.edit_message(
        ctx.me,
        req.peer,
        req.id,
        text=req.message,
        reply_markup=req.reply_markup,
        entities=req.entities,
        media=req.media,
        origin=ctx.origin,
    )


@registry.method(fn.EditInlineBotMessage)
async def handle_edit_inline_bot_message(ctx: RequestContext, req: fn.EditInlineBotMessage) -> bool:
    """messages.editInlineBotMessage#a423bb51 flags:# no_webpage:flags.1?true
    invert_media:flags.16?true id:InputBotInlineMessageID message:flags.11?string
    media:flags.14?InputMedia reply_markup:flags.2?ReplyMarkup
    entities:flags.3?Vector<MessageEntity> rich_message:flags.23?InputRichMessage = Bool;"""
    ctx.services.messages.edit_inline(
        ctx.me,
        req.id,
        text=req.message,
        reply_markup=req.reply_markup,
        entities=req.entities,
        media=req.media,
    )
    return True


@registry.method(fn.GetHistory)
async def handle_get_history(ctx: RequestContext, req: fn.GetHistory) -> abcs.messages.Messages:
    """messages.getHistory#4423e6c5 peer:InputPeer offset_id:int offset_date:int add_offset:int
    limit:int max_id:int min_id:int hash:long = messages.Messages;"""
    if isinstance(req.peer, types.InputPeerChannel):
        return ctx.services.channels.history(
            ctx.me,
            req.peer,
            offset_id=req.offset_id,
            add_offset=req.add_offset,
            limit=req.limit,
            max_id=req.max_id,
            min_id=req.min_id,
        )
    if isinstance(req.peer, types.InputPeerChat):
        return ctx.services.chats.history(
            ctx.me,
            req.peer.chat_id,
            offset_id=req.offset_id,
            add_offset=req.add_offset,
            limit=req.limit,
            max_id=req.max_id,
            min_id=req.min_id,
        )
    return ctx.services.messages.history(
        ctx.me,
        req.peer,
        offset_id=req.offset_id,
        add_offset=req.add_offset,
        limit=req.limit,
        max_id=req.max_id,
        min_id=req.min_id,
    )


@registry.method(fn.GetMessages)
async def handle_get_messages(ctx: RequestContext, req: fn.GetMessages) -> msg_types.Messages:
    """messages.getMessages#63c66506 id:Vector<InputMessage> = messages.Messages;"""
    return ctx.services.messages.get_messages(ctx.me, req.id)


@registry.method(fn.ReadHistory)
async def handle_read_history(
    ctx: RequestContext, req: fn.ReadHistory
) -> msg_types.AffectedMessages:
    """messages.readHistory#e306d3a peer:InputPeer max_id:int = messages.AffectedMessages;"""
    if isinstance(req.peer, types.InputPeerChannel):
        # Clients call channels.readHistory; this answers the messages form the same way.
        ctx.services.channels.read_history(ctx.me, req.peer, req.max_id)
        return msg_types.AffectedMessages(pts=ctx.services.updates.state(ctx.me).pts, pts_count=0)
    if isinstance(req.peer, types.InputPeerChat):
        return ctx.services.chats.read_history(
            ctx.me, req.peer.chat_id, req.max_id, origin=ctx.origin
        )
    return ctx.services.dialogs.read_history(ctx.me, req.peer, req.max_id, origin=ctx.origin)


@registry.method(fn.DeleteMessages)
async def handle_delete_messages(
    ctx: RequestContext, req: fn.DeleteMessages
) -> msg_types.AffectedMessages:
    """messages.deleteMessages#e58e95d2 flags:# revoke:flags.0?true id:Vector<int>
    = messages.AffectedMessages;"""
    return ctx.services.messages.delete_messages(
        ctx.me, req.id, revoke=req.revoke, origin=ctx.origin
    )


@registry.method(fn.SetTyping)
async def handle_set_typing(ctx: RequestContext, req: fn.SetTyping) -> bool:
    """messages.setTyping#58943ee2 flags:# peer:InputPeer top_msg_id:flags.0?int
    action:SendMessageAction = Bool;"""
    if isinstance(req.peer, types.InputPeerChannel):
        ctx.services.channels.set_typing(ctx.me, req.peer, req.action)
        return True
    if isinstance(req.peer, types.InputPeerChat):
        ctx.services.chats.set_typing(ctx.me, req.peer.chat_id, req.action)
        return True
    ctx.services.dialogs.set_typing(ctx.me, req.peer, req.action)
    return True


@registry.method(fn.GetBotCallbackAnswer)
async def handle_get_bot_callback_answer(
    ctx: RequestContext, req: fn.GetBotCallbackAnswer
) -> msg_types.BotCallbackAnswer:
    """messages.getBotCallbackAnswer#9342ca07 flags:# game:flags.1?true peer:InputPeer msg_id:int
    data:flags.0?bytes password:flags.2?InputCheckPasswordSRP = messages.BotCallbackAnswer;"""
    # Stays pending until the bot answers or the window closes (BOT_RESPONSE_TIMEOUT).
    return await ctx.presses.press(
        ctx.me, req.peer, req.msg_id, data=req.data, game=req.game, password=req.password
    )


@registry.method(fn.SetBotCallbackAnswer)
async def handle_set_bot_callback_answer(ctx: RequestContext, req: fn.SetBotCallbackAnswer) -> bool:
    """messages.setBotCallbackAnswer#d58f130a flags:# alert:flags.1?true query_id:long
    message:flags.0?string url:flags.2?string cache_time:int = Bool;"""
    return await ctx.presses.answer(
        ctx.me,
        req.query_id,
        alert=req.alert,
        message=req.message,
        url=req.url,
        cache_time=req.cache_time,
    )


@registry.method(fn.GetInlineBotResults)
async def handle_get_inline_bot_results(
    ctx: RequestContext, req: fn.GetInlineBotResults
) -> msg_types.BotResults:
    """messages.getInlineBotResults#514e999d flags:# bot:InputUser peer:InputPeer
    geo_point:flags.0?InputGeoPoint query:string offset:string = messages.BotResults;"""
    # Stays pending until the bot answers or the window closes (BOT_RESPONSE_TIMEOUT).
    return await ctx.presses.inline_query(ctx.me, req.bot, req.peer, req.query, req.offset)


@registry.method(fn.SetInlineBotResults)
async def handle_set_inline_bot_results(ctx: RequestContext, req: fn.SetInlineBotResults) -> bool:
    """messages.setInlineBotResults#bb12a419 flags:# gallery:flags.0?true private:flags.1?true
    query_id:long results:Vector<InputBotInlineResult> cache_time:int
    next_offset:flags.2?string switch_pm:flags.3?InlineBotSwitchPM
    switch_webview:flags.4?InlineBotWebView = Bool;"""
    return await ctx.presses.answer_inline(
        ctx.me,
        req.query_id,
        req.results,
        cache_time=req.cache_time,
        gallery=req.gallery,
        next_offset=req.next_offset,
        switch_pm=req.switch_pm,
        switch_webview=req.switch_webview,
    )


@registry.method(fn.SendInlineBotResult)
async def handle_send_inline_bot_result(
    ctx: RequestContext, req: fn.SendInlineBotResult
) -> types.Updates:
    """messages.sendInlineBotResult#c0cf7646 flags:# silent:flags.5?true background:flags.6?true
    clear_draft:flags.7?true hide_via:flags.11?true peer:InputPeer reply_to:flags.0?InputReplyTo
    random_id:long query_id:long id:string schedule_date:flags.10?int send_as:flags.13?InputPeer
    quick_reply_shortcut:flags.17?InputQuickReplyShortcut allow_paid_stars:flags.21?long
    = Updates;"""
    # The bot always gets updateBotInlineSend, with the inline message id when the message
    # has buttons (see InlineService.send). hide_via is ignored, as Telegram does for most bots.
    return ctx.services.inline.send(
        ctx.me,
        req.peer,
        random_id=req.random_id,
        query_id=req.query_id,
        result_id=req.id,
        origin=ctx.origin,
    )
