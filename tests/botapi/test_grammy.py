"""grammY (npm), unmodified, in long polling against the Bot API, with a Telethon user.

The package is installed from the npm registry into ``.pytest-node/grammy-<version>`` on first
use (``tests.botapi.npm``, as for Telegraf).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loopgram.node import LoopgramServer

from ..integration.support import start_user, within
from . import npm
from .test_frameworks import DEEP_LINK, _keyboard_message

HERE = Path(__file__).parent
VERSION = "1.46.0"


@pytest.fixture(scope="session")
def grammy_dir(request: pytest.FixtureRequest) -> Path:
    return npm.install(request.config.rootpath, "grammy", VERSION, [HERE / "grammy_bot.cjs"])


async def test_grammy_answers_a_press_that_a_telethon_user_sees(
    server: LoopgramServer, grammy_dir: Path
) -> None:
    token = server.create_bot("examplebot")
    url = str(server.bot_api_url)
    user = await start_user(server)
    try:
        async with npm.node_bot(grammy_dir, "grammy_bot.cjs", url, token, DEEP_LINK) as bot:
            assert await npm.json_line(bot) == {"ready": "examplebot"}
            await within(user.send_message("examplebot", "/start"))
            message = await _keyboard_message(user, "pick one")
            answer = await within(message.click(data=b"buy"))
            report = await npm.json_line(bot)
    finally:
        await user.disconnect()
    assert (answer.alert, answer.message, answer.url, answer.cache_time) == (
        True,
        "Added to cart",
        DEEP_LINK,
        120,
    )
    assert report["answered"] is True
    assert isinstance(report["chat_instance"], str)
    assert bot.returncode == 0
