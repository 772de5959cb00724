"""Two servers as two processes would run them: one SQLite file, one Redis, real Telethon
clients over loopback TCP (and a Bot API bot over HTTP). The user is connected to server A,
the bot to server B: the press reaches the bot through the update fan-out, the bot's answer
reaches the waiting user through the shared pending-call table."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.exceptions import RedisError
from telethon import Button, errors, functions  # type: ignore[import-untyped]

from loopgram.clock import FakeClock
from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer
from loopgram.storage import PeerRef
from loopgram.tl import types
from tests.cluster.conftest import drop_keys
from tests.integration.support import Pair, make_pair, start_bot, within
from tests.integration.test_callbacks import queries


@pytest.fixture
def clock() -> FakeClock:
    # Near real time, as Telethon's msg_ids follow the real clock: move it by less than 30 s.
    return FakeClock(time.time())


@pytest.fixture
async def servers(
    tmp_path: Path,
    redis_url: str,
    redis_prefix: str,
    loopgram_rsa_key: RsaPrivateKey,
    clock: FakeClock,
) -> AsyncIterator[tuple[LoopgramServer, LoopgramServer]]:
    def node(bot_api_port: int | None = None) -> LoopgramServer:
        return LoopgramServer(
            tmp_path,
            port=0,
            bot_api_port=bot_api_port,
            clock=clock,
            rsa_key=loopgram_rsa_key,
            redis_url=redis_url,
            redis_prefix=redis_prefix,
            web=False,
        )

    # B also serves the Bot API (on a free port).
    async with node() as a, node(bot_api_port=0) as b:
        yield a, b
    await drop_keys(redis_url, redis_prefix)


@pytest.fixture
async def split_pair(servers: tuple[LoopgramServer, LoopgramServer]) -> AsyncIterator[Pair]:
    a, b = servers
    token = b.create_bot("examplebot")
    bot = await start_bot(b, token)
    both = await make_pair(a, bot=bot)
    yield both
    await both.disconnect()


async def test_a_press_on_one_server_is_answered_by_a_bot_on_the_other(
    servers: tuple[LoopgramServer, LoopgramServer], split_pair: Pair
) -> None:
    a, b = servers
    pending = queries(split_pair.bot)
    message = await split_pair.keyboard([[Button.inline("Ask", b"ask")]])
    clicked = asyncio.ensure_future(within(message.click(0)))
    event = await within(pending.get())
    assert event.data == b"ask" and event.sender_id == split_pair.user_id
    assert a.core.presses.waiting == 1 and b.core.presses.waiting == 0
    await within(event.answer("from server B", alert=True))
    answer = await clicked
    assert answer.message == "from server B" and answer.alert
    assert a.core.presses.waiting == 0


async def test_the_same_press_answered_twice_is_query_id_invalid_the_second_time(
    split_pair: Pair,
) -> None:
    pending = queries(split_pair.bot)
    message = await split_pair.keyboard([[Button.inline("Once", b"once")]])
    clicked = asyncio.ensure_future(within(message.click(0)))
    event = await within(pending.get())
    await within(event.answer("first"))
    # Telethon's event.answer refuses to send a second answer: the raw request does.
    with pytest.raises(errors.QueryIdInvalidError):
        await within(
            split_pair.bot(
                functions.messages.SetBotCallbackAnswerRequest(
                    query_id=event.query.query_id, cache_time=0, message="second"
                )
            )
        )
    assert (await clicked).message == "first"


async def test_a_press_the_bot_on_the_other_server_ignores_times_out(
    servers: tuple[LoopgramServer, LoopgramServer], split_pair: Pair, clock: FakeClock
) -> None:
    a, b = servers
    pending = queries(split_pair.bot)
    message = await split_pair.keyboard([[Button.inline("Silent", b"silent")]])
    clicked = asyncio.ensure_future(
        within(
            split_pair.user(
                functions.messages.GetBotCallbackAnswerRequest(
                    peer=split_pair.bot_username, msg_id=message.id, data=b"silent"
                )
            )
        )
    )
    await within(pending.get())
    clock.advance(15.0)
    # Each server expires the waits of its own users: B has none, A times the press out.
    assert b.tick() == 0
    assert a.tick() == 1
    with pytest.raises(errors.BotResponseTimeoutError):
        await clicked


async def test_a_bot_api_bot_polling_one_server_answers_a_press_made_on_the_other(
    servers: tuple[LoopgramServer, LoopgramServer],
) -> None:
    a, b = servers
    token = b.create_bot("examplebot")
    assert b.bot_api_url is not None
    async with aiohttp.ClientSession() as http:

        async def bot_api(method: str, **params: Any) -> Any:
            async with http.post(f"{b.bot_api_url}/bot{token}/{method}", json=params) as reply:
                body = await reply.json(content_type=None)
            assert body["ok"] is True, body
            return body["result"]

        assert await bot_api("getUpdates", timeout=0) == []  # the bot now polls B
        user = a.create_user("15550001", "Ann")
        bot = a.storage.accounts.get(int(token.split(":")[0]))
        assert bot is not None
        bot_peer = types.InputPeerUser(user_id=bot.id, access_hash=bot.access_hash)
        a.core.services.messages.send_message(user, bot_peer, "/start", random_id=1)
        (started,) = await within(bot_api("getUpdates", timeout=10))
        assert started["message"]["text"] == "/start"
        await bot_api(
            "sendMessage",
            chat_id=user.id,
            text="pick one",
            reply_markup={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},
        )
        msg_id = a.storage.messages.history(user.id, PeerRef.user(bot.id), limit=1)[0].id
        press = asyncio.ensure_future(
            a.core.presses.press(user, bot_peer, msg_id, data=b"a", game=False)
        )
        (pressed,) = await within(
            bot_api("getUpdates", offset=started["update_id"] + 1, timeout=10)
        )
        query = pressed["callback_query"]
        assert (query["data"], query["from"]["id"]) == ("a", user.id)
        assert await bot_api(
            "answerCallbackQuery", callback_query_id=query["id"], text="from B", show_alert=True
        )
        answer = await within(press)
        assert (answer.message, answer.alert) == ("from B", True)


async def test_a_server_whose_redis_is_unreachable_does_not_start(
    tmp_path: Path, loopgram_rsa_key: RsaPrivateKey
) -> None:
    server = LoopgramServer(
        tmp_path, port=0, rsa_key=loopgram_rsa_key, redis_url="redis://127.0.0.1:1/0", web=False
    )
    with pytest.raises(RedisError):
        await asyncio.wait_for(server.start(), 10)
    # Nothing is left open: the same data directory serves at once without Redis.
    async with LoopgramServer(tmp_path, port=0, rsa_key=loopgram_rsa_key, web=False) as alone:
        assert alone.port > 0
