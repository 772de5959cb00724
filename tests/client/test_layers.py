"""loopgram's own client speaking an older shipped layer (``Client(layer=...)``) against the
real server over loopback TCP: the callback story at 158, 198 and 227, bots and users on
different layers, what the server records, and the refusal of a layer below the window."""

from __future__ import annotations

import logging

import pytest

from loopgram.client import Button, CallbackAnswer, Client, Message
from loopgram.client._layered import InLayer, unwrapping
from loopgram.client.errors import ConnectionLayerInvalidError, UrlInvalidError, rpc_error
from loopgram.clock import seeded_random
from loopgram.crypto import RsaPrivateKey
from loopgram.net.client import Sender
from loopgram.tl import LAYER, TLFunction, TLObject, functions, layers, types
from loopgram.tl.core import TLDecodeError
from loopgram.tl.functions import help as fhelp
from loopgram.tl.functions import messages as fmsg
from loopgram.tl.layers import UnsupportedLayerError

from .support import Bot, User, World, eventually, pending

KEYBOARD = [
    [Button.callback("Yes", b"yes"), Button.callback("No", b"no")],
    [Button.link("Docs", "https://example.com/docs")],
]
OLD_LAYERS = (158, 198, 227)
TL_KEYBOARD = types.ReplyInlineMarkup(
    rows=[types.KeyboardInlineButtonRow(buttons=[b.to_tl() for b in row]) for row in KEYBOARD]
)


def server_layers(world: World, client: Client) -> set[int | None]:
    """The layer the server recorded for each live session of the client's auth key."""
    key = client.sender.auth_key
    assert key is not None
    return {s.layer for s in world.server.core.sessions.sessions(key.id)}


async def scene(world: World, *, bot_layer: int, user_layer: int) -> tuple[Bot, User]:
    bot = await world.bot(layer=bot_layer)
    user = await world.user(layer=user_layer)
    return bot, user


# -- the wrapper that puts a query on the wire in an older layer -------------------------------


def first_query(query: TLFunction[object], layer: int) -> TLFunction[object]:
    return functions.InvokeWithLayer(
        layer=layer,
        query=functions.InitConnection(
            api_id=1,
            device_model="pytest",
            system_version="pytest",
            app_version="pytest",
            system_lang_code="en",
            lang_pack="",
            lang_code="en",
            query=query,
        ),
    )


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_a_wrapped_query_is_written_in_the_old_layout(layer: int) -> None:
    request = fmsg.SendMessage(
        peer=types.InputPeerSelf(), message="pick", random_id=7, reply_markup=TL_KEYBOARD
    )
    old = layers.serialize(request, layer)
    assert old != bytes(request)  # the keyboard changed between that layer and 229
    assert bytes(InLayer(request, layer)) == old
    # Inside invokeWithLayer(initConnection(...)), as the first query of a connection goes.
    assert bytes(first_query(InLayer(request, layer), layer)).endswith(old)
    assert layers.read(old, layer) == request


@pytest.mark.parametrize("layer", OLD_LAYERS)
def test_a_wrapped_query_reads_its_result_in_the_old_layout(layer: int) -> None:
    message = types.Message(
        id=5,
        peer_id=types.PeerUser(user_id=1),
        from_id=types.PeerUser(user_id=2),
        date=100,
        message="pick",
        reply_markup=TL_KEYBOARD,
    )
    result = types.Updates(
        updates=[types.UpdateNewMessage(message=message, pts=1, pts_count=1)],
        users=[],
        chats=[],
        date=100,
        seq=0,
    )
    request = fmsg.SendMessage(peer=types.InputPeerSelf(), message="pick", random_id=7)
    data = layers.serialize(result, layer)
    with pytest.raises(TLDecodeError):
        request.read_result(data)  # what a layer-229 reader would make of it
    assert InLayer(request, layer).read_result(data) == result
    assert first_query(InLayer(request, layer), layer).read_result(data) == result


def test_errors_name_the_query_not_the_wrapper() -> None:
    request = fhelp.GetConfig()
    error = unwrapping(rpc_error)(400, "URL_INVALID", InLayer(request, 198))
    assert isinstance(error, UrlInvalidError) and error.request is request


# -- the whole callback story in one older layer -------------------------------------------------


@pytest.mark.parametrize("layer", OLD_LAYERS)
async def test_callback_story_in_an_older_layer(world: World, layer: int) -> None:
    bot, user = await scene(world, bot_layer=layer, user_layer=layer)
    assert bot.client.layer == user.client.layer == layer
    message = await world.keyboard_message(bot, user, KEYBOARD, text="Subscribe?")

    assert isinstance(message.raw, types.Message)  # canonical, whatever the wire said
    assert message.text == "Subscribe?"
    assert message.buttons == KEYBOARD
    assert isinstance(message.raw.reply_markup, types.ReplyInlineMarkup)

    press = await pending(message.press(text="Yes"))
    query = await bot.next_query()
    assert isinstance(query.raw, types.UpdateBotCallbackQuery)
    assert (query.data, query.user_id) == (b"yes", user.id)
    assert query.message is not None and query.message.buttons == KEYBOARD

    link = f"https://t.me/{bot.username}?start=layer{layer}"
    assert await query.answer("Subscribed!", alert=True, url=link, cache_time=60) is True
    expected = CallbackAnswer(
        alert=True, message="Subscribed!", url=link, cache_time=60, has_url=True
    )
    assert await press == expected

    # The answer's cache_time holds: the second press never reaches the bot.
    again = await message.press(text="Yes")
    assert again == CallbackAnswer(
        alert=True, message="Subscribed!", url=link, cache_time=60, has_url=True, cached=True
    )
    assert user.client.answers_from_cache == 1 and len(bot.seen) == 1
    assert server_layers(world, bot.client) == server_layers(world, user.client) == {layer}


@pytest.mark.parametrize("layer", [198, 227])
async def test_answer_errors_keep_their_names_in_an_older_layer(world: World, layer: int) -> None:
    bot, user = await scene(world, bot_layer=layer, user_layer=layer)
    message = await world.keyboard_message(bot, user, KEYBOARD)
    press = await pending(message.press(0, 1))
    query = await bot.next_query()
    with pytest.raises(UrlInvalidError) as caught:
        await bot.client.answer_callback_query(query.query_id, url="https://example.com/")
    # The error names the caller's own query, not the layer wrapper around it.
    assert isinstance(caught.value.request, functions.messages.SetBotCallbackAnswer)
    await query.answer("no")
    assert (await press).message == "no"


# -- bot and user on different layers ------------------------------------------------------------


CROSS = [(old, LAYER) for old in OLD_LAYERS] + [(LAYER, old) for old in OLD_LAYERS]


@pytest.mark.parametrize(("bot_layer", "user_layer"), CROSS)
async def test_keyboards_and_answers_cross_layers(
    world: World, bot_layer: int, user_layer: int
) -> None:
    bot, user = await scene(world, bot_layer=bot_layer, user_layer=user_layer)
    message = await world.keyboard_message(bot, user, KEYBOARD)

    assert message.buttons == KEYBOARD
    # The canonical keyboard, callback and URL kinds alike, whatever layer each side spoke.
    assert message.raw.reply_markup == TL_KEYBOARD

    press = await pending(message.press(0, 1))
    query = await bot.next_query()
    assert query.data == b"no" and query.user_id == user.id
    link = f"tg://resolve?domain={bot.username}&start=x"
    await query.answer("Noted", url=link, cache_time=5)
    assert await press == CallbackAnswer(message="Noted", url=link, cache_time=5, has_url=True)


@pytest.mark.parametrize("layer", OLD_LAYERS)
async def test_updates_missed_in_an_older_layer_are_caught_up(world: World, layer: int) -> None:
    bot = await world.bot()
    user = await world.user(layer=layer)
    await world.keyboard_message(bot, user, KEYBOARD)
    session = user.client.session
    await user.client.disconnect()
    await bot.client.send_message(user.id, "while away", buttons=KEYBOARD)

    back = world.client(session, layer=layer)
    got: list[Message] = []

    @back.on_message()
    async def record(message: Message) -> None:
        got.append(message)

    await back.connect()
    await eventually(lambda: len(got) == 1)
    assert back.updates.differences >= 1  # updates.getDifference, answered in the old layer
    assert got[0].text == "while away" and got[0].buttons == KEYBOARD


# -- the layer the server sees -------------------------------------------------------------------


@pytest.mark.parametrize("layer", [*OLD_LAYERS, LAYER])
async def test_the_server_records_the_announced_layer(world: World, layer: int) -> None:
    user = await world.user(layer=layer)
    assert user.client.layer == layer
    assert server_layers(world, user.client) == {layer}


async def test_a_layer_between_shipped_ones_is_spoken_as_the_one_below(world: World) -> None:
    client = world.client(layer=200)
    assert client.layer == 198
    await client.connect()
    await client.invoke(fhelp.GetConfig())
    assert server_layers(world, client) == {198}


@pytest.mark.parametrize("layer", [0, 157, LAYER + 1])
def test_the_client_refuses_layers_outside_the_window(rsa_key: RsaPrivateKey, layer: int) -> None:
    with pytest.raises(UnsupportedLayerError, match=r"158 to 229") as caught:
        Client(host="127.0.0.1", port=1, public_key=rsa_key.public_key, layer=layer)
    assert caught.value.layer == layer


async def test_a_layer_below_the_window_is_refused_and_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # Client refuses such a layer itself; the bare sender announces it as an old library would.
    def announce_157(query: TLFunction[object]) -> TLFunction[object]:
        return first_query(query, 157)

    class Quiet:
        def on_update(self, update: TLObject | None, body: bytes) -> None: ...
        def on_auth_key(self, auth_key: object, salt: int, time_offset: float) -> None: ...
        def on_auth_key_lost(self) -> None: ...
        def on_session_created(self) -> None: ...
        def on_connection_lost(self, reason: str) -> None: ...
        def on_reconnected(self) -> None: ...

    server = world.server
    sender = Sender(
        "127.0.0.1",
        server.port,
        rsa_keys=[server.rsa_key.public_key],
        listener=Quiet(),
        error_factory=rpc_error,
        wrap_first=announce_157,
        ping_interval=None,
        clock=world.clock,
        random_bytes=seeded_random(7),
    )
    await sender.connect()
    try:
        with caplog.at_level(logging.WARNING, logger="loopgram.server"):
            with pytest.raises(ConnectionLayerInvalidError) as caught:
                await sender.request(fhelp.GetConfig())
    finally:
        await sender.close()
    assert (caught.value.code, caught.value.message) == (400, "CONNECTION_LAYER_INVALID")
    refusals = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "refused a client of layer 157: layers 158 to 229 are served" in refusals
