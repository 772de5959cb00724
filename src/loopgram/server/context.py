"""Server layer: what the server knows about the caller -- sessions, auth keys, requests.

The driver opens a ``SessionContext`` for every MTProto session (auth key id + session id)
it carries, giving the sink that writes updates to that session, and closes it when the
session goes away. Sessions of one auth key share its login (``AuthKeyState``): logging in
on one logs in all of them, and the binding is persisted in ``storage.auth_keys`` so that it
survives reconnects and restarts. A logged-in session that accepts updates is subscribed to
the hub for its account. Each request gets a ``RequestContext``: the session, the services
and the callback broker, which is all a handler needs.

A login can end elsewhere -- a bot's token revoked in this process or by ``loopgram bot token
--revoke`` in another one, which logs the bot's keys out in storage: each request checks its
key's login first (``SessionContext.checked_account``), cheaply while nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loopgram.server.config import ServerConfig
from loopgram.server.errors import AUTH_KEY_UNREGISTERED
from loopgram.server.hub import Subscription, UpdateHub, UpdateSink
from loopgram.server.presses import PressBroker
from loopgram.server.services import Services
from loopgram.server.services.limits import client_string, lang_code
from loopgram.storage import Account, AuthKeyNotFound, Storage
from loopgram.tl.abcs import Updates
from loopgram.tl.functions import InitConnection


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """What ``initConnection`` said about the client."""

    api_id: int
    device_model: str
    system_version: str
    app_version: str
    system_lang_code: str
    lang_pack: str
    lang_code: str

    @classmethod
    def of(cls, request: InitConnection[Any], config: ServerConfig) -> ClientInfo:
        """What the request says, within Telegram's limits (see ``services.limits``)."""
        return cls(
            api_id=request.api_id,
            device_model=client_string(request.device_model, config),
            system_version=client_string(request.system_version, config),
            app_version=client_string(request.app_version, config),
            system_lang_code=lang_code(request.system_lang_code, config),
            lang_pack=lang_code(request.lang_pack, config),
            lang_code=lang_code(request.lang_code, config),
        )


@dataclass(slots=True)
class AuthKeyState:
    """The login and layer of one auth key, shared by its sessions in this process."""

    auth_key_id: int
    account: Account | None
    layer: int | None
    sessions: set[SessionContext] = field(default_factory=set)
    resets: int = 0
    """The registry's ``resets()`` when the login was last checked against storage."""


class SessionContext:
    """One MTProto session as the server layer sees it (made by ``SessionRegistry.open``)."""

    __slots__ = (
        "_key",
        "_push",
        "_registry",
        "_subscription",
        "client_info",
        "closed",
        "receive_updates",
        "session_id",
    )

    def __init__(
        self, registry: SessionRegistry, key: AuthKeyState, session_id: int, push: UpdateSink
    ) -> None:
        self._registry = registry
        self._key = key
        self._push = push
        self._subscription: Subscription | None = None
        self.session_id = session_id
        self.client_info: ClientInfo | None = None
        self.receive_updates = True
        self.closed = False

    @property
    def auth_key_id(self) -> int:
        return self._key.auth_key_id

    @property
    def key(self) -> tuple[int, int]:
        """Names this session in the hub (``exclude`` of a publish)."""
        return (self._key.auth_key_id, self.session_id)

    @property
    def account(self) -> Account | None:
        return self._key.account

    @property
    def layer(self) -> int | None:
        return self._key.layer

    def checked_account(self) -> Account | None:
        """The logged-in account, ``None`` if the key was logged out elsewhere meanwhile (then
        logged out here too)."""
        return self._registry._check(self._key)

    def push(self, updates: Updates) -> None:
        """Send updates to this session only."""
        if not self.closed:
            self._push(updates)

    def bind_account(self, account: Account | None) -> None:
        """Log the auth key in as ``account`` (``None``: log out), for all its sessions."""
        self._registry._bind(self._key, account)

    def refresh_account(self, account: Account) -> None:
        """The logged-in account changed (a new username...): keep the fresh record."""
        if self._key.account is not None and self._key.account.id == account.id:
            self._key.account = account

    def set_layer(self, layer: int) -> None:
        """Record the layer of ``invokeWithLayer`` (persisted once per change)."""
        self._registry._set_layer(self._key, layer)

    def set_receive_updates(self, receive: bool) -> None:
        """``invokeWithoutUpdates`` turns pushing off for this session."""
        self.receive_updates = receive
        self._resubscribe()

    def close(self) -> None:
        """The session or its connection is gone: stop pushing to it."""
        if not self.closed:
            self.closed = True
            self._unsubscribe()
            self._registry._forget(self)

    def _resubscribe(self) -> None:
        self._unsubscribe()
        account = self._key.account
        if account is not None and self.receive_updates and not self.closed:
            self._subscription = self._registry.hub.subscribe(account.id, self.key, self.push)

    def _unsubscribe(self) -> None:
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None


class SessionRegistry:
    """The live sessions of this process, grouped by auth key."""

    def __init__(
        self, storage: Storage, hub: UpdateHub, resets: Callable[[], int] = lambda: 0
    ) -> None:
        self._storage = storage
        self.hub = hub
        # Counts the logins ended in this process (bot token resets): a change means "check
        # every key against storage again".
        self._resets = resets
        self._keys: dict[int, AuthKeyState] = {}

    def open(self, auth_key_id: int, session_id: int, push: UpdateSink) -> SessionContext:
        """A context for the session; the key's login comes from storage the first time."""
        key = self._keys.get(auth_key_id)
        if key is None:
            record = self._storage.auth_keys.get(auth_key_id)
            account = None
            layer = None
            if record is not None:
                layer = record.layer
                if record.account_id is not None:
                    account = self._storage.accounts.get(record.account_id)
            key = self._keys[auth_key_id] = AuthKeyState(auth_key_id, account, layer)
        session = SessionContext(self, key, session_id, push)
        key.sessions.add(session)
        session._resubscribe()
        return session

    def sessions(self, auth_key_id: int) -> list[SessionContext]:
        key = self._keys.get(auth_key_id)
        return [] if key is None else list(key.sessions)

    def _bind(self, key: AuthKeyState, account: Account | None) -> None:
        try:
            self._storage.auth_keys.bind_account(
                key.auth_key_id, None if account is None else account.id
            )
        except AuthKeyNotFound:
            # The key was dropped (destroy_auth_key, expiry) under the session's feet.
            raise AUTH_KEY_UNREGISTERED() from None
        key.account = account
        for session in list(key.sessions):
            session._resubscribe()

    def _check(self, key: AuthKeyState) -> Account | None:
        account = key.account
        if account is None:
            return None
        resets = self._resets()
        # The row cache hands out the same record until someone writes the account -- or
        # another process commits anything (SQLite's cache drops its rows then): while it
        # does, and no login ended in this process, the login stands without a read.
        if key.resets == resets and self._storage.accounts.get(account.id) is account:
            return account
        key.resets = resets
        record = self._storage.auth_keys.get(key.auth_key_id)
        fresh = self._storage.accounts.get(account.id)
        if record is None or record.account_id != account.id or fresh is None:
            key.account = None
            for session in list(key.sessions):
                session._resubscribe()
            return None
        key.account = fresh
        return fresh

    def _set_layer(self, key: AuthKeyState, layer: int) -> None:
        if key.layer == layer:
            return
        key.layer = layer
        try:
            self._storage.auth_keys.set_layer(key.auth_key_id, layer)
        except AuthKeyNotFound:
            pass  # a key the storage does not know yet: the layer stays in memory

    def _forget(self, session: SessionContext) -> None:
        key = self._keys.get(session.auth_key_id)
        if key is None:
            return
        key.sessions.discard(session)
        if not key.sessions:
            del self._keys[key.auth_key_id]


@dataclass(slots=True)
class RequestContext:
    """What a handler gets besides the request."""

    session: SessionContext
    services: Services
    presses: PressBroker
    msg_id: int = 0

    @property
    def account(self) -> Account | None:
        return self.session.account

    @property
    def me(self) -> Account:
        """The logged-in account (handlers marked ``needs_account`` always have one)."""
        account = self.session.account
        if account is None:
            raise AUTH_KEY_UNREGISTERED()
        return account

    @property
    def origin(self) -> tuple[int, int]:
        """The calling session's hub key: its own updates come in the answer, not pushed."""
        return self.session.key
