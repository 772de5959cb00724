"""Server layer: users, usernames and what ``help.*`` says about the server."""

from __future__ import annotations

import pytest

import loopgram.tl.functions.account as faccount
import loopgram.tl.functions.contacts as fcontacts
import loopgram.tl.functions.help as fhelp
import loopgram.tl.functions.users as fusers
from loopgram.server import ServerCore
from loopgram.tl import types
from loopgram.tl.types import contacts as contact_types
from loopgram.tl.types import users as user_types

from .support import HOST, PORT, Caller, login_bot, login_user


@pytest.mark.parametrize("name", ["shop_bot", "SHOP_BOT", "@Shop_Bot"])
async def test_resolve_username_is_case_insensitive(core: ServerCore, name: str) -> None:
    bot = await login_bot(core, "Shop_Bot")
    user = await login_user(core, "+1 555 0100")

    resolved = await user.call(fcontacts.ResolveUsername(username=name))

    assert isinstance(resolved, contact_types.ResolvedPeer)
    assert resolved.peer == types.PeerUser(user_id=bot.me.id)
    (found,) = resolved.users
    assert isinstance(found, types.User)
    assert found.bot and found.username == "Shop_Bot" and found.access_hash == bot.me.access_hash
    assert found.bot_info_version is not None and not found.self_ and found.phone is None


async def test_unknown_username_is_username_not_occupied(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0100")
    error = await user.fails(fcontacts.ResolveUsername(username="nobody_bot"))
    assert (error.code, error.message) == (400, "USERNAME_NOT_OCCUPIED")
    error = await user.fails(fcontacts.ResolveUsername(username=""))
    assert error.message == "USERNAME_INVALID"


async def test_get_users(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")

    users = await user.call(
        fusers.GetUsers(
            id=[
                types.InputUserSelf(),
                types.InputUser(user_id=bot.me.id, access_hash=bot.me.access_hash),
                types.InputUser(user_id=bot.me.id, access_hash=bot.me.access_hash + 1),
                types.InputUser(user_id=424242, access_hash=0),
            ]
        )
    )

    me, found = users
    assert isinstance(me, types.User) and me.self_ and me.phone == "15550100"
    assert isinstance(found, types.User) and found.id == bot.me.id and found.bot


async def test_get_full_user_of_a_bot_has_bot_info(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    full = await user.call(
        fusers.GetFullUser(id=types.InputUser(user_id=bot.me.id, access_hash=bot.me.access_hash))
    )
    assert isinstance(full, user_types.UserFull)
    assert isinstance(full.full_user, types.UserFull)
    assert full.full_user.id == bot.me.id
    assert isinstance(full.full_user.bot_info, types.BotInfo)
    assert full.full_user.bot_info.user_id == bot.me.id
    assert [u.id for u in full.users if isinstance(u, types.User)] == [bot.me.id]

    own = await user.call(fusers.GetFullUser(id=types.InputUserSelf()))
    assert isinstance(own, user_types.UserFull)
    assert isinstance(own.full_user, types.UserFull) and own.full_user.bot_info is None


async def test_get_full_user_with_wrong_hash_is_user_id_invalid(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    error = await user.fails(
        fusers.GetFullUser(id=types.InputUser(user_id=bot.me.id, access_hash=0))
    )
    assert error.message == "USER_ID_INVALID"


async def test_update_username(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0100")
    await login_bot(core, "shop_bot")
    result = await user.call(faccount.UpdateUsername(username="alice_w"))
    assert isinstance(result, types.User) and result.username == "alice_w"
    assert user.session.account is not None and user.session.account.username == "alice_w"
    error = await user.fails(faccount.UpdateUsername(username="SHOP_bot"))
    assert error.message == "USERNAME_OCCUPIED"
    error = await user.fails(faccount.UpdateUsername(username="a!"))
    assert error.message == "USERNAME_INVALID"
    cleared = await user.call(faccount.UpdateUsername(username=""))
    assert isinstance(cleared, types.User) and cleared.username is None


async def test_get_config_advertises_dc_2_at_the_servers_address(core: ServerCore) -> None:
    config = await Caller(core).call(fhelp.GetConfig())  # works before login

    assert isinstance(config, types.Config)
    assert config.this_dc == 2 and not config.test_mode
    assert config.dc_options == [types.DcOption(id=2, ip_address=HOST, port=PORT)]
    assert config.date == int(core.clock()) and config.expires > config.date
    assert config.message_length_max == 4096


async def test_get_nearest_dc(core: ServerCore) -> None:
    nearest = await Caller(core).call(fhelp.GetNearestDc())
    assert isinstance(nearest, types.NearestDc)
    assert (nearest.this_dc, nearest.nearest_dc) == (2, 2)
