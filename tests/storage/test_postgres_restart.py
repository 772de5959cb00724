"""Storage layer, faults: PostgreSQL restarted under a storage and under a running server.

The database here is a private cluster (``loopgram.testing.postgres.PostgresServer``) that
the tests stop and start; the shared test database is never touched. While it is down every
call that needs it fails at once with ``StorageBusy`` (``FLOOD_WAIT_1``, Bot API 429); once
it is back, the same storage object, and the same server process, serve again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from telethon import Button, events, types  # type: ignore[import-untyped]
from telethon.errors import FloodWaitError  # type: ignore[import-untyped]

from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer
from loopgram.storage import PeerRef, PostgresStorage, StorageBusy
from loopgram.storage.postgres import Freshness
from loopgram.testing.postgres import (
    PostgresServer,
    postgres_server,
    require_postgres_server,
    with_schema,
)

from ..integration.support import make_pair, within


@pytest.fixture
def private_pg() -> Iterator[PostgresServer]:
    with postgres_server(require_postgres_server()) as server:
        yield server


@pytest.mark.parametrize("freshness", ["snapshot", "notify"])
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_storage_fails_calls_while_postgresql_is_down_and_serves_again_after_its_restart(
    private_pg: PostgresServer, freshness: Freshness, mode: str
) -> None:
    url = with_schema(private_pg.url, "restart")
    with PostgresStorage(url, freshness=freshness, connect_timeout=2) as store:
        bot = store.accounts.create_bot("RestartBot", "Bot", "secret").id
        store.settings.set("k", b"before")
        with store.reading():
            assert store.accounts.get(bot) is not None  # now cached

        private_pg.stop(mode)
        with pytest.raises(StorageBusy), store.reading():
            store.accounts.get(bot)  # a cached row is not served without its check
        with pytest.raises(StorageBusy):
            store.settings.get("k")
        with pytest.raises(StorageBusy):
            store.settings.set("k", b"lost")

        private_pg.start()
        with store.reading():
            account = store.accounts.get(bot)
        assert account is not None and account.first_name == "Bot"
        assert store.settings.get("k") == b"before"
        store.settings.set("k", b"after")
        assert store.settings.get("k") == b"after"
    with PostgresStorage(url) as other:
        assert other.settings.get("k") == b"after"


@pytest.mark.parametrize("freshness", ["snapshot", "notify"])
async def test_a_server_answers_flood_wait_while_postgresql_is_down_and_recovers_by_itself(
    private_pg: PostgresServer, loopgram_rsa_key: RsaPrivateKey, freshness: str
) -> None:
    storage = PostgresStorage(
        with_schema(private_pg.url, "served") + f"&freshness={freshness}", connect_timeout=2
    )
    try:
        async with (
            LoopgramServer(
                storage=storage, port=0, bot_api_port=0, rsa_key=loopgram_rsa_key
            ) as server,
            aiohttp.ClientSession() as http,
        ):
            token = server.create_bot("restartbot")
            pair = await make_pair(server, token)

            async def bot_api(method: str, **params: Any) -> tuple[int, Any]:
                url = f"{server.bot_api_url}/bot{token}/{method}"
                async with http.post(url, json=params) as reply:
                    return reply.status, await reply.json(content_type=None)

            # Clients retry a flood wait by themselves; these must see it.
            pair.user.flood_sleep_threshold = 0
            pair.bot.flood_sleep_threshold = 0
            try:

                @pair.bot.on(events.CallbackQuery(data=b"go"))
                async def on_go(event: Any) -> None:
                    await event.answer("went")

                message = await pair.keyboard([[Button.inline("Go", b"go")]])
                answer = await within(message.click(data=b"go"))
                assert isinstance(answer, types.messages.BotCallbackAnswer)

                await asyncio.to_thread(private_pg.stop, "fast")
                with pytest.raises(FloodWaitError) as refused:
                    await within(pair.user.send_message(pair.bot_id, "while down"))
                assert refused.value.seconds == 1
                with pytest.raises(FloodWaitError):
                    await within(message.click(data=b"go"))
                status, body = await bot_api("sendMessage", chat_id=pair.user_id, text="down")
                assert status == 429 and body["parameters"] == {"retry_after": 1}

                await asyncio.to_thread(private_pg.start)
                sent = await within(pair.user.send_message(pair.bot_id, "back again"))
                assert sent.text == "back again"
                answer = await within(message.click(data=b"go"))
                assert isinstance(answer, types.messages.BotCallbackAnswer)
                assert answer.message == "went"
                status, body = await bot_api("sendMessage", chat_id=pair.user_id, text="up")
                assert status == 200 and body["result"]["text"] == "up"
            finally:
                await pair.disconnect()
    finally:
        storage.close()
    with PostgresStorage(with_schema(private_pg.url, "served")) as other:
        user = other.accounts.get(pair.user_id)
        assert user is not None
        texts = [m.text for m in other.messages.history(pair.user_id, PeerRef.user(pair.bot_id))]
        assert "back again" in texts and "while down" not in texts
