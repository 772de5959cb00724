"""Temporary auth keys (core.telegram.org/mtproto/auth_key, ``p_q_inner_data_temp``): the
server forgets them ``expires_in`` seconds after the exchange, and a client then gets
transport error -404, as from Telegram; ``auth.bindTempAuthKey`` (core.telegram.org/api/pfs)
binds one to a permanent key, checked by :mod:`loopgram.mtproto.pfs`."""

from __future__ import annotations

import pytest

from loopgram.clock import FakeClock, seeded_random
from loopgram.crypto import AuthKey, RsaPrivateKey
from loopgram.mtproto.client_connection import ClientConnection
from loopgram.mtproto.errors import RemoteProtocolError
from loopgram.mtproto.events import HandshakeCompleted, RequestReceived, ResultReceived
from loopgram.mtproto.pfs import (
    ENCRYPTED_MESSAGE_INVALID,
    BindingError,
    binding_request,
    check_binding,
)
from loopgram.mtproto.salts import ServerSalts
from loopgram.mtproto.server_connection import ServerConnection
from loopgram.mtproto.store import KeyEntry, MemoryStore
from loopgram.tl import TLObject
from loopgram.tl.functions.auth import BindTempAuthKey
from loopgram.tl.functions.help import GetNearestDc
from loopgram.tl.mtproto.types import RpcError
from loopgram.tl.types import NearestDc
from loopgram.transport import TransportErrorPacket, TransportKind

from .test_connection_support import (
    SALT,
    START,
    Wire,
    make_key,
    msg_id_at,
    of_type,
    reconnect,
)

NEAREST = NearestDc(country="NL", this_dc=2, nearest_dc=2)


def nearest(_: object) -> NearestDc:
    return NEAREST


@pytest.fixture(scope="module")
def rsa() -> RsaPrivateKey:
    return RsaPrivateKey.generate()


def temp_key_wire(clock: FakeClock, expires_in: float) -> Wire:
    key = make_key(5)
    store = MemoryStore()
    salts = ServerSalts(SALT, clock(), seeded_random(9))
    store.add_key(KeyEntry(key, salts, clock(), clock() + expires_in))
    return Wire(clock=clock, key=key, store=store, salt=SALT).start()


def test_a_temp_key_from_the_exchange_expires_after_expires_in(rsa: RsaPrivateKey) -> None:
    clock = FakeClock(START)
    store = MemoryStore()
    server = ServerConnection(store, rsa_keys=[rsa], clock=clock, random_bytes=seeded_random(1))
    client = ClientConnection(
        transport=TransportKind.ABRIDGED,
        rsa_keys=[rsa.public_key],
        clock=clock,
        random_bytes=seeded_random(2),
        temp_expires_in=3600,
    )
    wire = Wire(clock=clock, store=store, client=client, server=server).start()
    first = client.send_request(GetNearestDc())
    (completed,) = of_type(wire.pump(nearest), HandshakeCompleted)
    assert ResultReceived(first, NEAREST) in wire.client_events
    entry = store.get_key(completed.auth_key.id)
    assert entry is not None and entry.expires_at == START + 3600

    clock.advance(3599)
    again = client.send_request(GetNearestDc())
    assert ResultReceived(again, NEAREST) in wire.pump(nearest)

    clock.advance(1)
    client.send_request(GetNearestDc())
    with pytest.raises(RemoteProtocolError) as info:
        wire.pump(nearest)
    assert info.value.code == -404
    assert client.codec.feed(info.value.reply) == [TransportErrorPacket(-404)]


def test_an_expired_temp_key_is_refused_on_a_new_connection_too() -> None:
    clock = FakeClock(START)
    wire = temp_key_wire(clock, 60)
    wire.client.send_request(GetNearestDc())
    wire.pump(nearest)
    clock.advance(61)
    fresh = reconnect(wire)
    fresh.client.send_request(GetNearestDc())
    with pytest.raises(RemoteProtocolError) as info:
        fresh.pump(nearest)
    assert info.value.code == -404
    assert "expired" in str(info.value)


def test_a_permanent_key_never_expires() -> None:
    clock = FakeClock(START)
    wire = Wire(clock=clock, salt=SALT).start()
    clock.advance(10 * 365 * 86400.0)
    msg_id = wire.client.send_request(GetNearestDc())
    assert ResultReceived(msg_id, NEAREST) in wire.pump(nearest)


def test_memory_store_with_a_clock_forgets_expired_temp_keys() -> None:
    clock = FakeClock(START)
    store = MemoryStore(clock)
    temp, perm = make_key(1), make_key(2)
    salts = ServerSalts(SALT, clock(), seeded_random(9))
    store.add_key(KeyEntry(temp, salts, clock(), clock() + 10))
    store.add_key(KeyEntry(perm, salts, clock()))
    assert store.get_key(temp.id) is not None
    clock.advance(10)
    assert store.get_key(temp.id) is None
    assert temp.id not in store.keys
    assert store.get_key(perm.id) is not None


# -- auth.bindTempAuthKey -------------------------------------------------------------------


class Binder:
    """What a server does with auth.bindTempAuthKey: check it against the store's keys."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.bound: dict[int, int] = {}  # temp key id -> perm key id
        self.errors: list[str] = []

    def __call__(self, event: RequestReceived) -> TLObject | bytes | None:
        request = event.request
        if not isinstance(request, BindTempAuthKey):
            return NEAREST
        perm = self.store.get_key(request.perm_auth_key_id)
        try:
            if perm is None:
                raise BindingError(ENCRYPTED_MESSAGE_INVALID, "unknown permanent key")
            inner = check_binding(
                request,
                perm.auth_key,
                temp_key_id=event.auth_key_id,
                temp_session_id=event.session_id,
                msg_id=event.msg_id,
            )
        except BindingError as exc:
            self.errors.append(exc.error)
            return RpcError(error_code=exc.code, error_message=exc.error)
        self.bound[inner.temp_auth_key_id] = inner.perm_auth_key_id
        return b"\xb5\x75\x72\x99"  # boolTrue


def bound_wire(clock: FakeClock) -> tuple[Wire, AuthKey]:
    wire = temp_key_wire(clock, 86400)
    perm = make_key(6)
    wire.store.add_key(KeyEntry(perm, ServerSalts(SALT, clock(), seeded_random(8)), clock()))
    return wire, perm


def test_a_client_binds_its_temp_key_to_its_permanent_key() -> None:
    clock = FakeClock(START)
    wire, perm = bound_wire(clock)
    binder = Binder(wire.store)
    msg_id = wire.client.bind_temp_auth_key(perm, int(START) + 86400)
    events = wire.pump(binder)
    assert ResultReceived(msg_id, True) in events
    assert binder.bound == {wire.key.id: perm.id}
    assert binder.errors == []


def test_a_binding_sent_in_a_container_with_other_queries_checks_out() -> None:
    clock = FakeClock(START)
    wire, perm = bound_wire(clock)
    binder = Binder(wire.store)
    before = wire.client.send_request(GetNearestDc())
    msg_id = wire.client.bind_temp_auth_key(perm, int(START) + 86400)
    events = wire.pump(binder)
    assert ResultReceived(before, NEAREST) in events
    assert ResultReceived(msg_id, True) in events


def binding_for(perm: AuthKey, **overrides: int) -> tuple[BindTempAuthKey, dict[str, int]]:
    where = {"temp_key_id": 11, "temp_session_id": 22, "msg_id": msg_id_at(START)}
    request = binding_request(
        perm, expires_at=int(START) + 60, random_bytes=seeded_random(3), **where
    )
    return request, {**where, **overrides}


@pytest.mark.parametrize(
    "arrived",
    [
        {"temp_key_id": 12},  # sent under another temporary key
        {"temp_session_id": 23},  # from another session
        {"msg_id": msg_id_at(START) + 4},  # copied into another message (a replay, a re-send)
    ],
    ids=["temp_key", "session", "msg_id"],
)
def test_a_binding_that_arrived_otherwise_than_it_says_is_refused(
    arrived: dict[str, int],
) -> None:
    perm = make_key(6)
    request, where = binding_for(perm, **arrived)
    with pytest.raises(BindingError) as info:
        check_binding(request, perm, **where)
    assert info.value.error == ENCRYPTED_MESSAGE_INVALID


def test_the_outer_fields_must_match_the_encrypted_ones() -> None:
    perm = make_key(6)
    request, where = binding_for(perm)
    assert check_binding(request, perm, **where).perm_auth_key_id == perm.id
    for field, value in (("nonce", request.nonce + 1), ("expires_at", request.expires_at + 1)):
        forged = BindTempAuthKey(
            perm_auth_key_id=request.perm_auth_key_id,
            nonce=request.nonce,
            expires_at=request.expires_at,
            encrypted_message=request.encrypted_message,
        )
        setattr(forged, field, value)
        with pytest.raises(BindingError, match=field):
            check_binding(forged, perm, **where)


def test_a_binding_needs_the_permanent_key_itself() -> None:
    perm, other = make_key(6), make_key(7)
    request, where = binding_for(perm)
    with pytest.raises(BindingError):
        check_binding(request, other, **where)  # not the key the request names
    tampered = bytearray(request.encrypted_message)
    tampered[-1] ^= 1
    request.encrypted_message = bytes(tampered)
    with pytest.raises(BindingError, match=r"msg_key|length"):
        check_binding(request, perm, **where)
