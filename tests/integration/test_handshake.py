"""A real Telethon client completes the key exchange over loopback TCP, on every transport it
has, and gets the answer to ``invokeWithLayer(initConnection(help.getConfig))`` -- the first
thing every client asks."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

import pytest
from telethon.network import authenticator  # type: ignore[import-untyped]
from telethon.network.connection import (  # type: ignore[import-untyped]
    ConnectionTcpAbridged,
    ConnectionTcpFull,
    ConnectionTcpIntermediate,
    ConnectionTcpObfuscated,
)
from telethon.network.mtprotosender import MTProtoSender  # type: ignore[import-untyped]
from telethon.tl import functions, types  # type: ignore[import-untyped]
from telethon.tl.alltlobjects import LAYER  # type: ignore[import-untyped]

from loopgram.crypto.bigint import powmod
from loopgram.testing.server import ServerThread
from loopgram.testing.telethon import trust_telethon

from .support import within


class Loggers(dict[str, logging.Logger]):
    def __missing__(self, key: str) -> logging.Logger:
        return logging.getLogger(key)


def init(query: Any) -> Any:
    return functions.InvokeWithLayerRequest(
        LAYER,
        functions.InitConnectionRequest(
            api_id=1,
            device_model="loopgram test",
            system_version="1",
            app_version="1",
            system_lang_code="en",
            lang_pack="",
            lang_code="en",
            query=query,
        ),
    )


@pytest.mark.parametrize(
    "connection_class",
    [ConnectionTcpFull, ConnectionTcpAbridged, ConnectionTcpIntermediate, ConnectionTcpObfuscated],
    ids=lambda c: c.__name__,
)
async def test_key_exchange_and_get_config(
    loopgram_server: ServerThread, connection_class: Any
) -> None:
    trust_telethon(loopgram_server)
    loggers = Loggers()
    sender = MTProtoSender(None, loggers=loggers, retries=1, auto_reconnect=False)
    await within(
        sender.connect(
            connection_class(loopgram_server.host, loopgram_server.port, 2, loggers=loggers)
        )
    )
    try:
        assert sender.auth_key.key is not None  # the key exchange completed
        config = await within(sender.send(init(functions.help.GetConfigRequest())))
        assert isinstance(config, types.Config)
        assert config.this_dc == 2
        assert [(o.id, o.ip_address, o.port) for o in config.dc_options] == [
            (2, loopgram_server.host, loopgram_server.port)
        ]
        # A second connection with the same key (a new session) needs no new exchange.
        again = MTProtoSender(sender.auth_key, loggers=loggers, retries=1, auto_reconnect=False)
        await within(
            again.connect(
                connection_class(loopgram_server.host, loopgram_server.port, 2, loggers=loggers)
            )
        )
        try:
            nearest = await within(again.send(init(functions.help.GetNearestDcRequest())))
            assert nearest.this_dc == 2
        finally:
            await again.disconnect()
    finally:
        await sender.disconnect()


async def test_many_key_exchanges_at_once(loopgram_server: ServerThread) -> None:
    trust_telethon(loopgram_server)
    loggers = Loggers()
    senders = [
        MTProtoSender(None, loggers=loggers, retries=1, auto_reconnect=False) for _ in range(20)
    ]
    await within(
        asyncio.gather(
            *(
                s.connect(
                    ConnectionTcpIntermediate(
                        loopgram_server.host, loopgram_server.port, 2, loggers=loggers
                    )
                )
                for s in senders
            )
        ),
        timeout=60,
    )
    try:
        assert len({s.auth_key.key_id for s in senders}) == 20
        configs = await within(
            asyncio.gather(*(s.send(init(functions.help.GetConfigRequest())) for s in senders))
        )
        assert all(c.this_dc == 2 for c in configs)
    finally:
        await asyncio.gather(*(s.disconnect() for s in senders))


class FirstKeyWithLeadingZero:
    """Stands in for ``os`` inside Telethon's authenticator. Where Telethon draws its DH
    exponent ``b`` (``os.urandom(256)``, with ``g_a`` and ``dh_prime`` in the caller's
    frame), it picks one whose auth key ``g_a^b mod dh_prime`` starts with a zero byte the
    first time, and one whose key does not after that: a rare case (1 in 256) made certain,
    and nothing left to chance on the retry."""

    def __init__(self) -> None:
        self.exponents = 0

    def urandom(self, size: int) -> bytes:
        if size != 256:
            return os.urandom(size)
        caller = sys._getframe(1).f_locals
        g_a, prime = caller["g_a"], caller["dh_prime"]
        want_zero = self.exponents == 0
        self.exponents += 1
        while True:
            raw = os.urandom(256)
            if (powmod(g_a, int.from_bytes(raw), prime) < 1 << 2040) == want_zero:
                return raw


async def test_telethon_retries_a_failed_exchange_on_the_same_connection(
    loopgram_server: ServerThread, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """Telethon 1.45 shortens an auth key with a leading zero byte to 255 bytes, so its own
    ``new_nonce_hash1`` check fails and it starts a new exchange on the same connection:
    the server, which has already registered the first key, serves the second one and the
    client can then use it."""
    trust_telethon(loopgram_server)
    shim = FirstKeyWithLeadingZero()
    monkeypatch.setattr(authenticator, "os", shim)
    loggers = Loggers()
    sender = MTProtoSender(None, loggers=loggers, retries=1, delay=0.05, auto_reconnect=False)
    connection = ConnectionTcpIntermediate(
        loopgram_server.host, loopgram_server.port, 2, loggers=loggers
    )
    connects = 0
    real_connect = connection.connect

    async def counting_connect(*args: Any, **kwargs: Any) -> Any:
        nonlocal connects
        connects += 1
        return await real_connect(*args, **kwargs)

    connection.connect = counting_connect
    with caplog.at_level(logging.WARNING):
        await within(sender.connect(connection), timeout=30)
    try:
        assert shim.exponents == 2
        assert "invalid new nonce hash" in caplog.text  # the first exchange failed, client-side
        assert connects == 1
        assert len(sender.auth_key.key) == 256
        config = await within(sender.send(init(functions.help.GetConfigRequest())))
        assert config.this_dc == 2
    finally:
        await sender.disconnect()
