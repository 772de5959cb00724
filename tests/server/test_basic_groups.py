"""Server layer: basic groups -- creating them, members coming and going, service messages,
each member's own pts, getDifference and getDialogs with chats, bots' privacy mode, and
callback buttons pressed in a group."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import loopgram.tl.functions.messages as fmsg
import loopgram.tl.functions.updates as fupd
from loopgram.server import ServerCore
from loopgram.tl import abcs, types
from loopgram.tl.types import messages as msg_types
from loopgram.tl.types import updates as upd_types

from .support import (
    Caller,
    answer,
    callback,
    history_request,
    keyboard,
    login_bot,
    login_user,
    settle,
)

_random_ids = itertools.count(10_000)


def input_user(caller: Caller) -> types.InputUser:
    return types.InputUser(user_id=caller.me.id, access_hash=caller.me.access_hash)


async def create_group(creator: Caller, *members: Caller, title: str = "Club") -> int:
    result = await creator.call(
        fmsg.CreateChat(users=[input_user(m) for m in members], title=title)
    )
    assert isinstance(result, msg_types.InvitedUsers)
    (chat,) = result.updates.chats if isinstance(result.updates, types.Updates) else []
    assert isinstance(chat, types.Chat)
    return chat.id


async def say(
    sender: Caller, chat_id: int, text: str, markup: abcs.ReplyMarkup | None = None
) -> types.Updates:
    result = await sender.call(
        fmsg.SendMessage(
            peer=types.InputPeerChat(chat_id=chat_id),
            message=text,
            random_id=next(_random_ids),
            reply_markup=markup,
        )
    )
    assert isinstance(result, types.Updates)
    return result


def texts(caller: Caller) -> list[str]:
    return [
        u.message.message
        for u in caller.updates_of(types.UpdateNewMessage)
        if isinstance(u.message, types.Message)
    ]


def actions(caller: Caller) -> list[Any]:
    return [
        u.message.action
        for u in caller.updates_of(types.UpdateNewMessage)
        if isinstance(u.message, types.MessageService)
    ]


async def press(user: Caller, chat_id: int, msg_id: int, data: bytes) -> Any:
    import asyncio

    task = asyncio.ensure_future(
        user.call(
            fmsg.GetBotCallbackAnswer(
                peer=types.InputPeerChat(chat_id=chat_id), msg_id=msg_id, data=data
            )
        )
    )
    await settle()
    return task


async def test_create_chat_delivers_the_create_action_to_every_member(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    result = await alice.call(fmsg.CreateChat(users=[input_user(bob)], title="  Club "))
    assert isinstance(result, msg_types.InvitedUsers) and result.missing_invitees == []
    assert isinstance(result.updates, types.Updates)
    (chat,) = result.updates.chats
    assert isinstance(chat, types.Chat)
    assert (chat.title, chat.participants_count, chat.version, chat.creator) == ("Club", 2, 1, True)
    (own,) = [u for u in result.updates.updates if isinstance(u, types.UpdateNewMessage)]
    assert isinstance(own.message, types.MessageService) and own.message.out
    assert own.message.action == types.MessageActionChatCreate(
        title="Club", users=[alice.me.id, bob.me.id]
    )
    assert own.message.peer_id == types.PeerChat(chat_id=chat.id)
    assert actions(bob) == [own.message.action]
    (pushed,) = bob.pushed
    assert isinstance(pushed, types.Updates)
    (bob_chat,) = pushed.chats
    assert isinstance(bob_chat, types.Chat) and not bob_chat.creator and not bob_chat.left
    assert {u.id for u in pushed.users} == {alice.me.id, bob.me.id}


async def test_each_member_gets_the_message_with_its_own_pts(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    carol = await login_user(core, "+1 555 0103")
    # Carol's pts runs ahead of the others'.
    await carol.call(fmsg.SendMessage(peer=carol.input_peer(bob), message="hi", random_id=1))
    chat_id = await create_group(alice, bob, carol)
    for c in (alice, bob, carol):
        c.pushed.clear()
    await say(bob, chat_id, "hello all")
    (to_alice,) = alice.updates_of(types.UpdateNewMessage)
    (to_carol,) = carol.updates_of(types.UpdateNewMessage)
    assert to_alice.pts == core.storage.updates.state(alice.me.id).pts
    assert to_carol.pts == core.storage.updates.state(carol.me.id).pts
    assert to_alice.pts != to_carol.pts
    assert isinstance(to_carol.message, types.Message) and not to_carol.message.out
    assert to_carol.message.peer_id == types.PeerChat(chat_id=chat_id)

    # What Carol missed comes back through getDifference, with the chat in ``chats``.
    diff = await carol.call(fupd.GetDifference(pts=to_carol.pts - 1, date=0, qts=0))
    assert isinstance(diff, upd_types.Difference)
    (replayed,) = diff.new_messages
    assert replayed == to_carol.message
    assert [c.id for c in diff.chats if isinstance(c, types.Chat)] == [chat_id]


async def test_history_and_dialogs_include_the_group(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    chat_id = await create_group(alice, bob)
    await say(bob, chat_id, "first")
    await say(alice, chat_id, "second")
    history = await bob.call(history_request(types.InputPeerChat(chat_id=chat_id), limit=10))
    assert isinstance(history, msg_types.Messages)
    assert [getattr(m, "message", None) for m in history.messages] == ["second", "first", None]
    assert isinstance(history.messages[2], types.MessageService)
    dialogs = await bob.call(
        fmsg.GetDialogs(
            offset_date=0, offset_id=0, offset_peer=types.InputPeerEmpty(), limit=10, hash=0
        )
    )
    assert isinstance(dialogs, msg_types.Dialogs)
    (dialog,) = dialogs.dialogs
    assert isinstance(dialog, types.Dialog) and dialog.peer == types.PeerChat(chat_id=chat_id)
    assert dialog.unread_count == 2  # the create action and "second"
    assert [c.id for c in dialogs.chats if isinstance(c, types.Chat)] == [chat_id]


async def test_add_kick_and_leave_reach_the_right_members(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    carol = await login_user(core, "+1 555 0103")
    chat_id = await create_group(alice, bob)
    bob.pushed.clear()
    added = await bob.call(
        fmsg.AddChatUser(chat_id=chat_id, user_id=input_user(carol), fwd_limit=0)
    )
    assert isinstance(added, msg_types.InvitedUsers)
    assert actions(carol) == [types.MessageActionChatAddUser(users=[carol.me.id])]
    assert actions(alice)[-1] == types.MessageActionChatAddUser(users=[carol.me.id])
    # Bob invited Carol, so Bob may remove her; Carol may not remove Alice.
    refused = await carol.fails(fmsg.DeleteChatUser(chat_id=chat_id, user_id=input_user(alice)))
    assert (refused.code, refused.message) == (400, "CHAT_ADMIN_REQUIRED")
    for c in (alice, bob, carol):
        c.pushed.clear()
    await bob.call(fmsg.DeleteChatUser(chat_id=chat_id, user_id=input_user(carol)))
    kicked = types.MessageActionChatDeleteUser(user_id=carol.me.id)
    assert actions(carol) == actions(alice) == [kicked]
    # Carol is out: no more messages, cannot write, but keeps the history she had.
    await say(alice, chat_id, "after")
    assert texts(carol) == []
    denied = await carol.fails(
        fmsg.SendMessage(
            peer=types.InputPeerChat(chat_id=chat_id), message="let me in", random_id=99
        )
    )
    assert (denied.code, denied.message) == (403, "CHAT_WRITE_FORBIDDEN")
    chats = await carol.call(fmsg.GetChats(id=[chat_id]))
    (seen,) = chats.chats
    assert isinstance(seen, types.Chat) and seen.left and seen.participants_count == 2
    # Bob leaves by removing himself.
    await bob.call(fmsg.DeleteChatUser(chat_id=chat_id, user_id=types.InputUserSelf()))
    full = await alice.call(fmsg.GetFullChat(chat_id=chat_id))
    assert isinstance(full.full_chat, types.ChatFull)
    participants = full.full_chat.participants
    assert isinstance(participants, types.ChatParticipants)
    assert [p.user_id for p in participants.participants] == [alice.me.id]
    assert isinstance(participants.participants[0], types.ChatParticipantCreator)
    assert participants.version == 4  # created, +Carol, -Carol, -Bob


async def test_edit_title_is_a_service_message_and_renames_the_chat(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    chat_id = await create_group(alice, bob)
    bob.pushed.clear()
    result = await bob.call(fmsg.EditChatTitle(chat_id=chat_id, title="New name"))
    assert isinstance(result, types.Updates)
    (chat,) = result.chats
    assert isinstance(chat, types.Chat) and chat.title == "New name"
    assert actions(alice)[-1] == types.MessageActionChatEditTitle(title="New name")
    same = await bob.fails(fmsg.EditChatTitle(chat_id=chat_id, title="New name"))
    assert same.message == "CHAT_NOT_MODIFIED"
    empty = await bob.fails(fmsg.EditChatTitle(chat_id=chat_id, title="  "))
    assert empty.message == "CHAT_TITLE_EMPTY"
    unknown = await bob.fails(fmsg.EditChatTitle(chat_id=7, title="x"))
    assert unknown.message == "CHAT_ID_INVALID"


@pytest.mark.parametrize(
    ("text", "seen_with_privacy"),
    [
        ("just chatting", False),
        ("/start", True),
        ("/help@group_bot please", True),
        ("/help@other_bot", False),
        ("hey @Group_Bot look", True),
    ],
)
async def test_privacy_mode_lets_a_bot_see_only_messages_meant_for_it(
    core: ServerCore, text: str, seen_with_privacy: bool
) -> None:
    alice = await login_user(core, "+1 555 0101")
    bot = await login_bot(core, "group_bot")
    chat_id = await create_group(alice, bot)
    bot.pushed.clear()
    await say(alice, chat_id, text)
    assert texts(bot) == ([text] if seen_with_privacy else [])
    core.storage.chats.set_bot_privacy(bot.me.id, False)
    bot.pushed.clear()
    await say(alice, chat_id, text)
    assert texts(bot) == [text]


async def test_two_members_press_one_button_with_one_chat_instance(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    bot = await login_bot(core, "vote_bot")
    chat_id = await create_group(alice, bob, bot)
    other_chat = await create_group(alice, bot, title="Other")
    alice.pushed.clear()
    bob.pushed.clear()
    await say(bot, chat_id, "vote", keyboard([callback("Yes", b"y")]))
    await say(bot, other_chat, "vote too", keyboard([callback("Yes", b"y")]))
    (alice_msg, alice_other) = [u.message for u in alice.updates_of(types.UpdateNewMessage)]
    (bob_msg,) = [u.message for u in bob.updates_of(types.UpdateNewMessage)]
    bot.pushed.clear()
    tasks = [
        await press(alice, chat_id, alice_msg.id, b"y"),
        await press(bob, chat_id, bob_msg.id, b"y"),
        await press(alice, other_chat, alice_other.id, b"y"),
    ]
    queries = bot.updates_of(types.UpdateBotCallbackQuery)
    assert [q.user_id for q in queries] == [alice.me.id, bob.me.id, alice.me.id]
    assert [q.peer for q in queries] == [
        types.PeerChat(chat_id=chat_id),
        types.PeerChat(chat_id=chat_id),
        types.PeerChat(chat_id=other_chat),
    ]
    assert queries[0].chat_instance == queries[1].chat_instance != queries[2].chat_instance
    assert queries[0].msg_id == queries[1].msg_id  # the bot's one copy of the message
    private = core.services.keys.private_chat_instance(alice.me.id, bot.me.id)
    assert private not in {q.chat_instance for q in queries}
    for query in queries:
        await answer(bot, query.query_id, message="counted")
    for task in tasks:
        result = await task
        assert isinstance(result, msg_types.BotCallbackAnswer) and result.message == "counted"

    # The bot edits the keyboard: every member sees the edit.
    alice.pushed.clear()
    bob.pushed.clear()
    await bot.call(
        fmsg.EditMessage(
            peer=types.InputPeerChat(chat_id=chat_id),
            id=queries[0].msg_id,
            message="vote (2)",
            reply_markup=keyboard([callback("Yes (2)", b"y")]),
        )
    )
    for member in (alice, bob):
        (edit,) = member.updates_of(types.UpdateEditMessage)
        assert isinstance(edit.message, types.Message) and edit.message.message == "vote (2)"


async def test_an_edit_in_a_group_keeps_the_message_length_limit(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    chat_id = await create_group(alice, bob)
    sent = await say(alice, chat_id, "short")
    (copy,) = [u.message for u in sent.updates if isinstance(u, types.UpdateNewMessage)]
    limit = core.config.message_length_max
    bob.pushed.clear()
    edit = fmsg.EditMessage(
        peer=types.InputPeerChat(chat_id=chat_id), id=copy.id, message="x" * (limit + 1)
    )
    refused = await alice.fails(edit)
    assert (refused.code, refused.message) == (400, "MESSAGE_TOO_LONG")
    assert bob.updates_of(types.UpdateEditMessage) == []


async def test_a_removed_member_cannot_press(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    bot = await login_bot(core, "vote_bot")
    chat_id = await create_group(alice, bob, bot)
    bob.pushed.clear()
    await say(bot, chat_id, "vote", keyboard([callback("Yes", b"y")]))
    (msg,) = [u.message for u in bob.updates_of(types.UpdateNewMessage)]
    await alice.call(fmsg.DeleteChatUser(chat_id=chat_id, user_id=input_user(bob)))
    bot.pushed.clear()
    refused = await bob.fails(
        fmsg.GetBotCallbackAnswer(
            peer=types.InputPeerChat(chat_id=chat_id), msg_id=msg.id, data=b"y"
        )
    )
    assert (refused.code, refused.message) == (400, "PEER_ID_INVALID")
    assert bot.updates_of(types.UpdateBotCallbackQuery) == []


async def test_read_history_in_a_group_marks_inbox_and_the_authors_outbox(
    core: ServerCore,
) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    chat_id = await create_group(alice, bob)
    await say(alice, chat_id, "one")
    sent = await say(alice, chat_id, "two")
    (alice_copy,) = [u.message for u in sent.updates if isinstance(u, types.UpdateNewMessage)]
    alice.pushed.clear()
    affected = await bob.call(fmsg.ReadHistory(peer=types.InputPeerChat(chat_id=chat_id), max_id=0))
    assert affected.pts == core.storage.updates.state(bob.me.id).pts and affected.pts_count == 1
    (outbox,) = alice.updates_of(types.UpdateReadHistoryOutbox)
    assert outbox.peer == types.PeerChat(chat_id=chat_id) and outbox.max_id == alice_copy.id
    dialogs = await bob.call(
        fmsg.GetDialogs(
            offset_date=0, offset_id=0, offset_peer=types.InputPeerEmpty(), limit=10, hash=0
        )
    )
    assert isinstance(dialogs, msg_types.Dialogs)
    assert [d.unread_count for d in dialogs.dialogs if isinstance(d, types.Dialog)] == [0]
    again = await bob.call(fmsg.ReadHistory(peer=types.InputPeerChat(chat_id=chat_id), max_id=0))
    assert again.pts_count == 0


async def test_typing_in_a_group_reaches_the_other_members(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    outsider = await login_user(core, "+1 555 0103")
    chat_id = await create_group(alice, bob)
    bob.pushed.clear()
    alice.pushed.clear()
    assert await alice.call(
        fmsg.SetTyping(
            peer=types.InputPeerChat(chat_id=chat_id), action=types.SendMessageTypingAction()
        )
    )
    (short,) = bob.pushed
    assert isinstance(short, types.UpdateShort)
    assert short.update == types.UpdateChatUserTyping(
        chat_id=chat_id,
        from_id=types.PeerUser(user_id=alice.me.id),
        action=types.SendMessageTypingAction(),
    )
    assert alice.pushed == []
    refused = await outsider.fails(
        fmsg.SetTyping(
            peer=types.InputPeerChat(chat_id=chat_id), action=types.SendMessageTypingAction()
        )
    )
    assert refused.message == "CHAT_WRITE_FORBIDDEN"


async def test_peer_dialogs_and_get_messages_show_the_group_and_its_service_messages(
    core: ServerCore,
) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    outsider = await login_user(core, "+1 555 0103")
    chat_id = await create_group(alice, bob)
    await say(alice, chat_id, "top")
    peer = types.InputDialogPeer(peer=types.InputPeerChat(chat_id=chat_id))
    found = await bob.call(fmsg.GetPeerDialogs(peers=[peer]))
    (dialog,) = found.dialogs
    assert isinstance(dialog, types.Dialog) and dialog.peer == types.PeerChat(chat_id=chat_id)
    assert [m.message for m in found.messages if isinstance(m, types.Message)] == ["top"]
    assert [c.id for c in found.chats if isinstance(c, types.Chat)] == [chat_id]
    refused = await outsider.fails(fmsg.GetPeerDialogs(peers=[peer]))
    assert refused.message == "PEER_ID_INVALID"
    got = await bob.call(fmsg.GetMessages(id=[types.InputMessageID(id=1)]))
    (created,) = got.messages
    assert isinstance(created, types.MessageService)
    assert isinstance(created.action, types.MessageActionChatCreate)


async def test_bots_are_no_longer_marked_as_unable_to_join_groups(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bot = await login_bot(core, "group_bot")
    chat_id = await create_group(alice, bot)
    full = await alice.call(fmsg.GetFullChat(chat_id=chat_id))
    (rendered,) = [u for u in full.users if isinstance(u, types.User) and u.id == bot.me.id]
    assert rendered.bot and not rendered.bot_nochats
    assert [b.user_id for b in full.full_chat.bot_info] == [bot.me.id]  # type: ignore[union-attr]


def _copy_id(caller: Caller, text: str) -> int:
    (found,) = [
        u.message.id
        for u in caller.updates_of(types.UpdateNewMessage)
        if isinstance(u.message, types.Message) and u.message.message == text
    ]
    return found


def _sent_id(result: types.Updates) -> int:
    (found,) = [u.id for u in result.updates if isinstance(u, types.UpdateMessageID)]
    return found


async def test_only_the_author_or_an_admin_revokes_a_group_message(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")  # the creator: an admin
    bob = await login_user(core, "+1 555 0102")
    carol = await login_user(core, "+1 555 0103")
    chat_id = await create_group(alice, bob, carol)
    bobs_own = _sent_id(await say(bob, chat_id, "bob's"))
    carols_own = _sent_id(await say(carol, chat_id, "carol's"))
    bobs_on_carol = _copy_id(carol, "bob's")
    carols_on_alice = _copy_id(alice, "carol's")
    for c in (alice, bob, carol):
        c.pushed.clear()

    # Carol may not delete Bob's message for everyone: it leaves her box only.
    affected = await carol.call(fmsg.DeleteMessages(id=[bobs_on_carol], revoke=True))
    assert affected.pts_count == 1
    assert core.storage.messages.get(carol.me.id, bobs_on_carol) is None
    assert core.storage.messages.get(bob.me.id, bobs_own) is not None
    assert alice.updates_of(types.UpdateDeleteMessages) == []
    assert bob.updates_of(types.UpdateDeleteMessages) == []

    # Alice, an admin, deletes Carol's message for everyone.
    await alice.call(fmsg.DeleteMessages(id=[carols_on_alice], revoke=True))
    assert [u.messages for u in carol.updates_of(types.UpdateDeleteMessages)] == [[carols_own]]
    assert core.storage.messages.get(carol.me.id, carols_own) is None
    assert len(bob.updates_of(types.UpdateDeleteMessages)) == 1

    # Bob revokes his own message: Alice loses her copy too.
    alice.pushed.clear()
    await bob.call(fmsg.DeleteMessages(id=[bobs_own], revoke=True))
    assert len(alice.updates_of(types.UpdateDeleteMessages)) == 1


async def test_an_admin_bot_sees_every_message_despite_privacy_mode(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    bot = await login_bot(core, "group_bot")
    chat_id = await create_group(alice, bob, bot)
    bot_user = types.InputUser(user_id=bot.me.id, access_hash=bot.me.access_hash)
    refused = await bob.fails(fmsg.EditChatAdmin(chat_id=chat_id, user_id=bot_user, is_admin=True))
    assert refused.message == "CHAT_ADMIN_REQUIRED"
    assert await alice.call(fmsg.EditChatAdmin(chat_id=chat_id, user_id=bot_user, is_admin=True))
    bot.pushed.clear()
    await say(bob, chat_id, "plain talk")
    assert texts(bot) == ["plain talk"]
    full = await alice.call(fmsg.GetFullChat(chat_id=chat_id))
    members = full.full_chat.participants.participants  # type: ignore[union-attr]
    assert [type(p) for p in members][-1] is types.ChatParticipantAdmin
    await alice.call(fmsg.EditChatAdmin(chat_id=chat_id, user_id=bot_user, is_admin=False))
    bot.pushed.clear()
    await say(bob, chat_id, "more talk")
    assert texts(bot) == []


async def test_forwarding_into_and_out_of_a_group_keeps_the_author(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0101")
    bob = await login_user(core, "+1 555 0102")
    carol = await login_user(core, "+1 555 0103")
    chat_id = await create_group(alice, bob)
    # Carol writes to Alice privately; Alice forwards it into the group.
    await carol.call(fmsg.SendMessage(peer=carol.input_peer(alice), message="news", random_id=7))
    (private,) = [
        u.message.id
        for u in alice.updates_of(types.UpdateNewMessage)
        if isinstance(u.message, types.Message) and u.message.message == "news"
    ]
    bob.pushed.clear()
    result = await alice.call(
        fmsg.ForwardMessages(
            from_peer=alice.input_peer(carol),
            id=[private],
            random_id=[8],
            to_peer=types.InputPeerChat(chat_id=chat_id),
        )
    )
    assert [type(u) for u in result.updates] == [types.UpdateMessageID, types.UpdateNewMessage]
    (arrived,) = bob.updates_of(types.UpdateNewMessage)
    assert isinstance(arrived.message, types.Message) and arrived.message.message == "news"
    assert arrived.message.fwd_from is not None
    assert arrived.message.fwd_from.from_id == types.PeerUser(user_id=carol.me.id)
    assert arrived.message.peer_id == types.PeerChat(chat_id=chat_id)
    # Bob forwards it on to Carol: still Carol's, from the group's copy.
    carol.pushed.clear()
    await bob.call(
        fmsg.ForwardMessages(
            from_peer=types.InputPeerChat(chat_id=chat_id),
            id=[arrived.message.id],
            random_id=[9],
            to_peer=bob.input_peer(carol),
        )
    )
    (back,) = carol.updates_of(types.UpdateNewMessage)
    assert isinstance(back.message, types.Message) and back.message.fwd_from is not None
    assert back.message.fwd_from.from_id == types.PeerUser(user_id=carol.me.id)
    # A service message cannot be forwarded.
    refused = await bob.fails(
        fmsg.ForwardMessages(
            from_peer=types.InputPeerChat(chat_id=chat_id),
            id=[1],
            random_id=[10],
            to_peer=bob.input_peer(carol),
        )
    )
    assert refused.message == "MESSAGE_ID_INVALID"
