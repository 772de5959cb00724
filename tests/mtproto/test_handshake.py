"""The auth key exchange, both roles back to back in memory (core.telegram.org/mtproto/auth_key).

Client and server talk through the unencrypted envelope. Malformed or hostile messages are
forged here with the test RSA key (the tests can decrypt what the client sent, so they
know ``new_nonce`` and can build any server answer or client request).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from hashlib import sha1
from typing import Any

import pytest

from loopgram import LoopgramError
from loopgram.clock import FakeClock, seeded_random
from loopgram.crypto import (
    DH_PRIME,
    DH_PRIME_BYTES,
    SERVER_EXPONENT_BITS,
    AuthKey,
    RsaPadding,
    RsaPrivateKey,
    generate_keypair,
    generate_pq,
    handshake_aes_key_iv,
)
from loopgram.mtproto.handshake import (
    MAX_DH_GEN_RETRIES,
    ClientHandshake,
    ClientState,
    HandshakeError,
    HandshakeResult,
    PrecomputedPool,
    ServerHandshake,
    ServerState,
    ServerStep,
    decrypt_inner_data,
    encrypt_inner_data,
    inner_data_padding_length,
)
from loopgram.mtproto.plain import decode_plain, encode_plain
from loopgram.tl import Reader, read
from loopgram.tl.core import OBJECTS, _ensure_registry, read_boxed
from loopgram.tl.mtproto.functions import ReqDHParams, ReqPq, ReqPqMulti, SetClientDHParams
from loopgram.tl.mtproto.types import (
    ClientDHInnerData,
    DhGenFail,
    DhGenOk,
    DhGenRetry,
    PQInnerData,
    PQInnerDataDc,
    PQInnerDataTemp,
    PQInnerDataTempDc,
    ResPQ,
    ServerDHInnerData,
    ServerDHParamsFail,
    ServerDHParamsOk,
)
from tests.vectors.make_vectors import load_test_key

KEY = load_test_key()
OTHER_KEY = RsaPrivateKey.generate()
START = 1_764_000_000.0

AnyInner = PQInnerData | PQInnerDataDc | PQInnerDataTemp | PQInnerDataTempDc


def make_server(seed: int = 2, **kwargs: Any) -> ServerHandshake:
    kwargs.setdefault("rsa_keys", [KEY])
    kwargs.setdefault("clock", FakeClock(START + 30))
    return ServerHandshake(random_bytes=seeded_random(seed), **kwargs)


def make_client(seed: int = 1, **kwargs: Any) -> ClientHandshake:
    kwargs.setdefault("rsa_keys", [KEY.public_key])
    kwargs.setdefault("clock", FakeClock(START))
    return ClientHandshake(random_bytes=seeded_random(seed), **kwargs)


def run(
    client: ClientHandshake,
    server: ServerHandshake,
    rewrite: Callable[[bytes], bytes] = lambda body: body,
) -> tuple[HandshakeResult, HandshakeResult, list[tuple[bytes, ServerStep]]]:
    """Drive both sides through plain envelopes until the client has its result."""
    transcript: list[tuple[bytes, ServerStep]] = []
    request = client.start()
    server_result: HandshakeResult | None = None
    for counter in range(10):
        request = rewrite(request)
        packet = encode_plain(((int(START) << 32) + 4 * counter), request)
        step = server.receive(decode_plain(packet).body)
        transcript.append((request, step))
        server_result = step.result or server_result
        reply_packet = encode_plain((int(START) << 32) + 4 * counter + 1, step.reply)
        out = client.receive(decode_plain(reply_packet).body)
        if isinstance(out, HandshakeResult):
            assert server_result is not None
            return out, server_result, transcript
        request = out
    raise AssertionError("no result after 10 round trips")


def inner_of(req_dh_params: bytes, key: RsaPrivateKey = KEY) -> AnyInner:
    """The p_q_inner_data a client RSA-encrypted into req_DH_params (test key only)."""
    request = read(req_dh_params)
    assert isinstance(request, ReqDHParams)
    data = key.decrypt(request.encrypted_data).data
    _ensure_registry()
    inner = read_boxed(Reader(data), OBJECTS)
    assert isinstance(inner, (PQInnerData, PQInnerDataDc, PQInnerDataTemp, PQInnerDataTempDc))
    return inner


def rsa_legacy(data: bytes, key: RsaPrivateKey, rng: Callable[[int], bytes]) -> bytes:
    """The legacy client padding: RSA(SHA1(data) + data + random, 255 bytes in all)."""
    block = sha1(data).digest() + data + rng(255 - 20 - len(data))
    public = key.public_key
    return pow(int.from_bytes(block), public.e, public.n).to_bytes(256)


def with_inner(req_dh_params: bytes, inner: AnyInner, *, legacy: bool = False) -> bytes:
    """req_DH_params carrying another p_q_inner_data (RSA_PAD or legacy padding)."""
    request = read(req_dh_params)
    assert isinstance(request, ReqDHParams)
    rng = seeded_random(99)
    if legacy:
        encrypted = rsa_legacy(bytes(inner), KEY, rng)
    else:
        encrypted = KEY.public_key.encrypt(bytes(inner), random_bytes=rng)
    return bytes(
        ReqDHParams(
            nonce=request.nonce,
            server_nonce=request.server_nonce,
            p=request.p,
            q=request.q,
            public_key_fingerprint=request.public_key_fingerprint,
            encrypted_data=encrypted,
        )
    )


def tmp_key_iv(inner: AnyInner) -> tuple[bytes, bytes]:
    new_nonce = inner.new_nonce.to_bytes(32, "little", signed=True)
    return handshake_aes_key_iv(new_nonce, inner.server_nonce.to_bytes(16, "little", signed=True))


def advance_to_set_client(
    server: ServerHandshake, client: ClientHandshake
) -> tuple[bytes, AnyInner]:
    """Run req_pq_multi and req_DH_params; return the client's set_client_DH_params."""
    res_pq = server.receive(client.start()).reply
    req_dh = client.receive(res_pq)
    assert isinstance(req_dh, bytes)
    ok = server.receive(req_dh).reply
    set_client = client.receive(ok)
    assert isinstance(set_client, bytes)
    return set_client, inner_of(req_dh)


def client_request(inner: AnyInner, *, g_b: int, retry_id: int = 0) -> bytes:
    """A hand-made set_client_DH_params with any g_b / retry_id."""
    data = bytes(
        ClientDHInnerData(
            nonce=inner.nonce, server_nonce=inner.server_nonce, retry_id=retry_id, g_b=_be(g_b)
        )
    )
    key, iv = tmp_key_iv(inner)
    padding = bytes(inner_data_padding_length(len(data)))
    return bytes(
        SetClientDHParams(
            nonce=inner.nonce,
            server_nonce=inner.server_nonce,
            encrypted_data=encrypt_inner_data(data, key, iv, padding),
        )
    )


def _be(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8 or 1)


# -- complete exchanges ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dc_id", "temp_expires_in", "constructor"),
    [
        (None, None, PQInnerData),
        (2, None, PQInnerDataDc),
        (None, 86_400, PQInnerDataTemp),
        (2, 3_600, PQInnerDataTempDc),
    ],
)
def test_client_and_server_agree_for_every_p_q_inner_data_variant(
    dc_id: int | None, temp_expires_in: int | None, constructor: type[AnyInner]
) -> None:
    client = make_client(dc_id=dc_id, temp_expires_in=temp_expires_in)
    server = make_server()
    client_result, server_result, transcript = run(client, server)

    assert type(inner_of(transcript[1][0])) is constructor
    assert client_result.auth_key == server_result.auth_key
    assert client_result.server_salt == server_result.server_salt
    assert client_result.expires_in == server_result.expires_in == temp_expires_in
    assert client_result.dc == server_result.dc == dc_id
    assert server_result.rsa_padding is RsaPadding.RSA_PAD
    assert client.state is ClientState.DONE
    assert server.state is ServerState.DONE
    assert transcript[-1][1].finished


def test_server_salt_is_new_nonce_xor_server_nonce() -> None:
    client_result, _, transcript = run(make_client(), make_server())
    inner = inner_of(transcript[1][0])
    new_nonce = inner.new_nonce.to_bytes(32, "little", signed=True)
    server_nonce = inner.server_nonce.to_bytes(16, "little", signed=True)
    salt = bytes(a ^ b for a, b in zip(new_nonce[:8], server_nonce[:8], strict=True))
    assert client_result.server_salt == int.from_bytes(salt, "little", signed=True)


def test_client_time_offset_is_server_time_minus_local_time() -> None:
    client = make_client(clock=FakeClock(START))
    server = make_server(clock=FakeClock(START + 42.9))
    client_result, server_result, _ = run(client, server)
    assert client_result.time_offset == 42
    assert server_result.time_offset == 0


def test_server_accepts_the_legacy_sha1_rsa_padding() -> None:
    client, server = make_client(), make_server()

    def legacy(body: bytes) -> bytes:
        if isinstance(read(body), ReqDHParams):
            return with_inner(body, inner_of(body), legacy=True)
        return body

    client_result, server_result, _ = run(client, server, legacy)
    assert server_result.rsa_padding is RsaPadding.LEGACY
    assert client_result.auth_key == server_result.auth_key


def test_server_answers_legacy_req_pq_like_req_pq_multi() -> None:
    client, server = make_client(), make_server()

    def old_req_pq(body: bytes) -> bytes:
        request = read(body)
        return bytes(ReqPq(nonce=request.nonce)) if isinstance(request, ReqPqMulti) else body

    client_result, server_result, _ = run(client, server, old_req_pq)
    assert client_result.auth_key == server_result.auth_key


def test_server_offers_every_key_and_client_picks_a_known_fingerprint() -> None:
    server = make_server(rsa_keys=[OTHER_KEY, KEY])
    res_pq = read(server.receive(make_client().start()).reply)
    assert isinstance(res_pq, ResPQ)
    assert res_pq.server_public_key_fingerprints == [
        OTHER_KEY.public_key.fingerprint,
        KEY.public_key.fingerprint,
    ]
    client_result, server_result, transcript = run(
        make_client(), make_server(rsa_keys=[OTHER_KEY, KEY])
    )
    request = read(transcript[1][0])
    assert isinstance(request, ReqDHParams)
    assert request.public_key_fingerprint == KEY.public_key.fingerprint
    assert client_result.auth_key == server_result.auth_key


def test_server_pq_has_two_prime_factors_below_2_32() -> None:
    res_pq = read(make_server().receive(make_client().start()).reply)
    assert isinstance(res_pq, ResPQ)
    pq = int.from_bytes(res_pq.pq)
    assert len(res_pq.pq) <= 8
    from loopgram.crypto import factorize_pq

    p, q = factorize_pq(pq)
    assert p < q < 1 << 32


def test_server_dh_inner_data_uses_telegrams_prime_and_g_3() -> None:
    client, server = make_client(), make_server()
    req_dh = client.receive(server.receive(client.start()).reply)
    assert isinstance(req_dh, bytes)
    answer = read(server.receive(req_dh).reply)
    assert isinstance(answer, ServerDHParamsOk)
    key, iv = tmp_key_iv(inner_of(req_dh))
    inner = decrypt_inner_data(answer.encrypted_answer, key, iv, ServerDHInnerData)
    assert inner.g == 3
    assert inner.dh_prime == DH_PRIME_BYTES
    assert inner.server_time == int(START + 30)


# -- determinism ------------------------------------------------------------------------


def test_fake_clock_and_seeded_randomness_make_the_exchange_byte_for_byte_reproducible() -> None:
    first = run(make_client(seed=11), make_server(seed=12))
    second = run(make_client(seed=11), make_server(seed=12))
    assert [(r, s.reply) for r, s in first[2]] == [(r, s.reply) for r, s in second[2]]
    assert first[0].auth_key.key == second[0].auth_key.key
    other = run(make_client(seed=13), make_server(seed=12))
    assert other[0].auth_key.key != first[0].auth_key.key


# -- repeated requests -------------------------------------------------------------------


def test_identical_repeated_requests_get_identical_replies_at_every_step() -> None:
    client, server = make_client(), make_server()
    req_pq = client.start()
    res_pq = server.receive(req_pq)
    assert server.receive(req_pq) == ServerStep(res_pq.reply, repeated=True)

    req_dh = client.receive(res_pq.reply)
    assert isinstance(req_dh, bytes)
    dh_ok = server.receive(req_dh)
    assert server.receive(req_dh).reply == dh_ok.reply
    # An earlier step's repeat is still answered, without moving the state back.
    assert server.receive(req_pq).reply == res_pq.reply
    assert server.state is ServerState.AWAITING_SET_CLIENT_DH_PARAMS

    set_client = client.receive(dh_ok.reply)
    assert isinstance(set_client, bytes)
    gen_ok = server.receive(set_client)
    assert gen_ok.result is not None
    again = server.receive(set_client)
    assert again == ServerStep(gen_ok.reply, finished=True, repeated=True)
    assert again.result is None  # the key was reported once
    assert isinstance(client.receive(again.reply), HandshakeResult)


def test_a_new_req_pq_after_a_finished_exchange_starts_a_fresh_one() -> None:
    server = make_server()
    first, _, _ = run(make_client(seed=1), server)
    second, server_result, _ = run(make_client(seed=5), server)
    assert second.auth_key == server_result.auth_key != first.auth_key


# -- protocol violations: HandshakeError, -404, the exchange is forgotten ----------------


def expect_forgotten(server: ServerHandshake, body: bytes, match: str) -> None:
    with pytest.raises(HandshakeError, match=match) as info:
        server.receive(body)
    assert info.value.transport_error == -404
    assert server.state is ServerState.AWAITING_REQ_PQ


def test_handshake_error_is_a_loopgram_error_carrying_404() -> None:
    assert issubclass(HandshakeError, LoopgramError)
    assert HandshakeError.transport_error == -404


def test_set_client_dh_params_before_req_dh_params_is_a_wrong_step() -> None:
    client, server = make_client(), make_server()
    set_client, _ = advance_to_set_client(make_server(), client)
    server.receive(make_client(seed=3).start())
    expect_forgotten(server, set_client, "set_client_DH_params while awaiting req_DH_params")


def test_req_dh_params_before_req_pq_is_a_wrong_step() -> None:
    client = make_client()
    req_dh = client.receive(make_server().receive(client.start()).reply)
    assert isinstance(req_dh, bytes)
    expect_forgotten(make_server(), req_dh, "while awaiting req_pq_multi")


def test_a_second_different_req_dh_params_is_a_wrong_step() -> None:
    client, server = make_client(), make_server()
    req_dh = client.receive(server.receive(client.start()).reply)
    assert isinstance(req_dh, bytes)
    server.receive(req_dh)
    expect_forgotten(server, with_inner(req_dh, inner_of(req_dh)), "while awaiting set_client")


@pytest.mark.parametrize("steps_done", [1, 2])
def test_a_new_req_pq_in_the_middle_of_an_exchange_starts_it_over(steps_done: int) -> None:
    """A client that gives up mid-exchange (after resPQ, or after server_DH_params_ok) and
    sends a new req_pq_multi gets a fresh exchange; the abandoned one's later steps are
    refused."""
    abandoned, server = make_client(seed=8), make_server()
    request = abandoned.start()
    for _ in range(steps_done):
        reply = server.receive(request).reply
        next_request = abandoned.receive(reply)
        assert isinstance(next_request, bytes)
        request = next_request
    client_result, server_result, _ = run(make_client(seed=9), server)
    assert client_result.auth_key == server_result.auth_key
    with pytest.raises(HandshakeError):
        server.receive(request)  # the abandoned exchange's next step


def test_after_a_handshake_error_the_client_can_start_again() -> None:
    server = make_server()
    server.receive(make_client(seed=3).start())
    with pytest.raises(HandshakeError):
        server.receive(b"\x00\x00\x00\x00")
    client_result, server_result, _ = run(make_client(), server)
    assert client_result.auth_key == server_result.auth_key


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x01\x02",
        b"\xde\xad\xbe\xef" + bytes(16),
        bytes(ResPQ(nonce=1, server_nonce=2, pq=b"\x0f", server_public_key_fingerprints=[])),
    ],
    ids=["empty", "short", "unknown-constructor", "a-server-type"],
)
def test_server_rejects_bodies_that_are_not_handshake_requests(body: bytes) -> None:
    expect_forgotten(make_server(), body, "handshake request")


def test_server_rejects_trailing_bytes_after_a_request() -> None:
    expect_forgotten(make_server(), make_client().start() + bytes(4), "bytes after")


def test_server_rejects_a_truncated_request() -> None:
    expect_forgotten(make_server(), make_client().start()[:-1], "malformed")


def _req_dh(server: ServerHandshake, client: ClientHandshake | None = None) -> ReqDHParams:
    client = client or make_client()
    body = client.receive(server.receive(client.start()).reply)
    assert isinstance(body, bytes)
    request = read(body)
    assert isinstance(request, ReqDHParams)
    return request


def _replace(request: ReqDHParams, **changes: Any) -> bytes:
    fields = {name: getattr(request, name) for name in ReqDHParams.__slots__}
    fields.update(changes)
    return bytes(ReqDHParams(**fields))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"nonce": 12345}, "nonce does not match"),
        ({"server_nonce": 12345}, "server_nonce does not match"),
        ({"public_key_fingerprint": 0x1234}, "unknown fingerprint"),
        ({"p": b"\x03", "q": b"\x05"}, "not the factors"),
        ({"encrypted_data": bytes(256)}, "RSA"),
        ({"encrypted_data": b"\xff" * 256}, "modulus"),
        ({"encrypted_data": b""}, "RSA ciphertext"),
    ],
    ids=["nonce", "server_nonce", "fingerprint", "p-q", "garbage-rsa", "rsa-too-big", "no-rsa"],
)
def test_server_rejects_a_bad_req_dh_params(change: dict[str, Any], match: str) -> None:
    server = make_server()
    request = _req_dh(server)
    if "p" in change:
        change = {"p": request.q, "q": request.p}  # swapped: p must be the smaller factor
    expect_forgotten(server, _replace(request, **change), match)


def test_server_rejects_tampered_rsa_encrypted_data() -> None:
    server = make_server()
    request = _req_dh(server)
    tampered = bytearray(request.encrypted_data)
    tampered[100] ^= 1
    expect_forgotten(server, _replace(request, encrypted_data=bytes(tampered)), "RSA")


def _inner_variants(inner: AnyInner, **changes: Any) -> AnyInner:
    fields = {name: getattr(inner, name) for name in type(inner).__slots__}
    fields.update(changes)
    return type(inner)(**fields)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"nonce": 7}, "nonce does not match"),
        ({"server_nonce": 7}, "server_nonce does not match"),
        ({"pq": b"\x0f"}, "pq is not"),
        ({"p": b"\x03"}, "not the factors"),
        ({"dc": 3}, "dc 3"),
    ],
)
def test_server_rejects_a_p_q_inner_data_that_does_not_match(
    change: dict[str, Any], match: str
) -> None:
    server = make_server()
    client = make_client(dc_id=2)
    request = _req_dh(server, client)
    inner = inner_of(bytes(request))
    expect_forgotten(server, with_inner(bytes(request), _inner_variants(inner, **change)), match)


@pytest.mark.parametrize("dc", [2, -2, 10_002, -10_002])
def test_server_accepts_its_dc_also_as_test_or_media_dc(dc: int) -> None:
    client_result, server_result, _ = run(make_client(dc_id=dc), make_server())
    assert server_result.dc == dc == client_result.dc


def test_server_without_dc_id_accepts_any_dc() -> None:
    _, server_result, _ = run(make_client(dc_id=5), make_server(dc_id=None))
    assert server_result.dc == 5


def test_server_rejects_a_temp_key_with_nonpositive_expires_in() -> None:
    server = make_server()
    request = _req_dh(server, make_client(temp_expires_in=60))
    inner = _inner_variants(inner_of(bytes(request)), expires_in=0)
    expect_forgotten(server, with_inner(bytes(request), inner), "expires_in 0")


def test_server_rejects_legacy_padding_with_data_after_the_object() -> None:
    server = make_server()
    request = _req_dh(server)
    inner = inner_of(bytes(request))
    data = bytes(inner) + bytes(4)
    encrypted = rsa_legacy(data, KEY, seeded_random(1))
    expect_forgotten(server, _replace(request, encrypted_data=encrypted), "trailing bytes")


@pytest.mark.parametrize(
    ("position", "match"),
    [(-1, "SHA1 of client_DH_inner_data"), (40, "client_DH_inner_data")],
    ids=["last-block", "early-block"],
)
def test_server_rejects_tampered_set_client_dh_params(position: int, match: str) -> None:
    server, client = make_server(), make_client()
    set_client, _ = advance_to_set_client(server, client)
    request = read(set_client)
    assert isinstance(request, SetClientDHParams)
    tampered = bytearray(request.encrypted_data)
    tampered[position] ^= 0x80
    body = bytes(
        SetClientDHParams(
            nonce=request.nonce, server_nonce=request.server_nonce, encrypted_data=bytes(tampered)
        )
    )
    expect_forgotten(server, body, match)


@pytest.mark.parametrize("size", [0, 15, 17])
def test_server_rejects_set_client_dh_params_that_is_not_whole_aes_blocks(size: int) -> None:
    server, client = make_server(), make_client()
    _, inner = advance_to_set_client(server, client)
    body = bytes(
        SetClientDHParams(
            nonce=inner.nonce, server_nonce=inner.server_nonce, encrypted_data=bytes(size)
        )
    )
    expect_forgotten(server, body, "whole blocks")


def test_server_rejects_set_client_dh_params_with_a_wrong_nonce() -> None:
    server, client = make_server(), make_client()
    set_client, _ = advance_to_set_client(server, client)
    request = read(set_client)
    assert isinstance(request, SetClientDHParams)
    body = bytes(
        SetClientDHParams(
            nonce=request.nonce + 1,
            server_nonce=request.server_nonce,
            encrypted_data=request.encrypted_data,
        )
    )
    expect_forgotten(server, body, "nonce does not match")


# -- dh_gen_fail / dh_gen_retry ---------------------------------------------------------


@pytest.mark.parametrize("g_b", [1, 2, DH_PRIME - 2, 1 << 1983, DH_PRIME + 5])
def test_server_answers_dh_gen_fail_to_a_g_b_outside_the_safe_range(g_b: int) -> None:
    server, client = make_server(), make_client()
    _, inner = advance_to_set_client(server, client)
    step = server.receive(client_request(inner, g_b=g_b))
    answer = read(step.reply)
    assert isinstance(answer, DhGenFail)
    assert step.finished and step.result is None
    assert server.state is ServerState.FAILED
    with pytest.raises(HandshakeError, match="dh_gen_fail"):
        client.receive(step.reply)


def test_server_answers_dh_gen_fail_to_a_wrong_retry_id() -> None:
    server, client = make_server(), make_client()
    _, inner = advance_to_set_client(server, client)
    _, g_b = generate_keypair(seeded_random(4))
    answer = read(server.receive(client_request(inner, g_b=g_b, retry_id=77)).reply)
    assert isinstance(answer, DhGenFail)


def test_dh_gen_fail_carries_new_nonce_hash3_of_the_computed_key() -> None:
    server, client = make_server(), make_client()
    _, inner = advance_to_set_client(server, client)
    answer = read(server.receive(client_request(inner, g_b=1)).reply)
    assert isinstance(answer, DhGenFail)
    new_nonce = inner.new_nonce.to_bytes(32, "little", signed=True)
    # g_b = 1 gives the "key" 1 whatever a is
    key = AuthKey((1).to_bytes(256))
    assert answer.new_nonce_hash3 == int.from_bytes(
        key.new_nonce_hash(new_nonce, 3), "little", signed=True
    )


def test_dh_gen_retry_when_the_auth_key_id_is_taken_then_ok() -> None:
    taken: list[int] = []

    def key_exists(key_id: int) -> bool:
        taken.append(key_id)
        return len(taken) == 1

    client, server = make_client(), make_server(key_exists=key_exists)
    client_result, server_result, transcript = run(client, server)
    replies = [type(read(step.reply)) for _, step in transcript]
    assert replies == [ResPQ, ServerDHParamsOk, DhGenRetry, DhGenOk]
    assert client_result.auth_key == server_result.auth_key
    assert client_result.auth_key.id == taken[1] != taken[0]


def test_the_retry_carries_retry_id_equal_to_auth_key_aux_hash_of_the_rejected_key() -> None:
    rejected: list[int] = []

    def key_exists(key_id: int) -> bool:
        rejected.append(key_id)
        return len(rejected) == 1

    server, client = make_server(key_exists=key_exists), make_client()
    set_client, inner = advance_to_set_client(server, client)
    first_key = client._auth_key  # the test peeks at the key the server is about to reject
    assert first_key is not None
    retry = server.receive(set_client)
    assert isinstance(read(retry.reply), DhGenRetry)
    assert rejected == [first_key.id]
    second = client.receive(retry.reply)
    assert isinstance(second, bytes)
    first_request, second_request = read(set_client), read(second)
    assert isinstance(first_request, SetClientDHParams)
    assert isinstance(second_request, SetClientDHParams)
    key, iv = tmp_key_iv(inner)
    first_inner = decrypt_inner_data(first_request.encrypted_data, key, iv, ClientDHInnerData)
    second_inner = decrypt_inner_data(second_request.encrypted_data, key, iv, ClientDHInnerData)
    assert first_inner.retry_id == 0
    assert second_inner.retry_id == first_key.aux_hash
    assert second_inner.g_b != first_inner.g_b
    done = server.receive(second)
    assert done.result is not None
    assert done.result.auth_key != first_key


def test_too_many_collisions_end_with_dh_gen_fail() -> None:
    client, server = make_client(), make_server(key_exists=lambda _key_id: True)
    replies = []
    request = client.start()
    with pytest.raises(HandshakeError, match="dh_gen_fail"):
        for _ in range(MAX_DH_GEN_RETRIES + 3):
            step = server.receive(request)
            replies.append(type(read(step.reply)))
            out = client.receive(step.reply)
            assert isinstance(out, bytes)
            request = out
    assert replies[2:] == [DhGenRetry] * MAX_DH_GEN_RETRIES + [DhGenFail]
    assert server.state is ServerState.FAILED


# -- client checks ----------------------------------------------------------------------


def client_at_server_dh_params() -> tuple[ClientHandshake, AnyInner]:
    client, server = make_client(), make_server()
    req_dh = client.receive(server.receive(client.start()).reply)
    assert isinstance(req_dh, bytes)
    return client, inner_of(req_dh)


def server_answer(inner: AnyInner, **changes: Any) -> bytes:
    """A server_DH_params_ok for this exchange, with any server_DH_inner_data fields."""
    _, g_a = generate_keypair(seeded_random(6))
    fields: dict[str, Any] = {
        "nonce": inner.nonce,
        "server_nonce": inner.server_nonce,
        "g": 3,
        "dh_prime": DH_PRIME_BYTES,
        "g_a": g_a.to_bytes(256),
        "server_time": int(START),
    }
    fields.update(changes)
    data = bytes(ServerDHInnerData(**fields))
    key, iv = tmp_key_iv(inner)
    encrypted = encrypt_inner_data(data, key, iv, bytes(inner_data_padding_length(len(data))))
    return bytes(
        ServerDHParamsOk(
            nonce=inner.nonce, server_nonce=inner.server_nonce, encrypted_answer=encrypted
        )
    )


def expect_client_error(client: ClientHandshake, body: bytes, match: str) -> None:
    with pytest.raises(HandshakeError, match=match):
        client.receive(body)
    assert client.state is ClientState.FAILED


def test_client_accepts_a_well_formed_forged_answer() -> None:
    client, inner = client_at_server_dh_params()
    assert isinstance(client.receive(server_answer(inner)), bytes)


def test_client_rejects_res_pq_with_a_wrong_nonce() -> None:
    client = make_client()
    client.start()
    body = bytes(
        ResPQ(
            nonce=5,
            server_nonce=6,
            pq=b"\x17\xed\x48\x94\x1a\x08\xf9\x81",
            server_public_key_fingerprints=[KEY.public_key.fingerprint],
        )
    )
    expect_client_error(client, body, "nonce does not match")


def _res_pq(client: ClientHandshake, *, pq: bytes, fingerprints: list[int] | None = None) -> bytes:
    request = read(client.start())
    assert isinstance(request, ReqPqMulti)
    return bytes(
        ResPQ(
            nonce=request.nonce,
            server_nonce=99,
            pq=pq,
            server_public_key_fingerprints=(
                [KEY.public_key.fingerprint] if fingerprints is None else fingerprints
            ),
        )
    )


def test_client_rejects_res_pq_without_a_known_fingerprint() -> None:
    client = make_client()
    body = _res_pq(client, pq=_be(generate_pq()[0]), fingerprints=[1, 2])
    expect_client_error(client, body, "fingerprint")


@pytest.mark.parametrize(
    "pq",
    [b"", bytes(9), _be(2_147_483_647), _be(3 * 5 * 7), _be(2_147_483_647**2)],
    ids=["empty", "too-long", "prime", "three-factors", "square"],
)
def test_client_rejects_a_bad_pq(pq: bytes) -> None:
    client = make_client()
    expect_client_error(client, _res_pq(client, pq=pq), "resPQ")


def test_client_rejects_a_factor_above_2_32() -> None:
    client = make_client()
    pq = 3 * 4_294_967_311  # 4294967311 is the first prime above 2^32
    expect_client_error(client, _res_pq(client, pq=_be(pq)), "2\\^32")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"nonce": 1}, "nonce does not match"),
        ({"server_nonce": 1}, "server_nonce does not match"),
        ({"dh_prime": _be(DH_PRIME - 2)}, "Telegram's prime"),
        ({"g": 2}, "g = 2"),
        ({"g": 9}, "g = 9"),
        ({"g_a": b"\x01"}, "DH public value"),
        ({"g_a": _be(DH_PRIME - 1)}, "DH public value"),
        ({"g_a": _be(1 << 1980)}, "within 2\\^1984"),
    ],
    ids=["nonce", "server_nonce", "prime", "g2", "g9", "g_a-1", "g_a-p-1", "g_a-small"],
)
def test_client_rejects_a_bad_server_dh_inner_data(change: dict[str, Any], match: str) -> None:
    client, inner = client_at_server_dh_params()
    expect_client_error(client, server_answer(inner, **change), match)


def test_client_rejects_a_tampered_encrypted_answer() -> None:
    client, inner = client_at_server_dh_params()
    answer = read(server_answer(inner))
    assert isinstance(answer, ServerDHParamsOk)
    tampered = bytearray(answer.encrypted_answer)
    tampered[-20] ^= 1  # inside g_a/server_time: the SHA1 no longer matches
    body = bytes(
        ServerDHParamsOk(
            nonce=answer.nonce, server_nonce=answer.server_nonce, encrypted_answer=bytes(tampered)
        )
    )
    expect_client_error(client, body, "SHA1")


def test_client_rejects_too_much_padding_after_the_answer() -> None:
    client, inner = client_at_server_dh_params()
    _, g_a = generate_keypair(seeded_random(6))
    data = bytes(
        ServerDHInnerData(
            nonce=inner.nonce,
            server_nonce=inner.server_nonce,
            g=3,
            dh_prime=DH_PRIME_BYTES,
            g_a=g_a.to_bytes(256),
            server_time=0,
        )
    )
    key, iv = tmp_key_iv(inner)
    from loopgram.crypto import encrypt_ige

    padded = sha1(data).digest() + data + bytes(inner_data_padding_length(len(data)) + 16)
    body = bytes(
        ServerDHParamsOk(
            nonce=inner.nonce,
            server_nonce=inner.server_nonce,
            encrypted_answer=encrypt_ige(padded, key, iv),
        )
    )
    expect_client_error(client, body, "padding")


def test_client_reports_server_dh_params_fail() -> None:
    client, inner = client_at_server_dh_params()
    new_nonce = inner.new_nonce.to_bytes(32, "little", signed=True)
    good = int.from_bytes(sha1(new_nonce).digest()[4:], "little", signed=True)
    for nonce_hash, match in ((good, "answered server_DH_params_fail"), (good + 1, "wrong")):
        client, inner = client_at_server_dh_params()
        body = bytes(
            ServerDHParamsFail(
                nonce=inner.nonce, server_nonce=inner.server_nonce, new_nonce_hash=nonce_hash
            )
        )
        expect_client_error(client, body, match)


@pytest.mark.parametrize(
    ("answer_type", "field"),
    [(DhGenOk, "new_nonce_hash1"), (DhGenRetry, "new_nonce_hash2"), (DhGenFail, "new_nonce_hash3")],
)
def test_client_rejects_a_dh_gen_answer_with_a_wrong_new_nonce_hash(
    answer_type: type[DhGenOk | DhGenRetry | DhGenFail], field: str
) -> None:
    server, client = make_server(), make_client()
    _, inner = advance_to_set_client(server, client)
    fields = {"nonce": inner.nonce, "server_nonce": inner.server_nonce, field: 1}
    expect_client_error(client, bytes(answer_type(**fields)), "new_nonce_hash")


def test_client_rejects_a_dh_gen_answer_with_a_wrong_nonce() -> None:
    server, client = make_server(), make_client()
    set_client, _ = advance_to_set_client(server, client)
    ok = read(server.receive(set_client).reply)
    assert isinstance(ok, DhGenOk)
    body = bytes(
        DhGenOk(
            nonce=ok.nonce, server_nonce=ok.server_nonce + 1, new_nonce_hash1=ok.new_nonce_hash1
        )
    )
    expect_client_error(client, body, "server_nonce does not match")


def test_client_rejects_a_reply_of_the_wrong_step() -> None:
    client, server = make_client(), make_server()
    res_pq = server.receive(client.start()).reply
    client.receive(res_pq)
    expect_client_error(client, res_pq, "unexpected constructor")


def test_client_rejects_anything_after_it_failed_or_finished() -> None:
    client, server = make_client(), make_server()
    _, _, transcript = run(client, server)
    with pytest.raises(HandshakeError, match="while done"):
        client.receive(transcript[-1][1].reply)


def test_client_start_can_be_called_once() -> None:
    client = make_client()
    client.start()
    with pytest.raises(RuntimeError):
        client.start()


def test_client_and_server_need_keys() -> None:
    with pytest.raises(ValueError):
        make_client(rsa_keys=[])
    with pytest.raises(ValueError):
        make_server(rsa_keys=[])
    with pytest.raises(ValueError):
        make_client(temp_expires_in=0)


# -- inner data helpers -----------------------------------------------------------------


def test_inner_data_round_trips_and_checks_padding_length() -> None:
    key, iv = bytes(range(32)), bytes(range(32, 64))
    data = bytes(ClientDHInnerData(nonce=1, server_nonce=2, retry_id=3, g_b=b"\x05" * 256))
    padding = bytes(inner_data_padding_length(len(data)))
    encrypted = encrypt_inner_data(data, key, iv, padding)
    assert len(encrypted) % 16 == 0
    assert bytes(decrypt_inner_data(encrypted, key, iv, ClientDHInnerData)) == data
    with pytest.raises(ValueError, match="padding"):
        encrypt_inner_data(data, key, iv, padding + b"\x00")
    with pytest.raises(HandshakeError, match="constructor"):
        decrypt_inner_data(encrypted, key, iv, ServerDHInnerData)


# -- precomputation ---------------------------------------------------------------------


def test_precomputed_pool_hands_out_each_value_once_and_counts_misses() -> None:
    counter = iter(range(100))
    pool = PrecomputedPool(lambda: next(counter), size=3)
    assert pool.fill() == 3
    assert len(pool) == 3
    assert pool.fill() == 0
    assert [pool.take(), pool.take(), pool.take()] == [0, 1, 2]
    assert pool.misses == 0
    assert pool.take() == 3
    assert pool.misses == 1
    assert pool.fill(1) == 1
    assert pool.take() == 4
    with pytest.raises(ValueError):
        PrecomputedPool(lambda: 0, size=0)


def test_server_with_precomputed_keypairs_and_pq() -> None:
    rng = seeded_random(21)
    keypairs = PrecomputedPool(lambda: generate_keypair(rng), size=2)
    pqs = PrecomputedPool(lambda: generate_pq(rng), size=2)
    keypairs.fill()
    pqs.fill()
    server = make_server(keypair=keypairs.take, pq=pqs.take)
    client_result, server_result, _ = run(make_client(), server)
    assert client_result.auth_key == server_result.auth_key
    assert (len(keypairs), len(pqs), keypairs.misses, pqs.misses) == (1, 1, 0, 0)


def recording(seed: int, draws: list[bytes]) -> Callable[[int], bytes]:
    rng = seeded_random(seed)

    def draw(size: int) -> bytes:
        value = rng(size)
        draws.append(value)
        return value

    return draw


def test_server_draws_a_short_exponent_and_the_client_a_full_one() -> None:
    server_draws: list[bytes] = []
    client_draws: list[bytes] = []
    server = ServerHandshake(
        rsa_keys=[KEY], clock=FakeClock(START + 30), random_bytes=recording(2, server_draws)
    )
    client = ClientHandshake(
        rsa_keys=[KEY.public_key], clock=FakeClock(START), random_bytes=recording(1, client_draws)
    )
    client_result, server_result, _ = run(client, server)
    a_draws = [d for d in server_draws if len(d) == SERVER_EXPONENT_BITS // 8]
    b_draws = [d for d in client_draws if len(d) == 256]
    assert len(a_draws) == 1
    assert not [d for d in server_draws if len(d) == 256]
    a = int.from_bytes(a_draws[0])
    # auth_key = g^(a*b) mod dh_prime, with a the server's 256-bit draw
    shared = pow(3, a * int.from_bytes(b_draws[-1]), DH_PRIME)
    assert server_result.auth_key.key == client_result.auth_key.key == shared.to_bytes(256)


def test_many_random_exchanges_agree() -> None:
    rng = random.Random(5)
    for _ in range(5):
        client = make_client(seed=rng.randrange(1 << 30))
        server = make_server(seed=rng.randrange(1 << 30))
        client_result, server_result, _ = run(client, server)
        assert client_result.auth_key.key == server_result.auth_key.key
