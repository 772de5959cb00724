"""Server layer: what supergroups and channels do beyond the first cut -- a migrated basic
group deactivated as on Telegram, ``updateChannelParticipant`` for the bots concerned, and
the total message count of ``messages.channelMessages``."""

from __future__ import annotations

import loopgram.tl.functions.channels as fch
import loopgram.tl.functions.contacts as fcontacts
import loopgram.tl.functions.messages as fmsg
from loopgram.server import ServerCore
from loopgram.tl import types
from loopgram.tl.types import messages as msg_types

from .support import Caller, history_request, login_bot, login_user, new_message
from .test_channels import (
    channel_of,
    create,
    input_channel,
    input_peer,
    input_user,
    invite,
    say,
    seen_by,
)


class _Migrated:
    def __init__(
        self, alice: Caller, bob: Caller, chat: types.Chat, channel: types.Channel, said: int
    ) -> None:
        self.alice, self.bob, self.chat, self.channel = alice, bob, chat, channel
        self.said = said
        """Alice's id of her message of before the migration."""

    @property
    def peer(self) -> types.InputPeerChat:
        return types.InputPeerChat(chat_id=self.chat.id)


async def _migrated_group(core: ServerCore) -> _Migrated:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    created = await alice.call(fmsg.CreateChat(users=[input_user(bob)], title="Club"))
    assert isinstance(created, msg_types.InvitedUsers)
    assert isinstance(created.updates, types.Updates)
    (chat,) = created.updates.chats
    assert isinstance(chat, types.Chat)
    peer = types.InputPeerChat(chat_id=chat.id)
    said = new_message(await alice.call(fmsg.SendMessage(peer=peer, message="hello", random_id=1)))
    bob.pushed.clear()
    result = await alice.call(fmsg.MigrateChat(chat_id=chat.id))
    return _Migrated(alice, bob, chat, channel_of(result), said.id)


# -- messages.migrateChat deactivates the group ---------------------------------------------------


async def test_migrated_group_is_deactivated_and_names_its_supergroup_for_every_member(
    core: ServerCore,
) -> None:
    group = await _migrated_group(core)
    alice, bob, chat, channel = group.alice, group.bob, group.chat, group.channel

    for caller in (alice, bob):
        seen = await caller.call(fmsg.GetChats(id=[chat.id]))
        (old,) = seen.chats
        assert isinstance(old, types.Chat)
        assert old.deactivated
        assert isinstance(old.migrated_to, types.InputChannel)
        assert old.migrated_to.channel_id == channel.id
        # The access hash is the viewer's own: it names the supergroup for this caller.
        named = await caller.call(fch.GetChannels(id=[old.migrated_to]))
        assert [c.id for c in named.chats] == [channel.id]
    # Bob learns of it with the group's last message, the chat deactivated in its batch.
    (moved,) = [
        batch
        for batch in bob.pushed
        if isinstance(batch, types.Updates)
        and any(isinstance(u, types.UpdateNewMessage) for u in batch.updates)
    ]
    (pushed_chat,) = [c for c in moved.chats if isinstance(c, types.Chat)]
    assert pushed_chat.deactivated and pushed_chat.migrated_to is not None


async def test_writing_to_a_migrated_group_is_chat_id_invalid(core: ServerCore) -> None:
    group = await _migrated_group(core)
    alice, bob, chat = group.alice, group.bob, group.chat

    sent = await bob.fails(fmsg.SendMessage(peer=group.peer, message="hi", random_id=7))
    edited = await alice.fails(fmsg.EditMessage(peer=group.peer, id=group.said, message="x"))
    renamed = await alice.fails(fmsg.EditChatTitle(chat_id=chat.id, title="Other"))

    for refused in (sent, edited, renamed):
        assert (refused.code, refused.message) == (400, "CHAT_ID_INVALID")
    # What was said stays readable.
    after = await bob.call(history_request(group.peer, limit=10))
    assert isinstance(after, msg_types.Messages)
    assert any(
        isinstance(m, types.MessageService)
        and isinstance(m.action, types.MessageActionChatMigrateTo)
        for m in after.messages
    )
    again = await alice.fails(fmsg.MigrateChat(chat_id=chat.id))
    assert again.message == "CHAT_ALREADY_MIGRATED"


# -- updateChannelParticipant ----------------------------------------------------------------------


def _participant_updates(caller: Caller) -> list[types.UpdateChannelParticipant]:
    return caller.take(types.UpdateChannelParticipant)


async def test_a_bot_invited_promoted_and_banned_in_a_channel_gets_update_channel_participant(
    core: ServerCore,
) -> None:
    alice = await login_user(core, "+1 555 0101")
    bot = await login_bot(core, "news_bot")
    channel = await create(alice, megagroup=False)

    await invite(alice, channel, bot)
    (added,) = _participant_updates(bot)
    assert (added.channel_id, added.actor_id, added.user_id) == (channel.id, alice.me.id, bot.me.id)
    assert added.prev_participant is None
    assert isinstance(added.new_participant, types.ChannelParticipantSelf)

    rights = types.ChatAdminRights(post_messages=True, edit_messages=True)
    await alice.call(
        fch.EditAdmin(
            channel=input_channel(channel), user_id=input_user(bot), admin_rights=rights, rank=""
        )
    )
    (promoted,) = _participant_updates(bot)
    assert isinstance(promoted.prev_participant, types.ChannelParticipantSelf)
    assert isinstance(promoted.new_participant, types.ChannelParticipantAdmin)
    assert promoted.new_participant.admin_rights.post_messages

    await alice.call(
        fch.EditBanned(
            channel=input_channel(channel),
            participant=types.InputPeerUser(user_id=bot.me.id, access_hash=bot.me.access_hash),
            banned_rights=types.ChatBannedRights(view_messages=True, until_date=0),
        )
    )
    (banned,) = _participant_updates(bot)
    assert isinstance(banned.prev_participant, types.ChannelParticipantAdmin)
    assert isinstance(banned.new_participant, types.ChannelParticipantBanned)
    # Users learn of membership through updateChannel and service messages, not this.
    assert _participant_updates(alice) == []


async def test_an_admin_bot_gets_update_channel_participant_for_other_members(
    core: ServerCore,
) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    carol = await login_user(core, "+1 555 0103")
    admin_bot = await login_bot(core, "admin_bot")
    plain_bot = await login_bot(core, "plain_bot")
    channel = await create(alice)
    await invite(alice, channel, admin_bot, plain_bot)
    await alice.call(
        fch.EditAdmin(
            channel=input_channel(channel),
            user_id=input_user(admin_bot),
            admin_rights=types.ChatAdminRights(ban_users=True),
            rank="",
        )
    )
    await alice.call(fch.UpdateUsername(channel=input_channel(channel), username="open_club"))
    admin_bot.pushed.clear()
    plain_bot.pushed.clear()

    await invite(alice, channel, bob)
    resolved = await carol.call(fcontacts.ResolveUsername(username="open_club"))
    (carols,) = resolved.chats
    assert isinstance(carols, types.Channel)
    await carol.call(fch.JoinChannel(channel=input_channel(carols)))
    await bob.call(fch.LeaveChannel(channel=input_channel(await seen_by(bob, channel.id))))

    seen = _participant_updates(admin_bot)
    assert [(u.user_id, u.actor_id) for u in seen] == [
        (bob.me.id, alice.me.id),
        (carol.me.id, carol.me.id),
        (bob.me.id, bob.me.id),
    ]
    assert [type(u.new_participant) for u in seen] == [
        types.ChannelParticipant,
        types.ChannelParticipant,
        type(None),
    ]
    assert isinstance(seen[2].prev_participant, types.ChannelParticipant)
    # A bot that is not an administrator hears of its own membership only.
    assert _participant_updates(plain_bot) == []


# -- messages.channelMessages.count -------------------------------------------------------------


async def test_channel_messages_count_is_the_channels_total_not_the_page_size(
    core: ServerCore,
) -> None:
    alice = await login_user(core, "+1 555 0101")
    channel = await create(alice)  # its first message: messageActionChannelCreate
    for text in ("one", "two", "three", "four"):
        await say(alice, channel, text)
    page = await alice.call(history_request(input_peer(channel), limit=2))
    assert isinstance(page, msg_types.ChannelMessages)
    assert (len(page.messages), page.count) == (2, 5)
    got = await alice.call(
        fch.GetMessages(channel=input_channel(channel), id=[types.InputMessageID(id=2)])
    )
    assert isinstance(got, msg_types.ChannelMessages)
    assert (len(got.messages), got.count) == (1, 5)
    await alice.call(fch.DeleteMessages(channel=input_channel(channel), id=[2, 3]))
    after = await alice.call(
        fch.GetMessages(channel=input_channel(channel), id=[types.InputMessageID(id=4)])
    )
    assert isinstance(after, msg_types.ChannelMessages)
    assert after.count == 3
