"""Load and per-connection limits over loopback TCP, with unmodified Telethon (and loopgram's
own client beside it): hundreds of presses pending at one bot at the same moment, and the
idle timeout (``Limits.idle_timeout``) that closes a connection gone silent after it opened
while busy connections stay up.

The server's I/O timeouts run on the event loop's real timers (no injectable clock), so the
idle tests use a short timeout and wait, bounded, for the close itself: end of stream on a raw
socket, Telethon's ``disconnected`` future for a Telethon client that does not reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import struct
import time
from typing import Any

import pytest
from telethon import Button, events  # type: ignore[import-untyped]

from loopgram.client import Client
from loopgram.client import Message as LoopgramMessage
from loopgram.net import Limits
from loopgram.testing.server import ServerThread
from loopgram.testing.telethon import telethon_client

from .support import LOGIN_CODE, Pair, eventually, make_pair, start_bot, within

_phones = itertools.count(15550700)


def next_phone() -> str:
    return f"+1{next(_phones)}"


# -- hundreds of presses pending at one bot ------------------------------------------------------

TELETHON_PRESSERS = 4
PRESSES_EACH = 50
TOTAL_PRESSES = (TELETHON_PRESSERS + 1) * PRESSES_EACH  # + one loopgram-client user: 250


def button_data(user_index: int, press: int) -> bytes:
    return f"u{user_index}-p{press}".encode()


def keyboard_of(user_index: int) -> list[list[Any]]:
    """PRESSES_EACH distinct callback buttons, five to a row."""
    datas = [button_data(user_index, i) for i in range(PRESSES_EACH)]
    return [
        [Button.inline(d.decode(), d) for d in datas[i : i + 5]] for i in range(0, len(datas), 5)
    ]


def answer_text(user_id: int, data: bytes) -> str:
    """What the bot answers: derived from the query alone, so a misrouted answer shows."""
    return f"for {user_id}: {data.decode()}"


async def loopgram_presser(
    server: ServerThread, bot: Any, bot_username: str, user_index: int
) -> tuple[Client, int, LoopgramMessage]:
    """A loopgram-client user who said /start and holds the bot's keyboard."""
    client = Client(host=server.host, port=server.port, public_key=server.public_key_pem)
    inbox: asyncio.Queue[LoopgramMessage] = asyncio.Queue()

    @client.on_message()
    async def record(message: LoopgramMessage) -> None:
        if not message.out:
            inbox.put_nowait(message)

    await within(client.start(phone=next_phone(), code=LOGIN_CODE))
    greeted: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def on_start(event: Any) -> None:
        if event.sender_id == client.me_id and not greeted.done():
            greeted.set_result(None)

    bot.add_event_handler(on_start, events.NewMessage(pattern="/start"))
    try:
        await within(client.send_message(bot_username, "/start"))
        await within(greeted)
    finally:
        bot.remove_event_handler(on_start)
    await within(bot.send_message(client.me_id, "loopgram keys", buttons=keyboard_of(user_index)))
    message = await within(inbox.get())
    assert message.text == "loopgram keys"
    return client, client.me_id, message


@pytest.mark.loopgram(answer_timeout=120.0)
async def test_hundreds_of_presses_pending_at_one_bot_each_get_their_own_answer(
    loopgram_server: ServerThread,
) -> None:
    """250 presses from five users (four Telethon, one loopgram client) are pending at the
    bot at once -- the bot answers none before it holds them all -- and every press returns
    exactly the answer to itself."""
    server = loopgram_server
    bot = await start_bot(server, server.create_bot("busybot"))
    arrived: list[Any] = []
    all_arrived = asyncio.Event()

    async def on_query(event: Any) -> None:
        arrived.append(event)
        if len(arrived) >= TOTAL_PRESSES:
            all_arrived.set()

    pairs: list[Pair] = []
    lg_client: Client | None = None
    try:
        for _ in range(TELETHON_PRESSERS):
            pairs.append(await make_pair(server, bot=bot))
        bot_username = pairs[0].bot_username
        lg_client, lg_user_id, lg_message = await loopgram_presser(
            server, bot, bot_username, TELETHON_PRESSERS
        )
        messages = [
            await pair.keyboard(keyboard_of(n), text=f"keys of {n}") for n, pair in enumerate(pairs)
        ]
        bot.add_event_handler(on_query, events.CallbackQuery)

        presses: list[Any] = []
        expected: list[str] = []
        for n, (pair, message) in enumerate(zip(pairs, messages, strict=True)):
            for i in range(PRESSES_EACH):
                presses.append(message.click(data=button_data(n, i)))
                expected.append(answer_text(pair.user_id, button_data(n, i)))
        for i in range(PRESSES_EACH):
            presses.append(lg_message.press(data=button_data(TELETHON_PRESSERS, i)))
            expected.append(answer_text(lg_user_id, button_data(TELETHON_PRESSERS, i)))
        assert len(presses) == TOTAL_PRESSES >= 200
        pressing = asyncio.gather(*presses)

        # Every press reaches the bot while none is answered: all pending at one moment.
        await within(all_arrived.wait(), 60.0)
        assert not pressing.done()
        waiting = server.call(lambda: server.server.core.presses.waiting)
        assert waiting == TOTAL_PRESSES
        pressed = sorted((e.query.user_id, e.data) for e in arrived)
        wanted = sorted(
            [
                (p.user_id, button_data(n, i))
                for n, p in enumerate(pairs)
                for i in range(PRESSES_EACH)
            ]
            + [(lg_user_id, button_data(TELETHON_PRESSERS, i)) for i in range(PRESSES_EACH)]
        )
        assert pressed == wanted  # each press arrived once, with its presser and its data
        assert len({e.query.query_id for e in arrived}) == TOTAL_PRESSES

        # The bot answers them all at once, each from its own query.
        oks = await within(
            asyncio.gather(*(e.answer(answer_text(e.query.user_id, e.data)) for e in arrived)),
            60.0,
        )
        assert all(ok is True for ok in oks)
        answers = await within(pressing, 60.0)
        assert [a.message for a in answers] == expected
        assert len(arrived) == TOTAL_PRESSES  # no press was delivered twice
        assert server.call(lambda: server.server.core.presses.waiting) == 0
    finally:
        bot.remove_event_handler(on_query)
        if lg_client is not None:
            await lg_client.disconnect()
        for pair in pairs:
            await pair.user.disconnect()
        await bot.disconnect()


# -- the idle timeout ------------------------------------------------------------------------------

IDLE = 1.0
"""Seconds of silence after which the server closes an opened connection, in these tests.

The opening timeout is shorter still: a close a whole IDLE after the last byte is the idle
rule's, and the server first looks at a connection's silence when the opening timeout runs
out (see the last test of this module)."""
IDLE_LIMITS = Limits(opening_timeout=IDLE / 2, idle_timeout=IDLE)
CLOSE_WITHIN = 10 * IDLE
"""Bound on waiting for a close that is due after IDLE."""

INTERMEDIATE = b"\xee\xee\xee\xee"
REQ_PQ_MULTI = 0xBE7E8EF1
RES_PQ = 0x05162463


def req_pq_multi_frame() -> bytes:
    """An intermediate frame holding an unencrypted ``req_pq_multi`` (the handshake's first
    message), which the server answers with ``resPQ``."""
    body = struct.pack("<I", REQ_PQ_MULTI) + os.urandom(16)
    msg_id = int(time.time() * 2**32) & ~3
    packet = struct.pack("<qqi", 0, msg_id, len(body)) + body
    return struct.pack("<I", len(packet)) + packet


async def read_res_pq(reader: asyncio.StreamReader) -> None:
    (length,) = struct.unpack("<I", await within(reader.readexactly(4)))
    packet = await within(reader.readexactly(length))
    auth_key_id, _msg_id, _length, constructor = struct.unpack("<qqiI", packet[:24])
    assert (auth_key_id, constructor) == (0, RES_PQ)


async def read_until_closed(reader: asyncio.StreamReader, timeout: float) -> bytes:
    data = b""
    async with asyncio.timeout(timeout):
        while chunk := await reader.read(65536):
            data += chunk
    return data


async def raw_silent_after_res_pq(server: ServerThread, timeout: float = CLOSE_WITHIN) -> float:
    """Open a raw connection, exchange ``req_pq_multi``/``resPQ``, say nothing more; how
    long after the last byte sent the server closed it (waiting ``timeout`` at most)."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        loop = asyncio.get_running_loop()
        writer.write(INTERMEDIATE + req_pq_multi_frame())
        await writer.drain()
        last_sent = loop.time()
        await read_res_pq(reader)
        assert await read_until_closed(reader, timeout) == b""
        return loop.time() - last_sent
    finally:
        writer.close()


async def start_steady(server: ServerThread, **login: Any) -> Any:
    """A Telethon client that does not reconnect: if the server closes its connection, its
    ``disconnected`` future completes and its requests fail.

    Its ``retry_delay`` is short: one key exchange in 256 yields a key with a leading zero
    byte, which Telethon 1.45 shortens to 255 bytes; it then fails its own new_nonce_hash
    check and starts again on the same connection after ``retry_delay`` -- by default 1 s,
    as long as the idle timeout under test, so the server closed it first."""
    client = telethon_client(server, auto_reconnect=False, retry_delay=0.05)
    await within(client.start(**login))
    return client


async def start_steady_user(server: ServerThread) -> Any:
    phone = next_phone()
    return await start_steady(server, phone=lambda: phone, code_callback=lambda: LOGIN_CODE)


async def steady_pair(server: ServerThread, bot_name: str) -> Pair:
    # Both log in at once: neither sits silent (for an idle timeout) while the other does.
    bot, user = await asyncio.gather(
        start_steady(server, bot_token=server.create_bot(bot_name)), start_steady_user(server)
    )
    bot_me, user_me = await bot.get_me(), await user.get_me()
    greeted: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def on_start(event: Any) -> None:
        if not greeted.done():
            greeted.set_result(None)

    bot.add_event_handler(on_start, events.NewMessage(pattern="/start"))
    try:
        await within(user.send_message(bot_me.username, "/start"))
        await within(greeted)
    finally:
        bot.remove_event_handler(on_start)
    return Pair(bot, user, bot_me.id, user_me.id, bot_me.username)


async def closed_by_server(client: Any, timeout: float) -> None:
    """Wait (bounded) until Telethon sees its connection closed."""
    disconnected = client.disconnected
    done, _ = await asyncio.wait([disconnected], timeout=timeout)
    assert done, f"the connection was not closed within {timeout} s"
    disconnected.exception()  # retrieved: the end of stream Telethon read, or None
    assert not client.is_connected()


async def connections_are(server: ServerThread, count: int) -> bool:
    return server.server.connections == count


def still_connected(client: Any) -> bool:
    return bool(client.is_connected()) and not client.disconnected.done()


async def answer_pong(event: Any) -> None:
    await event.answer("pong")


async def keep_pressing(pair: Pair, stop: asyncio.Event, at_least: float = 0.0) -> int:
    """Press and answer, round after round, until ``stop`` is set and ``at_least`` seconds
    have passed: both clients keep sending, a tenth of the idle timeout apart. How many
    rounds were done."""
    loop = asyncio.get_running_loop()
    until = loop.time() + at_least
    message = await pair.keyboard([[Button.inline("Ping", b"ping")]], text="steady")
    rounds = 0
    while not (stop.is_set() and loop.time() >= until):
        answer = await within(message.click(0))
        assert answer.message == "pong"
        rounds += 1
        await asyncio.sleep(IDLE / 10)  # pacing between rounds, not waiting for anything
    return rounds


@pytest.mark.loopgram(limits=IDLE_LIMITS)
async def test_telethon_connection_silent_for_the_idle_timeout_is_closed_and_busy_ones_stay(
    loopgram_server: ServerThread,
) -> None:
    """A Telethon user logs in, makes a request and goes quiet: the server closes its
    connection once it has been silent for the idle timeout -- not before -- while a bot and
    a user that keep pressing and answering stay connected (no reconnect) and keep working."""
    server = loopgram_server
    pair = await steady_pair(server, "steadybot")

    pair.bot.add_event_handler(answer_pong, events.CallbackQuery(data=b"ping"))

    stop = asyncio.Event()
    # Busy for several idle timeouts in all, on the connections they have now.
    pressing = asyncio.ensure_future(keep_pressing(pair, stop, at_least=3 * IDLE))
    quiet: Any = None
    try:
        loop = asyncio.get_running_loop()
        quiet = await start_steady_user(server)
        started = loop.time()
        assert (await within(quiet.get_me())).id  # its last request: silence from here on
        await closed_by_server(quiet, CLOSE_WITHIN)
        silent_for = loop.time() - started
        assert silent_for >= IDLE * 0.95  # closed for its silence, not sooner
        await eventually(lambda: connections_are(server, 2))

        # The busy pair has been pressing through all of it, on its first connections, and
        # goes on until it has outlived several idle timeouts.
        assert not pressing.done()
        stop.set()
        rounds = await within(pressing)
        assert rounds >= 10
        assert still_connected(pair.bot) and still_connected(pair.user)
        assert server.server.connections == 2
        answer = await within((await pair.keyboard([[Button.inline("Ping", b"ping")]])).click(0))
        assert answer.message == "pong"
    finally:
        stop.set()
        pressing.cancel()
        with contextlib.suppress(BaseException):
            await pressing
        if quiet is not None:
            await quiet.disconnect()
        await pair.disconnect()


@pytest.mark.loopgram(limits=IDLE_LIMITS)
async def test_raw_connection_silent_after_its_first_reply_is_closed_after_the_idle_timeout(
    loopgram_server: ServerThread,
) -> None:
    """Raw bytes: ``req_pq_multi`` is answered with ``resPQ`` (the connection has opened),
    then nothing: the server closes the socket, without a reply, after the idle timeout. A
    Telethon bot and user on other connections keep working meanwhile."""
    server = loopgram_server
    pair = await steady_pair(server, "rawidlebot")

    pair.bot.add_event_handler(answer_pong, events.CallbackQuery(data=b"ping"))

    stop = asyncio.Event()
    pressing = asyncio.ensure_future(keep_pressing(pair, stop))
    try:
        silent_for = await raw_silent_after_res_pq(server)
        assert IDLE * 0.95 <= silent_for < CLOSE_WITHIN
        assert not pressing.done()
        stop.set()
        assert await within(pressing) >= 1
        assert still_connected(pair.bot) and still_connected(pair.user)
    finally:
        stop.set()
        pressing.cancel()
        with contextlib.suppress(BaseException):
            await pressing
        await pair.disconnect()


SHORT_IDLE = 0.3


@pytest.mark.loopgram(limits=Limits(opening_timeout=30.0, idle_timeout=SHORT_IDLE))
async def test_idle_timeout_shorter_than_the_opening_timeout_still_closes_a_silent_connection(
    loopgram_server: ServerThread,
) -> None:
    """``idle_timeout`` counts from the last byte received once the connection has opened,
    whatever the (longer) opening timeout."""
    silent_for = await raw_silent_after_res_pq(loopgram_server, timeout=10 * SHORT_IDLE)
    assert silent_for >= SHORT_IDLE * 0.95
