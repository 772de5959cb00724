"""Updates a user's call waits on (callback queries) are written in batches: the presses of
one event-loop turn share one transaction, committed before any bot is woken, and a stop
writes what is still staged, so a restart finds every press the bot did not confirm."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from loopgram.clock import FakeClock
from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer

from .conftest import Api, Chat

KEYBOARD = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}


async def _users_with_keyboards(api: Api, server: LoopgramServer, n: int) -> list[Chat]:
    chats = [Chat(server, api, phone=f"1555007{i:04d}") for i in range(n)]
    for chat in chats:
        await api.ok("sendMessage", chat_id=chat.user.id, text="press", reply_markup=KEYBOARD)
    # Only presses from here on: the users' /start messages are confirmed.
    started = await api.ok("getUpdates", allowed_updates=["callback_query"])
    if started:
        await api.ok("getUpdates", offset=started[-1]["update_id"] + 1)
    return chats


def _batches(server: LoopgramServer, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch written from now on."""
    sizes: list[int] = []
    repo = server.storage.bot_updates
    push_many = repo.push_many

    def counted(updates: Any, **kwargs: Any) -> Any:
        sizes.append(len(updates))
        return push_many(updates, **kwargs)

    monkeypatch.setattr(repo, "push_many", counted)
    return sizes


async def test_presses_of_one_turn_are_one_write_and_one_poll_gets_them_all(
    server: LoopgramServer, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    chats = await _users_with_keyboards(api, server, 4)
    sizes = _batches(server, monkeypatch)
    presses = [chat.press(b"go") for chat in chats]  # their tasks all run in one turn
    updates = await api.ok("getUpdates", timeout=10)
    # The first press of the turn is written at once, the three others in one batch that
    # is committed before the poll is woken: the poll answers with all four, in order.
    assert sizes == [3]
    assert [u["callback_query"]["from"]["id"] for u in updates] == [c.user.id for c in chats]
    first = updates[0]["update_id"]
    assert [u["update_id"] for u in updates] == [first, first + 1, first + 2, first + 3]
    for update in updates:
        await api.ok("answerCallbackQuery", callback_query_id=update["callback_query"]["id"])
    answers = await asyncio.wait_for(asyncio.gather(*presses), 10)
    assert len(answers) == 4


async def test_a_message_after_staged_presses_is_queued_after_them(
    server: LoopgramServer, api: Api
) -> None:
    chats = await _users_with_keyboards(api, server, 3)
    await api.ok("getUpdates", allowed_updates=["callback_query", "message"])
    presses = [chat.press(b"go") for chat in chats]
    await asyncio.sleep(0)  # the turn in which the press tasks run and stage
    chats[0].say("after the presses")
    updates = await api.ok("getUpdates", timeout=10)
    kinds = ["callback_query" if "callback_query" in u else "message" for u in updates]
    assert kinds == ["callback_query"] * 3 + ["message"]
    for update in updates[:3]:
        await api.ok("answerCallbackQuery", callback_query_id=update["callback_query"]["id"])
    await asyncio.wait_for(asyncio.gather(*presses), 10)


async def test_a_stop_writes_the_staged_presses_and_a_restart_delivers_them(
    tmp_path: Path, clock: FakeClock, loopgram_rsa_key: RsaPrivateKey
) -> None:
    async def start() -> LoopgramServer:
        server = LoopgramServer(
            tmp_path,
            port=0,
            bot_api_port=0,
            clock=clock,
            rsa_key=loopgram_rsa_key,
            synchronous="NORMAL",
        )
        await server.start()
        return server

    async with aiohttp.ClientSession() as http:
        first = await start()
        try:
            assert first.bot_api_url is not None and first._bot_api is not None
            api = Api(http, first.bot_api_url, first.create_bot("examplebot"))
            chats = await _users_with_keyboards(api, first, 3)
            presses = [chat.press(b"go") for chat in chats]
            await asyncio.sleep(0)  # the turn in which the press tasks run
            # The first press was written at once; the two others wait for the turn's end.
            assert first._bot_api.gateway.queues.staged == 2
        finally:
            await first.stop()
        for press in presses:
            press.cancel()
        await asyncio.gather(*presses, return_exceptions=True)
        second = await start()
        try:
            assert second.bot_api_url is not None
            api = Api(http, second.bot_api_url, api.token)
            updates = await api.ok("getUpdates")
            assert [u["callback_query"]["from"]["id"] for u in updates] == [
                c.user.id for c in chats
            ]
        finally:
            await second.stop()
