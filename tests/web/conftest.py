"""Fixtures of the web page tests: a server on the test's loop (Bot API listener, hence the
page, on a free port), bots that answer presses, and a real Chromium driven by Playwright.

The browser is Debian's ``chromium`` (``.ci/run`` installs it); Playwright's own download is
never used. Without it the browser tests fail rather than skip: a page nobody ran is no
tested page.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

import loopgram.tl.functions.messages as messages_fn
from loopgram.client.objects import Button
from loopgram.node import LoopgramServer
from loopgram.testing.loopgram import bot_client
from loopgram.testing.telethon import telethon_client
from loopgram.tl import types

from ..http_fixtures import clock, server

__all__ = ["clock", "server"]

CHROMIUM = os.environ.get("LOOPGRAM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@dataclass
class DemoBot:
    """A loopgram MTProto bot: ``/start`` shows every kind of button; presses are logged."""

    username: str
    presses: list[bytes] = field(default_factory=list)
    client: Any = None


def start_keyboard(username: str) -> list[list[Button]]:
    return [
        [Button.callback("Toast", b"toast"), Button.callback("Alert", b"alert")],
        [Button.callback("Link answer", b"url"), Button.callback("Edit me", b"edit")],
        [Button.callback("Cached", b"cached"), Button.callback("Silent", b"silent")],
        [Button.link("Docs", "https://example.org/docs")],
    ]


@pytest.fixture
async def demo_bot(server: LoopgramServer) -> AsyncIterator[DemoBot]:
    bot = DemoBot("demo_bot")
    token = server.create_bot(bot.username, "Demo")
    async with bot_client(server, token) as client:
        bot.client = client

        @client.on_message()
        async def on_message(message: Any) -> None:
            if message.out:
                return
            if message.text == "/start":
                await message.reply("Pick one", buttons=start_keyboard(bot.username))
            elif message.text == "/keyboard":
                reply = types.ReplyKeyboardMarkup(
                    rows=[
                        types.KeyboardButtonRow(
                            buttons=[
                                types.KeyboardButton(text="Yes", type=types.ButtonTypeDefault()),
                                types.KeyboardButton(text="No", type=types.ButtonTypeDefault()),
                            ]
                        )
                    ],
                    resize=True,
                    single_use=True,
                )
                await message.reply("Yes or no?", buttons=reply)
            elif message.text == "/vanish":
                await message.reply("Now you see me", buttons=[[Button.callback("Delete", b"del")]])
            elif message.text == "/inline":
                switch = types.KeyboardInlineButton(
                    text="Search",
                    type=types.InlineButtonTypeSwitchInline(same_peer=True, query="cats"),
                )
                markup = types.ReplyInlineMarkup(
                    rows=[types.KeyboardInlineButtonRow(buttons=[switch])]
                )
                await message.reply("Inline mode", buttons=markup)
            else:
                await message.reply(f"You said: {message.text}")

        @client.on_callback_query()
        async def on_press(query: Any) -> None:
            data: bytes = query.data
            bot.presses.append(data)
            if data == b"toast":
                await query.answer("Hello from the bot")
            elif data == b"alert":
                await query.answer("This is an alert", alert=True)
            elif data == b"url":
                await query.answer(url=f"https://t.me/{bot.username}?start=from_button")
            elif data == b"cached":
                await query.answer(f"Answer number {len(bot.presses)}", cache_time=60)
            elif data == b"edit":
                await client.edit_message(
                    query.user_id,
                    query.msg_id,
                    "Edited by the bot",
                    buttons=[[Button.callback("Edited button", b"toast")]],
                )
                await query.answer("Edited")
            elif data == b"del":
                await client.invoke(messages_fn.DeleteMessages(id=[query.msg_id], revoke=True))
                await query.answer("Deleted")
            # b"silent": never answered (BOT_RESPONSE_TIMEOUT)

        yield bot


async def start_telethon_bot(server: LoopgramServer, username: str) -> Any:
    """A new bot, logged in with Telethon (the caller disconnects it)."""
    token = server.create_bot(username)
    bot = telethon_client(server)
    await bot.start(bot_token=token)
    return bot


async def until(condition: Callable[[], bool], *, limit: float = 10.0) -> None:
    """Wait for something the bot side records (the page side has Playwright's waits)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true")
        await asyncio.sleep(0.01)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Any, server: LoopgramServer) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    tab = await context.new_page()
    assert server.web_url is not None
    await tab.goto(server.web_url)
    yield tab
    await context.close()
