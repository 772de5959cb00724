"""Real Bot API frameworks, unmodified, against loopgram over TCP, with a real MTProto user
(Telethon) on the other side of the chat."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from loopgram.node import LoopgramServer
from loopgram.testing.botapi import aiogram_bot, ptb_application_builder

from ..integration.support import eventually, start_bot, start_user, within
from .conftest import Api, Chat

telegram = pytest.importorskip("telegram")

DEEP_LINK = "https://t.me/examplebot?start=from_button"


async def _keyboard_message(user: Any, text: str) -> Any:
    async def newest() -> Any:
        found = await user.get_messages("examplebot", limit=1)
        if found and found[0].text == text and found[0].buttons:
            return found[0]
        return None

    return await eventually(newest, timeout=15.0)


async def test_python_telegram_bot_answers_a_press_that_a_telethon_user_sees(
    server: LoopgramServer,
) -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes

    token = server.create_bot("examplebot")
    seen: dict[str, Any] = {}

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(
            "pick one",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Buy", callback_data="buy")]]),
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        seen["query"] = query
        seen["answered"] = await query.answer(
            "Added to cart", show_alert=True, url=DEEP_LINK, cache_time=120
        )

    app = ptb_application_builder(server, token).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=5)
        user = await start_user(server)
        user_id = (await user.get_me()).id
        try:
            await within(user.send_message("examplebot", "/start"))
            message = await _keyboard_message(user, "pick one")
            assert [[b.text for b in row] for row in message.buttons] == [["Buy"]]
            assert message.buttons[0][0].data == b"buy"
            answer = await within(message.click(data=b"buy"))
            # The framework's own models accept what the other methods return.
            info = await app.bot.get_chat(user_id)
            webhook = await app.bot.get_webhook_info()
            me = await app.bot.get_me()
            await app.bot.set_my_commands([("start", "Show the keyboard")])
            commands = await app.bot.get_my_commands()
        finally:
            await app.updater.stop()
            await app.stop()
            await user.disconnect()
    assert answer.alert is True
    assert answer.message == "Added to cart"
    assert answer.url == DEEP_LINK
    assert answer.cache_time == 120
    assert seen["answered"] is True
    query = seen["query"]
    assert query.data == "buy"
    assert query.message.text == "pick one"
    assert (info.id, info.type) == (user_id, "private")
    assert (webhook.url, webhook.pending_update_count) == ("", 0)
    assert me.username == "examplebot" and me.is_bot
    assert [(c.command, c.description) for c in commands] == [("start", "Show the keyboard")]
    assert query.from_user.id == user_id
    assert query.message.chat.id == user_id
    assert query.message.chat.type == "private"
    assert int(query.chat_instance) != 0


async def test_aiogram_long_polling_answers_a_press_that_a_telethon_user_sees(
    server: LoopgramServer,
) -> None:
    aiogram = pytest.importorskip("aiogram")
    from aiogram import F, Router
    from aiogram.filters import CommandStart
    from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

    token = server.create_bot("examplebot")
    seen: dict[str, Any] = {}
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Buy", callback_data="buy")]]
        )
        await message.answer("pick one", reply_markup=keyboard)

    @router.callback_query(F.data == "buy")
    async def pressed(query: CallbackQuery) -> None:
        seen["query"] = query
        seen["answered"] = await query.answer(
            "Added to cart", show_alert=True, url=DEEP_LINK, cache_time=120
        )

    bot = aiogram_bot(server, token)
    dispatcher = aiogram.Dispatcher()
    dispatcher.include_router(router)
    polling = asyncio.ensure_future(
        dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1)
    )
    user = await start_user(server)
    user_id = (await user.get_me()).id
    try:
        await within(user.send_message("examplebot", "/start"))
        message = await _keyboard_message(user, "pick one")
        answer = await within(message.click(data=b"buy"))
    finally:
        await dispatcher.stop_polling()
        await within(polling)
        await bot.session.close()
        await user.disconnect()
    assert (answer.alert, answer.message, answer.url, answer.cache_time) == (
        True,
        "Added to cart",
        DEEP_LINK,
        120,
    )
    assert seen["answered"] is True
    query = seen["query"]
    assert query.from_user.id == user_id
    assert query.message.text == "pick one"
    assert int(query.chat_instance) != 0


async def test_a_bot_on_both_protocols_hears_both_and_answers_once(
    server: LoopgramServer, api: Api, chat: Chat
) -> None:
    """The same bot polls the Bot API and is logged in over MTProto (Telethon): a user's
    message and press reach both; the first answer wins, the other is QUERY_ID_INVALID."""
    from telethon import errors, events  # type: ignore[import-untyped]

    await api.ok("getMe")
    mtproto_bot = await start_bot(server, api.token)
    heard: asyncio.Queue[Any] = asyncio.Queue()
    mtproto_bot.add_event_handler(heard.put, events.NewMessage(incoming=True))
    mtproto_bot.add_event_handler(heard.put, events.CallbackQuery())
    try:
        chat.say("hello bot")
        message_event = await within(heard.get())
        assert message_event.raw_text == "hello bot"
        (update,) = await api.ok("getUpdates", timeout=10)
        assert update["message"]["text"] == "hello bot"
        await api.ok("getUpdates", offset=update["update_id"] + 1)

        keyboard = {"inline_keyboard": [[{"text": "Buy", "callback_data": "buy"}]]}
        await api.ok("sendMessage", chat_id=chat.user.id, text="pick one", reply_markup=keyboard)
        press = chat.press(b"buy")
        query_event = await within(heard.get())
        (update,) = await api.ok("getUpdates", timeout=10)
        assert int(update["callback_query"]["id"]) == query_event.query.query_id
        assert await api.ok("answerCallbackQuery", callback_query_id=update["callback_query"]["id"])
        with pytest.raises(errors.QueryIdInvalidError):
            await within(query_event.answer("too late"))
        assert (await within(press)).message is None
    finally:
        await mtproto_bot.disconnect()


async def test_aiogram_in_webhook_mode_answers_through_its_webhook_responses(
    server: LoopgramServer,
) -> None:
    """aiogram's own aiohttp webhook handler: the server posts updates to it with the secret
    header, and the handlers' method calls come back in the webhook's (multipart) answers."""
    aiogram = pytest.importorskip("aiogram")
    from aiogram import F, Router
    from aiogram.filters import CommandStart
    from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler
    from aiohttp import web

    token = server.create_bot("examplebot")
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> Any:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Buy", callback_data="buy")]]
        )
        return message.answer("pick one", reply_markup=keyboard)

    @router.callback_query(F.data == "buy")
    async def pressed(query: CallbackQuery) -> Any:
        return query.answer("Added to cart", show_alert=True, url=DEEP_LINK, cache_time=120)

    bot = aiogram_bot(server, token)
    dispatcher = aiogram.Dispatcher()
    dispatcher.include_router(router)
    app = web.Application()
    SimpleRequestHandler(
        dispatcher=dispatcher, bot=bot, handle_in_background=False, secret_token="hook_secret"
    ).register(app, path="/hook")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    user = await start_user(server)
    try:
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="hook_secret")
        await within(user.send_message("examplebot", "/start"))
        message = await _keyboard_message(user, "pick one")
        answer = await within(message.click(data=b"buy"))
        info = await bot.get_webhook_info()
    finally:
        await user.disconnect()
        await bot.session.close()
        await runner.cleanup()
    assert (answer.alert, answer.message, answer.url, answer.cache_time) == (
        True,
        "Added to cart",
        DEEP_LINK,
        120,
    )
    assert info.url == f"http://127.0.0.1:{port}/hook"
    assert info.pending_update_count == 0


async def test_py_telegram_bot_api_answers_a_press_that_a_telethon_user_sees(
    server: LoopgramServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyTelegramBotAPI (sync, on its own thread): every parameter in the query string of a
    POST, booleans as ``True``/``False``."""
    telebot = pytest.importorskip("telebot")
    from telebot import apihelper
    from telebot.types import InlineKeyboardButton, InlineKeyboardMarkup

    token = server.create_bot("examplebot")
    monkeypatch.setattr(apihelper, "API_URL", f"{server.bot_api_url}/bot{{0}}/{{1}}")
    bot = telebot.TeleBot(token, threaded=False)

    @bot.message_handler(commands=["start"])  # type: ignore[misc]
    def start(message: Any) -> None:
        keyboard = InlineKeyboardMarkup()
        keyboard.add(InlineKeyboardButton("Buy", callback_data="buy"))
        bot.send_message(message.chat.id, "pick one", reply_markup=keyboard)

    @bot.callback_query_handler(func=lambda call: call.data == "buy")  # type: ignore[misc]
    def pressed(call: Any) -> None:
        bot.answer_callback_query(
            call.id, "Added to cart", show_alert=True, url=DEEP_LINK, cache_time=120
        )

    polling = asyncio.get_running_loop().run_in_executor(
        None, lambda: bot.polling(non_stop=True, interval=0, timeout=1, long_polling_timeout=1)
    )
    user = await start_user(server)
    try:
        await within(user.send_message("examplebot", "/start"))
        message = await _keyboard_message(user, "pick one")
        answer = await within(message.click(data=b"buy"))
    finally:
        bot.stop_polling()
        await within(polling)
        await user.disconnect()
    assert (answer.alert, answer.message, answer.url, answer.cache_time) == (
        True,
        "Added to cart",
        DEEP_LINK,
        120,
    )
