"""Storage layer, end to end: a loopgram server on PostgreSQL serves unmodified Telethon over
loopback TCP -- logins, messages and the callback round trip -- and what it stored is there
for the next process that opens the same schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from telethon import Button, events, types  # type: ignore[import-untyped]

from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer
from loopgram.storage import PeerRef, PostgresStorage
from loopgram.testing.postgres import postgres_schema, require_postgres_url

from ..integration.support import make_pair, within


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema(require_postgres_url()) as url:
        yield url


@pytest.mark.parametrize("freshness", ["snapshot", "notify"])
async def test_telethon_presses_and_gets_the_answer_from_a_server_on_postgresql(
    pg_url: str, loopgram_rsa_key: RsaPrivateKey, freshness: str
) -> None:
    storage = PostgresStorage(f"{pg_url}&freshness={freshness}")
    try:
        async with LoopgramServer(storage=storage, port=0, rsa_key=loopgram_rsa_key) as server:
            pair = await make_pair(server, server.create_bot("examplebot"))
            try:

                @pair.bot.on(events.CallbackQuery(data=b"buy"))
                async def on_buy(event: Any) -> None:
                    await event.answer("Added to cart", alert=True, cache_time=60)

                message = await pair.keyboard([[Button.inline("Buy", b"buy")]])
                answer = await within(message.click(data=b"buy"))
                assert isinstance(answer, types.messages.BotCallbackAnswer)
                assert answer.alert is True and answer.message == "Added to cart"
                assert answer.cache_time == 60
            finally:
                await pair.disconnect()
    finally:
        storage.close()
    # Another process opening the schema sees the accounts, the keys and the messages.
    with PostgresStorage(pg_url) as other:
        bot = other.accounts.get_by_username("examplebot")
        assert bot is not None
        assert other.auth_keys.for_account(pair.user_id)
        texts = [m.text for m in other.messages.history(pair.user_id, PeerRef.user(bot.id))]
        assert "pick one" in texts and "/start" in texts
