"""Restart: the server stops and starts again on the same data directory; the same Telethon
sessions come back with their auth keys (no new key exchange, still logged in) and press and
answer again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from telethon import Button, events  # type: ignore[import-untyped]

from loopgram.crypto import AuthKey
from loopgram.node import LoopgramServer
from loopgram.testing.telethon import telethon_client

from .support import eventually, make_pair, within


def key_id(client: Any) -> int:
    """The auth key id as the server names it."""
    return AuthKey(client.session.auth_key.key).id


async def answer_with(bot: Any, text: str) -> None:
    async def on_query(event: Any) -> None:
        await event.answer(text, alert=True)

    bot.add_event_handler(on_query, events.CallbackQuery)


async def test_sessions_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with LoopgramServer(data, port=0, synchronous="NORMAL") as first:
        port = first.port
        pem = first.public_key_pem
        token = first.create_bot("examplebot")
        pair = await make_pair(first, token)
        try:
            await answer_with(pair.bot, "before")
            message = await pair.keyboard([[Button.inline("Press", b"press")]])
            assert (await within(message.click(0))).message == "before"
            bot_session = pair.bot.session.save()
            user_session = pair.user.session.save()
            keys = {key_id(pair.bot), key_id(pair.user)}
            first_message_id = message.id
        finally:
            await pair.disconnect()

    async with LoopgramServer(data, port=port, synchronous="NORMAL") as second:
        # The RSA key was generated on the first start and kept.
        assert second.public_key_pem == pem
        bot = telethon_client(second, bot_session)
        user = telethon_client(second, user_session)
        await within(asyncio.gather(bot.connect(), user.connect()))
        try:
            assert {key_id(bot), key_id(user)} == keys
            assert await bot.is_user_authorized() and await user.is_user_authorized()
            assert (await bot.get_me()).username == "examplebot"
            me = await user.get_me()
            await answer_with(bot, "after")
            # The message from before the restart still has its keyboard and still works.
            [old] = await user.get_messages("examplebot", ids=[first_message_id])
            assert (await within(old.click(0))).message == "after"
            # And new keyboards too.
            await bot.send_message(me.id, "again", buttons=[[Button.inline("Go", b"go")]])

            async def fresh() -> Any:
                found = await user.get_messages("examplebot", limit=1)
                return found[0] if found and found[0].text == "again" else None

            newer = await eventually(fresh)
            assert (await within(newer.click(0))).message == "after"
        finally:
            await asyncio.gather(bot.disconnect(), user.disconnect())
        # No key exchange happened: the only keys are the two from before.
        for k in keys:
            assert second.storage.auth_keys.get(k) is not None


async def test_connected_clients_reconnect_by_themselves(tmp_path: Path) -> None:
    """Telethon notices the dropped connection, reconnects to the restarted server with its
    key and goes on."""
    data = tmp_path / "data"
    first = LoopgramServer(data, port=0, synchronous="NORMAL")
    await first.start()
    port = first.port
    token = first.create_bot("examplebot")
    pair = await make_pair(first, token)
    try:
        await answer_with(pair.bot, "ok")
        message = await pair.keyboard([[Button.inline("Press", b"press")]])
        keys = {key_id(pair.bot), key_id(pair.user)}
        await first.stop()
        await asyncio.sleep(0.3)
        async with LoopgramServer(data, port=port, synchronous="NORMAL") as second:

            async def pressed() -> Any:
                try:
                    return await asyncio.wait_for(message.click(0), 3)
                except (ConnectionError, TimeoutError):
                    return None

            try:
                answer = await eventually(pressed, timeout=20)
                assert answer.message == "ok"
                assert {key_id(pair.bot), key_id(pair.user)} == keys
                assert second.connections >= 2
            finally:
                # Before the server goes: Telethon would keep reconnecting for half a minute.
                await pair.disconnect()
    finally:
        await pair.disconnect()
        await first.stop()
