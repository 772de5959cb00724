"""Bad input, each on its own raw socket, while a Telethon bot and user keep working on theirs:
every case gets a protocol-level answer (a transport error) or a close, and nothing leaks
into the other connections."""

from __future__ import annotations

import asyncio
import os
import struct

import pytest
from telethon import Button, events  # type: ignore[import-untyped]

from loopgram.net import Limits
from loopgram.testing.server import ServerThread

from .support import Pair, within

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
