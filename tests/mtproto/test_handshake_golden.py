"""Golden test: Telegram's worked example, core.telegram.org/mtproto/samples-auth_key.

The published values (tests/vectors/core_samples_auth_key.json, with where they were
transcribed from) make checkable: the envelopes, the key fingerprint, pq and its factors,
p_q_inner_data_dc, tmp_aes_key/tmp_aes_iv, the encrypted server_DH_inner_data, the DH values
(g_b = g^b, auth_key = g_a^b), the encrypted client_DH_inner_data and new_nonce_hash1 (which
hashes auth_key_aux_hash). Not checkable: the RSA_PAD output (its temp_key is not published
and the private key is Telegram's) and the server's ``a``.

The client role is driven through the whole example with the published randomness and
must produce the published req_pq_multi and set_client_DH_params byte for byte and accept
the published dh_gen_ok. The server role, given the published server_nonce, pq and g_a,
must produce the published server_DH_params_ok byte for byte.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from hashlib import sha1
from typing import Any

import pytest

from loopgram.clock import FakeClock, seeded_random
from loopgram.crypto import (
    DH_PRIME,
    AuthKey,
    RsaPublicKey,
    decrypt_ige,
    factorize_pq,
    handshake_aes_key_iv,
    initial_server_salt,
)
from loopgram.mtproto.handshake import (
    ClientHandshake,
    HandshakeError,
    HandshakeResult,
    ServerHandshake,
    decrypt_inner_data,
    encrypt_inner_data,
)
from loopgram.mtproto.plain import decode_plain, encode_plain
from loopgram.tl import read
from loopgram.tl.mtproto.functions import ReqDHParams
from loopgram.tl.mtproto.types import (
    ClientDHInnerData,
    DhGenOk,
    PQInnerDataDc,
    ResPQ,
    ServerDHInnerData,
)
from tests.vectors.make_vectors import VECTORS_DIR, load_test_key

SAMPLE: dict[str, Any] = json.loads((VECTORS_DIR / "core_samples_auth_key.json").read_text())
V: dict[str, Any] = SAMPLE["values"]
TELEGRAM_KEY = RsaPublicKey.from_pem(SAMPLE["server_rsa_public_key_pem"])


def h(name: str) -> bytes:
    value = V[name]
    assert isinstance(value, str)
    return bytes.fromhex(value)


def body(name: str) -> bytes:
    return decode_plain(bytes.fromhex(SAMPLE["envelopes"][name])).body


def le(name: str) -> int:
    """An int128/int256 field as the TL classes hold it (signed little-endian)."""
    return int.from_bytes(h(name), "little", signed=True)


class ScriptedRandom:
    """Serves the published random values by requested size, in order; seeded bytes after."""

    def __init__(self, *values: bytes) -> None:
        self._queues: defaultdict[int, deque[bytes]] = defaultdict(deque)
        for value in values:
            self._queues[len(value)].append(value)
        self._fallback = seeded_random(0)

    def __call__(self, size: int) -> bytes:
        queue = self._queues[size]
        return queue.popleft() if queue else self._fallback(size)

    def unused(self) -> int:
        return sum(len(queue) for queue in self._queues.values())


# -- the published values, one formula at a time -----------------------------------------


@pytest.mark.parametrize(
    ("name", "msg_id", "length"),
    [
        ("req_pq_multi", 0x6777E5EB00059760, 20),
        ("resPQ", 0x6777E5EBD2FB2801, 80),
        ("req_DH_params", 0x6777E5EB0008E568, 320),
        ("server_DH_params_ok", 0x6777E5EBE868AC01, 632),
        ("set_client_DH_params", 0x6777E5EB0008E56C, 376),
        ("dh_gen_ok", 0x6777E5ED7B0ACC01, 52),
    ],
)
def test_sample_envelopes_decode_and_reencode(name: str, msg_id: int, length: int) -> None:
    payload = bytes.fromhex(SAMPLE["envelopes"][name])
    message = decode_plain(payload)
    assert message.msg_id == msg_id
    assert len(message.body) == length
    assert encode_plain(message.msg_id, message.body) == payload


def test_sample_fingerprint_of_telegrams_key() -> None:
    fingerprint = int.from_bytes(bytes.fromhex(V["server_public_key_fingerprints"][0]), "little")
    assert TELEGRAM_KEY.fingerprint & (1 << 64) - 1 == fingerprint == 0xD09D1D85DE64FD85


def test_sample_res_pq_fields() -> None:
    res_pq = read(body("resPQ"))
    assert isinstance(res_pq, ResPQ)
    assert res_pq.nonce == le("nonce")
    assert res_pq.server_nonce == le("server_nonce")
    assert int.from_bytes(res_pq.pq) == V["pq"]
    assert [
        f.to_bytes(8, "little", signed=True).hex().upper()
        for f in res_pq.server_public_key_fingerprints
    ] == V["server_public_key_fingerprints"]


def test_sample_pq_factorisation() -> None:
    assert factorize_pq(V["pq"]) == (V["p"], V["q"])


def test_sample_p_q_inner_data_dc_serialisation() -> None:
    inner = PQInnerDataDc(
        pq=V["pq"].to_bytes(8),
        p=V["p"].to_bytes(4),
        q=V["q"].to_bytes(4),
        nonce=le("nonce"),
        server_nonce=le("server_nonce"),
        new_nonce=le("new_nonce"),
        dc=V["dc"],
    )
    assert bytes(inner) == h("p_q_inner_data")
    assert len(h("p_q_inner_data")) + len(h("rsa_pad_random_padding_bytes")) == 192


def test_sample_tmp_aes_key_and_iv() -> None:
    assert handshake_aes_key_iv(h("new_nonce"), h("server_nonce")) == (
        h("tmp_aes_key"),
        h("tmp_aes_iv"),
    )


def test_sample_encrypted_answer_opens_and_reseals() -> None:
    key, iv = h("tmp_aes_key"), h("tmp_aes_iv")
    answer = decrypt_inner_data(h("encrypted_answer"), key, iv, ServerDHInnerData)
    assert bytes(answer) == h("answer")
    assert (answer.g, answer.server_time) == (V["g"], V["server_time"])
    assert int.from_bytes(answer.dh_prime) == DH_PRIME
    with_hash = decrypt_ige(h("encrypted_answer"), key, iv)
    assert with_hash == h("answer_with_hash")
    assert with_hash[:20] == sha1(h("answer")).digest()
    padding = with_hash[20 + len(h("answer")) :]
    assert encrypt_inner_data(h("answer"), key, iv, padding) == h("encrypted_answer")


def test_sample_diffie_hellman() -> None:
    answer = read(h("answer"))
    assert isinstance(answer, ServerDHInnerData)
    b = int.from_bytes(h("b"))
    # g_b = pow(g, b) mod dh_prime
    assert pow(3, b, DH_PRIME).to_bytes(256) == h("g_b")
    # auth_key = pow(g_a, b) mod dh_prime
    assert pow(int.from_bytes(answer.g_a), b, DH_PRIME).to_bytes(256) == h("auth_key")


def test_sample_client_dh_inner_data_encryption() -> None:
    key, iv = h("tmp_aes_key"), h("tmp_aes_iv")
    sealed = encrypt_inner_data(
        h("client_DH_inner_data"), key, iv, h("client_DH_inner_data_padding")
    )
    assert sealed == h("client_encrypted_data")
    inner = decrypt_inner_data(sealed, key, iv, ClientDHInnerData)
    assert (inner.retry_id, inner.g_b) == (0, h("g_b"))


def test_sample_new_nonce_hash1_and_dh_gen_ok() -> None:
    auth_key = AuthKey(h("auth_key"))
    # new_nonce_hash1 = substr(SHA1(new_nonce + [1] + auth_key_aux_hash), 4, 16), with
    # auth_key_aux_hash = the 64 higher-order bits of SHA1(auth_key)
    assert auth_key.aux_hash_bytes == sha1(h("auth_key")).digest()[:8]
    assert auth_key.new_nonce_hash(h("new_nonce"), 1) == h("new_nonce_hash1")
    ok = DhGenOk(
        nonce=le("nonce"), server_nonce=le("server_nonce"), new_nonce_hash1=le("new_nonce_hash1")
    )
    assert bytes(ok) == body("dh_gen_ok")


# -- the roles ---------------------------------------------------------------------------


def test_client_reproduces_the_sample_exchange() -> None:
    temp_key = bytes(range(32))  # RSA_PAD's temp_key is not published: any will do
    random_bytes = ScriptedRandom(
        h("nonce"),
        h("new_nonce"),
        h("rsa_pad_random_padding_bytes"),
        temp_key,
        h("b"),
        h("client_DH_inner_data_padding"),
    )
    clock = FakeClock(V["server_time"] - 5.5)
    client = ClientHandshake(rsa_keys=[TELEGRAM_KEY], clock=clock, random_bytes=random_bytes)

    assert client.start() == body("req_pq_multi")

    req_dh = client.receive(body("resPQ"))
    assert isinstance(req_dh, bytes)
    published = body("req_DH_params")
    # Everything up to encrypted_data is published and deterministic ...
    assert req_dh[:64] == published[:64]
    # ... and encrypted_data is RSA_PAD of exactly the published p_q_inner_data_dc.
    request = read(req_dh)
    assert isinstance(request, ReqDHParams)
    expected = TELEGRAM_KEY.encrypt(
        h("p_q_inner_data"),
        random_bytes=ScriptedRandom(h("rsa_pad_random_padding_bytes"), temp_key),
    )
    assert request.encrypted_data == expected

    set_client = client.receive(body("server_DH_params_ok"))
    assert set_client == body("set_client_DH_params")

    result = client.receive(body("dh_gen_ok"))
    assert isinstance(result, HandshakeResult)
    assert result.auth_key.key == h("auth_key")
    assert result.time_offset == 6
    assert result.server_salt == initial_server_salt(h("new_nonce"), h("server_nonce"))
    assert random_bytes.unused() == 0


def test_client_rejects_the_sample_dh_gen_ok_for_another_key() -> None:
    client = ClientHandshake(
        rsa_keys=[TELEGRAM_KEY],
        clock=FakeClock(V["server_time"]),
        random_bytes=ScriptedRandom(h("nonce"), h("new_nonce")),  # a different b
    )
    client.start()
    client.receive(body("resPQ"))
    client.receive(body("server_DH_params_ok"))
    with pytest.raises(HandshakeError, match="new_nonce_hash1"):
        client.receive(body("dh_gen_ok"))


def test_server_reproduces_the_sample_server_dh_params_ok() -> None:
    # The sample's RSA key is Telegram's; the test key stands in for it, so only the
    # fingerprint vector differs in resPQ and the RSA block in req_DH_params.
    key = load_test_key()
    answer = read(h("answer"))
    assert isinstance(answer, ServerDHInnerData)
    g_a = int.from_bytes(answer.g_a)
    with_hash = h("answer_with_hash")
    server = ServerHandshake(
        rsa_keys=[key],
        clock=FakeClock(V["server_time"] + 0.25),
        random_bytes=ScriptedRandom(h("server_nonce"), with_hash[20 + len(h("answer")) :]),
        pq=lambda: (V["pq"], V["p"], V["q"]),
        keypair=lambda: (2, g_a),  # the published g_a; its exponent is Telegram's secret
    )
    res_pq = server.receive(body("req_pq_multi")).reply
    assert res_pq[:52] == body("resPQ")[:52]  # up to the fingerprint vector

    client = ClientHandshake(
        rsa_keys=[key.public_key],
        clock=FakeClock(V["server_time"]),
        random_bytes=ScriptedRandom(
            h("nonce"), h("new_nonce"), h("b"), h("client_DH_inner_data_padding")
        ),
    )
    client.start()
    req_dh = client.receive(res_pq)
    assert isinstance(req_dh, bytes)
    assert server.receive(req_dh).reply == body("server_DH_params_ok")
    # The client, seeing the published answer, sends the published set_client_DH_params,
    # which the server opens (its dh_gen answer differs: it does not know Telegram's a).
    assert client.receive(body("server_DH_params_ok")) == body("set_client_DH_params")
    assert server.receive(body("set_client_DH_params")).finished
