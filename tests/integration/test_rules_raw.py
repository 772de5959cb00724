"""Rows of DESIGN.md's table "The callback-query rules" that were checked at the core level
only, now through unmodified Telethon over loopback TCP -- raw TL requests where Telethon has
no public API for the case (a press with both or neither of data and game; an answer the
server refuses, since ``event.answer`` sends at most once).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

import pytest
from telethon import Button, errors, events, functions, types  # type: ignore[import-untyped]

from loopgram.server import ServerConfig
from loopgram.testing.server import ServerThread

from .support import Pair, eventually, start_bot, start_user, within

GAME = "tetris"
GAME_URL = "https://games.example/tetris?session=42"
_usernames = itertools.count(1)


def queries(client: Any) -> asyncio.Queue[Any]:
    """The bot's ``events.CallbackQuery`` events, in a queue the test answers from."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def on_query(event: Any) -> None:
        queue.put_nowait(event)

    client.add_event_handler(on_query, events.CallbackQuery)
    return queue


def raw_answer(event: Any, **fields: Any) -> Any:
    return functions.messages.SetBotCallbackAnswerRequest(
        query_id=event.query.query_id, cache_time=fields.pop("cache_time", 0), **fields
    )


async def send_game(pair: Pair) -> Any:
    """The bot sends its game with a game button; the user's copy of the message."""
    user_entity = await pair.bot.get_input_entity(pair.user_id)
    await within(
        pair.bot(
            functions.messages.SendMediaRequest(
                peer=user_entity,
                media=types.InputMediaGame(
                    id=types.InputGameShortName(bot_id=types.InputUserSelf(), short_name=GAME)
                ),
                message="",
                random_id=random.getrandbits(63),
                reply_markup=pair.bot.build_reply_markup([[Button.game("Play")]]),
            )
        )
    )

    async def game_message() -> Any:
        found = await pair.user.get_messages(pair.bot_username, limit=1)
        return found[0] if found and found[0].game else None

    return await eventually(game_message)


# -- url: for a game button, the game's URL only -------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "games.example/tetris",  # no scheme
        "https:///tetris",  # no host
        "ftp://games.example/tetris",
        "tg://resolve?domain=examplebot&start=play",  # the bot's deep link: not a game URL
    ],
)
async def test_game_button_answered_with_a_url_that_is_not_a_game_url_is_url_invalid(
    pair: Pair, url: str
) -> None:
    """URL_INVALID; the query stays pending, and the game's URL is then accepted."""
    pending = queries(pair.bot)
    message = await send_game(pair)
    press = asyncio.ensure_future(message.click(0))
    event = await within(pending.get())
    assert event.query.game_short_name == GAME
    with pytest.raises(errors.UrlInvalidError):
        await pair.bot(raw_answer(event, url=url))
    assert not press.done()
    assert await pair.bot(raw_answer(event, url=GAME_URL)) is True
    answer = await within(press)
    assert (answer.url, answer.has_url) == (GAME_URL, True)


async def test_callback_button_answered_with_a_game_url_is_url_invalid(pair: Pair) -> None:
    """The converse: an http(s) URL that a game button accepts is refused for a callback
    button (only the bot's deep link is)."""
    pending = queries(pair.bot)
    message = await pair.keyboard([[Button.inline("A", b"a")]])
    press = asyncio.ensure_future(message.click(0))
    event = await within(pending.get())
    with pytest.raises(errors.UrlInvalidError):
        await pair.bot(raw_answer(event, url=GAME_URL))
    await event.answer("fine")
    assert (await within(press)).message == "fine"


# -- exactly one of data / game ------------------------------------------------------------------


@pytest.mark.parametrize("on", ["game message", "keyboard message"])
@pytest.mark.parametrize(("data", "game"), [(None, False), (b"a", True)], ids=["neither", "both"])
async def test_press_with_neither_or_both_of_data_and_game_is_data_invalid(
    pair: Pair, on: str, data: bytes | None, game: bool
) -> None:
    """DATA_INVALID, and nothing reaches the bot: its next query is the valid press after."""
    pending = queries(pair.bot)
    if on == "game message":
        message = await send_game(pair)
        valid: dict[str, Any] = {"game": True}
    else:
        message = await pair.keyboard([[Button.inline("A", b"a")]])
        valid = {"data": b"a"}
    peer = await pair.user.get_input_entity(pair.bot_username)
    request = functions.messages.GetBotCallbackAnswerRequest(
        peer=peer, msg_id=message.id, data=data, game=game
    )
    assert bool(request.game) == game and request.data == data
    with pytest.raises(errors.DataInvalidError):
        await within(pair.user(request))
    press = asyncio.ensure_future(
        pair.user(
            functions.messages.GetBotCallbackAnswerRequest(peer=peer, msg_id=message.id, **valid)
        )
    )
    event = await within(pending.get())
    assert (event.query.data, event.query.game_short_name) == (
        (None, GAME) if on == "game message" else (b"a", None)
    )
    await event.answer("valid")
    assert (await within(press)).message == "valid"
    assert pending.empty()


# -- message longer than the configured limit ------------------------------------------------------


@pytest.mark.loopgram(config=ServerConfig(callback_message_max=5))
async def test_answer_longer_than_a_configured_limit_is_message_too_long(pair: Pair) -> None:
    """``callback_message_max=5``: six characters (far under the default 200) are refused,
    five characters are accepted even when they are ten bytes of UTF-8."""
    pending = queries(pair.bot)
    message = await pair.keyboard([[Button.inline("A", b"a")]])
    press = asyncio.ensure_future(message.click(0))
    event = await within(pending.get())
    with pytest.raises(errors.MessageTooLongError):
        await pair.bot(raw_answer(event, message="123456"))
    assert not press.done()
    assert await pair.bot(raw_answer(event, message="ééééé")) is True
    assert (await within(press)).message == "ééééé"


# -- chat_instance: the same for every user of a chat ------------------------------------------


async def with_username(client: Any) -> str:
    username = f"member{next(_usernames)}"
    await within(client(functions.account.UpdateUsernameRequest(username=username)))
    return username


async def received(client: Any) -> asyncio.Queue[Any]:
    """The client's incoming new messages."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def on_message(event: Any) -> None:
        queue.put_nowait(event.message)

    client.add_event_handler(on_message, events.NewMessage(incoming=True))
    return queue


async def test_chat_instance_is_the_same_for_every_user_of_a_chat(
    loopgram_server: ServerThread,
) -> None:
    """loopgram has no group chats: the chat several users share with buttons is a private
    chat between two users holding a message sent through the bot's inline mode. Both
    users press its button: one chat_instance; the same message sent to a third user is
    another chat, another chat_instance."""
    server = loopgram_server
    bot, alice, bob, carol = await asyncio.gather(
        start_bot(server, server.create_bot("pollbot")),
        start_user(server),
        start_user(server),
        start_user(server),
    )
    try:
        bot_username = (await bot.get_me()).username
        ids = {name: (await c.get_me()).id for name, c in (("alice", alice), ("bob", bob))}
        ids["carol"] = (await carol.get_me()).id

        async def on_inline(event: Any) -> None:
            await event.answer(
                [event.builder.article("Poll", text="vote", buttons=[Button.inline("Yes", b"y")])]
            )

        bot.add_event_handler(on_inline, events.InlineQuery)
        pending = queries(bot)
        inbox = {"bob": await received(bob), "carol": await received(carol)}
        copies: dict[tuple[str, str], Any] = {}
        for friend, client in (("bob", bob), ("carol", carol)):
            entity = await alice.get_input_entity(await with_username(client))
            results = await within(alice.inline_query(bot_username, "poll"))
            copies[("alice", friend)] = await within(results[0].click(entity))
            copies[(friend, "alice")] = await within(inbox[friend].get())
            assert copies[(friend, "alice")].text == "vote"

        seen: dict[tuple[str, str], Any] = {}
        for (presser, other), message in copies.items():
            press = asyncio.ensure_future(message.click(data=b"y"))
            event = await within(pending.get())
            query = event.query
            assert isinstance(query, types.UpdateInlineBotCallbackQuery)
            assert query.user_id == ids[presser]
            seen[(presser, other)] = query.chat_instance
            await event.answer(f"{presser} voted")
            assert (await within(press)).message == f"{presser} voted"

        # Both users of a chat get the same value; another chat another.
        assert seen[("alice", "bob")] == seen[("bob", "alice")]
        assert seen[("alice", "carol")] == seen[("carol", "alice")]
        assert seen[("alice", "bob")] != seen[("alice", "carol")]
        assert all(isinstance(v, int) and -(2**63) <= v < 2**63 for v in seen.values())
    finally:
        await asyncio.gather(*(c.disconnect() for c in (bot, alice, bob, carol)))
