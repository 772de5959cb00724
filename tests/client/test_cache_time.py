"""The client honours ``cache_time``: the same button of the same message pressed again within
it is answered from the client's cache, without a query; after it, the bot is asked again.
Time is the shared fake clock."""

from __future__ import annotations

from loopgram.client import Button

from .support import World


async def test_second_press_within_cache_time_does_not_reach_the_bot(world: World) -> None:
    bot, user, message = await world.scene()
    bot.auto = {"text": "cached answer", "cache_time": 60}
    first = await message.press(0, 0)
    assert not first.cached and len(bot.seen) == 1
    world.clock.advance(59.9)
    second = await message.press(0, 0)
    assert second.cached
    assert (second.message, second.cache_time) == ("cached answer", 60)
    assert len(bot.seen) == 1, "the cached press must not reach the bot"
    assert user.client.answers_from_cache == 1
    world.clock.advance(0.1)  # 60 s after the answer: expired
    third = await message.press(0, 0)
    assert not third.cached and len(bot.seen) == 2


async def test_cache_is_per_message_and_data(world: World) -> None:
    bot, user, message = await world.scene()
    bot.auto = {"text": "ok", "cache_time": 600}
    await message.press(0, 0)
    await message.press(0, 1)  # other data: asks the bot
    assert len(bot.seen) == 2
    other = await world.keyboard_message(bot, user, [[Button.callback("A", b"a")]])
    await other.press(0, 0)  # same data, other message: asks the bot
    assert len(bot.seen) == 3
    await message.press(0, 0)
    await message.press(0, 1)
    await other.press(0, 0)
    assert len(bot.seen) == 3


async def test_zero_cache_time_is_not_cached(world: World) -> None:
    bot, _user, message = await world.scene()
    bot.auto = {"text": "fresh"}
    await message.press(0, 0)
    await message.press(0, 0)
    assert len(bot.seen) == 2
