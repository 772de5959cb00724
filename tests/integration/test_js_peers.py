"""Real JavaScript clients against the server over loopback TCP: GramJS (npm ``telegram``
2.26.22, which announces TL layer 198) and mtcute (``@mtcute/node`` 0.30.3, layer 227), each
as a bot and as a user, alone and with Telethon (layer 229) on the other side: the user
presses an inline button, the bot answers with an alert, a message, its own deep link and a
cache time, and the user gets exactly those.

How they run here: ``gramjs_peer.js`` and ``mtcute_peer.mjs`` next to this file, under the
machine's Node.js, with their package installed from the npm registry into
``.pytest-node/<library>-<version>`` under the rootdir (gitignored, built once under a file
lock and reused); the scripts, with ``peer_common.cjs``, are copied there so that Node finds
the package beside them. A peer reads its orders as one JSON object on stdin and reports
JSON lines on stdout (see ``gramjs_peer.js``). Without ``node`` and ``npm``, or without the
registry, the tests skip and say so.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loopgram.testing.server import ServerThread

from .support import (
    KEYBOARD,
    LOGIN_CODE,
    Peer,
    answer_for,
    peer_user_presses_telethon_bot,
    served_layers,
    start_user,
    within,
)

HERE = Path(__file__).parent
# npm's words for "the registry cannot be reached"; any other failure fails the tests.
_OFFLINE = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH")


@dataclass(frozen=True)
class Library:
    """A JavaScript client library: its npm package, pinned, and the peer script driving it."""

    name: str
    package: str
    version: str
    script: str
    layer: int

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


LIBRARIES = [
    Library("GramJS", "telegram", "2.26.22", "gramjs_peer.js", 198),
    Library("mtcute", "@mtcute/node", "0.30.3", "mtcute_peer.mjs", 227),
]


def _installed(library: Library, prefix: Path) -> bool:
    package = prefix / "node_modules" / library.package / "package.json"
    if not package.exists():
        return False
    return bool(json.loads(package.read_text())["version"] == library.version)


@pytest.fixture(scope="session", params=LIBRARIES, ids=lambda library: library.name)
def js_library(request: pytest.FixtureRequest) -> tuple[Library, Path]:
    """A library and the directory its package is installed in (its script beside it)."""
    library: Library = request.param
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        pytest.skip(f"{library.name} needs Node.js and npm, and this machine has neither")
    root = request.config.rootpath / ".pytest-node"
    root.mkdir(exist_ok=True)
    prefix = root / f"{library.name.lower()}-{library.version}"
    with open(root / f"{prefix.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel workers: one installs, the others wait
        if not _installed(library, prefix):
            shutil.rmtree(prefix, ignore_errors=True)
            prefix.mkdir()
            flags = ["--no-audit", "--no-fund", "--ignore-scripts", "--fetch-retries", "1"]
            done = subprocess.run(
                [npm, "install", "--prefix", str(prefix), *flags, library.spec],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                output = done.stdout + done.stderr
                if any(sign in output for sign in _OFFLINE):
                    last = output.strip().splitlines()[-1]
                    pytest.skip(f"{library.spec} cannot be installed, no npm registry: {last}")
                pytest.fail(f"npm install {library.spec} failed:\n{output}")
            if not _installed(library, prefix):
                pytest.fail(f"{prefix} has no {library.spec} after installing it")
        for script in (library.script, "peer_common.cjs"):
            shutil.copy(HERE / script, prefix / script)
    return library, prefix


Spawn = Callable[..., Awaitable[tuple[Peer, dict[str, Any]]]]
"""``spawn(role=..., **orders)``: a running peer and its ``ready`` report."""


@pytest.fixture
async def spawn(
    js_library: tuple[Library, Path], loopgram_server: ServerThread, tmp_path: Path
) -> AsyncIterator[Spawn]:
    library, prefix = js_library
    peers: list[Peer] = []

    async def start(**orders: Any) -> tuple[Peer, dict[str, Any]]:
        orders |= {
            "host": loopgram_server.host,
            "port": loopgram_server.port,
            "pem": loopgram_server.public_key_pem,
            "fingerprint": str(loopgram_server.fingerprint),
        }
        peer, ready = await Peer.launch(
            library.name,
            ["node", str(prefix / library.script)],
            orders,
            tmp_path / f"{library.name}{len(peers)}-{orders['role']}.stderr",
            dict(os.environ),
            peers,
        )
        assert ready["layer"] == library.layer
        return peer, ready

    yield start
    await asyncio.gather(*(peer.close() for peer in peers))


async def spawn_bot(
    spawn: Spawn, server: ServerThread, username: str
) -> tuple[Peer, dict[str, Any], dict[str, Any]]:
    """A bot of the library with :data:`KEYBOARD`: the peer, its ``ready`` report, its
    answer."""
    answer = answer_for(username)
    token = server.create_bot(username)
    bot, me = await spawn(role="bot", token=token, keyboard=KEYBOARD, answer=answer)
    assert me["username"] == username
    return bot, me, answer


def expected_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """The ``answer`` report of a user peer when the bot answered ``answer``."""
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


async def test_user_presses_a_bots_button_of_the_same_library(
    spawn: Spawn, js_library: tuple[Library, Path], loopgram_server: ServerThread
) -> None:
    layer = js_library[0].layer
    bot, bot_me, answer = await spawn_bot(spawn, loopgram_server, "shopjsbot")

    user, user_me = await spawn(
        role="user", phone=new_phone(), code=LOGIN_CODE, bot="shopjsbot", press="info"
    )
    keyboard = await user.expect("keyboard")
    got = await user.expect("answer")
    pressed = await bot.expect("pressed")

    assert keyboard == {"event": "keyboard", "rows": KEYBOARD}
    assert pressed == {"event": "pressed", "data": "info", "user_id": user_me["id"]}
    assert got == expected_answer(answer)
    assert served_layers(loopgram_server, bot_me["id"]) == {layer}
    assert served_layers(loopgram_server, user_me["id"]) == {layer}


async def test_user_presses_a_telethon_bots_button(
    spawn: Spawn, js_library: tuple[Library, Path], loopgram_server: ServerThread
) -> None:
    bot, user_me, keyboard, got, answer = await peer_user_presses_telethon_bot(
        spawn, loopgram_server
    )

    assert keyboard["rows"] == KEYBOARD
    assert bot.presses == [(b"info", user_me["id"])]
    assert got == expected_answer(answer)
    assert served_layers(loopgram_server, user_me["id"]) == {js_library[0].layer}
    assert served_layers(loopgram_server, bot.id) == {229}


async def test_telethon_user_presses_the_bots_button(
    spawn: Spawn, js_library: tuple[Library, Path], loopgram_server: ServerThread
) -> None:
    bot, bot_me, answer = await spawn_bot(spawn, loopgram_server, "jsbot")
    user = await start_user(loopgram_server)
    try:
        user_id = (await user.get_me()).id
        async with user.conversation("jsbot", timeout=30) as conversation:
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
    assert served_layers(loopgram_server, bot_me["id"]) == {js_library[0].layer}


@pytest.mark.parametrize("js_library", [LIBRARIES[0]], ids=["GramJS"], indirect=True)
async def test_gramjs_bot_with_a_memory_session_starts_after_two_errors_at_once(
    spawn: Spawn, loopgram_server: ServerThread
) -> None:
    # On a MemorySession, GramJS asks users.getUsers (its event dispatch wants getMe) and
    # start()'s updates.getState together before it is logged in; both are answered 401
    # AUTH_KEY_UNREGISTERED. GramJS 2.26 throws out of its container loop at the first error
    # result: when both answers shared a container it never saw the second, and
    # start({botAuthToken}) hung.
    token = loopgram_server.create_bot("memoryjsbot")
    answer = answer_for("memoryjsbot")
    bot, me = await spawn(
        role="bot",
        session="memory",
        get_me_first=True,
        token=token,
        keyboard=KEYBOARD,
        answer=answer,
    )
    assert me["username"] == "memoryjsbot"
    assert me["early_get_me"] == "AUTH_KEY_UNREGISTERED"  # its answer was not lost either
    # And it serves: a user presses its button and gets its answer.
    user, user_me = await spawn(
        role="user", phone=new_phone(), code=LOGIN_CODE, bot="memoryjsbot", press="info"
    )
    assert (await user.expect("keyboard"))["rows"] == KEYBOARD
    assert (await user.expect("answer")) == expected_answer(answer)
    assert (await bot.expect("pressed"))["user_id"] == user_me["id"]
