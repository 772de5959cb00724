"""Server layer: logging in -- users with the fixed test code, bots with their tokens."""

from __future__ import annotations

import re

import pytest

import loopgram.tl.functions.auth as fauth
import loopgram.tl.functions.users as fusers
from loopgram.clock import FakeClock
from loopgram.server import RpcError, ServerConfig, ServerCore
from loopgram.storage import Storage
from loopgram.tl import types
from loopgram.tl.types import auth as auth_types

from .support import Caller, login_bot, login_user, make_core


async def _send_code(caller: Caller, phone: str) -> str:
    sent = await caller.call(
        fauth.SendCode(phone_number=phone, api_id=1, api_hash="x", settings=types.CodeSettings())
    )
    assert isinstance(sent, auth_types.SentCode)
    assert sent.type == auth_types.SentCodeTypeApp(length=5)
    return sent.phone_code_hash


async def test_sign_in_with_unknown_number_creates_the_account(core: ServerCore) -> None:
    caller = Caller(core)
    code_hash = await _send_code(caller, "+44 7700 900123")

    auth = await caller.call(
        fauth.SignIn(phone_number="+44 7700 900123", phone_code_hash=code_hash, phone_code="12345")
    )

    assert isinstance(auth, auth_types.Authorization)
    user = auth.user
    assert isinstance(user, types.User)
    assert user.self_ and not user.bot and user.phone == "447700900123"
    account = core.storage.accounts.get_by_phone("447700900123")
    assert account is not None and account.id == user.id
    # The login is stored with the auth key: it survives reconnects and restarts.
    record = core.storage.auth_keys.get(caller.auth_key_id)
    assert record is not None and record.account_id == user.id


async def test_sign_in_again_finds_the_same_account(core: ServerCore) -> None:
    first = await login_user(core, "+1 555 0100")
    again = await login_user(core, "1-555-0100")
    assert first.me.id == again.me.id


async def test_wrong_code_is_phone_code_invalid(core: ServerCore) -> None:
    caller = Caller(core)
    code_hash = await _send_code(caller, "+1 555 0100")
    error = await caller.fails(
        fauth.SignIn(phone_number="+1 555 0100", phone_code_hash=code_hash, phone_code="54321")
    )
    assert (error.code, error.message) == (400, "PHONE_CODE_INVALID")
    error = await caller.fails(fauth.SignIn(phone_number="+1 555 0100", phone_code_hash=code_hash))
    assert error.message == "PHONE_CODE_EMPTY"
    assert caller.session.account is None


async def test_login_code_is_configurable(storage: Storage, clock: FakeClock) -> None:
    core = make_core(storage, clock, ServerConfig(login_code="777"))
    caller = Caller(core)
    sent = await caller.call(
        fauth.SendCode(
            phone_number="15550100", api_id=1, api_hash="x", settings=types.CodeSettings()
        )
    )
    assert isinstance(sent, auth_types.SentCode)
    assert sent.type == auth_types.SentCodeTypeApp(length=3)
    error = await caller.fails(
        fauth.SignIn(
            phone_number="15550100", phone_code_hash=sent.phone_code_hash, phone_code="12345"
        )
    )
    assert error.message == "PHONE_CODE_INVALID"
    await caller.call(
        fauth.SignIn(
            phone_number="15550100", phone_code_hash=sent.phone_code_hash, phone_code="777"
        )
    )
    assert caller.session.account is not None


@pytest.mark.parametrize("bad_hash", ["", "nonsense", "0" * 16 + "1.abc"])
async def test_forged_code_hash_is_phone_code_expired(core: ServerCore, bad_hash: str) -> None:
    caller = Caller(core)
    error = await caller.fails(
        fauth.SignIn(phone_number="+1 555 0100", phone_code_hash=bad_hash, phone_code="12345")
    )
    assert error.message == "PHONE_CODE_EXPIRED"


async def test_code_hash_of_another_number_is_phone_code_expired(core: ServerCore) -> None:
    caller = Caller(core)
    code_hash = await _send_code(caller, "+1 555 0100")
    error = await caller.fails(
        fauth.SignIn(phone_number="+1 555 0199", phone_code_hash=code_hash, phone_code="12345")
    )
    assert error.message == "PHONE_CODE_EXPIRED"


async def test_code_hash_expires(core: ServerCore, clock: FakeClock) -> None:
    caller = Caller(core)
    code_hash = await _send_code(caller, "+1 555 0100")
    clock.advance(core.config.login_code_ttl + 1)
    error = await caller.fails(
        fauth.SignIn(phone_number="+1 555 0100", phone_code_hash=code_hash, phone_code="12345")
    )
    assert error.message == "PHONE_CODE_EXPIRED"


async def test_code_hash_survives_a_restart(
    core: ServerCore, storage: Storage, clock: FakeClock
) -> None:
    code_hash = await _send_code(Caller(core), "+1 555 0100")
    restarted = make_core(storage, clock)
    caller = Caller(restarted)
    await caller.call(
        fauth.SignIn(phone_number="+1 555 0100", phone_code_hash=code_hash, phone_code="12345")
    )
    assert caller.session.account is not None


@pytest.mark.parametrize("phone", ["", "123", "+1 555 abc 0100", "1" * 16])
async def test_invalid_phone_number(core: ServerCore, phone: str) -> None:
    error = await Caller(core).fails(
        fauth.SendCode(phone_number=phone, api_id=1, api_hash="x", settings=types.CodeSettings())
    )
    assert error.message == "PHONE_NUMBER_INVALID"


async def test_sign_up_creates_an_account(core: ServerCore) -> None:
    caller = Caller(core)
    code_hash = await _send_code(caller, "+1 555 0300")
    auth = await caller.call(
        fauth.SignUp(
            phone_number="+1 555 0300", phone_code_hash=code_hash, first_name="Ada", last_name="L"
        )
    )
    assert isinstance(auth, auth_types.Authorization)
    assert isinstance(auth.user, types.User)
    assert (auth.user.first_name, auth.user.last_name) == ("Ada", "L")
    assert caller.session.account is not None

    error = await caller.fails(
        fauth.SignUp(
            phone_number="+1 555 0300", phone_code_hash=code_hash, first_name="Ada", last_name=""
        )
    )
    assert error.message == "PHONE_NUMBER_OCCUPIED"
    error = await caller.fails(
        fauth.SignUp(
            phone_number="+1 555 0301",
            phone_code_hash=await _send_code(caller, "+1 555 0301"),
            first_name="  ",
            last_name="",
        )
    )
    assert error.message == "FIRSTNAME_INVALID"


async def test_bot_logs_in_with_its_token(core: ServerCore) -> None:
    credentials = core.create_bot("Shop_Bot", "Shop")
    bot_id, _, secret = credentials.token.partition(":")
    assert int(bot_id) == credentials.account.id
    assert re.fullmatch(r"[A-Za-z0-9_-]{35}", secret)
    caller = Caller(core)

    auth = await caller.call(
        fauth.ImportBotAuthorization(
            flags=0, api_id=1, api_hash="x", bot_auth_token=credentials.token
        )
    )

    assert isinstance(auth, auth_types.Authorization)
    assert isinstance(auth.user, types.User)
    assert auth.user.bot and auth.user.self_ and auth.user.username == "Shop_Bot"
    assert auth.user.first_name == "Shop"


@pytest.mark.parametrize("token", ["", "garbage", "1000000000:wrong", ":secret", "12:"])
async def test_wrong_bot_token_is_access_token_invalid(core: ServerCore, token: str) -> None:
    core.create_bot("shop_bot")
    error = await Caller(core).fails(
        fauth.ImportBotAuthorization(flags=0, api_id=1, api_hash="x", bot_auth_token=token)
    )
    assert (error.code, error.message) == (400, "ACCESS_TOKEN_INVALID")


async def test_tokens_are_random_and_reset_invalidates(core: ServerCore) -> None:
    a = core.create_bot("first_bot")
    b = core.create_bot("second_bot")
    assert a.token.split(":")[1] != b.token.split(":")[1]
    new_token = core.services.accounts.reset_bot_token(a.account)
    error = await Caller(core).fails(
        fauth.ImportBotAuthorization(flags=0, api_id=1, api_hash="x", bot_auth_token=a.token)
    )
    assert error.message == "ACCESS_TOKEN_INVALID"
    await Caller(core).call(
        fauth.ImportBotAuthorization(flags=0, api_id=1, api_hash="x", bot_auth_token=new_token)
    )


@pytest.mark.parametrize(
    "username", ["shop", "shopbotx", "1shop_bot", "sbot", "shop__bot", "shop bot", "a" * 30 + "bot"]
)
def test_bot_username_rules(core: ServerCore, username: str) -> None:
    with pytest.raises(RpcError) as info:
        core.create_bot(username)
    assert info.value.message == "USERNAME_INVALID"


@pytest.mark.parametrize("username", ["shop_bot", "ShopBot", "SHOPBOT", "a_b_c_BoT"])
def test_bot_usernames_end_in_bot_case_insensitively(core: ServerCore, username: str) -> None:
    assert core.create_bot(username).account.username == username


def test_taken_bot_username_is_username_occupied(core: ServerCore) -> None:
    core.create_bot("shop_bot")
    with pytest.raises(RpcError) as info:
        core.create_bot("SHOP_BOT")
    assert info.value.message == "USERNAME_OCCUPIED"


def test_create_user(core: ServerCore) -> None:
    account = core.create_user("+1 (555) 010-0100", "Ann")
    assert account.phone == "15550100100" and account.first_name == "Ann" and not account.is_bot
    with pytest.raises(RpcError) as info:
        core.create_user("15550100100")
    assert info.value.message == "PHONE_NUMBER_OCCUPIED"


async def test_login_is_shared_by_the_sessions_of_a_key_and_survives_restart(
    core: ServerCore, storage: Storage, clock: FakeClock
) -> None:
    user = await login_user(core, "+1 555 0100")
    other_session = Caller(core, auth_key_id=user.auth_key_id, session_id=2)
    assert other_session.session.account == user.me

    restarted = make_core(storage, clock)
    again = Caller(restarted, auth_key_id=user.auth_key_id, session_id=3)
    (me,) = await again.call(fusers.GetUsers(id=[types.InputUserSelf()]))
    assert isinstance(me, types.User) and me.id == user.me.id and me.self_


async def test_log_out(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0100")
    result = await user.call(fauth.LogOut())
    assert isinstance(result, auth_types.LoggedOut)
    error = await user.fails(fusers.GetUsers(id=[types.InputUserSelf()]))
    assert (error.code, error.message) == (401, "AUTH_KEY_UNREGISTERED")
    record = core.storage.auth_keys.get(user.auth_key_id)
    assert record is not None and record.account_id is None


async def test_bot_login_then_user_login_on_other_keys(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    assert bot.session.account is not None and bot.session.account.is_bot
    assert user.session.account is not None and not user.session.account.is_bot
