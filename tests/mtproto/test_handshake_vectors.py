"""Replay of tests/vectors/handshake_vectors.json: each role alone reproduces every byte.

The vectors come from tests/vectors/make_vectors.py (seeded randomness, fixed clocks, the
test RSA key). The server is fed the recorded requests and must give the recorded replies;
the client is fed the recorded replies and must give the recorded requests; both must end
with the recorded key, salt and time offset.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from loopgram.mtproto.handshake import HandshakeResult
from loopgram.mtproto.plain import decode_plain
from tests.vectors.make_vectors import (
    CASES,
    STEP_SECONDS,
    VECTORS_JSON,
    Case,
    load_test_key,
    make_client,
    make_server,
    make_vectors,
    result_to_json,
)

KEY = load_test_key()
VECTORS: dict[str, Any] = json.loads(VECTORS_JSON.read_text())
BY_NAME = {case["name"]: case for case in VECTORS["cases"]}
CASE_PARAMS = [pytest.param(case, BY_NAME[case.name], id=case.name) for case in CASES]


def test_vectors_cover_every_case_and_the_test_key() -> None:
    assert [case["name"] for case in VECTORS["cases"]] == [case.name for case in CASES]
    assert VECTORS["rsa_fingerprint"] == KEY.public_key.fingerprint


def test_make_vectors_reproduces_the_stored_file() -> None:
    assert make_vectors() == VECTORS


@pytest.mark.parametrize(("case", "vector"), CASE_PARAMS)
def test_server_alone_reproduces_every_reply(case: Case, vector: dict[str, Any]) -> None:
    server, clock = make_server(case, KEY)
    result: HandshakeResult | None = None
    for message in vector["messages"]:
        step = server.receive(bytes.fromhex(message["request"]))
        clock.advance(STEP_SECONDS)
        assert step.reply.hex() == message["response"]
        result = step.result or result
    assert result is not None
    assert result_to_json(result) == vector["server_result"]


@pytest.mark.parametrize(("case", "vector"), CASE_PARAMS)
def test_client_alone_reproduces_every_request(case: Case, vector: dict[str, Any]) -> None:
    client, clock = make_client(case, KEY)
    messages = vector["messages"]
    assert client.start().hex() == messages[0]["request"]
    out: bytes | HandshakeResult = b""
    for index, message in enumerate(messages):
        out = client.receive(bytes.fromhex(message["response"]))
        clock.advance(STEP_SECONDS)
        if index + 1 < len(messages):
            assert isinstance(out, bytes)
            assert out.hex() == messages[index + 1]["request"]
    assert isinstance(out, HandshakeResult)
    assert result_to_json(out) == vector["client_result"]


@pytest.mark.parametrize(("case", "vector"), CASE_PARAMS)
def test_both_roles_agree_on_the_key(case: Case, vector: dict[str, Any]) -> None:
    client_result, server_result = vector["client_result"], vector["server_result"]
    assert client_result["auth_key"] == server_result["auth_key"]
    assert client_result["server_salt"] == server_result["server_salt"]
    assert client_result["time_offset"] == 7
    assert client_result["expires_in"] == case.temp_expires_in


@pytest.mark.parametrize(("case", "vector"), CASE_PARAMS)
def test_envelopes_hold_the_bodies_with_client_and_server_msg_ids(
    case: Case, vector: dict[str, Any]
) -> None:
    for message in vector["messages"]:
        request = decode_plain(bytes.fromhex(message["request_message"]))
        response = decode_plain(bytes.fromhex(message["response_message"]))
        assert request.body.hex() == message["request"]
        assert response.body.hex() == message["response"]
        assert request.msg_id % 4 == 0
        assert response.msg_id % 4 == 1
