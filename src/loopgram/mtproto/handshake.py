"""MTProto layer: the auth key exchange, for both roles, as pure step machines (sans-I/O).

Spec: core.telegram.org/mtproto/auth_key (steps 1-9, "DH key exchange complete", the
``dh_gen_retry`` rule), core.telegram.org/mtproto/security_guidelines (what each side must
check) and the worked example core.telegram.org/mtproto/samples-auth_key.

The exchange, as bodies of unencrypted messages (:mod:`loopgram.mtproto.plain`)::

    -> req_pq_multi nonce
    <- resPQ nonce server_nonce pq server_public_key_fingerprints
    -> req_DH_params p q fingerprint RSA(p_q_inner_data[_dc|_temp|_temp_dc] with new_nonce)
    <- server_DH_params_ok AES(SHA1 + server_DH_inner_data g dh_prime g_a server_time)
    -> set_client_DH_params AES(SHA1 + client_DH_inner_data retry_id g_b)
    <- dh_gen_ok | dh_gen_retry | dh_gen_fail

:class:`ServerHandshake` and :class:`ClientHandshake` take bytes in and give bytes out; they
never read the clock or ``os.urandom`` themselves (both are injected), so a fake clock and
seeded randomness make an exchange byte-for-byte reproducible.

A peer that breaks the protocol (wrong step, wrong nonce, unknown fingerprint, bad hash,
undecodable data, wrong ``p``/``q``) gets :class:`HandshakeError`: the server answers with
transport error -404 and the exchange is forgotten; the client must start again. Failures
that the protocol itself reports (a ``g_b`` outside the safe range, a wrong ``retry_id``,
too many auth key id collisions) are answered with ``dh_gen_fail``.

Speed: a server exchange costs one RSA decryption and one exponentiation (``g_b^a``, with
the server's short exponent, :data:`loopgram.crypto.SERVER_EXPONENT_BITS`) on the critical
path; the other exponentiation (``g_a = g^a``) and the ``pq`` generation can be computed ahead
with :class:`PrecomputedPool`.
"""

from __future__ import annotations

import enum
import struct
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hashlib import sha1
from hmac import compare_digest
from typing import ClassVar, Final, Generic, TypeVar

from loopgram import LoopgramError
from loopgram.clock import Clock, RandomBytes
from loopgram.crypto import (
    DH_G,
    DH_PRIME,
    DH_PRIME_BYTES,
    SERVER_EXPONENT_BITS,
    AuthKey,
    CryptoError,
    RsaPadding,
    RsaPrivateKey,
    RsaPublicKey,
    SecurityError,
    check_dh_params,
    check_dh_public,
    compute_shared,
    decrypt_ige,
    encrypt_ige,
    factorize_pq,
    generate_keypair,
    generate_pq,
    handshake_aes_key_iv,
    initial_server_salt,
)
from loopgram.crypto.bigint import powmod
from loopgram.tl import Reader, TLDecodeError, TLObject
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

__all__ = [
    "DEFAULT_DC_ID",
    "MAX_DH_GEN_RETRIES",
    "TRANSPORT_ERROR_NOT_FOUND",
    "ClientHandshake",
    "ClientState",
    "HandshakeError",
    "HandshakeResult",
    "KeyExists",
    "KeypairProvider",
    "PqProvider",
    "PrecomputedPool",
    "ServerHandshake",
    "ServerState",
    "ServerStep",
    "decrypt_inner_data",
    "encrypt_inner_data",
    "inner_data_padding_length",
]

DEFAULT_DC_ID: Final = 2
"""The DC a loopgram server is (``help.getConfig`` says ``this_dc = 2``)."""

DEFAULT_TTL: Final = 30.0
"""Seconds a server keeps a key exchange waiting for its next step: what the network driver
gives a new connection to send its first packet (``net.Limits.opening_timeout``). A client
takes milliseconds per step; an exchange abandoned after ``resPQ`` was kept as long as an
idle connection (300 s)."""
MAX_DH_GEN_RETRIES: Final = 5
"""``dh_gen_retry`` rounds allowed per exchange; the next collision gets ``dh_gen_fail``."""

TRANSPORT_ERROR_NOT_FOUND: Final = -404
"""The transport error a server sends when it drops a key exchange."""

KeypairProvider = Callable[[], tuple[int, int]]
"""Returns a fresh server DH pair ``(a, g_a)`` with ``g_a = pow(3, a) mod dh_prime``."""

PqProvider = Callable[[], tuple[int, int, int]]
"""Returns ``(pq, p, q)``: ``p < q`` distinct primes below 2^32."""

KeyExists = Callable[[int], bool]
"""Whether an auth key with this ``auth_key_id`` (signed TL ``long``) is already stored."""

_T = TypeVar("_T")
_O = TypeVar("_O", bound=TLObject)

_SHA1_SIZE: Final = 20
_DH_BYTES: Final = 256
_MAX_PQ_BYTES: Final = 8  # pq < 2^64
_MAX_FACTOR_BYTES: Final = 4  # p, q < 2^32
_TEST_DC_OFFSET: Final = 10_000  # p_q_inner_data_dc: "+10000 for test servers"
_TL_DECODE_ERRORS: Final = (
    TLDecodeError,
    struct.error,
    IndexError,
    ValueError,
    OverflowError,
    UnicodeError,
)


class HandshakeError(LoopgramError):
    """The key exchange cannot go on: the peer broke the protocol, or sent ``*_fail``.

    On the server: answer the packet with transport error -404
    (:attr:`transport_error`) and send nothing else; the :class:`ServerHandshake` has
    already forgotten the exchange, so the client has to start over with ``req_pq_multi``.
    On the client: the exchange is dead; close the connection and start a new
    :class:`ClientHandshake`. The message names the failed check, for logs only: it is
    never sent to the peer.
    """

    transport_error: ClassVar[int] = TRANSPORT_ERROR_NOT_FOUND


@dataclass(frozen=True, slots=True)
class HandshakeResult:
    """A completed key exchange (``dh_gen_ok`` sent or verified).

    ``server_salt`` is the first salt, ``substr(new_nonce, 0, 8) XOR substr(server_nonce, 0,
    8)``, as a signed TL ``long``. ``time_offset`` is ``server_time`` minus the local clock
    when ``server_DH_inner_data`` arrived (client; 0 on the server). ``expires_in`` is set
    for a temporary key (``p_q_inner_data_temp*``), ``dc`` when the client named one
    (``p_q_inner_data_dc``/``_temp_dc``). ``rsa_padding`` is how ``p_q_inner_data`` was
    wrapped.
    """

    auth_key: AuthKey
    server_salt: int
    time_offset: int
    expires_in: int | None
    dc: int | None
    rsa_padding: RsaPadding


@dataclass(frozen=True, slots=True)
class ServerStep:
    """What :meth:`ServerHandshake.receive` produced.

    ``reply`` is the body to send back in an unencrypted message. ``result`` is set exactly
    once, with the ``dh_gen_ok`` that completes the exchange; store its key before sending
    the reply. ``finished`` says the exchange is over (``dh_gen_ok`` or ``dh_gen_fail``
    sent). ``repeated`` marks the answer to a byte-identical repeat of an earlier request:
    the same reply again, nothing new to store.
    """

    reply: bytes
    result: HandshakeResult | None = None
    finished: bool = False
    repeated: bool = False


class ServerState(enum.Enum):
    """Where a :class:`ServerHandshake` stands."""

    AWAITING_REQ_PQ = "awaiting req_pq_multi"
    AWAITING_REQ_DH_PARAMS = "awaiting req_DH_params"
    AWAITING_SET_CLIENT_DH_PARAMS = "awaiting set_client_DH_params"
    DONE = "dh_gen_ok sent"
    FAILED = "dh_gen_fail sent"


class ClientState(enum.Enum):
    """Where a :class:`ClientHandshake` stands."""

    INITIAL = "not started"
    AWAITING_RES_PQ = "awaiting resPQ"
    AWAITING_SERVER_DH_PARAMS = "awaiting server_DH_params"
    AWAITING_DH_GEN = "awaiting dh_gen_ok/retry/fail"
    DONE = "done"
    FAILED = "failed"


class PrecomputedPool(Generic[_T]):
    """Values computed ahead of use: DH key pairs ``(a, g_a)`` or ``(pq, p, q)`` triples.

    A server driver calls :meth:`fill` at idle time (or from a worker) and passes
    :meth:`take` to :class:`ServerHandshake` as its provider. :meth:`take` never waits: an
    empty pool computes the value inline and counts a :attr:`misses`. Each value is handed
    out once. ``append``/``popleft`` on a deque are atomic in CPython, so one thread may fill
    while another takes.
    """

    def __init__(self, factory: Callable[[], _T], *, size: int = 64) -> None:
        if size < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        self._factory = factory
        self._items: deque[_T] = deque()
        self.size: Final = size
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def fill(self, count: int | None = None) -> int:
        """Compute up to ``count`` values (default: until full); returns how many were added."""
        room = self.size - len(self._items)
        todo = room if count is None else min(count, room)
        for _ in range(todo):
            self._items.append(self._factory())
        return max(todo, 0)

    def take(self) -> _T:
        """One precomputed value, or a fresh one when the pool is empty."""
        try:
            return self._items.popleft()
        except IndexError:
            self.misses += 1
            return self._factory()


def inner_data_padding_length(data_length: int) -> int:
    """Bytes of padding after ``SHA1(data) + data`` to reach a multiple of 16 (0..15)."""
    return -(_SHA1_SIZE + data_length) % 16


def encrypt_inner_data(data: bytes, tmp_aes_key: bytes, tmp_aes_iv: bytes, padding: bytes) -> bytes:
    """Encrypt ``server_DH_inner_data`` (server) or ``client_DH_inner_data`` (client).

    ``padding`` must be the :func:`inner_data_padding_length` random bytes.
    """
    if len(padding) != inner_data_padding_length(len(data)):
        raise ValueError(
            f"padding must be {inner_data_padding_length(len(data))} bytes, got {len(padding)}"
        )
    # answer_with_hash := SHA1(answer) + answer + (0-15 random bytes); length divisible by 16
    with_hash = sha1(data).digest() + data + padding
    # encrypted_answer := AES256_ige_encrypt(answer_with_hash, tmp_aes_key, tmp_aes_iv)
    return encrypt_ige(with_hash, tmp_aes_key, tmp_aes_iv)


def decrypt_inner_data(
    encrypted: bytes, tmp_aes_key: bytes, tmp_aes_iv: bytes, cls: type[_O]
) -> _O:
    """Decrypt and check what :func:`encrypt_inner_data` made; return the object as ``cls``.

    Raises :class:`HandshakeError` unless the data is whole AES blocks, the object decodes,
    its SHA1 matches and 0..15 bytes of padding follow it.
    """
    name = cls.TL_NAME
    if not encrypted or len(encrypted) % 16:
        raise HandshakeError(f"encrypted {name} of {len(encrypted)} bytes is not whole blocks")
    plain = decrypt_ige(encrypted, tmp_aes_key, tmp_aes_iv)
    # data_with_hash = SHA1(data) + data + padding: the TL reader finds where data ends.
    obj, end = _read_prefix(plain, _SHA1_SIZE, (cls,), name)
    if len(plain) - end > 15:
        raise HandshakeError(f"{len(plain) - end} bytes of padding after {name}, at most 15")
    if not compare_digest(sha1(plain[_SHA1_SIZE:end]).digest(), plain[:_SHA1_SIZE]):
        raise HandshakeError(f"SHA1 of {name} does not match")
    return obj


class ServerHandshake:
    """The server side of one auth key exchange (restartable once it ended or failed).

    Feed each request body to :meth:`receive` and send back :attr:`ServerStep.reply`.
    Supports ``req_pq_multi`` and the legacy ``req_pq``; ``p_q_inner_data`` with and
    without ``_dc``/``_temp``/``_temp_dc``; RSA_PAD and the legacy SHA1 padding; Telegram's
    2048-bit ``dh_prime`` with ``g = 3``. A byte-identical repeat of a request already
    answered in this exchange gets the identical reply. A new ``req_pq_multi`` (or
    ``req_pq``) with another nonce starts a fresh exchange at any point, forgetting the one
    in progress: clients that give up a step (GramJS when no offered key is known to it,
    any client after a timeout) start again on the same connection, and a new connection
    would give them the same anyway.

    ``rsa_keys`` are the server keys offered in ``resPQ``. ``keypair`` and ``pq`` provide
    the server's DH pair and the ``pq`` puzzle (default: computed inline from
    ``random_bytes``; pass :meth:`PrecomputedPool.take` to move them off the critical path).
    ``key_exists`` tells whether an auth key id is taken (answered with ``dh_gen_retry``).
    ``dc_id`` is the DC this server is: ``p_q_inner_data_dc`` must name it (or it + 10000
    for a test DC, or negated for a media DC); ``None`` accepts any ``dc``. An exchange whose
    next step does not come within ``ttl`` seconds (on ``clock``) is forgotten: that step is
    refused, a new ``req_pq_multi`` starts afresh.
    """

    def __init__(
        self,
        *,
        rsa_keys: Sequence[RsaPrivateKey],
        clock: Clock,
        random_bytes: RandomBytes,
        dc_id: int | None = DEFAULT_DC_ID,
        keypair: KeypairProvider | None = None,
        pq: PqProvider | None = None,
        key_exists: KeyExists | None = None,
        ttl: float = DEFAULT_TTL,
    ) -> None:
        if not rsa_keys:
            raise ValueError("a server needs at least one RSA key")
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl}")
        self.ttl: Final = ttl
        self._keys: Final = {key.public_key.fingerprint: key for key in rsa_keys}
        self._fingerprints: Final = list(self._keys)
        self._clock: Final = clock
        self._random: Final = random_bytes
        self._dc_id: Final = dc_id
        self._keypair: Final[KeypairProvider] = keypair or (
            lambda: generate_keypair(random_bytes, bits=SERVER_EXPONENT_BITS)
        )
        self._pq: Final[PqProvider] = pq or (lambda: generate_pq(random_bytes))
        self._key_exists: Final[KeyExists] = key_exists or (lambda _key_id: False)
        self._state = ServerState.AWAITING_REQ_PQ
        # request bytes -> reply bytes, for this exchange only (at most 3 + retries entries)
        self._replies: dict[bytes, bytes] = {}
        self._nonce = 0
        self._server_nonce = 0
        self._pq_value = 0
        self._p = 0
        self._q = 0
        self._new_nonce = b""
        self._tmp_key = b""
        self._tmp_iv = b""
        self._a = 0
        self._expires_in: int | None = None
        self._dc: int | None = None
        self._padding = RsaPadding.RSA_PAD
        self._retry_id = 0
        self._retries = 0
        self._last_step_at = 0.0

    @property
    def state(self) -> ServerState:
        return self._state

    @property
    def deadline(self) -> float | None:
        """Clock time at which the exchange in progress is forgotten unless its next step
        comes first (``None``: none is in progress)."""
        if self._state is ServerState.AWAITING_REQ_PQ or self.finished:
            return None
        return self._last_step_at + self.ttl

    @property
    def finished(self) -> bool:
        """Whether the exchange ended (``dh_gen_ok`` or ``dh_gen_fail`` sent)."""
        return self._state is ServerState.DONE or self._state is ServerState.FAILED

    def receive(self, body: bytes) -> ServerStep:
        """Handle one request body (the ``message_data`` of an unencrypted message).

        Raises :class:`HandshakeError` when the request breaks the protocol; the exchange
        is then forgotten and the caller answers with transport error -404.
        """
        body = bytes(body)
        now = self._clock()
        deadline = self.deadline
        expired = deadline is not None and now >= deadline
        if expired:
            self._forget()
        cached = self._replies.get(body)
        if cached is not None:
            return ServerStep(cached, finished=self.finished, repeated=True)
        try:
            request = _read_exact(body, _SERVER_REQUESTS, "handshake request")
            if isinstance(request, (ReqPqMulti, ReqPq)):
                step = self._on_req_pq(request)
            elif expired:
                raise HandshakeError(f"{request.TL_NAME}: the key exchange expired ({self.ttl} s)")
            elif isinstance(request, ReqDHParams):
                step = self._on_req_dh_params(request)
            elif isinstance(request, SetClientDHParams):
                step = self._on_set_client_dh_params(request)
            else:  # pragma: no cover - _SERVER_REQUESTS holds only the four above
                raise HandshakeError(f"unexpected {request.TL_NAME}")
        except HandshakeError:
            self._forget()
            raise
        self._replies[body] = step.reply
        self._last_step_at = now
        return step

    # -- steps ---------------------------------------------------------------------------

    def _on_req_pq(self, request: ReqPqMulti | ReqPq) -> ServerStep:
        self._forget()
        self._nonce = request.nonce
        self._server_nonce = _int128(self._random(16))
        self._pq_value, self._p, self._q = self._pq()
        self._state = ServerState.AWAITING_REQ_DH_PARAMS
        reply = ResPQ(
            nonce=self._nonce,
            server_nonce=self._server_nonce,
            pq=_be_bytes(self._pq_value),
            server_public_key_fingerprints=self._fingerprints,
        )
        return ServerStep(bytes(reply))

    def _on_req_dh_params(self, request: ReqDHParams) -> ServerStep:
        self._expect(ServerState.AWAITING_REQ_DH_PARAMS, request)
        self._check_nonces(request.nonce, request.server_nonce, request.TL_NAME)
        # The proof of work: p and q must be the factors of the pq we sent, p < q.
        if not self._is_pq_answer(request.p, request.q):
            raise HandshakeError("req_DH_params: p and q are not the factors of pq")
        key = self._keys.get(request.public_key_fingerprint)
        if key is None:
            raise HandshakeError(
                f"req_DH_params: unknown fingerprint {request.public_key_fingerprint:#x}"
            )
        try:
            plaintext = key.decrypt(request.encrypted_data)
        except CryptoError as exc:
            raise HandshakeError(f"req_DH_params: {exc}") from None
        inner, end = _read_prefix(plaintext.data, 0, _PQ_INNER_DATA, "p_q_inner_data")
        if not isinstance(inner, _PQ_INNER_DATA):  # pragma: no cover - narrows the type
            raise HandshakeError(f"unexpected {inner.TL_NAME}")
        # The legacy padding's SHA1 pins the data length; RSA_PAD adds padding of its own.
        if plaintext.padding is RsaPadding.LEGACY and end != len(plaintext.data):
            raise HandshakeError("p_q_inner_data: trailing bytes inside the SHA1-checked data")
        self._check_inner(inner)

        self._new_nonce = _int256_bytes(inner.new_nonce)
        self._padding = plaintext.padding
        self._a, g_a = self._keypair()
        # tmp_aes_key/tmp_aes_iv: SHA1s of new_nonce and server_nonce (auth_key step 6)
        self._tmp_key, self._tmp_iv = handshake_aes_key_iv(
            self._new_nonce, _int128_bytes(self._server_nonce)
        )
        answer = bytes(
            ServerDHInnerData(
                nonce=self._nonce,
                server_nonce=self._server_nonce,
                g=DH_G,
                dh_prime=DH_PRIME_BYTES,
                g_a=g_a.to_bytes(_DH_BYTES),
                server_time=int(self._clock()),
            )
        )
        padding = self._random(inner_data_padding_length(len(answer)))
        encrypted = encrypt_inner_data(answer, self._tmp_key, self._tmp_iv, padding)
        self._state = ServerState.AWAITING_SET_CLIENT_DH_PARAMS
        reply = ServerDHParamsOk(
            nonce=self._nonce, server_nonce=self._server_nonce, encrypted_answer=encrypted
        )
        return ServerStep(bytes(reply))

    def _on_set_client_dh_params(self, request: SetClientDHParams) -> ServerStep:
        self._expect(ServerState.AWAITING_SET_CLIENT_DH_PARAMS, request)
        self._check_nonces(request.nonce, request.server_nonce, request.TL_NAME)
        inner = decrypt_inner_data(
            request.encrypted_data, self._tmp_key, self._tmp_iv, ClientDHInnerData
        )
        self._check_nonces(inner.nonce, inner.server_nonce, inner.TL_NAME)
        g_b = int.from_bytes(inner.g_b)
        try:
            # 1 < g_b < dh_prime - 1 and 2^{2048-64} <= g_b <= dh_prime - 2^{2048-64}
            check_dh_public(g_b)
            acceptable = inner.retry_id == self._retry_id
        except SecurityError:
            acceptable = False
        # auth_key = pow(g_b, a) mod dh_prime. Computed even for a rejected g_b: dh_gen_fail
        # carries new_nonce_hash3, which hashes this value.
        auth_key = AuthKey(powmod(g_b % DH_PRIME, self._a, DH_PRIME).to_bytes(_DH_BYTES))
        if not acceptable:
            return self._dh_gen_fail(auth_key)
        if self._key_exists(auth_key.id):
            self._retries += 1
            if self._retries > MAX_DH_GEN_RETRIES:
                return self._dh_gen_fail(auth_key)
            # The client retries with a new b and retry_id = auth_key_aux_hash of this key.
            self._retry_id = auth_key.aux_hash
            retry = DhGenRetry(
                nonce=self._nonce,
                server_nonce=self._server_nonce,
                new_nonce_hash2=self._nonce_hash(auth_key, 2),
            )
            return ServerStep(bytes(retry))
        self._state = ServerState.DONE
        ok = DhGenOk(
            nonce=self._nonce,
            server_nonce=self._server_nonce,
            new_nonce_hash1=self._nonce_hash(auth_key, 1),
        )
        result = HandshakeResult(
            auth_key=auth_key,
            # server_salt = substr(new_nonce, 0, 8) XOR substr(server_nonce, 0, 8)
            server_salt=initial_server_salt(self._new_nonce, _int128_bytes(self._server_nonce)),
            time_offset=0,
            expires_in=self._expires_in,
            dc=self._dc,
            rsa_padding=self._padding,
        )
        return ServerStep(bytes(ok), result=result, finished=True)

    # -- helpers -------------------------------------------------------------------------

    def _dh_gen_fail(self, auth_key: AuthKey) -> ServerStep:
        self._state = ServerState.FAILED
        fail = DhGenFail(
            nonce=self._nonce,
            server_nonce=self._server_nonce,
            new_nonce_hash3=self._nonce_hash(auth_key, 3),
        )
        return ServerStep(bytes(fail), finished=True)

    def _nonce_hash(self, auth_key: AuthKey, number: int) -> int:
        # new_nonce_hashN = the 128 lower-order bits of SHA1(new_nonce + [N] + auth_key_aux_hash)
        return _int128(auth_key.new_nonce_hash(self._new_nonce, number))

    def _expect(self, state: ServerState, request: TLObject) -> None:
        if self._state is not state:
            raise HandshakeError(f"{request.TL_NAME} while {self._state.value}")

    def _check_nonces(self, nonce: int, server_nonce: int, what: str) -> None:
        if nonce != self._nonce:
            raise HandshakeError(f"{what}: nonce does not match")
        if server_nonce != self._server_nonce:
            raise HandshakeError(f"{what}: server_nonce does not match")

    def _is_pq_answer(self, p: bytes, q: bytes) -> bool:
        return (
            0 < len(p) <= _MAX_FACTOR_BYTES
            and 0 < len(q) <= _MAX_FACTOR_BYTES
            and int.from_bytes(p) == self._p
            and int.from_bytes(q) == self._q
        )

    def _check_inner(
        self, inner: PQInnerData | PQInnerDataDc | PQInnerDataTemp | PQInnerDataTempDc
    ) -> None:
        what = inner.TL_NAME
        self._check_nonces(inner.nonce, inner.server_nonce, what)
        if len(inner.pq) > _MAX_PQ_BYTES or int.from_bytes(inner.pq) != self._pq_value:
            raise HandshakeError(f"{what}: pq is not the one sent in resPQ")
        if not self._is_pq_answer(inner.p, inner.q):
            raise HandshakeError(f"{what}: p and q are not the factors of pq")
        if isinstance(inner, (PQInnerDataDc, PQInnerDataTempDc)):
            if self._dc_id is not None and abs(inner.dc) not in (
                self._dc_id,
                self._dc_id + _TEST_DC_OFFSET,
            ):
                raise HandshakeError(f"{what}: dc {inner.dc} is not this server's DC")
            self._dc = inner.dc
        if isinstance(inner, (PQInnerDataTemp, PQInnerDataTempDc)):
            if inner.expires_in <= 0:
                raise HandshakeError(f"{what}: expires_in {inner.expires_in} is not positive")
            self._expires_in = inner.expires_in

    def _forget(self) -> None:
        """Drop the exchange: the next request must be a req_pq_multi."""
        self._state = ServerState.AWAITING_REQ_PQ
        self._replies.clear()
        self._nonce = self._server_nonce = self._pq_value = self._p = self._q = self._a = 0
        self._new_nonce = self._tmp_key = self._tmp_iv = b""
        self._expires_in = self._dc = None
        self._padding = RsaPadding.RSA_PAD
        self._retry_id = self._retries = 0


class ClientHandshake:
    """The client side of one auth key exchange.

    :meth:`start` gives the ``req_pq_multi`` body; each server reply goes to
    :meth:`receive`, which returns the next request body or, after a verified
    ``dh_gen_ok``, the :class:`HandshakeResult`. Every server value is checked: nonces, a
    known key fingerprint, ``pq`` a product of two primes, Telegram's ``dh_prime`` and a
    valid ``g``, ``g_a`` in the safe range, the SHA1 of the answer, ``new_nonce_hash1/2/3``.

    ``dc_id`` (``None``: plain ``p_q_inner_data``) and ``temp_expires_in`` (a temporary
    key) choose among the four ``p_q_inner_data`` constructors. ``p_q_inner_data`` is
    wrapped with RSA_PAD. Any :class:`HandshakeError` ends the exchange for good: create a
    new :class:`ClientHandshake` to try again.
    """

    def __init__(
        self,
        *,
        rsa_keys: Sequence[RsaPublicKey],
        clock: Clock,
        random_bytes: RandomBytes,
        dc_id: int | None = DEFAULT_DC_ID,
        temp_expires_in: int | None = None,
    ) -> None:
        if not rsa_keys:
            raise ValueError("a client needs at least one server RSA key")
        if temp_expires_in is not None and temp_expires_in <= 0:
            raise ValueError(f"temp_expires_in must be positive, got {temp_expires_in}")
        self._keys: Final = {key.fingerprint: key for key in rsa_keys}
        self._clock: Final = clock
        self._random: Final = random_bytes
        self._dc_id: Final = dc_id
        self._expires_in: Final = temp_expires_in
        self._state = ClientState.INITIAL
        self._nonce = 0
        self._server_nonce = 0
        self._new_nonce = b""
        self._tmp_key = b""
        self._tmp_iv = b""
        self._g = DH_G
        self._g_a = 0
        self._time_offset = 0
        self._auth_key: AuthKey | None = None
        self._retries = 0

    @property
    def state(self) -> ClientState:
        return self._state

    def start(self) -> bytes:
        """The first request: ``req_pq_multi`` with a fresh random nonce."""
        if self._state is not ClientState.INITIAL:
            raise RuntimeError("ClientHandshake.start() may be called once")
        self._nonce = _int128(self._random(16))
        self._state = ClientState.AWAITING_RES_PQ
        return bytes(ReqPqMulti(nonce=self._nonce))

    def receive(self, body: bytes) -> bytes | HandshakeResult:
        """Handle one server reply body: the next request body, or the final result."""
        try:
            if self._state is ClientState.AWAITING_RES_PQ:
                return self._on_res_pq(_read_exact(bytes(body), (ResPQ,), "resPQ"))
            if self._state is ClientState.AWAITING_SERVER_DH_PARAMS:
                params = _read_exact(bytes(body), _SERVER_DH_PARAMS, "server_DH_params")
                if not isinstance(params, _SERVER_DH_PARAMS):  # pragma: no cover - narrows
                    raise HandshakeError(f"unexpected {params.TL_NAME}")
                return self._on_server_dh_params(params)
            if self._state is ClientState.AWAITING_DH_GEN:
                answer = _read_exact(bytes(body), _DH_GEN, "dh_gen answer")
                if not isinstance(answer, _DH_GEN):  # pragma: no cover - narrows the type
                    raise HandshakeError(f"unexpected {answer.TL_NAME}")
                return self._on_dh_gen(answer)
            raise HandshakeError(f"a server reply while {self._state.value}")
        except HandshakeError:
            self._state = ClientState.FAILED
            raise

    # -- steps ---------------------------------------------------------------------------

    def _on_res_pq(self, res: ResPQ) -> bytes:
        if res.nonce != self._nonce:
            raise HandshakeError("resPQ: nonce does not match")
        self._server_nonce = res.server_nonce
        key = next(
            (self._keys[f] for f in res.server_public_key_fingerprints if f in self._keys), None
        )
        if key is None:
            raise HandshakeError("resPQ: none of the server's key fingerprints is known")
        if not 0 < len(res.pq) <= _MAX_PQ_BYTES:
            raise HandshakeError(f"resPQ: pq of {len(res.pq)} bytes")
        pq = int.from_bytes(res.pq)
        try:
            p, q = factorize_pq(pq)
        except SecurityError as exc:
            raise HandshakeError(f"resPQ: {exc}") from None
        if q >= 1 << 32:
            raise HandshakeError("resPQ: a factor of pq is not below 2^32")
        new_nonce = self._random(32)
        self._new_nonce = new_nonce
        inner = self._inner_data(_be_bytes(pq), _be_bytes(p), _be_bytes(q), _int256(new_nonce))
        try:
            encrypted = key.encrypt(bytes(inner), random_bytes=self._random)
        except CryptoError as exc:  # pragma: no cover - only with broken randomness
            raise HandshakeError(f"req_DH_params: {exc}") from None
        self._tmp_key, self._tmp_iv = handshake_aes_key_iv(
            new_nonce, _int128_bytes(self._server_nonce)
        )
        self._state = ClientState.AWAITING_SERVER_DH_PARAMS
        request = ReqDHParams(
            nonce=self._nonce,
            server_nonce=self._server_nonce,
            p=_be_bytes(p),
            q=_be_bytes(q),
            public_key_fingerprint=key.fingerprint,
            encrypted_data=encrypted,
        )
        return bytes(request)

    def _inner_data(
        self, pq: bytes, p: bytes, q: bytes, new_nonce: int
    ) -> PQInnerData | PQInnerDataDc | PQInnerDataTemp | PQInnerDataTempDc:
        nonce, server_nonce = self._nonce, self._server_nonce
        dc, expires_in = self._dc_id, self._expires_in
        if expires_in is None:
            if dc is None:
                return PQInnerData(
                    pq=pq, p=p, q=q, nonce=nonce, server_nonce=server_nonce, new_nonce=new_nonce
                )
            return PQInnerDataDc(
                pq=pq, p=p, q=q, nonce=nonce, server_nonce=server_nonce, new_nonce=new_nonce, dc=dc
            )
        if dc is None:
            return PQInnerDataTemp(
                pq=pq,
                p=p,
                q=q,
                nonce=nonce,
                server_nonce=server_nonce,
                new_nonce=new_nonce,
                expires_in=expires_in,
            )
        return PQInnerDataTempDc(
            pq=pq,
            p=p,
            q=q,
            nonce=nonce,
            server_nonce=server_nonce,
            new_nonce=new_nonce,
            dc=dc,
            expires_in=expires_in,
        )

    def _on_server_dh_params(self, params: ServerDHParamsOk | ServerDHParamsFail) -> bytes:
        self._check_nonces(params.nonce, params.server_nonce, params.TL_NAME)
        if isinstance(params, ServerDHParamsFail):
            # new_nonce_hash = the 128 lower-order bits of SHA1(new_nonce)
            expected = _int128(sha1(self._new_nonce).digest()[4:])
            if params.new_nonce_hash != expected:
                raise HandshakeError("server_DH_params_fail with a wrong new_nonce_hash")
            raise HandshakeError("the server answered server_DH_params_fail")
        inner = decrypt_inner_data(
            params.encrypted_answer, self._tmp_key, self._tmp_iv, ServerDHInnerData
        )
        self._check_nonces(inner.nonce, inner.server_nonce, inner.TL_NAME)
        # Some clients refuse any other group; so does this one (no primality test needed).
        if int.from_bytes(inner.dh_prime) != DH_PRIME:
            raise HandshakeError("server_DH_inner_data: dh_prime is not Telegram's prime")
        try:
            # g generates the subgroup of order (p-1)/2 (auth_key step 5 conditions)
            check_dh_params(DH_PRIME, inner.g)
            g_a = int.from_bytes(inner.g_a)
            # 1 < g_a < dh_prime - 1 and 2^{2048-64} <= g_a <= dh_prime - 2^{2048-64}
            check_dh_public(g_a)
        except SecurityError as exc:
            raise HandshakeError(f"server_DH_inner_data: {exc}") from None
        self._g, self._g_a = inner.g, g_a
        self._time_offset = inner.server_time - int(self._clock())
        return self._set_client_dh_params(retry_id=0)

    def _set_client_dh_params(self, *, retry_id: int) -> bytes:
        # b: 2048 random bits; g_b = pow(g, b) mod dh_prime, in the safe range
        b, g_b = generate_keypair(self._random, g=self._g)
        # auth_key = pow(g_a, b) mod dh_prime
        try:
            self._auth_key = AuthKey(compute_shared(b, self._g_a))
        except SecurityError as exc:  # pragma: no cover - g_a was checked already
            raise HandshakeError(str(exc)) from None
        data = bytes(
            ClientDHInnerData(
                nonce=self._nonce,
                server_nonce=self._server_nonce,
                retry_id=retry_id,
                g_b=g_b.to_bytes(_DH_BYTES),
            )
        )
        padding = self._random(inner_data_padding_length(len(data)))
        encrypted = encrypt_inner_data(data, self._tmp_key, self._tmp_iv, padding)
        self._state = ClientState.AWAITING_DH_GEN
        request = SetClientDHParams(
            nonce=self._nonce, server_nonce=self._server_nonce, encrypted_data=encrypted
        )
        return bytes(request)

    def _on_dh_gen(self, answer: DhGenOk | DhGenRetry | DhGenFail) -> bytes | HandshakeResult:
        self._check_nonces(answer.nonce, answer.server_nonce, answer.TL_NAME)
        auth_key = self._auth_key
        if auth_key is None:  # pragma: no cover - set before this state is entered
            raise HandshakeError("no auth key computed")
        if isinstance(answer, DhGenOk):
            number, received = 1, answer.new_nonce_hash1
        elif isinstance(answer, DhGenRetry):
            number, received = 2, answer.new_nonce_hash2
        else:
            number, received = 3, answer.new_nonce_hash3
        # new_nonce_hashN = the 128 lower-order bits of SHA1(new_nonce + [N] + auth_key_aux_hash)
        if received != _int128(auth_key.new_nonce_hash(self._new_nonce, number)):
            raise HandshakeError(f"{answer.TL_NAME}: new_nonce_hash{number} does not match")
        if isinstance(answer, DhGenFail):
            raise HandshakeError("the server answered dh_gen_fail")
        if isinstance(answer, DhGenRetry):
            self._retries += 1
            if self._retries > MAX_DH_GEN_RETRIES:
                raise HandshakeError(f"more than {MAX_DH_GEN_RETRIES} dh_gen_retry answers")
            # retry_id = auth_key_aux_hash of the rejected key; a new b gives a new key.
            return self._set_client_dh_params(retry_id=auth_key.aux_hash)
        self._state = ClientState.DONE
        return HandshakeResult(
            auth_key=auth_key,
            # server_salt = substr(new_nonce, 0, 8) XOR substr(server_nonce, 0, 8)
            server_salt=initial_server_salt(self._new_nonce, _int128_bytes(self._server_nonce)),
            time_offset=self._time_offset,
            expires_in=self._expires_in,
            dc=self._dc_id,
            rsa_padding=RsaPadding.RSA_PAD,
        )

    def _check_nonces(self, nonce: int, server_nonce: int, what: str) -> None:
        if nonce != self._nonce:
            raise HandshakeError(f"{what}: nonce does not match")
        if server_nonce != self._server_nonce:
            raise HandshakeError(f"{what}: server_nonce does not match")


# -- wire helpers ------------------------------------------------------------------------

_SERVER_REQUESTS: Final = (ReqPqMulti, ReqPq, ReqDHParams, SetClientDHParams)
_PQ_INNER_DATA: Final = (PQInnerData, PQInnerDataDc, PQInnerDataTemp, PQInnerDataTempDc)
_SERVER_DH_PARAMS: Final = (ServerDHParamsOk, ServerDHParamsFail)
_DH_GEN: Final = (DhGenOk, DhGenRetry, DhGenFail)


def _int128(raw: bytes) -> int:
    """An ``int128`` field from its 16 wire bytes (the TL classes hold signed LE ints)."""
    return int.from_bytes(raw, "little", signed=True)


def _int256(raw: bytes) -> int:
    return int.from_bytes(raw, "little", signed=True)


def _int128_bytes(value: int) -> bytes:
    return value.to_bytes(16, "little", signed=True)


def _int256_bytes(value: int) -> bytes:
    return value.to_bytes(32, "little", signed=True)


def _be_bytes(value: int) -> bytes:
    """A "large number" as MTProto sends it in a ``bytes`` field: minimal big-endian."""
    return value.to_bytes((value.bit_length() + 7) // 8 or 1)


def _read_prefix(
    data: bytes, offset: int, classes: tuple[type[_O], ...], what: str
) -> tuple[_O, int]:
    """Read one boxed object of ``classes`` at ``offset``; return it and where it ends.

    What follows (padding) is left to the caller. Raises :class:`HandshakeError`.
    """
    if len(data) < offset + 4:
        raise HandshakeError(f"{what}: {len(data) - offset} bytes, not even a constructor id")
    constructor = int.from_bytes(data[offset : offset + 4], "little")
    for cls in classes:
        if cls.CONSTRUCTOR_ID == constructor:
            break
    else:
        raise HandshakeError(f"{what}: unexpected constructor {constructor:#010x}")
    reader = Reader(data, offset + 4)
    try:
        obj = cls._read(reader)
    except _TL_DECODE_ERRORS as exc:
        raise HandshakeError(f"{what}: malformed {cls.TL_NAME} ({exc})") from None
    return obj, reader.pos


def _read_exact(data: bytes, classes: tuple[type[_O], ...], what: str) -> _O:
    obj, end = _read_prefix(data, 0, classes, what)
    if end != len(data):
        raise HandshakeError(f"{what}: {len(data) - end} bytes after {obj.TL_NAME}")
    return obj
