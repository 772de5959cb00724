"""Server layer: one test per row of DESIGN.md's table "The callback-query rules", each in
a private chat, a basic group, a supergroup and a broadcast channel.

In the ``group`` run every conversation between a user and a bot happens in a group of the
two (created on first use): ``Caller.input_peer`` answers the group's ``inputPeerChat``, so
the same requests and assertions exercise the group path. The ``supergroup`` run does the
same in a supergroup the user created and the bot is a member of, the ``channel`` run in a
broadcast channel whose admin is the bot and whose subscriber is the user; there
``input_peer`` is the caller's own ``inputPeerChannel`` (its own access hash).
Conversations between two users (the inline-mode row) stay private.
"""

from __future__ import annotations

from typing import Any

import pytest

import loopgram.tl.functions.messages as fmsg
from loopgram.clock import FakeClock
from loopgram.server import ServerConfig, ServerCore
from loopgram.storage import Account, PeerRef, Storage
from loopgram.storage.channels import ChannelRole
from loopgram.tl import types
from loopgram.tl.types import messages as msg_types

from .support import (
    Caller,
    answer,
    callback,
    keyboard,
    keyboard_message,
    last_query,
    login_bot,
    login_user,
    make_core,
    open_chat,
    settle,
    start_press,
)


@pytest.fixture(params=["private", "group", "supergroup", "channel"], autouse=True)
def chat_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    kind = str(request.param)
    if kind != "private":
        private_peer = Caller.input_peer

        def shared_peer(self: Caller, other: Caller | Account) -> Any:
            account = other.me if isinstance(other, Caller) else other
            if self.me.is_bot == account.is_bot:
                return private_peer(self, other)
            user, bot = (account, self.me) if self.me.is_bot else (self.me, account)
            if kind == "group":
                return types.InputPeerChat(chat_id=_group_of(self.core.storage, user, bot))
            channel_id = _channel_of(self.core.storage, user, bot, megagroup=kind == "supergroup")
            return types.InputPeerChannel(
                channel_id=channel_id,
                access_hash=self.core.services.keys.channel_access_hash(self.me.id, channel_id),
            )

        monkeypatch.setattr(Caller, "input_peer", shared_peer)
    return kind


def _group_of(storage: Storage, user: Account, bot: Account) -> int:
    # Made straight in storage: no service message disturbs what the rows count.
    shared = set(storage.chats.chats_of(user.id)) & set(storage.chats.chats_of(bot.id))
    if shared:
        return min(shared)
    chat, _ = storage.chats.create(user.id, "rules", [bot.id], date=0)
    return chat.id


def _channel_of(storage: Storage, user: Account, bot: Account, *, megagroup: bool) -> int:
    # Made straight in storage, like the groups: a supergroup of the user with the bot as a
    # member, or a channel of the bot (its admin) with the user as a subscriber.
    shared = set(storage.channels.channels_of(user.id)) & set(storage.channels.channels_of(bot.id))
    for channel in storage.channels.get_many(sorted(shared)):
        if channel.megagroup == megagroup:
            return channel.id
    creator, member = (user, bot) if megagroup else (bot, user)
    channel = storage.channels.create(creator.id, "rules", about="", megagroup=megagroup, date=0)
    storage.channels.put_member(
        channel.id, member.id, role=ChannelRole.MEMBER, inviter_id=creator.id, date=0
    )
    return channel.id


def _last_bot_message(chat_kind: str, bot: Caller, user: Caller) -> int:
    """The id of the bot's newest message in its chat with ``user``, as the bot names it."""
    storage = bot.core.storage
    if chat_kind in ("supergroup", "channel"):
        channel_id = _channel_of(storage, user.me, bot.me, megagroup=chat_kind == "supergroup")
        return storage.channels.history(channel_id, limit=1)[0].id
    return storage.messages.history(bot.me.id, _peer(chat_kind, bot, user), limit=1)[0].id


def _peer(chat_kind: str, bot: Caller, user: Caller) -> PeerRef:
    """The chat of ``bot`` and ``user`` as the storage keys it."""
    if chat_kind == "group":
        return PeerRef.chat(_group_of(bot.core.storage, user.me, bot.me))
    return PeerRef.user(user.me.id)


# -- a user presses a callback button of a bot's message ------------------------------------


async def test_press_sends_update_bot_callback_query_and_stays_pending(
    core: ServerCore, chat_kind: str
) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(bot, user)
    bot.pushed.clear()

    task = await start_press(user, bot, msg_id, b"b")

    assert not task.done()
    (batch,) = bot.pushed
    assert isinstance(batch, types.Updates)
    assert batch.seq == 0 and batch.date == int(core.clock())
    if chat_kind in ("supergroup", "channel"):
        channel_id = _channel_of(core.storage, user.me, bot.me, megagroup=chat_kind == "supergroup")
        (channel,) = batch.chats
        assert isinstance(channel, types.Channel) and channel.id == channel_id
        # The channel as the bot sees it: the bot's own access hash.
        assert channel.access_hash == bot.input_peer(user).access_hash
    group = _peer(chat_kind, bot, user)
    if chat_kind == "group":
        assert [c.id for c in batch.chats if isinstance(c, types.Chat)] == [group.id]
    elif chat_kind == "private":
        assert batch.chats == []
    assert [u.id for u in batch.users if isinstance(u, types.User)] == [user.me.id]
    (query,) = batch.updates
    assert isinstance(query, types.UpdateBotCallbackQuery)
    assert query.user_id == user.me.id
    if chat_kind == "group":
        assert query.peer == types.PeerChat(chat_id=group.id)
    elif chat_kind != "private":
        assert query.peer == types.PeerChannel(channel_id=channel.id)
    else:
        assert query.peer == types.PeerUser(user_id=user.me.id)
    assert query.data == b"b" and query.game_short_name is None
    assert query.query_id != 0
    # msg_id is the message's id in the bot's box (a channel's own id in a channel), where
    # the bot can edit it.
    assert query.msg_id == _last_bot_message(chat_kind, bot, user)
    if chat_kind in ("private", "group"):
        bot_copy = core.storage.messages.get(bot.me.id, query.msg_id)
        assert bot_copy is not None and bot_copy.out and bot_copy.text == "pick one"
    task.cancel()


async def test_query_ids_are_random_64_bit(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(bot, user)
    tasks = [await start_press(user, bot, msg_id) for _ in range(20)]
    ids = [q.query_id for q in bot.updates_of(types.UpdateBotCallbackQuery)]
    assert len(set(ids)) == 20
    assert all(-(2**63) <= i < 2**63 for i in ids)
    assert any(abs(i) > 2**40 for i in ids)
    for task in tasks:
        task.cancel()


# -- the bot answers in time ---------------------------------------------------------------


async def test_answer_in_time_returns_bool_true_and_relays_answer(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(bot, user)
    task = await start_press(user, bot, msg_id)
    core.clock.advance(14.9)  # type: ignore[attr-defined]

    ok = await answer(
        bot,
        last_query(bot).query_id,
        alert=True,
        message="Added to cart",
        url="https://t.me/shop_bot?start=cart",
        cache_time=60,
    )

    assert ok is True
    result = await task
    assert result == msg_types.BotCallbackAnswer(
        alert=True,
        has_url=True,
        message="Added to cart",
        url="https://t.me/shop_bot?start=cart",
        cache_time=60,
    )


async def test_answer_without_message_or_url(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))
    assert await answer(bot, last_query(bot).query_id) is True
    assert await task == msg_types.BotCallbackAnswer(cache_time=0)


# -- the bot does not answer within the window -----------------------------------------------


async def test_no_answer_within_window_is_bot_response_timeout(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))

    core.clock.advance(14.5)  # type: ignore[attr-defined]
    assert core.tick() == []
    assert not task.done()
    core.clock.advance(0.5)  # type: ignore[attr-defined]
    (expired,) = core.tick()
    await settle()

    assert task.done()
    error = task.exception()
    assert (error.code, error.message) == (400, "BOT_RESPONSE_TIMEOUT")  # type: ignore[union-attr]
    assert expired.user_id == user.me.id


async def test_bot_offline_is_bot_response_timeout_after_the_window(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(bot, user)
    bot.session.close()  # the bot disconnects: nobody receives the query

    task = await start_press(user, bot.me, msg_id)
    assert not task.done()  # an offline bot is no reason to answer early
    core.clock.advance(15)  # type: ignore[attr-defined]
    core.tick()
    await settle()
    assert task.exception().message == "BOT_RESPONSE_TIMEOUT"  # type: ignore[union-attr]


async def test_window_is_configurable(storage: Storage, clock: FakeClock) -> None:
    core = make_core(storage, clock, ServerConfig(callback_timeout=2.0))
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))
    clock.advance(2.0)
    core.tick()
    await settle()
    assert task.exception().message == "BOT_RESPONSE_TIMEOUT"  # type: ignore[union-attr]


# -- answer after the window, a second answer, an unknown id, another bot's query ------------


async def test_answer_after_the_window_is_query_id_invalid(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))
    core.clock.advance(15)  # type: ignore[attr-defined]

    # Even before the timer ran: the window is over by the clock.
    error = await bot.fails(
        fmsg.SetBotCallbackAnswer(query_id=last_query(bot).query_id, cache_time=0)
    )

    assert (error.code, error.message) == (400, "QUERY_ID_INVALID")
    await settle()
    assert task.exception().message == "BOT_RESPONSE_TIMEOUT"  # type: ignore[union-attr]


async def test_second_answer_is_query_id_invalid(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))
    query_id = last_query(bot).query_id
    await answer(bot, query_id, message="first")

    error = await bot.fails(
        fmsg.SetBotCallbackAnswer(query_id=query_id, message="second", cache_time=0)
    )

    assert error.message == "QUERY_ID_INVALID"
    assert (await task).message == "first"


async def test_unknown_query_id_is_query_id_invalid(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    error = await bot.fails(fmsg.SetBotCallbackAnswer(query_id=123456789, cache_time=0))
    assert (error.code, error.message) == (400, "QUERY_ID_INVALID")


async def test_another_bots_query_is_query_id_invalid(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    other = await login_bot(core, "other_bot")
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))
    query_id = last_query(bot).query_id

    error = await other.fails(fmsg.SetBotCallbackAnswer(query_id=query_id, cache_time=0))

    assert error.message == "QUERY_ID_INVALID"
    await answer(bot, query_id, message="mine")  # the real bot still can
    assert (await task).message == "mine"


# -- the caller is a user, not a bot ---------------------------------------------------------


async def test_answer_from_user_is_user_bot_required(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))
    query_id = last_query(bot).query_id

    # Checked before the query id: a real pending id and a made-up one answer the same.
    for qid in (query_id, 42):
        error = await user.fails(fmsg.SetBotCallbackAnswer(query_id=qid, cache_time=0))
        assert (error.code, error.message) == (400, "USER_BOT_REQUIRED")
    task.cancel()


# -- message longer than 200 characters --------------------------------------------------------


async def test_message_over_200_characters_is_message_too_long(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))
    query_id = last_query(bot).query_id

    error = await bot.fails(
        fmsg.SetBotCallbackAnswer(query_id=query_id, message="x" * 201, cache_time=0)
    )
    assert (error.code, error.message) == (400, "MESSAGE_TOO_LONG")

    # A refused answer leaves the query pending: 200 characters (not bytes) are fine.
    text = "é" * 200
    assert await answer(bot, query_id, message=text)
    assert (await task).message == text


async def test_answer_length_is_configurable(storage: Storage, clock: FakeClock) -> None:
    core = make_core(storage, clock, ServerConfig(callback_message_max=5))
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))
    query_id = last_query(bot).query_id
    error = await bot.fails(
        fmsg.SetBotCallbackAnswer(query_id=query_id, message="123456", cache_time=0)
    )
    assert error.message == "MESSAGE_TOO_LONG"
    await answer(bot, query_id, message="12345")
    assert (await task).message == "12345"


# -- url other than the bot's own deep link (or, for a game button, the game URL) --------------

GOOD_LINKS = [
    "https://t.me/shop_bot?start=cart",
    "http://t.me/shop_bot?start=x",
    "t.me/shop_bot?start=abc-DEF_123",
    "https://telegram.me/shop_bot?start=1",
    "HTTPS://T.ME/SHOP_BOT?start=1",
    "https://t.me/Shop_Bot?start=1",
    "tg://resolve?domain=shop_bot&start=1",
    "tg://resolve?start=1&domain=SHOP_BOT",
]

BAD_LINKS = [
    "random string here",
    "https://example.com/",
    "https://t.me/other_bot?start=1",
    "https://t.me/shop_bot",
    "https://t.me/shop_bot?start=",
    "https://t.me/shop_bot?start=" + "a" * 65,
    "https://t.me/shop_bot?start=a b",
    "https://t.me/shop_bot?start=1&x=2",
    "https://t.me/shop_bot?startgroup=1",
    "https://t.me:8443/shop_bot?start=1",
    "https://evil.t.me/shop_bot?start=1",
    "ftp://t.me/shop_bot?start=1",
    "tg://resolve?domain=other_bot&start=1",
    "tg://resolve?domain=shop_bot",
    "tg://msg?domain=shop_bot&start=1",
]


@pytest.mark.parametrize("url", GOOD_LINKS)
async def test_bots_own_deep_link_is_accepted(core: ServerCore, url: str) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))
    assert await answer(bot, last_query(bot).query_id, url=url)
    result = await task
    assert result.url == url and result.has_url


@pytest.mark.parametrize("url", BAD_LINKS)
async def test_url_other_than_bots_deep_link_is_url_invalid(core: ServerCore, url: str) -> None:
    bot = await login_bot(core, "shop_bot")
    await login_bot(core, "other_bot")
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))
    query_id = last_query(bot).query_id

    error = await bot.fails(fmsg.SetBotCallbackAnswer(query_id=query_id, url=url, cache_time=0))

    assert (error.code, error.message) == (400, "URL_INVALID")
    assert not task.done()  # still pending: the bot may answer again
    task.cancel()


async def test_game_button_accepts_game_url_only(core: ServerCore) -> None:
    bot = await login_bot(core, "games_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await _game_message(bot, user)
    task = await start_press(user, bot, msg_id, data=None, game=True)
    query_id = last_query(bot).query_id

    for bad in ("not a url", "tg://resolve?domain=games_bot&start=1", "ftp://games.example/"):
        error = await bot.fails(fmsg.SetBotCallbackAnswer(query_id=query_id, url=bad, cache_time=0))
        assert error.message == "URL_INVALID", bad

    url = "https://games.example.com/snake?session=42"
    assert await answer(bot, query_id, url=url)
    result = await task
    assert result.url == url and result.has_url


# -- data not on any button; unknown message; unknown peer ---------------------------------------


async def test_data_not_on_keyboard_is_data_invalid(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(bot, user)

    error = await user.fails(
        fmsg.GetBotCallbackAnswer(peer=user.input_peer(bot), msg_id=msg_id, data=b"zzz")
    )
    assert (error.code, error.message) == (400, "DATA_INVALID")
    assert bot.updates_of(types.UpdateBotCallbackQuery) == []


async def test_data_of_edited_away_button_is_data_invalid(core: ServerCore, chat_kind: str) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(bot, user)
    bot_msg_id = _last_bot_message(chat_kind, bot, user)
    await bot.call(
        fmsg.EditMessage(
            peer=bot.input_peer(user),
            id=bot_msg_id,
            reply_markup=keyboard([callback("C", b"c")]),
        )
    )

    error = await user.fails(
        fmsg.GetBotCallbackAnswer(peer=user.input_peer(bot), msg_id=msg_id, data=b"a")
    )
    assert error.message == "DATA_INVALID"
    task = await start_press(user, bot, msg_id, b"c")  # the new button works
    await answer(bot, last_query(bot).query_id)
    await task


async def test_unknown_message_is_message_id_invalid(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(bot, user)
    error = await user.fails(
        fmsg.GetBotCallbackAnswer(peer=user.input_peer(bot), msg_id=msg_id + 100, data=b"a")
    )
    assert (error.code, error.message) == (400, "MESSAGE_ID_INVALID")


async def test_message_of_another_chat_is_message_id_invalid(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    other = await login_bot(core, "other_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(bot, user)
    error = await user.fails(
        fmsg.GetBotCallbackAnswer(peer=user.input_peer(other), msg_id=msg_id, data=b"a")
    )
    assert error.message == "MESSAGE_ID_INVALID"


@pytest.mark.parametrize("case", ["unknown user", "wrong access hash", "group"])
async def test_unknown_peer_is_peer_id_invalid(core: ServerCore, case: str) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(bot, user)
    peer: types.InputPeerUser | types.InputPeerChat = {
        "unknown user": types.InputPeerUser(user_id=999, access_hash=1),
        "wrong access hash": types.InputPeerUser(user_id=bot.me.id, access_hash=1),
        "group": types.InputPeerChat(chat_id=5),
    }[case]  # type: ignore[assignment]
    error = await user.fails(fmsg.GetBotCallbackAnswer(peer=peer, msg_id=msg_id, data=b"a"))
    assert (error.code, error.message) == (400, "PEER_ID_INVALID")


# -- cache_time ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "relayed"),
    [(0, 0), (3600, 3600), (-5, 0), (2_592_000, 2_592_000), (3_996_368, 2_592_000)],
)
async def test_cache_time_is_clamped_and_relayed(core: ServerCore, sent: int, relayed: int) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))
    await answer(bot, last_query(bot).query_id, cache_time=sent)
    assert (await task).cache_time == relayed


# -- chat_instance ---------------------------------------------------------------------------------


async def test_chat_instance_is_stable_per_chat(
    core: ServerCore, storage: Storage, clock: FakeClock
) -> None:
    bot = await login_bot(core, "shop_bot")
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    first = await keyboard_message(bot, alice)
    second = await keyboard_message(bot, alice, text="another message")
    on_bob = await keyboard_message(bot, bob)

    tasks = [
        await start_press(alice, bot, first),
        await start_press(alice, bot, second, b"b"),
        await start_press(bob, bot, on_bob),
    ]
    a1, a2, b1 = (q.chat_instance for q in bot.updates_of(types.UpdateBotCallbackQuery))
    assert a1 == a2  # the same chat, whatever the message or button
    assert a1 != b1  # another chat
    for task in tasks:
        task.cancel()

    # Stable across a restart: a new server on the same storage derives the same value.
    restarted = make_core(storage, clock)
    bot2 = Caller(restarted, auth_key_id=bot.auth_key_id, session_id=2)
    bot2.account = bot.me
    alice2 = Caller(restarted, auth_key_id=alice.auth_key_id, session_id=2)
    alice2.account = alice.me
    task = await start_press(alice2, bot2, first)
    assert last_query(bot2).chat_instance == a1
    task.cancel()


async def test_chat_instance_is_the_same_for_every_user_of_a_chat(core: ServerCore) -> None:
    # In a private chat between two users holding an inline-mode message, both users press.
    bot = await login_bot(core, "inline_bot")
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    sent = core.services.messages.send_inline(
        bot.me, alice.me, bob.me, "vote", reply_markup=keyboard([callback("Yes", b"y")])
    )
    bob_copy = core.storage.messages.history(bob.me.id, PeerRef.user(alice.me.id), limit=1)[0]

    t1 = await start_press(alice, bob, sent.message.id, b"y")
    t2 = await start_press(bob, alice, bob_copy.id, b"y")

    q1, q2 = bot.updates_of(types.UpdateInlineBotCallbackQuery)
    assert q1.chat_instance == q2.chat_instance
    assert {q1.user_id, q2.user_id} == {alice.me.id, bob.me.id}
    t1.cancel()
    t2.cancel()


# -- exactly one of data / game_short_name ----------------------------------------------------


async def test_game_button_sends_game_short_name_and_no_data(core: ServerCore) -> None:
    bot = await login_bot(core, "games_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await _game_message(bot, user)
    bot.pushed.clear()

    task = await start_press(user, bot, msg_id, data=None, game=True)

    query = last_query(bot)
    assert query.game_short_name == "snake" and query.data is None
    await answer(bot, query.query_id, url="https://games.example.com/snake")
    assert (await task).url == "https://games.example.com/snake"


async def test_callback_button_sends_data_and_no_game_short_name(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))
    query = last_query(bot)
    assert query.data == b"a" and query.game_short_name is None
    task.cancel()


@pytest.mark.parametrize(("data", "game"), [(b"a", True), (None, False)])
async def test_both_or_neither_of_data_and_game_is_data_invalid(
    core: ServerCore, data: bytes | None, game: bool
) -> None:
    bot = await login_bot(core, "games_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await _game_message(bot, user)
    error = await user.fails(
        fmsg.GetBotCallbackAnswer(peer=user.input_peer(bot), msg_id=msg_id, data=data, game=game)
    )
    assert error.message == "DATA_INVALID"


async def test_game_flag_on_message_without_game_button_is_data_invalid(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(bot, user)
    error = await user.fails(
        fmsg.GetBotCallbackAnswer(peer=user.input_peer(bot), msg_id=msg_id, game=True)
    )
    assert error.message == "DATA_INVALID"


# -- helpers ---------------------------------------------------------------------------------------


async def _game_message(bot: Caller, user: Caller) -> int:
    open_chat(bot.core, user.me, bot.me)
    user.pushed.clear()
    await bot.call(
        fmsg.SendMedia(
            peer=bot.input_peer(user),
            media=types.InputMediaGame(
                id=types.InputGameShortName(bot_id=types.InputUserSelf(), short_name="snake")
            ),
            message="",
            random_id=77,
        )
    )
    (update,) = user.updates_of(types.UpdateNewMessage) + user.updates_of(
        types.UpdateNewChannelMessage
    )
    user.pushed.clear()
    message = update.message
    assert isinstance(message, types.Message)
    assert isinstance(message.media, types.MessageMediaGame)
    return message.id
