"""Bad input, each on its own raw socket, while a Telethon bot and user keep working on theirs:
every case gets a protocol-level answer (a transport error) or a close, and nothing leaks
into the other connections."""

from __future__ import annotations

import asyncio
import os
import random
import struct
from typing import Any

import pytest
from telethon import Button, events  # type: ignore[import-untyped]
from telethon.errors import EntitiesTooLongError  # type: ignore[import-untyped]
from telethon.tl import functions as tl_functions  # type: ignore[import-untyped]
from telethon.tl import types as tl_types  # type: ignore[import-untyped]

from loopgram.client import Client
from loopgram.net import Limits
from loopgram.testing.server import ServerThread
from loopgram.tl import functions as lg_functions

from .support import LOGIN_CODE, Pair, eventually, within

INTERMEDIATE = b"\xee\xee\xee\xee"
NOT_FOUND = struct.pack("<ii", 4, -404)  # an intermediate frame holding transport error -404

# A short opening timeout, so that sockets that never send a whole packet are closed within
# the test (the idle timeout stays long: Telethon's clients may be quiet for seconds).
LIMITS = Limits(opening_timeout=1.0)

pytestmark = pytest.mark.loopgram(limits=LIMITS)


def intermediate_frame(payload: bytes) -> bytes:
    return struct.pack("<I", len(payload)) + payload


CASES = {
    # Neither a known transport tag nor a valid obfuscated2 header.
    "garbage": b"\x01\x02\x03\x04\xff\xfe\xfd\xfc" + bytes(range(56)) + b"more garbage",
    "http": b"GET / HTTP/1.1\r\nHost: loopgram\r\n\r\n",
    # Announces 100 bytes, sends 10, then goes silent: closed by the opening timeout.
    "truncated frame": INTERMEDIATE + struct.pack("<I", 100) + b"x" * 10,
    # A well-formed encrypted packet for an auth key the server never made: -404.
    "wrong auth key": INTERMEDIATE + intermediate_frame(os.urandom(8) + os.urandom(16 + 32)),
    # 2 GiB announced: refused at once, before any body is buffered.
    "huge length": INTERMEDIATE + struct.pack("<I", 0x7FFFFFF0),
    "huge abridged length": b"\xef\x7f" + (0xFFFFFF).to_bytes(3, "little"),
    # Connects and says nothing: closed by the opening timeout.
    "silent": b"",
}
REPLIES = {
    "wrong auth key": NOT_FOUND,
    "huge length": NOT_FOUND,
    "huge abridged length": b"\x01" + struct.pack("<i", -404),  # abridged: one word follows
}


async def press_round(pair: Pair, text: str) -> None:
    """One whole callback round trip on the healthy connections."""
    message = await pair.keyboard([[Button.inline("Go", b"go")]], text=text)
    answer = await within(message.click(0))
    assert answer.message == f"answer to {text}"


async def read_until_closed(reader: asyncio.StreamReader, timeout: float) -> bytes:
    data = b""
    async with asyncio.timeout(timeout):
        while chunk := await reader.read(65536):
            data += chunk
    return data


@pytest.mark.parametrize("case", sorted(CASES))
async def test_bad_connection_is_closed_and_others_keep_working(
    loopgram_server: ServerThread, pair: Pair, case: str
) -> None:
    @pair.bot.on(events.CallbackQuery)
    async def on_query(event: object) -> None:
        message = await pair.bot.get_messages(pair.user_id, ids=event.query.msg_id)  # type: ignore[attr-defined]
        await event.answer(f"answer to {message.text}")  # type: ignore[attr-defined]

    await press_round(pair, "before")
    reader, writer = await asyncio.open_connection(loopgram_server.host, loopgram_server.port)
    try:
        if CASES[case]:
            writer.write(CASES[case])
            await writer.drain()
        # The healthy pair goes on meanwhile.
        closing = asyncio.ensure_future(read_until_closed(reader, 10.0))
        await press_round(pair, "during")
        reply = await closing
        assert reply == REPLIES.get(case, b"")
    finally:
        writer.close()
    await press_round(pair, "after")
    assert loopgram_server.server.connections == 2


async def test_many_bad_connections_at_once(loopgram_server: ServerThread, pair: Pair) -> None:
    """All the cases at the same time, ten of each."""

    @pair.bot.on(events.CallbackQuery)
    async def on_query(event: object) -> None:
        await event.answer("answer to crowd")  # type: ignore[attr-defined]

    streams = []
    for payload in CASES.values():
        for _ in range(10):
            reader, writer = await asyncio.open_connection(
                loopgram_server.host, loopgram_server.port
            )
            writer.write(payload)
            streams.append((reader, writer))
    try:
        await press_round(pair, "crowd")
        await asyncio.gather(*(read_until_closed(r, 10.0) for r, _ in streams))
    finally:
        for _, writer in streams:
            writer.close()
    await press_round(pair, "crowd")
    assert loopgram_server.server.connections == 2


async def test_slow_dribble_is_closed(loopgram_server: ServerThread, pair: Pair) -> None:
    """A byte every 0.2 s never completes a packet: the opening timeout counts from the
    connection, not from the last byte."""
    reader, writer = await asyncio.open_connection(loopgram_server.host, loopgram_server.port)
    closing = asyncio.ensure_future(read_until_closed(reader, 10.0))
    started = asyncio.get_running_loop().time()
    try:
        for byte in (INTERMEDIATE + struct.pack("<I", 1000) + bytes(100))[:40]:
            if closing.done():
                break
            writer.write(bytes([byte]))
            await asyncio.sleep(0.2)
        assert await closing == b""
        assert asyncio.get_running_loop().time() - started < 5
    finally:
        writer.close()


# -- what a client stores: Telegram's limits, random_id -------------------------------------


async def raw_history(client: Any, peer: Any) -> list[Any]:
    found = await within(
        client(
            tl_functions.messages.GetHistoryRequest(
                peer=peer,
                offset_id=0,
                offset_date=None,
                add_offset=0,
                limit=100,
                max_id=0,
                min_id=0,
                hash=0,
            )
        )
    )
    return list(found.messages)


async def raw_difference(client: Any) -> list[Any]:
    """Every new message since pts 0, following slices."""
    messages: list[Any] = []
    pts = 0
    while True:
        diff = await within(
            client(tl_functions.updates.GetDifferenceRequest(pts=pts, date=0, qts=0))
        )
        messages += diff.new_messages
        if isinstance(diff, tl_types.updates.DifferenceSlice):
            pts = diff.intermediate_state.pts
            continue
        assert isinstance(diff, tl_types.updates.Difference)
        return messages


def largest_request(client: Any, peer: Any, random_id: int) -> Any:
    """A sendMessage at every default limit: 4096 four-byte characters, 100 text-URL entities
    of ~10 KB in all, 96 buttons of ~9 KB in all."""
    text = "\U0001f600" * 4096
    url = "https://e.co/" + "u" * 70
    entities = [tl_types.MessageEntityTextUrl(offset=2 * i, length=2, url=url) for i in range(100)]
    rows = [[Button.inline("b" * 60, f"{r}.{c}".encode()) for c in range(8)] for r in range(12)]
    return tl_functions.messages.SendMessageRequest(
        peer=peer,
        message=text,
        random_id=random_id,
        entities=entities,
        reply_markup=client.build_reply_markup(rows),
    )


async def test_a_huge_url_entity_is_refused_and_both_sides_still_catch_up(pair: Pair) -> None:
    """Issue 13: one gzipped sendMessage with a huge text-URL entity used to be stored
    (and, 64 of them, end in 500 and a data directory no one could catch up with)."""
    bot_peer = await pair.bot.get_input_entity(pair.user_id)
    url = "https://example.com/" + "a" * (900 * 1024)  # below Telethon's own 1 MiB cap
    with pytest.raises(EntitiesTooLongError):
        await within(
            pair.bot(
                tl_functions.messages.SendMessageRequest(
                    peer=bot_peer,
                    message="click",
                    random_id=1,
                    entities=[tl_types.MessageEntityTextUrl(offset=0, length=5, url=url)],
                )
            )
        )
    for _ in range(3):
        await within(pair.bot(largest_request(pair.bot, bot_peer, random.getrandbits(63))))
    user_peer = await pair.user.get_input_entity(pair.bot_username)
    for client, peer in ((pair.bot, bot_peer), (pair.user, user_peer)):
        history = await raw_history(client, peer)
        assert [len(m.entities or []) for m in history[:3]] == [100, 100, 100]
        assert not any(m.message == "click" for m in history)
        difference = await raw_difference(client)
        assert sum(1 for m in difference if len(m.entities or []) == 100) == 3


async def test_a_loopgram_client_catches_up_with_the_largest_messages(
    loopgram_server: ServerThread, pair: Pair
) -> None:
    client = Client(
        host=loopgram_server.host,
        port=loopgram_server.port,
        public_key=loopgram_server.public_key_pem,
    )
    await within(client.start(phone="+15550900001", code=LOGIN_CODE))
    try:
        await within(client.send_message(pair.bot_username, "/start"))
        peer = await eventually(lambda: _input_of(pair.bot, client.me_id))
        for _ in range(3):
            await within(pair.bot(largest_request(pair.bot, peer, random.getrandbits(63))))
        history = await within(client.get_history(pair.bot_username, limit=100))
        assert len(history) == 4
        diff = await within(client.invoke(lg_functions.updates.GetDifference(pts=0, date=0, qts=0)))
        assert len(diff.new_messages) == 4  # type: ignore[union-attr]
    finally:
        await client.disconnect()


async def _input_of(bot: Any, user_id: int) -> Any:
    try:
        return await bot.get_input_entity(user_id)
    except ValueError:
        return None


async def test_telethon_sending_one_random_id_twice_stores_one_message(pair: Pair) -> None:
    peer = await pair.user.get_input_entity(pair.bot_username)
    request = tl_functions.messages.SendMessageRequest(peer=peer, message="once", random_id=4242)
    first = await within(pair.user(request))
    again = await within(pair.user(request))
    ids = [
        [u.id for u in answer.updates if isinstance(u, tl_types.UpdateMessageID)]
        for answer in (first, again)
    ]
    assert ids[0] == ids[1] and len(ids[0]) == 1
    history = await raw_history(pair.user, peer)
    assert [m.message for m in history].count("once") == 1
    bots_view = await raw_history(pair.bot, await pair.bot.get_input_entity(pair.user_id))
    assert [m.message for m in bots_view].count("once") == 1
