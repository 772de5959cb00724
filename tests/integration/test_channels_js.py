"""End to end: supergroups with the JavaScript libraries (GramJS at layer 198, mtcute at
layer 227) -- the library's user creates a supergroup, invites a Telethon bot, says
``/start`` there and presses the keyboard the bot answers with; the bot sees the press with
the supergroup as its chat."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from telethon.utils import resolve_id  # type: ignore[import-untyped]

from loopgram.testing.server import ServerThread

from .support import (
    KEYBOARD,
    LOGIN_CODE,
    Peer,
    answer_for,
    served_layers,
    start_keyboard_bot,
)
from .test_js_peers import Library, expected_answer, js_library, new_phone  # noqa: F401

_SCRIPTS = {"GramJS": "channels_gramjs.js", "mtcute": "channels_mtcute.mjs"}


async def test_js_user_presses_a_telethon_bots_button_in_a_supergroup(
    js_library: tuple[Library, Path],  # noqa: F811  (the fixture imported above)
    loopgram_server: ServerThread,
    tmp_path: Path,
) -> None:
    library, prefix = js_library
    script = Path(__file__).with_name(_SCRIPTS[library.name])
    for name in (script.name, library.script, "peer_common.cjs"):
        shutil.copy(script.with_name(name), prefix / name)
    answer = answer_for("superjsbot")
    bot = await start_keyboard_bot(loopgram_server, "superjsbot", KEYBOARD, answer)
    peers: list[Peer] = []
    try:
        user, user_me = await Peer.launch(
            library.name,
            ["node", str(prefix / script.name)],
            {
                "role": "user",
                "host": loopgram_server.host,
                "port": loopgram_server.port,
                "pem": loopgram_server.public_key_pem,
                "fingerprint": str(loopgram_server.fingerprint),
                "phone": new_phone(),
                "code": LOGIN_CODE,
                "bot": "superjsbot",
                "press": "info",
            },
            tmp_path / f"{library.name}-channels.stderr",
            dict(os.environ),
            peers,
        )
        created: dict[str, Any] = await user.expect("created")
        keyboard = await user.expect("keyboard")
        got = await user.expect("answer")
    finally:
        for peer in peers:
            await peer.close()
        await bot.client.disconnect()

    assert keyboard["rows"] == KEYBOARD
    assert got == expected_answer(answer)
    assert bot.presses == [(b"info", user_me["id"])]
    assert served_layers(loopgram_server, user_me["id"]) == {library.layer}

    # mtcute names chats by their marked id (-100...), GramJS by the bare channel id.
    channel_id, _ = resolve_id(created["id"]) if created["id"] < 0 else (created["id"], None)

    def supergroup() -> tuple[bool, set[int]]:
        storage = loopgram_server.server.storage
        record = storage.channels.get(channel_id)
        assert record is not None
        return record.megagroup, {m.user_id for m in storage.channels.members(record.id)}

    # The press happened in the supergroup the library made, with the bot as a member.
    assert loopgram_server.call(supergroup) == (True, {user_me["id"], bot.id})
