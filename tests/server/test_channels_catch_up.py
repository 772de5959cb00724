"""Server layer: catching up on channels with ``updates.getDifference`` -- a user is told
which channels moved (``updateChannelTooLong``) and fetches them with
``getChannelDifference``; a bot gets the channel updates themselves, as privacy mode lets
it see them, or ``updateChannelTooLong`` when more piled up than the difference limit."""

from __future__ import annotations

from typing import Any

import pytest

import loopgram.tl.functions.channels as fch
import loopgram.tl.functions.messages as fmsg
import loopgram.tl.functions.updates as fupd
from loopgram.server import ServerConfig, ServerCore
from loopgram.tl import abcs, types
from loopgram.tl.types import updates as upd_types

from .support import Caller, login_bot, login_user
from .test_basic_groups_layers import layer_session
from .test_channels import (
    create,
    input_channel,
    input_peer,
    invite,
    say,
    seen_by,
    setup_supergroup,
)


async def _difference(caller: Caller, pts: int) -> abcs.updates.Difference:
    return await caller.call(fupd.GetDifference(pts=pts, date=0, qts=0))


async def _fetch(
    caller: Caller, channel_id: int, pts: int, limit: int = 100
) -> upd_types.ChannelDifference:
    """``getChannelDifference`` from ``pts`` with the caller's own access hash; the
    difference itself is expected."""
    seen = await seen_by(caller, channel_id)
    fetched = await caller.call(
        fupd.GetChannelDifference(
            channel=input_channel(seen),
            filter=types.ChannelMessagesFilterEmpty(),
            pts=pts,
            limit=limit,
        )
    )
    assert isinstance(fetched, upd_types.ChannelDifference)
    return fetched


def _texts(fetched: upd_types.ChannelDifference) -> list[str]:
    return [m.message for m in fetched.new_messages if isinstance(m, types.Message)]


def _channel_texts(diff: abcs.updates.Difference) -> list[str]:
    assert isinstance(diff, upd_types.Difference)
    return [
        u.message.message
        for u in diff.other_updates
        if isinstance(u, types.UpdateNewChannelMessage) and isinstance(u.message, types.Message)
    ]


async def test_a_bot_catches_up_on_a_supergroup_through_get_difference_as_privacy_lets_it(
    core: ServerCore,
) -> None:
    alice, bob, bot, channel = await setup_supergroup(core)
    state = await bot.call(fupd.GetState())
    await say(alice, channel, "/start")
    await say(alice, channel, "just chatting")
    bobs = await seen_by(bob, channel.id)
    await say(bob, bobs, "hello @vote_bot")

    diff = await _difference(bot, state.pts)
    assert isinstance(diff, upd_types.Difference)
    assert _channel_texts(diff) == ["/start", "hello @vote_bot"]
    assert not diff.new_messages  # channel messages never travel there
    (shown,) = [c for c in diff.chats if isinstance(c, types.Channel)]
    assert shown.id == channel.id
    assert {alice.me.id, bob.me.id} <= {u.id for u in diff.users}
    # What was handed over is not handed over again.
    assert isinstance(await _difference(bot, state.pts), upd_types.DifferenceEmpty)


async def test_a_bot_without_privacy_catches_up_on_every_message_in_pts_order(
    core: ServerCore,
) -> None:
    alice, _, bot, channel = await setup_supergroup(core)
    core.storage.chats.set_bot_privacy(bot.me.id, False)
    state = await bot.call(fupd.GetState())
    await say(alice, channel, "one")
    await say(alice, channel, "two")
    diff = await _difference(bot, state.pts)
    assert _channel_texts(diff) == ["one", "two"]
    assert isinstance(diff, upd_types.Difference)
    # Its own joining (the service message of the invitation) comes first, in pts order.
    (joined, *_) = diff.other_updates
    assert isinstance(joined, types.UpdateNewChannelMessage)
    assert isinstance(joined.message, types.MessageService)
    assert isinstance(joined.message.action, types.MessageActionChatAddUser)
    pts = [u.pts for u in diff.other_updates if isinstance(u, types.UpdateNewChannelMessage)]
    assert pts == sorted(set(pts))


async def test_a_user_is_told_which_channels_moved_and_fetches_them_itself(
    core: ServerCore,
) -> None:
    alice, bob, _, channel = await setup_supergroup(core)
    state = await bob.call(fupd.GetState())
    sent = await say(alice, channel, "while you were away")
    diff = await _difference(bob, state.pts)
    assert isinstance(diff, upd_types.Difference)
    (too_long,) = diff.other_updates
    record = core.storage.channels.get(channel.id)
    assert record is not None and record.last_message_id == sent.id
    assert too_long == types.UpdateChannelTooLong(channel_id=channel.id, pts=record.pts)
    fetched = await _fetch(bob, channel.id, record.pts - 1)
    assert _texts(fetched) == ["while you were away"]
    assert isinstance(await _difference(bob, state.pts), upd_types.DifferenceEmpty)


async def test_a_user_who_fetched_the_channel_itself_is_not_told_again(core: ServerCore) -> None:
    alice, bob, _, channel = await setup_supergroup(core)
    state = await bob.call(fupd.GetState())
    await say(alice, channel, "seen live")
    record = core.storage.channels.get(channel.id)
    assert record is not None
    assert _texts(await _fetch(bob, channel.id, record.pts - 1)) == ["seen live"]
    assert isinstance(await _difference(bob, state.pts), upd_types.DifferenceEmpty)


async def test_a_broadcast_channel_reaches_only_an_admin_bot_on_catch_up(core: ServerCore) -> None:
    owner = await login_user(core, "+1 555 0101")
    bot = await login_bot(core, "news_bot")
    channel = await create(owner, megagroup=False)
    await invite(owner, channel, bot)
    state = await bot.call(fupd.GetState())
    await say(owner, channel, "a post for subscribers")
    # A subscriber bot is shown no posts: nothing to catch up on, though the channel moved.
    assert isinstance(await _difference(bot, state.pts), upd_types.DifferenceEmpty)


@pytest.mark.parametrize("config", [ServerConfig(difference_limit=2)])
async def test_a_bot_far_behind_gets_update_channel_too_long_and_fetches_the_rest(
    core: ServerCore,
) -> None:
    alice, _, bot, channel = await setup_supergroup(core)
    core.storage.chats.set_bot_privacy(bot.me.id, False)
    state = await bot.call(fupd.GetState())
    for text in ("a", "b", "c"):
        await say(alice, channel, text)
    diff = await _difference(bot, state.pts)
    assert isinstance(diff, upd_types.Difference)
    (too_long,) = diff.other_updates
    assert isinstance(too_long, types.UpdateChannelTooLong)
    record = core.storage.channels.get(channel.id)
    assert record is not None
    assert (too_long.channel_id, too_long.pts) == (channel.id, record.pts)
    # A bot asks for more than a user may (Telethon passes 100000): here the limit.
    assert _texts(await _fetch(bot, channel.id, record.pts - 2, 100_000)) == ["b", "c"]


async def test_get_channel_difference_hides_from_a_privacy_bot_what_pushes_hide(
    core: ServerCore,
) -> None:
    alice, _, bot, channel = await setup_supergroup(core)
    start = core.storage.channels.get(channel.id)
    assert start is not None
    await say(alice, channel, "/help")
    await say(alice, channel, "not for bots")
    fetched = await _fetch(bot, channel.id, start.pts)
    assert _texts(fetched) == ["/help"]
    assert fetched.pts == start.pts + 2  # past the hidden message too


@pytest.mark.parametrize("layer", [158, 198, 227, 229])
async def test_catch_up_and_channel_replies_are_served_in_every_layer(
    core: ServerCore, layer: int
) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await layer_session(core, "+1 555 0102", layer)
    channel = await create(alice)
    invite = types.InputUser(user_id=bob.me.id, access_hash=bob.me.access_hash)
    await alice.call(fch.InviteToChannel(channel=input_channel(channel), users=[invite]))
    state: Any = await bob.call(fupd.GetState())
    question = await say(alice, channel, "question")
    await alice.call(
        fmsg.SendMessage(
            peer=input_peer(channel),
            message="answer",
            random_id=77,
            reply_to=types.InputReplyToMessage(reply_to_msg_id=question.id),
        )
    )
    diff: Any = await bob.call(fupd.GetDifference(pts=state.pts, date=0, qts=0))
    (too_long,) = diff.other_updates
    assert isinstance(too_long, types.UpdateChannelTooLong) and too_long.channel_id == channel.id
    (seen,) = diff.chats
    theirs = types.InputChannel(channel_id=seen.id, access_hash=seen.access_hash)
    fetched: Any = await bob.call(
        fupd.GetChannelDifference(
            channel=theirs, filter=types.ChannelMessagesFilterEmpty(), pts=2, limit=10
        )
    )
    asked, answered = fetched.new_messages
    assert asked.reply_to is None
    assert isinstance(answered.reply_to, types.MessageReplyHeader)
    assert answered.reply_to.reply_to_msg_id == question.id
