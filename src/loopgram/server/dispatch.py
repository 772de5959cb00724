"""Server layer: one RPC in, one answer out -- wrappers, routing, login, limits, errors.

``Dispatcher.dispatch(session, request, body, msg_id)`` takes what the MTProto connection
reported for a query (the parsed object, or ``None`` and the raw body when the codec could
not parse it) and returns an ``Answer``: a result to send with ``rpc_result`` or an
``RpcError`` to send as ``rpc_error``. It never raises for anything a client can provoke:

- ``invokeWithLayer`` records the layer (``CONNECTION_LAYER_INVALID`` below the oldest one
  served), ``initConnection`` the client's description, ``invokeWithoutUpdates`` stops
  pushing to the session; ``invokeAfterMsg(s)`` and the other ``invokeWith*`` wrappers are
  unwrapped (MTProto already delivers a connection's queries in order);
- a function of the layer that loopgram does not serve answers ``400 METHOD_NOT_IMPLEMENTED``
  (logged once per method at WARNING: the client did nothing wrong, loopgram lacks it); a
  constructor that is no function the codec knows ``400 INPUT_METHOD_INVALID``; a known
  method whose body does not decode ``400 INPUT_FETCH_ERROR`` (``gzip_packed`` inside
  ``gzip_packed`` included), one whose ``gzip_packed`` would inflate beyond ``max_inflate``
  bytes together ``400 INPUT_REQUEST_TOO_LONG``;
- a method that needs an account answers ``401 AUTH_KEY_UNREGISTERED`` before login;
- ``420 FLOOD_WAIT_X`` when the caller exceeds the method's rate;
- any other exception is logged and answered ``500 INTERNAL``.

What a client can make the server log again and again (a refused layer, a failure) goes
through a ``RateLimitedLog``: one line per kind and minute, however often it tries.

Handlers may wait (``messages.getBotCallbackAnswer`` waits for the bot); most never do. So
``start`` runs a query at once, up to the handler's first wait: a query that did not wait
comes back as its ``Answer``, one that waits as a coroutine finishing it, which the driver
runs as a task (and cancels if the client drops the query). Queries thus still begin in the
order they arrived, and the many that never wait cost no task and no loop iteration.
``dispatch`` is both steps in one awaitable.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any, Final

import loopgram.tl.functions as fn
from loopgram import tl
from loopgram.mtproto.server_connection import DEFAULT_MAX_INFLATE
from loopgram.ratelog import RateLimitedLog
from loopgram.server.context import ClientInfo, RequestContext, SessionContext
from loopgram.server.errors import (
    AUTH_KEY_UNREGISTERED,
    CONNECTION_LAYER_INVALID,
    INPUT_FETCH_ERROR,
    INPUT_METHOD_INVALID,
    INPUT_REQUEST_TOO_LONG,
    INTERNAL,
    METHOD_NOT_IMPLEMENTED,
    RpcError,
)
from loopgram.server.flood import FloodLimiter
from loopgram.server.handlers import Registry, default_registry
from loopgram.server.presses import PressBroker
from loopgram.server.services import Services
from loopgram.server.services.limits import storage_failure
from loopgram.storage import StorageError
from loopgram.tl import TLObject
from loopgram.tl.core import (
    BOOL_FALSE_ID,
    BOOL_TRUE_ID,
    FUNCTIONS,
    GZIP_PACKED_ID,
    OBJECTS,
    InflateLimitError,
    Reader,
    TLDecodeError,
    read_boxed,
    read_bytes,
    read_fixed,
    read_int,
    read_packed,
    read_vector_long,
    write_vector_header,
)

log = logging.getLogger(__name__)

Serialize = Callable[[TLObject], bytes]
"""Writes one boxed TL object (``bytes`` for the newest layer)."""

Decoder = Callable[[bytes, int, int], Any]
"""``(body, layer, budget) -> request``: reads a query sent in an older layer's layout
(``loopgram.tl.layers.read``), its ``gzip_packed`` inflating to at most ``budget`` bytes
together; raises ``TLDecodeError`` (``InflateLimitError`` beyond the budget)."""

_U32: Final = struct.Struct("<I")
_TRUE: Final = _U32.pack(BOOL_TRUE_ID)
_FALSE: Final = _U32.pack(BOOL_FALSE_ID)
_LONG: Final = struct.Struct("<q")

# Wrappers that only carry the query (their own fields mean nothing to loopgram).
_PLAIN_WRAPPERS: Final = (
    fn.InvokeAfterMsg,
    fn.InvokeAfterMsgs,
    fn.InvokeWithMessagesRange,
    fn.InvokeWithTakeout,
    fn.InvokeWithBusinessConnection,
    fn.InvokeWithGooglePlayIntegrity,
    fn.InvokeWithApnsSecret,
    fn.InvokeWithReCaptcha,
)

tl.read(_TRUE)  # loads the generated registry behind OBJECTS / FUNCTIONS


def encode_result(value: object, serialize: Serialize = bytes) -> bytes:
    """A handler's result as ``rpc_result`` carries it: a TL object, a ``Bool`` or a vector.

    ``serialize`` writes one boxed object; the default writes the newest layer, a driver
    serving an older layer passes ``lambda obj: loopgram.tl.layers.serialize(obj, layer)``.
    """
    if isinstance(value, bool):
        return _TRUE if value else _FALSE
    if isinstance(value, TLObject):
        return serialize(value)
    if isinstance(value, list):
        o = bytearray()
        write_vector_header(o, len(value))
        for item in value:
            if isinstance(item, TLObject):
                o += serialize(item)
            elif isinstance(item, int):
                o += _LONG.pack(item)
            else:
                raise TypeError(f"cannot encode a vector item {type(item).__name__}")
        return bytes(o)
    raise TypeError(f"cannot encode a result of type {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Answer:
    """What to send back: ``result`` (``rpc_result``) or ``error`` (``rpc_error``)."""

    result: object = None
    error: RpcError | None = None
    method: str = field(default="", compare=False)
    """TL name of the method answered (for logs), when known."""

    @property
    def ok(self) -> bool:
        return self.error is None

    def encode(self, serialize: Serialize = bytes) -> bytes:
        """The result serialised (see ``encode_result``); only for ``ok`` answers."""
        if self.error is not None:
            raise ValueError("an error answer has no result to encode")
        return encode_result(self.result, serialize)


@dataclass(frozen=True, slots=True)
class _Peeled:
    """What the wrappers of an undecodable body say: the innermost constructor id, and the
    layer of an ``invokeWithLayer`` among them."""

    constructor_id: int | None
    layer: int | None


class Dispatcher:
    def __init__(
        self,
        services: Services,
        presses: PressBroker,
        *,
        registry: Registry | None = None,
        limiter: FloodLimiter | None = None,
        decode: Decoder | None = None,
        max_inflate: int = DEFAULT_MAX_INFLATE,
    ) -> None:
        self._services = services
        self._presses = presses
        self._registry = registry if registry is not None else default_registry()
        self._limiter = limiter or FloodLimiter(services.clock, services.config)
        self._decode = decode
        self._max_inflate = max_inflate
        # What a client can make the server log is rate-limited: one client sending a bad
        # layer over and over must not fill the log.
        self._log = RateLimitedLog(log, clock=services.clock)
        # Bounded by the functions of the schema: each is reported once per process.
        self._unserved_logged: set[str] = set()

    @property
    def registry(self) -> Registry:
        return self._registry

    async def dispatch(
        self,
        session: SessionContext,
        request: object | None,
        body: bytes = b"",
        msg_id: int = 0,
    ) -> Answer:
        """Answer one query of ``session`` (``request`` parsed, or ``None`` and ``body``)."""
        started = self.start(session, request, body, msg_id)
        if isinstance(started, Answer):
            return started
        return await started

    def start(
        self,
        session: SessionContext,
        request: object | None,
        body: bytes = b"",
        msg_id: int = 0,
    ) -> Answer | Coroutine[Any, Any, Answer]:
        """Run one query up to its first wait: its ``Answer``, or a coroutine to await for it."""
        method = ""
        try:
            if request is None:
                request = self._decode_raw(session, body)
            query = self._unwrap(session, request)
            method = getattr(query, "TL_NAME", "") or type(query).__name__
            route = self._registry.get(type(query)) if isinstance(query, TLObject) else None
            if route is None:
                raise self._unserved(query, method)
            account = session.checked_account()
            if route.needs_account and account is None:
                raise AUTH_KEY_UNREGISTERED()
            caller = ("account", account.id) if account is not None else ("key", session.key[0])
            is_bot = account is not None and account.is_bot
            self._limiter.check(caller, route.name, query, bot=is_bot)
            ctx = RequestContext(session, self._services, self._presses, msg_id)
            handler = route.handler(ctx, query)
            try:
                waiting_on = handler.send(None)
            except StopIteration as done:
                return Answer(result=done.value, method=method)
            return self._finish(session, method, Resumed(handler, waiting_on))
        except RpcError as error:
            return Answer(error=error, method=method)
        except Exception as error:
            return self._failed(session, method, error)

    async def _finish(self, session: SessionContext, method: str, rest: Resumed) -> Answer:
        try:
            result = await rest
            return Answer(result=result, method=method)
        except RpcError as error:
            return Answer(error=error, method=method)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            return self._failed(session, method, error)

    def _unserved(self, query: object, method: str) -> RpcError:
        cid = getattr(query, "CONSTRUCTOR_ID", None)
        if not isinstance(query, TLObject) or not isinstance(cid, int) or cid not in FUNCTIONS:
            return INPUT_METHOD_INVALID()
        if method not in self._unserved_logged:
            self._unserved_logged.add(method)
            log.warning(
                "%s is not implemented by loopgram (answered METHOD_NOT_IMPLEMENTED)", method
            )
        return METHOD_NOT_IMPLEMENTED()

    def _failed(self, session: SessionContext, method: str, error: Exception) -> Answer:
        """The answer to a query whose handler raised ``error`` (called in its ``except``): a
        storage refusal Telegram has an error for gets that error, anything else 500."""
        answer = storage_failure(error) if isinstance(error, StorageError) else None
        if answer is None:
            # A bug a client can reach, it can reach a thousand times a second: one traceback
            # per method and minute tells the operator as much.
            self._log.error(
                ("failed", method),
                "%s of session %r failed",
                method or "a request",
                session.key,
                exc_info=True,
            )
            answer = INTERNAL()
        return Answer(error=answer, method=method)

    # -- wrappers ---------------------------------------------------------------------------

    def _unwrap(self, session: SessionContext, request: object) -> object:
        while True:
            if isinstance(request, fn.InvokeWithLayer):
                self._check_layer(request.layer)
                session.set_layer(request.layer)
                request = request.query
            elif isinstance(request, fn.InitConnection):
                session.client_info = ClientInfo.of(request, self._services.config)
                request = request.query
            elif isinstance(request, fn.InvokeWithoutUpdates):
                session.set_receive_updates(False)
                request = request.query
            elif isinstance(request, _PLAIN_WRAPPERS):
                request = request.query
            else:
                return request

    def _check_layer(self, layer: int) -> None:
        oldest = self._services.config.min_layer
        if layer < oldest:
            # The client only sees the error name: the log is where an operator learns why
            # an old library cannot connect.
            self._log.warning(
                "layer",
                "refused a client of layer %d: layers %d to %d are served",
                layer,
                oldest,
                tl.LAYER,
            )
            raise CONNECTION_LAYER_INVALID()

    # -- bodies the codec could not parse -----------------------------------------------------

    def _decode_raw(self, session: SessionContext, body: bytes) -> object:
        # The body is the message as received: a gzip_packed one is inflated again here,
        # under the same budget and nesting rule as in the MTProto layer.
        try:
            peeled = _peel(body, self._max_inflate)
        except InflateLimitError:
            raise INPUT_REQUEST_TOO_LONG() from None
        layer = peeled.layer if peeled.layer is not None else session.layer
        if peeled.layer is not None:
            self._check_layer(peeled.layer)
        if self._decode is not None and layer is not None and layer != tl.LAYER:
            try:
                return self._decode(body, layer, self._max_inflate)
            except InflateLimitError:
                raise INPUT_REQUEST_TOO_LONG() from None
            except (TLDecodeError, ValueError, LookupError) as exc:
                log.debug("layer %s request did not decode: %s", layer, exc)
        if peeled.constructor_id is None or peeled.constructor_id not in FUNCTIONS:
            raise INPUT_METHOD_INVALID()
        raise INPUT_FETCH_ERROR()


class Resumed:
    """Awaits the rest of a handler coroutine that already ran up to its first wait.

    The task awaiting this gets the future the handler is waiting on (exactly as if the
    handler had run inside the task from the start); what the task sends or throws in when
    that future is done goes on to the handler, and so on until the handler returns.
    Cancelling the task thus cancels the handler where it waits.
    """

    __slots__ = ("_coro", "_waiting_on")

    def __init__(self, coro: Coroutine[Any, Any, object], waiting_on: object) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, object]:
        coro = self._coro
        waiting_on = self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                try:
                    waiting_on = coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting_on = coro.send(sent)
                except StopIteration as done:
                    return done.value


def _peel(body: bytes, budget: int) -> _Peeled:
    """Walk the wrappers of a raw query without decoding the query itself (a
    ``gzip_packed`` around them inflated within ``budget``: ``InflateLimitError`` beyond)."""
    r = Reader(bytes(body), 0, budget)
    layer: int | None = None
    try:
        while True:
            cid = read_fixed(r, _U32)
            if cid == GZIP_PACKED_ID:
                r = Reader(read_packed(r), 0, 0, True)
            elif cid == fn.InvokeWithLayer.CONSTRUCTOR_ID:
                layer = read_int(r)
            elif cid == fn.InitConnection.CONSTRUCTOR_ID:
                flags = read_fixed(r, _U32)
                read_int(r)  # api_id
                for _ in range(6):
                    read_bytes(r)
                if flags & 1:
                    read_boxed(r, OBJECTS)
                if flags & 2:
                    read_boxed(r, OBJECTS)
            elif cid == fn.InvokeWithoutUpdates.CONSTRUCTOR_ID:
                pass
            elif cid == fn.InvokeAfterMsg.CONSTRUCTOR_ID:
                read_fixed(r, _LONG)
            elif cid == fn.InvokeAfterMsgs.CONSTRUCTOR_ID:
                read_vector_long(r)
            else:
                return _Peeled(cid, layer)
    except InflateLimitError:
        raise
    except (TLDecodeError, struct.error, IndexError, ValueError):
        return _Peeled(None, layer)
