"""Support of the server tests: ``Caller``s -- sessions that send TL requests through the
dispatcher like a client would and collect what the server pushes to them -- and helpers to
log in, send keyboards and press buttons.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, TypeVar

import loopgram.tl.functions.auth as fauth
import loopgram.tl.functions.messages as fmsg
from loopgram import tl
from loopgram.clock import FakeClock, seeded_random
from loopgram.server import RpcError, ServerConfig, ServerCore, ServerInfo, SessionContext
from loopgram.server.services.render import render_message
from loopgram.storage import Account, PeerRef, Storage
from loopgram.tl import TLFunction, abcs, types
from loopgram.tl.abcs import Updates
from loopgram.tl.types import auth as auth_types

R = TypeVar("R")

HOST = "127.0.0.1"
PORT = 14900

_key_ids = itertools.count(1000)


class Caller:
    """One client session: ``call`` sends a request through the dispatcher and returns the
    result decoded from its wire form; ``pushed`` collects the updates pushed to it."""

    def __init__(self, core: ServerCore, auth_key_id: int | None = None, session_id: int = 1):
        self.core = core
        if auth_key_id is None:
            auth_key_id = next(_key_ids)
            core.storage.auth_keys.put(auth_key_id, bytes(256))
        self.auth_key_id = auth_key_id
        self.pushed: list[Updates] = []
        self.session: SessionContext = core.open_session(auth_key_id, session_id, self._receive)
        self.account: Account | None = None

    def _receive(self, updates: Updates) -> None:
        # What the client reads off the wire: serialise and parse back.
        self.pushed.append(tl.read(bytes(updates)))

    async def call(self, request: TLFunction[R]) -> R:
        answer = await self.core.dispatch(self.session, request)
        if answer.error is not None:
            raise answer.error
        # What a client reads back from the rpc_result.
        return request.read_result(answer.encode())

    async def fails(self, request: TLFunction[Any]) -> RpcError:
        answer = await self.core.dispatch(self.session, request)
        assert answer.error is not None, f"expected an error, got {answer.result!r}"
        return answer.error

    @property
    def me(self) -> Account:
        assert self.account is not None
        return self.account

    def input_peer(self, other: Caller | Account) -> types.InputPeerUser:
        account = other.me if isinstance(other, Caller) else other
        return types.InputPeerUser(user_id=account.id, access_hash=account.access_hash)

    def updates_of(self, kind: type[R]) -> list[R]:
        """Every pushed update of one kind, in order."""
        return [
            u
            for batch in self.pushed
            if isinstance(batch, types.Updates)
            for u in batch.updates
            if isinstance(u, kind)
        ]

    def take(self, kind: type[R]) -> list[R]:
        found = self.updates_of(kind)
        self.pushed.clear()
        return found


def make_core(storage: Storage, clock: FakeClock, config: ServerConfig | None = None) -> ServerCore:
    return ServerCore(
        storage,
        clock=clock,
        random_bytes=seeded_random(2),
        config=config or ServerConfig(),
        info=ServerInfo(host=HOST, port=PORT),
    )


async def login_user(core: ServerCore, phone: str, **kwargs: Any) -> Caller:
    caller = Caller(core, **kwargs)
    sent = await caller.call(
        fauth.SendCode(phone_number=phone, api_id=1, api_hash="x", settings=types.CodeSettings())
    )
    assert isinstance(sent, auth_types.SentCode)
    auth = await caller.call(
        fauth.SignIn(
            phone_number=phone,
            phone_code_hash=sent.phone_code_hash,
            phone_code=core.config.login_code,
        )
    )
    assert isinstance(auth, auth_types.Authorization)
    assert isinstance(auth.user, types.User)
    caller.account = core.storage.accounts.get(auth.user.id)
    return caller


async def login_bot(core: ServerCore, username: str) -> Caller:
    credentials = core.create_bot(username)
    caller = Caller(core)
    auth = await caller.call(
        fauth.ImportBotAuthorization(
            flags=0, api_id=1, api_hash="x", bot_auth_token=credentials.token
        )
    )
    assert isinstance(auth, auth_types.Authorization)
    caller.account = credentials.account
    return caller


def callback(
    text: str, data: bytes, *, requires_password: bool = False
) -> types.KeyboardInlineButton:
    return types.KeyboardInlineButton(
        text=text,
        type=types.InlineButtonTypeCallback(data=data, requires_password=requires_password),
    )


def url_button(text: str, url: str) -> types.KeyboardInlineButton:
    return types.KeyboardInlineButton(text=text, type=types.InlineButtonTypeUrl(url=url))


def game_button(text: str = "Play") -> types.KeyboardInlineButton:
    return types.KeyboardInlineButton(text=text, type=types.InlineButtonTypeGame())


def keyboard(*rows: list[types.KeyboardInlineButton]) -> types.ReplyInlineMarkup:
    return types.ReplyInlineMarkup(
        rows=[types.KeyboardInlineButtonRow(buttons=list(row)) for row in rows]
    )


_random_ids = itertools.count(1)


def open_chat(core: ServerCore, user: Account, bot: Account) -> None:
    """The user's "/start" to the bot, stored without pushing it to anyone, unless their
    chat has a message already: on Telegram a bot cannot write first."""
    if core.storage.messages.history(bot.id, PeerRef.user(user.id), limit=1):
        return
    core.storage.messages.send(
        sender_id=user.id,
        peer=PeerRef.user(bot.id),
        text="/start",
        render_update=lambda c: bytes(
            types.UpdateNewMessage(message=render_message(c), pts=c.pts, pts_count=1)
        ),
    )


async def send(
    sender: Caller,
    to: Caller | Account,
    text: str = "hello",
    markup: abcs.ReplyMarkup | None = None,
) -> types.Updates:
    recipient = to.me if isinstance(to, Caller) else to
    if sender.me.is_bot and not recipient.is_bot:
        open_chat(sender.core, recipient, sender.me)
    result = await sender.call(
        fmsg.SendMessage(
            peer=sender.input_peer(to),
            message=text,
            random_id=next(_random_ids),
            reply_markup=markup,
        )
    )
    assert isinstance(result, types.Updates)
    return result


def history_request(peer: abcs.InputPeer, *, limit: int, offset_id: int = 0) -> fmsg.GetHistory:
    """messages.getHistory of ``peer``: the newest ``limit`` messages, or those before
    ``offset_id``."""
    return fmsg.GetHistory(
        peer=peer,
        offset_id=offset_id,
        offset_date=0,
        add_offset=0,
        limit=limit,
        max_id=0,
        min_id=0,
        hash=0,
    )


def new_message(result: abcs.Updates) -> types.Message:
    assert isinstance(result, types.Updates)
    for update in result.updates:
        if isinstance(update, types.UpdateNewMessage | types.UpdateEditMessage):
            assert isinstance(update.message, types.Message)
            return update.message
    raise AssertionError(f"no message in {result!r}")


async def keyboard_message(
    bot: Caller, user: Caller, markup: abcs.ReplyMarkup | None = None, text: str = "pick one"
) -> int:
    """The bot sends ``markup`` (default: buttons ``a`` and ``b``) to the user; returns the
    message id in the user's box."""
    user.pushed.clear()
    await send(bot, user, text, markup or keyboard([callback("A", b"a"), callback("B", b"b")]))
    # In a supergroup or channel the message arrives as updateNewChannelMessage.
    (update,) = user.updates_of(types.UpdateNewMessage) + user.updates_of(
        types.UpdateNewChannelMessage
    )
    user.pushed.clear()
    assert isinstance(update.message, types.Message)
    return update.message.id


async def start_press(
    user: Caller, bot: Caller | Account, msg_id: int, data: bytes | None = b"a", game: bool = False
) -> asyncio.Task[Any]:
    """Press a button; the task stays pending until the bot answers or time runs out."""
    task = asyncio.ensure_future(
        user.call(
            fmsg.GetBotCallbackAnswer(
                peer=user.input_peer(bot), msg_id=msg_id, data=data, game=game
            )
        )
    )
    await settle()
    return task


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def last_query(bot: Caller) -> types.UpdateBotCallbackQuery:
    queries = bot.updates_of(types.UpdateBotCallbackQuery)
    assert queries, "the bot got no callback query"
    return queries[-1]


async def answer(bot: Caller, query_id: int, **kwargs: Any) -> bool:
    result = await bot.call(
        fmsg.SetBotCallbackAnswer(
            query_id=query_id, cache_time=kwargs.pop("cache_time", 0), **kwargs
        )
    )
    assert isinstance(result, bool)
    return result
