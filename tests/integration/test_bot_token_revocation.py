"""End to end: ``loopgram bot token NAME --revoke``, run while the server serves the same data
directory, ends the bot's authorisations at both front doors -- its Bot API requests with the
old token get 401 Unauthorized, its MTProto session gets AUTH_KEY_UNREGISTERED on its next
call -- and the new token works at both."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

import loopgram.tl.functions.updates as fupd
from loopgram import cli
from loopgram.client.errors import AuthKeyUnregisteredError
from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer
from loopgram.testing.loopgram import bot_client


async def test_cli_revocation_ends_the_bots_sessions_at_both_front_doors(
    tmp_path: Path, loopgram_rsa_key: RsaPrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        LoopgramServer(
            data_dir=tmp_path, port=0, bot_api_port=0, rsa_key=loopgram_rsa_key
        ) as server,
        aiohttp.ClientSession() as http,
    ):
        old = server.create_bot("shop_bot")
        base = server.bot_api_url

        async def get_me(token: str) -> tuple[int, object]:
            async with http.post(f"{base}/bot{token}/getMe") as response:
                return response.status, await response.json()

        async with bot_client(server, old) as bot:
            await bot.invoke(fupd.GetState())
            assert (await get_me(old))[0] == 200

            # The CLI is another process in real use: its own connection to the database,
            # while the server's loop goes on serving.
            argv = ["bot", "token", "shop_bot", "--revoke", "--data", str(tmp_path)]
            assert await asyncio.to_thread(cli.main, argv) == 0
            new = capsys.readouterr().out.strip()
            assert new != old

            assert await get_me(old) == (
                401,
                {"ok": False, "error_code": 401, "description": "Unauthorized"},
            )
            with pytest.raises(AuthKeyUnregisteredError):
                await bot.invoke(fupd.GetState())

        status, body = await get_me(new)
        assert status == 200 and isinstance(body, dict) and body["result"]["username"] == "shop_bot"
        async with bot_client(server, new) as again:
            await again.invoke(fupd.GetState())
