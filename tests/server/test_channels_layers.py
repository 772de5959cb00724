"""Server layer: the supergroup and channel objects (channel, channelFull, participants,
channel messages and their updates, channel differences, joinChannel's and
inviteToChannel's answers) reach clients of layers 158, 198, 227 and 229, each written by
the server's schema conversion and parsed back with that layer's own schema."""

from __future__ import annotations

from typing import Any

import pytest

import loopgram.tl.functions.channels as fch
import loopgram.tl.functions.messages as fmsg
import loopgram.tl.functions.updates as fupd
from loopgram.server import ServerCore
from loopgram.tl import types

from .support import history_request
from .test_basic_groups_layers import layer_session


@pytest.mark.parametrize("layer", [158, 198, 227, 229])
async def test_channel_objects_are_served_in_every_layer(core: ServerCore, layer: int) -> None:
    alice = await layer_session(core, "+1 555 0101", layer)
    bob = await layer_session(core, "+1 555 0102", layer)
    created: Any = await alice.call(fch.CreateChannel(title="Club", about="x", megagroup=True))
    (channel,) = created.chats
    assert isinstance(channel, types.Channel) and channel.megagroup
    mine = types.InputChannel(channel_id=channel.id, access_hash=channel.access_hash)
    invite = types.InputUser(user_id=bob.me.id, access_hash=bob.me.access_hash)
    invited: Any = await alice.call(fch.InviteToChannel(channel=mine, users=[invite]))
    # Layer 158 predates messages.invitedUsers: the bare Updates there.
    assert isinstance(invited if layer == 158 else invited.updates, types.Updates)
    (pushed,) = bob.take(types.UpdateNewChannelMessage)
    assert isinstance(pushed.message, types.MessageService)
    assert pushed.message.action == types.MessageActionChatAddUser(users=[bob.me.id])
    await alice.call(
        fmsg.SendMessage(
            peer=types.InputPeerChannel(channel_id=channel.id, access_hash=channel.access_hash),
            message="hi",
            random_id=5,
        )
    )
    (new,) = bob.take(types.UpdateNewChannelMessage)
    assert isinstance(new.message, types.Message) and new.message.message == "hi"
    chats: Any = await bob.call(
        fmsg.GetDialogs(
            offset_date=0, offset_id=0, offset_peer=types.InputPeerEmpty(), limit=10, hash=0
        )
    )
    (seen,) = chats.chats
    theirs = types.InputChannel(channel_id=seen.id, access_hash=seen.access_hash)
    peer = types.InputPeerChannel(channel_id=seen.id, access_hash=seen.access_hash)
    full: Any = await bob.call(fch.GetFullChannel(channel=theirs))
    assert isinstance(full.full_chat, types.ChannelFull) and full.full_chat.pts == 3
    participants: Any = await bob.call(
        fch.GetParticipants(
            channel=theirs,
            filter=types.ChannelParticipantsRecent(),
            offset=0,
            limit=10,
            hash=0,
        )
    )
    assert [type(p) for p in participants.participants] == [
        types.ChannelParticipantCreator,
        types.ChannelParticipantSelf,
    ]
    history: Any = await bob.call(history_request(peer, limit=10))
    assert [m.id for m in history.messages] == [3, 2, 1]
    diff: Any = await bob.call(
        fupd.GetChannelDifference(
            channel=theirs, filter=types.ChannelMessagesFilterEmpty(), pts=1, limit=10
        )
    )
    assert [type(m) for m in diff.new_messages] == [types.MessageService, types.Message]
    left: Any = await bob.call(fch.LeaveChannel(channel=theirs))
    assert isinstance(left, types.Updates)
    joined: Any = await bob.call(fch.JoinChannel(channel=theirs))
    # joinChannel answers the bare Updates before layer 227.
    assert isinstance(joined if layer < 227 else joined.updates, types.Updates)
