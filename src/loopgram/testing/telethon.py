"""Point an unmodified Telethon (1.x) client at a loopgram server.

Telethon needs two things: to trust the server's RSA key (it only runs the key exchange
with keys it knows) and to connect to the server's address as its home data centre (DC 2).
Any ``api_id``/``api_hash`` works::

    from loopgram.testing.telethon import telethon_client

    client = telethon_client(server)            # a LoopgramServer, ServerThread or ServerFacts
    await client.start(bot_token=token)         # a bot
    user = telethon_client(server)
    await user.start(phone="+15550001", code_callback=lambda: "12345")   # a user

By hand, the same is::

    from telethon import TelegramClient
    from telethon.crypto import rsa
    from telethon.sessions import StringSession

    rsa.add_key(public_key_pem, old=False)      # PKCS#1 PEM, as `loopgram info` prints it
    client = TelegramClient(StringSession(), api_id=1, api_hash="loopgram")
    client.session.set_dc(2, host, port)

Keep ``client.session.save()`` (a ``StringSession`` string) to reconnect later with the same
auth key and login, even after the server restarted on the same data directory.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["DC_ID", "telethon_client", "telethon_session", "trust_telethon"]

DC_ID = 2
"""The data centre a loopgram server is."""


class ServerLike(Protocol):
    """Anything with the connection facts: a server, a server thread, ``ServerFacts``."""

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


def trust_telethon(server: ServerLike | str) -> None:
    """Add the server's public key (or a PEM string) to Telethon's known keys. Idempotent;
    Telethon's own keys stay (it picks the key the server's ``resPQ`` names)."""
    from telethon.crypto import rsa  # type: ignore[import-untyped,import-not-found,unused-ignore]

    pem = server if isinstance(server, str) else server.public_key_pem
    rsa.add_key(pem, old=False)


def telethon_session(server: ServerLike, session: str | Any = None) -> Any:
    """A Telethon session aimed at the server: a new ``StringSession`` by default, or
    ``session`` -- a saved ``StringSession`` string, or a Session object such as
    ``SQLiteSession(path)`` -- with its address set to the server's (the auth key kept)."""
    from telethon.sessions import StringSession  # type: ignore[import-untyped,import-not-found,unused-ignore]

    if session is None or isinstance(session, str):
        session = StringSession(session or None)
    if session.server_address != _host(server) or session.port != server.port:
        session.set_dc(DC_ID, _host(server), server.port)
    return session


def telethon_client(
    server: ServerLike,
    session: str | Any = None,
    *,
    api_id: int = 1,
    api_hash: str = "loopgram",
    **kwargs: Any,
) -> Any:
    """An unconnected ``TelegramClient`` for the server (trusting its key).

    ``kwargs`` go to ``TelegramClient`` (``receive_updates``, ``connection``...). Call
    ``await client.start(...)`` or ``await client.connect()`` next.
    """
    from telethon import TelegramClient  # type: ignore[import-untyped,import-not-found,unused-ignore]

    trust_telethon(server)
    kwargs.setdefault("device_model", "loopgram test")
    return TelegramClient(telethon_session(server, session), api_id, api_hash, **kwargs)
