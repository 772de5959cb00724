"""Load and per-connection limits over loopback TCP, with unmodified Telethon (and loopgram's
own client beside it): hundreds of presses pending at one bot at the same moment; the idle
timeout (``Limits.idle_timeout``) that closes a connection gone silent after it opened
while busy connections stay up, and the opening timeout that closes one which never opened
(a key exchange abandoned after ``req_pq_multi``); connection caps; what clients can make the
server log, one line per kind a minute.

The server's I/O timeouts run on the event loop's real timers (no injectable clock), so the
idle tests use a short timeout and wait, bounded, for the close itself: end of stream on a raw
socket, Telethon's ``disconnected`` future for a Telethon client that does not reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest
from telethon import Button, events  # type: ignore[import-untyped]

import loopgram.node.links as server_app
import loopgram.tl.functions.help as fhelp
from loopgram.client import Client, RpcError
from loopgram.client import Message as LoopgramMessage
from loopgram.clock import FakeClock
from loopgram.crypto import RsaPrivateKey, RsaPublicKey
from loopgram.mtproto.client_connection import ClientConnection
from loopgram.mtproto.events import HandshakeCompleted
from loopgram.mtproto.server_connection import ServerConnection
from loopgram.net import Limits
from loopgram.node import LoopgramServer
from loopgram.server import ServerConfig
from loopgram.testing.server import ServerThread
from loopgram.testing.telethon import telethon_client
from loopgram.tl import TLObject
from loopgram.tl.types import Config, NearestDc

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
    long after connecting the server closed it (waiting ``timeout`` at most)."""
    loop = asyncio.get_running_loop()
    connecting = loop.time()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(INTERMEDIATE + req_pq_multi_frame())
        await writer.drain()
        await read_res_pq(reader)
        assert await read_until_closed(reader, timeout) == b""
        return loop.time() - connecting
    finally:
        writer.close()


async def raw_silent_after_key_exchange(
    server: ServerThread, timeout: float = CLOSE_WITHIN
) -> float:
    """Open a raw connection, run a whole key exchange on it (loopgram's sans-I/O client,
    which sends nothing once it has the key unless asked to), say nothing more; how long
    after the last byte sent the server closed it (waiting ``timeout`` at most)."""
    client = ClientConnection(rsa_keys=[RsaPublicKey.from_pem(server.public_key_pem)])
    client.start()
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        last_sent = loop.time()
        completed = False
        while not completed:
            if out := client.data_to_send():
                writer.write(out)
                await writer.drain()
                last_sent = loop.time()
            data = await within(reader.read(65536))
            assert data, "the server closed the connection during the key exchange"
            completed = any(isinstance(e, HandshakeCompleted) for e in client.receive_data(data))
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


OPENING = IDLE / 2
"""The opening timeout of the next test, against an idle timeout it cannot be mistaken for."""


@pytest.mark.loopgram(limits=Limits(opening_timeout=OPENING, idle_timeout=60.0))
async def test_raw_connection_that_stops_after_req_pq_is_closed_at_the_opening_timeout(
    loopgram_server: ServerThread,
) -> None:
    """Raw bytes: ``req_pq_multi`` is answered with ``resPQ``, then nothing. That answer
    does not open the connection (the key exchange is still in progress, and is forgotten
    after the opening timeout): the server closes the socket at the opening timeout, not
    after the idle timeout (60 s here; before, it kept it that long). A Telethon bot and
    user on other connections keep working meanwhile."""
    server = loopgram_server
    pair = await steady_pair(server, "rawidlebot")

    pair.bot.add_event_handler(answer_pong, events.CallbackQuery(data=b"ping"))

    stop = asyncio.Event()
    pressing = asyncio.ensure_future(keep_pressing(pair, stop))
    try:
        closed_after = await raw_silent_after_res_pq(server)
        assert closed_after >= OPENING * 0.95  # the opening timeout's close, not sooner
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


@pytest.mark.loopgram(limits=IDLE_LIMITS)
async def test_raw_connection_silent_after_a_whole_key_exchange_is_closed_after_the_idle_timeout(
    loopgram_server: ServerThread,
) -> None:
    """A finished key exchange opens the connection although no encrypted message follows:
    silent from then on, it is closed by the idle timeout (IDLE after its last byte), not
    by the shorter opening timeout."""
    silent_for = await raw_silent_after_key_exchange(loopgram_server)
    assert IDLE * 0.95 <= silent_for < CLOSE_WITHIN


SHORT_IDLE = 0.3


@pytest.mark.loopgram(limits=Limits(opening_timeout=30.0, idle_timeout=SHORT_IDLE))
async def test_idle_timeout_shorter_than_the_opening_timeout_still_closes_a_silent_connection(
    loopgram_server: ServerThread,
) -> None:
    """``idle_timeout`` counts from the last byte received once the connection has opened,
    whatever the (longer) opening timeout."""
    silent_for = await raw_silent_after_key_exchange(loopgram_server, timeout=10 * SHORT_IDLE)
    assert silent_for >= SHORT_IDLE * 0.95


# -- connection caps and file descriptors ---------------------------------------------------------


async def open_raw(host: str, port: int, source: str | None = None) -> Any:
    """A raw connection that sent ``req_pq_multi`` (from ``source``, another loopback
    address, if given)."""
    local = (source, 0) if source is not None else None
    reader, writer = await asyncio.open_connection(host, port, local_addr=local)
    writer.write(INTERMEDIATE + req_pq_multi_frame())
    return reader, writer


async def served(reader: asyncio.StreamReader) -> bool:
    """Whether the server answered ``req_pq_multi`` (``False``: it closed the connection)."""
    try:
        await read_res_pq(reader)
    except (asyncio.IncompleteReadError, ConnectionResetError):
        return False
    return True


def test_the_connection_cap_follows_the_open_file_limit() -> None:
    limits = Limits()
    assert limits.connection_cap(20_000) == 20_000 - 64
    assert limits.connection_cap(1024) == 1024 - 64
    assert limits.connection_cap(64) == 48  # at most a quarter kept back
    assert limits.connection_cap(None) == 50_000
    assert Limits(max_connections=100).connection_cap(20_000) == 100
    assert limits.per_address_cap(limits.connection_cap(1024)) == 480
    assert Limits(max_per_address=8).per_address_cap(960) == 8


@pytest.mark.loopgram(limits=Limits(max_per_address=3))
async def test_connections_over_the_per_address_cap_are_refused_without_disturbing_others(
    loopgram_server: ServerThread,
) -> None:
    server = loopgram_server
    held = [await open_raw(server.host, server.port) for _ in range(3)]
    try:
        assert all([await served(reader) for reader, _ in held])
        over_reader, over_writer = await open_raw(server.host, server.port)
        assert not await served(over_reader)  # closed at once
        over_writer.close()
        # Another address is not held to 127.0.0.1's count...
        other_reader, other_writer = await open_raw(server.host, server.port, "127.0.0.2")
        assert await served(other_reader)
        other_writer.close()
        # ... the three keep working (a second req_pq_multi on each is answered) ...
        for reader, writer in held:
            writer.write(req_pq_multi_frame())
            assert await served(reader)
        # ... and a place freed is a place taken.
        _, first_writer = held.pop(0)
        first_writer.close()
        await first_writer.wait_closed()

        async def admitted() -> bool | None:
            reader, writer = await open_raw(server.host, server.port)
            ok = await served(reader)
            if ok:
                held.append((reader, writer))
            else:
                writer.close()
            return ok or None

        assert await eventually(admitted)
    finally:
        for _, writer in held:
            writer.close()


EMFILE_SERVER = """
import asyncio, importlib, logging, sys
from loopgram.net import Limits
from loopgram.server import ServerConfig
from loopgram.node import LoopgramServer

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
# What a server that has been up a while has loaded already (the key exchange's optional
# accelerator is imported on first use, and an import needs descriptors too).
try:
    importlib.import_module("gmpy2")
except ImportError:
    pass

async def main():
    limits = Limits(fd_reserve=0, max_per_address=10_000)
    async with LoopgramServer(None, port=0, limits=limits, pool_size=4) as server:
        print(server.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

asyncio.run(main())
"""
FILE_LIMIT = 48


def low_file_limit() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


@pytest.mark.skipif(os.name != "posix", reason="needs RLIMIT_NOFILE")
async def test_running_out_of_descriptors_warns_once_and_accepts_again_once_they_free_up(
    tmp_path: Any,
) -> None:
    """The server process may open 48 files (soft = hard, so it cannot raise it): 80
    connections make ``accept()`` fail with EMFILE. One warning, no traceback; the
    connections left waiting in the backlog are served once the first ones close."""
    import subprocess
    import sys

    err_path = tmp_path / "stderr.txt"
    with open(err_path, "w") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", EMFILE_SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            preexec_fn=low_file_limit,
        )
    try:
        assert process.stdout is not None and process.stdin is not None
        port = int(await within(asyncio.to_thread(process.stdout.readline), 60))
        clients = [await open_raw("127.0.0.1", port) for _ in range(80)]
        answers = {asyncio.ensure_future(served(reader)): writer for reader, writer in clients}

        async def warned() -> bool | None:
            return "out of file descriptors" in err_path.read_text() or None

        await eventually(warned, timeout=30)
        # Give the accepted connections a moment to be answered: the ones left waiting in
        # the backlog cannot be, whatever the time.
        done, waiting = await asyncio.wait(answers, timeout=3)
        assert done and waiting
        assert all(task.result() for task in done)
        for task in done:
            answers[task].close()
        for task in waiting:
            assert await within(task)  # accepted once descriptors came free
        for writer in answers.values():
            writer.close()
        process.stdin.write("\n")
        process.stdin.flush()
        assert await within(asyncio.to_thread(process.wait), 30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log = err_path.read_text()
    assert log.count("out of file descriptors") == 1, log
    assert "Traceback" not in log and "socket.accept() out of system resource" not in log, log


# -- flood limits over the wire ------------------------------------------------------------------


async def burst_of_bot_messages(server: ServerThread, name: str, count: int) -> int:
    """A Telethon bot sends ``count`` messages to one user as fast as it can, never sleeping
    through a flood wait; how many were refused with FLOOD_WAIT."""
    from telethon.errors import FloodWaitError  # type: ignore[import-untyped]

    pair = await make_pair(server, server.create_bot(name))
    pair.bot.flood_sleep_threshold = 0
    refused = 0
    try:
        for i in range(count):
            try:
                await within(pair.bot.send_message(pair.user_id, f"n{i}"))
            except FloodWaitError:
                refused += 1
    finally:
        await pair.disconnect()
    return refused


async def test_a_bot_flooding_one_chat_gets_flood_wait_by_default(
    loopgram_server: ServerThread,
) -> None:
    # 20 at once pass, then about one a second: 60 sent back to back (well under a second
    # each on loopback) cannot all pass.
    assert await burst_of_bot_messages(loopgram_server, "flood_bot", 60) > 0


@pytest.mark.loopgram(config=ServerConfig(bot_chat_rate=None))
async def test_the_per_chat_limit_can_be_switched_off_from_the_fixture(
    loopgram_server: ServerThread,
) -> None:
    assert await burst_of_bot_messages(loopgram_server, "free_bot", 60) == 0


# -- what clients can make the server log ---------------------------------------------------------

LOG_PERIOD = 61.0
"""Past the minute between two log lines of one kind: the fake clock of these tests moves by it.
Client and server share the clock, so their message ids stay in step."""
LEFT_OUT = " (and {} more like it since the last such line)"


def clocked_client(server: LoopgramServer, clock: FakeClock) -> Client:
    """A loopgram client on the server's fake clock (no pings: nothing but what a test sends)."""
    return Client(
        host=server.host,
        port=server.port,
        public_key=server.public_key_pem,
        clock=clock,
        ping_interval=None,
    )


def messages(caplog: pytest.LogCaptureFixture, logger: str, part: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and part in r.getMessage()]


async def test_refused_connections_log_one_warning_a_minute_with_the_count_left_out(
    loopgram_rsa_key: RsaPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    """Connections over the per-address cap are refused one by one, and logged once per
    minute of the server's clock: the next line says how many were left out."""
    clock = FakeClock(time.time())
    limits = Limits(max_per_address=1)
    caplog.set_level(logging.WARNING, logger="loopgram.net")
    async with LoopgramServer(port=0, clock=clock, rsa_key=loopgram_rsa_key, limits=limits) as lg:
        held_reader, held_writer = await open_raw(lg.host, lg.port)
        try:
            assert await served(held_reader)
            for round_ in (10, 1):
                for _ in range(round_):
                    reader, writer = await open_raw(lg.host, lg.port)
                    assert not await served(reader)  # closed as it was accepted
                    writer.close()
                clock.advance(LOG_PERIOD)
        finally:
            held_writer.close()
    refused = [r.getMessage() for r in messages(caplog, "loopgram.net", "refused")]
    line = "connection from 127.0.0.1 refused: it holds 1 connections already"
    assert refused == [line, line + LEFT_OUT.format(9)]


async def test_a_connection_the_server_fails_on_logs_one_traceback_a_minute_and_only_it_closes(
    loopgram_rsa_key: RsaPrivateKey,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug the protocol layer hits on some input (injected here: ``receive_data`` raises
    on a marker) closes that connection and logs its traceback -- once a minute, however
    many clients send that input -- while a client next to them is served."""
    receive_data = ServerConnection.receive_data

    def failing_on_marker(self: ServerConnection, data: bytes) -> list[Any]:
        if b"BOOM" in data:
            raise RuntimeError("a bug of the server")
        return receive_data(self, data)

    monkeypatch.setattr(ServerConnection, "receive_data", failing_on_marker)
    clock = FakeClock(time.time())
    caplog.set_level(logging.ERROR, logger="loopgram.net")
    async with LoopgramServer(port=0, clock=clock, rsa_key=loopgram_rsa_key) as lg:
        client = clocked_client(lg, clock)
        await within(client.connect())
        try:
            for round_ in (10, 1):
                for _ in range(round_):
                    reader, writer = await asyncio.open_connection(lg.host, lg.port)
                    writer.write(INTERMEDIATE + b"BOOM")
                    assert await read_until_closed(reader, CLOSE_WITHIN) == b""
                    writer.close()
                nearest = await within(client.invoke(fhelp.GetNearestDc()))
                assert isinstance(nearest, NearestDc) and nearest.this_dc == 2
                clock.advance(LOG_PERIOD)
        finally:
            await client.disconnect()
    failed = messages(caplog, "loopgram.net", "receive_data failed")
    assert len(failed) == 2 and all(r.exc_info is not None for r in failed)
    assert failed[1].getMessage().endswith(LEFT_OUT.format(9))


async def test_a_result_that_does_not_encode_logs_one_traceback_per_method_a_minute(
    loopgram_rsa_key: RsaPrivateKey,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A result the server cannot write (injected here: the encoder fails on ``NearestDc``)
    is answered ``500 INTERNAL`` each time and logged with its traceback once a minute."""
    encoder = server_app._encoder

    def failing_encoder(layer: int | None) -> Callable[[TLObject], bytes]:
        serialize = encoder(layer)

        def encode(obj: TLObject) -> bytes:
            if isinstance(obj, NearestDc):
                raise ValueError("no layout for NearestDc")
            return serialize(obj)

        return encode

    monkeypatch.setattr(server_app, "_encoder", failing_encoder)
    clock = FakeClock(time.time())
    caplog.set_level(logging.ERROR, logger="loopgram.server")
    async with LoopgramServer(port=0, clock=clock, rsa_key=loopgram_rsa_key) as lg:
        client = clocked_client(lg, clock)
        await within(client.connect())
        try:
            for round_ in (10, 1):
                for _ in range(round_):
                    with pytest.raises(RpcError) as info:
                        await within(client.invoke(fhelp.GetNearestDc()))
                    assert (info.value.code, info.value.message) == (500, "INTERNAL")
                config = await within(client.invoke(fhelp.GetConfig()))  # other methods work
                assert isinstance(config, Config) and config.this_dc == 2
                clock.advance(LOG_PERIOD)
        finally:
            await client.disconnect()
    failed = messages(caplog, "loopgram.server", "the result does not encode")
    assert len(failed) == 2 and all(r.exc_info is not None for r in failed)
    line = "help.getNearestDc: the result does not encode"
    assert failed[1].getMessage() == line + LEFT_OUT.format(9)
