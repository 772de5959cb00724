"""``Client.invoke``: typed results, the first query wrapped in invokeWithLayer(initConnection),
many concurrent queries on one connection, flood waits below and above the threshold."""

from __future__ import annotations

import asyncio

import pytest

from loopgram.client.errors import FloodWaitError, RpcError
from loopgram.server import Rate, ServerConfig
from loopgram.tl import LAYER, functions, types
from loopgram.tl.types import updates as upd_types

from .support import World, eventually, pending

FLOOD = ServerConfig(flood_limits={"messages.setTyping": Rate(per_second=0.1, burst=1)})


async def test_set_bot_callback_answer_returns_bool(world: World) -> None:
    bot, _user, message = await world.scene()
    press = await pending(message.press(0, 0))
    query = await bot.next_query()
    result = await bot.client.invoke(
        functions.messages.SetBotCallbackAnswer(
            query_id=query.query_id, alert=True, message="hi", cache_time=0
        )
    )
    assert result is True
    assert (await press).alert


async def test_first_query_carries_layer_and_init_connection(world: World) -> None:
    user = await world.user()
    sender = user.client.sender
    session = sender.session
    assert session is not None
    contexts = world.server.core.sessions.sessions(session.auth_key.id)
    assert contexts, "the server knows the session"
    context = contexts[0]
    assert context.layer == LAYER
    assert context.client_info is not None
    assert context.client_info.device_model == "loopgram"
    assert context.client_info.api_id == 1


async def test_many_concurrent_invokes_share_one_connection(world: World) -> None:
    user = await world.user()
    sender = user.client.sender
    writes = sender.writes
    results = await asyncio.gather(
        *(user.client.invoke(functions.updates.GetState()) for _ in range(300))
    )
    assert all(isinstance(r, upd_types.State) for r in results)
    assert sender.connections == 1
    # Queries made in the same loop iteration leave together (msg_container).
    assert sender.writes - writes <= 3


async def test_concurrent_presses_of_many_users_and_one_bot(world: World) -> None:
    bot = await world.bot()
    user = await world.user()
    message = await world.keyboard_message(bot, user)
    bot.auto = {"text": "ok"}
    answers = await asyncio.gather(*(message.press(0, i % 2) for i in range(100)))
    assert all(a.message == "ok" for a in answers)
    assert len(bot.seen) == 100
    assert bot.client.sender.connections == 1 and user.client.sender.connections == 1


async def test_errors_map_to_classes_and_carry_the_request(world: World) -> None:
    user = await world.user()
    request = functions.contacts.ResolveUsername(username="nobody_here_bot")
    with pytest.raises(RpcError) as caught:
        await user.client.invoke(request)
    assert caught.value.code == 400 and caught.value.message == "USERNAME_NOT_OCCUPIED"
    assert type(caught.value).__name__ == "UsernameNotOccupiedError"
    assert caught.value.request is request


@pytest.mark.parametrize("server_options", [{"config": FLOOD}])
async def test_flood_wait_below_the_threshold_is_slept_through(world: World) -> None:
    bot, user, _message = await world.scene()
    peer = user.client.input_peer(bot.id)
    typing = functions.messages.SetTyping(peer=peer, action=types.SendMessageTypingAction())
    assert await user.client.invoke(typing) is True
    # The bucket is empty: FLOOD_WAIT_10, slept on the fake clock, then sent again.
    assert await user.client.invoke(typing) is True
    assert world.slept == [10]


@pytest.mark.parametrize("server_options", [{"config": FLOOD}])
async def test_flood_wait_above_the_threshold_raises(world: World) -> None:
    bot, user, _message = await world.scene()
    peer = user.client.input_peer(bot.id)
    typing = functions.messages.SetTyping(peer=peer, action=types.SendMessageTypingAction())
    await user.client.invoke(typing)
    user.client.flood_sleep_threshold = 5
    with pytest.raises(FloodWaitError) as caught:
        await user.client.invoke(typing)
    assert caught.value.seconds == 10 and caught.value.code == 420
    assert world.slept == []
    # A per-call threshold overrides the client's.
    assert await user.client.invoke(typing, flood_sleep_threshold=10) is True
    assert world.slept == [10]


async def test_resolve_username_and_history(world: World) -> None:
    bot, user, message = await world.scene()
    resolved = await user.client.resolve_username("@" + bot.username)
    assert resolved.id == bot.id and resolved.bot
    history = await user.client.get_history(bot.id, limit=10)
    assert [m.text for m in history] == ["pick one", "/start"]
    assert history[0].buttons == message.buttons
    (fetched,) = await user.client.get_messages(bot.id, [message.id])
    assert fetched is not None and fetched.text == "pick one"
    me = await user.client.get_me()
    assert me.id == user.id and not me.bot


async def test_queries_made_during_the_key_exchange_wait_for_it(world: World) -> None:
    client = world.client()
    connecting = asyncio.ensure_future(client.connect())
    await eventually(lambda: client._sender is not None)
    assert not client.connected  # no key yet
    configs = await asyncio.gather(
        client.invoke(functions.help.GetConfig()), client.invoke(functions.help.GetConfig())
    )
    await connecting
    for config in configs:
        assert isinstance(config, types.Config)
        assert config.this_dc == 2
        options = [o for o in config.dc_options if isinstance(o, types.DcOption)]
        assert [(o.ip_address, o.port) for o in options] == [("127.0.0.1", world.server.port)]


async def test_a_wrong_server_key_fails_fast(world: World) -> None:
    from loopgram.client import Client, ConnectionLostError
    from loopgram.crypto import RsaPrivateKey

    other = RsaPrivateKey.generate().public_key.to_pem()
    client = Client(host="127.0.0.1", port=world.server.port, public_key=other, ping_interval=None)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ConnectionLostError, match="cannot connect"):
        await client.connect()
    assert loop.time() - started < 2
    assert not client.connected
