"""Server layer: supergroups and broadcast channels -- creating and joining them, per-viewer
access hashes, per-channel message ids and pts, channel updates, getChannelDifference,
participants and admins, usernames, dialogs with unread counts, privacy mode, and callback
buttons pressed in supergroups and by a channel's subscribers."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

import loopgram.tl.functions.channels as fch
import loopgram.tl.functions.contacts as fcontacts
import loopgram.tl.functions.messages as fmsg
import loopgram.tl.functions.updates as fupd
from loopgram.server import RpcError, ServerCore
from loopgram.tl import abcs, types
from loopgram.tl.types import channels as ch_types
from loopgram.tl.types import messages as msg_types
from loopgram.tl.types import updates as upd_types

from .support import Caller, answer, callback, keyboard, login_bot, login_user, settle

_random_ids = itertools.count(50_000)


def input_user(caller: Caller) -> types.InputUser:
    return types.InputUser(user_id=caller.me.id, access_hash=caller.me.access_hash)


def channel_of(result: abcs.Updates) -> types.Channel:
    assert isinstance(result, types.Updates)
    (channel,) = [c for c in result.chats if isinstance(c, types.Channel)]
    return channel


def input_channel(channel: types.Channel) -> types.InputChannel:
    assert channel.access_hash is not None
    return types.InputChannel(channel_id=channel.id, access_hash=channel.access_hash)


def input_peer(channel: types.Channel) -> types.InputPeerChannel:
    assert channel.access_hash is not None
    return types.InputPeerChannel(channel_id=channel.id, access_hash=channel.access_hash)


async def create(creator: Caller, *, megagroup: bool = True, title: str = "Club") -> types.Channel:
    result = await creator.call(
        fch.CreateChannel(
            title=title, about="about it", megagroup=megagroup, broadcast=not megagroup
        )
    )
    return channel_of(result)


async def seen_by(caller: Caller, channel_id: int) -> types.Channel:
    """The channel as ``caller`` sees it (its own access hash), from its pushed updates."""
    for batch in reversed(caller.pushed):
        if isinstance(batch, types.Updates):
            for chat in batch.chats:
                if isinstance(chat, types.Channel) and chat.id == channel_id:
                    return chat
    # As a client with an empty cache would: the dialog list shows every channel one is in.
    dialogs = await caller.call(
        fmsg.GetDialogs(
            offset_date=0, offset_id=0, offset_peer=types.InputPeerEmpty(), limit=100, hash=0
        )
    )
    for chat in dialogs.chats:
        if isinstance(chat, types.Channel) and chat.id == channel_id:
            return chat
    raise AssertionError("the channel was never shown to this caller")


async def invite(actor: Caller, channel: types.Channel, *members: Caller) -> None:
    result = await actor.call(
        fch.InviteToChannel(channel=input_channel(channel), users=[input_user(m) for m in members])
    )
    assert isinstance(result, msg_types.InvitedUsers)


async def say(
    sender: Caller, channel: types.Channel, text: str, markup: abcs.ReplyMarkup | None = None
) -> types.Message:
    result = await sender.call(
        fmsg.SendMessage(
            peer=input_peer(channel), message=text, random_id=next(_random_ids), reply_markup=markup
        )
    )
    assert isinstance(result, types.Updates)
    (new,) = [u for u in result.updates if isinstance(u, types.UpdateNewChannelMessage)]
    assert isinstance(new.message, types.Message)
    return new.message


def channel_texts(caller: Caller) -> list[str]:
    return [
        u.message.message
        for u in caller.updates_of(types.UpdateNewChannelMessage)
        if isinstance(u.message, types.Message)
    ]


async def start_press(user: Caller, channel: types.Channel, msg_id: int, data: bytes) -> Any:
    task = asyncio.ensure_future(
        user.call(fmsg.GetBotCallbackAnswer(peer=input_peer(channel), msg_id=msg_id, data=data))
    )
    await settle()
    return task


async def setup_supergroup(core: ServerCore) -> tuple[Caller, Caller, Caller, types.Channel]:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    bot = await login_bot(core, "vote_bot")
    channel = await create(alice)
    await invite(alice, channel, bob, bot)
    return alice, bob, bot, channel


# -- creating, joining, access hashes ---------------------------------------------------------


async def test_create_megagroup_answers_update_channel_and_the_create_service_message(
    core: ServerCore,
) -> None:
    alice = await login_user(core, "+1 555 0101")
    result = await alice.call(fch.CreateChannel(title="Club", about="x", megagroup=True))
    assert isinstance(result, types.Updates)
    assert isinstance(result.updates[0], types.UpdateChannel)
    (new,) = [u for u in result.updates if isinstance(u, types.UpdateNewChannelMessage)]
    assert (new.pts, new.pts_count) == (1, 1)
    assert isinstance(new.message, types.MessageService)
    assert new.message.action == types.MessageActionChannelCreate(title="Club")
    assert new.message.out and new.message.id == 1
    channel = channel_of(result)
    assert channel.megagroup and not channel.broadcast and channel.creator and not channel.left
    assert channel.participants_count == 1 and channel.access_hash is not None


async def test_broadcast_channel_posts_carry_post_and_no_author(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    channel = await create(alice, megagroup=False)
    assert channel.broadcast and not channel.megagroup
    post = await say(alice, channel, "first post")
    assert post.post and post.from_id is None and post.out
    assert post.peer_id == types.PeerChannel(channel_id=channel.id)


async def test_access_hash_is_per_viewer(core: ServerCore) -> None:
    _, bob, _, channel = await setup_supergroup(core)
    bobs = await seen_by(bob, channel.id)
    assert bobs.access_hash != channel.access_hash
    error = await bob.fails(fch.GetFullChannel(channel=input_channel(channel)))
    assert (error.code, error.message) == (400, "CHANNEL_INVALID")
    full = await bob.call(fch.GetFullChannel(channel=input_channel(bobs)))
    assert isinstance(full.full_chat, types.ChannelFull)
    assert full.full_chat.participants_count == 3


async def test_invited_members_get_the_add_user_message_with_one_id_for_all(
    core: ServerCore,
) -> None:
    alice, bob, _, channel = await setup_supergroup(core)
    (pushed,) = bob.updates_of(types.UpdateNewChannelMessage)
    assert isinstance(pushed.message, types.MessageService)
    assert isinstance(pushed.message.action, types.MessageActionChatAddUser)
    assert pushed.message.id == 2 and pushed.pts == 2 and not pushed.message.out
    bob.pushed.clear()
    sent = await say(alice, channel, "hello all")
    (got,) = bob.updates_of(types.UpdateNewChannelMessage)
    assert isinstance(got.message, types.Message)
    assert got.message.id == sent.id == 3 and got.pts == 3
    assert got.message.from_id == types.PeerUser(user_id=alice.me.id) and not got.message.out


async def test_broadcast_subscriber_cannot_post(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    channel = await create(alice, megagroup=False)
    await invite(alice, channel, bob)
    bobs = await seen_by(bob, channel.id)
    error = await bob.fails(fmsg.SendMessage(peer=input_peer(bobs), message="hi", random_id=1))
    assert error.message == "CHAT_ADMIN_REQUIRED"


async def test_join_public_channel_and_leave(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    channel = await create(alice, megagroup=True)
    assert await alice.call(fch.UpdateUsername(channel=input_channel(channel), username="clubchat"))
    resolved = await bob.call(fcontacts.ResolveUsername(username="ClubChat"))
    assert resolved.peer == types.PeerChannel(channel_id=channel.id)
    (bobs,) = resolved.chats
    assert isinstance(bobs, types.Channel) and bobs.left and bobs.username == "clubchat"
    joined = await bob.call(fch.JoinChannel(channel=input_channel(bobs)))
    assert isinstance(joined, msg_types.ChatInviteJoinResultOk)
    (new,) = [u for u in joined.updates.updates if isinstance(u, types.UpdateNewChannelMessage)]
    assert isinstance(new.message, types.MessageService)
    assert new.message.action == types.MessageActionChatAddUser(users=[bob.me.id])
    again = await bob.fails(fch.JoinChannel(channel=input_channel(bobs)))
    assert again.message == "USER_ALREADY_PARTICIPANT"
    left = await bob.call(fch.LeaveChannel(channel=input_channel(bobs)))
    assert isinstance(left, types.Updates)
    creator = await alice.fails(fch.LeaveChannel(channel=input_channel(channel)))
    assert creator.message == "USER_CREATOR"
    gone = await bob.fails(fmsg.SendMessage(peer=input_peer(bobs), message="x", random_id=3))
    assert gone.message == "CHAT_WRITE_FORBIDDEN"


async def test_private_channel_is_not_readable_by_a_stranger(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    channel = await create(alice)
    await invite(alice, channel, bob)
    bobs = await seen_by(bob, channel.id)
    await bob.call(fch.LeaveChannel(channel=input_channel(bobs)))
    error = await bob.fails(fch.GetFullChannel(channel=input_channel(bobs)))
    assert error.message == "CHANNEL_PRIVATE"


async def test_usernames_are_checked_and_unique(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    await login_bot(core, "taken_bot")
    one = await create(alice)
    two = await create(alice, title="Two")
    assert await alice.call(fch.UpdateUsername(channel=input_channel(one), username="first_one"))
    for name, error in (
        ("first_one", "USERNAME_OCCUPIED"),
        ("taken_bot", "USERNAME_OCCUPIED"),
        ("x!", "USERNAME_INVALID"),
    ):
        failed = await alice.fails(fch.UpdateUsername(channel=input_channel(two), username=name))
        assert failed.message == error
    same = await alice.fails(fch.UpdateUsername(channel=input_channel(one), username="First_One"))
    assert same.message == "USERNAME_NOT_MODIFIED"
    assert await alice.call(fch.CheckUsername(channel=input_channel(two), username="free_name"))
    assert not await alice.call(fch.CheckUsername(channel=input_channel(two), username="first_one"))


# -- messages, edits, deletions, history ------------------------------------------------------


async def test_edit_and_delete_reach_every_member_with_the_channel_pts(core: ServerCore) -> None:
    alice, bob, _, channel = await setup_supergroup(core)
    sent = await say(alice, channel, "typo")
    bob.pushed.clear()
    edited = await alice.call(
        fmsg.EditMessage(peer=input_peer(channel), id=sent.id, message="fixed")
    )
    assert isinstance(edited, types.Updates)
    (own,) = edited.updates
    assert isinstance(own, types.UpdateEditChannelMessage) and own.pts == 4
    (seen,) = bob.take(types.UpdateEditChannelMessage)
    assert isinstance(seen.message, types.Message) and seen.message.message == "fixed"
    bobs = await seen_by(bob, channel.id)
    other = await bob.fails(fmsg.EditMessage(peer=input_peer(bobs), id=sent.id, message="no"))
    assert other.message == "MESSAGE_AUTHOR_REQUIRED"
    forbidden = await bob.fails(fch.DeleteMessages(channel=input_channel(bobs), id=[sent.id]))
    assert forbidden.message == "CHAT_ADMIN_REQUIRED"
    affected = await alice.call(
        fch.DeleteMessages(channel=input_channel(channel), id=[sent.id, 99])
    )
    assert (affected.pts, affected.pts_count) == (5, 1)
    (deleted,) = bob.take(types.UpdateDeleteChannelMessages)
    assert (deleted.channel_id, deleted.messages, deleted.pts) == (channel.id, [sent.id], 5)


async def test_history_and_get_messages(core: ServerCore) -> None:
    alice, bob, _, channel = await setup_supergroup(core)
    for text in ("one", "two", "three"):
        await say(alice, channel, text)
    bobs = await seen_by(bob, channel.id)
    page = await bob.call(
        fmsg.GetHistory(
            peer=input_peer(bobs),
            offset_id=0,
            offset_date=0,
            add_offset=0,
            limit=2,
            max_id=0,
            min_id=0,
            hash=0,
        )
    )
    assert isinstance(page, msg_types.ChannelMessages)
    assert [m.message for m in page.messages if isinstance(m, types.Message)] == ["three", "two"]
    assert page.pts == 5
    got = await bob.call(
        fch.GetMessages(
            channel=input_channel(bobs),
            id=[
                types.InputMessageID(id=3),
                types.InputMessageID(id=42),
                types.InputMessageCallbackQuery(id=4, query_id=1),
            ],
        )
    )
    assert isinstance(got, msg_types.ChannelMessages)
    first, missing, pressed = got.messages
    assert isinstance(first, types.Message) and first.message == "one"
    assert isinstance(pressed, types.Message) and pressed.message == "two"
    assert missing == types.MessageEmpty(id=42)


async def test_a_repeated_random_id_answers_with_the_first_message(core: ServerCore) -> None:
    alice, bob, _, channel = await setup_supergroup(core)
    request = fmsg.SendMessage(peer=input_peer(channel), message="once", random_id=777)
    first = await alice.call(request)
    bob.pushed.clear()
    second = await alice.call(request)
    assert isinstance(first, types.Updates) and isinstance(second, types.Updates)
    assert first.updates[0] == second.updates[0] == types.UpdateMessageID(id=3, random_id=777)
    assert bob.pushed == []


async def test_forward_into_a_channel_keeps_the_author(core: ServerCore) -> None:
    alice, bob, _, channel = await setup_supergroup(core)
    await say(bob, await seen_by(bob, channel.id), "worth sharing")
    result = await alice.call(
        fmsg.ForwardMessages(
            from_peer=input_peer(channel), id=[3], random_id=[5], to_peer=input_peer(channel)
        )
    )
    assert isinstance(result, types.Updates)
    (new,) = [u for u in result.updates if isinstance(u, types.UpdateNewChannelMessage)]
    assert isinstance(new.message, types.Message) and new.message.fwd_from is not None
    assert new.message.fwd_from.from_id == types.PeerUser(user_id=bob.me.id)


async def test_dialogs_list_channels_with_unread_counts(core: ServerCore) -> None:
    alice, bob, _, channel = await setup_supergroup(core)
    for text in ("one", "two"):
        await say(alice, channel, text)
    dialogs = await bob.call(
        fmsg.GetDialogs(
            offset_date=0, offset_id=0, offset_peer=types.InputPeerEmpty(), limit=20, hash=0
        )
    )
    (dialog,) = [d for d in dialogs.dialogs if isinstance(d, types.Dialog)]
    assert dialog.peer == types.PeerChannel(channel_id=channel.id)
    # Everything above the read mark that others sent: the two service messages and two texts.
    assert (dialog.top_message, dialog.unread_count, dialog.pts) == (4, 4, 4)
    assert [c.id for c in dialogs.chats] == [channel.id]
    bobs = await seen_by(bob, channel.id)
    assert await bob.call(fch.ReadHistory(channel=input_channel(bobs), max_id=3))
    peer_dialogs = await bob.call(
        fmsg.GetPeerDialogs(peers=[types.InputDialogPeer(peer=input_peer(bobs))])
    )
    (after,) = peer_dialogs.dialogs
    assert isinstance(after, types.Dialog)
    assert (after.read_inbox_max_id, after.unread_count) == (3, 1)
    assert alice.updates_of(types.UpdateReadChannelOutbox)[-1].max_id == 3


# -- participants, admins, bans -----------------------------------------------------------------


async def test_participants_filters(core: ServerCore) -> None:
    alice, bob, bot, channel = await setup_supergroup(core)

    async def ids(query: abcs.ChannelParticipantsFilter) -> list[int]:
        found = await alice.call(
            fch.GetParticipants(
                channel=input_channel(channel), filter=query, offset=0, limit=10, hash=0
            )
        )
        assert isinstance(found, ch_types.ChannelParticipants)
        return [getattr(p, "user_id", 0) for p in found.participants]

    assert await ids(types.ChannelParticipantsRecent()) == [alice.me.id, bob.me.id, bot.me.id]
    assert await ids(types.ChannelParticipantsAdmins()) == [alice.me.id]
    assert await ids(types.ChannelParticipantsBots()) == [bot.me.id]
    assert await ids(types.ChannelParticipantsSearch(q=bob.me.first_name)) == [bob.me.id]
    rights = types.ChatAdminRights(post_messages=True, delete_messages=True)
    await alice.call(
        fch.EditAdmin(
            channel=input_channel(channel), user_id=input_user(bot), admin_rights=rights, rank=""
        )
    )
    assert await ids(types.ChannelParticipantsAdmins()) == [alice.me.id, bot.me.id]
    one = await alice.call(
        fch.GetParticipant(
            channel=input_channel(channel),
            participant=types.InputPeerUser(user_id=bot.me.id, access_hash=bot.me.access_hash),
        )
    )
    assert isinstance(one.participant, types.ChannelParticipantAdmin)
    assert one.participant.admin_rights == rights


async def test_banned_user_is_removed_kept_out_and_cannot_press(core: ServerCore) -> None:
    alice, bob, bot, channel = await setup_supergroup(core)
    botc = await seen_by(bot, channel.id)
    msg = await say(bot, botc, "vote", keyboard([callback("Yes", b"y")]))
    bobs = await seen_by(bob, channel.id)
    banned = await alice.call(
        fch.EditBanned(
            channel=input_channel(channel),
            participant=types.InputPeerUser(user_id=bob.me.id, access_hash=bob.me.access_hash),
            banned_rights=types.ChatBannedRights(view_messages=True, until_date=0),
        )
    )
    assert isinstance(banned, types.Updates)
    (removed,) = [u for u in banned.updates if isinstance(u, types.UpdateNewChannelMessage)]
    assert isinstance(removed.message, types.MessageService)
    assert removed.message.action == types.MessageActionChatDeleteUser(user_id=bob.me.id)
    assert bob.updates_of(types.UpdateNewChannelMessage)[-1].message.id == removed.message.id
    pressed = await bob.fails(
        fmsg.GetBotCallbackAnswer(peer=input_peer(bobs), msg_id=msg.id, data=b"y")
    )
    assert pressed.message == "CHANNEL_PRIVATE"
    rejoin = await bob.fails(fch.JoinChannel(channel=input_channel(bobs)))
    assert rejoin.message == "CHANNEL_PRIVATE"
    shown = await bob.call(fch.GetChannels(id=[input_channel(bobs)]))
    assert isinstance(shown.chats[0], types.ChannelForbidden)


# -- bots: privacy mode and buttons --------------------------------------------------------------


async def test_bot_with_privacy_sees_commands_and_mentions_only(core: ServerCore) -> None:
    alice, _, bot, channel = await setup_supergroup(core)
    bot.pushed.clear()
    await say(alice, channel, "just chatting")
    await say(alice, channel, "/start@vote_bot")
    await say(alice, channel, "hey @vote_bot")
    assert channel_texts(bot) == ["/start@vote_bot", "hey @vote_bot"]
    core.storage.chats.set_bot_privacy(bot.me.id, False)
    bot.pushed.clear()
    await say(alice, channel, "now all")
    assert channel_texts(bot) == ["now all"]


async def test_two_users_press_one_button_in_a_supergroup(core: ServerCore) -> None:
    alice, bob, bot, channel = await setup_supergroup(core)
    botc = await seen_by(bot, channel.id)
    msg = await say(bot, botc, "vote", keyboard([callback("Yes", b"y")]))
    bot.pushed.clear()
    tasks = [
        await start_press(alice, channel, msg.id, b"y"),
        await start_press(bob, await seen_by(bob, channel.id), msg.id, b"y"),
    ]
    queries = bot.updates_of(types.UpdateBotCallbackQuery)
    assert [q.user_id for q in queries] == [alice.me.id, bob.me.id]
    assert {q.chat_instance for q in queries} == {queries[0].chat_instance}
    assert all(q.peer == types.PeerChannel(channel_id=channel.id) for q in queries)
    assert all(q.msg_id == msg.id for q in queries)
    batch = bot.pushed[0]
    assert isinstance(batch, types.Updates)
    assert [c.access_hash for c in batch.chats if isinstance(c, types.Channel)] == [
        botc.access_hash
    ]
    for query in queries:
        assert await answer(bot, query.query_id, message=f"counted {query.user_id}")
    results = [await t for t in tasks]
    assert [r.message for r in results] == [f"counted {alice.me.id}", f"counted {bob.me.id}"]


async def test_chat_instance_differs_between_channels_and_groups(core: ServerCore) -> None:
    alice, _, bot, channel = await setup_supergroup(core)
    other = await create(alice, title="Other")
    await invite(alice, other, bot)
    instances = []
    for target in (channel, other):
        msg = await say(bot, await seen_by(bot, target.id), "pick", keyboard([callback("A", b"a")]))
        task = await start_press(alice, target, msg.id, b"a")
        instances.append(bot.updates_of(types.UpdateBotCallbackQuery)[-1].chat_instance)
        task.cancel()
    assert instances[0] != instances[1]


async def test_subscriber_presses_a_channel_post_of_an_admin_bot(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    reader = await login_user(core, "+1 555 0103")
    bot = await login_bot(core, "news_bot")
    channel = await create(alice, megagroup=False)
    await invite(alice, channel, reader, bot)
    rights = types.ChatAdminRights(post_messages=True, edit_messages=True)
    await alice.call(
        fch.EditAdmin(
            channel=input_channel(channel), user_id=input_user(bot), admin_rights=rights, rank=""
        )
    )
    botc = await seen_by(bot, channel.id)
    assert botc.admin_rights == rights
    reader.pushed.clear()
    post = await say(bot, botc, "Breaking news", keyboard([callback("More", b"more")]))
    (seen,) = reader.take(types.UpdateNewChannelMessage)
    assert isinstance(seen.message, types.Message) and seen.message.post
    assert seen.message.reply_markup is not None
    task = await start_press(reader, await seen_by(reader, channel.id), post.id, b"more")
    query = bot.updates_of(types.UpdateBotCallbackQuery)[-1]
    assert query.peer == types.PeerChannel(channel_id=channel.id)
    assert query.user_id == reader.me.id
    assert await answer(bot, query.query_id, alert=True, message="Details")
    assert (await task).message == "Details"


async def test_user_who_left_cannot_press(core: ServerCore) -> None:
    _, bob, bot, channel = await setup_supergroup(core)
    msg = await say(bot, await seen_by(bot, channel.id), "vote", keyboard([callback("Y", b"y")]))
    bobs = await seen_by(bob, channel.id)
    await bob.call(fch.LeaveChannel(channel=input_channel(bobs)))
    error = await bob.fails(
        fmsg.GetBotCallbackAnswer(peer=input_peer(bobs), msg_id=msg.id, data=b"y")
    )
    assert error.message == "CHANNEL_PRIVATE"


# -- getChannelDifference -------------------------------------------------------------------------


async def difference(caller: Caller, channel: types.Channel, pts: int, limit: int = 100) -> Any:
    return await caller.call(
        fupd.GetChannelDifference(
            channel=input_channel(channel),
            filter=types.ChannelMessagesFilterEmpty(),
            pts=pts,
            limit=limit,
        )
    )


async def test_channel_difference_replays_new_edited_and_deleted(core: ServerCore) -> None:
    alice, bob, _, channel = await setup_supergroup(core)
    bobs = await seen_by(bob, channel.id)
    # pts 1: the channel's creation, 2: bob and the bot invited.
    empty = await difference(bob, bobs, 2)
    assert empty == upd_types.ChannelDifferenceEmpty(final=True, pts=2)
    sent = await say(alice, channel, "one")
    await say(alice, channel, "two")
    await alice.call(fmsg.EditMessage(peer=input_peer(channel), id=sent.id, message="ONE"))
    await alice.call(fch.DeleteMessages(channel=input_channel(channel), id=[sent.id]))
    diff = await difference(bob, bobs, 2)
    assert isinstance(diff, upd_types.ChannelDifference) and diff.final and diff.pts == 6
    assert [m.message for m in diff.new_messages if isinstance(m, types.Message)] == ["one", "two"]
    kinds = [type(u).__name__ for u in diff.other_updates]
    assert kinds == ["UpdateEditChannelMessage", "UpdateDeleteChannelMessages"]
    own = await difference(alice, channel, 2)
    assert all(m.out for m in own.new_messages if isinstance(m, types.Message))


async def test_channel_difference_too_long(core: ServerCore) -> None:
    alice, bob, _, channel = await setup_supergroup(core)
    for i in range(5):
        await say(alice, channel, f"m{i}")
    bobs = await seen_by(bob, channel.id)
    diff = await difference(bob, bobs, 2, limit=3)
    assert isinstance(diff, upd_types.ChannelDifferenceTooLong)
    assert isinstance(diff.dialog, types.Dialog) and diff.dialog.pts == 7
    assert diff.dialog.top_message == 7
    assert [m.id for m in diff.messages][:2] == [7, 6]
    core.storage.channels.trim_updates(channel.id, 5)
    trimmed = await difference(bob, bobs, 3)
    assert isinstance(trimmed, upd_types.ChannelDifferenceTooLong)
    error = await bob.fails(
        fupd.GetChannelDifference(
            channel=input_channel(bobs),
            filter=types.ChannelMessagesFilterEmpty(),
            pts=0,
            limit=10,
        )
    )
    assert error.message == "PERSISTENT_TIMESTAMP_INVALID"


@pytest.mark.parametrize("bad", ["hash", "id"])
async def test_unknown_channel_is_channel_invalid(core: ServerCore, bad: str) -> None:
    alice = await login_user(core, "+1 555 0101")
    channel = await create(alice)
    wrong = types.InputChannel(
        channel_id=channel.id + (1 if bad == "id" else 0),
        access_hash=(channel.access_hash or 0) + (1 if bad == "hash" else 0),
    )
    error = await alice.fails(fch.GetFullChannel(channel=wrong))
    assert isinstance(error, RpcError) and error.message == "CHANNEL_INVALID"


# -- messages.migrateChat ------------------------------------------------------------------------


async def test_migrate_chat_makes_a_supergroup_of_the_group_and_its_members(
    core: ServerCore,
) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    created = await alice.call(fmsg.CreateChat(users=[input_user(bob)], title="Club"))
    assert isinstance(created, msg_types.InvitedUsers)
    assert isinstance(created.updates, types.Updates)
    (chat,) = created.updates.chats
    refused = await bob.fails(fmsg.MigrateChat(chat_id=chat.id))
    assert refused.message == "CHAT_ADMIN_REQUIRED"
    bob.pushed.clear()

    result = await alice.call(fmsg.MigrateChat(chat_id=chat.id))

    assert isinstance(result, types.Updates)
    assert isinstance(result.updates[0], types.UpdateChannel)
    (new_channel,) = [u for u in result.updates if isinstance(u, types.UpdateNewChannelMessage)]
    (last_of_group,) = [u for u in result.updates if isinstance(u, types.UpdateNewMessage)]
    channel = channel_of(result)
    assert channel.megagroup and channel.title == "Club"
    assert isinstance(new_channel.message, types.MessageService)
    assert new_channel.message.action == types.MessageActionChannelMigrateFrom(
        title="Club", chat_id=chat.id
    )
    assert isinstance(last_of_group.message, types.MessageService)
    assert last_of_group.message.action == types.MessageActionChatMigrateTo(channel_id=channel.id)
    assert len(bob.updates_of(types.UpdateNewChannelMessage)) == 1
    assert len(bob.updates_of(types.UpdateNewMessage)) == 1
    full = await alice.call(fch.GetFullChannel(channel=input_channel(channel)))
    assert isinstance(full.full_chat, types.ChannelFull)
    assert full.full_chat.migrated_from_chat_id == chat.id
    assert full.full_chat.participants_count == 2
    again = await alice.fails(fmsg.MigrateChat(chat_id=chat.id))
    assert again.message == "CHAT_ALREADY_MIGRATED"


async def test_forward_out_of_a_channel_into_a_private_chat_and_a_group(core: ServerCore) -> None:
    alice, bob, _, channel = await setup_supergroup(core)
    await say(bob, await seen_by(bob, channel.id), "from the channel")
    private = await alice.call(
        fmsg.ForwardMessages(
            from_peer=input_peer(channel),
            id=[3],
            random_id=[11],
            to_peer=types.InputPeerUser(user_id=bob.me.id, access_hash=bob.me.access_hash),
        )
    )
    assert isinstance(private, types.Updates)
    (new,) = [u for u in private.updates if isinstance(u, types.UpdateNewMessage)]
    assert isinstance(new.message, types.Message) and new.message.message == "from the channel"
    assert new.message.fwd_from is not None
    assert new.message.fwd_from.from_id == types.PeerUser(user_id=bob.me.id)
    created = await alice.call(fmsg.CreateChat(users=[input_user(bob)], title="Club"))
    assert isinstance(created, msg_types.InvitedUsers)
    assert isinstance(created.updates, types.Updates)
    (chat,) = created.updates.chats
    grouped = await alice.call(
        fmsg.ForwardMessages(
            from_peer=input_peer(channel),
            id=[3],
            random_id=[12],
            to_peer=types.InputPeerChat(chat_id=chat.id),
        )
    )
    assert isinstance(grouped, types.Updates)
    assert any(isinstance(u, types.UpdateNewMessage) for u in grouped.updates)
    missing = await alice.fails(
        fmsg.ForwardMessages(
            from_peer=input_peer(channel),
            id=[99],
            random_id=[13],
            to_peer=types.InputPeerChat(chat_id=chat.id),
        )
    )
    assert missing.message == "MESSAGE_ID_INVALID"


async def test_typing_and_the_messages_form_of_read_history_in_a_supergroup(
    core: ServerCore,
) -> None:
    alice, bob, _, channel = await setup_supergroup(core)
    await say(alice, channel, "hello")
    bob.pushed.clear()
    assert await alice.call(
        fmsg.SetTyping(peer=input_peer(channel), action=types.SendMessageTypingAction())
    )
    (typing,) = [
        b.update
        for b in bob.pushed
        if isinstance(b, types.UpdateShort) and isinstance(b.update, types.UpdateChannelUserTyping)
    ]
    assert typing.channel_id == channel.id
    assert typing.from_id == types.PeerUser(user_id=alice.me.id)
    bobs = await seen_by(bob, channel.id)
    affected = await bob.call(fmsg.ReadHistory(peer=input_peer(bobs), max_id=0))
    assert affected.pts_count == 0
    (inbox,) = bob.updates_of(types.UpdateReadChannelInbox)
    assert (inbox.max_id, inbox.still_unread_count) == (3, 0)


async def test_edit_title_by_an_admin_reaches_members_and_is_refused_to_others(
    core: ServerCore,
) -> None:
    alice, bob, _, channel = await setup_supergroup(core)
    bobs = await seen_by(bob, channel.id)
    refused = await bob.fails(fch.EditTitle(channel=input_channel(bobs), title="Mine now"))
    assert (refused.code, refused.message) == (400, "CHAT_ADMIN_REQUIRED")
    bob.pushed.clear()
    await alice.call(fch.EditTitle(channel=input_channel(channel), title="Renamed club"))
    (pushed,) = bob.updates_of(types.UpdateNewChannelMessage)
    assert isinstance(pushed.message, types.MessageService)
    assert pushed.message.action == types.MessageActionChatEditTitle(title="Renamed club")
    assert (await seen_by(bob, channel.id)).title == "Renamed club"
    same = await alice.fails(fch.EditTitle(channel=input_channel(channel), title="Renamed club"))
    assert same.message == "CHAT_NOT_MODIFIED"
