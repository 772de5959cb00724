"""Server layer: flood limits -- Telegram's published bot limits as token buckets on a fake
clock (one message a second per private chat, 20 a minute per group, 30 a second overall,
each with a burst), per (account, method) rates, exemptions, and switching limits off."""

from __future__ import annotations

import pytest

import loopgram.tl.functions.messages as fmsg
from loopgram.clock import FakeClock
from loopgram.server import FloodWait, Rate, ServerConfig
from loopgram.server.flood import FloodLimiter
from loopgram.storage import Storage
from loopgram.tl import types

from .support import login_bot, login_user, make_core, send

BOT = ("account", 1)


def to_user(user_id: int) -> fmsg.SendMessage:
    peer = types.InputPeerUser(user_id=user_id, access_hash=0)
    return fmsg.SendMessage(peer=peer, message="x", random_id=1)


def to_group(chat_id: int) -> fmsg.SendMessage:
    return fmsg.SendMessage(peer=types.InputPeerChat(chat_id=chat_id), message="x", random_id=1)


def send_message(limiter: FloodLimiter, query: fmsg.SendMessage, *, bot: bool = True) -> None:
    limiter.check(BOT, "messages.sendMessage", query, bot=bot)


def wait_of(limiter: FloodLimiter, query: fmsg.SendMessage) -> int:
    with pytest.raises(FloodWait) as refused:
        send_message(limiter, query)
    return refused.value.seconds


def test_a_bot_gets_a_burst_then_one_message_a_second_per_private_chat() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(clock, ServerConfig())
    for _ in range(20):
        send_message(limiter, to_user(7))
    assert wait_of(limiter, to_user(7)) == 1
    send_message(limiter, to_user(8))  # another chat has its own bucket
    clock.advance(1.0)
    send_message(limiter, to_user(7))
    assert wait_of(limiter, to_user(7)) == 1


def test_a_bot_gets_twenty_messages_a_minute_per_group() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(clock, ServerConfig())
    for _ in range(20):
        send_message(limiter, to_group(5))
    assert wait_of(limiter, to_group(5)) == 3  # one every 3 s
    clock.advance(3.0)
    send_message(limiter, to_group(5))


def test_a_bot_sends_thirty_messages_a_second_over_all_chats_after_a_burst() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(clock, ServerConfig())
    for user_id in range(1000):  # a test that messages a thousand users at once
        send_message(limiter, to_user(user_id))
    assert wait_of(limiter, to_user(5000)) == 1
    clock.advance(1.0)
    for user_id in range(2000, 2030):
        send_message(limiter, to_user(user_id))
    assert wait_of(limiter, to_user(5000)) == 1


def test_a_refused_message_spends_no_token_anywhere() -> None:
    clock = FakeClock()
    config = ServerConfig(bot_messages_rate=Rate(per_second=1.0, burst=2))
    limiter = FloodLimiter(clock, config)
    send_message(limiter, to_user(1))
    send_message(limiter, to_user(1))
    for _ in range(5):
        assert wait_of(limiter, to_user(1)) == 1
    clock.advance(1.0)
    send_message(limiter, to_user(1))  # the refusals above did not dig the hole deeper


def test_users_are_not_held_to_the_bot_limits() -> None:
    limiter = FloodLimiter(FakeClock(), ServerConfig())
    for _ in range(200):
        send_message(limiter, to_user(7), bot=False)


def test_every_limit_can_be_switched_off() -> None:
    off = ServerConfig(
        flood_default=None, bot_chat_rate=None, bot_group_rate=None, bot_messages_rate=None
    )
    disabled = ServerConfig(
        flood_enabled=False,
        flood_default=Rate(per_second=1.0, burst=1),
        flood_limits={"messages.sendMessage": Rate(per_second=1.0, burst=1)},
    )
    for config in (off, disabled):
        limiter = FloodLimiter(FakeClock(), config)
        for _ in range(5000):
            send_message(limiter, to_user(7))
            send_message(limiter, to_group(7))
            limiter.check(BOT, "messages.getHistory")


def test_a_method_rate_overrides_the_default_and_none_lifts_it() -> None:
    config = ServerConfig(
        flood_default=Rate(per_second=1.0, burst=1),
        flood_limits={"messages.getHistory": None, "messages.setTyping": Rate(0.5, burst=2)},
    )
    limiter = FloodLimiter(FakeClock(), config)
    for _ in range(100):
        limiter.check(BOT, "messages.getHistory")
    limiter.check(BOT, "messages.setTyping")
    limiter.check(BOT, "messages.setTyping")
    with pytest.raises(FloodWait) as refused:
        limiter.check(BOT, "messages.setTyping")
    assert refused.value.seconds == 2
    limiter.check(BOT, "help.getConfig")
    with pytest.raises(FloodWait):
        limiter.check(BOT, "help.getConfig")


@pytest.mark.parametrize(
    "method",
    [
        "messages.setBotCallbackAnswer",
        "messages.setInlineBotResults",
        "messages.getBotCallbackAnswer",
        "messages.getInlineBotResults",
    ],
)
def test_callback_and_inline_queries_are_not_limited_by_default(method: str) -> None:
    limiter = FloodLimiter(FakeClock(), ServerConfig())
    for _ in range(20_000):
        limiter.check(BOT, method)


def test_rates_are_written_as_telegram_publishes_them() -> None:
    assert Rate.parse("30/s") == Rate(per_second=30.0, burst=30)
    assert Rate.parse("20/min") == Rate(per_second=20 / 60, burst=20)
    assert Rate.parse("1/s burst 20") == Rate(per_second=1.0, burst=20)
    assert Rate.parse("off") is None
    for rate in (ServerConfig().bot_chat_rate, ServerConfig().bot_group_rate, Rate(0.5, 3)):
        assert rate is not None and Rate.parse(str(rate)) == rate
    for bad in ("", "fast", "1/day", "0/s", "-3/s", "1/s burst 0", "1/s burst", "nan/s"):
        with pytest.raises(ValueError, match="is not a rate"):
            Rate.parse(bad)


async def test_an_ordinary_bot_conversation_never_waits_but_a_flooding_bot_does(
    storage: Storage, clock: FakeClock
) -> None:
    core = make_core(storage, clock)
    bot = await login_bot(core, "chatty_bot")
    user = await login_user(core, "+1 555 0300")
    for _ in range(20):  # a test's burst: replies sent as fast as the loop goes
        await send(bot, user)
        await send(user, bot)
    error = await bot.fails(
        fmsg.SendMessage(peer=bot.input_peer(user), message="spam", random_id=99)
    )
    assert error.message == "FLOOD_WAIT_1"
    for _ in range(60):  # the user may go on: the per-chat limit is a bot's
        await send(user, bot)
    clock.advance(1.0)
    await send(bot, user)
