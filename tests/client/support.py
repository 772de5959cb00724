"""Support of the client tests: ``World`` makes clients of one server and the usual scene --
a bot that sends a keyboard on ``/start``, a user who receives it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from loopgram.client import Button, CallbackQuery, Client, Message
from loopgram.clock import FakeClock, seeded_random
from loopgram.node import LoopgramServer

T = TypeVar("T")

KEYBOARD = [
    [Button.callback("A", b"a"), Button.callback("B", b"b")],
    [Button.link("Site", "https://example.com")],
]

_phones = itertools.count(15550000001)
_seeds = itertools.count(100)
_bot_names = itertools.count(1)


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (real time, polling the loop) until ``predicate()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


class Bot:
    """A logged-in bot client that records the callback queries it gets (without answering
    them unless ``auto`` answers are set)."""

    def __init__(self, client: Client, username: str, token: str) -> None:
        self.client = client
        self.username = username
        self.token = token
        self.queries: asyncio.Queue[CallbackQuery] = asyncio.Queue()
        self.seen: list[CallbackQuery] = []
        self.sent: list[Message] = []
        self.auto: dict[str, Any] | None = None

        @client.on_callback_query()
        async def record(query: CallbackQuery) -> None:
            self.seen.append(query)
            if self.auto is not None:
                await query.answer(**self.auto)
            else:
                await self.queries.put(query)

    async def next_query(self, timeout: float = 5.0) -> CallbackQuery:
        return await asyncio.wait_for(self.queries.get(), timeout)

    @property
    def id(self) -> int:
        return self.client.me_id


class User:
    """A logged-in user client that collects the messages it receives."""

    def __init__(self, client: Client, phone: str) -> None:
        self.client = client
        self.phone = phone
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()

        @client.on_message()
        async def record(message: Message) -> None:
            if not message.out:
                await self.inbox.put(message)

    async def next_message(self, timeout: float = 5.0) -> Message:
        return await asyncio.wait_for(self.inbox.get(), timeout)

    @property
    def id(self) -> int:
        return self.client.me_id


class World:
    """Clients of one server. With a ``FakeClock`` (shared with the server) their protocol
    time is the test's to move; without one they run on real time, as the server must then
    (answer windows that really expire)."""

    def __init__(self, server: LoopgramServer, clock: FakeClock | None = None) -> None:
        self.server = server
        self._clock = clock
        self.clients: list[Client] = []
        self.slept: list[float] = []

    @property
    def clock(self) -> FakeClock:
        if self._clock is None:
            raise RuntimeError("this world runs on real time")
        return self._clock

    async def fake_sleep(self, seconds: float) -> None:
        """A ``sleep`` for clients: moves the shared fake clock instead of waiting."""
        self.slept.append(seconds)
        self.clock.advance(seconds)
        await asyncio.sleep(0)

    def client(self, session: Any = None, *, port: int | None = None, **options: Any) -> Client:
        if self._clock is not None:
            options.setdefault("clock", self._clock)
            options.setdefault("sleep", self.fake_sleep)
        options.setdefault("random_bytes", seeded_random(next(_seeds)))
        options.setdefault("ping_interval", None)
        client = Client(
            session,
            host="127.0.0.1",
            port=port or self.server.port,
            public_key=self.server.public_key_pem,
            **options,
        )
        self.clients.append(client)
        return client

    async def bot(self, username: str | None = None, **options: Any) -> Bot:
        username = username or f"test{next(_bot_names)}bot"
        token = self.server.create_bot(username)
        client = self.client(**options)
        await client.start(bot_token=token)
        return Bot(client, username, token)

    async def user(self, phone: str | None = None, **options: Any) -> User:
        phone = phone or f"+{next(_phones)}"
        client = self.client(**options)
        await client.start(phone=phone, code="12345")
        return User(client, phone)

    async def keyboard_message(
        self, bot: Bot, user: User, buttons: Any = None, text: str = "pick one"
    ) -> Message:
        """The user says /start (so the bot learns the user); the bot answers with a
        keyboard; returns the message as the user received it."""
        await user.client.send_message(bot.username, "/start")
        await eventually(lambda: bot.client.session.get_peer(user.id) is not None)
        bot.sent.append(await bot.client.send_message(user.id, text, buttons=buttons or KEYBOARD))
        return await user.next_message()

    async def scene(self, buttons: Any = None, **options: Any) -> tuple[Bot, User, Message]:
        """A bot, a user and the keyboard message; ``options`` go to both clients."""
        bot = await self.bot(**options)
        user = await self.user(**options)
        message = await self.keyboard_message(bot, user, buttons)
        return bot, user, message

    async def close(self) -> None:
        for client in self.clients:
            await client.disconnect()


def drop_by_server(server: LoopgramServer, client: Client) -> int:
    """Close, from the server's side, every connection carrying the client's auth key (as
    an idle timeout or a shutdown would); returns how many."""
    auth_key = client.sender.auth_key
    if auth_key is None:
        raise ValueError("the client has no auth key yet")
    listener = server._listener  # the server offers no public way to drop one connection
    if listener is None:
        raise RuntimeError("the server is not running")
    dropped = 0
    for link in list(listener.links):
        if any(s.auth_key_id == auth_key.id for s in link.connection.sessions):
            link.close("dropped by the test")
            dropped += 1
    return dropped


async def pending(awaitable: Awaitable[T]) -> asyncio.Future[T]:
    """Start ``awaitable`` and let it reach the server."""
    future = asyncio.ensure_future(awaitable)
    await asyncio.sleep(0)
    return future


class Proxy:
    """A TCP relay in front of the server, to cut connections and refuse new ones."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._pipes.update((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._pipes.difference_update((writer, up_writer))

    def cut(self) -> None:
        """Abort every relayed connection (both sides see a reset)."""
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def refuse(self) -> None:
        """Stop listening: new connections are refused."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def close(self) -> None:
        await self.refuse()
        self.cut()
