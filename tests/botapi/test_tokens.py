"""The gateway remembers tokens it has checked; a reset token stops working at once, whether
it was reset in the server's process or by another process on the same data directory."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer
from loopgram.storage import DB_FILENAME, SqliteStorage

from .conftest import Api

UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_a_token_reset_in_process_is_refused_from_the_next_request(
    server: LoopgramServer, api: Api
) -> None:
    assert (await api.ok("getMe"))["username"] == "examplebot"
    await api.ok("getMe")  # the second request is served from the remembered check
    bot = api.bot_account(server)
    new_token = server.core.services.accounts.reset_bot_token(bot)
    assert await api.call("getMe") == (401, UNAUTHORIZED)
    fresh = Api(api.http, api.base, new_token)
    assert (await fresh.ok("getMe"))["username"] == "examplebot"


async def test_a_token_reset_by_another_process_is_refused_from_the_next_request(
    tmp_path: Path, loopgram_rsa_key: RsaPrivateKey, http: aiohttp.ClientSession
) -> None:
    async with LoopgramServer(
        data_dir=tmp_path, port=0, bot_api_port=0, rsa_key=loopgram_rsa_key
    ) as server:
        assert server.bot_api_url is not None
        api = Api(http, server.bot_api_url, server.create_bot("examplebot"))
        await api.ok("getMe")
        await api.ok("getMe")
        bot_id = int(api.token.split(":")[0])
        # What ``loopgram bot token --reset`` does: its own connection to the database.
        other = SqliteStorage(tmp_path / DB_FILENAME)
        try:
            other.accounts.set_bot_secret(bot_id, "a" * 35)
        finally:
            other.close()
        assert await api.call("getMe") == (401, UNAUTHORIZED)
        assert (await Api(http, api.base, f"{bot_id}:{'a' * 35}").ok("getMe"))["id"] == bot_id


async def test_get_me_shows_a_new_name_at_once(server: LoopgramServer, api: Api) -> None:
    assert (await api.ok("getMe"))["first_name"] == "examplebot"
    server.storage.accounts.update(api.bot_account(server).id, first_name="Renamed")
    assert (await api.ok("getMe"))["first_name"] == "Renamed"
