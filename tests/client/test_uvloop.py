"""The drivers under uvloop, the event loop many bot projects install: its transports have
asyncio's methods but do not derive from ``asyncio.Transport``, so nothing in the server or
the client may depend on that class. Server and clients share one uvloop loop here."""

from __future__ import annotations

import asyncio

import uvloop

from loopgram.clock import FakeClock
from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer
from loopgram.server import ServerConfig

from .support import World


async def _press_and_answer(rsa_key: RsaPrivateKey) -> tuple[str | None, bool, int]:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
    clock = FakeClock()
    async with LoopgramServer(
        data_dir=None, port=0, clock=clock, rsa_key=rsa_key, config=ServerConfig()
    ) as server:
        world = World(server, clock)
        try:
            bot, _user, message = await asyncio.wait_for(world.scene(), 10)
            bot.auto = {"text": "from uvloop", "alert": True}
            answer = await asyncio.wait_for(message.press(0, 0), 10)
            return answer.message, answer.alert, len(bot.seen)
        finally:
            await world.close()


def test_server_and_client_work_under_uvloop(rsa_key: RsaPrivateKey) -> None:
    assert uvloop.run(_press_and_answer(rsa_key)) == ("from uvloop", True, 1)
