"""The Bot API across three ``loopgram serve`` processes (one PostgreSQL schema, one Redis
prefix): a bot polls or takes webhooks on one process while real Telethon users, connected to
the others, write and press. The queue rows are shared; what must cross processes is the
long poll's wake-up, the 409 of a newer poll or a webhook, and the one delivery of each
update: every process has the bot attached (it asked each for ``getMe``), so an update
queued by more than one of them would show up twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telethon import events  # type: ignore[import-untyped]

from loopgram.testing.botapi import ptb_application_builder
from loopgram.testing.cluster import ClusterNode, ServerCluster
from tests.cluster.conftest import new_bot
from tests.integration.support import eventually, start_user, within

WAKE = 10.0
"""Seconds within which a cross-process wake-up must answer a poll that would otherwise
wait ``POLL`` seconds: a poll answered only at its timeout fails the test."""
POLL = 40


class BotApi:
    """Raw Bot API calls of one bot to any node (``aiohttp``, as a bot's HTTP client)."""

    def __init__(self, http: aiohttp.ClientSession, token: str) -> None:
        self._http = http
        self.token = token

    async def reply(self, node: ClusterNode, method: str, **params: Any) -> dict[str, Any]:
        url = f"{node.bot_api_url}/bot{self.token}/{method}"
        async with self._http.post(url, json=params) as answer:
            body: dict[str, Any] = await answer.json(content_type=None)
        return body

    async def __call__(self, node: ClusterNode, method: str, **params: Any) -> Any:
        body = await self.reply(node, method, **params)
        assert body["ok"] is True, body
        return body["result"]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=POLL + 20)) as session:
        yield session


async def bot_everywhere(cluster: ServerCluster, http: aiohttp.ClientSession) -> BotApi:
    """A new bot that asked every node for ``getMe``: each has it attached."""
    api = BotApi(http, new_bot(cluster))
    for node in cluster.nodes:
        await within(api(node, "getMe"))
    return api


async def test_a_ptb_bot_polling_one_process_answers_users_on_the_two_others(
    cluster: ServerCluster,
) -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes

    node0, node1, node2 = cluster.nodes
    token = new_bot(cluster)
    pressed_by: list[int] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(
            "pick one",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Buy", callback_data="buy")]]),
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        pressed_by.append(query.from_user.id)
        await query.answer(f"thanks {query.from_user.id}", show_alert=True)

    app = ptb_application_builder(node0, token).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    users: list[Any] = []
    async with app:
        username = app.bot.username
        await app.start()
        assert app.updater is not None
        # A long poll: an update queued on another process must wake it.
        await app.updater.start_polling(poll_interval=0.0, timeout=POLL)
        try:
            users = [await start_user(node1), await start_user(node2)]
            ids = [(await user.get_me()).id for user in users]
            answers = []
            for user in users:
                await within(user.send_message(username, "/start"), WAKE)

                async def keyboard(user: Any = user) -> Any:
                    found = await user.get_messages(username, limit=1)
                    if found and found[0].text == "pick one" and found[0].buttons:
                        return found[0]
                    return None

                message = await eventually(keyboard, timeout=WAKE)
                answers.append(await within(message.click(data=b"buy"), WAKE))
        finally:
            await app.updater.stop()
            await app.stop()
            await asyncio.gather(*(user.disconnect() for user in users))
    assert [(a.message, a.alert) for a in answers] == [(f"thanks {i}", True) for i in ids]
    assert pressed_by == ids  # each press reached the bot once


async def test_a_long_poll_wakes_for_a_message_queued_on_another_process_and_gets_it_once(
    cluster: ServerCluster, http: aiohttp.ClientSession
) -> None:
    node0, node1, node2 = cluster.nodes
    api = await bot_everywhere(cluster, http)
    me = await api(node0, "getMe")
    assert await api(node0, "getUpdates", timeout=0) == []
    user = await start_user(node2)
    try:
        poll = asyncio.ensure_future(api(node0, "getUpdates", timeout=POLL))
        await asyncio.sleep(0)  # the poll is on its way before the message
        await within(user.send_message(me["username"], "hello from process 2"))
        (update,) = await within(poll, WAKE)
        assert update["message"]["text"] == "hello from process 2"
        # Queued once, by the process where it arose, though three have the bot attached.
        after = await api(node1, "getUpdates", offset=update["update_id"] + 1, timeout=0)
        assert after == []
    finally:
        await user.disconnect()


async def test_a_poll_on_another_process_ends_the_waiting_one_with_409(
    cluster: ServerCluster, http: aiohttp.ClientSession
) -> None:
    node0, node1, _ = cluster.nodes
    api = await bot_everywhere(cluster, http)
    older = asyncio.ensure_future(api.reply(node0, "getUpdates", timeout=POLL))
    await asyncio.sleep(0.2)  # the older poll waits on process 0
    assert await api(node1, "getUpdates", timeout=0) == []
    answer = await within(older, WAKE)
    assert answer == {
        "ok": False,
        "error_code": 409,
        "description": "Conflict: terminated by other getUpdates request; make sure that "
        "only one bot instance is running",
    }


async def test_a_webhook_set_on_another_process_ends_the_waiting_poll_with_409(
    cluster: ServerCluster, http: aiohttp.ClientSession
) -> None:
    node0, node1, node2 = cluster.nodes
    api = await bot_everywhere(cluster, http)
    waiting = asyncio.ensure_future(api.reply(node0, "getUpdates", timeout=POLL))
    await asyncio.sleep(0.2)
    assert await api(node1, "setWebhook", url="http://127.0.0.1:9/hook") is True
    answer = await within(waiting, WAKE)
    assert (answer["error_code"], answer["description"]) == (
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
        "to delete the webhook first",
    )
    # Every process knows it now, not only the one that set it.
    refused = await api.reply(node2, "getUpdates", timeout=0)
    assert refused["error_code"] == 409
    assert await api(node0, "deleteWebhook") is True
    assert await api(node2, "getUpdates", timeout=0) == []


async def test_a_webhook_gets_each_update_once_whichever_process_queued_it(
    cluster: ServerCluster, http: aiohttp.ClientSession
) -> None:
    node0, node1, node2 = cluster.nodes
    received: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        arrived.set()
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    api = await bot_everywhere(cluster, http)
    me = await api(node0, "getMe")
    users: list[Any] = []
    try:
        assert await api(node0, "setWebhook", url=f"http://127.0.0.1:{port}/hook") is True
        users = [await start_user(node1), await start_user(node2)]
        await within(users[0].send_message(me["username"], "one"))
        await within(users[1].send_message(me["username"], "two"))
        await within(users[0].send_message(me["username"], "last"))

        async def all_three() -> bool:
            return len({u["message"]["text"] for u in received}) == 3

        await eventually(all_three, timeout=WAKE)
        texts = [u["message"]["text"] for u in received]
        assert sorted(texts) == ["last", "one", "two"]  # each once
        assert len({u["update_id"] for u in received}) == 3
        info = await api(node2, "getWebhookInfo")
        assert info["pending_update_count"] == 0
    finally:
        await api(node0, "deleteWebhook")
        await asyncio.gather(*(user.disconnect() for user in users))
        await runner.cleanup()


async def test_a_telethon_bot_on_one_process_and_a_bot_api_bot_on_another_serve_one_user(
    cluster: ServerCluster, http: aiohttp.ClientSession
) -> None:
    """A press of a Bot API bot's button by a user on process 1, the bot polling process 2:
    the query and the answer cross processes through the queue and the pending table."""
    _, node1, node2 = cluster.nodes
    api = BotApi(http, new_bot(cluster))
    me = await api(node2, "getMe")
    user = await start_user(node1)
    messages: asyncio.Queue[Any] = asyncio.Queue()

    async def on_message(event: Any) -> None:
        messages.put_nowait(event)

    user.add_event_handler(on_message, events.NewMessage(from_users=me["id"]))
    try:
        await within(user.send_message(me["username"], "/start"))
        (started,) = await within(api(node2, "getUpdates", timeout=POLL), WAKE)
        user_id = started["message"]["from"]["id"]
        await api(
            node2,
            "sendMessage",
            chat_id=user_id,
            text="pick",
            reply_markup={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},
        )
        arrived = await within(messages.get())
        assert arrived.raw_text == "pick"
        assert arrived.buttons[0][0].data == b"a"
        press = asyncio.ensure_future(within(arrived.click(data=b"a")))
        (update,) = await within(
            api(node2, "getUpdates", offset=started["update_id"] + 1, timeout=POLL), WAKE
        )
        query = update["callback_query"]
        assert (query["data"], query["from"]["id"]) == ("a", user_id)
        assert await api(
            node2,
            "answerCallbackQuery",
            callback_query_id=query["id"],
            text="crossed twice",
            url=f"https://t.me/{me['username']}?start=1",
            cache_time=30,
        )
        answer = await press
        assert (answer.message, answer.url, answer.cache_time) == (
            "crossed twice",
            f"https://t.me/{me['username']}?start=1",
            30,
        )
    finally:
        await user.disconnect()


async def test_a_bot_flooding_one_chat_through_two_processes_hits_the_limit(
    cluster: ServerCluster, http: aiohttp.ClientSession
) -> None:
    """The per-chat bucket (20 at once, then one a second) is one for the whole cluster: a
    bot alternating between two processes is refused after about one burst, not two."""
    node0, node1, node2 = cluster.nodes
    api = await bot_everywhere(cluster, http)
    me = await api(node0, "getMe")
    user = await start_user(node2)
    try:
        await within(user.send_message(me["username"], "/start"))
        (started,) = await within(api(node0, "getUpdates", timeout=POLL), WAKE)
        chat_id = started["message"]["chat"]["id"]
        burst = 20
        sent = 0
        refusal: dict[str, Any] | None = None
        for turn in range(2 * burst):
            answer = await api.reply(
                (node0, node1)[turn % 2], "sendMessage", chat_id=chat_id, text=f"m{turn}"
            )
            if not answer["ok"]:
                refusal = answer
                break
            sent += 1
        assert refusal is not None, "two processes let two bursts through"
        assert refusal["error_code"] == 429
        assert refusal["description"].startswith("Too Many Requests: retry after ")
        assert burst <= sent < 2 * burst
    finally:
        await user.disconnect()
