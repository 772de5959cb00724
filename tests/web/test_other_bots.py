"""The page against bots that are not loopgram's own: a Telethon bot (MTProto) and a bot on
the Bot API over HTTP. The page does not know or care which door a bot uses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

import aiohttp
from playwright.async_api import expect

from loopgram.node import LoopgramServer

from .conftest import start_telethon_bot, until
from .test_browser import open_chat, send, sign_in_new_user


async def test_a_telethon_bot_with_formatted_text_and_a_toast(
    page: Any, server: LoopgramServer
) -> None:
    from telethon import Button, events

    bot = await start_telethon_bot(server, "tele_bot")
    pressed: list[bytes] = []

    @bot.on(events.NewMessage(pattern="/start"))
    async def on_start(event: Any) -> None:
        await event.respond(
            '<b>Bold</b> <i>italic</i> <code>code</code> <a href="https://example.org/">link</a>',
            parse_mode="html",
            buttons=[[Button.inline("One", b"1"), Button.inline("Two", b"2")]],
        )

    @bot.on(events.CallbackQuery())
    async def on_press(event: Any) -> None:
        pressed.append(event.data)
        await event.answer(f"Telethon got {event.data.decode()}")

    try:
        await sign_in_new_user(page)
        await open_chat(page, "tele_bot")
        await send(page, "/start")
        bubble = page.locator("#messages .msg.in .bubble").last
        await expect(bubble.locator("strong")).to_have_text("Bold")
        await expect(bubble.locator("em")).to_have_text("italic")
        await expect(bubble.locator("code")).to_have_text("code")
        await expect(bubble.get_by_role("link", name="link")).to_have_attribute(
            "href", "https://example.org/"
        )
        await page.get_by_role("button", name="Two").click()
        await expect(page.locator("#toast")).to_have_text("Telethon got 2")
        assert pressed == [b"2"]
    finally:
        await bot.disconnect()


async def test_a_bot_api_bot_is_pressed_and_the_panel_shows_its_http_calls(
    page: Any, server: LoopgramServer
) -> None:
    token = server.create_bot("http_bot")
    base = f"{server.bot_api_url}/bot{token}"
    answered: list[str] = []

    async def run_bot(http: aiohttp.ClientSession) -> None:
        offset = 0
        while True:
            async with http.post(f"{base}/getUpdates", json={"offset": offset, "timeout": 5}) as r:
                updates = (await r.json())["result"]
            for update in updates:
                offset = update["update_id"] + 1
                if "message" in update:
                    markup = {"inline_keyboard": [[{"text": "Ping", "callback_data": "ping"}]]}
                    await http.post(
                        f"{base}/sendMessage",
                        json={
                            "chat_id": update["message"]["chat"]["id"],
                            "text": "<b>HTTP</b> bot",
                            "parse_mode": "HTML",
                            "reply_markup": json.dumps(markup),
                        },
                    )
                elif "callback_query" in update:
                    query = update["callback_query"]
                    answered.append(query["data"])
                    await http.post(
                        f"{base}/answerCallbackQuery",
                        json={"callback_query_id": query["id"], "text": "pong", "show_alert": True},
                    )

    async with aiohttp.ClientSession() as http:
        task = asyncio.create_task(run_bot(http))
        try:
            await page.get_by_role("button", name="Live panel").click()
            await sign_in_new_user(page)
            await open_chat(page, "http_bot")
            await send(page, "/start")
            await expect(page.locator("#messages .msg.in .bubble strong").last).to_have_text("HTTP")
            await page.get_by_role("button", name="Ping").click()
            await expect(page.locator("#alert-text")).to_have_text("pong")
            await until(lambda: answered == ["ping"])
            calls = page.locator("#calls")
            await expect(
                calls.locator("tr.door-botapi", has_text="answerCallbackQuery").first
            ).to_contain_text("@http_bot")
            press = page.locator("#presses li").first
            await expect(press.locator(".step-answer b")).to_have_text(re.compile(r"\d+\.\d\d ms"))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_typing_at_bot_query_shows_the_inline_results_and_sends_one(
    page: Any, server: LoopgramServer
) -> None:
    from telethon import events

    bot = await start_telethon_bot(server, "inline_bot")

    @bot.on(events.InlineQuery())
    async def on_inline(event: Any) -> None:
        builder = event.builder
        await event.answer(
            [
                builder.article("Upper", text=event.text.upper(), description="shout it"),
                builder.article("Lower", text=event.text.lower()),
            ]
        )

    try:
        await sign_in_new_user(page)
        await open_chat(page, "inline_bot")
        await page.get_by_label("Message").fill("@inline_bot Hello There")
        results = page.locator("#inline-results")
        await expect(results.get_by_role("button")).to_have_count(2)
        await expect(results.get_by_role("button").first).to_contain_text("shout it")
        await results.get_by_role("button", name="Upper").click()
        sent = page.locator("#messages .msg.out").last
        await expect(sent.locator(".bubble")).to_have_text("HELLO THERE")
        await expect(results).to_be_hidden()
    finally:
        await bot.disconnect()


async def test_a_press_on_a_message_sent_via_inline_mode_gets_its_timeline(
    page: Any, server: LoopgramServer
) -> None:
    from telethon import Button, events

    bot = await start_telethon_bot(server, "card_bot")
    pressed: list[str] = []

    @bot.on(events.InlineQuery())
    async def on_inline(event: Any) -> None:
        card = event.builder.article(
            "Card", text=f"card {event.text}", buttons=[[Button.inline("Tap", b"tap")]]
        )
        await event.answer([card])

    @bot.on(events.CallbackQuery())
    async def on_press(event: Any) -> None:
        # Pressed on an inline message: no chat, an inline_message_id instead.
        pressed.append(type(event.query).__name__)
        await event.answer("tapped")

    try:
        await page.get_by_role("button", name="Live panel").click()
        await sign_in_new_user(page)
        await open_chat(page, "card_bot")
        await page.get_by_label("Message").fill("@card_bot one")
        await page.locator("#inline-results").get_by_role("button", name="Card").click()
        sent = page.locator("#messages .msg.out").last
        await expect(sent.locator(".bubble")).to_have_text("card one")
        await sent.get_by_role("button", name="Tap").click()
        await expect(page.locator("#toast")).to_have_text("tapped")
        assert pressed == ["UpdateInlineBotCallbackQuery"]
        press = page.locator("#presses li").first
        await expect(press).to_contain_text("@card_bot")
        for step in ("update", "answer", "answered", "shown"):
            await expect(press.locator(f".step-{step} b")).to_have_text(re.compile(r"\d+\.\d\d ms"))
    finally:
        await bot.disconnect()
