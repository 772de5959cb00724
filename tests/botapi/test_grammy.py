"""grammY (npm), unmodified, in long polling against the Bot API, with a Telethon user.

The package is installed from the npm registry into ``.pytest-node/grammy-<version>`` on first
use, as the JavaScript MTProto peers are; without ``node`` and ``npm`` or without the
registry the test skips and says so.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from loopgram.server.app import LoopgramServer

from ..integration.support import start_user, within
from .test_frameworks import DEEP_LINK, _keyboard_message

HERE = Path(__file__).parent
VERSION = "1.46.0"
_OFFLINE = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH")


@pytest.fixture(scope="session")
def grammy_dir(request: pytest.FixtureRequest) -> Path:
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        pytest.skip("grammY needs Node.js and npm, and this machine has neither")
    root = request.config.rootpath / ".pytest-node"
    root.mkdir(exist_ok=True)
    prefix = root / f"grammy-{VERSION}"
    installed = prefix / "node_modules" / "grammy" / "package.json"
    with open(root / f"{prefix.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed.exists() or json.loads(installed.read_text())["version"] != VERSION:
            shutil.rmtree(prefix, ignore_errors=True)
            prefix.mkdir()
            flags = ["--no-audit", "--no-fund", "--ignore-scripts", "--fetch-retries", "1"]
            done = subprocess.run(
                [npm, "install", "--prefix", str(prefix), *flags, f"grammy@{VERSION}"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                output = done.stdout + done.stderr
                if any(sign in output for sign in _OFFLINE):
                    pytest.skip(f"grammy@{VERSION} cannot be installed, no npm registry")
                pytest.fail(f"npm install grammy@{VERSION} failed:\n{output}")
        shutil.copy(HERE / "grammy_bot.cjs", prefix / "grammy_bot.cjs")
    return prefix


async def _line(stream: asyncio.StreamReader) -> dict[str, Any]:
    raw = await within(stream.readline())
    if not raw:
        raise AssertionError("the grammY bot exited")
    line: dict[str, Any] = json.loads(raw)
    return line


async def test_grammy_answers_a_press_that_a_telethon_user_sees(
    server: LoopgramServer, grammy_dir: Path
) -> None:
    token = server.create_bot("examplebot")
    bot = await asyncio.create_subprocess_exec(
        "node",
        "grammy_bot.cjs",
        str(server.bot_api_url),
        token,
        DEEP_LINK,
        cwd=grammy_dir,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert bot.stdout is not None and bot.stdin is not None
    user = await start_user(server)
    try:
        assert await _line(bot.stdout) == {"ready": "examplebot"}
        await within(user.send_message("examplebot", "/start"))
        message = await _keyboard_message(user, "pick one")
        answer = await within(message.click(data=b"buy"))
        report = await _line(bot.stdout)
    finally:
        await user.disconnect()
        bot.stdin.close()
        try:
            await asyncio.wait_for(bot.wait(), 15)
        except TimeoutError:
            bot.kill()
            await bot.wait()
    assert (answer.alert, answer.message, answer.url, answer.cache_time) == (
        True,
        "Added to cart",
        DEEP_LINK,
        120,
    )
    assert report["answered"] is True
    assert isinstance(report["chat_instance"], str)
    assert bot.returncode == 0
