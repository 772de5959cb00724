"""Key-exchange vectors (MTProto layer, core.telegram.org/mtproto/auth_key): make and replay.

Each case is one complete exchange between :class:`~loopgram.mtproto.handshake.ClientHandshake`
and :class:`~loopgram.mtproto.handshake.ServerHandshake` with seeded randomness, fixed clocks
(the server's runs ``SERVER_AHEAD`` seconds ahead, so the client sees a time offset) and the
test RSA key in ``test_rsa_key.pem``. Every request and response body, its unencrypted
envelope (:mod:`loopgram.mtproto.plain`) and the resulting key, salt and offset are stored in
hex. ``tests/mtproto/test_handshake_vectors.py`` replays them for each role.

Regenerate (only when the protocol output is meant to change)::

    /work/venv/bin/python -m tests.vectors.make_vectors
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from loopgram.clock import FakeClock, seeded_random
from loopgram.crypto import RsaPrivateKey
from loopgram.mtproto.handshake import (
    ClientHandshake,
    HandshakeResult,
    KeyExists,
    ServerHandshake,
)
from loopgram.mtproto.plain import encode_plain

VECTORS_DIR: Final = Path(__file__).resolve().parent
TEST_KEY_PEM: Final = VECTORS_DIR / "test_rsa_key.pem"
VECTORS_JSON: Final = VECTORS_DIR / "handshake_vectors.json"

CLIENT_START: Final = 1_764_000_000.0
SERVER_AHEAD: Final = 7.0
STEP_SECONDS: Final = 0.5
"""Each role's clock moves this much after every message it handles."""


@dataclass(frozen=True)
class Case:
    """One vector: which ``p_q_inner_data`` the client sends, how many key-id collisions."""

    name: str
    dc_id: int | None
    temp_expires_in: int | None
    collisions: int = 0
    client_seed: int = 1
    server_seed: int = 2


CASES: Final = (
    Case("p_q_inner_data", dc_id=None, temp_expires_in=None),
    Case("p_q_inner_data_dc", dc_id=2, temp_expires_in=None, client_seed=3, server_seed=4),
    Case("p_q_inner_data_temp", dc_id=None, temp_expires_in=86_400, client_seed=5, server_seed=6),
    Case("p_q_inner_data_temp_dc", dc_id=2, temp_expires_in=3_600, client_seed=7, server_seed=8),
    Case(
        "dh_gen_retry", dc_id=2, temp_expires_in=None, collisions=1, client_seed=9, server_seed=10
    ),
)


def load_test_key() -> RsaPrivateKey:
    """The fixed 2048-bit test key (generated once with ``RsaPrivateKey.generate``)."""
    return RsaPrivateKey.from_pem(TEST_KEY_PEM.read_bytes())


def plain_msg_id(now: float, counter: int, *, server: bool) -> int:
    """A deterministic ``msg_id`` for the envelopes: ``(unixtime << 32) + 4N``.

    Client ids are divisible by 4; server responses are ``1 mod 4`` (one more).
    """
    return (int(now) << 32) + 4 * counter + (1 if server else 0)


def collisions(count: int) -> KeyExists:
    """A ``key_exists`` that reports the first ``count`` key ids as taken."""
    seen: list[int] = []

    def key_exists(key_id: int) -> bool:
        seen.append(key_id)
        return len(seen) <= count

    return key_exists


def make_client(case: Case, key: RsaPrivateKey) -> tuple[ClientHandshake, FakeClock]:
    clock = FakeClock(CLIENT_START)
    client = ClientHandshake(
        rsa_keys=[key.public_key],
        clock=clock,
        random_bytes=seeded_random(case.client_seed),
        dc_id=case.dc_id,
        temp_expires_in=case.temp_expires_in,
    )
    return client, clock


def make_server(case: Case, key: RsaPrivateKey) -> tuple[ServerHandshake, FakeClock]:
    clock = FakeClock(CLIENT_START + SERVER_AHEAD)
    server = ServerHandshake(
        rsa_keys=[key],
        clock=clock,
        random_bytes=seeded_random(case.server_seed),
        key_exists=collisions(case.collisions),
    )
    return server, clock


def result_to_json(result: HandshakeResult) -> dict[str, Any]:
    return {
        "auth_key": result.auth_key.key.hex(),
        "auth_key_id": result.auth_key.id,
        "server_salt": result.server_salt,
        "time_offset": result.time_offset,
        "expires_in": result.expires_in,
        "dc": result.dc,
        "rsa_padding": result.rsa_padding.value,
    }


def run_case(case: Case, key: RsaPrivateKey) -> dict[str, Any]:
    """Run one exchange end to end and record every byte."""
    client, client_clock = make_client(case, key)
    server, server_clock = make_server(case, key)
    messages: list[dict[str, str]] = []
    request = client.start()
    server_result: HandshakeResult | None = None
    for counter in range(16):
        request_msg_id = plain_msg_id(client_clock(), counter, server=False)
        step = server.receive(request)
        server_clock.advance(STEP_SECONDS)
        response_msg_id = plain_msg_id(server_clock(), counter, server=True)
        messages.append(
            {
                "request": request.hex(),
                "request_message": encode_plain(request_msg_id, request).hex(),
                "response": step.reply.hex(),
                "response_message": encode_plain(response_msg_id, step.reply).hex(),
            }
        )
        server_result = step.result or server_result
        out = client.receive(step.reply)
        client_clock.advance(STEP_SECONDS)
        if isinstance(out, HandshakeResult):
            if server_result is None or server_result.auth_key != out.auth_key:
                raise RuntimeError(f"{case.name}: the two sides disagree on the auth key")
            return {
                "name": case.name,
                "dc_id": case.dc_id,
                "temp_expires_in": case.temp_expires_in,
                "collisions": case.collisions,
                "client_seed": case.client_seed,
                "server_seed": case.server_seed,
                "messages": messages,
                "client_result": result_to_json(out),
                "server_result": result_to_json(server_result),
            }
        request = out
    raise RuntimeError(f"{case.name}: no result after 16 round trips")


def make_vectors() -> dict[str, Any]:
    key = load_test_key()
    return {
        "description": (
            "MTProto auth key exchanges between loopgram's ClientHandshake and ServerHandshake; "
            "made by tests/vectors/make_vectors.py (seeded randomness, fixed clocks, "
            "tests/vectors/test_rsa_key.pem)"
        ),
        "client_start": CLIENT_START,
        "server_ahead": SERVER_AHEAD,
        "step_seconds": STEP_SECONDS,
        "rsa_fingerprint": key.public_key.fingerprint,
        "cases": [run_case(case, key) for case in CASES],
    }


def main() -> None:
    VECTORS_JSON.write_text(json.dumps(make_vectors(), indent=1) + "\n")
    print(f"wrote {VECTORS_JSON}")


if __name__ == "__main__":
    main()
