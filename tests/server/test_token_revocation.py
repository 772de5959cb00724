"""Server layer: revoking a bot's token ends the bot's authorisations -- its MTProto sessions
get ``AUTH_KEY_UNREGISTERED`` on their next call, whether the token was revoked in the
server's process or by another process on the same database (``loopgram bot token NAME
--revoke``)."""

from __future__ import annotations

from pathlib import Path

import loopgram.tl.functions.auth as fauth
import loopgram.tl.functions.messages as fmsg
import loopgram.tl.functions.updates as fupd
from loopgram.clock import FakeClock
from loopgram.server import ServerCore
from loopgram.storage import DB_FILENAME, SqliteStorage, Storage

from .support import Caller, login_bot, login_user, make_core, send


async def test_a_token_revoked_in_process_logs_out_every_session_of_the_bot(
    core: ServerCore,
) -> None:
    bot = await login_bot(core, "shop_bot")
    assert bot.account is not None
    other_key = Caller(core)
    await other_key.call(
        fauth.ImportBotAuthorization(
            flags=0, api_id=1, api_hash="x", bot_auth_token=core.create_bot("spare_bot").token
        )
    )
    second = await login_bot(core, "other_bot")
    user = await login_user(core, "+1 555 0100")
    await bot.call(fupd.GetState())

    new_token = core.services.accounts.reset_bot_token(bot.account)

    error = await bot.fails(fupd.GetState())
    assert (error.code, error.message) == (401, "AUTH_KEY_UNREGISTERED")
    # Only that bot: other bots and users go on.
    await second.call(fupd.GetState())
    await other_key.call(fupd.GetState())
    await send(user, second)
    # The same key logs in again with the new token.
    await bot.call(
        fauth.ImportBotAuthorization(flags=0, api_id=1, api_hash="x", bot_auth_token=new_token)
    )
    await bot.call(fupd.GetState())


async def test_a_revoked_bot_receives_no_more_updates_after_its_refused_call(
    core: ServerCore,
) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    assert bot.account is not None
    core.services.accounts.reset_bot_token(bot.account)
    await bot.fails(fupd.GetState())
    bot.pushed.clear()
    await user.call(
        fmsg.SendMessage(peer=user.input_peer(bot.account), message="anyone?", random_id=7)
    )
    assert bot.pushed == []


async def test_a_token_revoked_by_another_process_logs_out_on_the_next_call(
    tmp_path: Path, clock: FakeClock
) -> None:
    storage: Storage = SqliteStorage(tmp_path / DB_FILENAME, clock=clock)
    try:
        core = make_core(storage, clock)
        bot = await login_bot(core, "shop_bot")
        second = await login_bot(core, "other_bot")
        assert bot.account is not None
        await bot.call(fupd.GetState())
        await bot.call(fupd.GetState())  # served from the checked login

        # What ``loopgram bot token shop_bot --revoke`` does: its own connection and core.
        other = SqliteStorage(tmp_path / DB_FILENAME)
        try:
            ServerCore(other).services.accounts.reset_bot_token(bot.account)
        finally:
            other.close()

        error = await bot.fails(fupd.GetState())
        assert (error.code, error.message) == (401, "AUTH_KEY_UNREGISTERED")
        await second.call(fupd.GetState())
    finally:
        storage.close()
