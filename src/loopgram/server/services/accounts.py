"""Server layer: the account rules -- phone login with a fixed test code, bots and their
tokens, usernames.

There is no SMS: every phone number signs in with ``ServerConfig.login_code`` (``12345`` by
default). ``auth.sendCode`` hands out a ``phone_code_hash`` that proves itself (a random
nonce, the issue time and an HMAC over both and the number with a server secret), so it
survives restarts and works across server processes without storing anything.
``auth.signIn`` with an unknown number creates the account, as some clients cannot call
``auth.signUp`` any more. Bot tokens are ``<bot_id>:<secret>`` with a secret drawn from the
injected randomness; the storage keeps only its hash.

Profiles (``account.updateProfile``, ``account.updateUsername``): a changed name or username
is announced as ``updateUserName`` to those who show it -- the account's own other sessions,
every account with a private chat with it (``storage.dialogs``) and every member of a basic
group it is in, each only while online (the next ``users`` vector it gets carries the new name
anyway, as on Telegram, where the update is not a pts update either). Contacts who saved the
account but never chatted with it are not told: the storage has no index from a contact to
its owners. The bio (``about``) is kept in the settings store under ``profile.about.<id>``, a
key per account, so that every backend keeps it without a schema step.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Final

from loopgram.clock import Clock, RandomBytes
from loopgram.server.config import ServerConfig
from loopgram.server.errors import (
    ACCESS_TOKEN_INVALID,
    BOT_METHOD_INVALID,
    ERRORS,
    PHONE_CODE_EMPTY,
    PHONE_CODE_EXPIRED,
    PHONE_CODE_INVALID,
    PHONE_NUMBER_INVALID,
    PHONE_NUMBER_OCCUPIED,
    USERNAME_INVALID,
    USERNAME_OCCUPIED,
)
from loopgram.server.hub import UpdateHub
from loopgram.server.services.limits import check_first_name, check_last_name
from loopgram.server.services.render import render_user
from loopgram.storage import (
    Account,
    AuthKeyNotFound,
    PeerKind,
    PhoneTaken,
    Storage,
    UsernameTaken,
)
from loopgram.tl import abcs, types
from loopgram.tl.types import auth as auth_types

LOGIN_SECRET: Final = "server.login_code_secret"
"""Settings key of the HMAC key behind ``phone_code_hash``."""

TOKEN_SECRET_BYTES: Final = 26
"""26 random bytes are 35 base64url characters, the length of a Telegram token's secret."""

ABOUT_LENGTH_MAX: Final = 70
"""Characters of a bio (``about``), Telegram's limit for an account without Premium."""
ABOUT_KEY: Final = "profile.about."
"""Settings key prefix of a bio; the account id follows."""
ABOUT_TOO_LONG: Final = ERRORS["ABOUT_TOO_LONG"]

_USERNAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,30}[A-Za-z0-9]")
_PHONE_DIGITS: Final = range(5, 16)  # E.164 numbers have at most 15 digits


@dataclass(frozen=True, slots=True)
class BotCredentials:
    """A new bot and the token it logs in with (shown once: only its hash is stored)."""

    account: Account
    token: str


def normalise_phone(phone: str) -> str:
    """Digits only (``+1 (555) 010-99`` -> ``155501099``); PHONE_NUMBER_INVALID otherwise."""
    digits = "".join(c for c in phone if c.isascii() and c.isdigit())
    if len(digits) not in _PHONE_DIGITS or any(c not in "0123456789+-() ." for c in phone.strip()):
        raise PHONE_NUMBER_INVALID()
    return digits


def about_of(storage: Storage, account_id: int) -> str | None:
    """The account's bio (``userFull.about``), ``None`` if it has none."""
    raw = storage.settings.get(f"{ABOUT_KEY}{account_id}")
    return None if raw is None else raw.decode()


def check_username(username: str, *, bot: bool) -> str:
    """Telegram's rule: 5 to 32 letters, digits and underscores, starting with a letter and
    not ending with an underscore; a bot's ends in ``bot`` (any case)."""
    if not _USERNAME.fullmatch(username) or "__" in username:
        raise USERNAME_INVALID()
    if bot and not username.lower().endswith("bot"):
        raise USERNAME_INVALID()
    return username


class AccountService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        random_bytes: RandomBytes,
        config: ServerConfig,
        hub: UpdateHub | None = None,
    ) -> None:
        self._storage = storage
        self._hub = hub
        self._clock = clock
        self._random = random_bytes
        self._config = config
        self._login_key: bytes | None = None
        self.token_resets = 0
        """Counts ``reset_bot_token`` calls: caches of checked tokens start again on a change."""

    # -- users ------------------------------------------------------------------------------

    def send_code(self, phone: str) -> auth_types.SentCode:
        """``auth.sendCode``: the code is ``config.login_code``, "sent" through the app."""
        digits = normalise_phone(phone)
        issued = int(self._clock())
        nonce = self._random(8).hex()
        mac = self._mac(digits, nonce, issued)
        return auth_types.SentCode(
            type=auth_types.SentCodeTypeApp(length=len(self._config.login_code)),
            phone_code_hash=f"{nonce}{issued:x}.{mac}",
            timeout=self._config.login_code_ttl,
        )

    def sign_in(self, phone: str, phone_code_hash: str, code: str | None) -> Account:
        """``auth.signIn``: the account of the number, created on first sign-in."""
        digits = self._check_hash(phone, phone_code_hash)
        if not code:
            raise PHONE_CODE_EMPTY()
        if not hmac.compare_digest(code.encode(), self._config.login_code.encode()):
            raise PHONE_CODE_INVALID()
        account = self._storage.accounts.get_by_phone(digits)
        if account is not None:
            return account
        return self._new_user(digits, f"User {digits[-4:]}", None)

    def sign_up(self, phone: str, phone_code_hash: str, first_name: str, last_name: str) -> Account:
        """``auth.signUp``: a new account for a number that has none yet."""
        digits = self._check_hash(phone, phone_code_hash)
        first = check_first_name(first_name, self._config)
        last = check_last_name(last_name, self._config)
        if self._storage.accounts.get_by_phone(digits) is not None:
            raise PHONE_NUMBER_OCCUPIED()
        return self._new_user(digits, first, last)

    def create_user(
        self, phone: str, first_name: str | None = None, last_name: str | None = None
    ) -> Account:
        """A user account (``loopgram user create``); PHONE_NUMBER_OCCUPIED if it exists."""
        digits = normalise_phone(phone)
        if first_name is None:
            first = f"User {digits[-4:]}"
        else:
            first = check_first_name(first_name, self._config)
        return self._new_user(digits, first, check_last_name(last_name, self._config))

    def set_username(
        self, account: Account, username: str | None, *, origin: Hashable = None
    ) -> Account:
        """``account.updateUsername``: set or (empty/None) clear the username; those who
        show the account are told (``updateUserName``), except the session ``origin``."""
        if username:
            check_username(username, bot=account.is_bot)
        try:
            changed = self._storage.accounts.update(account.id, username=username or None)
        except UsernameTaken:
            raise USERNAME_OCCUPIED() from None
        if changed.username != account.username:
            self._announce_name(changed, origin)
        return changed

    def username_available(self, account: Account, username: str) -> bool:
        """``account.checkUsername``: true if ``account`` may take ``username`` (free, or
        its own already); USERNAME_INVALID or USERNAME_OCCUPIED otherwise. Users only."""
        if account.is_bot:
            raise BOT_METHOD_INVALID()
        check_username(username, bot=account.is_bot)
        holder = self._storage.accounts.get_by_username(username)
        if holder is not None and holder.id != account.id:
            raise USERNAME_OCCUPIED()
        return True

    def update_profile(
        self,
        account: Account,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        about: str | None = None,
        origin: Hashable = None,
    ) -> Account:
        """``account.updateProfile``: change what is given (an empty ``last_name`` or
        ``about`` clears it). Everything is checked before anything is stored."""
        first = None if first_name is None else check_first_name(first_name, self._config)
        last = None if last_name is None else check_last_name(last_name, self._config)
        bio = None if about is None else about.strip()
        if bio is not None and len(bio) > ABOUT_LENGTH_MAX:
            raise ABOUT_TOO_LONG()
        changed = account
        if first is not None or last_name is not None:
            changed = self._storage.accounts.update(
                account.id,
                first_name=account.first_name if first is None else first,
                last_name=account.last_name if last_name is None else last,
            )
        if bio is not None:
            key = f"{ABOUT_KEY}{account.id}"
            if bio:
                self._storage.settings.set(key, bio.encode())
            else:
                self._storage.settings.delete(key)
        if (changed.first_name, changed.last_name) != (account.first_name, account.last_name):
            self._announce_name(changed, origin)
        return changed

    def name_audience(self, account: Account) -> list[int]:
        """Who shows ``account``'s name: itself, its private-chat peers and the members of
        its basic groups (see the module docstring)."""
        audience = dict.fromkeys([account.id])
        for peer, _top in self._storage.dialogs.tops(account.id):
            if peer.kind is PeerKind.USER:
                audience[peer.id] = None
        for chat_id in self._storage.chats.chats_of(account.id):
            for member in self._storage.chats.participants(chat_id):
                audience[member.user_id] = None
        return list(audience)

    def _announce_name(self, account: Account, origin: Hashable) -> None:
        hub = self._hub
        if hub is None:
            return
        usernames: list[abcs.Username] = (
            [types.Username(username=account.username, active=True)] if account.username else []
        )
        now = int(self._clock())
        for viewer_id in self.name_audience(account):
            if not hub.online(viewer_id):
                continue
            update = types.UpdateUserName(
                user_id=account.id,
                first_name=account.first_name,
                last_name=account.last_name or "",
                usernames=usernames,
            )
            batch = types.Updates(
                updates=[update],
                users=[render_user(account, viewer_id)],
                chats=[],
                date=now,
                seq=0,
            )
            hub.publish(viewer_id, batch, exclude=origin if viewer_id == account.id else None)

    # -- bots -------------------------------------------------------------------------------

    def create_bot(self, username: str, first_name: str | None = None) -> BotCredentials:
        """A bot whose username is ``username`` (``loopgram bot create NAME``)."""
        check_username(username, bot=True)
        first = check_first_name(first_name if first_name is not None else username, self._config)
        secret = self._new_secret()
        try:
            account = self._storage.accounts.create_bot(username, first, secret)
        except UsernameTaken:
            raise USERNAME_OCCUPIED() from None
        return BotCredentials(account, f"{account.id}:{secret}")

    def reset_bot_token(self, bot: Account) -> str:
        """A new token for the bot; the old one stops working and the bot's authorisations
        end: its keys are logged out (live sessions see it on their next call)."""
        secret = self._new_secret()
        self._storage.accounts.set_bot_secret(bot.id, secret)
        for record in self._storage.auth_keys.for_account(bot.id):
            with contextlib.suppress(AuthKeyNotFound):  # deleted meanwhile: logged out too
                self._storage.auth_keys.bind_account(record.id, None)
        self.token_resets += 1
        return f"{bot.id}:{secret}"

    def import_bot(self, token: str) -> Account:
        """``auth.importBotAuthorization``: the bot the token belongs to."""
        account = self._storage.accounts.get_by_bot_token(token)
        if account is None or not account.is_bot:
            raise ACCESS_TOKEN_INVALID()
        return account

    # -- both -------------------------------------------------------------------------------

    @staticmethod
    def authorization(account: Account) -> auth_types.Authorization:
        return auth_types.Authorization(user=render_user(account, account.id))

    @staticmethod
    def logged_out() -> auth_types.LoggedOut:
        return auth_types.LoggedOut()

    # -- internals --------------------------------------------------------------------------

    def _new_user(self, digits: str, first: str, last: str | None) -> Account:
        try:
            return self._storage.accounts.create_user(digits, first, last)
        except PhoneTaken:
            raise PHONE_NUMBER_OCCUPIED() from None

    def _new_secret(self) -> str:
        raw = self._random(TOKEN_SECRET_BYTES)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def _key(self) -> bytes:
        if self._login_key is None:
            self._login_key = self._storage.settings.setdefault(LOGIN_SECRET, self._random(32))
        return self._login_key

    def _mac(self, digits: str, nonce: str, issued: int) -> str:
        message = f"{digits}:{nonce}:{issued}".encode()
        return hmac.new(self._key(), message, hashlib.sha256).hexdigest()[:32]

    def _check_hash(self, phone: str, phone_code_hash: str) -> str:
        """The normalised number, if the hash was issued for it and is still fresh."""
        digits = normalise_phone(phone)
        head, dot, mac = phone_code_hash.partition(".")
        nonce, issued_hex = head[:16], head[16:]
        try:
            issued = int(issued_hex, 16)
        except ValueError:
            raise PHONE_CODE_EXPIRED() from None
        if not dot or not hmac.compare_digest(mac, self._mac(digits, nonce, issued)):
            raise PHONE_CODE_EXPIRED()
        if self._clock() - issued > self._config.login_code_ttl:
            raise PHONE_CODE_EXPIRED()
        return digits


__all__ = [
    "ABOUT_LENGTH_MAX",
    "AccountService",
    "BotCredentials",
    "about_of",
    "check_username",
    "normalise_phone",
]
