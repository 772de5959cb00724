"""The page in a real browser (Debian's Chromium, driven by Playwright): a person signs in,
talks to loopgram and Telethon bots, presses their buttons and watches the live panel."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from loopgram.clock import FakeClock
from loopgram.node import LoopgramServer

from .conftest import DemoBot, until


async def sign_in_new_user(page: Any) -> None:
    await page.get_by_role("button", name="Create a user (one click)").click()
    await expect(page.locator("body")).to_have_attribute("data-state", "ready")


async def open_chat(page: Any, username: str) -> None:
    await page.get_by_placeholder("@username").fill(f"@{username}")
    await page.get_by_role("button", name="Open", exact=True).click()
    await expect(page.locator("#chat-title")).to_contain_text(username)


async def send(page: Any, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.get_by_label("Message").press("Enter")


async def start_demo(page: Any, bot: DemoBot) -> None:
    await sign_in_new_user(page)
    await open_chat(page, bot.username)
    await send(page, "/start")
    await expect(page.get_by_role("button", name="Toast")).to_be_visible()


async def test_signing_in_with_a_phone_number_and_the_login_code(
    page: Any, server: LoopgramServer
) -> None:
    await expect(page.locator("#code")).to_have_value(server.config.login_code)
    await page.get_by_label("Phone number").fill("+999 66 1230001")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.locator("#me")).to_have_text("User 0001 (+999661230001)")
    account = server.storage.accounts.get_by_phone("999661230001")
    assert account is not None
    # The tab's auth key is logged in as that account, as an MTProto client's would be.
    assert any(k.account_id == account.id for k in server.storage.auth_keys.for_account(account.id))


async def test_a_wrong_login_code_is_refused_as_the_server_refuses_it(page: Any) -> None:
    await page.get_by_label("Phone number").fill("+999 66 1230002")
    await page.get_by_label("Login code").fill("00000")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.locator("#signin-error")).to_have_text("PHONE_CODE_INVALID")


async def test_start_shows_the_keyboard_in_its_rows_and_a_press_shows_the_toast(
    page: Any, demo_bot: DemoBot
) -> None:
    await start_demo(page, demo_bot)
    rows = page.locator("#messages .msg.in").last.locator(".kb-row")
    await expect(rows).to_have_count(4)
    await expect(rows.nth(0).get_by_role("button")).to_have_text(["Toast", "Alert"])
    button = page.get_by_role("button", name="Toast")
    before = await button.bounding_box()
    await button.click()
    await expect(page.locator("#toast")).to_have_text("Hello from the bot")
    assert demo_bot.presses == [b"toast"]
    # The spinner and the toast move nothing.
    assert await button.bounding_box() == before


async def test_a_switch_inline_button_fills_the_input(page: Any, demo_bot: DemoBot) -> None:
    await sign_in_new_user(page)
    await open_chat(page, demo_bot.username)
    await send(page, "/inline")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_label("Message")).to_have_value("@demo_bot cats")
    await expect(page.get_by_label("Message")).to_be_focused()


async def test_an_alert_answer_opens_a_modal_closed_with_the_keyboard(
    page: Any, demo_bot: DemoBot
) -> None:
    await start_demo(page, demo_bot)
    await page.get_by_role("button", name="Alert").click()
    dialog = page.locator("#alert")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#alert-text")).to_have_text("This is an alert")
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()


async def test_an_answers_url_is_offered_as_a_link(page: Any, demo_bot: DemoBot) -> None:
    await start_demo(page, demo_bot)
    await page.get_by_role("button", name="Link answer").click()
    link = page.locator("#toast a")
    await expect(link).to_have_attribute("href", "https://t.me/demo_bot?start=from_button")


async def test_a_url_button_asks_before_opening(page: Any, demo_bot: DemoBot) -> None:
    await start_demo(page, demo_bot)
    await page.get_by_role("button", name="Docs").click()
    confirm = page.locator("#confirm-url")
    await expect(confirm).to_be_visible()
    await expect(confirm.locator("#confirm-target")).to_have_text("https://example.org/docs")
    await expect(confirm.get_by_role("link", name="Open")).to_have_attribute(
        "href", "https://example.org/docs"
    )
    await confirm.get_by_role("button", name="Cancel").click()
    await expect(confirm).to_be_hidden()


async def test_a_keyboard_edited_by_the_bot_updates_live(page: Any, demo_bot: DemoBot) -> None:
    await start_demo(page, demo_bot)
    await page.get_by_role("button", name="Edit me").click()
    message = page.locator("#messages .msg.in").last
    await expect(message.locator(".bubble")).to_have_text("Edited by the bot")
    await expect(message.get_by_role("button")).to_have_text(["Edited button"])
    await expect(message.locator(".meta")).to_contain_text("edited")


async def test_a_message_deleted_by_the_bot_disappears_live(page: Any, demo_bot: DemoBot) -> None:
    await sign_in_new_user(page)
    await open_chat(page, demo_bot.username)
    await send(page, "/vanish")
    vanishing = page.locator("#messages .msg", has_text="Now you see me")
    await expect(vanishing).to_have_count(1)
    await vanishing.get_by_role("button", name="Delete").click()
    await expect(page.locator("#toast")).to_have_text("Deleted")
    await expect(vanishing).to_have_count(0)
    await expect(page.locator("#messages .msg.out", has_text="/vanish")).to_have_count(1)


async def test_a_cached_second_press_shows_the_answer_without_reaching_the_bot(
    page: Any, demo_bot: DemoBot
) -> None:
    await start_demo(page, demo_bot)
    await page.get_by_role("button", name="Live panel").click()
    await page.get_by_role("button", name="Cached").click()
    await expect(page.locator("#toast")).to_have_text("Answer number 1")
    await page.locator("#toast").evaluate("node => { node.hidden = true; }")
    await page.get_by_role("button", name="Cached").click()
    await expect(page.locator("#toast")).to_have_text("Answer number 1")
    await expect(page.locator("#presses li").first).to_contain_text("not asked")
    assert demo_bot.presses == [b"cached"]


async def test_an_unanswered_press_shows_bot_response_timeout(
    page: Any, demo_bot: DemoBot, server: LoopgramServer, clock: FakeClock
) -> None:
    await start_demo(page, demo_bot)
    button = page.get_by_role("button", name="Silent")
    await button.click()
    await expect(button).to_have_attribute("aria-busy", "true")
    await until(lambda: demo_bot.presses == [b"silent"])
    clock.advance(server.config.callback_timeout + 1)
    assert server.tick() == 1
    await expect(page.locator("#toast")).to_contain_text("BOT_RESPONSE_TIMEOUT")
    await expect(button).not_to_have_attribute("aria-busy", "true")


async def test_the_panel_shows_the_press_with_its_timeline_and_every_calls_door(
    page: Any, demo_bot: DemoBot
) -> None:
    await page.get_by_role("button", name="Live panel").click()
    await start_demo(page, demo_bot)
    await page.get_by_role("button", name="Toast").click()
    await expect(page.locator("#toast")).to_have_text("Hello from the bot")
    press = page.locator("#presses li").first
    await expect(press).to_contain_text("@demo_bot")
    for step in ("update to bot", "answer", "answered", "shown"):
        await expect(press).to_contain_text(step)
    await expect(press.locator(".step-shown b")).to_have_text(re.compile(r"\d+\.\d\d ms"))
    calls = page.locator("#calls")
    await expect(
        calls.locator("tr", has_text="messages.getBotCallbackAnswer").first
    ).to_contain_text("web")
    await expect(
        calls.locator("tr", has_text="messages.setBotCallbackAnswer").first
    ).to_contain_text("@demo_bot")
    await page.get_by_label("Filter calls").fill("setBotCallbackAnswer")
    await expect(calls.locator("tr:visible")).to_have_count(1)


async def test_pausing_the_panel_holds_new_calls_until_resumed(
    page: Any, demo_bot: DemoBot
) -> None:
    await page.get_by_role("button", name="Live panel").click()
    await start_demo(page, demo_bot)
    await page.get_by_role("button", name="Pause").click()
    before = await page.locator("#calls tr").count()
    await page.get_by_role("button", name="Toast").click()
    await expect(page.locator("#toast")).to_have_text("Hello from the bot")
    await expect(page.locator("#panel-held")).to_contain_text("held")
    assert await page.locator("#calls tr").count() == before
    await page.get_by_role("button", name="Resume").click()
    await expect(page.locator("#calls tr", has_text="messages.setBotCallbackAnswer")).to_have_count(
        1
    )


async def test_a_reply_keyboard_sends_its_text_and_goes_away_after_use(
    page: Any, demo_bot: DemoBot
) -> None:
    await sign_in_new_user(page)
    await open_chat(page, demo_bot.username)
    await send(page, "/keyboard")
    keyboard = page.locator("#reply-keyboard")
    await expect(keyboard.get_by_role("button")).to_have_text(["Yes", "No"])
    await keyboard.get_by_role("button", name="Yes").click()
    await expect(page.locator("#messages .msg.in").last).to_have_text(re.compile("You said: Yes"))
    await expect(keyboard).to_be_hidden()


async def test_two_tabs_are_two_users_each_with_its_own_dialogs(
    browser: Any, server: LoopgramServer, demo_bot: DemoBot
) -> None:
    tabs = []
    for _ in range(2):
        context = await browser.new_context()
        tab = await context.new_page()
        await tab.goto(server.web_url)
        await sign_in_new_user(tab)
        tabs.append(tab)
    first, second = tabs
    assert await first.locator("#me").text_content() != await second.locator("#me").text_content()
    await open_chat(first, demo_bot.username)
    await send(first, "only the first")
    await expect(first.locator("#messages .msg.in").last).to_have_text(
        re.compile("You said: only the first")
    )
    await expect(first.locator("#dialogs li")).to_have_count(1)
    await second.reload()
    await expect(second.locator("body")).to_have_attribute("data-state", "ready")
    await expect(second.locator("#dialogs li")).to_have_count(0)
    for tab in tabs:
        await tab.context.close()


async def test_keyboard_only_a_person_opens_a_chat_and_presses_a_button(
    page: Any, demo_bot: DemoBot
) -> None:
    await sign_in_new_user(page)
    await expect(page.get_by_placeholder("@username")).to_be_focused()
    await page.keyboard.type("demo_bot")
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("Message")).to_be_focused()
    await page.keyboard.type("/start")
    await page.keyboard.press("Enter")
    toast_button = page.get_by_role("button", name="Toast")
    await expect(toast_button).to_be_visible()
    await toast_button.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#toast")).to_have_text("Hello from the bot")


async def test_a_narrow_window_shows_the_chat_without_horizontal_scrolling(
    page: Any, demo_bot: DemoBot
) -> None:
    await page.set_viewport_size({"width": 360, "height": 740})
    await start_demo(page, demo_bot)
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow == 0
    await expect(page.get_by_role("button", name="Toast")).to_be_in_viewport()


async def test_scrolling_up_loads_older_messages_without_moving_the_visible_ones(
    page: Any, server: LoopgramServer
) -> None:
    from loopgram.tl import types

    user = server.create_user("+999 66 1239999")
    bot = server.core.create_bot("chatty_bot").account
    peer = types.InputPeerUser(user_id=user.id, access_hash=user.access_hash)
    messages = server.core.services.messages
    # A bot cannot write first: the user starts the chat.
    to_bot = types.InputPeerUser(user_id=bot.id, access_hash=bot.access_hash)
    messages.send_message(user, to_bot, "/start", random_id=1000)
    for n in range(1, 251):
        messages.send_message(bot, peer, f"message {n}", random_id=n)
    await page.get_by_label("Phone number").fill("+999 66 1239999")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await page.locator("#dialogs button", has_text="chatty_bot").click()
    shown = page.locator("#messages .msg")
    await expect(shown).to_have_count(100)
    await expect(shown.last).to_have_text(re.compile("message 250"))
    first = shown.first
    await expect(first).to_have_text(re.compile("message 151"))
    await page.locator("#messages").evaluate("list => { list.scrollTop = 0; }")
    await expect(shown).to_have_count(200)
    # The message that was on top is still where the person looked.
    top = await page.locator("#messages").bounding_box()
    box = (
        await page.locator("#messages .bubble")
        .get_by_text("message 151", exact=True)
        .bounding_box()
    )
    assert top is not None and box is not None and box["y"] <= top["y"] + 20
    await page.locator("#messages").evaluate("list => { list.scrollTop = 0; }")
    await expect(shown).to_have_count(251)
    await expect(shown.first.locator(".bubble")).to_have_text("/start")
