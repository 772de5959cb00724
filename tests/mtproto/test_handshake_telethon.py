"""A real peer: Telethon's authenticator completes the key exchange against ServerHandshake.

Telethon's ``do_authentication(sender)`` only needs ``await sender.send(request)``; the fake
sender below passes the serialised request to :class:`ServerHandshake` and parses the reply
with Telethon's own TL reader. Telethon sends plain ``p_q_inner_data`` with the legacy SHA1
RSA padding and an unpadded-to-256-bytes ``g_b``, which exercises the server's tolerant side.
Telethon draws its randomness from ``os.urandom``; the test seeds it, so the run is
deterministic (Telethon turns a key with a leading zero byte into a 255-byte key, which a
1-in-256 seed would hit).
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("telethon")

from telethon.crypto import rsa as telethon_rsa  # type: ignore[import-untyped]
from telethon.extensions import BinaryReader  # type: ignore[import-untyped]
from telethon.network import authenticator  # type: ignore[import-untyped]

from loopgram.clock import FakeClock, seeded_random
from loopgram.crypto import RsaPadding
from loopgram.mtproto.handshake import HandshakeResult, ServerHandshake
from tests.vectors.make_vectors import load_test_key

KEY = load_test_key()


class LoopbackSender:
    """Stands in for Telethon's MTProtoPlainSender: requests go straight to our server."""

    def __init__(self, server: ServerHandshake) -> None:
        self.server = server
        self.results: list[HandshakeResult] = []
        self.requests: list[str] = []

    async def send(self, request: Any) -> Any:
        body = bytes(request)
        self.requests.append(type(request).__name__)
        step = self.server.receive(body)
        if step.result is not None:
            self.results.append(step.result)
        return BinaryReader(step.reply).tgread_object()


@pytest.fixture
def telethon_trusts_the_test_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telethon_rsa, "_server_keys", dict(telethon_rsa._server_keys))
    telethon_rsa.add_key(KEY.public_key.to_pem(), old=False)


@pytest.mark.usefixtures("telethon_trusts_the_test_key")
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_telethon_completes_the_exchange_and_derives_the_same_key(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setattr("os.urandom", seeded_random(1000 + seed))
    server = ServerHandshake(
        rsa_keys=[KEY], clock=FakeClock(1_764_000_000.0), random_bytes=seeded_random(seed)
    )
    sender = LoopbackSender(server)

    auth_key, _time_offset = await authenticator.do_authentication(sender)

    assert sender.requests == [
        "ReqPqMultiRequest",
        "ReqDHParamsRequest",
        "SetClientDHParamsRequest",
    ]
    assert len(sender.results) == 1
    ours = sender.results[0]
    assert auth_key.key == ours.auth_key.key
    assert auth_key.key_id == ours.auth_key.id & (1 << 64) - 1  # Telethon's id is unsigned
    assert ours.rsa_padding is RsaPadding.LEGACY
    assert ours.dc is None and ours.expires_in is None


@pytest.mark.usefixtures("telethon_trusts_the_test_key")
async def test_telethon_reports_the_server_time_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr("os.urandom", seeded_random(7))
    server = ServerHandshake(
        rsa_keys=[KEY], clock=FakeClock(time.time() + 3600), random_bytes=seeded_random(7)
    )
    _, time_offset = await authenticator.do_authentication(LoopbackSender(server))
    assert 3598 <= time_offset <= 3601
