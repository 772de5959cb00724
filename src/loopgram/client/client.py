"""Client layer: ``Client``, an asyncio MTProto client for loopgram (and Telegram).

Everything it needs to reach a server is a parameter -- host, port and the server's RSA
public key (PEM) -- so the same code talks to a local loopgram server or, given Telegram's
published keys and addresses, to Telegram::

    async with Client(host="127.0.0.1", port=20443, public_key=pem) as client:
        await client.sign_in_bot(token)
        ok = await client.invoke(functions.messages.SetBotCallbackAnswer(...))  # -> bool

``invoke`` returns the function's declared result type. Below it, one
:class:`~loopgram.net.client.Sender` keeps one TCP connection: concurrent queries share
packets, lost connections come back with backoff and unanswered queries are sent again in
the same MTProto session. A logged-in client makes itself reachable as soon as a connection
is back: a ping in its first packet tells the server where to push the session's updates
(until then a bot would not hear a press), and ``getDifference`` fetches what it missed.
``420 FLOOD_WAIT_X`` up to ``flood_sleep_threshold`` seconds is slept through (with the
injected ``sleep``) and the query sent again; longer waits raise
:class:`~loopgram.client.errors.FloodWaitError`. The first API query of every connection goes
inside ``invokeWithLayer(229, initConnection(...))`` -- or an older shipped layer, given
``layer=`` (``loopgram.client._layered``: only the wire changes, not the objects).

Above ``invoke`` sit the login helpers, the update pipeline (``UpdateManager``: pts order,
gaps, ``updates.getDifference``) and the high-level API of callback buttons: bots register
``@client.on_callback_query(...)`` handlers, users ``await message.press(...)``, and the
client keeps each answer for its ``cache_time`` (by the injected clock).
"""

from __future__ import annotations

import asyncio
import logging
import platform
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any, Final, TypeVar, cast

from loopgram import __version__
from loopgram.client._error_base import expect
from loopgram.client._layered import InLayer, read_update, speakable_layer, unwrapping
from loopgram.client.errors import (
    AuthKeyUnregisteredError,
    ConnectionLostError,
    FloodWaitError,
    RpcError,
    rpc_error,
)
from loopgram.client.objects import Button, CallbackAnswer, CallbackQuery, Message, keyboard
from loopgram.client.sessions import (
    MemorySession,
    PeerEntry,
    Session,
    SessionData,
    StringSession,
    UpdateState,
    encode_string,
)
from loopgram.client.updates import UpdateManager
from loopgram.clock import Clock, RandomBytes, system_clock, system_random
from loopgram.crypto import AuthKey, RsaPublicKey
from loopgram.net.client import ReconnectPolicy, Sender
from loopgram.tl import LAYER, TLFunction, TLObject, abcs, functions, types
from loopgram.tl.core import TLDecodeError
from loopgram.tl.functions import auth as fauth
from loopgram.tl.functions import contacts as fcontacts
from loopgram.tl.functions import messages as fmsg
from loopgram.tl.functions import updates as fupd
from loopgram.tl.functions import users as fusers
from loopgram.tl.mtproto import functions as mt
from loopgram.tl.types import auth as auth_types
from loopgram.tl.types import contacts as contact_types
from loopgram.tl.types import messages as msg_types
from loopgram.tl.types import updates as upd_types
from loopgram.transport import TransportKind

__all__ = ["Client", "PublicKeys"]

log = logging.getLogger("loopgram.client")

R = TypeVar("R")
PublicKeys = str | bytes | RsaPublicKey | Sequence[str | bytes | RsaPublicKey]
Sleep = Callable[[float], Awaitable[None]]
QueryHandler = Callable[[CallbackQuery], Awaitable[Any]]
MessageHandler = Callable[[Message], Awaitable[Any]]
RawHandler = Callable[[abcs.Update], Awaitable[Any]]
_CallbackUpdate = types.UpdateBotCallbackQuery | types.UpdateInlineBotCallbackQuery
DataFilter = bytes | str | re.Pattern[bytes] | Callable[[CallbackQuery], bool] | None

_MESSAGE_CACHE: Final = 10_000
"""Messages kept for ``CallbackQuery.message`` (sent, received or fetched in this process)."""
_ANSWER_CACHE: Final = 10_000
"""Cached callback answers before the expired ones are swept."""
_UPDATES_RESULTS: Final = frozenset(
    {
        types.Updates,
        types.UpdatesCombined,
        types.UpdateShort,
        types.UpdateShortMessage,
        types.UpdateShortChatMessage,
        types.UpdateShortSentMessage,
        types.UpdatesTooLong,
    }
)


def _rsa_keys(public_key: PublicKeys) -> list[RsaPublicKey]:
    items: Sequence[str | bytes | RsaPublicKey]
    if isinstance(public_key, str | bytes | RsaPublicKey):
        items = [public_key]
    else:
        items = public_key
    keys = [k if isinstance(k, RsaPublicKey) else RsaPublicKey.from_pem(k) for k in items]
    if not keys:
        raise ValueError("the client needs the server's RSA public key")
    return keys


def _matcher(data: DataFilter) -> Callable[[CallbackQuery], bool]:
    if data is None:
        return lambda q: True
    if isinstance(data, str):
        data = data.encode()
    if isinstance(data, bytes):
        exact = data
        return lambda q: q.data == exact
    if isinstance(data, re.Pattern):
        pattern = data
        return lambda q: q.data is not None and pattern.match(q.data) is not None
    return data


class Client:
    """An MTProto client bound to one server (see the module docstring).

    ``session``: a :class:`~loopgram.client.sessions.Session`, an exported session string,
    or ``None`` (in memory). ``api_id``/``api_hash`` are what Telegram requires (loopgram
    accepts any). ``clock``, ``random_bytes`` and ``sleep`` are injected: tests pass a fake
    clock and a ``sleep`` that moves it (flood waits, ``cache_time``).

    ``layer`` is the API layer the client announces and speaks (default the newest, 229):
    any layer of the shipped window 158..229, a layer between two shipped ones being spoken
    as the nearest shipped one below it (``Client.layer`` tells which). Requests, results
    and updates travel in that layer's layout; everything the client hands out stays a
    layer-229 object. Outside the window: ``UnsupportedLayerError`` here, at construction.
    """

    def __init__(
        self,
        session: Session | str | None = None,
        *,
        host: str,
        port: int,
        public_key: PublicKeys,
        dc_id: int = 2,
        api_id: int = 1,
        api_hash: str = "loopgram",
        device_model: str = "loopgram",
        system_version: str | None = None,
        app_version: str = __version__,
        lang_code: str = "en",
        system_lang_code: str = "en",
        transport: TransportKind = TransportKind.INTERMEDIATE,
        obfuscated: bool = False,
        flood_sleep_threshold: float = 60.0,
        reconnect: ReconnectPolicy | None = None,
        ping_interval: float | None = 60.0,
        receive_updates: bool = True,
        catch_up: bool = True,
        gap_timeout: float = 0.5,
        clock: Clock = system_clock,
        random_bytes: RandomBytes = system_random,
        sleep: Sleep = asyncio.sleep,
        layer: int = LAYER,
    ) -> None:
        self.layer = speakable_layer(layer)
        self._old_layer: int | None = None if self.layer == LAYER else self.layer
        if session is None:
            session = MemorySession()
        elif isinstance(session, str):
            session = StringSession(session)
        self.session: Session = session
        self.host = host
        self.port = port
        self.dc_id = dc_id
        self._rsa_keys = _rsa_keys(public_key)
        self.api_id = api_id
        self.api_hash = api_hash
        self._init = {
            "device_model": device_model,
            "system_version": system_version or f"{platform.system()} {platform.release()}",
            "app_version": app_version,
            "lang_code": lang_code,
            "system_lang_code": system_lang_code,
        }
        self._transport = transport
        self._obfuscated = obfuscated
        self.flood_sleep_threshold = flood_sleep_threshold
        self._policy = reconnect
        self._ping_interval = ping_interval
        self.receive_updates = receive_updates
        self.catch_up = catch_up
        self.clock = clock
        self._random = random_bytes
        self._sleep = sleep

        self._sender: Sender | None = None
        self._data = SessionData(host=host, port=port, dc_id=dc_id)
        self._me: types.User | None = None
        self._phone_code_hashes: dict[str, str] = {}
        self._updates = UpdateManager(
            deliver=self._deliver,
            get_difference=self._get_difference,
            on_state=self.session.set_update_state,
            clock=clock,
            gap_timeout=gap_timeout,
        )
        self._query_handlers: list[tuple[Callable[[CallbackQuery], bool], QueryHandler]] = []
        self._message_handlers: list[MessageHandler] = []
        self._raw_handlers: list[tuple[tuple[type[TLObject], ...], RawHandler]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._messages: OrderedDict[tuple[int, int], types.Message] = OrderedDict()
        self._answers: dict[tuple[int, int, bytes | None, bool], tuple[CallbackAnswer, float]] = {}
        self._disconnected: asyncio.Future[None] | None = None
        self.answers_from_cache = 0
        """Presses answered from the ``cache_time`` cache without asking the server."""

    # -- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    @property
    def connected(self) -> bool:
        return self._sender is not None and self._sender.connected

    @property
    def sender(self) -> Sender:
        """The connection driver (for tests and diagnostics)."""
        if self._sender is None:
            raise ConnectionLostError("the client is not connected")
        return self._sender

    @property
    def updates(self) -> UpdateManager:
        return self._updates

    async def connect(self) -> None:
        """Connect (and make an auth key if the session has none); if the session is
        logged in, start receiving updates and catch up on what was missed."""
        if self._sender is not None:
            return
        stored = self.session.load()
        auth_key: AuthKey | None = None
        if stored is not None and (stored.host, stored.port) == (self.host, self.port):
            self._data = stored
            if stored.auth_key is not None:
                auth_key = AuthKey(stored.auth_key)
        elif stored is not None:
            # A key belongs to the server that made it: another address means start over.
            self.session.clear()
        self._disconnected = asyncio.get_running_loop().create_future()
        sender = Sender(
            self.host,
            self.port,
            rsa_keys=self._rsa_keys,
            listener=_SenderEvents(self) if self._old_layer is None else _OldLayerEvents(self),
            error_factory=rpc_error if self._old_layer is None else unwrapping(rpc_error),
            auth_key=auth_key,
            salt=self._data.salt,
            time_offset=self._data.time_offset,
            dc_id=self.dc_id,
            transport=self._transport,
            obfuscated=self._obfuscated,
            wrap_first=self._wrap_first,
            policy=self._policy,
            ping_interval=self._ping_interval,
            clock=self.clock,
            random_bytes=self._random,
        )
        self._sender = sender
        try:
            await sender.connect()
        except BaseException:
            self._sender = None
            raise
        if self._data.user_id is not None:
            try:
                await self._start_updates()
            except AuthKeyUnregisteredError:
                self._logged_out()

    async def disconnect(self) -> None:
        """Close the connection (queries still waiting fail with ``ConnectionLostError``)."""
        sender = self._sender
        if sender is None:
            return
        self._sender = None
        self._updates.close()
        session = sender.session
        if session is not None and self._data.auth_key is not None:
            self._data.salt = session.salt
            self._data.time_offset = session.time_offset
            self.session.save(self._data)
        await sender.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._disconnected is not None and not self._disconnected.done():
            self._disconnected.set_result(None)

    async def run_until_disconnected(self) -> None:
        if self._disconnected is not None:
            await self._disconnected

    def export_session(self) -> str:
        """The session as a string (``StringSession``): auth key, server address, login."""
        return encode_string(self._data)

    # -- queries ------------------------------------------------------------------------------

    async def invoke(
        self, request: TLFunction[R], *, flood_sleep_threshold: float | None = None
    ) -> R:
        """Send one query and return its result (the function's declared result type).

        Raises the :class:`~loopgram.client.errors.RpcError` subclass of the server's error.
        ``FLOOD_WAIT_X`` of at most ``flood_sleep_threshold`` seconds (default: the
        client's) is waited out and the query sent again.
        """
        sender = self._sender
        if sender is None:
            raise ConnectionLostError("the client is not connected")
        while True:
            try:
                result = await sender.request(
                    request if self._old_layer is None else InLayer(request, self._old_layer)
                )
                break
            except FloodWaitError as exc:
                threshold = (
                    self.flood_sleep_threshold
                    if flood_sleep_threshold is None
                    else flood_sleep_threshold
                )
                if exc.seconds > threshold:
                    raise
                log.info("%s: flood wait of %d s, sleeping", request.TL_NAME, exc.seconds)
                await self._sleep(exc.seconds)
        if type(result) in _UPDATES_RESULTS:
            self._feed(result)
        else:
            users = getattr(result, "users", None)
            if users:
                self._remember_users(users)
        return cast(R, result)

    def _wrap_first(self, query: TLFunction[Any]) -> TLFunction[Any]:
        init = self._init
        return functions.InvokeWithLayer(
            layer=self.layer,
            query=functions.InitConnection(
                api_id=self.api_id,
                device_model=init["device_model"],
                system_version=init["system_version"],
                app_version=init["app_version"],
                system_lang_code=init["system_lang_code"],
                lang_pack="",
                lang_code=init["lang_code"],
                query=query,
            ),
        )

    # -- login --------------------------------------------------------------------------------

    @property
    def me_id(self) -> int:
        """The logged-in account's id (0 when not logged in)."""
        return self._data.user_id or 0

    @property
    def is_bot(self) -> bool:
        return self._data.bot

    @property
    def authorized(self) -> bool:
        return self._data.user_id is not None

    async def sign_in_bot(self, token: str) -> types.User:
        """Log in as the bot with this token (``auth.importBotAuthorization``)."""
        auth = await self.invoke(
            fauth.ImportBotAuthorization(
                flags=0, api_id=self.api_id, api_hash=self.api_hash, bot_auth_token=token
            )
        )
        return await self._logged_in(auth)

    async def send_code(self, phone: str) -> str:
        """Ask for a login code (``auth.sendCode``); returns the ``phone_code_hash``."""
        sent = await self.invoke(
            fauth.SendCode(
                phone_number=phone,
                api_id=self.api_id,
                api_hash=self.api_hash,
                settings=types.CodeSettings(),
            )
        )
        if not isinstance(sent, auth_types.SentCode):
            raise RpcError(400, f"unexpected answer to auth.sendCode: {type(sent).__name__}")
        self._phone_code_hashes[phone] = sent.phone_code_hash
        return sent.phone_code_hash

    async def sign_in(
        self,
        phone: str,
        code: str,
        *,
        phone_code_hash: str | None = None,
        first_name: str = "loopgram",
        last_name: str = "",
    ) -> types.User:
        """Log in as a user with the code sent to ``phone`` (``send_code`` first, or pass
        its ``phone_code_hash``). A number without an account signs up with ``first_name``."""
        code_hash = phone_code_hash or self._phone_code_hashes.get(phone)
        if code_hash is None:
            code_hash = await self.send_code(phone)
        auth = await self.invoke(
            fauth.SignIn(phone_number=phone, phone_code_hash=code_hash, phone_code=code)
        )
        if isinstance(auth, auth_types.AuthorizationSignUpRequired):
            auth = await self.invoke(
                fauth.SignUp(
                    phone_number=phone,
                    phone_code_hash=code_hash,
                    first_name=first_name,
                    last_name=last_name,
                )
            )
        self._phone_code_hashes.pop(phone, None)
        return await self._logged_in(auth)

    async def start(
        self,
        *,
        bot_token: str | None = None,
        phone: str | None = None,
        code: str | Callable[[], str | Awaitable[str]] | None = None,
    ) -> Client:
        """Connect and, unless the session is logged in already, log in (a bot with
        ``bot_token``, a user with ``phone`` and ``code``)."""
        await self.connect()
        if self.authorized:
            return self
        if bot_token is not None:
            await self.sign_in_bot(bot_token)
        elif phone is not None:
            if code is None:
                raise ValueError("a user login needs the code (loopgram's default: 12345)")
            await self.send_code(phone)
            value = code() if callable(code) else code
            if not isinstance(value, str):
                value = await value
            await self.sign_in(phone, value)
        else:
            raise ValueError("not logged in: pass bot_token, or phone and code")
        return self

    async def log_out(self) -> None:
        await self.invoke(fauth.LogOut())
        self._logged_out()

    async def _logged_in(self, auth: abcs.auth.Authorization) -> types.User:
        if not isinstance(auth, auth_types.Authorization) or not isinstance(auth.user, types.User):
            raise RpcError(400, f"unexpected authorization: {type(auth).__name__}")
        user = auth.user
        self._me = user
        self._data.user_id = user.id
        self._data.bot = user.bot
        self._remember_users([user])
        self.session.save(self._data)
        self.session.set_update_state(None)
        self._updates.state = None
        await self._start_updates()
        return user

    def _logged_out(self) -> None:
        self._me = None
        self._data.user_id = None
        self._data.bot = False
        self._updates.state = None
        self.session.set_update_state(None)
        self.session.save(self._data)

    async def get_me(self) -> types.User:
        result = await self.invoke(fusers.GetUsers(id=[types.InputUserSelf()]))
        if not result or not isinstance(result[0], types.User):
            raise AuthKeyUnregisteredError(401, "AUTH_KEY_UNREGISTERED")
        self._me = result[0]
        return self._me

    # -- peers --------------------------------------------------------------------------------

    def _remember_users(self, users: Sequence[abcs.User]) -> None:
        # Runs for every update that names users (each callback query names its presser):
        # compare before allocating, most of them are known already.
        get = self.session.get_peer
        changed: list[PeerEntry] = []
        for u in users:
            if type(u) is not types.User or u.access_hash is None or u.min:
                continue
            known = get(u.id)
            if (
                known is None
                or known.access_hash != u.access_hash
                or known.username != u.username
                or known.bot != u.bot
            ):
                changed.append(PeerEntry(u.id, u.access_hash, u.username, u.bot))
        if changed:
            self.session.put_peers(changed)

    def input_peer(self, peer: int | types.User | abcs.InputPeer) -> abcs.InputPeer:
        """The ``InputPeer`` of a user id the client has seen (or of a ``User``)."""
        if isinstance(peer, abcs.InputPeer):
            return peer
        if isinstance(peer, types.User):
            if peer.access_hash is None:
                raise ValueError(f"user {peer.id} has no access hash")
            return types.InputPeerUser(user_id=peer.id, access_hash=peer.access_hash)
        if peer == self._data.user_id:
            return types.InputPeerSelf()
        entry = self.session.get_peer(peer)
        if entry is None:
            raise ValueError(f"unknown user {peer}: resolve it (resolve_username) first")
        return types.InputPeerUser(user_id=entry.id, access_hash=entry.access_hash)

    async def get_input_peer(self, peer: int | str | types.User | abcs.InputPeer) -> abcs.InputPeer:
        """Like :meth:`input_peer`, resolving ``"@username"`` / ``"username"`` if needed."""
        if isinstance(peer, str):
            if peer in ("me", "self"):
                return types.InputPeerSelf()
            entry = self.session.peer_by_username(peer)
            if entry is not None:
                return types.InputPeerUser(user_id=entry.id, access_hash=entry.access_hash)
            return self.input_peer(await self.resolve_username(peer))
        return self.input_peer(peer)

    async def resolve_username(self, username: str) -> types.User:
        """The user with this username (``contacts.resolveUsername``)."""
        name = username.lstrip("@")
        resolved = expect(
            await self.invoke(fcontacts.ResolveUsername(username=name)),
            contact_types.ResolvedPeer,
        )
        for user in resolved.users:
            if isinstance(user, types.User) and (user.username or "").lower() == name.lower():
                return user
        peer = resolved.peer
        for user in resolved.users:
            if isinstance(peer, types.PeerUser) and isinstance(user, types.User):
                if user.id == peer.user_id:
                    return user
        raise ValueError(f"@{name} is not a user")

    # -- messages -----------------------------------------------------------------------------

    def _random_id(self) -> int:
        return int.from_bytes(self._random(8), "little", signed=True)

    async def send_message(
        self,
        peer: int | str | types.User | abcs.InputPeer,
        text: str,
        *,
        buttons: Sequence[Sequence[Button]] | abcs.ReplyMarkup | None = None,
    ) -> Message:
        """Send a text message (a bot may attach an inline keyboard, rows of ``Button``)."""
        result = await self.invoke(
            fmsg.SendMessage(
                peer=await self.get_input_peer(peer),
                message=text,
                random_id=self._random_id(),
                reply_markup=keyboard(buttons),
            )
        )
        return self._message_in(result)

    async def send_game(
        self,
        peer: int | str | types.User | abcs.InputPeer,
        short_name: str,
        *,
        buttons: Sequence[Sequence[Button]] | abcs.ReplyMarkup | None = None,
    ) -> Message:
        """A bot sends one of its games (``messages.sendMedia`` with ``inputMediaGame``);
        without ``buttons`` the server adds the default "Play" game button."""
        result = await self.invoke(
            fmsg.SendMedia(
                peer=await self.get_input_peer(peer),
                media=types.InputMediaGame(
                    id=types.InputGameShortName(bot_id=types.InputUserSelf(), short_name=short_name)
                ),
                message="",
                random_id=self._random_id(),
                reply_markup=keyboard(buttons),
            )
        )
        return self._message_in(result)

    async def edit_message(
        self,
        peer: int | str | types.User | abcs.InputPeer,
        msg_id: int,
        text: str | None = None,
        *,
        buttons: Sequence[Sequence[Button]] | abcs.ReplyMarkup | None = None,
    ) -> Message:
        result = await self.invoke(
            fmsg.EditMessage(
                peer=await self.get_input_peer(peer),
                id=msg_id,
                message=text,
                reply_markup=keyboard(buttons),
            )
        )
        return self._message_in(result)

    def _message_in(self, result: abcs.Updates) -> Message:
        if isinstance(result, types.Updates | types.UpdatesCombined):
            for update in result.updates:
                if isinstance(update, types.UpdateNewMessage | types.UpdateEditMessage):
                    message = update.message
                    if isinstance(message, types.Message):
                        self._keep_message(message)
                        return Message(self, message)
        raise RpcError(500, f"no message in the answer ({type(result).__name__})")

    def _messages_of(self, result: abcs.messages.Messages) -> list[types.Message]:
        if not isinstance(
            result, msg_types.Messages | msg_types.MessagesSlice | msg_types.ChannelMessages
        ):
            return []
        self._remember_users(result.users)
        found = [m for m in result.messages if isinstance(m, types.Message)]
        for message in found:
            self._keep_message(message)
        return found

    async def get_messages(
        self, peer: int | str | types.User | abcs.InputPeer, ids: Sequence[int]
    ) -> list[Message | None]:
        """Messages of a private chat by id (``None`` for ids that do not exist)."""
        result = await self.invoke(fmsg.GetMessages(id=[types.InputMessageID(id=i) for i in ids]))
        by_id = {m.id: m for m in self._messages_of(result)}
        return [Message(self, by_id[i]) if i in by_id else None for i in ids]

    async def get_history(
        self, peer: int | str | types.User | abcs.InputPeer, *, limit: int = 100, offset_id: int = 0
    ) -> list[Message]:
        """The latest ``limit`` messages of a chat, newest first (``messages.getHistory``)."""
        result = await self.invoke(
            fmsg.GetHistory(
                peer=await self.get_input_peer(peer),
                offset_id=offset_id,
                offset_date=0,
                add_offset=0,
                limit=limit,
                max_id=0,
                min_id=0,
                hash=0,
            )
        )
        return [Message(self, m) for m in self._messages_of(result)]

    def _keep_message(self, message: types.Message) -> None:
        peer = message.peer_id
        if isinstance(peer, types.PeerUser):
            cache = self._messages
            cache[(peer.user_id, message.id)] = message
            if len(cache) > _MESSAGE_CACHE:
                cache.popitem(last=False)

    def cached_message(self, chat_id: int, msg_id: int) -> Message | None:
        raw = self._messages.get((chat_id, msg_id))
        return None if raw is None else Message(self, raw)

    # -- callback buttons ---------------------------------------------------------------------

    async def press_button(
        self, chat_id: int, msg_id: int, *, data: bytes | None, game: bool = False
    ) -> CallbackAnswer:
        """Press a callback button of message ``msg_id`` in the chat with ``chat_id``
        (``messages.getBotCallbackAnswer``), honouring the answers' ``cache_time``."""
        key = (chat_id, msg_id, data, game)
        cached = self._answers.get(key)
        if cached is not None:
            if self.clock() < cached[1]:
                self.answers_from_cache += 1
                return replace(cached[0], cached=True)
            del self._answers[key]
        raw = expect(
            await self.invoke(
                fmsg.GetBotCallbackAnswer(
                    peer=self.input_peer(chat_id), msg_id=msg_id, data=data, game=game
                )
            ),
            msg_types.BotCallbackAnswer,
        )
        answer = CallbackAnswer.from_tl(raw)
        if answer.cache_time > 0:
            answers = self._answers
            if len(answers) >= _ANSWER_CACHE:
                now = self.clock()
                for stale in [k for k, (_, until) in answers.items() if until <= now]:
                    del answers[stale]
            answers[key] = (answer, self.clock() + answer.cache_time)
        return answer

    async def answer_callback_query(
        self,
        query_id: int,
        text: str | None = None,
        *,
        alert: bool = False,
        url: str | None = None,
        cache_time: int = 0,
    ) -> bool:
        """``messages.setBotCallbackAnswer`` (prefer ``CallbackQuery.answer``)."""
        return await self.invoke(
            fmsg.SetBotCallbackAnswer(
                query_id=query_id, message=text, alert=alert, url=url, cache_time=cache_time
            )
        )

    # -- handlers -----------------------------------------------------------------------------

    def on_callback_query(self, data: DataFilter = None) -> Callable[[QueryHandler], QueryHandler]:
        """Decorator: call the handler for every callback query whose data matches
        (``bytes``/``str``: equal; a compiled ``bytes`` pattern: matches; a function of
        the query: true; ``None``: all)."""

        def register(handler: QueryHandler) -> QueryHandler:
            self._query_handlers.append((_matcher(data), handler))
            return handler

        return register

    def on_message(self) -> Callable[[MessageHandler], MessageHandler]:
        """Decorator: call the handler for every new message (``message.out`` tells own)."""

        def register(handler: MessageHandler) -> MessageHandler:
            self._message_handlers.append(handler)
            return handler

        return register

    def on_update(self, *kinds: type[TLObject]) -> Callable[[RawHandler], RawHandler]:
        """Decorator: call the handler with every raw update of these types (all if none)."""

        def register(handler: RawHandler) -> RawHandler:
            self._raw_handlers.append((kinds, handler))
            return handler

        return register

    # -- updates ------------------------------------------------------------------------------

    async def _start_updates(self) -> None:
        if not self.receive_updates:
            return
        state = self.session.update_state()
        if state is None or not self.catch_up:
            fresh = expect(await self.invoke(fupd.GetState()), upd_types.State)
            self._updates.set_state(UpdateState(fresh.pts, fresh.qts, fresh.date, fresh.seq))
        else:
            self._updates.state = state
            await self._updates.catch_up()

    def _resume_updates(self) -> None:
        """A new connection carries our session: make it reachable at once.

        The server pushes a session's updates to the connection it last heard the session
        on; until this one carries a message it has none, and a callback query pressed
        meanwhile reaches nobody (the user gets ``BOT_RESPONSE_TIMEOUT``). A ping in the
        connection's first packet moves the session here; ``getDifference`` then fetches
        what was pushed while no connection carried it.
        """
        sender = self._sender
        if sender is None or not self.authorized or not self.receive_updates:
            return
        pong = sender.request(mt.Ping(ping_id=self._random_id()))
        # Nobody awaits the pong: a connection lost before it comes is no error.
        pong.add_done_callback(_consume)
        if self._updates.state is not None:
            self._updates.catch_up_soon()

    async def _get_difference(self, state: UpdateState) -> abcs.updates.Difference:
        return await self.invoke(fupd.GetDifference(pts=state.pts, date=state.date, qts=state.qts))

    def _feed(self, updates: TLObject) -> None:
        if self.receive_updates:
            self._updates.feed(updates)

    def _deliver(self, update: abcs.Update, users: Sequence[abcs.User]) -> None:
        if users:
            self._remember_users(users)
        kind = type(update)
        if kind is types.UpdateBotCallbackQuery or kind is types.UpdateInlineBotCallbackQuery:
            self._on_callback_query(
                cast(types.UpdateBotCallbackQuery | types.UpdateInlineBotCallbackQuery, update)
            )
        elif kind is types.UpdateNewMessage or kind is types.UpdateEditMessage:
            message = cast(types.UpdateNewMessage | types.UpdateEditMessage, update).message
            if isinstance(message, types.Message):
                self._keep_message(message)
                if kind is types.UpdateNewMessage and self._message_handlers:
                    wrapped = Message(self, message)
                    for handler in self._message_handlers:
                        self._spawn(handler(wrapped))
        for kinds, raw_handler in self._raw_handlers:
            if not kinds or isinstance(update, kinds):
                self._spawn(raw_handler(update))

    def _on_callback_query(
        self, update: types.UpdateBotCallbackQuery | types.UpdateInlineBotCallbackQuery
    ) -> None:
        if not self._query_handlers:
            return
        message = None
        if type(update) is types.UpdateBotCallbackQuery:
            raw = self._messages.get((update.user_id, update.msg_id))
            if raw is not None:
                message = Message(self, raw)
        query = CallbackQuery(self, update, message)
        for matches, handler in self._query_handlers:
            if matches(query):
                self._spawn(handler(query))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            exc = task.exception()
            if exc is not None:
                log.error("an update handler failed", exc_info=exc)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class _SenderEvents:
    """What the sender reports, applied to the client (a ``SenderListener``)."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client

    def on_update(self, update: TLObject | None, body: bytes) -> None:
        if update is not None and type(update) in _UPDATES_RESULTS:
            self._client._feed(update)

    def on_auth_key(self, auth_key: AuthKey, salt: int, time_offset: float) -> None:
        client = self._client
        client._data.auth_key = auth_key.key
        client._data.salt = salt
        client._data.time_offset = time_offset
        client.session.save(client._data)

    def on_auth_key_lost(self) -> None:
        client = self._client
        log.warning("%s:%d does not know our auth key: making a new one", client.host, client.port)
        client._data.auth_key = None
        client._logged_out()

    def on_session_created(self) -> None:
        # Updates pushed to an earlier session of ours may be lost: ask for the difference.
        client = self._client
        if client.receive_updates and client._updates.state is not None:
            client._updates.catch_up_soon()

    def on_connection_lost(self, reason: str) -> None:
        log.info("connection lost (%s): reconnecting", reason)

    def on_reconnected(self) -> None:
        self._client._resume_updates()


class _OldLayerEvents(_SenderEvents):
    """``_SenderEvents`` of a client speaking an older layer: the connection parsed each
    pushed message as layer 229, which its old constructors are not, so it is read again
    from its bytes in the client's layer."""

    __slots__ = ()

    def on_update(self, update: TLObject | None, body: bytes) -> None:
        layer = self._client.layer
        try:
            update = read_update(body, layer)
        except TLDecodeError as exc:
            log.warning("a pushed message did not decode in layer %d: %s", layer, exc)
            return
        super().on_update(update, body)
