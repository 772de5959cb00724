"""End to end: channels with the JavaScript libraries (GramJS at layer 198, mtcute at
layer 227) -- the library's user joins a public broadcast channel and presses the
keyboard a Telethon bot posted there as its admin; and the library's user, a member of a
public supergroup, goes offline, misses messages and catches up on reconnecting:
``getDifference`` names the supergroup (``updateChannelTooLong``) and
``getChannelDifference`` from the pts the client had brings the messages."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from telethon import functions, types  # type: ignore[import-untyped]

from loopgram.testing.server import ServerThread

from .support import (
    KEYBOARD,
    LOGIN_CODE,
    Pair,
    Peer,
    answer_for,
    served_layers,
    start_keyboard_bot,
    within,
)
from .test_js_peers import Library, expected_answer, js_library, new_phone  # noqa: F401

_SCRIPTS = {"GramJS": "channel_reads_gramjs.js", "mtcute": "channel_reads_mtcute.mjs"}


async def _launch(
    library: Library, prefix: Path, server: ServerThread, tmp_path: Path, **orders: Any
) -> tuple[Peer, dict[str, Any], list[Peer]]:
    script = Path(__file__).with_name(_SCRIPTS[library.name])
    for name in (script.name, library.script, "peer_common.cjs"):
        shutil.copy(script.with_name(name), prefix / name)
    peers: list[Peer] = []
    user, me = await Peer.launch(
        library.name,
        ["node", str(prefix / script.name)],
        {
            "host": server.host,
            "port": server.port,
            "pem": server.public_key_pem,
            "fingerprint": str(server.fingerprint),
            "phone": new_phone(),
            "code": LOGIN_CODE,
            **orders,
        },
        tmp_path / f"{library.name}-{orders['role']}.stderr",
        dict(os.environ),
        peers,
    )
    return user, me, peers


async def _public(pair: Pair, username: str, *, megagroup: bool, members: list[Any]) -> Any:
    created = await within(
        pair.user(
            functions.channels.CreateChannelRequest(
                title=username, about="", megagroup=megagroup, broadcast=not megagroup
            )
        )
    )
    (channel,) = created.chats
    await within(pair.user(functions.channels.UpdateUsernameRequest(channel, username)))
    if members:
        users = [await pair.user.get_input_entity(m) for m in members]
        await within(
            pair.user(functions.channels.InviteToChannelRequest(channel=channel, users=users))
        )
    return channel


async def test_js_subscriber_presses_the_post_a_telethon_bot_made_as_channel_admin(
    js_library: tuple[Library, Path],  # noqa: F811  (the fixture imported above)
    pair: Pair,
    loopgram_server: ServerThread,
    tmp_path: Path,
) -> None:
    library, prefix = js_library
    answer = answer_for("postjsbot")
    bot = await start_keyboard_bot(loopgram_server, "postjsbot", KEYBOARD, answer)
    peers: list[Peer] = []
    try:
        username = f"news{library.name.lower()}"
        channel = await _public(pair, username, megagroup=False, members=["postjsbot"])
        await within(
            pair.user(
                functions.channels.EditAdminRequest(
                    channel=channel,
                    user_id=await pair.user.get_input_entity("postjsbot"),
                    admin_rights=types.ChatAdminRights(post_messages=True),
                    rank="",
                )
            )
        )
        # The owner's /start reaches the admin bot, which posts its keyboard in the channel.
        await within(pair.user.send_message(channel, "/start"))
        user, user_me, peers = await _launch(
            library, prefix, loopgram_server, tmp_path, role="subscriber", channel=username
        )
        keyboard = await user.expect("keyboard")
        got = await user.expect("answer")
    finally:
        for peer in peers:
            await peer.close()
        await bot.client.disconnect()

    assert keyboard["rows"] == KEYBOARD
    assert got == expected_answer(answer)
    assert bot.presses == [(b"buy", user_me["id"])]
    assert served_layers(loopgram_server, user_me["id"]) == {library.layer}


async def test_js_member_catches_up_on_a_supergroup_through_get_channel_difference(
    js_library: tuple[Library, Path],  # noqa: F811
    pair: Pair,
    loopgram_server: ServerThread,
    tmp_path: Path,
) -> None:
    library, prefix = js_library
    username = f"club{library.name.lower()}"
    channel = await _public(pair, username, megagroup=True, members=[])
    await within(pair.user.send_message(channel, "before"))
    go = tmp_path / "go"
    methods: list[str] = []
    peers: list[Peer] = []
    try:
        user, user_me, peers = await _launch(
            library,
            prefix,
            loopgram_server,
            tmp_path,
            role="reader",
            channel=username,
            go=str(go),
        )
        await user.expect("offline")
        feed = loopgram_server.server.core.feed
        stop = loopgram_server.call(feed.listen, lambda e: methods.append(getattr(e, "method", "")))
        for text in ("missed one", "missed two"):
            await within(pair.user.send_message(channel, text))
        go.touch()
        caught = await user.expect("caught")
        loopgram_server.call(stop)
    finally:
        for peer in peers:
            await peer.close()

    assert caught["texts"] == ["missed one", "missed two"]
    assert caught["too_long"] == [channel.id]
    assert "updates.getDifference" in methods
    assert "updates.getChannelDifference" in methods
    assert served_layers(loopgram_server, user_me["id"]) == {library.layer}


async def test_js_member_deletes_its_supergroup_message_for_everyone(
    js_library: tuple[Library, Path],  # noqa: F811
    pair: Pair,
    loopgram_server: ServerThread,
    tmp_path: Path,
) -> None:
    library, prefix = js_library
    username = f"tidy{library.name.lower()}"
    channel = await _public(pair, username, megagroup=True, members=[])
    peers: list[Peer] = []
    try:
        user, _, peers = await _launch(
            library, prefix, loopgram_server, tmp_path, role="deleter", channel=username
        )
        deleted = await user.expect("deleted")
    finally:
        for peer in peers:
            await peer.close()

    def held() -> list[int]:
        return [
            m.id
            for m in loopgram_server.server.storage.channels.messages(channel.id, [deleted["id"]])
        ]

    assert loopgram_server.call(held) == []
    # The owner no longer sees it either: deleted for everyone.
    (seen,) = await within(pair.user.get_messages(channel, ids=[deleted["id"]]))
    assert seen is None
