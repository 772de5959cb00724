"""A real layer-158 client: Pyrogram 2.0.106 (``pyrogram==2.0.106`` on PyPI, which announces
TL layer 158) as a bot and as a user against the server over loopback TCP, alone and with
Telethon (layer 229) on the other side: the user presses an inline button, the bot answers
with an alert, a message, its own deep link and a cache time, and the user gets exactly those.

How Pyrogram 2.0.106 runs here: it imports as ``pyrogram``, like kurigram in the test
environment, so it lives in a virtualenv of its own and talks to the test through a
subprocess -- ``pyrogram158_peer.py`` next to this file, which reads its orders as one JSON
object on stdin and reports JSON lines on stdout (see its docstring).

- The virtualenv is built once and reused across runs: ``.pytest-venvs/pyrogram-2.0.106-py3X``
  under the rootdir (gitignored), created without pip and filled by this interpreter's pip
  (``pip --python``; a pip of its own if this one is too old), under a file lock so that
  parallel workers build it once. It is reused when its interpreter imports Pyrogram
  2.0.106, rebuilt otherwise (half-built, or its base Python gone). No network (pip cannot
  reach the index): the tests skip and say so. Building takes a few seconds.
- The peer uses ``loopgram.testing.pyrogram`` to trust the server's key and reach its
  address, so that adapter is tested against Pyrogram 2.0 too. It is importable there
  through a ``.pth`` file in the new virtualenv that calls ``site.addsitedir`` on this
  interpreter's site-packages: those directories come *after* the virtualenv's own, so
  ``import pyrogram`` finds 2.0.106, not kurigram. The ``.pth`` is rewritten every session,
  so a moved test environment is followed.
- The server is the ``loopgram_server`` fixture (own thread); Telethon peers run on the
  test's loop (``support.py``).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import site
import subprocess
import sys
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
    eventually,
    peer_user_presses_telethon_bot,
    served_layers,
    start_user,
    within,
)

PYROGRAM = "pyrogram==2.0.106"
PEER = Path(__file__).with_name("pyrogram158_peer.py")
# pip's words for "the index cannot be reached" (offline, no DNS, proxy refused...); other
# failures -- the index answered but pip found no fitting release -- fail the tests.
_OFFLINE = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Name or service not known",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyError",
    "Connection refused",
)


def _run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=300, check=False
    )


def _pip_can_target() -> bool:
    """Whether this interpreter's pip can install into another environment (pip >= 22.3)."""
    return (
        _run(sys.executable, "-m", "pip", "--python", sys.executable, "--version").returncode == 0
    )


def _build_venv(venv: Path) -> None:
    """Create ``venv`` with Pyrogram 2.0.106 in it."""
    python = venv / "bin" / "python"
    # Without a pip of its own the virtualenv is made in a fraction of the time.
    outer_pip = _pip_can_target()
    made = _run(
        sys.executable, "-m", "venv", "--clear", *(["--without-pip"] if outer_pip else []), venv
    )
    if made.returncode != 0:
        pytest.fail(f"cannot create a virtualenv for {PYROGRAM}:\n{made.stderr}")
    pip = [sys.executable, "-m", "pip", "--python", python] if outer_pip else [python, "-m", "pip"]
    pip += ["install", "--disable-pip-version-check", "--retries", "1", "--timeout", "20"]
    installed = _run(*pip, PYROGRAM)
    if installed.returncode != 0:
        output = installed.stdout + installed.stderr
        if any(sign in output for sign in _OFFLINE):
            last = output.strip().splitlines()[-1]
            pytest.skip(f"{PYROGRAM} cannot be installed, PyPI is out of reach: {last}")
        pytest.fail(f"pip install {PYROGRAM} failed:\n{output}")
    # TgCrypto only makes Pyrogram's crypto fast; without a wheel for this Python it is pyaes.
    _run(*pip, "tgcrypto")


def _site_packages(python: Path) -> Path | None:
    """The site-packages of a working Pyrogram 2.0.106 virtualenv, ``None`` if it is not one."""
    if not python.exists():
        return None
    probe = _run(
        python,
        "-c",
        "import sysconfig, pyrogram; print(pyrogram.__version__, sysconfig.get_path('purelib'))",
    )
    version, _, path = probe.stdout.strip().partition(" ")
    return Path(path) if probe.returncode == 0 and version == "2.0.106" else None


@pytest.fixture(scope="session")
def pyrogram158_python(request: pytest.FixtureRequest) -> Path:
    """The interpreter of a virtualenv holding Pyrogram 2.0.106, with loopgram importable."""
    root = request.config.rootpath / ".pytest-venvs"
    root.mkdir(exist_ok=True)
    venv = root / f"pyrogram-2.0.106-py{sys.version_info.major}{sys.version_info.minor}"
    python = venv / "bin" / "python"
    with open(root / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel workers: one builds, the others wait
        site_packages = _site_packages(python)
        if site_packages is None:
            _build_venv(venv)
            site_packages = _site_packages(python)
            if site_packages is None:
                pytest.fail(f"{venv} has no working {PYROGRAM} after installing it")
        ours = dict.fromkeys(site.getsitepackages())
        lines = "".join(f"import site; site.addsitedir({d!r})\n" for d in ours)
        (site_packages / "_loopgram_testing.pth").write_text(lines)
    return python


Spawn = Callable[..., Awaitable[tuple[Peer, dict[str, Any]]]]
"""``spawn(role=..., **orders)``: a running peer and its ``ready`` report."""


@pytest.fixture
async def spawn(
    pyrogram158_python: Path, loopgram_server: ServerThread, tmp_path: Path
) -> AsyncIterator[Spawn]:
    """``await spawn(role=..., ...)``: a started peer (its first report, ``ready``, read)."""
    peers: list[Peer] = []

    async def start(**config: Any) -> tuple[Peer, dict[str, Any]]:
        config |= {
            "host": loopgram_server.host,
            "port": loopgram_server.port,
            "pem": loopgram_server.public_key_pem,
        }
        peer, ready = await Peer.launch(
            "Pyrogram",
            [str(pyrogram158_python), str(PEER)],
            config,
            tmp_path / f"peer{len(peers)}-{config['role']}.stderr",
            {**os.environ, "PYTHONUNBUFFERED": "1"},
            peers,
        )
        assert (ready["version"], ready["layer"]) == ("2.0.106", 158)
        return peer, ready

    yield start
    await asyncio.gather(*(peer.close() for peer in peers))
    # Pyrogram drops a packet it cannot parse (an unknown constructor) with a traceback on
    # stderr, and carries on as if nothing had arrived.
    choked = [peer.log() for peer in peers if peer.logged("Traceback")]
    if choked:
        pytest.fail("a Pyrogram peer logged an error:" + "".join(choked))


def expected_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """The ``answer`` report of a Pyrogram user when the bot answered ``answer``."""
    return {
        "event": "answer",
        "type": "BotCallbackAnswer",
        "message": answer["text"],
        "alert": answer["alert"],
        "url": answer["url"],
        "has_url": True,  # a URL came with the answer
        "cache_time": answer["cache_time"],
    }


_phones = iter(range(15557000, 15558000))


def new_phone() -> str:
    return f"+1{next(_phones)}"


async def test_pyrogram158_user_presses_pyrogram158_bots_button(
    spawn: Spawn, loopgram_server: ServerThread
) -> None:
    answer = answer_for("shop158bot")
    token = loopgram_server.create_bot("shop158bot")
    bot, bot_me = await spawn(role="bot", token=token, keyboard=KEYBOARD, answer=answer)
    assert bot_me["username"] == "shop158bot"

    user, user_me = await spawn(
        role="user", phone=new_phone(), code=LOGIN_CODE, bot="shop158bot", press="info"
    )
    keyboard = await user.expect("keyboard")
    assert keyboard == {
        "event": "keyboard",
        "pushed": KEYBOARD,
        "history": KEYBOARD,
        "same_message": True,
    }
    got = await user.expect("answer")
    pressed = await bot.expect("pressed")

    assert pressed == {"event": "pressed", "data": "info", "user_id": user_me["id"]}
    assert got == expected_answer(answer)
    assert served_layers(loopgram_server, bot_me["id"]) == {158}
    assert served_layers(loopgram_server, user_me["id"]) == {158}


async def test_pyrogram158_user_presses_telethon_bots_button(
    spawn: Spawn, loopgram_server: ServerThread
) -> None:
    bot, user_me, keyboard, got, answer = await peer_user_presses_telethon_bot(
        spawn, loopgram_server
    )
    assert keyboard["pushed"] == keyboard["history"] == KEYBOARD
    assert bot.presses == [(b"info", user_me["id"])]
    assert got == expected_answer(answer)
    assert served_layers(loopgram_server, user_me["id"]) == {158}
    assert served_layers(loopgram_server, bot.id) == {229}


async def test_telethon_user_presses_pyrogram158_bots_button(
    spawn: Spawn, loopgram_server: ServerThread
) -> None:
    from telethon import types  # type: ignore[import-untyped]

    answer = answer_for("pyro158bot")
    token = loopgram_server.create_bot("pyro158bot")
    bot, bot_me = await spawn(role="bot", token=token, keyboard=KEYBOARD, answer=answer)
    user = await start_user(loopgram_server)
    try:
        user_me = await user.get_me()
        await within(user.send_message("pyro158bot", "/start"))

        async def keyboard() -> Any:
            async for message in user.iter_messages("pyro158bot", limit=1):
                if message.sender_id == bot_me["id"] and message.buttons:
                    return message
            return None

        message = await eventually(keyboard, timeout=20)
        seen = [[[b.text, b.data.decode()] for b in row] for row in message.buttons]
        assert seen == KEYBOARD
        got = await within(message.click(data=b"info"))
        pressed = await bot.expect("pressed")
    finally:
        await user.disconnect()

    assert pressed == {"event": "pressed", "data": "info", "user_id": user_me.id}
    assert isinstance(got, types.messages.BotCallbackAnswer)
    assert (got.message, got.alert, got.url, got.cache_time) == (
        answer["text"],
        answer["alert"],
        answer["url"],
        answer["cache_time"],
    )
    assert served_layers(loopgram_server, bot_me["id"]) == {158}
    assert served_layers(loopgram_server, user_me.id) == {229}
