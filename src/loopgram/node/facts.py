"""Node layer: what a data directory says about its server, without starting one.

Defaults (host, port, data directory), the settings keys where a server records where it
listened, the RSA key (generated on first use and kept in the settings), the bot tokens the
tools made, and :class:`ServerFacts` -- what a client needs to connect, as ``loopgram info``
prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from loopgram.crypto import RsaPrivateKey
from loopgram.storage import RSA_PRIVATE_KEY_PEM, Storage

__all__ = [
    "BOT_TOKEN_PREFIX",
    "DEFAULT_DATA_DIR",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LAST_BOT_API_URL",
    "LAST_HOST",
    "LAST_PORT",
    "LAST_WEB_URL",
    "ServerFacts",
    "advertised",
    "ever_served",
    "load_facts",
    "load_rsa_key",
    "recall_bot_token",
    "remember_bot_token",
]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 20443
"""Below 32768 (some clients keep the port in a signed 16-bit field) and unprivileged."""
DEFAULT_DATA_DIR: Final = "loopgram-data"

LAST_HOST: Final = "server.last_host"
LAST_PORT: Final = "server.last_port"
"""Settings keys: where the server last listened (``loopgram info``)."""
LAST_BOT_API_URL: Final = "server.last_bot_api_url"
"""Settings key: the Bot API's base URL of the last server, absent if it had none."""
LAST_WEB_URL: Final = "server.last_web_url"
"""Settings key: the web page's address of the last server (with its access token, if it
needed one: the data directory holds secrets enough already), absent if it had none."""

_WILDCARD_HOSTS: Final = frozenset({"", "0.0.0.0", "::"})


@dataclass(frozen=True, slots=True)
class ServerFacts:
    """What a client needs to connect: address and the RSA key to trust."""

    host: str
    port: int
    public_key_pem: str
    fingerprint: int
    """The key's fingerprint as the signed 64-bit value sent in ``resPQ``."""
    bot_api_url: str | None = None
    """The Bot API's base URL (``{url}/bot<token>/<method>``), ``None`` without one."""
    web_url: str | None = None
    """The web page (on the Bot API's listener), ``None`` without one."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "public_key_pem": self.public_key_pem,
            "fingerprint": self.fingerprint,
            "bot_api_url": self.bot_api_url,
            "web_url": self.web_url,
        }

    def describe(self) -> str:
        """The human-readable block ``loopgram serve`` and ``loopgram info`` print."""
        unsigned = self.fingerprint & 0xFFFFFFFFFFFFFFFF
        return (
            f"host: {self.host}\n"
            f"port: {self.port}\n"
            f"fingerprint: {self.fingerprint} (0x{unsigned:016x})\n"
            f"bot api: {self.bot_api_url or 'off'}\n"
            f"web: {self.web_url or 'off'}\n"
            f"public key:\n{self.public_key_pem.rstrip()}\n"
        )


def load_rsa_key(storage: Storage) -> RsaPrivateKey:
    """The server's RSA key from the settings, generated and stored on first use.

    ``setdefault`` makes two processes starting at once (``serve`` and ``info``) agree on
    one key.
    """
    pem = storage.settings.get(RSA_PRIVATE_KEY_PEM)
    if pem is None:
        fresh = RsaPrivateKey.generate().to_pem().encode("ascii")
        pem = storage.settings.setdefault(RSA_PRIVATE_KEY_PEM, fresh)
    return RsaPrivateKey.from_pem(pem)


def load_facts(storage: Storage) -> ServerFacts:
    """The facts of a data directory: its key, and where its server listened last (or the
    defaults if it never ran)."""
    key = load_rsa_key(storage)
    host_raw = storage.settings.get(LAST_HOST)
    port_raw = storage.settings.get(LAST_PORT)
    host = host_raw.decode() if host_raw else DEFAULT_HOST
    port = int(port_raw.decode()) if port_raw else DEFAULT_PORT
    url_raw = storage.settings.get(LAST_BOT_API_URL)
    url = url_raw.decode() if url_raw else None
    web_raw = storage.settings.get(LAST_WEB_URL)
    web_url = web_raw.decode() if web_raw else None
    return ServerFacts(
        host, port, key.public_key.to_pem(), key.public_key.fingerprint, url, web_url
    )


BOT_TOKEN_PREFIX: Final = "bot.token."
"""Settings key prefix (``bot.token.<bot id>``): the last token made for each bot, so that
``loopgram bot token NAME`` can print it again. The accounts table keeps only a token's
hash, for logins; a copy here adds nothing to what the data directory already gives away
(it holds the RSA private key and the login secret, enough to impersonate the server)."""


def remember_bot_token(storage: Storage, token: str) -> None:
    """Keep ``token`` (``<bot id>:<secret>``) for :func:`recall_bot_token`."""
    bot_id, _, _ = token.partition(":")
    storage.settings.set(BOT_TOKEN_PREFIX + bot_id, token.encode())


def recall_bot_token(storage: Storage, bot_id: int) -> str | None:
    """The last token made for the bot, if it was made with this data directory's tools."""
    raw = storage.settings.get(f"{BOT_TOKEN_PREFIX}{bot_id}")
    return None if raw is None else raw.decode()


def ever_served(storage: Storage) -> bool:
    """Whether a server has ever listened with this storage (it records where)."""
    return storage.settings.get(LAST_PORT) is not None


def advertised(host: str) -> str:
    """The address to tell clients for a listener on ``host`` (loopback for a wildcard)."""
    return DEFAULT_HOST if host in _WILDCARD_HOSTS else host
