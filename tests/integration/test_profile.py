"""End to end: a user's profile through Telethon's public API over TCP -- a new name and
username set with ``account.updateProfile`` / ``account.updateUsername``, seen live by a bot
that chats with the user (``updateUserName``), the user found by ``@username``, and
Telegram's errors for a bad name, bio or username."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telethon import errors, events, functions  # type: ignore[import-untyped]

from loopgram.testing.server import ServerThread

from .support import Pair, start_user, within


async def test_a_new_name_reaches_the_bot_live_and_the_username_finds_the_user(
    pair: Pair, loopgram_server: ServerThread
) -> None:
    seen: asyncio.Queue[Any] = asyncio.Queue()

    @pair.bot.on(events.Raw())
    async def on_raw(update: Any) -> None:
        if type(update).__name__ == "UpdateUserName":
            await seen.put(update)

    me = await within(
        pair.user(functions.account.UpdateProfileRequest(first_name="Ada", last_name="Lovelace"))
    )
    assert (me.first_name, me.last_name) == ("Ada", "Lovelace")
    update = await within(seen.get())
    assert (update.user_id, update.first_name, update.last_name) == (
        pair.user_id,
        "Ada",
        "Lovelace",
    )

    assert await within(pair.user(functions.account.CheckUsernameRequest(username="ada_l")))
    renamed = await within(pair.user(functions.account.UpdateUsernameRequest(username="ada_l")))
    assert renamed.username == "ada_l"
    update = await within(seen.get())
    assert [u.username for u in update.usernames] == ["ada_l"]

    stranger = await start_user(loopgram_server)
    try:
        found = await within(stranger.get_entity("@ada_l"))
        assert (found.id, found.first_name) == (pair.user_id, "Ada")
        with pytest.raises(errors.UsernameOccupiedError):
            await within(stranger(functions.account.CheckUsernameRequest(username="ADA_L")))
    finally:
        await stranger.disconnect()


async def test_bad_names_bios_and_usernames_get_telegrams_errors(pair: Pair) -> None:
    with pytest.raises(errors.FirstNameInvalidError):
        await within(pair.user(functions.account.UpdateProfileRequest(first_name="")))
    with pytest.raises(errors.AboutTooLongError):
        await within(pair.user(functions.account.UpdateProfileRequest(about="a" * 71)))
    with pytest.raises(errors.UsernameInvalidError):
        await within(pair.user(functions.account.UpdateUsernameRequest(username="x1")))
    with pytest.raises(errors.UsernameOccupiedError):
        await within(pair.user(functions.account.UpdateUsernameRequest(username=pair.bot_username)))
    me = await within(pair.user.get_me())
    assert me.first_name != ""
