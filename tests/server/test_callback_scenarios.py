"""Server layer: the callback lifecycle beyond the table -- inline messages, keyboards edited
by the bot, a bot racing its edit against its answer, many presses at once, the seed example,
timers and cancelled presses."""

from __future__ import annotations

import asyncio

import loopgram.tl.functions.messages as fmsg
from loopgram.clock import FakeClock
from loopgram.server import ServerCore
from loopgram.storage import PeerRef
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
    settle,
    start_press,
)

# -- the seed example of spec/messages.setBotCallbackAnswer.md -------------------------------

SEED = fmsg.SetBotCallbackAnswer(
    alert=True,
    query_id=5130910,
    message="random string here",
    url="random string here",
    cache_time=3996368,
)


async def test_seed_example_from_a_bot_is_query_id_invalid(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    error = await bot.fails(SEED)
    assert (error.code, error.message) == (400, "QUERY_ID_INVALID")


async def test_seed_example_from_a_user_is_user_bot_required(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0100")
    error = await user.fails(SEED)
    assert (error.code, error.message) == (400, "USER_BOT_REQUIRED")


# -- inline-mode messages ------------------------------------------------------------------------


async def test_inline_message_press_sends_update_inline_bot_callback_query(
    core: ServerCore,
) -> None:
    bot = await login_bot(core, "inline_bot")
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    sent = core.services.messages.send_inline(
        bot.me, alice.me, bob.me, "poll", reply_markup=keyboard([callback("Yes", b"yes")])
    )
    (pushed,) = bob.take(types.UpdateNewMessage)
    assert isinstance(pushed.message, types.Message)
    assert pushed.message.via_bot_id == bot.me.id
    assert isinstance(pushed.message.reply_markup, types.ReplyInlineMarkup)
    bot.pushed.clear()

    task = await start_press(bob, alice, pushed.message.id, b"yes")

    (batch,) = bot.pushed
    assert isinstance(batch, types.Updates) and batch.seq == 0
    (query,) = batch.updates
    assert isinstance(query, types.UpdateInlineBotCallbackQuery)
    assert query.user_id == bob.me.id and query.data == b"yes"
    assert query.msg_id == sent.inline_id
    assert [u.id for u in batch.users if isinstance(u, types.User)] == [bob.me.id]
    assert bot.updates_of(types.UpdateBotCallbackQuery) == []

    await answer(bot, query.query_id, message="Voted")
    assert (await task).message == "Voted"


async def test_bot_edits_inline_message_keyboard(core: ServerCore) -> None:
    bot = await login_bot(core, "inline_bot")
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    sent = core.services.messages.send_inline(
        bot.me, alice.me, bob.me, "poll", reply_markup=keyboard([callback("Yes", b"yes")])
    )
    bob_msg = core.storage.messages.history(bob.me.id, PeerRef.user(alice.me.id), limit=1)[0]
    bob.pushed.clear()

    ok = await bot.call(
        fmsg.EditInlineBotMessage(
            id=sent.inline_id, message="poll closed", reply_markup=keyboard([callback("Re", b"re")])
        )
    )

    assert ok is True
    (edit,) = bob.take(types.UpdateEditMessage)
    assert isinstance(edit.message, types.Message) and edit.message.message == "poll closed"
    assert alice.updates_of(types.UpdateEditMessage)
    error = await bob.fails(
        fmsg.GetBotCallbackAnswer(peer=bob.input_peer(alice), msg_id=bob_msg.id, data=b"yes")
    )
    assert error.message == "DATA_INVALID"
    task = await start_press(bob, alice, bob_msg.id, b"re")
    await answer(bot, bot.updates_of(types.UpdateInlineBotCallbackQuery)[-1].query_id)
    await task

    # Only the inline message's own bot may edit it; unknown ids are MESSAGE_ID_INVALID.
    other = await login_bot(core, "other_bot")
    error = await other.fails(fmsg.EditInlineBotMessage(id=sent.inline_id, message="hijack"))
    assert error.message == "MESSAGE_ID_INVALID"
    fake = types.InputBotInlineMessageID64(dc_id=2, owner_id=alice.me.id, id=999, access_hash=1)
    error = await bot.fails(fmsg.EditInlineBotMessage(id=fake, message="x"))
    assert error.message == "MESSAGE_ID_INVALID"


# -- keyboards edited by the bot, and races -----------------------------------------------------


async def test_keyboard_edited_while_press_pending_still_delivers_answer(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(bot, user)
    task = await start_press(user, bot, msg_id, b"a")
    query = last_query(bot)

    # The bot removes the pressed button, then answers the press it already received.
    await bot.call(
        fmsg.EditMessage(
            peer=bot.input_peer(user),
            id=query.msg_id,
            message="sold out",
            reply_markup=keyboard([callback("B", b"b")]),
        )
    )
    await answer(bot, query.query_id, message="Too late, sold out", alert=True)

    result = await task
    assert result.message == "Too late, sold out" and result.alert
    (edit,) = user.updates_of(types.UpdateEditMessage)
    assert isinstance(edit.message, types.Message) and edit.message.id == msg_id


async def test_bot_racing_edit_message_against_its_answer(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(bot, user)
    task = await start_press(user, bot, msg_id, b"b")
    query = last_query(bot)
    user.pushed.clear()

    edit = bot.call(
        fmsg.EditMessage(
            peer=bot.input_peer(user),
            id=query.msg_id,
            message="you chose B",
        )
    )
    ok, edited = await asyncio.gather(answer(bot, query.query_id, message="B!"), edit)

    assert ok is True
    assert isinstance(edited, types.Updates)
    assert (await task).message == "B!"
    (pushed,) = user.updates_of(types.UpdateEditMessage)
    assert isinstance(pushed.message, types.Message)
    assert pushed.message.message == "you chose B"
    assert pushed.message.reply_markup is None  # a bot's edit without markup removes it


async def test_hundreds_of_presses_to_one_bot_at_once(core: ServerCore) -> None:
    bot = await login_bot(core, "busy_bot")
    users = [await login_user(core, f"+1 555 1{i:03d}") for i in range(300)]
    message_ids = [await keyboard_message(bot, u) for u in users]
    bot.pushed.clear()

    tasks = [
        asyncio.ensure_future(
            u.call(fmsg.GetBotCallbackAnswer(peer=u.input_peer(bot), msg_id=m, data=b"a"))
        )
        for u, m in zip(users, message_ids, strict=True)
    ]
    await settle()

    queries = bot.updates_of(types.UpdateBotCallbackQuery)
    assert len(queries) == 300 and len({q.query_id for q in queries}) == 300
    assert len(core.services.callbacks) == 300
    # Answer in reverse order, each with the presser's id: every user gets their own.
    for query in reversed(queries):
        await answer(bot, query.query_id, message=f"hi {query.user_id}")
    results = await asyncio.gather(*tasks)
    assert [r.message for r in results if isinstance(r, msg_types.BotCallbackAnswer)] == [
        f"hi {u.me.id}" for u in users
    ]
    assert len(core.services.callbacks) == 0 and core.presses.waiting == 0


async def test_hundreds_of_presses_time_out_together(core: ServerCore) -> None:
    bot = await login_bot(core, "busy_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(bot, user)
    tasks = [await start_press(user, bot, msg_id) for _ in range(200)]
    core.clock.advance(15)  # type: ignore[attr-defined]
    assert len(core.tick()) == 200
    await settle()
    assert all(t.exception().message == "BOT_RESPONSE_TIMEOUT" for t in tasks)  # type: ignore[union-attr]
    assert core.next_deadline() is None


async def test_requires_password_button_is_password_missing(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(
        bot, user, keyboard([callback("Pay", b"pay", requires_password=True)])
    )
    error = await user.fails(
        fmsg.GetBotCallbackAnswer(peer=user.input_peer(bot), msg_id=msg_id, data=b"pay")
    )
    assert error.message == "PASSWORD_MISSING"


async def test_bot_cannot_press_buttons(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    await keyboard_message(bot, user)
    own = core.storage.messages.history(bot.me.id, PeerRef.user(user.me.id), limit=1)[0]
    error = await bot.fails(
        fmsg.GetBotCallbackAnswer(peer=bot.input_peer(user), msg_id=own.id, data=b"a")
    )
    assert error.message == "BOT_METHOD_INVALID"


async def test_press_on_a_users_message_is_data_invalid(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    await alice.call(
        fmsg.SendMessage(
            peer=alice.input_peer(bob),
            message="hi",
            random_id=1,
            reply_markup=keyboard([callback("A", b"a")]),  # users' keyboards are dropped
        )
    )
    (new,) = bob.take(types.UpdateNewMessage)
    assert isinstance(new.message, types.Message) and new.message.reply_markup is None
    error = await bob.fails(
        fmsg.GetBotCallbackAnswer(peer=bob.input_peer(alice), msg_id=new.message.id, data=b"a")
    )
    assert error.message == "DATA_INVALID"


async def test_cancelled_press_can_still_be_answered(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))
    task.cancel()  # the client dropped the query (rpc_drop_answer, disconnect)
    await settle()
    assert core.presses.waiting == 0
    assert await answer(bot, last_query(bot).query_id) is True


async def test_run_timers_expires_presses_by_the_injected_clock(
    core: ServerCore, clock: FakeClock
) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        # Time passes on the fake clock only; yield so the rest of the test runs.
        slept.append(seconds)
        clock.advance(seconds)
        await asyncio.sleep(0)

    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    msg_id = await keyboard_message(bot, user)
    timers = asyncio.ensure_future(core.run_timers(sleep=fake_sleep, max_interval=5.0))
    start = clock()
    task = await start_press(user, bot, msg_id)
    try:
        error = None
        for _ in range(100):
            await asyncio.sleep(0)
            if task.done():
                error = task.exception()
                break
        assert error is not None and error.message == "BOT_RESPONSE_TIMEOUT"  # type: ignore[attr-defined]
        assert 15 <= clock() - start <= 20
    finally:
        timers.cancel()
        await asyncio.gather(timers, return_exceptions=True)


async def test_press_reaches_every_live_session_of_the_bot(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    second = Caller(core, auth_key_id=bot.auth_key_id, session_id=2)
    user = await login_user(core, "+1 555 0100")
    task = await start_press(user, bot, await keyboard_message(bot, user))
    assert last_query(bot).query_id == last_query(second).query_id
    await answer(second, last_query(second).query_id, message="from session 2")
    assert (await task).message == "from session 2"
