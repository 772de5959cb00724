"""Server layer: replies in supergroups and channels -- ``reply_to`` kept with the one
copy of a channel message (``messageReplyHeader`` for every member, in history and in
differences), ``REPLY_MESSAGE_ID_INVALID`` for a message the channel does not hold, and a
reply to a bot's message reaching that bot in privacy mode, live and on catch-up."""

from __future__ import annotations

import itertools

import loopgram.tl.functions.messages as fmsg
import loopgram.tl.functions.updates as fupd
from loopgram.server import ServerCore
from loopgram.tl import types
from loopgram.tl.types import messages as msg_types
from loopgram.tl.types import updates as upd_types

from .support import Caller, history_request
from .test_channels import channel_texts, create, input_peer, say, seen_by, setup_supergroup

_random_ids = itertools.count(70_000)


async def _reply(sender: Caller, channel: types.Channel, text: str, to: int) -> types.Message:
    result = await sender.call(
        fmsg.SendMessage(
            peer=input_peer(channel),
            message=text,
            random_id=next(_random_ids),
            reply_to=types.InputReplyToMessage(reply_to_msg_id=to),
        )
    )
    assert isinstance(result, types.Updates)
    (new,) = [u for u in result.updates if isinstance(u, types.UpdateNewChannelMessage)]
    assert isinstance(new.message, types.Message)
    return new.message


def _replied_id(message: types.Message) -> int | None:
    header = message.reply_to
    assert header is None or isinstance(header, types.MessageReplyHeader)
    return None if header is None else header.reply_to_msg_id


async def test_a_supergroup_reply_names_the_message_for_every_member_and_in_history(
    core: ServerCore,
) -> None:
    alice, bob, _, channel = await setup_supergroup(core)
    question = await say(alice, channel, "lunch?")
    bobs = await seen_by(bob, channel.id)
    answer = await _reply(bob, bobs, "yes", question.id)
    assert _replied_id(answer) == question.id and answer.out
    (pushed,) = [
        u.message
        for u in alice.updates_of(types.UpdateNewChannelMessage)
        if isinstance(u.message, types.Message) and u.message.id == answer.id
    ]
    assert _replied_id(pushed) == question.id and not pushed.out
    history = await alice.call(history_request(input_peer(channel), limit=1))
    assert isinstance(history, msg_types.ChannelMessages)
    (newest,) = history.messages
    assert isinstance(newest, types.Message) and _replied_id(newest) == question.id


async def test_a_reply_to_a_message_the_channel_does_not_hold_is_reply_message_id_invalid(
    core: ServerCore,
) -> None:
    alice, _, _, channel = await setup_supergroup(core)
    error = await alice.fails(
        fmsg.SendMessage(
            peer=input_peer(channel),
            message="to nothing",
            random_id=next(_random_ids),
            reply_to=types.InputReplyToMessage(reply_to_msg_id=999),
        )
    )
    assert (error.code, error.message) == (400, "REPLY_MESSAGE_ID_INVALID")


async def test_a_broadcast_channel_post_replies_to_an_earlier_post(core: ServerCore) -> None:
    alice, _, _, _ = await setup_supergroup(core)
    news = await create(alice, megagroup=False, title="News")
    first = await say(alice, news, "part one")
    second = await _reply(alice, news, "part two", first.id)
    assert second.post and _replied_id(second) == first.id


async def test_a_reply_to_a_privacy_bots_message_reaches_it_live_and_on_catch_up(
    core: ServerCore,
) -> None:
    alice, bob, bot, channel = await setup_supergroup(core)
    bots = await seen_by(bot, channel.id)
    poll = await say(bot, bots, "Which day?")
    bot.pushed.clear()
    bobs = await seen_by(bob, channel.id)
    await _reply(bob, bobs, "Friday", poll.id)
    await say(alice, channel, "not for the bot")
    other = await say(alice, channel, "me neither")
    await _reply(alice, channel, "a reply, but not to the bot", other.id)
    assert channel_texts(bot) == ["Friday"]

    state = await bot.call(fupd.GetState())
    await _reply(alice, channel, "Saturday", poll.id)
    bot.pushed.clear()
    diff = await bot.call(fupd.GetDifference(pts=state.pts, date=0, qts=0))
    assert isinstance(diff, upd_types.Difference)
    caught = [
        u.message
        for u in diff.other_updates
        if isinstance(u, types.UpdateNewChannelMessage) and isinstance(u.message, types.Message)
    ]
    assert [m.message for m in caught] == ["Friday", "Saturday"]
    assert all(_replied_id(m) == poll.id for m in caught)
