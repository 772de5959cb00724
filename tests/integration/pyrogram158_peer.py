"""A Pyrogram 2.0.106 peer (TL layer 158) for ``test_pyrogram158.py``, run as a subprocess in
its own virtualenv (it imports ``pyrogram``, which would clash with kurigram's).

It reads one JSON object on stdin -- the server's ``host``, ``port`` and ``pem``, a ``role``
and what that role needs -- and writes one JSON object per line on stdout, each with an
``event``:

- every role first says ``ready`` with its own ``id``, ``username``, Pyrogram's version and
  layer;
- ``bot`` (``token``, ``keyboard``, ``answer``): answers ``/start`` with an inline keyboard
  of callback buttons (``keyboard``: rows of [label, data]) and every press with ``answer``
  (``text``, ``alert``, ``url``, ``cache_time``), saying ``pressed`` (the data and the
  presser's id) for each one; it runs until stdin is closed;
- ``user`` (``phone``, ``code``, ``bot``, ``press``): sends ``/start`` to the bot, waits for
  the keyboard, says ``keyboard`` with it as pushed and as the chat history shows it,
  presses the button whose data is ``press`` and says ``answer`` with what came back, then
  exits.

Anything that goes wrong is said as ``error`` (with the traceback) and exit status 1, so the
test fails with the reason instead of a timeout. Pyrogram's log and prints go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import pyrogram
from pyrogram import filters
from pyrogram.raw.all import layer
from pyrogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from loopgram.testing.pyrogram import pyrogram_client

STEP_TIMEOUT = 20.0

# Pyrogram prints banners and prompts: the protocol keeps the real stdout to itself.
_OUT = sys.stdout
sys.stdout = sys.stderr


@dataclass(frozen=True)
class Facts:
    """What ``loopgram.testing.pyrogram`` needs to know of the server."""

    host: str
    port: int
    public_key_pem: str


def say(event: str, **fields: Any) -> None:
    _OUT.write(json.dumps({"event": event, **fields}) + "\n")
    _OUT.flush()


async def stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        pass


async def start(client: Any) -> None:
    await asyncio.wait_for(client.start(), STEP_TIMEOUT)
    me = client.me
    say("ready", id=me.id, username=me.username, version=pyrogram.__version__, layer=layer)


def keyboard_of(message: Any) -> list[list[list[str]]]:
    """Rows of (label, callback data) of a message's inline keyboard."""
    markup = message.reply_markup
    if not isinstance(markup, InlineKeyboardMarkup):
        return []
    return [
        [[button.text, str(button.callback_data)] for button in row]
        for row in markup.inline_keyboard
    ]


async def run_bot(facts: Facts, config: dict[str, Any]) -> None:
    bot = pyrogram_client(facts, "bot", bot_token=config["token"])
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in config["keyboard"]
        ]
    )
    answer = config["answer"]

    @bot.on_message(filters.command("start"))
    async def on_start(client: Any, message: Any) -> None:
        await message.reply("pick one", reply_markup=keyboard)

    @bot.on_callback_query()
    async def on_press(client: Any, query: Any) -> None:
        await query.answer(
            answer["text"],
            show_alert=answer["alert"],
            url=answer["url"],
            cache_time=answer["cache_time"],
        )
        say("pressed", data=query.data, user_id=query.from_user.id)

    await start(bot)
    try:
        await stdin_closed()
    finally:
        await bot.stop()


async def run_user(facts: Facts, config: dict[str, Any]) -> None:
    user = pyrogram_client(facts, "user", phone_number=config["phone"], phone_code=config["code"])
    bot_name = config["bot"]
    arrived: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    @user.on_message(filters.chat(bot_name))
    async def on_message(client: Any, message: Any) -> None:
        if message.reply_markup is not None and not arrived.done():
            arrived.set_result(message)

    await start(user)
    try:
        await asyncio.wait_for(user.send_message(bot_name, "/start"), STEP_TIMEOUT)
        message = await asyncio.wait_for(arrived, STEP_TIMEOUT)
        history = [m async for m in user.get_chat_history(bot_name, limit=1)]
        say(
            "keyboard",
            pushed=keyboard_of(message),
            history=keyboard_of(history[0]) if history else [],
            same_message=bool(history) and history[0].id == message.id,
        )
        result = await asyncio.wait_for(
            user.request_callback_answer(message.chat.id, message.id, config["press"]),
            STEP_TIMEOUT,
        )
        say(
            "answer",
            type=type(result).__name__,
            message=result.message,
            alert=bool(result.alert),
            url=result.url,
            has_url=bool(result.has_url),
            cache_time=result.cache_time,
        )
    finally:
        await user.stop()


async def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    config = json.loads(sys.stdin.readline())
    facts = Facts(config["host"], config["port"], config["pem"])
    try:
        if config["role"] == "bot":
            await run_bot(facts, config)
        else:
            await run_user(facts, config)
    except Exception:
        say("error", error=traceback.format_exc())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
