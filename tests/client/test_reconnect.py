"""Lost connections: automatic reconnection with backoff, queries waiting meanwhile,
unanswered queries sent again in the same MTProto session -- a press pending across it --
and a client that is reachable again as soon as its connection is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from loopgram.client import Client, ConnectionLostError, Message, ReconnectPolicy
from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer
from loopgram.tl import LAYER, functions
from loopgram.tl.mtproto import types as mt_types
from loopgram.tl.mtproto.functions import Ping
from loopgram.tl.types import updates as upd_types

from .support import Proxy, World, drop_by_server, eventually, pending

ANSWER_WINDOW = 3.0
"""The live server's callback-answer window: a bot that hears a press answers it within
milliseconds; one that does not makes the user wait this long for BOT_RESPONSE_TIMEOUT."""
FAST_RECONNECT = ReconnectPolicy(base_delay=0.02, max_delay=0.2, retries=None)


@pytest.fixture
async def proxy(world: World) -> AsyncIterator[Proxy]:
    relay = await Proxy(world.server.port).start()
    yield relay
    await relay.close()


def test_backoff_grows_to_the_maximum() -> None:
    policy = ReconnectPolicy(base_delay=0.1, factor=2, max_delay=1.0)
    assert [policy.delay(n) for n in range(6)] == [0.0, 0.1, 0.2, 0.4, 0.8, 1.0]


async def test_reconnects_and_sends_what_waited(world: World) -> None:
    user = await world.user()
    sender = user.client.sender
    sender.drop_connection()
    # Made while the connection is down: waits for the new one.
    state = await user.client.invoke(functions.updates.GetState())
    assert isinstance(state, upd_types.State)
    assert sender.connections == 2


async def test_press_pending_across_a_reconnect(world: World) -> None:
    bot, user, message = await world.scene()
    press = await pending(message.press(0, 0))
    query = await bot.next_query()
    sender = user.client.sender
    user.client.sender.drop_connection()
    await eventually(lambda: sender.connections == 2 and user.client.connected)
    # Same MTProto session on the new connection: the press was sent again under its
    # original msg_id, so the server treats it as the query it already has.
    session = sender.session
    assert session is not None
    assert [p.origin == p.msg_id for p in session.pending.values()] == [True]
    await query.answer("answered after the reconnect", alert=True)
    answer = await asyncio.wait_for(press, 2)
    assert answer.message == "answered after the reconnect" and answer.alert
    assert len(bot.seen) == 1, "the press was not sent to the bot twice"


async def test_answer_given_while_the_user_is_offline(world: World, proxy: Proxy) -> None:
    bot = await world.bot()
    # This user goes through the proxy, which can cut its connection and refuse new ones.
    user = await world.user(port=proxy.port, reconnect=ReconnectPolicy(base_delay=0.02))
    message = await world.keyboard_message(bot, user)
    press = await pending(message.press(0, 0))
    query = await bot.next_query()
    connections = world.server.connections
    await proxy.refuse()
    proxy.cut()
    # Answer once the server has seen the user's connection go.
    await eventually(lambda: world.server.connections == connections - 1)
    await query.answer("while you were away")  # the server keeps it for the session
    await asyncio.sleep(0.1)
    assert not press.done()
    await proxy.start()
    answer = await asyncio.wait_for(press, 2)
    assert answer.message == "while you were away"
    assert user.client.sender.connections >= 2


async def test_backoff_while_the_server_is_unreachable(world: World, proxy: Proxy) -> None:
    policy = ReconnectPolicy(base_delay=0.02, max_delay=0.1, retries=None)
    client = world.client(port=proxy.port, reconnect=policy)
    await client.start(phone="+15557770001", code="12345")
    await proxy.refuse()
    proxy.cut()
    waiting = await pending(client.invoke(functions.updates.GetState()))
    await asyncio.sleep(0.3)  # several refused attempts
    assert not waiting.done()
    assert client.sender.failed_attempts >= 3
    await proxy.start()
    assert isinstance(await asyncio.wait_for(waiting, 5), upd_types.State)


async def test_gives_up_after_the_retries(world: World, proxy: Proxy) -> None:
    client = world.client(port=proxy.port, reconnect=ReconnectPolicy(base_delay=0.01, retries=3))
    await client.start(phone="+15557770002", code="12345")
    await proxy.refuse()
    proxy.cut()
    waiting = await pending(client.invoke(functions.updates.GetState()))
    with pytest.raises(ConnectionLostError):
        await asyncio.wait_for(waiting, 5)
    with pytest.raises(ConnectionLostError):
        await client.invoke(functions.updates.GetState())


async def test_disconnect_fails_what_is_pending(world: World) -> None:
    bot, user, message = await world.scene()
    press = await pending(message.press(0, 0))
    await bot.next_query()
    await user.client.disconnect()
    with pytest.raises(ConnectionLostError):
        await press


# -- reachable again at once ---------------------------------------------------------------
# These run on real time: the press must really wait out the server's answer window when
# the bot does not hear it.


def _live_server(rsa_key: RsaPrivateKey, **options: Any) -> LoopgramServer:
    return LoopgramServer(
        rsa_key=rsa_key,
        pool_size=2,
        answer_timeout=ANSWER_WINDOW,
        synchronous="NORMAL",
        **options,
    )


@pytest.fixture
async def live(rsa_key: RsaPrivateKey) -> AsyncIterator[World]:
    async with _live_server(rsa_key, data_dir=None, port=0) as server:
        world = World(server)
        try:
            yield world
        finally:
            await world.close()


def _reconnected(client: Client, connections: int) -> bool:
    return client.sender.connections >= connections and client.connected


@pytest.mark.parametrize("layer", [LAYER, 158])
async def test_bot_dropped_by_the_server_answers_a_press_made_as_soon_as_it_is_back(
    live: World, layer: int
) -> None:
    bot, _user, message = await live.scene(layer=layer)
    bot.auto = {"text": "still here"}
    assert drop_by_server(live.server, bot.client) == 1
    await eventually(lambda: _reconnected(bot.client, 2))
    # The bot has not queried anything since: only its reconnection told the server where
    # to push its updates.
    answer = await message.press(0, 0)
    assert answer.message == "still here"
    assert [q.data for q in bot.seen] == [b"a"]


async def test_bot_answers_a_press_made_as_soon_as_the_restarted_server_is_back(
    rsa_key: RsaPrivateKey, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = _live_server(rsa_key, data_dir=data_dir, port=0)
    await first.start()
    world = World(first)
    second: LoopgramServer | None = None
    try:
        bot, _user, message = await world.scene(reconnect=FAST_RECONNECT)
        bot.auto = {"text": "back after the restart"}
        await first.stop()
        second = _live_server(rsa_key, data_dir=data_dir, port=first.port)
        await second.start()
        await eventually(lambda: _reconnected(bot.client, 2))
        answer = await message.press(0, 0)
        assert answer.message == "back after the restart"
        assert len(bot.seen) == 1
    finally:
        await world.close()
        await first.stop()
        if second is not None:
            await second.stop()


async def test_bot_catches_up_on_messages_sent_while_its_connection_was_down(
    live: World,
) -> None:
    proxy = await Proxy(live.server.port).start()
    try:
        bot = await live.bot(port=proxy.port, reconnect=FAST_RECONNECT)
        user = await live.user()
        await live.keyboard_message(bot, user)
        heard: asyncio.Queue[Message] = asyncio.Queue()

        @bot.client.on_message()
        async def record(message: Message) -> None:
            if not message.out:
                await heard.put(message)

        connections = live.server.connections
        await proxy.refuse()
        proxy.cut()
        await eventually(lambda: live.server.connections == connections - 1)
        # Pushed to nobody: the bot's session has no connection now.
        await user.client.send_message(bot.username, "while you were away")
        await proxy.start()
        message = await asyncio.wait_for(heard.get(), 5)
        assert message.text == "while you were away"
        assert bot.client.sender.connections == 2
    finally:
        await proxy.close()


async def test_a_ping_first_on_a_new_connection_is_answered_with_a_pong(live: World) -> None:
    # Not logged in: the client itself sends nothing when the connection comes back.
    client = live.client()
    await client.connect()
    sender = client.sender
    sender.drop_connection()
    await eventually(lambda: _reconnected(client, 2))
    pong = await asyncio.wait_for(sender.request(Ping(ping_id=7)), 5)
    assert isinstance(pong, mt_types.Pong) and pong.ping_id == 7


async def test_server_stops_while_a_logged_in_client_is_connected(
    rsa_key: RsaPrivateKey, tmp_path: Path
) -> None:
    # Closing the client's connection wakes the server's checkpoint task as stop() cancels
    # it: the cancel must not be lost (it was, and stop() never returned).
    server = _live_server(rsa_key, data_dir=tmp_path / "data", port=0)
    await server.start()
    world = World(server)
    try:
        await world.bot(reconnect=FAST_RECONNECT)
        await asyncio.wait_for(server.stop(), 10)
        assert not server.running
    finally:
        await world.close()
        await server.stop()
