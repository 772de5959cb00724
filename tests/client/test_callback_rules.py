"""Every row of DESIGN.md's callback-query rules table, through loopgram's own client over
loopback TCP: users press with ``message.press``, bots answer with ``query.answer``."""

from __future__ import annotations

import asyncio

import pytest

from loopgram.client import AlreadyAnsweredError, Button, CallbackAnswer
from loopgram.client.errors import (
    BotResponseTimeoutError,
    DataInvalidError,
    MessageIdInvalidError,
    MessageTooLongError,
    PeerIdInvalidError,
    QueryIdInvalidError,
    UrlInvalidError,
    UserBotRequiredError,
)
from loopgram.server import ServerConfig
from loopgram.tl import functions, types

from .support import World, pending

MAX_CACHE_TIME = 2_592_000


# -- a press reaches the bot; the user's call stays pending ----------------------------------


async def test_press_delivers_the_query_and_stays_pending(world: World) -> None:
    bot, user, message = await world.scene()
    press = await pending(message.press(0, 1))
    query = await bot.next_query()
    assert query.data == b"b"
    assert query.user_id == user.id
    assert isinstance(query.raw, types.UpdateBotCallbackQuery)
    assert query.raw.peer == types.PeerUser(user_id=user.id)
    assert query.game_short_name is None
    assert -(2**63) <= query.query_id < 2**63 and query.query_id != 0
    # The bot's own copy of the message (it sent it in this process).
    assert query.message is not None and query.message.text == "pick one"
    assert query.msg_id == query.message.id
    await asyncio.sleep(0.05)
    assert not press.done(), "the press must wait for the bot"
    await query.answer()
    assert await press == CallbackAnswer()


async def test_query_ids_are_random_and_distinct(world: World) -> None:
    bot, _user, message = await world.scene()
    bot.auto = {}
    for _ in range(5):
        await message.press(0, 0)
    ids = {q.query_id for q in bot.seen}
    assert len(ids) == 5


# -- the bot answers in time ------------------------------------------------------------------


async def test_answer_in_time_reaches_the_user(world: World) -> None:
    bot, _user, message = await world.scene()
    press = await pending(message.press(0, 0))
    query = await bot.next_query()
    link = f"https://t.me/{bot.username}?start=promo"
    result = await query.answer("Saved!", alert=True, url=link, cache_time=30)
    assert result is True
    answer = await press
    assert answer == CallbackAnswer(
        alert=True, message="Saved!", url=link, cache_time=30, has_url=True
    )


async def test_answer_without_text_is_a_silent_ack(world: World) -> None:
    bot, _user, message = await world.scene()
    bot.auto = {}
    answer = await message.press(data=b"a")
    assert answer.message is None and answer.url is None and not answer.alert


async def test_press_by_label(world: World) -> None:
    bot, _user, message = await world.scene()
    bot.auto = {"text": "ok"}
    assert (await message.press(text="B")).message == "ok"
    assert bot.seen[-1].data == b"b"
    with pytest.raises(ValueError):
        await message.press(1, 0)  # a URL button is not a callback button


# -- the bot does not answer in time ----------------------------------------------------------


async def test_no_answer_within_the_window_times_out(world: World) -> None:
    bot, _user, message = await world.scene()
    press = await pending(message.press(0, 0))
    await bot.next_query()
    world.clock.advance(14.9)
    world.server.tick()
    await asyncio.sleep(0.05)
    assert not press.done()
    world.clock.advance(0.1)  # 15 s: the default window
    world.server.tick()
    with pytest.raises(BotResponseTimeoutError) as caught:
        await press
    assert caught.value.code == 400 and caught.value.message == "BOT_RESPONSE_TIMEOUT"


@pytest.mark.parametrize("server_options", [{"answer_timeout": 3.0}])
async def test_the_window_is_configurable(world: World) -> None:
    bot, _user, message = await world.scene()
    press = await pending(message.press(0, 0))
    await bot.next_query()
    world.clock.advance(3.0)
    world.server.tick()
    with pytest.raises(BotResponseTimeoutError):
        await press


async def test_offline_bot_times_out(world: World) -> None:
    bot, _user, message = await world.scene()
    await bot.client.disconnect()
    press = await pending(message.press(0, 0))
    await asyncio.sleep(0.05)
    world.clock.advance(15)
    world.server.tick()
    with pytest.raises(BotResponseTimeoutError):
        await press


# -- QUERY_ID_INVALID ---------------------------------------------------------------------------


async def test_answer_after_the_window(world: World) -> None:
    bot, _user, message = await world.scene()
    press = await pending(message.press(0, 0))
    query = await bot.next_query()
    world.clock.advance(15)
    with pytest.raises(QueryIdInvalidError):
        await query.answer("late")
    world.server.tick()
    with pytest.raises(BotResponseTimeoutError):
        await press


async def test_second_answer(world: World) -> None:
    bot, _user, message = await world.scene()
    press = await pending(message.press(0, 0))
    query = await bot.next_query()
    await query.answer("first")
    assert (await press).message == "first"
    # The high-level object refuses locally...
    with pytest.raises(AlreadyAnsweredError):
        await query.answer("second")
    # ...and the server refuses a raw second answer.
    with pytest.raises(QueryIdInvalidError):
        await bot.client.answer_callback_query(query.query_id, "second")


async def test_unknown_query_id_the_seed_example(world: World) -> None:
    bot = await world.bot()
    with pytest.raises(QueryIdInvalidError) as caught:
        await bot.client.invoke(
            functions.messages.SetBotCallbackAnswer(
                query_id=5130910,
                alert=True,
                message="random string here",
                url="random string here",
                cache_time=3996368,
            )
        )
    assert caught.value.code == 400
    assert caught.value.message == "QUERY_ID_INVALID"
    assert isinstance(caught.value.request, functions.messages.SetBotCallbackAnswer)


async def test_another_bots_query(world: World) -> None:
    bot, _user, message = await world.scene()
    other = await world.bot()
    press = await pending(message.press(0, 0))
    query = await bot.next_query()
    with pytest.raises(QueryIdInvalidError):
        await other.client.answer_callback_query(query.query_id, "not mine")
    await query.answer("mine")
    assert (await press).message == "mine"


# -- USER_BOT_REQUIRED --------------------------------------------------------------------------


async def test_a_user_cannot_answer(world: World) -> None:
    bot, user, message = await world.scene()
    press = await pending(message.press(0, 0))
    query = await bot.next_query()
    with pytest.raises(UserBotRequiredError):
        await user.client.answer_callback_query(query.query_id, "I am no bot")
    await query.answer()
    await press


# -- MESSAGE_TOO_LONG -----------------------------------------------------------------------------


async def test_message_longer_than_200_characters(world: World) -> None:
    bot, _user, message = await world.scene()
    press = await pending(message.press(0, 0))
    query = await bot.next_query()
    with pytest.raises(MessageTooLongError):
        await query.answer("x" * 201)
    # A refused answer leaves the query open: a corrected one goes through.
    await query.answer("é" * 200)
    assert (await press).message == "é" * 200


@pytest.mark.parametrize("server_options", [{"config": ServerConfig(callback_message_max=10)}])
async def test_the_message_limit_is_configurable(world: World) -> None:
    bot, _user, message = await world.scene()
    press = await pending(message.press(0, 0))
    query = await bot.next_query()
    with pytest.raises(MessageTooLongError):
        await query.answer("12345678901")
    await query.answer("1234567890")
    assert (await press).message == "1234567890"


# -- URL_INVALID --------------------------------------------------------------------------------


async def test_url_other_than_the_bots_deep_link(world: World) -> None:
    bot, _user, message = await world.scene()
    other = await world.bot()
    press = await pending(message.press(0, 0))
    query = await bot.next_query()
    for url in (
        "https://example.com",
        f"https://t.me/{other.username}?start=x",
        f"https://t.me/{bot.username}",  # no start parameter
        "random string here",
    ):
        with pytest.raises(UrlInvalidError):
            await query.answer(url=url)
    await query.answer(url=f"t.me/{bot.username}?start=ok")
    assert (await press).url == f"t.me/{bot.username}?start=ok"


@pytest.mark.parametrize(
    "template",
    [
        "https://t.me/{bot}?start=abc",
        "http://telegram.me/{bot}?start=a_b-c",
        "tg://resolve?domain={bot}&start=xyz",
    ],
)
async def test_every_deep_link_form_is_accepted(world: World, template: str) -> None:
    bot, _user, message = await world.scene()
    url = template.format(bot=bot.username.upper())  # usernames compare case-insensitively
    bot.auto = {"url": url}
    answer = await message.press(0, 0)
    assert answer.url == url and answer.has_url


# -- DATA_INVALID / MESSAGE_ID_INVALID / PEER_ID_INVALID ------------------------------------------


async def test_data_no_longer_on_the_keyboard(world: World) -> None:
    bot, _user, message = await world.scene()
    bot.auto = {"text": "ok"}
    # The bot edits the keyboard; the user's copy of the message still shows the old one.
    await bot.sent[-1].edit("pick again", buttons=[[Button.callback("C", b"c")]])
    with pytest.raises(DataInvalidError):
        await message.press(0, 0)
    with pytest.raises(DataInvalidError):
        await message.press(data=b"not on any button")
    assert bot.seen == []


async def test_unknown_message(world: World) -> None:
    bot, user, message = await world.scene()
    with pytest.raises(MessageIdInvalidError):
        await user.client.press_button(bot.id, message.id + 1000, data=b"a")


async def test_unknown_peer(world: World) -> None:
    _bot, user, message = await world.scene()
    with pytest.raises(PeerIdInvalidError):
        await user.client.invoke(
            functions.messages.GetBotCallbackAnswer(
                peer=types.InputPeerUser(user_id=987654321, access_hash=1),
                msg_id=message.id,
                data=b"a",
            )
        )


# -- cache_time -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "relayed"), [(30, 30), (3996368, MAX_CACHE_TIME), (-5, 0), (0, 0)]
)
async def test_cache_time_is_clamped_and_relayed(world: World, given: int, relayed: int) -> None:
    bot, _user, message = await world.scene()
    bot.auto = {"cache_time": given}
    assert (await message.press(0, 0)).cache_time == relayed


# -- chat_instance --------------------------------------------------------------------------------


async def test_chat_instance_is_stable_per_chat(world: World) -> None:
    bot, user, message = await world.scene()
    other_user = await world.user()
    other_message = await world.keyboard_message(bot, other_user)
    bot.auto = {}
    await message.press(0, 0)
    await message.press(0, 1)
    await other_message.press(0, 0)
    first, second, third = bot.seen
    assert first.chat_instance == second.chat_instance
    assert third.chat_instance != first.chat_instance  # another chat
    assert user.id != other_user.id


# -- game buttons ---------------------------------------------------------------------------------


async def test_game_button(world: World) -> None:
    bot = await world.bot()
    user = await world.user()
    await user.client.send_message(bot.username, "/start")
    await world.keyboard_message(bot, user)  # the bot learns the user
    await bot.client.send_game(user.id, "tetris")
    message = await user.next_message()
    (button,) = message.buttons[0]
    assert button.game and button.data is None
    press = await pending(message.press(0, 0))
    query = await bot.next_query()
    assert query.game_short_name == "tetris" and query.data is None
    assert isinstance(query.raw, types.UpdateBotCallbackQuery)
    # For a game button the answer's URL is the game's, not a deep link.
    await query.answer(url="https://games.example/tetris?user=1")
    assert (await press).url == "https://games.example/tetris?user=1"


# -- also in scope: edits racing answers, many users at once ------------------------------------


async def test_bot_edits_the_keyboard_while_the_press_is_pending(world: World) -> None:
    bot, user, message = await world.scene()
    press = await pending(message.press(0, 0))
    query = await bot.next_query()
    assert query.msg_id is not None
    await bot.client.edit_message(
        user.id, query.msg_id, "done", buttons=[[Button.callback("Z", b"z")]]
    )
    await query.answer("still answered")
    assert (await press).message == "still answered"


async def test_many_users_press_at_once(world: World) -> None:
    bot = await world.bot()
    users = [await world.user() for _ in range(10)]
    messages = [await world.keyboard_message(bot, u) for u in users]
    bot.auto = {"text": "ok"}
    answers = await asyncio.gather(*(m.press(0, i % 2) for i, m in enumerate(messages)))
    assert [a.message for a in answers] == ["ok"] * 10
    assert {q.user_id for q in bot.seen} == {u.id for u in users}
