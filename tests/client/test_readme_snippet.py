"""The README's example of loopgram's own client under test, exactly as printed there
(between the markers): the ``loopgram_server`` fixture, a bot whose handlers send a keyboard
and answer a press, a user who presses and sees the answer."""

# --- README snippet: begin ---
import pytest

from loopgram.client import Button, CallbackQuery, Message
from loopgram.testing.loopgram import Inbox, bot_client, user_client


@pytest.mark.asyncio  # or asyncio_mode = "auto" in pytest-asyncio's configuration
async def test_pressing_yes_shows_the_bots_alert(loopgram_server):
    token = loopgram_server.create_bot("examplebot")
    async with bot_client(loopgram_server, token) as bot:

        @bot.on_message()
        async def menu(message: Message) -> None:
            if message.text == "/start":
                await message.reply("Do you like it?", buttons=[[Button.callback("Yes", b"yes")]])

        @bot.on_callback_query(b"yes")
        async def yes(query: CallbackQuery) -> None:
            await query.answer("Glad to hear it!", alert=True)

        async with user_client(loopgram_server, "+15550001") as user:
            inbox = Inbox(user)
            await user.send_message("examplebot", "/start")
            keyboard = await inbox.next()
            assert keyboard.text == "Do you like it?"
            answer = await keyboard.press(text="Yes")
            assert answer.message == "Glad to hear it!" and answer.alert


# --- README snippet: end ---
