"""Inline mode with unmodified Telethon over loopback TCP: the user's inline query reaches the
bot, the bot's article comes back, the user sends it, and the button of the sent message is
an inline callback query the bot answers and edits.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telethon import Button, errors, events, functions, types  # type: ignore[import-untyped]

from loopgram.clock import FakeClock
from loopgram.node import LoopgramServer

from .support import Pair, within


def events_of(client: Any, event: Any) -> asyncio.Queue[Any]:
    """The client's events of one kind, in a queue the test reads from."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def on_event(found: Any) -> None:
        queue.put_nowait(found)

    client.add_event_handler(on_event, event)
    return queue


def answer_with_a_button(pair: Pair, text: str = "Pick a fruit") -> None:
    @pair.bot.on(events.InlineQuery)
    async def on_inline(event: Any) -> None:
        builder = event.builder
        await event.answer(
            [builder.article("Fruit", text=text, buttons=[Button.inline("Apple", b"apple")])]
        )


async def test_user_sends_an_inline_result_and_sees_the_bots_alert(pair: Pair) -> None:
    """The story: ``inline_query``, ``event.answer([builder.article(...)])``,
    ``results[0].click(bot)``, ``message.click()``, ``event.answer(alert)`` -- the user gets
    exactly what the bot answered."""
    answer_with_a_button(pair)
    presses: list[Any] = []

    @pair.bot.on(events.CallbackQuery(data=b"apple"))
    async def on_press(event: Any) -> None:
        presses.append(event.query)
        await event.answer("You picked apple", alert=True, cache_time=30)

    results = await within(pair.user.inline_query(pair.bot_username, "fruit"))
    assert len(results) == 1
    assert results[0].title == "Fruit" and results[0].type == "article"

    message = await within(results[0].click(pair.bot_username))
    assert message.text == "Pick a fruit"
    assert message.via_bot_id == pair.bot_id
    assert message.out
    assert [[b.text for b in row] for row in message.buttons] == [["Apple"]]

    answer = await within(message.click())
    assert isinstance(answer, types.messages.BotCallbackAnswer)
    assert (answer.alert, answer.message, answer.cache_time) == (True, "You picked apple", 30)
    (query,) = presses
    assert isinstance(query, types.UpdateInlineBotCallbackQuery)
    assert query.user_id == pair.user_id
    assert isinstance(query.msg_id, types.InputBotInlineMessageID64)


async def test_bot_learns_what_was_sent_and_edits_the_inline_message(pair: Pair) -> None:
    """``updateBotInlineSend`` carries the inline message id that the press then names; the
    bot's ``event.edit(...)`` (``editInlineBotMessage``) reaches the user's chat."""
    answer_with_a_button(pair, text="Vote now")
    sent = events_of(pair.bot, events.Raw(types.UpdateBotInlineSend))
    edits = events_of(pair.user, events.MessageEdited)

    @pair.bot.on(events.CallbackQuery)
    async def on_press(event: Any) -> None:
        await event.answer("Counted")
        await event.edit("Poll closed", buttons=[Button.inline("Reopen", b"reopen")])

    results = await within(pair.user.inline_query(pair.bot_username, "poll"))
    message = await within(results[0].click(pair.bot_username))
    feedback = await within(sent.get())
    assert (feedback.user_id, feedback.query, feedback.id) == (
        pair.user_id,
        "poll",
        results[0].result.id,
    )
    assert isinstance(feedback.msg_id, types.InputBotInlineMessageID64)

    answer = await within(message.click(data=b"apple"))
    assert answer.message == "Counted" and not answer.alert

    edited = await within(edits.get())
    assert edited.message.id == message.id
    assert edited.message.text == "Poll closed"
    assert [[b.data for b in row] for row in edited.message.buttons] == [[b"reopen"]]


async def test_results_without_answer_time_out(
    clocked_server: LoopgramServer, clocked_pair: Pair, clock: FakeClock
) -> None:
    """No answer within the window (15 s by the server's clock): BOT_RESPONSE_TIMEOUT."""
    pair = clocked_pair
    pending = events_of(pair.bot, events.InlineQuery)
    asked = asyncio.ensure_future(pair.user.inline_query(pair.bot_username, "slow"))
    event = await within(pending.get())
    assert event.text == "slow"
    clock.advance(14.0)
    assert clocked_server.tick() == 0
    await asyncio.sleep(0.1)
    assert not asked.done()
    clock.advance(1.5)
    assert clocked_server.tick() == 1
    with pytest.raises(errors.BotResponseTimeoutError):
        await within(asked)
    with pytest.raises(errors.QueryIdInvalidError):
        await event.answer([event.builder.article("late", text="too late")])


async def test_second_answer_and_users_answers_are_refused(pair: Pair) -> None:
    """A second answer is QUERY_ID_INVALID; a user answering is USER_BOT_REQUIRED."""
    pending = events_of(pair.bot, events.InlineQuery)
    asked = asyncio.ensure_future(pair.user.inline_query(pair.bot_username, "q"))
    event = await within(pending.get())
    result = types.InputBotInlineResult(
        id="1",
        type="article",
        title="t",
        send_message=types.InputBotInlineMessageText(message="m"),
    )
    request = functions.messages.SetInlineBotResultsRequest(
        query_id=event.query.query_id, results=[result], cache_time=0
    )
    with pytest.raises(errors.UserBotRequiredError):
        await pair.user(request)
    assert await pair.bot(request) is True
    with pytest.raises(errors.QueryIdInvalidError):
        await pair.bot(request)
    (found,) = await within(asked)
    assert found.result.id == "1"
