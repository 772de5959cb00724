"""The everyday methods around chats with a Pyrogram-family client (kurigram): deleting a
supergroup message for everyone, forwarding between supergroups, importing a contact --
the rows of the issue's per-library list kurigram had no test for."""

from __future__ import annotations

from typing import Any

import pytest

pyrogram = pytest.importorskip("pyrogram")

from loopgram.testing.pyrogram import pyrogram_client  # noqa: E402
from loopgram.testing.server import ServerThread  # noqa: E402

from .support import within  # noqa: E402


async def _started(server: ServerThread, name: str, phone: str) -> Any:
    user = pyrogram_client(server, name, phone_number=phone, phone_code="12345")
    await within(user.start(), 30)
    return user


async def _texts(client: Any, chat_id: int) -> list[str]:
    return [m.text async for m in client.get_chat_history(chat_id, limit=10) if m.text]


async def test_kurigram_user_deletes_a_supergroup_message_for_everyone(
    loopgram_server: ServerThread,
) -> None:
    user = await _started(loopgram_server, "deluser", "+15550301")
    try:
        group = await within(user.create_supergroup("Pyro deletes"))
        kept = await within(user.send_message(group.id, "kept"))
        gone = await within(user.send_message(group.id, "oops"))
        assert await within(user.delete_messages(group.id, gone.id, revoke=True)) == 1
        assert await _texts(user, group.id) == ["kept"]

        def stored() -> list[int]:
            channel_id = -group.id - 1_000_000_000_000
            held = loopgram_server.server.storage.channels.messages(channel_id, [kept.id, gone.id])
            return [m.id for m in held]

        assert loopgram_server.call(stored) == [kept.id]
    finally:
        await user.stop()


async def test_kurigram_user_forwards_a_message_between_supergroups(
    loopgram_server: ServerThread,
) -> None:
    user = await _started(loopgram_server, "fwduser", "+15550302")
    try:
        source = await within(user.create_supergroup("Pyro source"))
        target = await within(user.create_supergroup("Pyro target"))
        original = await within(user.send_message(source.id, "worth sharing"))
        (copy,) = await within(user.forward_messages(target.id, source.id, [original.id]))
        assert copy.text == "worth sharing" and copy.chat.id == target.id
        assert copy.forward_date is not None
        assert copy.forward_from is not None and copy.forward_from.id == user.me.id
    finally:
        await user.stop()


async def test_kurigram_user_imports_a_contact_and_lists_it(
    loopgram_server: ServerThread,
) -> None:
    from pyrogram.types import InputPhoneContact

    friend = loopgram_server.create_user("15550303", "Friend")
    user = await _started(loopgram_server, "contactuser", "+15550304")
    try:
        imported = await within(user.import_contacts([InputPhoneContact("+15550303", "Pal")]))
        assert [u.id for u in imported.users] == [friend.id]
        contacts = await within(user.get_contacts())
        assert [c.id for c in contacts] == [friend.id]
    finally:
        await user.stop()
