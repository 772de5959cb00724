"""Faults of Redis under a running cluster: a ``redis-server`` of the test's own (own port,
killed with ``kill -9`` and started again by the test; the shared one is never touched), two
``loopgram serve`` processes on it. While Redis is gone, calls that need it end at once in
an error (a press in ``BOT_RESPONSE_TIMEOUT``), none hangs, and calls that do not need it
work; once it is back the processes carry on without a restart of their own: they reconnect,
subscribe their channels again, and presses across processes are answered again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from telethon import Button, errors, functions  # type: ignore[import-untyped]

from loopgram.testing.cluster import RedisProcess, ServerCluster
from loopgram.testing.postgres import MissingService
from tests.cluster.conftest import new_bot, running
from tests.integration.support import Pair, make_pair, start_bot, start_user, within
from tests.integration.test_callbacks import queries

WINDOW = 3.0
"""The answer window of both processes (seconds): short, as unanswered presses end there."""
ENDS = WINDOW + 15.0
"""Seconds within which every call must have ended: the window, the late answer's grace
(5 s) and a margin for a loaded machine. A call still running then hangs."""


@pytest.fixture
def redis() -> Iterator[RedisProcess]:
    try:
        with RedisProcess() as process:
            yield process
    except MissingService as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def faulty(redis: RedisProcess) -> Iterator[ServerCluster]:
    with running(ServerCluster(2, redis=redis.url, answer_timeout=WINDOW)) as cluster:
        yield cluster


def press(pair: Pair, msg_id: int) -> asyncio.Future[Any]:
    request = functions.messages.GetBotCallbackAnswerRequest(
        peer=pair.bot_username, msg_id=msg_id, data=b"go"
    )
    return asyncio.ensure_future(within(pair.user(request), ENDS))


async def answered_again(pair: Pair, pending: asyncio.Queue[Any], msg_id: int) -> Any:
    """Press until a press is answered (the first ones after Redis came back may end in
    ``BOT_RESPONSE_TIMEOUT`` while the processes resubscribe); the answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 4 * ENDS
    while True:
        pressed = press(pair, msg_id)
        try:
            event = await asyncio.wait_for(pending.get(), WINDOW)
        except TimeoutError:
            with pytest.raises(errors.BotResponseTimeoutError):
                await pressed
        else:
            await within(event.answer("back"))
            return await pressed
        assert loop.time() < deadline, "presses were not answered again after Redis came back"


async def test_a_redis_restart_fails_only_the_calls_made_meanwhile(
    faulty: ServerCluster, redis: RedisProcess
) -> None:
    node0, node1 = faulty.nodes
    bot = await start_bot(node0, new_bot(faulty))
    pending = queries(bot)
    pair = await make_pair(node1, bot=bot)
    try:
        message = await pair.keyboard([[Button.inline("Go", b"go")]])
        before = press(pair, message.id)
        await within((await within(pending.get())).answer("before"))
        assert (await before).message == "before"
        in_flight = press(pair, message.id)
        orphan = await within(pending.get())

        redis.kill()
        # A press pending when Redis died ends: answered, or BOT_RESPONSE_TIMEOUT.
        try:
            await within(orphan.answer("too late?"), ENDS)
        except ValueError:
            # The answer needed Redis: 500 INTERNAL, which Telethon retries a few times and
            # then reports so.
            pass
        try:
            await in_flight
        except errors.BotResponseTimeoutError:
            pass
        # A press made while Redis is down ends at once, unanswered.
        with pytest.raises(errors.BotResponseTimeoutError):
            await press(pair, message.id)
        # What needs no Redis still works on both processes.
        sent = await within(pair.user.send_message(pair.bot_username, "while redis is down"))
        assert sent.id > 0
        assert (await within(bot.get_me())).id == pair.bot_id

        redis.start()
        answer = await answered_again(pair, pending, message.id)
        assert answer.message == "back"
        assert all(node.alive for node in faulty.nodes)  # no process restarted
    finally:
        await pair.disconnect()


async def test_a_long_poll_gets_what_was_queued_on_another_process_while_redis_was_down(
    faulty: ServerCluster, redis: RedisProcess
) -> None:
    """The wake-up of the poll was lost with Redis: once the processes are subscribed again
    they look at every queue again, so the poll answers without waiting for its timeout."""
    node0, node1 = faulty.nodes
    token = new_bot(faulty)
    async with aiohttp.ClientSession() as http:

        async def api(method: str, **params: Any) -> Any:
            async with http.post(f"{node0.bot_api_url}/bot{token}/{method}", json=params) as r:
                body = await r.json(content_type=None)
            assert body["ok"] is True, body
            return body["result"]

        me = await api("getMe")
        assert await api("getUpdates", timeout=0) == []
        user = await start_user(node1)
        try:
            redis.kill()
            poll = asyncio.ensure_future(api("getUpdates", timeout=50))
            await within(user.send_message(me["username"], "queued while redis was down"))
            await asyncio.sleep(0.5)
            assert not poll.done()  # the wake-up could not cross
            redis.start()
            (update,) = await within(poll, ENDS)
            assert update["message"]["text"] == "queued while redis was down"
        finally:
            await user.disconnect()
