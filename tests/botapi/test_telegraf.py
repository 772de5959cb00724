"""Telegraf (npm), unmodified, in long polling against the Bot API, with a Telethon user.

The package is installed from the npm registry into ``.pytest-node/telegraf-<version>`` on
first use (``tests.botapi.npm``). The bot answers ``/start`` with a keyboard, as a reply to
the command, and answers the press with a text, ``show_alert``, its own deep link and a
``cache_time``: the user sees exactly that.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loopgram.node import LoopgramServer

from ..integration.support import start_user, within
from . import npm
from .test_frameworks import DEEP_LINK, _keyboard_message

HERE = Path(__file__).parent
VERSION = "4.16.3"


@pytest.fixture(scope="session")
def telegraf_dir(request: pytest.FixtureRequest) -> Path:
    return npm.install(request.config.rootpath, "telegraf", VERSION, [HERE / "telegraf_bot.cjs"])


async def test_telegraf_answers_a_press_that_a_telethon_user_sees(
    server: LoopgramServer, telegraf_dir: Path
) -> None:
    token = server.create_bot("examplebot")
    url = str(server.bot_api_url)
    user = await start_user(server)
    try:
        async with npm.node_bot(telegraf_dir, "telegraf_bot.cjs", url, token, DEEP_LINK) as bot:
            assert await npm.json_line(bot) == {"ready": "examplebot"}
            start = await within(user.send_message("examplebot", "/start"))
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
    assert [[b.text for b in row] for row in message.buttons] == [["Buy"]]
    assert message.reply_to is not None and message.reply_to.reply_to_msg_id == start.id
    assert report == {
        "answered": True,
        "chat_instance": report["chat_instance"],
        "data": "buy",
        "message_text": "pick one",
        "replied_text": "/start",
    }
    assert isinstance(report["chat_instance"], str) and int(report["chat_instance"]) != 0
    assert bot.returncode == 0
