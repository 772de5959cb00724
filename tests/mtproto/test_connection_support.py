"""Helpers of the Connection tests: a client and a server wired back to back in memory.

(Named ``test_*`` to sit with the tests it serves; it defines no tests itself.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from loopgram.clock import FakeClock, seeded_random
from loopgram.crypto import AuthKey
from loopgram.mtproto.client_connection import ClientConnection
from loopgram.mtproto.events import Event, RequestReceived
from loopgram.mtproto.salts import ServerSalts
from loopgram.mtproto.server_connection import ServerConnection
from loopgram.mtproto.session import PaddingPool, open_message, seal_message
from loopgram.mtproto.store import KeyEntry, MemoryStore
from loopgram.tl import TLObject, read
from loopgram.transport import Codec, Packet, TransportKind, client_codec
from tests.transport.transport_support import COMBOS

#: Test ids of the transport x obfuscation combinations (shared with the transport tests).
COMBO_IDS = [f"{k.value}{'-obfuscated' if o else ''}" for k, o in COMBOS]

SALT = 0x1122334455667788
CONTAINER = b"\xdc\xf8\xf1\x73"
START = 1_764_000_000.0

Answer = Callable[[RequestReceived], TLObject | bytes | None]


def make_key(seed: int = 1) -> AuthKey:
    return AuthKey(seeded_random(seed)(256))


def registered_store(key: AuthKey, clock: FakeClock, *, salt: int = SALT) -> MemoryStore:
    store = MemoryStore()
    store.add_key(KeyEntry(key, ServerSalts(salt, clock(), seeded_random(99)), clock()))
    return store


class Wire:
    """A ClientConnection and a ServerConnection joined by an in-memory byte pipe."""

    def __init__(
        self,
        kind: TransportKind = TransportKind.INTERMEDIATE,
        obfuscated: bool = False,
        *,
        clock: FakeClock | None = None,
        key: AuthKey | None = None,
        store: MemoryStore | None = None,
        client: ClientConnection | None = None,
        server: ServerConnection | None = None,
        salt: int = 0,
        seed: int = 0,
        **server_options: Any,
    ) -> None:
        self.clock = clock or FakeClock(START)
        self.key = key or make_key()
        self.store = store if store is not None else registered_store(self.key, self.clock)
        self.server = server or ServerConnection(
            self.store, clock=self.clock, random_bytes=seeded_random(seed + 1), **server_options
        )
        self.client = client or ClientConnection(
            transport=kind,
            obfuscated=obfuscated,
            auth_key=self.key,
            salt=salt,
            clock=self.clock,
            random_bytes=seeded_random(seed + 2),
        )
        self.server_events: list[Event] = []
        self.client_events: list[Event] = []
        self.wire_bytes = 0

    def start(self) -> Wire:
        self.client.start()
        return self

    def pump(self, answer: Answer | None = None, *, rounds: int = 20) -> list[Event]:
        """Move bytes both ways until both sides are quiet; return the new client events.

        ``answer`` is called for every query the server receives; what it returns (unless
        ``None``) is sent back with ``send_result``.
        """
        new: list[Event] = []
        for _ in range(rounds):
            up = self.client.data_to_send()
            if up:
                self.wire_bytes += len(up)
                events = self.server.receive_data(up)
                self.server_events.extend(events)
                for event in events:
                    if answer is not None and isinstance(event, RequestReceived):
                        result = answer(event)
                        if result is not None:
                            self.server.send_result(event.msg_id, result)
            down = self.server.data_to_send()
            if down:
                self.wire_bytes += len(down)
                got = self.client.receive_data(down)
                self.client_events.extend(got)
                new.extend(got)
            if not up and not down:
                break
        return new

    def flush_acks(self) -> None:
        """Send every pending ack both ways, as drivers do at ``ack_deadline``."""
        up = self.client.data_to_send(flush_acks=True)
        if up:
            self.server_events.extend(self.server.receive_data(up))
        down = self.server.data_to_send(flush_acks=True)
        if down:
            self.client_events.extend(self.client.receive_data(down))


def reconnect(
    old: Wire,
    kind: TransportKind = TransportKind.INTERMEDIATE,
    obfuscated: bool = False,
    *,
    seed: int = 50,
) -> Wire:
    """A new TCP connection for the same client session, to a new server connection."""
    assert old.client.session is not None
    client = ClientConnection(
        transport=kind,
        obfuscated=obfuscated,
        session=old.client.session,
        clock=old.clock,
        random_bytes=seeded_random(seed),
    )
    server = ServerConnection(old.store, clock=old.clock, random_bytes=seeded_random(seed + 1))
    return Wire(clock=old.clock, key=old.key, store=old.store, client=client, server=server).start()


def of_type(events: Iterable[Event], cls: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


class RawClient:
    """Hand-made client packets: any salt, session, msg_id, seq_no and body.

    For the checks a well-behaved ClientConnection never trips.
    """

    def __init__(
        self,
        key: AuthKey,
        *,
        kind: TransportKind = TransportKind.INTERMEDIATE,
        obfuscated: bool = False,
        session_id: int = 0x5E55,
        salt: int = SALT,
        seed: int = 7,
    ) -> None:
        self.key = key
        self.codec: Codec = client_codec(
            kind, obfuscated=obfuscated, random_bytes=seeded_random(seed)
        )
        self.session_id = session_id
        self.salt = salt
        self.padding = PaddingPool(seeded_random(seed + 1))

    def packet(
        self,
        msg_id: int,
        seqno: int,
        body: bytes,
        *,
        salt: int | None = None,
        session_id: int | None = None,
        key: AuthKey | None = None,
    ) -> bytes:
        sealed = seal_message(
            key or self.key,
            0,
            self.salt if salt is None else salt,
            self.session_id if session_id is None else session_id,
            msg_id,
            seqno,
            body,
            self.padding,
        )
        return self.codec.encode(sealed)

    def frame(self, payload: bytes) -> bytes:
        return self.codec.encode(payload)

    def messages(self, data: bytes) -> list[tuple[int, int, bytes]]:
        """The ``(msg_id, seq_no, body)`` of every message in server bytes, containers
        opened; checks the session id and the server msg_id parity."""
        out: list[tuple[int, int, bytes]] = []
        for frame in self.codec.feed(data):
            assert isinstance(frame, Packet), frame
            _salt, session_id, msg_id, seqno, body = open_message(self.key, frame.payload, 8)
            assert session_id == self.session_id
            assert msg_id % 2 == 1
            if body[:4] == CONTAINER:
                container = read(body)
                out.extend((m.msg_id, m.seqno, m.body) for m in container.messages)
            else:
                out.append((msg_id, seqno, body))
        return out

    def objects(self, data: bytes) -> list[Any]:
        """The parsed bodies of :meth:`messages`."""
        return [read(body) for _, _, body in self.messages(data)]


def msg_id_at(t: float, n: int = 0) -> int:
    """A client msg_id for Unix time ``t`` (plus ``n`` steps of 4)."""
    return (int(t * 2**32) & ~3) + 4 * n
