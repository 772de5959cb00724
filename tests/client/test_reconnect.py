"""Lost connections: automatic reconnection with backoff, queries waiting meanwhile, and
unanswered queries sent again in the same MTProto session -- a press pending across it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from loopgram.client import ConnectionLostError, ReconnectPolicy
from loopgram.tl import functions
from loopgram.tl.types import updates as upd_types

from .support import Proxy, World, eventually, pending


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
