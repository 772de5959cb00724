"""End to end: the everyday methods around chats through Telethon's public API over TCP --
dialogs with unread counts, bot commands set at start-up (and read back through the Bot API:
one store behind both doors), forwarding, typing, contacts -- and a method loopgram lacks
reaching Telethon as an error that names loopgram, not the client."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telethon import errors, events, functions, types  # type: ignore[import-untyped]

from loopgram.clock import FakeClock
from loopgram.crypto import RsaPrivateKey
from loopgram.node import LoopgramServer
from loopgram.testing.server import ServerThread

from .support import LOGIN_CODE, Pair, Peer, eventually, start_bot, start_user, within
from .test_js_peers import LIBRARIES, Library, js_library  # noqa: F401  (the fixture)


async def test_get_dialogs_shows_unread_counts_and_marks_read(pair: Pair) -> None:
    await within(pair.bot.send_message(pair.user_id, "one"))
    await within(pair.bot.send_message(pair.user_id, "two"))

    async def bot_dialog() -> Any:
        dialogs = await pair.user.get_dialogs()
        found = [d for d in dialogs if d.entity.id == pair.bot_id]
        return found[0] if found and found[0].message.text == "two" else None

    dialog = await eventually(bot_dialog)
    assert dialog.unread_count == 2
    assert dialog.message.text == "two"

    await within(pair.user.send_read_acknowledge(pair.bot_username))
    (dialog,) = [d for d in await pair.user.get_dialogs() if d.entity.id == pair.bot_id]
    assert dialog.unread_count == 0
    # The bot's side shows its messages as read by the user.
    (bot_side,) = [d for d in await pair.bot.get_dialogs() if d.entity.id == pair.user_id]
    assert bot_side.dialog.read_outbox_max_id == bot_side.message.id


async def test_a_telethon_bot_sets_its_commands_at_start_up(pair: Pair) -> None:
    commands = [
        types.BotCommand(command="start", description="Show the keyboard"),
        types.BotCommand(command="help", description="How to use me"),
    ]
    assert await pair.bot(
        functions.bots.SetBotCommandsRequest(
            scope=types.BotCommandScopeDefault(), lang_code="", commands=commands
        )
    )
    got = await pair.bot(
        functions.bots.GetBotCommandsRequest(scope=types.BotCommandScopeDefault(), lang_code="")
    )
    assert [(c.command, c.description) for c in got] == [
        ("start", "Show the keyboard"),
        ("help", "How to use me"),
    ]
    full = await pair.user(functions.users.GetFullUserRequest(pair.bot_username))
    assert [c.command for c in full.full_user.bot_info.commands] == ["start", "help"]


async def test_forward_messages_copies_into_another_chat(
    pair: Pair, loopgram_server: ServerThread
) -> None:
    friend = await start_user(loopgram_server)
    try:
        friend_me = await friend.get_me()
        user_me = await pair.user.get_me()
        await _import(pair.user, friend_me.phone)
        sent = await within(pair.bot.send_message(pair.user_id, "forward me"))
        original = await pair.users_copy(sent.text)
        forwarded = await within(pair.user.forward_messages(friend_me.id, original))
        assert forwarded.text == "forward me"
        assert forwarded.fwd_from is not None
        assert forwarded.fwd_from.from_id == types.PeerUser(pair.bot_id)

        async def arrived() -> Any:
            # The friend learns the user from its dialog list, as a fresh client would.
            dialogs = await friend.get_dialogs()
            found = [d.message for d in dialogs if d.entity.id == user_me.id]
            return found[0] if found and found[0].text == "forward me" else None

        copy = await eventually(arrived)
        assert copy.fwd_from is not None and copy.fwd_from.from_id == types.PeerUser(pair.bot_id)
    finally:
        await friend.disconnect()


async def _import(client: Any, phone: str) -> Any:
    imported = await client(
        functions.contacts.ImportContactsRequest(
            contacts=[
                types.InputPhoneContact(
                    client_id=1, phone=f"+{phone}", first_name="Pal", last_name=""
                )
            ]
        )
    )
    (user,) = imported.users
    return user


async def test_contact_import_and_search_through_telethon(
    pair: Pair, loopgram_server: ServerThread
) -> None:
    friend = await start_user(loopgram_server)
    try:
        friend_me = await friend.get_me()
        imported = await pair.user(
            functions.contacts.ImportContactsRequest(
                contacts=[
                    types.InputPhoneContact(
                        client_id=42, phone=f"+{friend_me.phone}", first_name="Fred", last_name="F"
                    )
                ]
            )
        )
        assert [(i.user_id, i.client_id) for i in imported.imported] == [(friend_me.id, 42)]
        contacts = await pair.user(functions.contacts.GetContactsRequest(hash=0))
        assert [c.user_id for c in contacts.contacts] == [friend_me.id]
        found = await pair.user(functions.contacts.SearchRequest(q=pair.bot_username, limit=5))
        assert [p.user_id for p in found.results] == [pair.bot_id]
        # With the access hash from the import, the user can write to the contact.
        await within(pair.user.send_message(friend_me.id, "hello Fred"))
        await pair.user(functions.contacts.DeleteContactsRequest(id=[friend_me.id]))
        contacts = await pair.user(functions.contacts.GetContactsRequest(hash=0))
        assert contacts.contacts == []
    finally:
        await friend.disconnect()


async def test_typing_reaches_the_other_side(pair: Pair) -> None:
    seen: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def on_typing(event: Any) -> None:
        if not seen.done():
            seen.set_result(event)

    pair.user.add_event_handler(on_typing, events.UserUpdate())
    async with pair.bot.action(pair.user_id, "typing"):
        event = await within(seen)
    assert event.user_id == pair.bot_id and event.typing


async def test_a_method_loopgram_lacks_names_loopgram_not_the_client(pair: Pair) -> None:
    with pytest.raises(errors.RPCError) as raised:
        await pair.user(functions.account.GetWallPapersRequest(hash=0))
    assert raised.value.code == 400
    assert "METHOD_NOT_IMPLEMENTED" in str(raised.value)
    assert "INPUT_METHOD_INVALID" not in str(raised.value)


# -- one store behind both doors -------------------------------------------------------------


@pytest.fixture
async def api_server(
    loopgram_rsa_key: RsaPrivateKey,
) -> Any:
    import time

    async with LoopgramServer(
        port=0, bot_api_port=0, clock=FakeClock(time.time()), rsa_key=loopgram_rsa_key
    ) as running:
        yield running


async def test_commands_set_over_mtproto_are_the_bot_apis_and_back(api_server: Any) -> None:
    token = api_server.create_bot("bothdoorsbot")
    bot = await start_bot(api_server, token)
    try:
        await bot(
            functions.bots.SetBotCommandsRequest(
                scope=types.BotCommandScopeUsers(),
                lang_code="de",
                commands=[types.BotCommand(command="los", description="Starten")],
            )
        )
        base = f"{api_server.bot_api_url}/bot{token}"
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{base}/getMyCommands",
                json={"scope": {"type": "all_private_chats"}, "language_code": "de"},
            ) as response:
                body = await response.json()
            assert body["result"] == [{"command": "los", "description": "Starten"}]
            async with http.post(
                f"{base}/setMyCommands",
                json={"commands": [{"command": "/start", "description": "Go"}]},
            ) as response:
                assert (await response.json())["ok"] is True
        got = await bot(
            functions.bots.GetBotCommandsRequest(scope=types.BotCommandScopeDefault(), lang_code="")
        )
        assert [(c.command, c.description) for c in got] == [("start", "Go")]
    finally:
        await bot.disconnect()


# -- kurigram (Pyrogram) ----------------------------------------------------------------------


async def test_kurigram_bot_sets_commands_and_user_lists_dialogs(
    loopgram_server: ServerThread,
) -> None:
    pytest.importorskip("pyrogram")
    from pyrogram.types import BotCommand

    from loopgram.testing.pyrogram import pyrogram_client

    token = loopgram_server.create_bot("kurictlbot")
    bot = pyrogram_client(loopgram_server, "bot", bot_token=token)
    user = pyrogram_client(loopgram_server, "user", phone_number="+15550198", phone_code="12345")
    await within(bot.start(), 30)
    await within(user.start(), 30)
    try:
        assert await bot.set_bot_commands(
            [BotCommand("start", "Begin"), BotCommand("menu", "Menu")]
        )
        listed = await bot.get_bot_commands()
        assert [(c.command, c.description) for c in listed] == [
            ("start", "Begin"),
            ("menu", "Menu"),
        ]

        await user.send_message("kurictlbot", "/start")
        me = await user.get_me()
        await bot.send_message(me.id, "first")
        await bot.send_message(me.id, "second")

        async def bot_dialog() -> Any:
            async for dialog in user.get_dialogs():
                if (
                    dialog.chat.id == int(token.split(":")[0])
                    and dialog.top_message.text == "second"
                ):
                    return dialog
            return None

        dialog = await eventually(bot_dialog, timeout=10)
        assert dialog.unread_messages_count == 2
    finally:
        await asyncio.gather(bot.stop(), user.stop())


async def test_a_bot_api_chat_action_reaches_a_telethon_user_as_typing(api_server: Any) -> None:
    token = api_server.create_bot("typingapibot")
    user = await start_user(api_server)
    try:
        me = await user.get_me()
        seen: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def on_typing(event: Any) -> None:
            if not seen.done():
                seen.set_result(event)

        user.add_event_handler(on_typing, events.UserUpdate())
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{api_server.bot_api_url}/bot{token}/sendChatAction",
                json={"chat_id": me.id, "action": "upload_photo"},
            ) as response:
                assert (await response.json())["result"] is True
        event = await within(seen)
        assert event.user_id == int(token.split(":")[0])
        assert event.photo and not event.typing
    finally:
        await user.disconnect()


# -- GramJS (layer 198) and mtcute (layer 227) --------------------------------------------------

_EVERYDAY_SCRIPTS = {"GramJS": "everyday_gramjs.js", "mtcute": "everyday_mtcute.mjs"}


async def test_js_library_sets_commands_lists_dialogs_imports_and_forwards(
    js_library: tuple[Library, Path],  # noqa: F811  (the fixture imported above)
    loopgram_server: ServerThread,
    tmp_path: Path,
) -> None:
    library, prefix = js_library
    script = Path(__file__).with_name(_EVERYDAY_SCRIPTS[library.name])
    for name in (script.name, library.script):
        shutil.copy(script.with_name(name), prefix / name)
    where = {
        "host": loopgram_server.host,
        "port": loopgram_server.port,
        "pem": loopgram_server.public_key_pem,
        "fingerprint": str(loopgram_server.fingerprint),
    }
    friend = await start_user(loopgram_server)
    peers: list[Peer] = []
    try:
        friend_me = await friend.get_me()
        token = loopgram_server.create_bot("everydayjsbot")

        async def launch(role: str, **orders: Any) -> tuple[Peer, dict[str, Any]]:
            return await Peer.launch(
                library.name,
                ["node", str(prefix / script.name)],
                {"role": role, **where, **orders},
                tmp_path / f"{library.name}-{role}.stderr",
                dict(os.environ),
                peers,
            )

        bot, bot_me = await launch("bot", token=token)
        assert (await bot.expect("commands"))["commands"] == [
            ["start", "Start"],
            ["help", "Help"],
        ]
        user, _ = await launch(
            "user",
            phone=f"+1555{library.layer}01",
            code=LOGIN_CODE,
            bot="everydayjsbot",
            friend_phone=f"+{friend_me.phone}",
        )
        dialogs = (await user.expect("dialogs"))["dialogs"]
        assert {"id": bot_me["id"], "unread": 2, "top": "two"} in dialogs
        assert (await user.expect("imported"))["ids"] == [friend_me.id]
        forwarded = await user.expect("forwarded")
        assert forwarded == {
            "event": "forwarded",
            "text": "two",
            "fwd_from_id": bot_me["id"],
        }
        assert (await user.expect("bot_commands"))["commands"] == [
            ["start", "Start"],
            ["help", "Help"],
        ]

        async def arrived() -> Any:
            found = [d.message for d in await friend.get_dialogs() if d.message.text == "two"]
            return found[0] if found else None

        copy = await eventually(arrived)
        assert copy.fwd_from.from_id == types.PeerUser(bot_me["id"])
    finally:
        await asyncio.gather(*(peer.close() for peer in peers))
        await friend.disconnect()
