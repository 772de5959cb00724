"""Bot API layer: the gateway -- Bot API methods over the server's services.

``BotApiGateway.call(route, fields)`` serves one request: it finds the bot by its token (as
``auth.importBotAuthorization`` does), runs the method against the same services, storage,
flood limiter and callback broker as the MTProto side, and returns the ``result`` or raises
``BotApiError``. No MTProto connection is involved: the gateway is a second front door.

Updates reach a bot's Bot API queue in one place, ``_deliver``: the gateway subscribes to
the update hub for every bot that has used the Bot API (a hub session like any MTProto
session), turns the TL updates it gets into Bot API updates and queues them. From the queue
they leave by ``getUpdates`` (long polls wait on the event loop) or, while a webhook is set,
by a delivery task per bot that posts them in order through the HTTP driver's client
(``post``). Everything else is synchronous work over the services.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import urlsplit

from loopgram import tl
from loopgram.botapi import chats as groups
from loopgram.botapi import commands, objects
from loopgram.botapi import queue as signals
from loopgram.botapi.errors import (
    BotApiError,
    bad_request,
    conflict,
    error,
    from_rpc,
    method_not_found,
    not_implemented,
    too_many_requests,
    unauthorized,
)
from loopgram.botapi.objects import JsonObject
from loopgram.botapi.queue import NO_PEERS, QueueSignals, UpdateQueues, update_json
from loopgram.botapi.request import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, Params, Route, dumps
from loopgram.clock import Clock, RandomBytes
from loopgram.server.core import ServerCore
from loopgram.server.errors import RpcError
from loopgram.server.hub import Subscription, UpdateHub
from loopgram.server.services.commands import CommandScope
from loopgram.server.services.limits import storage_failure
from loopgram.server.services.render import render_message, render_user
from loopgram.storage import Account, PeerRef, StorageError, StoredMessage
from loopgram.tl import abcs, types

log = logging.getLogger(__name__)

LONG_POLL_MAX: Final = 50
CONFLICT_WEBHOOK: Final = (
    "can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
    "webhook first"
)
CONFLICT_POLL: Final = (
    "terminated by other getUpdates request; make sure that only one bot instance is running"
)

BOT_API_METHODS: Final = frozenset(
    (
        "addstickertoset answercallbackquery answercustomquery answerguestquery "
        "answerinlinequery answerprecheckoutquery answershippingquery answerwebappquery "
        "approvechatjoinrequest approvesuggestedpost banchatmember banchatsenderchat close "
        "closeforumtopic closegeneralforumtopic convertgifttostars copymessage copymessages "
        "createchatinvitelink createchatsubscriptioninvitelink createforumtopic "
        "createinvoicelink createnewstickerset declinechatjoinrequest declinesuggestedpost "
        "deleteallmessagereactions deletebusinessmessages deletechatphoto "
        "deletechatstickerset deleteforumtopic deletemessage deletemessagereaction "
        "deletemessages deletemycommands deletestickerfromset deletestickerset deletestory "
        "deletewebhook editchatinvitelink editchatsubscriptioninvitelink editforumtopic "
        "editgeneralforumtopic editmessagecaption editmessagechecklist "
        "editmessagelivelocation editmessagemedia editmessagereplymarkup editmessagetext "
        "editstory edituserstarsubscription exportchatinvitelink forwardmessage "
        "forwardmessages getavailablegifts getbusinessaccountgifts "
        "getbusinessaccountstarbalance getbusinessconnection getchat getchatadministrators "
        "getchatgifts getchatmember getchatmembercount getchatmemberscount getchatmenubutton "
        "getcustomemojistickers getfile getforumtopiciconstickers getgamehighscores "
        "getmanagedbotaccesssettings getmanagedbottoken getme getmycommands "
        "getmydefaultadministratorrights getmydescription getmyname getmyshortdescription "
        "getmystarbalance getstartransactions getstickerset getupdates getuserchatboosts "
        "getusergifts getuserpersonalchatmessages getuserprofileaudios getuserprofilephotos "
        "getwebhookinfo giftpremiumsubscription hidegeneralforumtopic leavechat logout "
        "pinchatmessage poststory promotechatmember readbusinessmessage refundstarpayment "
        "removebusinessaccountprofilephoto removechatverification removemyprofilephoto "
        "removeuserverification reopenforumtopic reopengeneralforumtopic "
        "replacemanagedbottoken replacestickerinset repoststory restrictchatmember "
        "revokechatinvitelink savepreparedinlinemessage savepreparedkeyboardbutton "
        "sendanimation sendaudio sendchataction sendchecklist sendcontact sendcustomrequest "
        "senddice senddocument sendgame sendgift sendinvoice sendlivephoto sendlocation "
        "sendmediagroup sendmessage sendmessagedraft sendpaidmedia sendphoto sendpoll "
        "sendsticker sendvenue sendvideo sendvideonote sendvoice setbusinessaccountbio "
        "setbusinessaccountgiftsettings setbusinessaccountname "
        "setbusinessaccountprofilephoto setbusinessaccountusername "
        "setchatadministratorcustomtitle setchatdescription setchatmembertag "
        "setchatmenubutton setchatpermissions setchatphoto setchatstickerset setchattitle "
        "setcustomemojistickersetthumbnail setgamescore setmanagedbotaccesssettings "
        "setmessagereaction setmycommands setmydefaultadministratorrights setmydescription "
        "setmyname setmyprofilephoto setmyshortdescription setpassportdataerrors "
        "setstickeremojilist setstickerkeywords setstickermaskposition "
        "setstickerpositioninset setstickersetthumb setstickersetthumbnail "
        "setstickersettitle setuseremojistatus setwebhook stopmessagelivelocation stoppoll "
        "transferbusinessaccountstars transfergift unbanchatmember unbanchatsenderchat "
        "unhidegeneralforumtopic unpinallchatmessages unpinallforumtopicmessages "
        "unpinallgeneralforumtopicmessages unpinchatmessage upgradegift uploadstickerfile "
        "verifychat verifyuser"
    ).split()
)
"""Every method of the official server (lower case): the ones loopgram does not serve get
a "not implemented by loopgram" answer instead of "method not found"."""


class RawJson(str):
    """A result that is JSON text already (``getUpdates``: the stored bodies, spliced), so
    the HTTP driver writes it as it is instead of encoding it again."""

    __slots__ = ()


@dataclass(slots=True)
class _Bot:
    """What the gateway keeps per bot that has used the Bot API."""

    account: Account
    subscription: Subscription | None = None
    me: JsonObject | None = None
    me_json: RawJson | None = None
    """``getMe``'s result as rendered for ``account`` (dropped with ``me`` on a change)."""
    me_privacy: bool | None = None
    """The privacy mode ``me_json`` shows."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    poll_generation: int = 0
    polling_here: bool = False
    """This process's poll is the bot's newest as far as the other processes were told."""
    webhook_task: asyncio.Task[None] | None = None
    launched_at: float = 0.0
    closed: bool = False
    rendered: dict[int, tuple[StoredMessage, dict[int, JsonObject], JsonObject]] = field(
        default_factory=dict
    )
    """Keyboard messages as the bot's callback queries carry them, by message id: every
    press of a button renders the same message again otherwise."""

    def notify(self) -> None:
        event, self.changed = self.changed, asyncio.Event()
        event.set()


Handler = Callable[["BotApiGateway", _Bot, Params], Any]

Post = Callable[[str, bytes, Mapping[str, str]], Awaitable[tuple[int, Mapping[str, str] | None]]]
"""``(url, JSON body, headers) -> (HTTP status, the answer's fields or None)``: the HTTP
driver's client for webhook deliveries, which reads the answer like a request; it raises
``OSError`` or ``TimeoutError`` when there is no answer."""


WAITING_KINDS: Final = frozenset({"callback_query", "inline_query"})
"""Updates whose cause, a user's call, waits for the bot's answer (written in batches)."""
SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
RENDERED_MAX: Final = 1024
UNQUEUED_MAX: Final = 1_000_000
"""Accounts remembered as having no Bot API queue before the memory starts over."""
TOKENS_MAX: Final = 1024
WEBHOOK_RETRY_MAX: Final = 60.0
_NOT_FROM_WEBHOOK: Final = frozenset({"setwebhook", "deletewebhook", "close", "logout"})
_SECRET: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")


async def _changed_within(changed: asyncio.Event, seconds: float | None) -> None:
    """Wait until ``changed`` is set, or ``seconds`` at the most (``None``: no limit)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await changed.wait()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def inline_message_id(inline_id: abcs.InputBotInlineMessageID) -> str:
    """The official form: unpadded base64url of the bare TL serialisation."""
    return base64.urlsafe_b64encode(bytes(inline_id)[4:]).rstrip(b"=").decode()


def parse_inline_message_id(text: str) -> abcs.InputBotInlineMessageID:
    """The inverse of ``inline_message_id``: 20 bytes are ``inputBotInlineMessageID``, 24
    ``inputBotInlineMessageID64``; anything else is an invalid id."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise bad_request("invalid inline_message_id specified") from None
    parsed: abcs.InputBotInlineMessageID
    if len(raw) == 24:
        parsed = tl.read(raw, types.InputBotInlineMessageID64)
        return parsed
    if len(raw) == 20:
        parsed = tl.read(raw, types.InputBotInlineMessageID)
        return parsed
    raise bad_request("invalid inline_message_id specified")


class BotApiGateway:
    def __init__(
        self,
        core: ServerCore,
        *,
        clock: Clock | None = None,
        random_bytes: RandomBytes | None = None,
        post: Post | None = None,
        webhook_retry_delay: float = 1.0,
        signals: QueueSignals = NO_PEERS,
        queue_hub: UpdateHub | None = None,
    ) -> None:
        self.core = core
        # With other processes on the same queues: each queues the updates that arose in it
        # (``queue_hub`` delivers only those) and tells the others through ``signals``.
        self.signals = signals
        self._queue_hub = queue_hub if queue_hub is not None else core.hub
        self.post = post
        self.webhook_retry_delay = webhook_retry_delay
        self.services = core.services
        self.storage = core.storage
        self.clock = clock or core.clock
        self._random = random_bytes or os.urandom
        self.queues = UpdateQueues(
            core.storage,
            self.clock,
            self._random,
            callback_ttl=core.config.callback_timeout,
        )
        self._bots: dict[int, _Bot] = {}
        self._tokens: dict[str, tuple[Account, int]] = {}
        self._tokens_resets = 0
        # Updates staged in this event-loop turn are written by one transaction at its end.
        self._flush_handle: asyncio.Handle | None = None
        self._staged_bots: dict[int, _Bot] = {}
        self._warned: set[str] = set()
        self.closed = False
        # Accounts known to have no Bot API queue (``unheard``); a bot leaves on its first
        # request here or on another process's word (``OPENED``).
        self._unqueued: set[int] = set()
        signals.bind(self._signalled)

    # -- lifecycle --------------------------------------------------------------------------

    def restore(self) -> None:
        """Subscribe every bot that has a queue, so that updates keep arriving after a
        restart before the bot's first request."""
        for bot_id in self.queues.bots():
            account = self.storage.accounts.get(bot_id)
            if account is not None and account.is_bot:
                self.start_webhook(self._attach(account, announce=False))

    def start_webhooks(self) -> None:
        """Start delivering to the webhooks of the bots known so far (the HTTP driver calls
        it once it can post)."""
        for bot in list(self._bots.values()):
            self.start_webhook(bot)

    def close(self) -> None:
        """Stop taking requests and updates; waiting long polls answer with nothing."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._end_of_turn()
        self.closed = True
        for bot in list(self._bots.values()):
            self.release(bot)

    def release(self, bot: _Bot) -> None:
        """Forget the bot's instance (``close``, ``logOut``, shutdown): no more updates are
        queued for it until its next request; a waiting long poll answers with nothing."""
        if bot.subscription is not None:
            bot.subscription.cancel()
            bot.subscription = None
        if bot.webhook_task is not None:
            bot.webhook_task.cancel()
            bot.webhook_task = None
        bot.closed = True
        bot.notify()
        self._unqueued.add(bot.account.id)
        if self._bots.get(bot.account.id) is bot:
            del self._bots[bot.account.id]

    def unheard(self, account_id: int, updates: abcs.Updates) -> None:
        """Updates that arose in this process for an account not attached here (the queue
        hub's hook): a bot whose first Bot API request went to another process a moment
        ago -- its ``OPENED`` signal may still be on its way -- is attached now and queued
        for; any other account is remembered as none of the gateway's business."""
        if account_id in self._unqueued or self.closed:
            return
        with self.storage.reading():
            account = self.storage.accounts.get(account_id)
            if account is None or not account.is_bot or self.queues.state(account_id) is None:
                if len(self._unqueued) >= UNQUEUED_MAX:
                    self._unqueued.clear()
                self._unqueued.add(account_id)
                return
            bot = self._attach(account, announce=False)
        self._deliver(bot, updates)

    def _signalled(self, kind: str, bot_id: int) -> None:
        """A signal from another process serving the same queues."""
        if self.closed:
            return
        if kind == signals.RESYNC:
            # Signals were lost: forget what they would have changed, and wake every poll
            # and delivery to look at the queues again.
            self.queues.forget()
            self._unqueued.clear()
            with self.storage.reading():
                self.restore()
            for known in list(self._bots.values()):
                known.notify()
            return
        bot = self._bots.get(bot_id)
        if kind == signals.OPENED:
            self._unqueued.discard(bot_id)
            if bot is None:
                with self.storage.reading():
                    account = self.storage.accounts.get(bot_id)
                    if account is not None and account.is_bot:
                        self.start_webhook(self._attach(account, announce=False))
            return
        if kind == signals.CHANGED:
            self.queues.forget(bot_id)
        if kind == signals.RELEASED:
            self._unqueued.add(bot_id)
        if bot is None:
            return
        if kind == signals.RELEASED:
            self.release(bot)
            return
        if kind == signals.POLLING:
            bot.polling_here = False
            bot.poll_generation += 1
        bot.notify()
        if kind == signals.CHANGED:
            self.start_webhook(bot)

    # -- requests ---------------------------------------------------------------------------

    async def call(self, route: Route, fields: Mapping[str, str]) -> Any:
        """The ``result`` of one request, or ``BotApiError``."""
        feed = self.core.feed
        if not feed.listening:
            return await self._call(route, fields)
        began = time.perf_counter()
        bot_id = route.token.partition(":")[0]
        account_id = int(bot_id) if bot_id.isdigit() else None
        try:
            result = await self._call(route, fields)
        except BotApiError as e:
            error_text = f"{e.code} {e.description}"
            feed.call("botapi", account_id, route.name or route.method, error_text, began, fields)
            raise
        feed.call("botapi", account_id, route.name or route.method, None, began, fields)
        return result

    async def _call(self, route: Route, fields: Mapping[str, str]) -> Any:
        try:
            if self.closed:
                raise error(500, "the server is stopping")
            if not route.method:
                raise method_not_found()
            with self.storage.reading():
                # The token check and the method's reads share one check for other
                # connections' commits.
                bot = self._authorize(route.token)
                result = self._start(bot, route.method, route.name, fields)
            if isinstance(result, Awaitable):
                result = await result
            return result
        except BotApiError:
            raise
        except RpcError as e:
            raise from_rpc(e, route.method) from None
        except StorageError as e:
            # The MTProto dispatcher's answers: a busy database is a one-second flood wait
            # (429, retry_after 1), a value the backend cannot keep INPUT_REQUEST_TOO_LONG.
            refusal = storage_failure(e)
            if refusal is None:
                log.exception("Bot API method %s failed", route.method)
                raise error(500) from None
            raise from_rpc(refusal, route.method) from None
        except Exception:
            log.exception("Bot API method %s failed", route.method)
            raise error(500) from None

    def download(self, token: str, file_path: str) -> bytes:
        """The file behind ``/file/bot<token>/<file_path>``: 401 for an unknown token, 404
        for a path no file has (loopgram keeps no files yet, so every path)."""
        if self.closed:
            raise error(500, "the server is stopping")
        with self.storage.reading():
            self._authorize(token)
        raise BotApiError(404, "Not Found")

    async def _invoke(self, bot: _Bot, method: str, name: str, fields: Mapping[str, str]) -> Any:
        with self.storage.reading():
            result = self._start(bot, method, name, fields)
        if isinstance(result, Awaitable):
            result = await result
        return result

    def _start(self, bot: _Bot, method: str, name: str, fields: Mapping[str, str]) -> Any:
        """The method's synchronous part: its result, or an awaitable for the rest."""
        handler = _METHODS.get(method)
        if handler is None:
            if method in BOT_API_METHODS:
                if method not in self._warned:
                    self._warned.add(method)
                    log.warning("Bot API method %s is not implemented by loopgram", name)
                raise not_implemented(name or method)
            raise method_not_found()
        return handler(self, bot, Params(fields))

    # -- webhooks ---------------------------------------------------------------------------

    def start_webhook(self, bot: _Bot) -> None:
        """Run the bot's delivery task if it has a webhook (and none runs yet)."""
        if self.post is None or self.closed:
            return
        if bot.webhook_task is not None and not bot.webhook_task.done():
            return
        state = self.queues.state(bot.account.id)
        if state is None or state.webhook is None:
            return
        bot.webhook_task = asyncio.get_running_loop().create_task(
            self._deliver_webhook(bot), name=f"loopgram-webhook-{bot.account.id}"
        )

    async def _deliver_webhook(self, bot: _Bot) -> None:
        """Send the queue to the webhook in order, one update at a time, each until the
        webhook answers 2xx (retrying with a doubling delay); run a method call found in an
        answer's body. Ends when the webhook is deleted or the gateway closes."""
        post = self.post
        if post is None:
            return
        try:
            await self._deliver_webhook_as_deliverer(bot, post)
        finally:
            self.signals.resign(bot.account.id)

    async def _deliver_webhook_as_deliverer(self, bot: _Bot, post: Post) -> None:
        bot_id = bot.account.id
        delay = self.webhook_retry_delay
        renewal = self.signals.lease_renewal
        while not self.closed:
            changed = bot.changed
            with self.storage.reading():
                state = self.queues.state(bot_id)
                webhook = None if state is None else state.webhook
            if webhook is None:
                return
            # Another process may deliver this bot's webhook: one at a time does.
            if not await self.signals.deliverer(bot_id):
                await _changed_within(changed, renewal)
                continue
            with self.storage.reading():
                found = self.queues.take(bot_id, 0, 1)
            if not found:
                # The deliverer keeps its right by coming back within ``renewal``.
                await _changed_within(changed, renewal)
                continue
            update = found[0]
            body = update_json(update).encode()
            headers = {"Content-Type": "application/json"}
            if webhook.secret:
                headers[SECRET_HEADER] = webhook.secret
            failure: str | None = None
            answer: Mapping[str, str] | None = None
            try:
                status, answer = await post(webhook.url, body, headers)
            except TimeoutError:
                failure = "Read timeout expired"
            except OSError as e:
                failure = f"Connection error: {e.strerror or e}"
            else:
                if not 200 <= status < 300:
                    failure = f"Wrong response from the webhook: {status} {_reason(status)}"
            if failure is not None:
                self.queues.webhook_failed(bot_id, failure)
                try:
                    await asyncio.wait_for(changed.wait(), delay)
                except TimeoutError:
                    pass
                delay = min(delay * 2, WEBHOOK_RETRY_MAX)
                continue
            delay = self.webhook_retry_delay
            self.queues.confirm(bot_id, update.update_id + 1)
            await self._run_webhook_reply(bot, answer)

    async def _run_webhook_reply(self, bot: _Bot, answer: Mapping[str, str] | None) -> None:
        """A method call in the webhook's answer (its ``method`` field and parameters) is
        executed, as the official server does, but for methods whose answer would be lost."""
        if not answer or not answer.get("method"):
            return
        name = answer["method"]
        method = name.lower()
        if method.startswith("get") or method in _NOT_FROM_WEBHOOK:
            return
        fields = {k: v for k, v in answer.items() if k != "method"}
        try:
            await self._invoke(bot, method, name, fields)
        except BotApiError as e:
            log.info("method %s from the webhook's answer failed: %s", name, e.description)
        except RpcError as e:
            log.info("method %s from the webhook's answer failed: %s", name, e.message)

    def _authorize(self, token: str) -> _Bot:
        # A token checked once is trusted while nothing could have changed its secret: the
        # same cached account row (SQLite's row cache drops its rows whenever another
        # connection -- a CLI ``bot token --reset`` -- commits, so a new object means
        # "check again") and no ``reset_bot_token`` in this process since. The full check
        # (an indexed read and a hash) was most of a cheap request's cost.
        resets = self.services.accounts.token_resets
        known = self._tokens.get(token)
        if known is not None and known[1] == resets:
            current = self.storage.accounts.get(known[0].id)
            if current is known[0]:
                return self._attach(current)
        try:
            account = self.services.accounts.import_bot(token)
        except RpcError:
            self._tokens.pop(token, None)
            raise unauthorized() from None
        if resets != self._tokens_resets:
            self._tokens.clear()
            self._tokens_resets = resets
        if len(self._tokens) >= TOKENS_MAX:
            self._tokens.clear()
        # The row cache's object, so that the identity check above can hold next time.
        self._tokens[token] = (self.storage.accounts.get(account.id) or account, resets)
        return self._attach(account)

    def _attach(self, account: Account, *, announce: bool = True) -> _Bot:
        bot = self._bots.get(account.id)
        if bot is None:
            bot = self._bots[account.id] = _Bot(account, launched_at=self.clock())
        elif bot.account != account:
            bot.account = account
            bot.me = None
            bot.me_json = None
        if bot.subscription is None:
            self.queues.open(account.id)
            target = bot

            def sink(updates: abcs.Updates) -> None:
                self._deliver(target, updates)

            bot.subscription = self._queue_hub.subscribe(account.id, self.hub_key(account.id), sink)
            if announce:
                # The other processes queue what arises in them for this bot from now on.
                self.signals.send(signals.OPENED, account.id)
        return bot

    @staticmethod
    def hub_key(bot_id: int) -> tuple[str, int]:
        return ("botapi", bot_id)

    # -- updates ----------------------------------------------------------------------------

    def _deliver(self, bot: _Bot, updates: abcs.Updates) -> None:
        """The hub's sink for one bot: TL updates -> its Bot API queue."""
        if not isinstance(updates, types.Updates):
            return
        users = self._users(bot, updates.users)
        # Only group updates name chats: private ones skip the group conversion.
        chats = objects.chats_to_api(updates.chats) if updates.chats else None
        queued = False
        with self.storage.reading():
            for update in updates.updates:
                items = None
                if chats is not None:
                    items = groups.group_updates(self, bot, update, users, chats)
                if items is None:
                    item = self._convert(bot, update, users)
                    items = [] if item is None else [item]
                for item in items:
                    if item[0] in WAITING_KINDS and self._stage(bot, *item):
                        continue
                    if self.queues.staged:
                        self._flush_staged()  # what came before is queued before
                    if self.queues.push(bot.account.id, *item) is not None:
                        queued = True
        if queued:
            bot.notify()
            self.signals.send(signals.QUEUED, bot.account.id)

    def _stage(self, bot: _Bot, kind: str, obj: JsonObject) -> bool:
        """Whether the update was left for the end of this event-loop turn, when every
        update staged in the turn is written by one transaction before any bot is woken
        (``False``: queue it now). Only for ``WAITING_KINDS``: their user's call waits for
        the bot, which cannot answer before it has read the update, so the user's answer
        always follows the commit."""
        if self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return False
            # The first of a turn is written at once (one user: no batch to wait for). The
            # flush is scheduled before that update wakes the bot, so that in the next turn
            # it runs ahead of the woken poll, which then finds the whole batch.
            self._flush_handle = loop.call_soon(self._end_of_turn)
            return False
        if self.queues.stage(bot.account.id, kind, obj):
            self._staged_bots[bot.account.id] = bot
        return True

    def _end_of_turn(self) -> None:
        self._flush_handle = None
        self._flush_staged()

    def _flush_staged(self) -> None:
        bots, self._staged_bots = self._staged_bots, {}
        try:
            pushed = self.queues.flush()
        except Exception:
            # As for one update: the presses then time out, as with a bot that is away.
            log.exception("queueing %d Bot API updates failed", len(bots))
            return
        for bot_id in {u.bot_id for u in pushed}:
            # The instance polling now (a release meanwhile starts a new one).
            woken = self._bots.get(bot_id) or bots.get(bot_id)
            if woken is not None:
                woken.notify()
            self.signals.send(signals.QUEUED, bot_id)

    def _convert(
        self, bot: _Bot, update: abcs.Update, users: dict[int, JsonObject]
    ) -> tuple[str, JsonObject] | None:
        if isinstance(update, types.UpdateNewMessage | types.UpdateEditMessage):
            new = update.message
            if not isinstance(new, types.Message) or new.out:
                return None  # the bot's own messages are not updates for it
            if not isinstance(new.peer_id, types.PeerUser):
                return None  # a group's: ``chats.group_updates`` converts those
            kind = "message" if isinstance(update, types.UpdateNewMessage) else "edited_message"
            return kind, self.with_reply(bot, new, objects.message_to_api(new, users), users)
        if isinstance(update, types.UpdateBotCallbackQuery):
            if not isinstance(update.peer, types.PeerUser):
                return None  # a press in a group: as for its messages, above
            copy = self.storage.messages.get(bot.account.id, update.msg_id)
            message: JsonObject
            if copy is None:
                chat = users.get(update.user_id, {"id": update.user_id, "first_name": ""})
                message = {
                    "message_id": update.msg_id,
                    "chat": objects.private_chat(chat),
                    "date": 0,
                }
            else:
                message = self._callback_message(bot, copy, users)
            return "callback_query", objects.callback_query_to_api(update, users, message)
        if isinstance(update, types.UpdateInlineBotCallbackQuery):
            return "callback_query", objects.callback_query_to_api(
                update, users, None, inline_message_id(update.msg_id)
            )
        if isinstance(update, types.UpdateBotInlineQuery):
            return "inline_query", objects.inline_query_to_api(update, users)
        if isinstance(update, types.UpdateBotInlineSend):
            inline_id = None if update.msg_id is None else inline_message_id(update.msg_id)
            return "chosen_inline_result", objects.chosen_inline_result_to_api(
                update, users, inline_id
            )
        return None

    def _callback_message(
        self, bot: _Bot, copy: StoredMessage, users: dict[int, JsonObject]
    ) -> JsonObject:
        # Valid while the stored copy and the users it names render the same (an edit, a
        # new name: a miss). The rendered object is shared, never changed afterwards.
        cached = bot.rendered.get(copy.id)
        if cached is not None and cached[0] == copy and cached[1] == users:
            return cached[2]
        rendered = render_message(copy)
        message = self.with_reply(bot, rendered, objects.message_to_api(rendered, users), users)
        if len(bot.rendered) >= RENDERED_MAX:
            del bot.rendered[next(iter(bot.rendered))]
        bot.rendered[copy.id] = (copy, users, message)
        return message

    def _users(self, bot: _Bot, tl_users: list[abcs.User]) -> dict[int, JsonObject]:
        users: dict[int, JsonObject] = {}
        for user in tl_users:
            rendered = objects.user_to_api(user)
            users[rendered["id"]] = rendered
        users.setdefault(bot.account.id, self.me(bot))
        return users

    def me(self, bot: _Bot) -> JsonObject:
        current = self.storage.accounts.get(bot.account.id) or bot.account
        if bot.me is None or current != bot.account:
            if current != bot.account:
                bot.me_json = None
            bot.account = current
            bot.me = objects.user_to_api(render_user(current, current.id))
        return bot.me

    # -- helpers for the methods -------------------------------------------------------------

    def chat_peer(self, params: Params) -> tuple[Account, types.InputPeerUser]:
        raw = params.text("chat_id")
        if raw is None:
            raise bad_request("chat_id is empty")
        raw = raw.strip()
        account: Account | None
        if raw.startswith("@"):
            account = self.storage.accounts.get_by_username(raw[1:])
        else:
            try:
                chat_id = int(raw)
            except ValueError:
                raise bad_request("chat not found") from None
            # Private chats only: a chat id is a user id (positive, within int64).
            known = 0 < chat_id <= INT64_MAX
            account = self.storage.accounts.get(chat_id) if known else None
        if account is None:
            raise bad_request("chat not found")
        return account, types.InputPeerUser(user_id=account.id, access_hash=account.access_hash)

    def text_and_entities(
        self, params: Params, text_field: str = "text"
    ) -> tuple[str | None, list[abcs.MessageEntity] | None]:
        text = params.text(text_field)
        raw_entities = params.json("entities", "message entities")
        if text is None:
            return None, None if raw_entities is None else objects.entities_from_api(raw_entities)
        return _parse_text(text, (params.text("parse_mode") or "").strip(), raw_entities)

    def markup(self, params: Params) -> abcs.ReplyMarkup | None:
        return objects.markup_from_api(params.json("reply_markup", "reply keyboard markup"))

    def flood(self, bot: _Bot, method: str, peer: abcs.InputPeer | None = None) -> None:
        query = None if peer is None else _PeerHolder(peer)
        self.core.limiter.check(("account", bot.account.id), method, query, bot=True)

    def render(self, bot: _Bot, result: abcs.Updates) -> JsonObject:
        """The message a send or edit produced, as the bot sees it."""
        if isinstance(result, types.Updates):
            users = self._users(bot, result.users)
            chats = objects.chats_to_api(result.chats)
            for update in result.updates:
                if isinstance(update, _MESSAGE_UPDATES) and isinstance(
                    update.message, types.Message
                ):
                    new = update.message
                    rendered = objects.message_to_api(new, users, chats)
                    return self.with_reply(bot, new, rendered, users, chats)
        raise error(500)

    def with_reply(
        self,
        bot: _Bot,
        message: types.Message,
        rendered: JsonObject,
        users: Mapping[int, JsonObject],
        chats: Mapping[int, JsonObject] | None = None,
    ) -> JsonObject:
        """``rendered`` with ``reply_to_message``: the replied message as the bot's box holds
        it, one level deep as officially (left out once the bot no longer has it)."""
        header = message.reply_to
        if not isinstance(header, types.MessageReplyHeader) or header.reply_to_msg_id is None:
            return rendered
        if isinstance(message.peer_id, types.PeerChannel):
            return groups.channel_reply(self, bot, message, rendered, users, chats or {})
        copy = self.storage.messages.get(bot.account.id, header.reply_to_msg_id)
        if copy is None:
            return rendered
        replied = render_message(copy)
        if chats is None:
            rendered["reply_to_message"] = objects.message_to_api(replied, users)
        else:
            rendered["reply_to_message"] = objects.message_to_api(replied, users, chats)
        return rendered

    def random_id(self) -> int:
        return int.from_bytes(self._random(8), "little", signed=True)


_MESSAGE_UPDATES: Final = (
    types.UpdateNewMessage,
    types.UpdateEditMessage,
    types.UpdateNewChannelMessage,
    types.UpdateEditChannelMessage,
)
"""The updates that carry the message a send or edit produced."""


def _parse_text(
    text: str, mode: str | None, entities: Any
) -> tuple[str, list[abcs.MessageEntity] | None]:
    """A text with its ``entities`` (parsed JSON) or in ``parse_mode`` ``mode``, as a message's
    plain text and entities: explicit entities win over the mode, as officially."""
    if entities is not None:
        return text, objects.entities_from_api(entities)
    if mode:
        from loopgram.botapi.formatting import parse

        return parse(text, mode)
    return text, None


@dataclass(frozen=True, slots=True)
class _PeerHolder:
    """What the flood limiter reads a message's chat from."""

    peer: abcs.InputPeer


# -- the methods ------------------------------------------------------------------------------


def _get_me(gw: BotApiGateway, bot: _Bot, params: Params) -> RawJson:
    # ``bot.account`` was refreshed from the storage by this request's token check; the
    # privacy mode lives apart from it (the CLI switches it), so it is read each time.
    privacy = gw.storage.chats.bot_privacy(bot.account.id)
    if bot.me_json is None or bot.me_privacy is not privacy:
        me = objects.me_to_api(render_user(bot.account, bot.account.id), privacy=privacy)
        bot.me_json = RawJson(dumps(me))
        bot.me_privacy = privacy
    return bot.me_json


def _send_message(gw: BotApiGateway, bot: _Bot, params: Params) -> JsonObject:
    # The official order: the text and markup are read before the chat is looked up.
    text, entities = gw.text_and_entities(params)
    if not text:
        raise bad_request("message text is empty")
    markup = gw.markup(params)
    reply = _reply_parameters(params)
    group = groups.group_of(gw, bot, params)
    if group is not None:
        group_reply = None
        if reply is not None:
            group_reply = groups.reply_target(
                gw, bot, group, reply.message_id, reply.chat_id, allow_without=reply.allow_without
            )
        return groups.send_message(gw, bot, group, text, entities, markup, group_reply)
    account, peer = gw.chat_peer(params)
    reply_to = _reply_target(gw, bot, account, reply)
    gw.flood(bot, "messages.sendMessage", peer)
    result = gw.services.messages.send_message(
        bot.account,
        peer,
        text,
        random_id=gw.random_id(),
        reply_markup=markup,
        entities=entities,
        reply_to=reply_to,
        origin=gw.hub_key(bot.account.id),
    )
    return gw.render(bot, result)


@dataclass(frozen=True, slots=True)
class _Reply:
    """A send's ``reply_parameters`` (or the legacy ``reply_to_message_id`` pair)."""

    message_id: int
    chat_id: str | None = None
    allow_without: bool = False


def _reply_parameters(params: Params) -> _Reply | None:
    """As the official server reads them: without ``reply_parameters`` the legacy
    ``reply_to_message_id`` (anything but a positive number is no reply) and
    ``allow_sending_without_reply``; else a JSON object with a required ``message_id``."""
    raw = params.text("reply_parameters")
    if raw is None:
        legacy = (params.text("reply_to_message_id") or "").strip()
        message_id = int(legacy) if re.fullmatch(r"[+-]?\d{1,10}", legacy) else 0
        if not 0 < message_id <= INT32_MAX:
            return None
        return _Reply(
            message_id, allow_without=_lenient_bool(params, "allow_sending_without_reply")
        )
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise bad_request("Can't parse reply parameters JSON object") from None
    if not isinstance(value, dict):
        raise bad_request("Object expected as reply parameters")
    if not value:
        return None
    message_id = _json_int(value, "message_id")
    allow = value.get("allow_sending_without_reply", False)
    if not isinstance(allow, bool):
        raise bad_request('Field "allow_sending_without_reply" must be of type Boolean')
    chat = value.get("chat_id")
    if isinstance(chat, bool) or not isinstance(chat, str | int | None):
        raise bad_request('Field "chat_id" must be of type String')
    if message_id <= 0:
        return None
    return _Reply(message_id, None if chat is None else str(chat).strip(), allow)


def _json_int(value: Mapping[str, Any], name: str) -> int:
    """A required int32 field of a JSON object, with TDLib's texts."""
    if name not in value:
        raise bad_request(f'Can\'t find field "{name}"')
    field_value = value[name]
    if isinstance(field_value, bool) or not isinstance(field_value, int | str):
        raise bad_request(f'Field "{name}" must be a Number')
    try:
        number = int(str(field_value).strip())
    except ValueError:
        raise bad_request(f'Field "{name}" must be a valid Number') from None
    if not INT32_MIN <= number <= INT32_MAX:
        raise bad_request(f'Field "{name}" must be a valid Number')
    return number


def _lenient_bool(params: Params, name: str) -> bool:
    # The official server's to_bool: anything but a true-ish word is false, never an error.
    return (params.text(name) or "").strip().lower() in ("true", "1", "yes")


def _reply_target(gw: BotApiGateway, bot: _Bot, chat: Account, reply: _Reply | None) -> int | None:
    """The bot's id of the message to reply to in the private chat with ``chat``, checked as
    officially: a missing message fails the send unless ``allow_sending_without_reply``."""
    if reply is None:
        return None
    if reply.chat_id is not None:
        named = reply.chat_id
        same = named == str(chat.id) or (
            chat.username is not None and named.lower() == f"@{chat.username.lower()}"
        )
        if not same:
            raise bad_request("replies to messages of other chats are not implemented by loopgram")
    if _own_copy(gw, bot, chat.id, reply.message_id) is None:
        if reply.allow_without:
            return None
        raise bad_request("message to be replied not found")
    return reply.message_id


def _edit(gw: BotApiGateway, bot: _Bot, params: Params, *, with_text: bool) -> JsonObject | bool:
    inline = params.text("inline_message_id")
    if inline is not None:
        return _edit_inline(gw, bot, params, inline, with_text=with_text)
    group = groups.group_of(gw, bot, params)
    peer = group.peer if group is not None else gw.chat_peer(params)[1]
    message_id = params.integer("message_id", low=INT32_MIN, high=INT32_MAX)
    if message_id is None:
        raise bad_request("message identifier is not specified")
    text: str | None = None
    entities: list[abcs.MessageEntity] | None = None
    if with_text:
        text, entities = gw.text_and_entities(params)
        if not text:
            raise bad_request("text is not specified")
    markup = gw.markup(params)
    if group is not None:
        return groups.edit_message(gw, bot, group, message_id, text, markup)
    gw.flood(bot, "messages.editMessage", peer)
    result = gw.services.messages.edit_message(
        bot.account,
        peer,
        message_id,
        text=text,
        entities=entities,
        reply_markup=markup,
        origin=gw.hub_key(bot.account.id),
    )
    return gw.render(bot, result)


def _edit_inline(
    gw: BotApiGateway, bot: _Bot, params: Params, inline: str, *, with_text: bool
) -> bool:
    """An inline message's edit answers ``true``, as officially (there is no chat copy of
    the bot's to show)."""
    inline_id = parse_inline_message_id(inline)
    text: str | None = None
    entities: list[abcs.MessageEntity] | None = None
    if with_text:
        text, entities = gw.text_and_entities(params)
        if not text:
            raise bad_request("text is not specified")
    markup = gw.markup(params)
    gw.flood(bot, "messages.editInlineBotMessage")
    gw.services.messages.edit_inline(
        bot.account, inline_id, text=text, entities=entities, reply_markup=markup
    )
    return True


def _lenient_query_id(params: Params, name: str) -> int:
    # As the official server: the id is read leniently; anything that is not a 64-bit
    # number becomes 0, which no query has, so the answer is QUERY_ID_INVALID.
    raw = (params.text(name) or "").strip()
    try:
        query_id = int(raw)
    except ValueError:
        return 0
    return query_id if INT64_MIN <= query_id <= INT64_MAX else 0


async def _answer_inline_query(gw: BotApiGateway, bot: _Bot, params: Params) -> bool:
    query_id = _lenient_query_id(params, "inline_query_id")
    results = objects.inline_results_from_api(
        params.json("results", "inline query results"), _parse_text
    )
    cache_time = params.integer("cache_time", 300, low=0, high=2_592_000, clamp=True)
    gw.flood(bot, "messages.setInlineBotResults")
    return await gw.core.presses.answer_inline(
        bot.account,
        query_id,
        results,
        cache_time=300 if cache_time is None else cache_time,
        next_offset=params.text("next_offset"),
    )


def _edit_message_text(gw: BotApiGateway, bot: _Bot, params: Params) -> JsonObject | bool:
    return _edit(gw, bot, params, with_text=True)


def _edit_message_reply_markup(gw: BotApiGateway, bot: _Bot, params: Params) -> JsonObject | bool:
    return _edit(gw, bot, params, with_text=False)


async def _answer_callback_query(gw: BotApiGateway, bot: _Bot, params: Params) -> bool:
    query_id = _lenient_query_id(params, "callback_query_id")
    cache_time = params.integer("cache_time", 0, low=0, high=2_592_000, clamp=True) or 0
    gw.flood(bot, "messages.setBotCallbackAnswer")
    return await gw.core.presses.answer(
        bot.account,
        query_id,
        alert=params.boolean("show_alert"),
        message=params.text("text"),
        url=params.text("url"),
        cache_time=cache_time,
    )


def _allowed_kinds(allowed: Any) -> list[str]:
    """The parsed ``allowed_updates`` of ``getUpdates`` and ``setWebhook`` as update kinds."""
    if not isinstance(allowed, list):
        raise bad_request("can't parse allowed updates: expected an Array")
    return [k for k in allowed if isinstance(k, str)]


async def _get_updates(gw: BotApiGateway, bot: _Bot, params: Params) -> RawJson | list[Any]:
    offset = params.integer("offset", 0, low=INT32_MIN, high=INT32_MAX, clamp=True) or 0
    limit = params.integer("limit", 100, low=1, high=100, clamp=True) or 100
    timeout = params.integer("timeout", 0, low=0, high=LONG_POLL_MAX, clamp=True) or 0
    allowed = params.json("allowed_updates", "allowed updates")
    bot_id = bot.account.id
    if gw.queues.has_webhook(bot_id):
        raise conflict(CONFLICT_WEBHOOK)
    if allowed is not None and gw.queues.set_allowed(bot_id, _allowed_kinds(allowed)):
        gw.signals.send(signals.CHANGED, bot_id)
    # A newer poll takes over: the older one, if still waiting, answers 409 -- in another
    # process too, told once per change of process.
    if not bot.polling_here:
        bot.polling_here = True
        gw.signals.send(signals.POLLING, bot_id)
    bot.poll_generation += 1
    generation = bot.poll_generation
    bot.notify()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        changed = bot.changed
        with gw.storage.reading():
            found = gw.queues.take(bot_id, offset, limit)
        if found or timeout == 0:
            return RawJson(f"[{','.join(update_json(u) for u in found)}]")
        remaining = deadline - loop.time()
        if remaining <= 0:
            return []
        if asyncio.current_task() is None:
            # The HTTP driver runs a request's first step outside any task (most answer at
            # once); the timeout below only works inside the task it then makes.
            await asyncio.sleep(0)
        try:
            async with asyncio.timeout(remaining):
                await changed.wait()
        except TimeoutError:
            return []
        if gw.closed or bot.closed:
            return []
        if gw.queues.has_webhook(bot_id):
            raise conflict(CONFLICT_WEBHOOK)
        if bot.poll_generation != generation:
            raise conflict(CONFLICT_POLL)
        if offset < 0:
            # A negative offset trims the queue once, as the official server does; what
            # arrives while waiting is read from the head.
            offset = 0


def _set_webhook(gw: BotApiGateway, bot: _Bot, params: Params) -> bool:
    url = (params.text("url") or "").strip()
    if not url:
        return _delete_webhook(gw, bot, params)
    parts = urlsplit(url)
    # As the official server's local mode: http and any port are allowed, loopback too.
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise bad_request("bad webhook: an HTTP URL must be provided for webhook")
    secret = params.text("secret_token")
    if secret is not None and not _SECRET.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    max_connections = params.integer("max_connections", 40, low=1, high=100, clamp=True) or 40
    allowed = params.json("allowed_updates", "allowed updates")
    if allowed is not None:
        gw.queues.set_allowed(bot.account.id, _allowed_kinds(allowed))  # CHANGED below
    if params.boolean("drop_pending_updates"):
        gw.queues.drop_all(bot.account.id)
    gw.queues.set_webhook(bot.account.id, url, secret=secret, max_connections=max_connections)
    # A waiting long poll learns of the webhook (409); a running delivery rereads it.
    bot.notify()
    gw.signals.send(signals.CHANGED, bot.account.id)
    gw.start_webhook(bot)
    return True


def _delete_webhook(gw: BotApiGateway, bot: _Bot, params: Params) -> bool:
    if params.boolean("drop_pending_updates"):
        gw.queues.drop_all(bot.account.id)
    gw.queues.set_webhook(bot.account.id, None)
    bot.notify()
    gw.signals.send(signals.CHANGED, bot.account.id)
    return True


DELETE_WINDOW: Final = 48 * 3600
"""Seconds after sending within which a bot may delete a message (as officially)."""
DELETE_MAX: Final = 100


def _own_copy(gw: BotApiGateway, bot: _Bot, chat_id: int, message_id: int) -> StoredMessage | None:
    copy = gw.storage.messages.get(bot.account.id, message_id)
    if copy is None or copy.peer != PeerRef.user(chat_id):
        return None
    return copy


def _delete_message(gw: BotApiGateway, bot: _Bot, params: Params) -> bool:
    """One message of a private chat, the bot's or the user's, for both sides (as a bot's
    ``messages.deleteMessages`` with ``revoke``), within 48 hours of its sending."""
    group = groups.group_of(gw, bot, params)
    chat = gw.chat_peer(params) if group is None else None
    message_id = params.integer("message_id", low=INT32_MIN, high=INT32_MAX)
    if message_id is None:
        raise bad_request("message identifier is not specified")
    if group is not None:
        return groups.delete_messages(gw, bot, group, [message_id], single=True)
    account, peer = chat or gw.chat_peer(params)
    copy = _own_copy(gw, bot, account.id, message_id)
    if copy is None:
        raise bad_request("message to delete not found")
    if copy.date < gw.clock() - DELETE_WINDOW:
        raise bad_request("message can't be deleted")
    gw.flood(bot, "messages.deleteMessages", peer)
    gw.services.messages.delete_messages(
        bot.account, [message_id], revoke=True, origin=gw.hub_key(bot.account.id)
    )
    return True


def _delete_messages(gw: BotApiGateway, bot: _Bot, params: Params) -> bool:
    """Up to 100 messages of one chat; as officially, those that cannot be found or are too
    old to delete are skipped."""
    group = groups.group_of(gw, bot, params)
    chat = gw.chat_peer(params) if group is None else None
    raw = params.json("message_ids", "message_ids")
    if raw is None:
        raise bad_request("message identifiers are not specified")
    if not isinstance(raw, list):
        raise bad_request("expected an Array of message identifiers")
    if len(raw) > DELETE_MAX:
        raise bad_request("too many message identifiers specified")
    ids: list[int] = []
    for item in raw:
        value = item
        if isinstance(item, str):
            try:
                value = int(item.strip())
            except ValueError:
                value = None
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request("invalid message identifier specified")
        if not 0 < value <= INT32_MAX:
            raise bad_request("invalid message identifier specified")
        ids.append(value)
    if group is not None:
        return groups.delete_messages(gw, bot, group, ids, single=False)
    account, peer = chat or gw.chat_peer(params)
    oldest = gw.clock() - DELETE_WINDOW
    doomed = []
    for message_id in dict.fromkeys(ids):
        copy = _own_copy(gw, bot, account.id, message_id)
        if copy is not None and copy.date >= oldest:
            doomed.append(message_id)
    if doomed:
        gw.flood(bot, "messages.deleteMessages", peer)
        gw.services.messages.delete_messages(
            bot.account, doomed, revoke=True, origin=gw.hub_key(bot.account.id)
        )
    return True


CLOSE_AFTER: Final = 600.0
"""Seconds after its launch before a bot instance may be closed (official: 10 minutes)."""


def _close(gw: BotApiGateway, bot: _Bot, params: Params) -> bool:
    """``close``: the bot's instance on this server ends (its next request starts a new
    one). As officially, refused with 429 in the first ten minutes after the launch."""
    elapsed = gw.clock() - bot.launched_at
    if elapsed < CLOSE_AFTER:
        raise too_many_requests(max(1, math.ceil(CLOSE_AFTER - elapsed)))
    gw.release(bot)
    gw.signals.send(signals.RELEASED, bot.account.id)
    return True


def _log_out(gw: BotApiGateway, bot: _Bot, params: Params) -> bool:
    """``logOut``: the bot's instance ends at once; there is no cloud server to move from,
    so nothing else changes."""
    gw.release(bot)
    gw.signals.send(signals.RELEASED, bot.account.id)
    return True


def _get_webhook_info(gw: BotApiGateway, bot: _Bot, params: Params) -> JsonObject:
    state = gw.queues.state(bot.account.id)
    webhook = None if state is None else state.webhook
    info: JsonObject = {
        "url": "" if webhook is None else webhook.url,
        "has_custom_certificate": False,
        "pending_update_count": 0 if state is None else state.pending,
    }
    if webhook is not None:
        info["max_connections"] = webhook.max_connections
        if webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message or ""
        if state is not None and state.allowed_updates:
            info["allowed_updates"] = json.loads(state.allowed_updates)
    return info


CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


def _typing_action(action: str) -> abcs.SendMessageAction:
    """The MTProto action the official server sends for a Bot API chat action."""
    if action == "typing":
        return types.SendMessageTypingAction()
    if action == "upload_photo":
        return types.SendMessageUploadPhotoAction(progress=0)
    if action == "record_video":
        return types.SendMessageRecordVideoAction()
    if action == "upload_video":
        return types.SendMessageUploadVideoAction(progress=0)
    if action == "record_voice":
        return types.SendMessageRecordAudioAction()
    if action == "upload_voice":
        return types.SendMessageUploadAudioAction(progress=0)
    if action == "choose_sticker":
        return types.SendMessageChooseStickerAction()
    if action == "find_location":
        return types.SendMessageGeoLocationAction()
    if action == "record_video_note":
        return types.SendMessageRecordRoundAction()
    if action == "upload_video_note":
        return types.SendMessageUploadRoundAction(progress=0)
    return types.SendMessageUploadDocumentAction(progress=0)


def _send_chat_action(gw: BotApiGateway, bot: _Bot, params: Params) -> bool:
    # As messages.setTyping on the MTProto side: the user sees updateUserTyping.
    group = groups.group_of(gw, bot, params)
    chat = gw.chat_peer(params) if group is None else None
    action = (params.text("action") or "").strip().lower()
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    if group is not None:
        return groups.send_chat_action(gw, bot, group, _typing_action(action))
    _, peer = chat or gw.chat_peer(params)
    gw.services.dialogs.set_typing(bot.account, peer, _typing_action(action))
    return True


def _get_file(gw: BotApiGateway, bot: _Bot, params: Params) -> JsonObject:
    # loopgram keeps no files yet, so no file_id is valid; the texts are the official ones.
    if not params.text("file_id"):
        raise bad_request("file_id not specified")
    raise bad_request("invalid file_id")


def _get_chat(gw: BotApiGateway, bot: _Bot, params: Params) -> JsonObject:
    group = groups.group_of(gw, bot, params)
    if group is not None:
        return groups.get_chat(gw, bot, group)
    account, _ = gw.chat_peer(params)
    user = objects.user_to_api(render_user(account, bot.account.id))
    chat = objects.private_chat(user)
    # ChatFullInfo's required fields (the frameworks' models refuse it without them).
    chat.update(
        accent_color_id=account.id % 7,
        max_reaction_count=objects.MAX_REACTION_COUNT,
        accepted_gift_types=dict(objects.NO_GIFTS),
    )
    return chat


# The lists are the server's (bots.setBotCommands shares them): only the forms are read here.
def _command_target(gw: BotApiGateway, params: Params) -> tuple[CommandScope, str]:
    scope = commands.scope_of(params.json("scope", "BotCommandScope"), gw.storage)
    return scope, commands.language(params.text("language_code"))


def _set_my_commands(gw: BotApiGateway, bot: _Bot, params: Params) -> bool:
    listed = commands.parse_commands(params.json("commands", "commands") or [])
    scope, language = _command_target(gw, params)
    gw.services.commands.set(bot.account, scope, language, listed)
    return True


def _get_my_commands(gw: BotApiGateway, bot: _Bot, params: Params) -> list[dict[str, str]]:
    scope, language = _command_target(gw, params)
    return commands.commands_to_api(gw.services.commands.get(bot.account, scope, language))


def _delete_my_commands(gw: BotApiGateway, bot: _Bot, params: Params) -> bool:
    scope, language = _command_target(gw, params)
    gw.services.commands.reset(bot.account, scope, language)
    return True


_METHODS: Final[Mapping[str, Handler]] = {
    "getme": _get_me,
    "sendmessage": _send_message,
    "editmessagetext": _edit_message_text,
    "editmessagereplymarkup": _edit_message_reply_markup,
    "deletemessage": _delete_message,
    "deletemessages": _delete_messages,
    "answercallbackquery": _answer_callback_query,
    "getupdates": _get_updates,
    "close": _close,
    "logout": _log_out,
    "setwebhook": _set_webhook,
    "deletewebhook": _delete_webhook,
    "getwebhookinfo": _get_webhook_info,
    "sendchataction": _send_chat_action,
    "getchat": _get_chat,
    "getfile": _get_file,
    "getchatmember": groups.get_chat_member,
    "getchatadministrators": groups.get_chat_administrators,
    "getchatmembercount": groups.get_chat_member_count,
    "getchatmemberscount": groups.get_chat_member_count,
    "leavechat": groups.leave_chat,
    "answerinlinequery": _answer_inline_query,
    "setmycommands": _set_my_commands,
    "getmycommands": _get_my_commands,
    "deletemycommands": _delete_my_commands,
}
"""The methods loopgram serves, by lower-case name."""

IMPLEMENTED: Final = frozenset(_METHODS)

__all__ = ["BOT_API_METHODS", "IMPLEMENTED", "BotApiGateway", "inline_message_id"]
