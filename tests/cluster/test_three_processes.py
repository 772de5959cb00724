"""Three ``loopgram serve`` processes on one PostgreSQL schema and one Redis prefix, real
Telethon clients over loopback TCP: the bot connected to process 0, users to processes 1
and 2. Presses travel to the bot through the update fan-out, answers back to the waiting
user through the shared pending-call table; kill -9 of a process is survived by its
clients reconnecting elsewhere with their auth keys."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telethon import Button, errors, events, functions  # type: ignore[import-untyped]

from loopgram.testing.cluster import ClusterNode, ServerCluster
from tests.cluster.conftest import new_bot
from tests.integration.support import Pair, make_pair, start_bot, start_user, within
from tests.integration.test_callbacks import queries


def press(pair: Pair, msg_id: int, data: bytes) -> asyncio.Future[Any]:
    """The user's press as a raw request (Telethon's ``click`` hides the query's errors)."""
    request = functions.messages.GetBotCallbackAnswerRequest(
        peer=pair.bot_username, msg_id=msg_id, data=data
    )
    return asyncio.ensure_future(within(pair.user(request)))


async def raw_answer(bot: Any, event: Any, message: str) -> Any:
    """The bot's answer as a raw request (Telethon's ``event.answer`` sends one only once)."""
    request = functions.messages.SetBotCallbackAnswerRequest(
        query_id=event.query.query_id, cache_time=0, message=message
    )
    return await within(bot(request))


async def bot_and_user(
    cluster: ServerCluster, bot_node: ClusterNode, user_node: ClusterNode
) -> tuple[Any, asyncio.Queue[Any], Pair]:
    """A new bot logged in on ``bot_node`` (its presses queued) and a user on ``user_node``
    who has greeted it."""
    bot = await start_bot(bot_node, new_bot(cluster))
    pending = queries(bot)
    return bot, pending, await make_pair(user_node, bot=bot)


async def test_a_bot_on_one_process_answers_presses_made_on_two_others(
    cluster: ServerCluster,
) -> None:
    node0, node1, node2 = cluster.nodes
    bot = await start_bot(node0, new_bot(cluster))
    pending = queries(bot)
    first = await make_pair(node1, bot=bot)
    second = await make_pair(node2, bot=bot)
    try:
        one = await first.keyboard([[Button.inline("Go", b"go")]])
        two = await second.keyboard([[Button.inline("Go", b"go")]])
        presses = [press(first, one.id, b"go"), press(second, two.id, b"go")]
        events_ = [await within(pending.get()), await within(pending.get())]
        by_user = {event.sender_id: event for event in events_}
        assert set(by_user) == {first.user_id, second.user_id}
        assert all(event.data == b"go" for event in events_)
        await within(by_user[first.user_id].answer("for the first", alert=True))
        await within(by_user[second.user_id].answer("for the second"))
        answer_one, answer_two = await asyncio.gather(*presses)
        assert (answer_one.message, answer_one.alert) == ("for the first", True)
        assert (answer_two.message, bool(answer_two.alert)) == ("for the second", False)
    finally:
        await asyncio.gather(first.user.disconnect(), second.user.disconnect(), bot.disconnect())


async def test_messages_between_processes_arrive_as_updates(cluster: ServerCluster) -> None:
    node0, _, node2 = cluster.nodes
    bot = await start_bot(node0, new_bot(cluster))
    pair = await make_pair(node2, bot=bot)  # the bot got the user's /start as an update
    arrived: asyncio.Queue[Any] = asyncio.Queue()

    async def on_message(event: Any) -> None:
        arrived.put_nowait(event)

    pair.user.add_event_handler(on_message, events.NewMessage(from_users=pair.bot_id))
    try:
        await within(bot.send_message(pair.user_id, "from process 0"))
        event = await within(arrived.get())
        assert event.raw_text == "from process 0"
    finally:
        await pair.disconnect()


async def test_a_second_answer_from_the_bot_on_another_process_is_query_id_invalid(
    cluster: ServerCluster,
) -> None:
    node0, node1, node2 = cluster.nodes
    token = new_bot(cluster)
    bot = await start_bot(node0, token)
    same_bot_elsewhere = await start_bot(node2, token)
    pending = queries(bot)
    pair = await make_pair(node1, bot=bot)
    try:
        message = await pair.keyboard([[Button.inline("Once", b"once")]])
        pressed = press(pair, message.id, b"once")
        event = await within(pending.get())
        await within(event.answer("first"))
        with pytest.raises(errors.QueryIdInvalidError):
            await raw_answer(same_bot_elsewhere, event, "second")
        assert (await pressed).message == "first"
    finally:
        await asyncio.gather(pair.disconnect(), same_bot_elsewhere.disconnect())


async def test_an_answer_on_another_process_returns_true_and_relays_every_field(
    cluster: ServerCluster,
) -> None:
    """Row 2 of the callback rules with the bot on process 0 and the user on process 2."""
    node0, _, node2 = cluster.nodes
    bot, pending, pair = await bot_and_user(cluster, node0, node2)
    try:
        message = await pair.keyboard([[Button.inline("A", b"a")]])
        pressed = press(pair, message.id, b"a")
        event = await within(pending.get())
        link = f"tg://resolve?domain={pair.bot_username}&start=abc"
        ok = await within(
            bot(
                functions.messages.SetBotCallbackAnswerRequest(
                    query_id=event.query.query_id, cache_time=7, message="toast", url=link
                )
            )
        )
        assert ok is True
        answer = await pressed
        assert (bool(answer.alert), answer.message, answer.cache_time) == (False, "toast", 7)
        assert (answer.has_url, answer.url) == (True, link)
    finally:
        await pair.disconnect()


async def test_another_bot_on_another_process_cannot_answer_the_press(
    cluster: ServerCluster,
) -> None:
    """Row 4: only the button's bot may answer, wherever the other bot is connected; an id
    no press made is refused too."""
    node0, node1, node2 = cluster.nodes
    _, pending, pair = await bot_and_user(cluster, node0, node1)
    other = await start_bot(node2, new_bot(cluster))
    try:
        message = await pair.keyboard([[Button.inline("A", b"a")]])
        pressed = press(pair, message.id, b"a")
        event = await within(pending.get())
        with pytest.raises(errors.QueryIdInvalidError):
            await raw_answer(other, event, "not mine")
        with pytest.raises(errors.QueryIdInvalidError):
            await within(
                other(
                    functions.messages.SetBotCallbackAnswerRequest(
                        query_id=event.query.query_id ^ 0x5A5A5A, cache_time=0, message="?"
                    )
                )
            )
        await within(event.answer("mine"))
        assert (await pressed).message == "mine"
    finally:
        await asyncio.gather(pair.disconnect(), other.disconnect())


async def test_an_inline_result_answered_on_another_process_is_sent_and_pressed(
    cluster: ServerCluster,
) -> None:
    """The user on process 1 asks the bot on process 0 inline, sends the article it got
    back (its results are remembered where the user waited) and presses its button."""
    node0, node1, _ = cluster.nodes
    bot, pending, pair = await bot_and_user(cluster, node0, node1)

    @bot.on(events.InlineQuery)
    async def on_inline(event: Any) -> None:
        article = event.builder.article(
            "Fruit", text="Pick a fruit", buttons=[Button.inline("Apple", b"apple")]
        )
        await event.answer([article])

    try:
        results = await within(pair.user.inline_query(pair.bot_username, "fruit"))
        assert [r.title for r in results] == ["Fruit"]
        message = await within(results[0].click(pair.bot_username))
        assert (message.text, message.via_bot_id) == ("Pick a fruit", pair.bot_id)
        pressed = asyncio.ensure_future(within(message.click()))
        event = await within(pending.get())
        await within(event.answer("apple it is"))
        assert (await pressed).message == "apple it is"
    finally:
        await pair.disconnect()


@pytest.mark.loopgram_cluster(answer_timeout=2.0)
async def test_a_press_the_bot_on_another_process_ignores_is_bot_response_timeout(
    loopgram_cluster: ServerCluster,
) -> None:
    node0, node1, _ = loopgram_cluster.nodes
    bot, pending, pair = await bot_and_user(loopgram_cluster, node0, node1)
    try:
        message = await pair.keyboard([[Button.inline("Silent", b"silent")]])
        pressed = press(pair, message.id, b"silent")
        event = await within(pending.get())
        with pytest.raises(errors.BotResponseTimeoutError):
            await pressed
        # The window closed on process 1: the late answer on process 0 finds no query.
        with pytest.raises(errors.QueryIdInvalidError):
            await raw_answer(bot, event, "late")
    finally:
        await pair.disconnect()


@pytest.mark.loopgram_cluster(answer_timeout=5.0)
async def test_a_user_whose_process_is_killed_reconnects_elsewhere_and_loses_nothing(
    loopgram_cluster: ServerCluster,
) -> None:
    node0, node1, node2 = loopgram_cluster.nodes
    _, pending, pair = await bot_and_user(loopgram_cluster, node0, node1)
    try:
        sent = [await within(pair.user.send_message(pair.bot_username, f"n{i}")) for i in range(3)]
        message = await pair.keyboard([[Button.inline("Wait", b"wait")]])
        pressed = press(pair, message.id, b"wait")
        orphan = await within(pending.get())
        session = pair.user.session.save()
        node1.kill()
        # The press whose connection died ends (an error), never hangs.
        await pair.user.disconnect()
        # Telethon cancels the requests of a client it disconnects.
        with pytest.raises((asyncio.CancelledError, ConnectionError)):
            await within(pressed)
        # The bot's answer to the press whose waiter died: accepted while the call's window
        # lasts (the bot cannot know), refused after it; either way at once.
        try:
            await within(orphan.answer("nobody waits"))
        except errors.QueryIdInvalidError:
            pass

        user = await start_user(node2, session=session)
        pair.user = user
        me = await within(user.get_me())
        assert me.id == pair.user_id  # the same login, through the same auth key
        history = await within(user.get_messages(pair.bot_username, limit=10))
        texts = {m.text for m in history}
        assert {m.text for m in sent} | {"pick one"} <= texts
        again = press(pair, message.id, b"wait")
        event = await within(pending.get())
        assert event.sender_id == pair.user_id
        await within(event.answer("answered after the move"))
        assert (await again).message == "answered after the move"
        # A press nobody answers still ends, in BOT_RESPONSE_TIMEOUT.
        unanswered = press(pair, message.id, b"wait")
        await within(pending.get())
        with pytest.raises(errors.BotResponseTimeoutError):
            await unanswered
    finally:
        await pair.disconnect()


@pytest.mark.loopgram_cluster(answer_timeout=10.0)
async def test_a_press_whose_bot_process_is_killed_ends_answered_or_timed_out(
    loopgram_cluster: ServerCluster,
) -> None:
    """The press waits on process 1, its bot is on process 0, which dies with the press in
    flight: the bot, back on process 2 with its session, answers it within the window; a
    second press its bot never answers ends in BOT_RESPONSE_TIMEOUT on process 1's clock."""
    node0, node1, node2 = loopgram_cluster.nodes
    token = new_bot(loopgram_cluster)
    bot = await start_bot(node0, token)
    pending = queries(bot)
    pair = await make_pair(node1, bot=bot)
    try:
        message = await pair.keyboard([[Button.inline("Go", b"go")]])
        pressed = press(pair, message.id, b"go")
        event = await within(pending.get())
        session = bot.session.save()
        node0.kill()
        await bot.disconnect()
        assert not pressed.done()
        back = await start_bot(node2, token, session)
        assert await raw_answer(back, event, "answered from process 2") is True
        assert (await pressed).message == "answered from process 2"
        # Nobody answers this one: the bot's events are no longer read.
        with pytest.raises(errors.BotResponseTimeoutError):
            await press(pair, message.id, b"go")
        await back.disconnect()
    finally:
        await pair.user.disconnect()
