"""Point an unmodified Pyrogram-family client (kurigram, Pyrogram 2.x) at a loopgram server.

Two things, as for any client: trust the server's RSA key, and connect to the server's address
as the home data centre (DC 2)::

    from loopgram.testing.pyrogram import pyrogram_client

    bot = pyrogram_client(server, "bot", bot_token=token)
    user = pyrogram_client(server, "user", phone_number="+15550001", phone_code="12345")
    await bot.start(); await user.start()

By hand:

- the key: ``pyrogram.crypto.rsa.server_public_keys[fingerprint] = PublicKey(n, e)``
  (``fingerprint`` is the signed 64-bit value ``loopgram info`` prints; ``PublicKey`` is
  ``pyrogram.crypto.rsa.PublicKey``, whose fields are ``m`` and ``e``);
- the address: kurigram keeps it in the client's storage (``server_address``/``port``),
  which it resets to Telegram's when a session is new, so the adapter pins both on the
  storage instance (the client's class is untouched); Pyrogram 2.0 computes it from its
  ``DataCenter`` table, which the adapter points at the server instead (process-wide).

kurigram is not a dependency of loopgram: install it to use this module. loopgram's own test
suite runs it with kurigram 2.2 (layer 229) and with Pyrogram 2.0.106 (layer 158).
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

__all__ = ["pin_address", "pyrogram_client", "trust_pyrogram"]


class ServerLike(Protocol):
    @property
    def port(self) -> int: ...

    @property
    def public_key_pem(self) -> str: ...


def _host(server: ServerLike) -> str:
    for name in ("advertised_host", "host"):
        host = getattr(server, name, None)
        if isinstance(host, str) and host:
            return host
    return "127.0.0.1"


def trust_pyrogram(server: ServerLike | str) -> int:
    """Add the server's key (or a PEM string) to Pyrogram's table; returns its fingerprint."""
    from loopgram.crypto import RsaPublicKey

    rsa = importlib.import_module("pyrogram.crypto.rsa")

    pem = server if isinstance(server, str) else server.public_key_pem
    key = RsaPublicKey.from_pem(pem)
    rsa.server_public_keys[key.fingerprint] = rsa.PublicKey(key.n, key.e)
    return key.fingerprint


def pin_address(client: Any, host: str, port: int) -> None:
    """Make ``client`` (a ``pyrogram.Client`` not started yet) connect to ``host:port``."""
    storage = getattr(client, "storage", None)
    if storage is not None and hasattr(storage, "server_address"):
        # kurigram: the address lives in the storage, reset to Telegram's for a new session.
        base = type(storage)

        async def server_address(self: Any, value: Any = object) -> str:
            return host

        async def fixed_port(self: Any, value: Any = object) -> int:
            return port

        pinned = type(
            f"LoopgramPinned{base.__name__}",
            (base,),
            {"server_address": server_address, "port": fixed_port},
        )
        storage.__class__ = pinned
        return
    # Pyrogram 2.0: every session asks DataCenter(dc_id, test_mode, ipv6, media) for
    # (ip, port).
    data_center = importlib.import_module("pyrogram.session.internals.data_center")

    def address(cls: Any, *args: Any, **kwargs: Any) -> tuple[str, int]:
        return host, port

    data_center.DataCenter.__new__ = address


def pyrogram_client(
    server: ServerLike,
    name: str = "loopgram",
    *,
    api_id: int = 1,
    api_hash: str = "loopgram",
    **kwargs: Any,
) -> Any:
    """An unstarted ``pyrogram.Client`` for the server: in memory unless told otherwise,
    trusting the server's key, connecting to its address. ``kwargs`` go to ``Client``
    (``bot_token``, ``phone_number``, ``phone_code``, ``session_string``, ``workdir``...)."""
    pyrogram = importlib.import_module("pyrogram")
    trust_pyrogram(server)
    kwargs.setdefault("in_memory", "workdir" not in kwargs)
    client = pyrogram.Client(name, api_id=api_id, api_hash=api_hash, **kwargs)
    pin_address(client, _host(server), server.port)
    return client
