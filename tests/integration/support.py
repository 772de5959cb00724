"""Support of the end-to-end tests: unmodified Telethon clients against a loopgram server over
loopback TCP -- log in a bot and a user, have the bot send a keyboard, find it as the user.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from telethon import TelegramClient, events  # type: ignore[import-untyped]
from telethon.tl.custom import Message  # type: ignore[import-untyped]

from loopgram.testing.server import ServerThread
from loopgram.testing.telethon import ServerLike, telethon_client

T = TypeVar("T")

LOGIN_CODE = "12345"
TIMEOUT = 15.0
_phones = itertools.count(15550100)


async def within(awaitable: Awaitable[T], timeout: float = TIMEOUT) -> T:
    return await asyncio.wait_for(awaitable, timeout)


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 5.0) -> T:
    """Poll ``check`` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def start_bot(server: ServerLike, token: str, session: str | None = None) -> Any:
    bot = telethon_client(server, session)
    await within(bot.start(bot_token=token))
    return bot


async def start_user(
    server: ServerLike, phone: str | None = None, session: str | None = None
) -> Any:
    user = telethon_client(server, session)
    number = phone or f"+1{next(_phones)}"
    await within(user.start(phone=lambda: number, code_callback=lambda: LOGIN_CODE))
    return user


@dataclass
class Pair:
    """A logged-in bot and user who have talked (each knows the other's access hash)."""

    bot: TelegramClient
    user: TelegramClient
    bot_id: int
    user_id: int
    bot_username: str
    last_sent: Message | None = None

    async def keyboard(self, buttons: Any, text: str = "pick one") -> Message:
        """The bot sends ``text`` with ``buttons``; returns the user's copy of it (the bot's
        is ``last_sent``)."""
        sent = await within(self.bot.send_message(self.user_id, text, buttons=buttons))
        self.last_sent = sent
        return await self.users_copy(sent.text)

    async def users_copy(self, text: str) -> Message:
        async def newest() -> Message | None:
            found = await self.user.get_messages(self.bot_username, limit=1)
            if found and found[0].text == text and found[0].sender_id == self.bot_id:
                return found[0]
            return None

        return await eventually(newest)

    async def disconnect(self) -> None:
        await asyncio.gather(self.bot.disconnect(), self.user.disconnect())


async def make_pair(
    server: ServerLike,
    token: str | None = None,
    *,
    bot: Any = None,
    bot_session: str | None = None,
    user_session: str | None = None,
    phone: str | None = None,
) -> Pair:
    """Log both in (or reuse a running ``bot``); the user says /start so that the bot learns
    the user."""
    if bot is None:
        if token is None:
            raise ValueError("a token or a bot client")
        bot = await start_bot(server, token, bot_session)
    user = await start_user(server, phone, user_session)
    bot_me = await bot.get_me()
    user_me = await user.get_me()
    greeted: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def on_start(event: Any) -> None:
        if not greeted.done():
            greeted.set_result(None)

    bot.add_event_handler(on_start, events.NewMessage(pattern="/start"))
    try:
        await within(user.send_message(bot_me.username, "/start"))
        await within(greeted)
    finally:
        bot.remove_event_handler(on_start)
    return Pair(bot, user, bot_me.id, user_me.id, bot_me.username)


PEER_TIMEOUT = 45.0


class Peer:
    """One client library in a process of its own (Pyrogram 2.0.106, GramJS, mtcute), driven
    through its stdin (orders, one JSON line) and reporting JSON lines on its stdout (other
    lines there are the library's own and skipped)."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, stderr: Path) -> None:
        self.name = name
        self.process = process
        self.stderr = stderr
        self.events: list[dict[str, Any]] = []

    @classmethod
    async def launch(
        cls,
        name: str,
        argv: list[str],
        orders: dict[str, Any],
        stderr: Path,
        env: dict[str, str],
        started: list[Peer],
    ) -> tuple[Peer, dict[str, Any]]:
        """Start ``argv``, give it ``orders`` and read its ``ready`` report; the peer joins
        ``started`` first, so that it is closed even if it never gets ready."""
        with open(stderr, "wb") as err:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                env=env,
            )
        peer = cls(name, process, stderr)
        started.append(peer)
        if process.stdin is None:
            raise RuntimeError("the peer was started without a stdin pipe")
        process.stdin.write(json.dumps(orders).encode() + b"\n")
        await process.stdin.drain()
        return peer, await peer.expect("ready")

    async def expect(self, event: str, timeout: float = PEER_TIMEOUT) -> dict[str, Any]:
        """The next report, which must be ``event``."""
        stdout = self.process.stdout
        if stdout is None:
            raise RuntimeError("the peer was started without a stdout pipe")
        line = b""
        while not line.startswith(b"{"):  # libraries print to stdout too (mtcute's login)
            try:
                line = await asyncio.wait_for(stdout.readline(), timeout)
            except TimeoutError:
                pytest.fail(f"the {self.name} peer said nothing for {timeout} s{self.log()}")
            if not line:
                pytest.fail(f"the {self.name} peer exited before {event!r}{self.log()}")
        report: dict[str, Any] = json.loads(line)
        self.events.append(report)
        if report["event"] == "error":
            pytest.fail(f"the {self.name} peer failed:\n{report['error']}{self.log()}")
        assert report["event"] == event, report
        return report

    def log(self) -> str:
        text = self.stderr.read_text(errors="replace")[-4000:]
        return f"\n--- its stderr ---\n{text}" if text else ""

    def logged(self, sign: str) -> bool:
        """Whether its stderr holds ``sign``."""
        return sign in self.stderr.read_text(errors="replace")

    async def close(self) -> None:
        """Close its stdin (a peer stops then) and wait for it to exit."""
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


KEYBOARD = [[["Buy", "buy"], ["Info", "info"]], [["Cancel", "cancel"]]]
"""The inline keyboard of the cross-library tests: rows of (label, callback data); the user
presses "info"."""


def answer_for(bot_username: str) -> dict[str, Any]:
    """What the bot answers: the callback-query rules allow only its own deep link."""
    return {
        "text": "Added to cart",
        "alert": True,
        "url": f"https://t.me/{bot_username}?start=x",
        "cache_time": 42,
    }


def served_layers(server: ServerThread, account_id: int) -> set[int | None]:
    """The layers the server speaks with the account's auth keys (announced in
    ``invokeWithLayer``): proof that a peer was served in its own layer."""

    def layers() -> set[int | None]:
        return {key.layer for key in server.server.storage.auth_keys.for_account(account_id)}

    return server.call(layers)


@dataclass
class KeyboardBot:
    """A Telethon bot that answers ``/start`` with a keyboard and every press with one
    answer; ``presses`` holds (data, presser id) as they came."""

    client: TelegramClient
    id: int
    presses: list[tuple[bytes, int]]


async def start_keyboard_bot(
    server: ServerThread, username: str, keyboard: list[list[list[str]]], answer: dict[str, Any]
) -> KeyboardBot:
    from telethon import Button  # type: ignore[import-untyped]

    client = await start_bot(server, server.create_bot(username))
    bot = KeyboardBot(client, (await client.get_me()).id, [])

    @client.on(events.NewMessage(pattern="/start"))  # type: ignore[misc]
    async def on_start(event: Any) -> None:
        buttons = [[Button.inline(label, data.encode()) for label, data in row] for row in keyboard]
        await event.respond("pick one", buttons=buttons)

    @client.on(events.CallbackQuery())  # type: ignore[misc]
    async def on_press(event: Any) -> None:
        bot.presses.append((event.data, event.sender_id))
        await event.answer(
            answer["text"], alert=True, url=answer["url"], cache_time=answer["cache_time"]
        )

    return bot


async def peer_user_presses_telethon_bot(
    spawn: Callable[..., Awaitable[tuple[Peer, dict[str, Any]]]], server: ServerThread
) -> tuple[KeyboardBot, dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A Telethon keyboard bot, and a user peer (``spawn``) that presses "info" on it: the
    bot, the user's ``ready``, ``keyboard`` and ``answer`` reports, and what the bot
    answered."""
    answer = answer_for("tele229bot")
    bot = await start_keyboard_bot(server, "tele229bot", KEYBOARD, answer)
    try:
        user, user_me = await spawn(
            role="user", phone=f"+1{next(_phones)}", code=LOGIN_CODE, bot="tele229bot", press="info"
        )
        keyboard = await user.expect("keyboard")
        got = await user.expect("answer")
    finally:
        await bot.client.disconnect()
    return bot, user_me, keyboard, got, answer
