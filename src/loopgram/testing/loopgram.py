"""Point loopgram's own client (``loopgram.client.Client``) at a loopgram server in tests.

The client needs what every client needs -- the server's host, port and RSA public key --
and nothing else, so this module only saves the typing, and adds the waiting a test does::

    from loopgram.testing.loopgram import Inbox, bot_client, user_client

    token = loopgram_server.create_bot("examplebot")
    async with bot_client(loopgram_server, token) as bot, user_client(
        loopgram_server, "+15550001"
    ) as user:
        inbox = Inbox(user)                       # the messages the user receives
        await user.send_message("examplebot", "/start")
        menu = await inbox.next()                 # the bot's reply (after its handler ran)
        answer = await menu.press(text="Yes")     # the bot's CallbackQuery.answer(...)

``bot_client`` and ``user_client`` connect and log in; ``await`` them for the client (then
``await client.disconnect()`` yourself) or use them with ``async with``, which disconnects
at the end. ``loopgram_client`` is the unconnected ``Client``. By hand, the same is::

    Client(host=server.host, port=server.port, public_key=server.public_key_pem)

``server`` is anything with those facts: the ``loopgram_server`` fixture (a
:class:`~loopgram.testing.server.ServerThread`), a
:class:`~loopgram.node.LoopgramServer` or the ``ServerFacts`` of ``loopgram info``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import Any

from loopgram.client import Client, Message
from loopgram.testing import LOGIN_CODE
from loopgram.testing.telethon import ServerLike, _host

__all__ = ["ClientLogin", "Inbox", "bot_client", "loopgram_client", "user_client"]


def loopgram_client(server: ServerLike, session: Any = None, **kwargs: Any) -> Client:
    """An unconnected :class:`~loopgram.client.Client` for the server.

    ``session``: a saved session string or a ``Session`` (``SQLiteSession(path)``...) to
    come back with the same auth key and login, even after the server restarted on the same
    data directory; ``None`` keeps it in memory. ``kwargs`` go to ``Client`` (``layer``,
    ``reconnect``, ``clock``...).
    """
    kwargs.setdefault("device_model", "loopgram test")
    return Client(
        session, host=_host(server), port=server.port, public_key=server.public_key_pem, **kwargs
    )


class ClientLogin:
    """A client on its way to being logged in: ``await`` it for the client, or enter it
    with ``async with`` to have the client disconnected at the end of the block."""

    __slots__ = ("_login", "client")

    def __init__(self, client: Client, login: Callable[[Client], Awaitable[object]]) -> None:
        self.client = client
        self._login = login

    async def _start(self) -> Client:
        try:
            await self._login(self.client)
        except BaseException:
            await self.client.disconnect()
            raise
        return self.client

    def __await__(self) -> Generator[Any, None, Client]:
        return self._start().__await__()

    async def __aenter__(self) -> Client:
        return await self._start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.client.disconnect()


def bot_client(server: ServerLike, token: str, session: Any = None, **kwargs: Any) -> ClientLogin:
    """A client logged in as the bot with ``token`` (``server.create_bot(name)`` makes one);
    ``kwargs`` as for :func:`loopgram_client`."""
    client = loopgram_client(server, session, **kwargs)

    async def login(c: Client) -> None:
        await c.start(bot_token=token)

    return ClientLogin(client, login)


def user_client(
    server: ServerLike,
    phone: str,
    session: Any = None,
    *,
    code: str = LOGIN_CODE,
    **kwargs: Any,
) -> ClientLogin:
    """A client logged in as the user with this phone number (a number without an account
    gets one, named ``User <last 4 digits>``: ``server.create_user(phone, first_name)``
    first to choose the name); ``code`` is the server's login code (``12345`` unless
    configured). ``kwargs`` as for :func:`loopgram_client`."""
    client = loopgram_client(server, session, **kwargs)

    async def login(c: Client) -> None:
        await c.start(phone=phone, code=code)

    return ClientLogin(client, login)


class Inbox:
    """The messages a client receives from now on (not its own), in order.

    ``await inbox.next()`` returns the next one, waiting up to ``timeout`` seconds
    (``TimeoutError`` after that): a bot answers from its handlers, so a test waits for
    the reply rather than reading the history at once.
    """

    def __init__(self, client: Client, *, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        client.on_message()(self._received)

    async def _received(self, message: Message) -> None:
        if not message.out:
            self._queue.put_nowait(message)

    def __len__(self) -> int:
        """Messages received and not taken yet."""
        return self._queue.qsize()

    async def next(self, timeout: float | None = None) -> Message:
        wait = self.timeout if timeout is None else timeout
        return await asyncio.wait_for(self._queue.get(), wait)
