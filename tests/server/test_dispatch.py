"""Server layer: the dispatcher -- wrappers, login gate, unknown methods, failures, floods,
the error table and the handler registry."""

from __future__ import annotations

import logging
import struct
from typing import Any

import pytest

import loopgram.tl.functions as fn
import loopgram.tl.functions.help as fhelp
import loopgram.tl.functions.messages as fmsg
import loopgram.tl.functions.updates as fupd
import loopgram.tl.functions.users as fusers
from loopgram.clock import FakeClock
from loopgram.server import (
    ERRORS,
    FloodWait,
    Rate,
    RequestContext,
    ServerConfig,
    ServerCore,
    encode_result,
)
from loopgram.server.handlers import Registry, default_registry
from loopgram.storage import Storage
from loopgram.tl import TLFunction, types
from loopgram.tl.types import updates as upd_types

from .support import Caller, login_bot, login_user, make_core, send


def _init(query: TLFunction[Any], layer: int = 229) -> fn.InvokeWithLayer[Any]:
    return fn.InvokeWithLayer(
        layer=layer,
        query=fn.InitConnection(
            api_id=6,
            device_model="pytest",
            system_version="linux",
            app_version="1.0",
            system_lang_code="en",
            lang_pack="",
            lang_code="en",
            query=query,
        ),
    )


# -- login gate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        fusers.GetUsers(id=[types.InputUserSelf()]),
        fupd.GetState(),
        fmsg.SendMessage(peer=types.InputPeerSelf(), message="x", random_id=1),
        fmsg.SetBotCallbackAnswer(query_id=5130910, cache_time=0),
        fmsg.GetBotCallbackAnswer(peer=types.InputPeerSelf(), msg_id=1, data=b"a"),
    ],
)
async def test_methods_needing_an_account_answer_401_before_login(
    core: ServerCore, request_: TLFunction[object]
) -> None:
    error = await Caller(core).fails(request_)
    assert (error.code, error.message) == (401, "AUTH_KEY_UNREGISTERED")


async def test_public_methods_work_before_login(core: ServerCore) -> None:
    config = await Caller(core).call(_init(fhelp.GetConfig()))
    assert isinstance(config, types.Config)


def test_registry_marks_what_needs_an_account() -> None:
    public = {route.name for route in default_registry() if not route.needs_account}
    assert public == {
        "auth.sendCode",
        "auth.signIn",
        "auth.signUp",
        "auth.importBotAuthorization",
        "help.getConfig",
        "help.getNearestDc",
    }


def test_every_handler_docstring_is_its_tl_line() -> None:
    registry = default_registry()
    assert len(registry) >= 24
    for route in registry:
        doc = route.handler.__doc__ or ""
        head = doc.split()[0]
        assert head == f"{route.name}#{route.function.CONSTRUCTOR_ID:x}", route.name
        assert " ".join(doc.split()).endswith(";"), route.name


def test_a_method_registers_once() -> None:
    registry = Registry()

    @registry.method(fhelp.GetConfig)
    async def first(ctx: RequestContext, req: fhelp.GetConfig) -> bool:
        return True

    with pytest.raises(ValueError, match="already"):
        registry.method(fhelp.GetConfig)(first)
    with pytest.raises(ValueError, match="already"):
        registry.merge(registry)


# -- wrappers -------------------------------------------------------------------------------------


async def test_invoke_with_layer_and_init_connection_are_recorded(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0100")
    await user.call(_init(fupd.GetState(), layer=198))

    assert user.session.layer == 198
    record = core.storage.auth_keys.get(user.auth_key_id)
    assert record is not None and record.layer == 198
    info = user.session.client_info
    assert info is not None and (info.api_id, info.device_model) == (6, "pytest")


async def test_old_layer_is_connection_layer_invalid(core: ServerCore) -> None:
    error = await Caller(core).fails(_init(fhelp.GetConfig(), layer=100))
    assert (error.code, error.message) == (400, "CONNECTION_LAYER_INVALID")


async def test_old_layer_refusal_is_logged_with_the_window(
    core: ServerCore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="loopgram.server.dispatch"):
        await Caller(core).fails(_init(fhelp.GetConfig(), layer=157))
    [record] = [r for r in caplog.records if r.name == "loopgram.server.dispatch"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "refused a client of layer 157: layers 158 to 229 are served"


async def test_invoke_without_updates_stops_pushes(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    await bob.call(fn.InvokeWithoutUpdates(query=fupd.GetState()))
    await send(alice, bob)
    assert bob.pushed == []


async def test_invoke_after_msg_is_unwrapped(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0100")
    state = await user.call(fn.InvokeAfterMsg(msg_id=4, query=fupd.GetState()))
    assert isinstance(state, upd_types.State)
    state = await user.call(fn.InvokeAfterMsgs(msg_ids=[4, 8], query=fupd.GetState()))
    assert isinstance(state, upd_types.State) and state.pts == 0


# -- methods the server does not know or cannot read --------------------------------------------


async def test_unimplemented_method_is_an_rpc_error(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0100")
    error = await user.fails(_init(fmsg.GetStickers(emoticon="x", hash=0)))
    # A valid function loopgram lacks is loopgram's gap, not the client's mistake.
    assert (error.code, error.message) == (400, "METHOD_NOT_IMPLEMENTED")


async def test_unknown_constructor_is_input_method_invalid(core: ServerCore) -> None:
    caller = Caller(core)
    for body in (
        struct.pack("<I", 0xDEADBEEF) + b"\0" * 8,
        bytes(_init(fhelp.GetConfig()))[:-4] + struct.pack("<I", 0xDEADBEEF),
        b"",
        b"\x01\x02",
    ):
        answer = await core.dispatch(caller.session, None, body)
        assert answer.error is not None
        assert (answer.error.code, answer.error.message) == (400, "INPUT_METHOD_INVALID"), body


async def test_undecodable_known_method_is_input_fetch_error(core: ServerCore) -> None:
    caller = Caller(core)
    body = bytes(fmsg.SendMessage(peer=types.InputPeerSelf(), message="x", random_id=1))[:10]
    answer = await core.dispatch(caller.session, None, body)
    assert answer.error is not None and answer.error.message == "INPUT_FETCH_ERROR"


async def test_decoder_hook_reads_older_layers(storage: Storage, clock: FakeClock) -> None:
    seen: list[int] = []

    def decode(body: bytes, layer: int, budget: int) -> object:
        seen.append(layer)
        return fhelp.GetNearestDc()

    core = ServerCore(storage, clock=clock, decode=decode)
    caller = Caller(core)
    body = bytes(fn.InvokeWithLayer(layer=198, query=fhelp.GetConfig()))[:-4] + b"\xff" * 4
    answer = await core.dispatch(caller.session, None, body)
    assert answer.ok and isinstance(answer.result, types.NearestDc)
    assert seen == [198]


async def test_internal_errors_are_500_and_the_server_goes_on(
    storage: Storage, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Registry()

    @broken.method(fhelp.GetNearestDc, needs_account=False)
    async def handle_get_nearest_dc(ctx: RequestContext, req: fhelp.GetNearestDc) -> bool:
        """help.getNearestDc#1fb33026 = NearestDc;"""
        raise ZeroDivisionError("boom")

    @broken.method(fhelp.GetConfig, needs_account=False)
    async def handle_get_config(ctx: RequestContext, req: fhelp.GetConfig) -> types.Config:
        """help.getConfig#c4f9186b = Config;"""
        return ctx.services.help.config()

    core = ServerCore(storage, clock=clock, registry=broken)
    caller = Caller(core)
    with caplog.at_level(logging.ERROR, logger="loopgram.server.dispatch"):
        error = await caller.fails(fhelp.GetNearestDc())
    assert (error.code, error.message) == (500, "INTERNAL")
    assert "help.getNearestDc" in caplog.text and "ZeroDivisionError" in caplog.text
    config = await caller.call(fhelp.GetConfig())
    assert isinstance(config, types.Config)


# -- flood limits ----------------------------------------------------------------------------------


async def test_flood_wait_when_one_account_calls_one_method_too_fast(
    storage: Storage, clock: FakeClock
) -> None:
    config = ServerConfig(flood_limits={"messages.sendMessage": Rate(per_second=0.5, burst=3)})
    core = make_core(storage, clock, config)
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    for _ in range(3):
        await send(alice, bob)

    error = await alice.fails(
        fmsg.SendMessage(peer=alice.input_peer(bob), message="x", random_id=1)
    )

    assert (error.code, error.message) == (420, "FLOOD_WAIT_2")
    assert isinstance(error, FloodWait) and error.seconds == 2
    # Other methods and other accounts are not limited by it.
    await alice.call(fupd.GetState())
    await send(bob, alice)
    clock.advance(1.0)
    error = await alice.fails(
        fmsg.SendMessage(peer=alice.input_peer(bob), message="x", random_id=1)
    )
    assert error.message == "FLOOD_WAIT_1"
    clock.advance(1.0)
    await send(alice, bob)  # a token refilled


async def test_callback_answers_are_not_flood_limited_unless_configured(
    storage: Storage, clock: FakeClock
) -> None:
    # The default (account, method) rate does not apply to answering callback queries: a bot
    # answers as many as users press (at 100/s, one bot answering 220 users got 13 119
    # FLOOD_WAITs).
    core = make_core(storage, clock, ServerConfig(flood_default=Rate(per_second=1.0, burst=2)))
    bot = await login_bot(core, "shop_bot")
    for _ in range(50):
        error = await bot.fails(fmsg.SetBotCallbackAnswer(query_id=1, cache_time=0))
        assert error.message == "QUERY_ID_INVALID"

    # ... unless a rate is set for the method itself.
    limited = ServerConfig(
        flood_limits={"messages.setBotCallbackAnswer": Rate(per_second=1.0, burst=2)}
    )
    core = make_core(storage, clock, limited)
    bot = await login_bot(core, "other_bot")
    for _ in range(2):
        await bot.fails(fmsg.SetBotCallbackAnswer(query_id=1, cache_time=0))
    error = await bot.fails(fmsg.SetBotCallbackAnswer(query_id=1, cache_time=0))
    assert error.message == "FLOOD_WAIT_1"


# -- errors and results ----------------------------------------------------------------------------


def test_error_table() -> None:
    assert ERRORS["QUERY_ID_INVALID"].code == 400
    assert ERRORS["AUTH_KEY_UNREGISTERED"].code == 401
    assert ERRORS["FLOOD_WAIT_X"].code == 420
    assert ERRORS["INTERNAL"].code == 500
    for name, spec in ERRORS.items():
        assert spec.name == name and name.isupper() and spec.description
        assert spec.code in (400, 401, 403, 420, 500)
        error = spec()
        assert (error.code, error.message) == (spec.code, name)
    wait = FloodWait(17)
    assert (wait.code, wait.message) == (420, "FLOOD_WAIT_17")


def test_encode_result() -> None:
    assert encode_result(True) == struct.pack("<I", 0x997275B5)
    assert encode_result(False) == struct.pack("<I", 0xBC799737)
    users = [types.User(id=1), types.User(id=2)]
    assert fusers.GetUsers(id=[]).read_result(encode_result(users)) == users
    with pytest.raises(TypeError):
        encode_result(object())
