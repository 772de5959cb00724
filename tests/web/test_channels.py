"""The page in a real browser with supergroups and broadcast channels: a supergroup with a
second user (another tab) and a Bot API bot where both users press; a channel post with
buttons pressed by a subscriber who joined by @username and cannot post; renaming and
removing a member, in a supergroup and in a basic group, seen live by the other tab; the
group's head in a narrow window and from the keyboard, and no move when the tab is removed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from playwright.async_api import expect

from loopgram.node import LoopgramServer

from .conftest import until
from .test_browser import send, sign_in_new_user
from .test_groups import new_tab, set_profile

CHANNEL_SHIFT = 10**12


@dataclass
class HttpBot:
    """A bot on the Bot API over HTTP: ``/start`` in a group gets a keyboard; each press is
    answered with the presser's first name and recorded with its ``chat_instance``."""

    base: str
    http: aiohttp.ClientSession
    presses: list[tuple[int, str, str]] = field(default_factory=list)

    async def call(self, method: str, **params: Any) -> Any:
        async with self.http.post(f"{self.base}/{method}", json=params) as r:
            body = await r.json()
        assert body["ok"], body
        return body["result"]

    async def run(self) -> None:
        offset = 0
        while True:
            updates = await self.call("getUpdates", offset=offset, timeout=5)
            for update in updates:
                offset = update["update_id"] + 1
                message = update.get("message")
                if message is not None and message.get("text", "").startswith("/start"):
                    markup = {"inline_keyboard": [[{"text": "Me", "callback_data": "me"}]]}
                    await self.call(
                        "sendMessage",
                        chat_id=message["chat"]["id"],
                        text="Who is pressing?",
                        reply_markup=markup,
                    )
                query = update.get("callback_query")
                if query is not None:
                    who = query["from"]
                    self.presses.append((who["id"], query["chat_instance"], query["data"]))
                    await self.call(
                        "answerCallbackQuery",
                        callback_query_id=query["id"],
                        text=f"Thanks, {who['first_name']}",
                    )


@pytest.fixture
async def http_bot(server: LoopgramServer) -> AsyncIterator[HttpBot]:
    token = server.create_bot("hub_bot", "Hub")
    async with aiohttp.ClientSession() as http:
        bot = HttpBot(f"{server.bot_api_url}/bot{token}", http)
        task = asyncio.create_task(bot.run())
        try:
            yield bot
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def create(tab: Any, kind: str, title: str, members: str) -> None:
    await tab.get_by_role("button", name="New group or channel").click()
    dialog = tab.locator("#new-group")
    await dialog.get_by_label("Kind").select_option(kind)
    await dialog.get_by_label("Group name").fill(title)
    await dialog.get_by_label("Members").fill(members)
    await dialog.get_by_role("button", name="Create").click()
    await expect(tab.locator("#chat-title")).to_have_text(title)


@contextlib.asynccontextmanager
async def two_users(
    browser: Any, server: LoopgramServer, tag: str
) -> AsyncIterator[tuple[Any, Any]]:
    """Two tabs signed in as Ada (``@ada_<tag>``) and Bob (``@bob_<tag>``)."""
    ada, bob = await new_tab(browser, server), await new_tab(browser, server)
    try:
        await sign_in_new_user(ada)
        await set_profile(ada, "Ada", "", f"ada_{tag}")
        await sign_in_new_user(bob)
        await set_profile(bob, "Bob", "", f"bob_{tag}")
        yield ada, bob
    finally:
        for tab in (ada, bob):
            await tab.context.close()


def account_id(server: LoopgramServer, username: str) -> int:
    account = server.storage.accounts.get_by_username(username)
    assert account is not None
    return account.id


async def test_a_supergroup_with_a_second_user_and_a_bot_both_press_and_see_renames_and_removals(
    browser: Any, server: LoopgramServer, http_bot: HttpBot
) -> None:
    async with two_users(browser, server, "sg") as (ada, bob):
        await create(ada, "supergroup", "Lab", "@hub_bot @bob_sg")
        await expect(ada.locator("#chat-kind")).to_have_text("supergroup")
        await expect(ada.locator("#messages .msg.service")).to_have_text(
            ["You created the group «Lab»", "You added Hub, Bob"]
        )
        # Bob's tab lists the supergroup live, from the invitation pushed to it.
        await bob.locator("#dialogs button", has_text="Lab").click()
        await expect(bob.locator("#messages .msg.service").last).to_have_text("Ada added Hub, you")

        await send(ada, "/start")
        for tab in (ada, bob):
            await expect(tab.get_by_role("button", name="Me", exact=True)).to_be_visible()
        await expect(bob.locator("#messages .msg.in .sender")).to_have_text(["Ada", "Hub"])
        await ada.get_by_role("button", name="Me", exact=True).click()
        await bob.get_by_role("button", name="Me", exact=True).click()
        await expect(ada.locator("#toast")).to_have_text("Thanks, Ada")
        await expect(bob.locator("#toast")).to_have_text("Thanks, Bob")
        await until(lambda: len(http_bot.presses) == 2)
        assert {who for who, _, _ in http_bot.presses} == {
            account_id(server, "ada_sg"),
            account_id(server, "bob_sg"),
        }
        assert len({instance for _, instance, _ in http_bot.presses}) == 1

        # Renamed and a member removed from the Manage dialog, seen live by the other tab.
        await ada.get_by_role("button", name="Manage").click()
        manage = ada.locator("#manage")
        await manage.get_by_label("Name", exact=True).fill("Lab 2")
        await manage.get_by_role("button", name="Rename").click()
        await expect(bob.locator("#chat-title")).to_have_text("Lab 2")
        await expect(bob.locator("#messages .msg.service").last).to_have_text(
            "Ada changed the group name to «Lab 2»"
        )
        await expect(bob.locator("#dialogs .name")).to_contain_text(["Lab 2"])
        await expect(manage.locator("#members li")).to_have_count(3)
        await manage.get_by_role("button", name="Remove Bob").click()
        await expect(manage.locator("#members li")).to_have_count(2)
        await manage.get_by_role("button", name="Close").click()
        await expect(ada.locator("#messages .msg.service").last).to_have_text("You removed Bob")
        await expect(bob.locator("#messages .msg.service").last).to_have_text("Ada removed you")
        await expect(bob.get_by_label("Message")).to_be_disabled()
        await expect(bob.get_by_label("Message")).to_have_attribute(
            "placeholder", "You are not a member of this chat"
        )


async def test_a_subscriber_joins_a_channel_by_username_and_presses_a_bots_post_without_posting(
    browser: Any, server: LoopgramServer, http_bot: HttpBot
) -> None:
    async with two_users(browser, server, "ch") as (ada, bob):
        await create(ada, "channel", "News", "@hub_bot")
        await expect(ada.locator("#chat-kind")).to_have_text("channel")
        await expect(ada.locator("#messages .msg.service")).to_have_text(["Channel «News» created"])
        await ada.get_by_role("button", name="Manage").click()
        manage = ada.locator("#manage")
        # The bot joined as an admin, as the apps add bots to channels.
        await expect(manage.locator("#members li", has_text="Hub")).to_contain_text("admin")
        await manage.get_by_label("Public username").fill("news_pub")
        await manage.get_by_role("button", name="Set").click()
        await expect(manage.locator("#manage-error")).to_have_text("")
        await manage.get_by_role("button", name="Close").click()
        await send(ada, "Welcome to the news")
        await expect(ada.locator("#messages .msg.out .bubble")).to_have_text(
            ["Welcome to the news"]
        )

        # Bob finds it by username, reads it before joining, then joins.
        await bob.get_by_placeholder("@username").fill("@news_pub")
        await bob.get_by_role("button", name="Open", exact=True).click()
        await expect(bob.locator("#chat-title")).to_have_text("News")
        await expect(bob.locator("#messages .msg.in .bubble")).to_have_text(["Welcome to the news"])
        await expect(bob.get_by_label("Message")).to_be_disabled()
        await bob.get_by_role("button", name="Join").click()
        await expect(bob.get_by_role("button", name="Join")).to_be_hidden()
        await expect(bob.get_by_label("Message")).to_have_attribute(
            "placeholder", "Only the channel's admins post here"
        )
        await expect(bob.get_by_label("Message")).to_be_disabled()
        await expect(bob.locator("#dialogs .name")).to_contain_text(["News"])

        # The bot, an admin, posts with a keyboard; the subscriber presses it.
        record = server.storage.channels.get_by_username("news_pub")
        assert record is not None
        markup = {"inline_keyboard": [[{"text": "Vote", "callback_data": "vote"}]]}
        chat_id = -(CHANNEL_SHIFT + record.id)
        sent = await http_bot.call(
            "sendMessage", chat_id=chat_id, text="Poll of the day", reply_markup=markup
        )
        post = bob.locator("#messages .msg", has_text="Poll of the day")
        await expect(post.locator(".sender")).to_have_count(0)  # a post speaks for the channel
        await bob.get_by_role("button", name="Live panel").click()
        await post.get_by_role("button", name="Vote").click()
        await expect(bob.locator("#toast")).to_have_text("Thanks, Bob")
        # The post names no author: the timeline learns the bot from the press sent to it.
        timeline = bob.locator("#presses li").first
        await expect(timeline).to_contain_text("@hub_bot")
        await expect(timeline.locator(".step-update b")).not_to_have_text("—")
        await expect(timeline.locator(".step-answer b")).not_to_have_text("—")
        await expect(ada.get_by_role("button", name="Vote")).to_be_visible()
        await until(lambda: len(http_bot.presses) == 1)
        assert http_bot.presses[0][0] == account_id(server, "bob_ch")
        assert http_bot.presses[0][2] == "vote"

        # The bot's edit and deletion of its post reach both tabs live.
        await http_bot.call(
            "editMessageText", chat_id=chat_id, message_id=sent["message_id"], text="Poll closed"
        )
        for tab in (ada, bob):
            await expect(tab.locator("#messages .msg", has_text="Poll closed")).to_contain_text(
                "edited"
            )
        await http_bot.call("deleteMessage", chat_id=chat_id, message_id=sent["message_id"])
        for tab in (ada, bob):
            await expect(tab.locator("#messages .msg", has_text="Poll closed")).to_have_count(0)
            await expect(tab.locator("#messages .msg", has_text="Welcome")).to_have_count(1)


async def test_a_basic_group_renamed_and_a_member_removed_from_the_page_seen_live(
    browser: Any, server: LoopgramServer
) -> None:
    async with two_users(browser, server, "bg") as (ada, bob):
        await create(ada, "group", "Pair", "@bob_bg")
        await bob.locator("#dialogs button", has_text="Pair").click()
        await expect(bob.locator("#chat-title")).to_have_text("Pair")
        composer = await bob.locator("#composer").bounding_box()
        # A narrow window: the group's head (title, kind, add member, manage) wraps in place
        # and nothing overflows sideways.
        await ada.set_viewport_size({"width": 380, "height": 760})
        await expect(ada.get_by_role("button", name="Manage")).to_be_in_viewport()
        await expect(ada.get_by_role("button", name="Add member")).to_be_in_viewport()
        assert await ada.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )

        # From the keyboard: Manage opens with the name focused, Enter renames.
        await ada.get_by_role("button", name="Manage").focus()
        await ada.keyboard.press("Enter")
        manage = ada.locator("#manage")
        await expect(manage.get_by_label("Name", exact=True)).to_be_focused()
        await expect(manage.locator("#public-form")).to_be_hidden()  # no username for a group
        await manage.get_by_label("Name", exact=True).fill("Trio")
        await manage.get_by_label("Name", exact=True).press("Enter")
        await expect(bob.locator("#chat-title")).to_have_text("Trio")
        await expect(bob.locator("#messages .msg.service").last).to_have_text(
            "Ada changed the group name to «Trio»"
        )
        await manage.get_by_role("button", name="Remove Bob").click()
        await expect(manage.locator("#members li")).to_have_count(1)
        await ada.keyboard.press("Escape")
        await expect(manage).to_be_hidden()
        await expect(bob.locator("#messages .msg.service").last).to_have_text("Ada removed you")
        await expect(bob.get_by_label("Message")).to_be_disabled()
        # Removed, the tab's composer says so in place: nothing moved.
        assert await bob.locator("#composer").bounding_box() == composer
