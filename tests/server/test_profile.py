"""Server layer: a user's profile -- ``account.updateProfile``, ``account.updateUsername``,
``account.checkUsername`` -- and who is told of a new name (``updateUserName``)."""

from __future__ import annotations

import loopgram.tl.functions.account as faccount
import loopgram.tl.functions.contacts as fcontacts
import loopgram.tl.functions.messages as fmessages
import loopgram.tl.functions.users as fusers
from loopgram.server import ServerCore
from loopgram.tl import types
from loopgram.tl.types import contacts as contact_types
from loopgram.tl.types import users as user_types

from .support import login_bot, login_user, send


async def test_update_profile_changes_the_name_and_answers_the_new_self_user(
    core: ServerCore,
) -> None:
    user = await login_user(core, "+1 555 0100")

    answer = await user.call(faccount.UpdateProfile(first_name="Ada", last_name="Lovelace"))

    assert isinstance(answer, types.User) and answer.self_
    assert (answer.first_name, answer.last_name) == ("Ada", "Lovelace")
    stored = core.storage.accounts.get(user.me.id)
    assert stored is not None and (stored.first_name, stored.last_name) == ("Ada", "Lovelace")
    # The session's own record is fresh too: getUsers(self) shows the new name.
    (me,) = await user.call(fusers.GetUsers(id=[types.InputUserSelf()]))
    assert isinstance(me, types.User) and me.first_name == "Ada"


async def test_update_profile_changes_only_the_fields_given(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0100")
    await user.call(faccount.UpdateProfile(first_name="Ada", last_name="Lovelace"))

    answer = await user.call(faccount.UpdateProfile(last_name=""))

    assert isinstance(answer, types.User)
    assert (answer.first_name, answer.last_name) == ("Ada", None)
    answer = await user.call(faccount.UpdateProfile(about="Counts"))
    assert isinstance(answer, types.User) and answer.first_name == "Ada"


async def test_an_empty_or_too_long_first_name_is_firstname_invalid(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0100")
    for bad in ("", "   ", "x" * (core.config.name_length_max + 1)):
        error = await user.fails(faccount.UpdateProfile(first_name=bad))
        assert (error.code, error.message) == (400, "FIRSTNAME_INVALID")
    error = await user.fails(
        faccount.UpdateProfile(last_name="y" * (core.config.name_length_max + 1))
    )
    assert error.message == "LASTNAME_INVALID"
    stored = core.storage.accounts.get(user.me.id)
    assert stored is not None and stored.first_name == "User 0100"


async def test_about_is_kept_shown_in_user_full_and_bounded(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0100")
    other = await login_user(core, "+1 555 0101")

    await user.call(faccount.UpdateProfile(about="Writes programs for engines"))

    full = await other.call(
        fusers.GetFullUser(id=types.InputUser(user_id=user.me.id, access_hash=user.me.access_hash))
    )
    assert isinstance(full, user_types.UserFull) and isinstance(full.full_user, types.UserFull)
    assert full.full_user.about == "Writes programs for engines"
    error = await user.fails(faccount.UpdateProfile(first_name="Ada", about="z" * 71))
    assert (error.code, error.message) == (400, "ABOUT_TOO_LONG")
    # Nothing of a refused change is kept, the valid first name included.
    stored = core.storage.accounts.get(user.me.id)
    assert stored is not None and stored.first_name == "User 0100"
    await user.call(faccount.UpdateProfile(about=""))
    own = await user.call(fusers.GetFullUser(id=types.InputUserSelf()))
    assert isinstance(own.full_user, types.UserFull) and own.full_user.about is None


async def test_a_new_name_reaches_other_sessions_and_chat_peers_but_not_strangers(
    core: ServerCore,
) -> None:
    user = await login_user(core, "+1 555 0100")
    second_device = await login_user(core, "+1 555 0100")
    peer = await login_user(core, "+1 555 0101")
    stranger = await login_user(core, "+1 555 0102")
    await send(peer, user, "hello")
    for caller in (user, second_device, peer, stranger):
        caller.pushed.clear()

    await user.call(faccount.UpdateProfile(first_name="Ada"))

    for told in (second_device, peer):
        (update,) = told.take(types.UpdateUserName)
        assert (update.user_id, update.first_name, update.last_name) == (user.me.id, "Ada", "")
    # The caller's own session gets the new User in the answer, not pushed.
    assert user.updates_of(types.UpdateUserName) == []
    assert stranger.updates_of(types.UpdateUserName) == []


async def test_a_new_name_reaches_the_members_of_a_basic_group(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0100")
    member = await login_user(core, "+1 555 0101")
    await user.call(
        fmessages.CreateChat(
            users=[types.InputUser(user_id=member.me.id, access_hash=member.me.access_hash)],
            title="Engines",
        )
    )
    member.pushed.clear()

    await user.call(faccount.UpdateProfile(first_name="Ada"))

    (update,) = member.updates_of(types.UpdateUserName)
    assert update.first_name == "Ada"
    (batch,) = [b for b in member.pushed if isinstance(b, types.Updates)]
    (shown,) = batch.users
    assert isinstance(shown, types.User) and shown.first_name == "Ada" and not shown.self_


async def test_an_unchanged_name_tells_nobody(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0100")
    second_device = await login_user(core, "+1 555 0100")
    second_device.pushed.clear()
    await user.call(faccount.UpdateProfile(first_name="User 0100", about="same name"))
    assert second_device.updates_of(types.UpdateUserName) == []


async def test_a_username_makes_the_user_findable_and_is_announced(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0100")
    peer = await login_user(core, "+1 555 0101")
    await send(peer, user, "hello")
    peer.pushed.clear()

    answer = await user.call(faccount.UpdateUsername(username="ada_l"))

    assert isinstance(answer, types.User) and answer.username == "ada_l"
    resolved = await peer.call(fcontacts.ResolveUsername(username="ADA_L"))
    assert isinstance(resolved, contact_types.ResolvedPeer)
    assert resolved.peer == types.PeerUser(user_id=user.me.id)
    (update,) = peer.updates_of(types.UpdateUserName)
    assert [u.username for u in update.usernames if isinstance(u, types.Username)] == ["ada_l"]


async def test_check_username_free_own_taken_and_malformed(core: ServerCore) -> None:
    user = await login_user(core, "+1 555 0100")
    other = await login_user(core, "+1 555 0101")
    await other.call(faccount.UpdateUsername(username="taken_name"))
    await user.call(faccount.UpdateUsername(username="my_name"))

    assert await user.call(faccount.CheckUsername(username="free_name")) is True
    assert await user.call(faccount.CheckUsername(username="MY_NAME")) is True
    error = await user.fails(faccount.CheckUsername(username="Taken_Name"))
    assert (error.code, error.message) == (400, "USERNAME_OCCUPIED")
    for bad in ("abc", "9lives", "ends_", "a__b_c", "x" * 33):
        error = await user.fails(faccount.CheckUsername(username=bad))
        assert (error.code, error.message) == (400, "USERNAME_INVALID"), bad
    error = await user.fails(faccount.UpdateUsername(username="taken_name"))
    assert error.message == "USERNAME_OCCUPIED"


async def test_check_username_is_for_users_only(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    error = await bot.fails(faccount.CheckUsername(username="free_name"))
    assert (error.code, error.message) == (400, "BOT_METHOD_INVALID")
