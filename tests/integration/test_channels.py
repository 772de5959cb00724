"""End to end: supergroups and channels through Telethon's public API over TCP -- a
supergroup where a bot and two users press one message's button (one chat_instance, the
supergroup as the query's chat), a channel post whose button a subscriber presses, a
member who reconnects and catches up through ``updates.getChannelDifference``, and the
everyday methods around a supergroup (participants, admins, unread counts, deleting,
kicking, a public username)."""

from __future__ import annotations

import asyncio
from typing import Any

from telethon import Button, events, functions, types  # type: ignore[import-untyped]
from telethon.utils import get_peer_id  # type: ignore[import-untyped]

from loopgram.testing.server import ServerThread
from loopgram.testing.telethon import telethon_client

from .support import Pair, eventually, within
from .test_basic_groups import _friend_of


async def _channel(pair: Pair, *members: Any, megagroup: bool = True, title: str = "Club") -> Any:
    """The user creates a supergroup (or a channel) and invites ``members``."""
    created = await within(
        pair.user(
            functions.channels.CreateChannelRequest(
                title=title, about="", megagroup=megagroup, broadcast=not megagroup
            )
        )
    )
    (channel,) = created.chats
    users = [await pair.user.get_input_entity(m) for m in members]
    await within(pair.user(functions.channels.InviteToChannelRequest(channel=channel, users=users)))
    return channel


async def _seen(client: Any, channel_id: int) -> Any:
    """The channel as ``client`` knows it (from the updates it was pushed)."""

    async def find() -> Any:
        try:
            return await client.get_input_entity(types.PeerChannel(channel_id))
        except ValueError:
            return None

    return await eventually(find)


async def _newest(client: Any, channel_id: int, text: str) -> Any:
    async def find() -> Any:
        found = await client.get_messages(types.PeerChannel(channel_id), limit=1)
        return found[0] if found and found[0].text == text else None

    return await eventually(find)


async def test_bot_and_two_users_press_one_button_in_a_supergroup(
    pair: Pair, loopgram_server: ServerThread
) -> None:
    friend, friend_me = await _friend_of(pair, loopgram_server)
    try:
        channel = await _channel(pair, pair.bot_id, friend_me)
        presses: list[Any] = []

        async def on_press(event: Any) -> None:
            presses.append(event)
            await event.answer(f"thanks {event.sender_id}")

        pair.bot.add_event_handler(on_press, events.CallbackQuery())
        target = await _seen(pair.bot, channel.id)
        await within(pair.bot.send_message(target, "vote", buttons=[Button.inline("Yes", b"yes")]))
        mine = await _newest(pair.user, channel.id, "vote")
        theirs = await _newest(friend, channel.id, "vote")
        assert mine.id == theirs.id  # one id for every member
        first = await within(mine.click(data=b"yes"))
        second = await within(theirs.click(data=b"yes"))
        assert first.message == f"thanks {pair.user_id}"
        assert second.message == f"thanks {friend_me.id}"
        assert [p.sender_id for p in presses] == [pair.user_id, friend_me.id]
        assert {p.chat_id for p in presses} == {get_peer_id(types.PeerChannel(channel.id))}
        assert presses[0].query.chat_instance == presses[1].query.chat_instance
        # The bot edits its keyboard from the press: both members see the edit.
        await within(presses[1].edit("vote (2)", buttons=[Button.inline("Yes (2)", b"yes")]))
        for client in (pair.user, friend):
            edited = await _newest(client, channel.id, "vote (2)")
            assert edited.buttons[0][0].text == "Yes (2)"
    finally:
        await friend.disconnect()


async def test_subscriber_presses_a_channel_post_of_an_admin_bot(
    pair: Pair, loopgram_server: ServerThread
) -> None:
    subscriber, sub_me = await _friend_of(pair, loopgram_server)
    try:
        channel = await _channel(pair, pair.bot_id, sub_me, megagroup=False, title="News")
        bot_entity = await pair.user.get_input_entity(pair.bot_id)
        await within(
            pair.user(
                functions.channels.EditAdminRequest(
                    channel=channel,
                    user_id=bot_entity,
                    admin_rights=types.ChatAdminRights(post_messages=True, edit_messages=True),
                    rank="",
                )
            )
        )
        pressed: list[Any] = []

        async def on_press(event: Any) -> None:
            pressed.append(event)
            await event.answer("Read more at t.me", alert=True)

        pair.bot.add_event_handler(on_press, events.CallbackQuery())
        target = await _seen(pair.bot, channel.id)
        await within(
            pair.bot.send_message(target, "Breaking", buttons=[Button.inline("More", b"more")])
        )
        post = await _newest(subscriber, channel.id, "Breaking")
        assert post.post and post.sender_id == get_peer_id(types.PeerChannel(channel.id))
        answer = await within(post.click(data=b"more"))
        assert answer.alert and answer.message == "Read more at t.me"
        (event,) = pressed
        assert event.sender_id == sub_me.id
        assert event.chat_id == get_peer_id(types.PeerChannel(channel.id))
    finally:
        await subscriber.disconnect()


async def test_reconnecting_member_catches_up_through_get_channel_difference(
    pair: Pair, loopgram_server: ServerThread
) -> None:
    friend, friend_me = await _friend_of(pair, loopgram_server)
    try:
        channel = await _channel(pair, friend_me)
        await _seen(friend, channel.id)
        seen: list[str] = []

        async def on_message(event: Any) -> None:
            seen.append(event.raw_text)

        # Telethon takes an account pts of 0 for "no state yet" and then starts afresh on
        # connecting, forgetting its channels' pts too: the friend gets a private message
        # first, as any account that has ever chatted has a pts above 0.
        await within(pair.user.send_message(friend_me, "hi"))
        friend.add_event_handler(on_message, events.NewMessage(chats=[channel.id]))
        await within(pair.user.send_message(channel, "before"))
        await eventually(lambda: _has(seen, "before"))
        # One more call carries Telethon's acknowledgement of the pushed update: what is
        # acknowledged is not resent after the reconnect.
        await within(friend.get_me())
        methods: list[str] = []
        feed = loopgram_server.server.core.feed
        stop = loopgram_server.call(feed.listen, lambda e: methods.append(getattr(e, "method", "")))
        await friend.disconnect()  # Telethon keeps the channel's pts in the session
        for text in ("missed one", "missed two"):
            await within(pair.user.send_message(channel, text))
        # The same session in a client that catches up (Telethon's ``catch_up``).
        friend = telethon_client(loopgram_server, friend.session, catch_up=True)
        friend.add_event_handler(on_message, events.NewMessage(chats=[channel.id]))
        await within(friend.connect())
        # The next update shows Telethon a gap in the channel's pts: it asks
        # getChannelDifference for what it missed, and dispatches it in order.
        await within(pair.user.send_message(channel, "after"))
        await eventually(lambda: _has(seen, "after"), timeout=10.0)
        loopgram_server.call(stop)
        assert seen == ["before", "missed one", "missed two", "after"]
        assert "updates.getChannelDifference" in methods
    finally:
        await friend.disconnect()


async def _has(seen: list[str], text: str) -> bool:
    await asyncio.sleep(0)
    return text in seen


async def test_everyday_channel_methods_through_telethon(
    pair: Pair, loopgram_server: ServerThread
) -> None:
    friend, friend_me = await _friend_of(pair, loopgram_server)
    try:
        channel = await _channel(pair, pair.bot_id, friend_me)
        participants = await within(pair.user.get_participants(channel))
        assert {p.id for p in participants} == {pair.user_id, pair.bot_id, friend_me.id}
        bots = await within(
            pair.user.get_participants(channel, filter=types.ChannelParticipantsBots())
        )
        assert [b.id for b in bots] == [pair.bot_id]
        await within(pair.user.edit_admin(channel, pair.bot_id, delete_messages=True))
        admins = await within(
            pair.user.get_participants(channel, filter=types.ChannelParticipantsAdmins())
        )
        assert {a.id for a in admins} == {pair.user_id, pair.bot_id}

        sent = [await within(pair.user.send_message(channel, text)) for text in ("a", "b")]
        dialogs = await within(friend.get_dialogs())
        (dialog,) = [d for d in dialogs if d.id == get_peer_id(types.PeerChannel(channel.id))]
        assert dialog.unread_count == 4  # two service messages and two texts
        # The friend names the channel with its own access hash (its entity cache), not the
        # creator's: a hash is per viewer.
        theirs = types.PeerChannel(channel.id)
        await within(friend.send_read_acknowledge(theirs, max_id=sent[-1].id))
        dialogs = await within(friend.get_dialogs())
        (dialog,) = [d for d in dialogs if d.id == get_peer_id(types.PeerChannel(channel.id))]
        assert dialog.unread_count == 0

        await within(pair.user.delete_messages(channel, [sent[0].id]))
        left = await within(friend.get_messages(theirs, ids=[sent[0].id, sent[1].id]))
        assert left[0] is None and left[1].text == "b"

        await within(pair.user.kick_participant(channel, friend_me.id))
        members = await within(pair.user.get_participants(channel))
        assert friend_me.id not in {m.id for m in members}

        await within(
            pair.user(
                functions.channels.UpdateUsernameRequest(channel=channel, username="teleclub")
            )
        )
        found = await within(friend.get_entity("teleclub"))
        assert found.id == channel.id and found.megagroup
    finally:
        await friend.disconnect()
