"""The callback-query lifecycle with unmodified Telethon over loopback TCP: the story of
issue 4, then one test per row of DESIGN.md's table "The callback-query rules".
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from telethon import Button, errors, events, functions, types  # type: ignore[import-untyped]

from loopgram.clock import FakeClock
from loopgram.node import LoopgramServer
from loopgram.testing.server import ServerThread

from .support import Pair, eventually, make_pair, start_bot, within

DEEP_LINK = "https://t.me/examplebot?start=from_button"
MAX_CACHE_TIME = 2_592_000


def queries(client: Any) -> asyncio.Queue[Any]:
    """The bot's ``events.CallbackQuery`` events, in a queue the test answers from."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def on_query(event: Any) -> None:
        queue.put_nowait(event)

    client.add_event_handler(on_query, events.CallbackQuery)
    return queue


def raw_press(pair: Pair, msg_id: int, data: bytes) -> Any:
    return functions.messages.GetBotCallbackAnswerRequest(
        peer=pair.bot_username, msg_id=msg_id, data=data
    )


async def test_user_presses_and_sees_the_bots_alert(pair: Pair) -> None:
    """The story: keyboard, ``message.click()``, ``event.answer(...)`` -- the user gets
    exactly what the bot answered."""

    @pair.bot.on(events.CallbackQuery(data=b"buy"))
    async def on_buy(event: Any) -> None:
        answered = await event.answer("Added to cart", alert=True, url=DEEP_LINK, cache_time=120)
        assert answered is True

    message = await pair.keyboard([[Button.inline("Buy", b"buy"), Button.inline("No", b"no")]])
    answer = await within(message.click(data=b"buy"))
    assert isinstance(answer, types.messages.BotCallbackAnswer)
    assert answer.alert is True
    assert answer.message == "Added to cart"
    assert answer.url == DEEP_LINK
    assert answer.has_url is True
    assert answer.cache_time == 120


async def test_press_reaches_the_bot_and_stays_pending(pair: Pair) -> None:
    """Row 1: the bot gets updateBotCallbackQuery with the press's facts; the user's call
    waits, without blocking the user's other requests on the same connection."""
    pending = queries(pair.bot)
    message = await pair.keyboard([[Button.inline("A", b"alpha")]])
    press = asyncio.ensure_future(message.click(0))
    event = await within(pending.get())
    query = event.query
    assert isinstance(query, types.UpdateBotCallbackQuery)
    assert query.user_id == pair.user_id
    assert query.peer == types.PeerUser(pair.user_id)
    assert query.msg_id == pair.last_sent.id  # the message id in the bot's own box
    assert query.data == b"alpha"
    assert query.game_short_name is None
    assert query.query_id != 0 and -(2**63) <= query.query_id < 2**63
    assert isinstance(query.chat_instance, int)
    # Pending: the user's call has no answer, and the user's connection still serves.
    await asyncio.sleep(0.2)
    assert not press.done()
    me = await within(pair.user.get_me())
    assert me.id == pair.user_id
    assert not press.done()
    await event.answer("ok")
    answer = await within(press)
    assert answer.message == "ok"
    # Another press is another query with another random id.
    press = asyncio.ensure_future(message.click(0))
    again = await within(pending.get())
    assert again.query.query_id != query.query_id
    await again.answer()
    await within(press)


async def test_answer_in_time_returns_true_and_relays_every_field(pair: Pair) -> None:
    """Row 2, through the raw request too (Telethon's ``event.answer`` hides the Bool)."""
    pending = queries(pair.bot)
    message = await pair.keyboard([[Button.inline("A", b"a")]])
    press = asyncio.ensure_future(message.click(0))
    event = await within(pending.get())
    ok = await pair.bot(
        functions.messages.SetBotCallbackAnswerRequest(
            query_id=event.query.query_id,
            cache_time=7,
            alert=False,
            message="toast",
            url="tg://resolve?domain=examplebot&start=abc",
        )
    )
    assert ok is True
    answer = await within(press)
    assert (answer.alert, answer.message, answer.cache_time) == (False, "toast", 7)
    assert (answer.has_url, answer.url) == (True, "tg://resolve?domain=examplebot&start=abc")


async def test_no_answer_within_the_window_times_out(
    clocked_server: LoopgramServer, clocked_pair: Pair, clock: FakeClock
) -> None:
    """Row 3: BOT_RESPONSE_TIMEOUT once the (default 15 s) window has passed; Telethon's
    ``click()`` turns that error into ``None``."""
    pair = clocked_pair
    pending = queries(pair.bot)
    message = await pair.keyboard([[Button.inline("A", b"a")]])
    press = asyncio.ensure_future(pair.user(raw_press(pair, message.id, b"a")))
    await within(pending.get())
    clock.advance(14.0)
    assert clocked_server.tick() == 0
    await asyncio.sleep(0.1)
    assert not press.done()
    clock.advance(1.5)
    assert clocked_server.tick() == 1
    with pytest.raises(errors.BotResponseTimeoutError):
        await within(press)


async def test_click_of_an_unanswered_button_returns_none(
    clocked_server: LoopgramServer, clocked_pair: Pair, clock: FakeClock
) -> None:
    """Row 3 through the public API: Telethon's ``click()`` turns BOT_RESPONSE_TIMEOUT into
    ``None``."""
    pair = clocked_pair
    pending = queries(pair.bot)
    message = await pair.keyboard([[Button.inline("A", b"a")]])
    click = asyncio.ensure_future(message.click(0))
    await within(pending.get())
    clock.advance(15.0)
    assert clocked_server.tick() == 1
    assert await within(click) is None


async def test_offline_bot_times_out_too(
    clocked_server: LoopgramServer, clocked_pair: Pair, clock: FakeClock
) -> None:
    pair = clocked_pair
    message = await pair.keyboard([[Button.inline("A", b"a")]])
    await pair.bot.disconnect()
    press = asyncio.ensure_future(pair.user(raw_press(pair, message.id, b"a")))
    presses = clocked_server.core.presses

    async def registered() -> bool:
        return presses.waiting == 1

    await eventually(registered)
    clock.advance(15.0)
    clocked_server.tick()
    with pytest.raises(errors.BotResponseTimeoutError):
        await within(press)


@pytest.mark.loopgram(answer_timeout=0.5)
async def test_answer_window_is_configurable_in_real_time(loopgram_server: ServerThread) -> None:
    """Row 3 on the real clock: the server's own timer times the press out."""
    token = loopgram_server.create_bot("examplebot")
    pair = await make_pair(loopgram_server, token)
    try:
        pending = queries(pair.bot)
        message = await pair.keyboard([[Button.inline("A", b"a")]])
        started = asyncio.get_running_loop().time()
        press = asyncio.ensure_future(pair.user(raw_press(pair, message.id, b"a")))
        await within(pending.get())
        with pytest.raises(errors.BotResponseTimeoutError):
            await within(press)
        assert asyncio.get_running_loop().time() - started < 5
    finally:
        await pair.disconnect()


async def test_answer_after_the_window_is_query_id_invalid(
    clocked_server: LoopgramServer, clocked_pair: Pair, clock: FakeClock
) -> None:
    """Row 4: too late."""
    pair = clocked_pair
    pending = queries(pair.bot)
    message = await pair.keyboard([[Button.inline("A", b"a")]])
    press = asyncio.ensure_future(message.click(0))
    event = await within(pending.get())
    clock.advance(15.0)  # the window is closed at its deadline, even before the timer ran
    with pytest.raises(errors.QueryIdInvalidError):
        await event.answer("too late")
    clocked_server.tick()
    assert await within(press) is None


async def test_second_answer_is_query_id_invalid(pair: Pair) -> None:
    """Row 4: a second answer (Telethon's ``event.answer`` refuses to send one, so raw)."""
    pending = queries(pair.bot)
    message = await pair.keyboard([[Button.inline("A", b"a")]])
    press = asyncio.ensure_future(message.click(0))
    event = await within(pending.get())
    await event.answer("first")
    with pytest.raises(errors.QueryIdInvalidError):
        await pair.bot(
            functions.messages.SetBotCallbackAnswerRequest(
                query_id=event.query.query_id, cache_time=0, message="second"
            )
        )
    assert (await within(press)).message == "first"


async def test_unknown_query_id_is_invalid(pair: Pair) -> None:
    """Row 4: an id no press produced."""
    with pytest.raises(errors.QueryIdInvalidError):
        await pair.bot(
            functions.messages.SetBotCallbackAnswerRequest(
                query_id=random.getrandbits(63), cache_time=0
            )
        )


async def test_another_bots_query_is_invalid(loopgram_server: ServerThread, pair: Pair) -> None:
    """Row 4: only the bot the button belongs to may answer its query."""
    other = await start_bot(loopgram_server, loopgram_server.create_bot("otherbot"))
    try:
        pending = queries(pair.bot)
        message = await pair.keyboard([[Button.inline("A", b"a")]])
        press = asyncio.ensure_future(message.click(0))
        event = await within(pending.get())
        with pytest.raises(errors.QueryIdInvalidError):
            await other(
                functions.messages.SetBotCallbackAnswerRequest(
                    query_id=event.query.query_id, cache_time=0, message="not mine"
                )
            )
        await event.answer("mine")
        assert (await within(press)).message == "mine"
    finally:
        await other.disconnect()


SEED = functions.messages.SetBotCallbackAnswerRequest(
    query_id=5130910,
    alert=True,
    message="random string here",
    url="random string here",
    cache_time=3996368,
)


async def test_seed_example_from_a_bot_is_query_id_invalid(pair: Pair) -> None:
    with pytest.raises(errors.QueryIdInvalidError):
        await pair.bot(SEED)


async def test_seed_example_from_a_user_is_user_bot_required(pair: Pair) -> None:
    """Row 5: the caller is a user."""
    with pytest.raises(errors.UserBotRequiredError):
        await pair.user(SEED)


async def test_message_longer_than_200_characters_is_refused(pair: Pair) -> None:
    """Row 6: MESSAGE_TOO_LONG; the query stays answerable."""
    pending = queries(pair.bot)
    message = await pair.keyboard([[Button.inline("A", b"a")]])
    press = asyncio.ensure_future(message.click(0))
    event = await within(pending.get())
    request = functions.messages.SetBotCallbackAnswerRequest(
        query_id=event.query.query_id, cache_time=0, message="x" * 201
    )
    with pytest.raises(errors.MessageTooLongError):
        await pair.bot(request)
    await event.answer("y" * 200)
    assert (await within(press)).message == "y" * 200


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://t.me/examplebot?start=abc", True),
        ("http://telegram.me/ExampleBot?start=a-b_c", True),
        ("t.me/examplebot?start=x", True),
        ("tg://resolve?domain=examplebot&start=x", True),
        ("https://example.com/", False),
        ("https://t.me/otherbot?start=x", False),
        ("https://t.me/examplebot", False),
        ("random string here", False),
    ],
)
async def test_url_must_be_the_bots_own_deep_link(pair: Pair, url: str, accepted: bool) -> None:
    """Row 7: URL_INVALID for anything but the bot's ``?start=`` link."""
    pending = queries(pair.bot)
    message = await pair.keyboard([[Button.inline("A", b"a")]])
    press = asyncio.ensure_future(message.click(0))
    event = await within(pending.get())
    if accepted:
        await event.answer(url=url)
        answer = await within(press)
        assert (answer.url, answer.has_url) == (url, True)
    else:
        with pytest.raises(errors.UrlInvalidError):
            await event.answer(url=url)
        await pair.bot(
            functions.messages.SetBotCallbackAnswerRequest(
                query_id=event.query.query_id, cache_time=0
            )
        )
        assert (await within(press)).has_url is False


async def test_game_button_sends_the_short_name_and_accepts_the_game_url(pair: Pair) -> None:
    """Rows 7 and 11: a game button carries no data; the bot gets ``game_short_name`` and may
    answer with its game's URL."""
    pending = queries(pair.bot)
    user_entity = await pair.bot.get_input_entity(pair.user_id)
    await pair.bot(
        functions.messages.SendMediaRequest(
            peer=user_entity,
            media=types.InputMediaGame(
                id=types.InputGameShortName(bot_id=types.InputUserSelf(), short_name="tetris")
            ),
            message="",
            random_id=random.getrandbits(63),
            reply_markup=pair.bot.build_reply_markup([[Button.game("Play")]]),
        )
    )

    async def game_message() -> Any:
        found = await pair.user.get_messages(pair.bot_username, limit=1)
        return found[0] if found and found[0].game else None

    message = await eventually(game_message)
    press = asyncio.ensure_future(message.click(0))
    event = await within(pending.get())
    assert event.query.game_short_name == "tetris"
    assert event.query.data is None
    assert event.data is None
    await event.answer(url="https://games.example/tetris?u=1")
    answer = await within(press)
    assert answer.url == "https://games.example/tetris?u=1"
    # Exactly one of data / game: data on a game button is refused.
    with pytest.raises(errors.DataInvalidError):
        await pair.user(raw_press(pair, message.id, b"tetris"))


async def test_data_of_an_edited_keyboard_is_invalid(pair: Pair) -> None:
    """Row 8: the bot replaced the keyboard; pressing the old button is DATA_INVALID."""
    message = await pair.keyboard([[Button.inline("Old", b"old")]])
    await pair.bot.edit_message(
        pair.user_id, pair.last_sent.id, "pick one", buttons=[[Button.inline("New", b"new")]]
    )

    async def edited() -> bool:
        fresh = await pair.user.get_messages(pair.bot_username, ids=message.id)
        return bool(fresh and fresh.buttons and fresh.buttons[0][0].data == b"new")

    await eventually(edited)
    with pytest.raises(errors.DataInvalidError):
        await pair.user(raw_press(pair, message.id, b"old"))
    with pytest.raises(errors.DataInvalidError):
        await pair.user(raw_press(pair, message.id, b"never-on-any-button"))


async def test_unknown_message_and_unknown_peer(pair: Pair) -> None:
    """Row 8: MESSAGE_ID_INVALID, PEER_ID_INVALID."""
    await pair.keyboard([[Button.inline("A", b"a")]])
    with pytest.raises(errors.MessageIdInvalidError):
        await pair.user(raw_press(pair, 987_654, b"a"))
    with pytest.raises(errors.PeerIdInvalidError):
        await pair.user(
            functions.messages.GetBotCallbackAnswerRequest(
                peer=types.InputPeerUser(user_id=1_999_999_999, access_hash=1),
                msg_id=1,
                data=b"a",
            )
        )


@pytest.mark.parametrize(("given", "relayed"), [(3996368, MAX_CACHE_TIME), (-5, 0), (60, 60)])
async def test_cache_time_is_clamped_and_relayed(pair: Pair, given: int, relayed: int) -> None:
    """Row 9."""
    pending = queries(pair.bot)
    message = await pair.keyboard([[Button.inline("A", b"a")]])
    press = asyncio.ensure_future(message.click(0))
    event = await within(pending.get())
    await event.answer("cached", cache_time=given)
    assert (await within(press)).cache_time == relayed


async def test_chat_instance_is_stable_per_chat(loopgram_server: ServerThread, pair: Pair) -> None:
    """Row 10: the same opaque value for every press in a chat, another in another chat."""
    pending = queries(pair.bot)
    seen: list[int] = []
    for text in ("first", "second"):
        message = await pair.keyboard([[Button.inline("A", b"a")]], text=text)
        for _ in range(2):
            press = asyncio.ensure_future(message.click(0))
            event = await within(pending.get())
            seen.append(event.query.chat_instance)
            await event.answer()
            await within(press)
    assert len(set(seen)) == 1
    # Another user's chat with the same bot is another chat.
    other = await make_pair(loopgram_server, loopgram_server.create_bot("secondbot"))
    try:
        other_pending = queries(other.bot)
        message = await other.keyboard([[Button.inline("A", b"a")]])
        press = asyncio.ensure_future(message.click(0))
        event = await within(other_pending.get())
        assert event.query.chat_instance != seen[0]
        await event.answer()
        await within(press)
    finally:
        await other.disconnect()


async def test_many_users_press_at_once(loopgram_server: ServerThread, pair: Pair) -> None:
    """Concurrent presses of several users to one bot are all answered, each its own."""
    pending = queries(pair.bot)

    async def answer_all() -> None:
        while True:
            event = await pending.get()
            await event.answer(f"for {event.query.user_id}:{event.data.decode()}")

    answering = asyncio.ensure_future(answer_all())
    others = [await make_pair(loopgram_server, bot=pair.bot) for _ in range(3)]
    try:
        users = [pair, *others]
        buttons = [[Button.inline(str(i), str(i).encode()) for i in range(3)]]
        messages = [await p.keyboard(buttons, text=f"for {p.user_id}") for p in users]
        presses = [m.click(i) for m in messages for i in range(3)]
        answers = await within(asyncio.gather(*presses))
        expected = [f"for {p.user_id}:{i}" for p in users for i in range(3)]
        assert [a.message for a in answers] == expected
    finally:
        answering.cancel()
        for other in others:
            await other.user.disconnect()
