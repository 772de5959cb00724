"""The page in a real browser with names and basic groups: a person names the user at sign-in
or in the profile and peers see it live; two tabs as two users share a group with a Telethon
bot, both press one button and each sees their own answer; service messages; a member added
by username. Supergroups and channels: tests/web/test_channels.py."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from loopgram.node import LoopgramServer

from .conftest import start_telethon_bot, until
from .test_browser import open_chat, send, sign_in_new_user


async def new_tab(browser: Any, server: LoopgramServer) -> Any:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    tab = await context.new_page()
    await tab.goto(server.web_url)
    return tab


async def set_profile(tab: Any, first: str, last: str = "", username: str = "") -> None:
    await tab.get_by_role("button", name="Profile").click()
    dialog = tab.locator("#profile")
    await dialog.get_by_label("First name").fill(first)
    await dialog.get_by_label("Last name").fill(last)
    await dialog.get_by_label("Username").fill(username)
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden()


async def test_a_name_given_at_sign_in_and_changed_in_the_profile_reaches_a_peer_live(
    browser: Any, server: LoopgramServer
) -> None:
    ada, bob = await new_tab(browser, server), await new_tab(browser, server)
    try:
        await ada.get_by_label("Your name (optional)").fill("Ada Lovelace")
        await sign_in_new_user(ada)
        await expect(ada.locator("#me")).to_contain_text("Ada Lovelace")
        await set_profile(ada, "Ada", "Lovelace", "ada_l")
        await expect(ada.locator("#me")).to_contain_text("Ada Lovelace @ada_l")
        account = server.storage.accounts.get_by_username("ada_l")
        assert account is not None and (account.first_name, account.last_name) == (
            "Ada",
            "Lovelace",
        )

        await sign_in_new_user(bob)
        await open_chat(bob, "ada_l")
        await expect(bob.locator("#chat-title")).to_have_text("Ada Lovelace (@ada_l)")
        await send(bob, "hello Ada")
        await expect(ada.locator("#dialogs li")).to_have_count(1)

        await set_profile(ada, "Ada", "King", "ada_l")

        await expect(bob.locator("#chat-title")).to_have_text("Ada King (@ada_l)")
        await expect(bob.locator("#dialogs .name")).to_have_text(["Ada King (@ada_l)"])
        # A refused change says why and keeps the dialog open.
        await bob.get_by_role("button", name="Profile").click()
        await bob.locator("#profile").get_by_label("Username").fill("ada_l")
        await bob.locator("#profile").get_by_role("button", name="Save").click()
        await expect(bob.locator("#profile-error")).to_have_text("USERNAME_OCCUPIED")
    finally:
        for tab in (ada, bob):
            await tab.context.close()


async def test_two_users_in_a_group_press_one_button_and_each_sees_their_own_answer(
    browser: Any, server: LoopgramServer
) -> None:
    from telethon import Button, events

    bot = await start_telethon_bot(server, "club_bot")
    presses: list[tuple[int, int]] = []

    @bot.on(events.NewMessage(pattern="/start"))
    async def on_start(event: Any) -> None:
        await event.respond("Who is pressing?", buttons=[[Button.inline("Me", b"me")]])

    @bot.on(events.CallbackQuery())
    async def on_press(event: Any) -> None:
        presses.append((event.sender_id, event.query.chat_instance))
        await event.answer(f"You are user {event.sender_id}")

    ada, bob = await new_tab(browser, server), await new_tab(browser, server)
    try:
        await sign_in_new_user(ada)
        await set_profile(ada, "Ada", "", "ada_club")
        await sign_in_new_user(bob)
        await set_profile(bob, "Bob", "", "bob_club")

        await ada.get_by_role("button", name="New group").click()
        dialog = ada.locator("#new-group")
        await dialog.get_by_label("Group name").fill("Club")
        await dialog.get_by_label("Members").fill("@club_bot @bob_club")
        await dialog.get_by_role("button", name="Create").click()
        await expect(ada.locator("#chat-title")).to_have_text("Club")
        await expect(ada.locator("#messages .msg.service")).to_have_text(
            ["You created the group «Club»"]
        )
        # Bob's tab lists the group live and shows who created it.
        await bob.locator("#dialogs button", has_text="Club").click()
        await expect(bob.locator("#chat-title")).to_have_text("Club")
        await expect(bob.locator("#messages .msg.service")).to_have_text(
            ["Ada created the group «Club»"]
        )

        await send(ada, "/start")
        for tab in (ada, bob):
            await expect(tab.get_by_role("button", name="Me", exact=True)).to_be_visible()
        await expect(bob.locator("#messages .msg.in .sender").first).to_have_text("Ada")
        await expect(bob.locator("#messages .msg.in .sender").last).to_have_text("club_bot")

        ada_id = server.storage.accounts.get_by_username("ada_club")
        bob_id = server.storage.accounts.get_by_username("bob_club")
        assert ada_id is not None and bob_id is not None
        await ada.get_by_role("button", name="Me", exact=True).click()
        await bob.get_by_role("button", name="Me", exact=True).click()
        await expect(ada.locator("#toast")).to_have_text(f"You are user {ada_id.id}")
        await expect(bob.locator("#toast")).to_have_text(f"You are user {bob_id.id}")
        await until(lambda: len(presses) == 2)
        assert {user for user, _ in presses} == {ada_id.id, bob_id.id}
        assert len({instance for _, instance in presses}) == 1

        # A title changed and a member removed elsewhere show up live in both tabs.
        chat_id = server.storage.chats.chats_of(ada_id.id)[0]
        chats = server.core.services.chats
        chats.edit_title(ada_id, chat_id, "Club 2", origin=None)
        for tab, who in ((ada, "You"), (bob, "Ada")):
            await expect(tab.locator("#chat-title")).to_have_text("Club 2")
            await expect(tab.locator("#messages .msg.service").last).to_have_text(
                f"{who} changed the group name to «Club 2»"
            )
        await ada.get_by_label("Add a member").fill("nobody_at_all")
        await ada.get_by_role("button", name="Add member").click()
        await expect(ada.locator("#add-member-error")).to_have_text("USERNAME_NOT_OCCUPIED")
        from loopgram.tl import types

        chats.delete_user(
            ada_id,
            chat_id,
            types.InputUser(user_id=bob_id.id, access_hash=bob_id.access_hash),
            origin=None,
        )
        await expect(ada.locator("#messages .msg.service").last).to_have_text("You removed Bob")
        await expect(bob.locator("#messages .msg.service").last).to_have_text("Ada removed you")
    finally:
        for tab in (ada, bob):
            await tab.context.close()
        await bot.disconnect()


async def test_a_member_added_by_username_sees_the_group_and_everyone_sees_who_was_added(
    browser: Any, server: LoopgramServer
) -> None:
    ada, bob = await new_tab(browser, server), await new_tab(browser, server)
    try:
        await sign_in_new_user(ada)
        await set_profile(ada, "Ada", "", "ada_add")
        await sign_in_new_user(bob)
        await set_profile(bob, "Bob", "", "bob_add")
        server.core.create_bot("add_bot")
        await ada.get_by_role("button", name="New group").click()
        await ada.locator("#new-group").get_by_label("Group name").fill("Pair")
        await ada.locator("#new-group").get_by_label("Members").fill("add_bot")
        await ada.locator("#new-group").get_by_role("button", name="Create").click()
        await expect(ada.locator("#chat-title")).to_have_text("Pair")
        await expect(bob.locator("#dialogs li")).to_have_count(0)

        await ada.get_by_label("Add a member").fill("@bob_add")
        await ada.get_by_role("button", name="Add member").click()

        await expect(ada.locator("#messages .msg.service").last).to_have_text("You added Bob")
        await bob.locator("#dialogs button", has_text="Pair").click()
        await expect(bob.locator("#messages .msg.service").last).to_have_text("Ada added you")
        await expect(bob.locator("#dialogs .name")).to_have_text([re.compile("Pair")])
    finally:
        for tab in (ada, bob):
            await tab.context.close()
