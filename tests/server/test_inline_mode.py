"""Inline mode through the dispatcher: a user's inline query reaches the bot and waits for its
results, the chosen result becomes a message via the bot, and its buttons are inline callback
queries the bot answers and edits -- with Telegram's errors on the way."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import loopgram.tl.functions.messages as fmsg
from loopgram.clock import FakeClock
from loopgram.server import ServerConfig, ServerCore
from loopgram.storage import PeerRef, Storage
from loopgram.tl import abcs, layers, types
from loopgram.tl.types import messages as msg_types

from .support import Caller, answer, callback, keyboard, login_bot, login_user, make_core, settle


def article(
    text: str = "You picked it",
    *,
    result_id: str = "a1",
    title: str | None = "Pick",
    markup: abcs.ReplyMarkup | None = None,
) -> types.InputBotInlineResult:
    return types.InputBotInlineResult(
        id=result_id,
        type="article",
        title=title,
        description="a result",
        send_message=types.InputBotInlineMessageText(message=text, reply_markup=markup),
    )


async def start_query(
    user: Caller, bot: Caller, peer: abcs.InputPeer | None = None, text: str = "q"
) -> asyncio.Task[Any]:
    """Ask the bot; the task stays pending until it answers or time runs out."""
    task = asyncio.ensure_future(
        user.call(
            fmsg.GetInlineBotResults(
                bot=types.InputUser(user_id=bot.me.id, access_hash=bot.me.access_hash),
                peer=peer if peer is not None else types.InputPeerEmpty(),
                query=text,
                offset="",
            )
        )
    )
    await settle()
    return task


def last_inline_query(bot: Caller) -> types.UpdateBotInlineQuery:
    queries = bot.updates_of(types.UpdateBotInlineQuery)
    assert queries, "the bot got no inline query"
    return queries[-1]


async def set_results(bot: Caller, query_id: int, *results: abcs.InputBotInlineResult) -> bool:
    return await bot.call(
        fmsg.SetInlineBotResults(query_id=query_id, results=list(results), cache_time=0)
    )


async def answered_query(
    user: Caller, bot: Caller, *results: abcs.InputBotInlineResult
) -> msg_types.BotResults:
    task = await start_query(user, bot)
    assert await set_results(bot, last_inline_query(bot).query_id, *results) is True
    found = await task
    assert isinstance(found, msg_types.BotResults)
    return found


def send_result(
    user: Caller, peer: Caller, query_id: int, result_id: str, random_id: int = 77
) -> fmsg.SendInlineBotResult:
    return fmsg.SendInlineBotResult(
        peer=user.input_peer(peer), random_id=random_id, query_id=query_id, id=result_id
    )


def inline_waiting(caller: Caller) -> int:
    """Inline queries the core still holds as pending or awaited."""
    return caller.core.presses.inline_waiting + len(caller.core.services.inline)


@pytest.fixture
async def cast(core: ServerCore) -> tuple[Caller, Caller, Caller]:
    """An inline bot and two users, alice (who uses inline mode) and bob."""
    bot = await login_bot(core, "inline_bot")
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    return bot, alice, bob


# -- the query reaches the bot ------------------------------------------------------------------


async def test_inline_query_reaches_the_bot_and_stays_pending(
    cast: tuple[Caller, Caller, Caller],
) -> None:
    bot, alice, _ = cast
    task = await start_query(alice, bot, alice.input_peer(bot), text="cats")

    (batch,) = bot.pushed
    assert isinstance(batch, types.Updates) and batch.seq == 0 and batch.date > 0
    (query,) = batch.updates
    assert isinstance(query, types.UpdateBotInlineQuery)
    assert (query.user_id, query.query, query.offset) == (alice.me.id, "cats", "")
    assert query.query_id != 0
    assert isinstance(query.peer_type, types.InlineQueryPeerTypeSameBotPM)
    assert [u.id for u in batch.users if isinstance(u, types.User)] == [alice.me.id]
    assert not task.done()
    task.cancel()


@pytest.mark.parametrize(
    ("where", "peer_type"),
    [
        ("nowhere", None),
        ("bot", types.InlineQueryPeerTypeSameBotPM),
        ("user", types.InlineQueryPeerTypePM),
        ("self", types.InlineQueryPeerTypePM),
        ("other_bot", types.InlineQueryPeerTypeBotPM),
    ],
)
async def test_peer_type_tells_the_bot_where_the_user_types(
    core: ServerCore, cast: tuple[Caller, Caller, Caller], where: str, peer_type: type | None
) -> None:
    bot, alice, bob = cast
    other = await login_bot(core, "other_bot")
    peers: dict[str, abcs.InputPeer] = {
        "nowhere": types.InputPeerEmpty(),
        "bot": alice.input_peer(bot),
        "user": alice.input_peer(bob),
        "self": types.InputPeerSelf(),
        "other_bot": alice.input_peer(other),
    }
    task = await start_query(alice, bot, peers[where])
    query = last_inline_query(bot)
    if peer_type is None:
        assert query.peer_type is None
    else:
        assert isinstance(query.peer_type, peer_type)
    task.cancel()


async def test_bot_cannot_ask_and_only_bots_are_asked(
    core: ServerCore, cast: tuple[Caller, Caller, Caller]
) -> None:
    bot, alice, bob = cast
    other = await login_bot(core, "other_bot")
    request = fmsg.GetInlineBotResults(
        bot=types.InputUser(user_id=bot.me.id, access_hash=bot.me.access_hash),
        peer=types.InputPeerEmpty(),
        query="q",
        offset="",
    )
    assert (await other.fails(request)).message == "BOT_METHOD_INVALID"
    not_a_bot = fmsg.GetInlineBotResults(
        bot=types.InputUser(user_id=bob.me.id, access_hash=bob.me.access_hash),
        peer=types.InputPeerEmpty(),
        query="q",
        offset="",
    )
    assert (await alice.fails(not_a_bot)).message == "BOT_INVALID"
    unknown = fmsg.GetInlineBotResults(
        bot=types.InputUser(user_id=bot.me.id, access_hash=1),
        peer=types.InputPeerEmpty(),
        query="q",
        offset="",
    )
    assert (await alice.fails(unknown)).message == "USER_ID_INVALID"
    assert bot.updates_of(types.UpdateBotInlineQuery) == []


# -- the bot answers ------------------------------------------------------------------------------


async def test_answer_returns_the_results_to_the_user(
    cast: tuple[Caller, Caller, Caller],
) -> None:
    bot, alice, _ = cast
    task = await start_query(alice, bot)
    query = last_inline_query(bot)
    ok = await bot.call(
        fmsg.SetInlineBotResults(
            query_id=query.query_id,
            results=[
                article(markup=keyboard([callback("Go", b"go")])),
                article("second", result_id="a2", title="Other"),
            ],
            cache_time=120,
            gallery=True,
            next_offset="20",
            switch_pm=types.InlineBotSwitchPM(text="Settings", start_param="inline"),
        )
    )
    assert ok is True
    found = await task

    assert isinstance(found, msg_types.BotResults)
    assert found.query_id == query.query_id
    assert (found.cache_time, found.gallery, found.next_offset) == (120, True, "20")
    assert found.switch_pm == types.InlineBotSwitchPM(text="Settings", start_param="inline")
    first, second = found.results
    assert isinstance(first, types.BotInlineResult)
    assert (first.id, first.type, first.title, first.description) == (
        "a1",
        "article",
        "Pick",
        "a result",
    )
    assert isinstance(first.send_message, types.BotInlineMessageText)
    assert first.send_message.message == "You picked it"
    assert first.send_message.reply_markup == keyboard([callback("Go", b"go")])
    assert isinstance(second, types.BotInlineResult) and second.id == "a2"
    (shown,) = found.users
    assert isinstance(shown, types.User) and shown.id == bot.me.id and shown.bot
    assert inline_waiting(bot) == 0


async def test_cache_time_is_clamped_and_empty_offset_dropped(
    cast: tuple[Caller, Caller, Caller],
) -> None:
    bot, alice, _ = cast
    task = await start_query(alice, bot)
    await bot.call(
        fmsg.SetInlineBotResults(
            query_id=last_inline_query(bot).query_id,
            results=[article()],
            cache_time=-5,
            next_offset="",
        )
    )
    found = await task
    assert found.cache_time == 0 and found.next_offset is None


async def test_empty_result_ids_get_unique_server_ids(
    cast: tuple[Caller, Caller, Caller],
) -> None:
    bot, alice, _ = cast
    found = await answered_query(
        alice, bot, article(result_id=""), article(result_id=""), article(result_id="mine")
    )
    ids = [r.id for r in found.results if isinstance(r, types.BotInlineResult)]
    assert len(set(ids)) == 3 and all(ids) and ids[2] == "mine"


async def test_no_answer_within_the_window_is_bot_response_timeout(
    core: ServerCore, cast: tuple[Caller, Caller, Caller], clock: FakeClock
) -> None:
    bot, alice, _ = cast
    task = await start_query(alice, bot)
    query = last_inline_query(bot)

    clock.advance(14.5)
    assert core.tick() == []
    assert not task.done()
    clock.advance(0.5)
    (expired,) = core.tick()
    await settle()

    assert expired.query_id == query.query_id and expired.user_id == alice.me.id
    error = task.exception()
    assert (error.code, error.message) == (400, "BOT_RESPONSE_TIMEOUT")  # type: ignore[union-attr]
    late = await bot.fails(
        fmsg.SetInlineBotResults(query_id=query.query_id, results=[article()], cache_time=0)
    )
    assert late.message == "QUERY_ID_INVALID"
    assert core.next_deadline() is None


async def test_offline_bot_times_out_too(core: ServerCore, clock: FakeClock) -> None:
    bot = await login_bot(core, "inline_bot")
    alice = await login_user(core, "+1 555 0100")
    bot.session.close()
    task = await start_query(alice, bot)
    clock.advance(15)
    assert len(core.tick()) == 1
    await settle()
    assert task.exception().message == "BOT_RESPONSE_TIMEOUT"  # type: ignore[union-attr]


async def test_run_timers_expires_inline_queries_by_the_injected_clock(
    core: ServerCore, cast: tuple[Caller, Caller, Caller], clock: FakeClock
) -> None:
    bot, alice, _ = cast

    async def fake_sleep(seconds: float) -> None:
        clock.advance(seconds)
        await asyncio.sleep(0)

    timers = asyncio.ensure_future(core.run_timers(sleep=fake_sleep, max_interval=5.0))
    start = clock()
    task = await start_query(alice, bot)
    try:
        for _ in range(100):
            await asyncio.sleep(0)
            if task.done():
                break
        assert task.exception().message == "BOT_RESPONSE_TIMEOUT"  # type: ignore[union-attr]
        assert 15 <= clock() - start <= 20
    finally:
        timers.cancel()
        await asyncio.gather(timers, return_exceptions=True)


async def test_second_unknown_and_another_bots_answers_are_query_id_invalid(
    core: ServerCore, cast: tuple[Caller, Caller, Caller]
) -> None:
    bot, alice, _ = cast
    other = await login_bot(core, "other_bot")
    task = await start_query(alice, bot)
    query_id = last_inline_query(bot).query_id

    hijack = await other.fails(
        fmsg.SetInlineBotResults(query_id=query_id, results=[article()], cache_time=0)
    )
    assert hijack.message == "QUERY_ID_INVALID"
    unknown = await bot.fails(
        fmsg.SetInlineBotResults(query_id=query_id + 1, results=[article()], cache_time=0)
    )
    assert unknown.message == "QUERY_ID_INVALID"
    assert await set_results(bot, query_id, article()) is True
    again = await bot.fails(
        fmsg.SetInlineBotResults(query_id=query_id, results=[article()], cache_time=0)
    )
    assert again.message == "QUERY_ID_INVALID"
    assert isinstance(await task, msg_types.BotResults)


async def test_user_answering_is_user_bot_required(cast: tuple[Caller, Caller, Caller]) -> None:
    bot, alice, bob = cast
    task = await start_query(alice, bot)
    error = await bob.fails(
        fmsg.SetInlineBotResults(
            query_id=last_inline_query(bot).query_id, results=[article()], cache_time=0
        )
    )
    assert error.message == "USER_BOT_REQUIRED"
    task.cancel()


@pytest.mark.parametrize(
    ("result", "error"),
    [
        (
            types.InputBotInlineResultPhoto(
                id="p",
                type="photo",
                photo=types.InputPhotoEmpty(),
                send_message=types.InputBotInlineMessageMediaAuto(message=""),
            ),
            "RESULT_TYPE_INVALID",
        ),
        (
            types.InputBotInlineResult(
                id="x", type="photo", send_message=types.InputBotInlineMessageText(message="x")
            ),
            "RESULT_TYPE_INVALID",
        ),
        (
            types.InputBotInlineResult(
                id="g",
                type="article",
                title="Where",
                send_message=types.InputBotInlineMessageMediaGeo(
                    geo_point=types.InputGeoPoint(lat=1.0, long=2.0)
                ),
            ),
            "SEND_MESSAGE_TYPE_INVALID",
        ),
        (article(title=None), "ARTICLE_TITLE_EMPTY"),
        (article(" "), "MESSAGE_EMPTY"),
        (article("x" * 4097), "MESSAGE_TOO_LONG"),
        (article(result_id="i" * 65), "RESULT_ID_INVALID"),
        (
            article(markup=types.ReplyKeyboardMarkup(rows=[])),
            "REPLY_MARKUP_INVALID",
        ),
        (article(markup=keyboard([callback("Big", b"x" * 65)])), "BUTTON_DATA_INVALID"),
    ],
)
async def test_unsupported_or_bad_results_are_refused_and_the_query_stays_pending(
    cast: tuple[Caller, Caller, Caller], result: abcs.InputBotInlineResult, error: str
) -> None:
    bot, alice, _ = cast
    task = await start_query(alice, bot)
    query_id = last_inline_query(bot).query_id
    refused = await bot.fails(
        fmsg.SetInlineBotResults(query_id=query_id, results=[result], cache_time=0)
    )
    assert refused.message == error
    assert await set_results(bot, query_id, article()) is True
    assert isinstance(await task, msg_types.BotResults)


async def test_duplicate_ids_too_many_results_and_long_offsets_are_refused(
    core: ServerCore, cast: tuple[Caller, Caller, Caller]
) -> None:
    bot, alice, _ = cast
    task = await start_query(alice, bot)
    query_id = last_inline_query(bot).query_id

    async def refused(**kwargs: Any) -> str:
        request = fmsg.SetInlineBotResults(query_id=query_id, cache_time=0, **kwargs)
        return (await bot.fails(request)).message

    assert await refused(results=[article(), article()]) == "RESULT_ID_DUPLICATE"
    many = [article(result_id=str(i)) for i in range(core.config.inline_results_max + 1)]
    assert await refused(results=many) == "RESULTS_TOO_MUCH"
    assert await refused(results=[article()], next_offset="o" * 65) == "NEXT_OFFSET_INVALID"
    assert await set_results(bot, query_id, *many[:-1]) is True
    assert len((await task).results) == core.config.inline_results_max


# -- the user sends a result ----------------------------------------------------------------------


async def test_sent_result_becomes_a_message_via_the_bot_with_its_keyboard(
    cast: tuple[Caller, Caller, Caller],
) -> None:
    bot, alice, bob = cast
    found = await answered_query(
        alice, bot, article("Vote!", markup=keyboard([callback("Y", b"y")]))
    )
    alice.pushed.clear()
    bot.pushed.clear()

    sent = await alice.call(send_result(alice, bob, found.query_id, "a1", random_id=4242))

    assert isinstance(sent, types.Updates)
    ids = [u for u in sent.updates if isinstance(u, types.UpdateMessageID)]
    assert [u.random_id for u in ids] == [4242]
    (new,) = [u for u in sent.updates if isinstance(u, types.UpdateNewMessage)]
    message = new.message
    assert isinstance(message, types.Message)
    assert message.id == ids[0].id and message.out
    assert (message.message, message.via_bot_id) == ("Vote!", bot.me.id)
    assert message.reply_markup == keyboard([callback("Y", b"y")])
    assert {u.id for u in sent.users if isinstance(u, types.User)} >= {
        alice.me.id,
        bob.me.id,
        bot.me.id,
    }
    assert alice.pushed == []  # the caller's own session gets it in the answer only

    (received,) = bob.take(types.UpdateNewMessage)
    assert isinstance(received.message, types.Message)
    assert received.message.via_bot_id == bot.me.id
    assert received.message.reply_markup == keyboard([callback("Y", b"y")])

    (feedback,) = bot.updates_of(types.UpdateBotInlineSend)
    assert (feedback.user_id, feedback.query, feedback.id) == (alice.me.id, "q", "a1")
    assert isinstance(feedback.msg_id, types.InputBotInlineMessageID64)
    assert (feedback.msg_id.owner_id, feedback.msg_id.id) == (alice.me.id, message.id)
    (batch,) = bot.pushed
    assert isinstance(batch, types.Updates)
    assert [u.id for u in batch.users if isinstance(u, types.User)] == [alice.me.id]


async def test_result_without_keyboard_sends_no_inline_message_id(
    cast: tuple[Caller, Caller, Caller],
) -> None:
    bot, alice, _ = cast
    found = await answered_query(alice, bot, article("plain"))
    sent = await alice.call(send_result(alice, bot, found.query_id, "a1"))
    assert isinstance(sent, types.Updates)
    (feedback,) = bot.updates_of(types.UpdateBotInlineSend)
    assert feedback.msg_id is None
    # Sent into the chat with the bot itself: the bot gets the message too.
    (new,) = bot.updates_of(types.UpdateNewMessage)
    assert isinstance(new.message, types.Message) and new.message.via_bot_id == bot.me.id


async def test_press_on_a_sent_result_reaches_the_bot_as_an_inline_callback(
    cast: tuple[Caller, Caller, Caller],
) -> None:
    bot, alice, bob = cast
    markup = keyboard([callback("Yes", b"yes")])
    found = await answered_query(alice, bot, article("poll", markup=markup))
    await alice.call(send_result(alice, bob, found.query_id, "a1"))
    (feedback,) = bot.updates_of(types.UpdateBotInlineSend)
    (received,) = bob.take(types.UpdateNewMessage)
    assert isinstance(received.message, types.Message)

    press = asyncio.ensure_future(
        bob.call(
            fmsg.GetBotCallbackAnswer(
                peer=bob.input_peer(alice), msg_id=received.message.id, data=b"yes"
            )
        )
    )
    await settle()
    (query,) = bot.updates_of(types.UpdateInlineBotCallbackQuery)
    assert query.msg_id == feedback.msg_id
    assert (query.user_id, query.data) == (bob.me.id, b"yes")
    assert bot.updates_of(types.UpdateBotCallbackQuery) == []

    assert await answer(bot, query.query_id, message="Counted", alert=True) is True
    got = await press
    assert isinstance(got, msg_types.BotCallbackAnswer)
    assert (got.message, got.alert) == ("Counted", True)

    assert feedback.msg_id is not None
    ok = await bot.call(
        fmsg.EditInlineBotMessage(id=feedback.msg_id, message="poll closed", reply_markup=None)
    )
    assert ok is True
    (edit,) = bob.take(types.UpdateEditMessage)
    assert isinstance(edit.message, types.Message)
    assert edit.message.message == "poll closed" and edit.message.reply_markup is None


async def test_sending_unknown_or_expired_results_is_refused(
    storage: Storage, clock: FakeClock
) -> None:
    core = make_core(storage, clock, ServerConfig(inline_results_ttl=60.0))
    bot = await login_bot(core, "inline_bot")
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    found = await answered_query(alice, bot, article())

    async def refused(caller: Caller, query_id: int, result_id: str) -> str:
        return (await caller.fails(send_result(caller, bot, query_id, result_id))).message

    assert await refused(alice, 0, "a1") == "QUERY_ID_EMPTY"
    assert await refused(alice, found.query_id, "") == "RESULT_ID_EMPTY"
    assert await refused(alice, found.query_id + 1, "a1") == "INLINE_RESULT_EXPIRED"
    assert await refused(bob, found.query_id, "a1") == "INLINE_RESULT_EXPIRED"  # not bob's
    assert await refused(alice, found.query_id, "zz") == "RESULT_ID_INVALID"
    bad_peer = fmsg.SendInlineBotResult(
        peer=types.InputPeerUser(user_id=bob.me.id, access_hash=1),
        random_id=1,
        query_id=found.query_id,
        id="a1",
    )
    assert (await alice.fails(bad_peer)).message == "PEER_ID_INVALID"
    assert (await bot.fails(send_result(bot, alice, found.query_id, "a1"))).message == (
        "BOT_METHOD_INVALID"
    )

    # The same result can be sent again while the results last, not after.
    for random_id in (1, 2):
        again = await alice.call(send_result(alice, bot, found.query_id, "a1", random_id))
        assert isinstance(again, types.Updates)
    clock.advance(60)
    assert await refused(alice, found.query_id, "a1") == "INLINE_RESULT_EXPIRED"
    history = core.storage.messages.history(alice.me.id, PeerRef.user(bot.me.id), limit=10)
    assert [m.text for m in history] == ["You picked it", "You picked it"]


async def test_pending_query_has_no_results_to_send(cast: tuple[Caller, Caller, Caller]) -> None:
    bot, alice, _ = cast
    task = await start_query(alice, bot)
    query_id = last_inline_query(bot).query_id
    error = await alice.fails(send_result(alice, bot, query_id, "a1"))
    assert error.message == "INLINE_RESULT_EXPIRED"
    task.cancel()


@pytest.mark.parametrize("layer", [158, 198, 227])
def test_results_and_queries_are_written_in_older_layers(layer: int) -> None:
    results = msg_types.BotResults(
        query_id=5,
        results=[
            types.BotInlineResult(
                id="x",
                type="article",
                title="t",
                send_message=types.BotInlineMessageText(
                    message="hi", reply_markup=keyboard([callback("b", b"d")])
                ),
            )
        ],
        cache_time=0,
        users=[],
    )
    query = types.Updates(
        updates=[
            types.UpdateBotInlineQuery(
                query_id=1,
                user_id=2,
                query="q",
                peer_type=types.InlineQueryPeerTypeSameBotPM(),
                offset="",
            )
        ],
        users=[],
        chats=[],
        date=1,
        seq=0,
    )
    # The keyboard inside a result is restructured below layer 229: it must come back whole.
    for obj in (results, query):
        assert layers.read(layers.serialize(obj, layer), layer) == obj
