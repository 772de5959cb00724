"""The web page in a real browser: page load to interactive, and press -> toast.

Run from the repository root: ``python bench/web_bench.py`` (``--loads N --presses N``), with
Debian's Chromium (``/usr/bin/chromium``, or ``--chromium PATH``) driven by Playwright.
``--short`` is a quick check (10 loads, 50 presses). ``--screenshots DIR`` also saves the
main views as PNG files (docs/web/ holds the ones of the README).

A ``LoopgramServer`` (in memory, Bot API listener on a free port, hence the page) and a
loopgram MTProto bot run in this process; the browser is its own process. Both figures are
measured inside the page with ``performance.now()``:

- load to interactive: navigation start -> the sign-in form usable (the page, its script and
  style loaded, the WebSocket open and the server's hello handled), a fresh browser context
  each time (nothing cached);
- scrolling: a chat of 1 000 messages scrolled top to bottom, one step a frame; a gap
  between frames over 25 ms (a 60 Hz frame is 16.7 ms) counts as a dropped frame;
- press -> toast: a click -> the bot's answer in the toast (DOM updated); the request
  crosses the WebSocket, the dispatcher, the hub to the bot over MTProto, the bot's answer
  and back. Every press is a new query (``cache_time`` 0). Measured twice: clicks from
  inside the page (``element.click()``, the toast watched by a MutationObserver: what the
  page and server cost), and Playwright's mouse clicks (from the click handler to the toast:
  Playwright's input and polling hold the page's event loop for several ms meanwhile).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from loopgram.client.objects import Button
from loopgram.node import LoopgramServer
from loopgram.testing.loopgram import bot_client
from loopgram.tl import types

IN_PAGE_PRESSES = """async (count) => {
  const button = [...document.querySelectorAll('#messages button.callback')]
    .filter((b) => b.textContent === 'Toast').pop();
  const toast = document.getElementById('toast');
  const out = [];
  for (let i = 0; i < count; i++) {
    toast.hidden = true;
    const started = performance.now();
    const shown = new Promise((resolve) => {
      const watch = new MutationObserver(() => {
        if (!toast.hidden) { watch.disconnect(); resolve(performance.now() - started); }
      });
      watch.observe(toast, { attributes: true });
    });
    button.click();
    out.push(await shown);
  }
  return out;
}"""


SCROLL = """async () => {
  const list = document.getElementById('messages');
  list.scrollTop = 0;
  const gaps = [];
  let last = performance.now();
  await new Promise((resolve) => {
    const step = (now) => {
      gaps.push(now - last);
      last = now;
      if (list.scrollTop + list.clientHeight >= list.scrollHeight - 1) return resolve();
      list.scrollTop += 60;
      requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });
  gaps.shift();
  return gaps;
}"""


async def measure_scroll(browser: Any, server: LoopgramServer, url: str) -> tuple[int, int, float]:
    """A chat of 1 000 messages (made by the services directly: no flood limit in the way),
    all loaded by scrolling up, then scrolled top to bottom 60 px a frame: frame gaps."""
    from playwright.async_api import expect

    user = server.create_user("+999 66 7770000")
    bot = server.core.create_bot("scroll_bot").account
    peer = types.InputPeerUser(user_id=user.id, access_hash=user.access_hash)
    # A bot cannot write first: the user starts the chat.
    to_bot = types.InputPeerUser(user_id=bot.id, access_hash=bot.access_hash)
    server.core.services.messages.send_message(user, to_bot, "/start", random_id=0)
    for n in range(1, 1001):
        text = f"message {n}: " + "some words to wrap " * (n % 5)
        server.core.services.messages.send_message(bot, peer, text, random_id=n)
    context = await browser.new_context(viewport={"width": 1280, "height": 760})
    page = await context.new_page()
    await page.goto(url)
    await page.get_by_label("Phone number").fill("+999 66 7770000")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await page.locator("#dialogs button", has_text="scroll_bot").click()
    shown = page.locator("#messages .msg")
    for count in (*range(200, 1001, 100), 1001):  # the 1 000 and the /start
        await page.locator("#messages").evaluate("list => { list.scrollTop = 0; }")
        await expect(shown).to_have_count(count)
    gaps: list[float] = await page.evaluate(SCROLL)
    await context.close()
    return len(gaps), sum(1 for g in gaps if g > 25.0), max(gaps)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright, expect

    async with LoopgramServer(port=0, bot_api_port=0) as server:
        token = server.create_bot("bench_bot", "Bench")
        async with bot_client(server, token) as bot:

            @bot.on_message()
            async def on_message(message: Any) -> None:
                if message.out:
                    return
                if message.text == "/keyboard":
                    reply = types.ReplyKeyboardMarkup(
                        rows=[
                            types.KeyboardButtonRow(
                                buttons=[
                                    types.KeyboardButton(text=t, type=types.ButtonTypeDefault())
                                    for t in ("Yes", "No")
                                ]
                            )
                        ],
                        resize=True,
                    )
                    await message.reply("A reply keyboard: pick one", buttons=reply)
                    return
                await message.reply(
                    "Welcome! Pick one",
                    buttons=[
                        [Button.callback("Toast", b"toast"), Button.callback("Alert", b"alert")],
                        [Button.callback("Link answer", b"url"), Button.callback("Edit", b"e")],
                        [Button.link("Docs", "https://example.org/docs")],
                    ],
                )

            @bot.on_callback_query()
            async def on_press(query: Any) -> None:
                if query.data == b"alert":
                    await query.answer("Are you sure? This is an alert.", alert=True)
                elif query.data == b"url":
                    await query.answer(url="https://t.me/bench_bot?start=web")
                else:
                    await query.answer("Hello from the bot")

            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=args.chromium, headless=True)
                url = server.web_url
                assert url is not None
                loads: list[float] = []
                for _ in range(args.loads):
                    context = await browser.new_context()
                    page = await context.new_page()
                    await page.goto(url)
                    await page.wait_for_function("window.loopgram.interactiveAt !== null")
                    loads.append(await page.evaluate("window.loopgram.interactiveAt"))
                    await context.close()

                context = await browser.new_context(viewport={"width": 1280, "height": 760})
                page = await context.new_page()
                await page.goto(url)
                if args.screenshots:
                    out = Path(args.screenshots)
                    out.mkdir(parents=True, exist_ok=True)
                    await expect(page.locator("body")).to_have_attribute("data-state", "signed-out")
                    await page.screenshot(path=str(out / "sign-in.png"))
                await page.get_by_role("button", name="Create a user (one click)").click()
                await page.get_by_placeholder("@username").fill("@bench_bot")
                await page.get_by_role("button", name="Open", exact=True).click()
                await page.get_by_label("Message").fill("/start")
                await page.get_by_label("Message").press("Enter")
                button = page.get_by_role("button", name="Toast").last
                await expect(button).to_be_visible()
                for _ in range(args.warmup + args.presses):
                    await page.locator("#toast").evaluate("n => { n.hidden = true; }")
                    await button.click()
                    await expect(page.locator("#toast")).to_be_visible()
                driven = (await page.evaluate("window.loopgram.pressMs"))[args.warmup :]
                # The same presses with the driver idle: DOM clicks from inside the page, the
                # toast watched by a MutationObserver (Playwright's own input and polling
                # delay the WebSocket's message events while it works).
                presses = await page.evaluate(IN_PAGE_PRESSES, args.presses)

                if args.screenshots:
                    await page.get_by_role("button", name="Live panel").click()
                    await page.get_by_label("Message").fill("/keyboard")
                    await page.get_by_label("Message").press("Enter")
                    await expect(page.locator("#reply-keyboard")).to_be_visible()
                    await page.get_by_label("Message").fill("/start")
                    await page.get_by_label("Message").press("Enter")
                    await expect(page.get_by_role("button", name="Toast")).to_have_count(2)
                    await page.locator("#toast").evaluate("n => { n.hidden = true; }")
                    await page.get_by_role("button", name="Toast").last.click()
                    await expect(page.locator("#toast")).to_be_visible()
                    await expect(page.locator("#presses li .step-shown b")).not_to_have_text("—")
                    await page.screenshot(path=str(out / "chat-and-panel.png"))
                    await page.get_by_role("button", name="Alert").last.click()
                    await expect(page.locator("#alert")).to_be_visible()
                    await page.screenshot(path=str(out / "alert.png"))
                    await page.keyboard.press("Enter")
                    await page.get_by_role("button", name="Docs").last.click()
                    await page.screenshot(path=str(out / "url-confirm.png"))
                    await page.keyboard.press("Escape")
                    await page.get_by_role("button", name="Live panel").click()
                    await page.set_viewport_size({"width": 380, "height": 760})
                    await page.locator("#toast").evaluate("n => { n.hidden = true; }")
                    await page.get_by_role("button", name="Link answer").last.click()
                    await expect(page.locator("#toast a")).to_be_visible()
                    await page.screenshot(path=str(out / "narrow.png"))
                    await page.set_viewport_size({"width": 1280, "height": 760})
                    await group_scene(page, server, out)
                    await channel_scene(page, server, out)
                await context.close()
                scroll = await measure_scroll(browser, server, url)
                await browser.close()

    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    frames, slow, worst = scroll
    print(
        f"scrolling 1000 messages top to bottom: {frames} frames, {slow} over 25 ms "
        f"(dropped), longest {worst:.1f} ms"
    )
    print(
        f"load to interactive ({len(loads)} loads): p50 {statistics.median(loads):.1f} ms, "
        f"p90 {pct(loads, 0.9):.1f} ms, min {min(loads):.1f} ms"
    )
    for name, values in (("in-page clicks", presses), ("Playwright clicks", driven)):
        print(
            f"press -> toast, {name} ({len(values)} presses): "
            f"p50 {statistics.median(values):.2f} ms, p90 {pct(values, 0.9):.2f} ms, "
            f"p99 {pct(values, 0.99):.2f} ms"
        )


async def group_scene(page: Any, server: LoopgramServer, out: Path) -> None:
    """A named user in a basic group with the bot and another user, a press answered
    (docs/web/group.png); the other user and the bot write through the services."""
    from playwright.async_api import expect

    await page.get_by_role("button", name="Profile").click()
    profile = page.locator("#profile")
    await profile.get_by_label("First name").fill("Ada")
    await profile.get_by_label("Last name").fill("Lovelace")
    await profile.get_by_label("Username").fill("ada_l")
    await profile.get_by_role("button", name="Save").click()
    accounts = server.core.services.accounts
    bob = accounts.set_username(server.create_user("+999 66 0000002", "Bob", "Baker"), "bob_b")
    await page.get_by_role("button", name="New group").click()
    group = page.locator("#new-group")
    await group.get_by_label("Group name").fill("Button club")
    await group.get_by_label("Members").fill("@bench_bot @bob_b")
    await group.get_by_role("button", name="Create").click()
    await expect(page.locator("#chat-title")).to_have_text("Button club")
    chats = server.core.services.chats
    chat_id = server.storage.chats.chats_of(bob.id)[0]
    chats.send_message(bob, chat_id, "Hi all! Try the bot's button", random_id=1)
    bot = server.storage.accounts.get_by_username("bench_bot")
    assert bot is not None
    button = types.KeyboardInlineButton(
        text="Toast", type=types.InlineButtonTypeCallback(data=b"toast")
    )
    markup = types.ReplyInlineMarkup(rows=[types.KeyboardInlineButtonRow(buttons=[button])])
    chats.send_message(
        bot, chat_id, "Welcome to the club. Pick one", random_id=2, reply_markup=markup
    )
    await page.get_by_role("button", name="Toast").last.click()
    await expect(page.locator("#toast")).to_be_visible()
    await page.screenshot(path=str(out / "group.png"))


async def channel_scene(page: Any, server: LoopgramServer, out: Path) -> None:
    """A subscriber of a public channel presses a button under the bot's post
    (docs/web/channel.png): Bob owns the channel, the bot is its admin, both through the
    services; the page's user finds it by @username and joins."""
    from playwright.async_api import expect

    channels = server.core.services.channels
    bob = server.storage.accounts.get_by_username("bob_b")
    bot = server.storage.accounts.get_by_username("bench_bot")
    assert bob is not None and bot is not None
    created = channels.create(bob, "Button news", "", megagroup=False)
    channel_id = next(c.id for c in created.chats if isinstance(c, types.Channel))
    as_bob = channels.input_channel(bob.id, channel_id)
    channels.update_username(bob, as_bob, "button_news")
    peer = types.InputPeerChannel(channel_id=channel_id, access_hash=as_bob.access_hash)
    channels.send_message(bob, peer, "Every morning: one question, two buttons.", random_id=1)
    bot_user = types.InputUser(user_id=bot.id, access_hash=bot.access_hash)
    channels.edit_admin(bob, as_bob, bot_user, types.ChatAdminRights(post_messages=True), None)

    await page.get_by_placeholder("@username").fill("@button_news")
    await page.get_by_role("button", name="Open", exact=True).click()
    await page.get_by_role("button", name="Join").click()
    await expect(page.get_by_role("button", name="Join")).to_be_hidden()
    as_bot = channels.input_channel(bot.id, channel_id)
    button = types.KeyboardInlineButton(
        text="Toast", type=types.InlineButtonTypeCallback(data=b"toast")
    )
    link = types.KeyboardInlineButton(
        text="Docs", type=types.InlineButtonTypeUrl(url="https://example.org/docs")
    )
    markup = types.ReplyInlineMarkup(rows=[types.KeyboardInlineButtonRow(buttons=[button, link])])
    channels.send_message(
        bot,
        types.InputPeerChannel(channel_id=channel_id, access_hash=as_bot.access_hash),
        "Today's question: toast or docs?",
        random_id=2,
        reply_markup=markup,
    )
    await page.get_by_role("button", name="Toast").last.click()
    await expect(page.locator("#toast")).to_be_visible()
    await page.screenshot(path=str(out / "channel.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--screenshots", metavar="DIR")
    parser.add_argument(
        "--short", action="store_true", help="a quick check: 10 loads, 50 presses, 5 warm-up"
    )
    args = parser.parse_args()
    if args.short:
        args.loads, args.presses, args.warmup = 10, 50, 5
    started = time.perf_counter()
    asyncio.run(run(args))
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
