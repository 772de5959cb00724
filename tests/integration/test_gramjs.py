"""A real JavaScript client: GramJS (npm ``telegram`` 2.26.22, which announces TL layer 198)
as a bot and as a user against the server over loopback TCP, alone and with Telethon (layer
229) on the other side: the user presses an inline button, the bot answers with an alert, a
message, its own deep link and a cache time, and the user gets exactly those.

How GramJS runs here: ``gramjs_peer.js`` next to this file, under the machine's Node.js, with
``telegram`` installed from the npm registry into ``.pytest-node/gramjs-<version>`` under the
rootdir (gitignored, built once under a file lock and reused). The peer reads its orders as
one JSON object on stdin and reports JSON lines on stdout (see its header). Without ``node``
and ``npm``, or without the registry, the tests skip and say so.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from loopgram.testing.server import ServerThread

from .support import (
    KEYBOARD,
    LOGIN_CODE,
    Peer,
    answer_for,
    served_layers,
    start_keyboard_bot,
    start_user,
    within,
)

GRAMJS = "telegram@2.26.22"
PEER = Path(__file__).with_name("gramjs_peer.js")
# npm's words for "the registry cannot be reached"; any other failure fails the tests.
_OFFLINE = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH")


def _installed(modules: Path) -> bool:
    package = modules / "telegram" / "package.json"
    if not package.exists():
        return False
    return bool(json.loads(package.read_text())["version"] == GRAMJS.partition("@")[2])


@pytest.fixture(scope="session")
def gramjs_modules(request: pytest.FixtureRequest) -> Path:
    """A ``node_modules`` holding GramJS, for ``NODE_PATH``."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("GramJS needs Node.js and npm, and this machine has no node or npm")
    root = request.config.rootpath / ".pytest-node"
    root.mkdir(exist_ok=True)
    prefix = root / f"gramjs-{GRAMJS.partition('@')[2]}"
    modules = prefix / "node_modules"
    with open(root / f"{prefix.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel workers: one installs, the others wait
        if not _installed(modules):
            shutil.rmtree(prefix, ignore_errors=True)
            prefix.mkdir()
            flags = ["--no-audit", "--no-fund", "--ignore-scripts", "--fetch-retries", "1"]
            done = subprocess.run(
                [npm, "install", "--prefix", str(prefix), *flags, GRAMJS],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                output = done.stdout + done.stderr
                if any(sign in output for sign in _OFFLINE):
                    last = output.strip().splitlines()[-1]
                    pytest.skip(f"{GRAMJS} cannot be installed, no npm registry: {last}")
                pytest.fail(f"npm install {GRAMJS} failed:\n{output}")
            if not _installed(modules):
                pytest.fail(f"{prefix} has no {GRAMJS} after installing it")
    return modules


Spawn = Callable[..., Awaitable[tuple[Peer, dict[str, Any]]]]
"""``spawn(role=..., **orders)``: a running GramJS peer and its ``ready`` report."""


@pytest.fixture
async def spawn(
    gramjs_modules: Path, loopgram_server: ServerThread, tmp_path: Path
) -> AsyncIterator[Spawn]:
    peers: list[Peer] = []

    async def start(**orders: Any) -> tuple[Peer, dict[str, Any]]:
        orders |= {
            "host": loopgram_server.host,
            "port": loopgram_server.port,
            "pem": loopgram_server.public_key_pem,
            "fingerprint": str(loopgram_server.fingerprint),
        }
        peer, ready = await Peer.launch(
            "GramJS",
            ["node", str(PEER)],
            orders,
            tmp_path / f"gramjs{len(peers)}-{orders['role']}.stderr",
            {**os.environ, "NODE_PATH": str(gramjs_modules)},
            peers,
        )
        assert ready["layer"] == 198  # (its own version string lags: 2.26.22 says 2.26.21)
        return peer, ready

    yield start
    await asyncio.gather(*(peer.close() for peer in peers))


async def spawn_bot(
    spawn: Spawn, server: ServerThread, username: str
) -> tuple[Peer, dict[str, Any], dict[str, Any]]:
    """A GramJS bot with :data:`KEYBOARD`: the peer, its ``ready`` report, its answer."""
    answer = answer_for(username)
    token = server.create_bot(username)
    bot, me = await spawn(role="bot", token=token, keyboard=KEYBOARD, answer=answer)
    assert me["username"] == username
    return bot, me, answer


def expected_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """The ``answer`` report of a GramJS user when the bot answered ``answer``."""
    return {
        "event": "answer",
        "message": answer["text"],
        "alert": answer["alert"],
        "url": answer["url"],
        "has_url": True,
        "cache_time": answer["cache_time"],
    }


_phones = iter(range(15558000, 15559000))


def new_phone() -> str:
    return f"+1{next(_phones)}"


async def test_gramjs_user_presses_gramjs_bots_button(
    spawn: Spawn, loopgram_server: ServerThread
) -> None:
    bot, bot_me, answer = await spawn_bot(spawn, loopgram_server, "shop198bot")

    user, user_me = await spawn(
        role="user", phone=new_phone(), code=LOGIN_CODE, bot="shop198bot", press="info"
    )
    keyboard = await user.expect("keyboard")
    got = await user.expect("answer")
    pressed = await bot.expect("pressed")

    assert keyboard == {"event": "keyboard", "rows": KEYBOARD}
    assert pressed == {"event": "pressed", "data": "info", "user_id": user_me["id"]}
    assert got == expected_answer(answer)
    assert served_layers(loopgram_server, bot_me["id"]) == {198}
    assert served_layers(loopgram_server, user_me["id"]) == {198}


async def test_gramjs_user_presses_telethon_bots_button(
    spawn: Spawn, loopgram_server: ServerThread
) -> None:
    answer = answer_for("tele229jsbot")
    bot = await start_keyboard_bot(loopgram_server, "tele229jsbot", KEYBOARD, answer)
    try:
        user, user_me = await spawn(
            role="user", phone=new_phone(), code=LOGIN_CODE, bot="tele229jsbot", press="info"
        )
        keyboard = await user.expect("keyboard")
        got = await user.expect("answer")
    finally:
        await bot.client.disconnect()

    assert keyboard["rows"] == KEYBOARD
    assert bot.presses == [(b"info", user_me["id"])]
    assert got == expected_answer(answer)
    assert served_layers(loopgram_server, user_me["id"]) == {198}
    assert served_layers(loopgram_server, bot.id) == {229}


async def test_telethon_user_presses_gramjs_bots_button(
    spawn: Spawn, loopgram_server: ServerThread
) -> None:
    bot, bot_me, answer = await spawn_bot(spawn, loopgram_server, "js198bot")
    user = await start_user(loopgram_server)
    try:
        user_id = (await user.get_me()).id
        async with user.conversation("js198bot", timeout=30) as conversation:
            await conversation.send_message("/start")
            message = await conversation.get_response()
        rows = [[(b.text, b.data.decode()) for b in row] for row in message.buttons]
        assert rows == [[tuple(button) for button in row] for row in KEYBOARD]
        got = await within(message.click(data=b"info"))
        pressed = await bot.expect("pressed")
    finally:
        await user.disconnect()

    assert pressed == {"event": "pressed", "data": "info", "user_id": user_id}
    assert (got.message, got.alert, got.url, got.has_url, got.cache_time) == (
        answer["text"],
        True,
        answer["url"],
        True,
        answer["cache_time"],
    )
    assert served_layers(loopgram_server, bot_me["id"]) == {198}
