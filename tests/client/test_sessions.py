"""Sessions: in memory, exported as a string and resumed, in an SQLite file."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from loopgram.client import CallbackQuery, MemorySession, SessionData, SQLiteSession, StringSession
from loopgram.client.sessions import PeerEntry, UpdateState, decode_string, encode_string

from .support import World, eventually

KEY = bytes(range(256))


def test_string_round_trip() -> None:
    data = SessionData(host="127.0.0.1", port=20443, dc_id=2, auth_key=KEY, user_id=42, bot=True)
    text = encode_string(data)
    assert text[0] == "1" and "=" not in text
    back = decode_string(text)
    assert (back.host, back.port, back.dc_id, back.auth_key, back.user_id, back.bot) == (
        "127.0.0.1",
        20443,
        2,
        KEY,
        42,
        True,
    )
    anonymous = decode_string(encode_string(SessionData(host="::1", port=1, auth_key=KEY)))
    assert anonymous.user_id is None and not anonymous.bot and anonymous.host == "::1"


@pytest.mark.parametrize(
    "text",
    [
        "2AAAA",  # unknown version
        "1!!!!",  # not base64url
        "1" + base64.urlsafe_b64encode(b"short").decode(),
        encode_string(SessionData(host="h", port=1, auth_key=KEY))[:-4],  # truncated
    ],
)
def test_bad_strings_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        StringSession(text)


def test_export_needs_a_key() -> None:
    with pytest.raises(ValueError):
        StringSession().export()


def test_sqlite_session_persists_everything(tmp_path: Path) -> None:
    path = tmp_path / "client.session"
    session = SQLiteSession(path)
    assert session.load() is None
    session.save(SessionData(host="h", port=5, auth_key=KEY, user_id=7, salt=-3, time_offset=1.5))
    session.set_update_state(UpdateState(pts=10, qts=0, date=99, seq=2))
    session.put_peers([PeerEntry(8, 1234, "SomeBot", True), PeerEntry(9, -1, None)])
    session.close()
    again = SQLiteSession(path)
    loaded = again.load()
    assert loaded == SessionData(
        host="h", port=5, auth_key=KEY, user_id=7, salt=-3, time_offset=1.5
    )
    assert again.update_state() == UpdateState(10, 0, 99, 2)
    assert again.get_peer(8) == PeerEntry(8, 1234, "SomeBot", True)
    assert again.peer_by_username("@somebot") == PeerEntry(8, 1234, "SomeBot", True)
    again.clear()
    assert again.load() is None and again.get_peer(8) is None
    again.close()


def test_memory_session_renames_peers() -> None:
    session = MemorySession()
    session.put_peers([PeerEntry(1, 1, "old_name")])
    session.put_peers([PeerEntry(1, 1, "new_name")])
    assert session.peer_by_username("old_name") is None
    assert session.peer_by_username("NEW_NAME") == PeerEntry(1, 1, "new_name")


async def test_session_string_resumes_a_bot_without_logging_in(world: World) -> None:
    bot, _user, message = await world.scene()
    text = bot.client.export_session()
    key = bot.client.sender.auth_key
    await bot.client.disconnect()

    resumed = world.client(text)
    seen: list[bytes | None] = []

    @resumed.on_callback_query()
    async def answer(query: CallbackQuery) -> None:
        seen.append(query.data)
        await query.answer("resumed")

    await resumed.connect()
    assert resumed.authorized and resumed.is_bot and resumed.me_id == bot.id
    assert resumed.sender.auth_key == key
    me = await resumed.get_me()
    assert me.id == bot.id
    assert (await message.press(0, 0)).message == "resumed"
    assert seen == [b"a"]
    assert resumed.export_session() == text


async def test_session_string_resumes_a_user(world: World) -> None:
    bot, user, _message = await world.scene()
    text = user.client.export_session()
    await user.client.disconnect()
    resumed = world.client(StringSession(text))
    await resumed.connect()
    assert resumed.authorized and not resumed.is_bot
    assert (await resumed.get_me()).id == user.id
    # Peers are not in the string: resolve the bot again, then use it.
    await resumed.send_message(bot.username, "back again")


async def test_sqlite_session_resumes_with_peers_and_update_state(
    world: World, tmp_path: Path
) -> None:
    bot = await world.bot()
    path = tmp_path / "user.session"
    client = world.client(SQLiteSession(path))
    await client.start(phone="+15551230000", code="12345")
    await client.send_message(bot.username, "/start")
    await eventually(lambda: bot.client.session.get_peer(client.me_id) is not None)
    before = client.updates.state
    assert before is not None
    await bot.client.send_message(client.me_id, "hello")
    await eventually(
        lambda: client.updates.state is not None and client.updates.state.pts > before.pts
    )
    state = client.updates.state
    await client.disconnect()
    client.session.close()

    again = world.client(SQLiteSession(path))
    await again.connect()
    assert again.authorized and again.me_id == client.me_id
    assert again.session.get_peer(bot.id) is not None  # no resolve needed
    assert again.updates.state is not None and state is not None
    assert again.updates.state.pts == state.pts
    await again.send_message(bot.id, "by id, from the stored access hash")
    await again.disconnect()
    again.session.close()


async def test_a_key_the_server_does_not_know_is_replaced(world: World) -> None:
    forged = encode_string(
        SessionData(host="127.0.0.1", port=world.server.port, auth_key=KEY, user_id=5)
    )
    client = world.client(forged)
    await client.connect()  # -404: a new key exchange, and the login is gone
    assert not client.authorized
    assert client.sender.auth_key is not None and client.sender.auth_key.key != KEY
    await client.start(phone="+15551239999", code="12345")
    assert client.authorized


async def test_a_session_of_another_server_starts_over(world: World) -> None:
    other = encode_string(SessionData(host="10.1.2.3", port=1, auth_key=KEY, user_id=5))
    client = world.client(other)
    await client.connect()
    assert not client.authorized
    assert client.sender.auth_key is not None and client.sender.auth_key.key != KEY
