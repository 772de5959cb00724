"""``loopgram demo``: the whole callback-query story in one process, printed as it happens.

An embedded loopgram server (temporary data directory, a free port on 127.0.0.1) and two
loopgram clients talking to it over loopback TCP with real MTProto: a bot sends an inline
keyboard, a user presses a button, the bot answers with an alert, a message, its own deep
link and a cache time, and the user sees the answer; a second press within the cache time is
answered by the user's client alone. Then the seed example -- ``setBotCallbackAnswer`` with a
made-up ``query_id`` -- gets ``400 QUERY_ID_INVALID``. Exits 0 when every step behaved.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TextIO

from loopgram.client import Button, CallbackQuery, Client, Message, QueryIdInvalidError
from loopgram.node import LoopgramServer
from loopgram.tl import functions

__all__ = ["main", "run"]

BOT_NAME = "loopgram_demo_bot"
PHONE = "+15550100"
LOGIN_CODE = "12345"
CACHE_TIME = 30
TIMEOUT = 30.0
"""Seconds the whole story may take before the demo gives up (it needs about one)."""


class _Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.perf_counter()

    def __call__(self, who: str, text: str = "") -> None:
        self.out.write(f"{who:<7}{text}\n" if who else f"{text}\n")
        self.out.flush()


def _keyboard_text(message: Message) -> str:
    return "  ".join(f"[ {b.text} ]" for row in message.buttons for b in row)


async def run(out: TextIO | None = None) -> int:
    """The story, printed to ``out`` (default: standard output); returns the exit status."""
    say = _Printer(out or sys.stdout)
    with tempfile.TemporaryDirectory(prefix="loopgram-demo-") as data_dir:
        async with LoopgramServer(data_dir=data_dir, port=0, synchronous="NORMAL") as server:
            token = server.create_bot(BOT_NAME)
            say("", "loopgram demo: an MTProto server and two clients in this process")
            say(
                "server",
                f"{server.host}:{server.port}, RSA key {server.fingerprint & (2**64 - 1):016x}",
            )

            def connect() -> Client:
                return Client(host=server.host, port=server.port, public_key=server.public_key_pem)

            bot = connect()
            user = connect()
            try:
                return await _story(server, bot, user, token, say)
            finally:
                await user.disconnect()
                await bot.disconnect()


async def _story(
    server: LoopgramServer, bot: Client, user: Client, token: str, say: Callable[..., None]
) -> int:
    await bot.start(bot_token=token)
    say("bot", f"@{BOT_NAME} logged in with its token (auth.importBotAuthorization)")
    await user.start(phone=PHONE, code=LOGIN_CODE)
    say("user", f"{PHONE} logged in with the test code {LOGIN_CODE} (auth.signIn)")
    say("")

    deep_link = f"https://t.me/{BOT_NAME}?start=demo"
    keyboard = [[Button.callback("Great", b"great"), Button.callback("Not sure", b"unsure")]]
    queries: list[CallbackQuery] = []

    @bot.on_message()
    async def on_start(message: Message) -> None:
        if not message.out and message.text == "/start":
            await message.reply("What do you think of loopgram?", buttons=keyboard)

    @bot.on_callback_query()
    async def on_press(query: CallbackQuery) -> None:
        queries.append(query)
        say(
            "bot", f"got callback query {query.query_id}: data={query.data!r}, user {query.user_id}"
        )
        await query.answer(
            "Thanks for trying loopgram!", alert=True, url=deep_link, cache_time=CACHE_TIME
        )
        say(
            "bot", f"answered: alert, its deep link, cache_time={CACHE_TIME} (setBotCallbackAnswer)"
        )

    inbox: asyncio.Queue[Message] = asyncio.Queue()

    @user.on_message()
    async def on_message(message: Message) -> None:
        if not message.out:
            await inbox.put(message)

    await user.send_message(BOT_NAME, "/start")
    say("user", "/start")
    message = await asyncio.wait_for(inbox.get(), TIMEOUT)
    say("bot", f"{message.text}   {_keyboard_text(message)}")

    say("user", 'presses "Great" (messages.getBotCallbackAnswer)')
    started = time.perf_counter()
    answer = await message.press(0, 0)
    elapsed = (time.perf_counter() - started) * 1000
    say("user", f"sees, {elapsed:.1f} ms after pressing:")
    say("", f"         +-- {'alert' if answer.alert else 'toast'} {'-' * 36}")
    say("", f"         |  {answer.message}")
    say("", f"         |  url: {answer.url}")
    say("", f"         |  cache_time: {answer.cache_time} s")
    say("", f"         +{'-' * 44}")
    again = await message.press(0, 0)
    outcome = "answered from its own cache, the bot was not asked"
    say("user", f'presses "Great" again: {outcome if again.cached else "asked the bot again"}')
    ok = (
        answer.alert
        and answer.message == "Thanks for trying loopgram!"
        and answer.url == deep_link
        and answer.cache_time == CACHE_TIME
        and again.cached
        and len(queries) == 1
    )

    say("")
    say("", "The seed example, sent by the bot:")
    say("", "  await bot.invoke(functions.messages.SetBotCallbackAnswer(")
    say("", "      query_id=5130910, alert=True, message='random string here',")
    say("", "      url='random string here', cache_time=3996368))")
    try:
        await bot.invoke(
            functions.messages.SetBotCallbackAnswer(
                query_id=5130910,
                alert=True,
                message="random string here",
                url="random string here",
                cache_time=3996368,
            )
        )
    except QueryIdInvalidError as error:
        say("", f"  -> {type(error).__name__}: {error.code} {error.message}")
        say(
            "",
            "     (no callback query has that id: it was never pressed, or is answered or expired)",
        )
    else:
        say("", "  -> unexpectedly accepted")
        ok = False
    say("")
    say("", "demo OK" if ok else "demo FAILED")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """``loopgram demo [--verbose]``."""
    parser = argparse.ArgumentParser(
        prog="loopgram demo", description="Run the callback-query story against an embedded server."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log the server and clients")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(name)s: %(message)s",
    )

    async def bounded() -> int:
        return await asyncio.wait_for(run(), TIMEOUT)

    try:
        return asyncio.run(bounded())
    except TimeoutError:
        print(f"demo FAILED: the story took more than {TIMEOUT:.0f} s", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
