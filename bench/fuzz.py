"""Standing check: fuzzed and mutated frames against a real server, a canary pressing meanwhile.

Run from the repository root: ``python bench/fuzz.py`` (10^6 frames), ``--short`` for the CI
version, ``--frames N`` / ``--duration S`` to size it. Exit status 1 if the server crashed,
logged a traceback, or the canary saw a failure.

The server (``LoopgramServer`` on a temporary SQLite directory) and the canary (a loopgram
bot and user pressing and answering continuously) run in child processes; this process
generates frames, in pure Python, over ``--connections`` TCP connections at once, each
carrying thousands of frames. Every transport: abridged, intermediate, padded intermediate,
full, and obfuscated2 around the first three. A connection is one of:

- keyed (most): a new session on an auth key a real login made, sending valid-framed,
  validly encrypted packets whose plaintext is fuzzed -- mutated requests (bit flips,
  interesting 32-bit values, inserted, deleted and duplicated runs, splices, huge TL
  string lengths), containers and ``gzip_packed`` of them, mutated headers (salt, msg_id,
  seq_no, length), random bodies, valid requests -- plus a few packets whose ciphertext or
  ``msg_key`` is mutated (fewer than the server's limit per connection). Then a ``ping``:
  its answer confirms the server read the connection to the end. Half of them end with a
  killer frame: random bytes, a truncated frame, an oversized or malformed length, an
  unknown auth key, a short packet, a flood of undecryptable packets, a mutated key
  exchange message, a bad CRC or sequence number (full);
- raw: random bytes from the first byte, a random obfuscated2 header, a valid tag followed
  by frames of garbage, or a mutated key exchange.

Pass: the server process is alive at the end and stops cleanly, no traceback in its log
(records at WARNING and above are captured and counted) or on its standard error, and no
canary failure.
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import contextlib
import os
import random
import struct
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _hardening import (
    HOST,
    CanaryProc,
    ServerProc,
    Verdict,
    machine,
    print_machine,
    raise_nofile,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from loopgram.crypto import AuthKey, decrypt_message, encrypt_padded

TRANSPORTS = (
    "abridged",
    "intermediate",
    "padded",
    "full",
    "obf-abridged",
    "obf-intermediate",
    "obf-padded",
)
_TAGS = {"abridged": b"\xef", "intermediate": b"\xee" * 4, "padded": b"\xdd" * 4, "full": b""}
_OBF_TAGS = {"abridged": b"\xef" * 4, "intermediate": b"\xee" * 4, "padded": b"\xdd" * 4}
_HEADER = struct.Struct("<qqqii")  # salt, session_id, msg_id, seq_no, length
_I = struct.Struct("<I")
_II = struct.Struct("<II")
INTERESTING = (
    0,
    1,
    2,
    0x7F,
    0x80,
    0xFE,
    0xFF,
    0x100,
    0xFFFF,
    0x10000,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFF,
    0xFFFFFFFE,
    0x1CB5C415,  # vector
    0x3072CFA1,  # gzip_packed
    0x73F1F8DC,  # msg_container
    0x997275B5,  # boolTrue
    0xDA9B0D0D,  # invokeWithLayer
    0xC1CD5EA9,  # initConnection
)
CRYPTO_BUDGET = 12
"""Packets the server must drop (undecryptable, or a length field that disagrees with the
padding) per keyed connection: below the server's limit (16), so the connection lives on
and the ping after them is answered."""


# -- seeds ----------------------------------------------------------------------------------------


def seeds(bot_id: int, bot_hash: int) -> list[bytes]:
    """Valid request bodies to mutate: service messages and the API calls a press needs."""
    from _hardening import init_wrapped

    from loopgram.tl import functions as fn
    from loopgram.tl import types as ty
    from loopgram.tl.functions import account, contacts, help, messages, updates, users
    from loopgram.tl.mtproto import functions as mf
    from loopgram.tl.mtproto import types as mt

    bot = ty.InputPeerUser(user_id=bot_id, access_hash=bot_hash)
    me = ty.InputPeerSelf()
    entities: list[Any] = [
        ty.MessageEntityBold(offset=0, length=2),
        ty.MessageEntityTextUrl(offset=1, length=3, url="https://example.org/x"),
    ]
    objects: list[Any] = [
        mf.Ping(ping_id=1),
        mf.PingDelayDisconnect(ping_id=2, disconnect_delay=75),
        mf.GetFutureSalts(num=3),
        mt.MsgsAck(msg_ids=[1 << 32, 2 << 32]),
        mt.MsgsStateReq(msg_ids=[1 << 32]),
        mt.MsgResendReq(msg_ids=[1 << 32]),
        mf.RpcDropAnswer(req_msg_id=1 << 32),
        help.GetConfig(),
        updates.GetState(),
        updates.GetDifference(pts=1, date=1, qts=0),
        users.GetUsers(id=[ty.InputUserSelf()]),
        users.GetFullUser(id=ty.InputUserSelf()),
        messages.GetHistory(
            peer=me, offset_id=0, offset_date=0, add_offset=0, limit=5, max_id=0, min_id=0, hash=0
        ),
        messages.SendMessage(peer=me, message="fuzz text", random_id=7, entities=entities),
        messages.SendMessage(peer=bot, message="hello bot", random_id=8),
        messages.GetBotCallbackAnswer(peer=bot, msg_id=1, data=b"c1"),
        messages.SetBotCallbackAnswer(query_id=1, message="x", cache_time=0),
        messages.GetMessages(id=[ty.InputMessageID(id=1)]),
        contacts.ResolveUsername(username="canarybot"),
        account.UpdateProfile(first_name="fuzz"),
        fn.InvokeAfterMsg(msg_id=1 << 32, query=help.GetConfig()),
    ]
    out = [bytes(o) for o in objects]
    out.append(init_wrapped(help.GetConfig()))
    out.append(init_wrapped(updates.GetState(), layer=158))
    out.append(init_wrapped(help.GetConfig(), layer=1))
    return out


# -- frame building -------------------------------------------------------------------------------


def mutate(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    """A few random edits of ``data``, padded back to a multiple of 4 bytes."""
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 5, 8))):
        n = len(buf)
        op = rng.randrange(10)
        if op == 0 and n:
            buf[rng.randrange(n)] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            buf[rng.randrange(n)] = rng.randrange(256)
        elif op == 2 and n >= 4:
            pos = rng.randrange(n // 4) * 4
            buf[pos : pos + 4] = _I.pack(rng.choice(INTERESTING))
        elif op == 3:
            pos = rng.randrange(n + 1)
            buf[pos:pos] = rng.randbytes(rng.choice((1, 4, 4, 8, 16, 64)))
        elif op == 4 and n:
            pos = rng.randrange(n)
            del buf[pos : pos + rng.randrange(1, 17)]
        elif op == 5 and n:
            del buf[rng.randrange(n) :]
        elif op == 6 and n:
            pos = rng.randrange(n)
            chunk = buf[pos : pos + rng.randrange(1, 33)]
            buf[pos:pos] = chunk * rng.randrange(1, 4)
        elif op == 7:
            other = rng.choice(corpus)
            cut = rng.randrange(len(other) + 1)
            buf[rng.randrange(n + 1) :] = other[cut:]
        elif op == 8 and n >= 4:
            # A TL string/bytes length that claims far more than the body holds.
            pos = rng.randrange(n // 4) * 4
            buf[pos : pos + 4] = b"\xfe" + rng.randrange(1 << 24).to_bytes(3, "little")
        elif op == 9 and n >= 8:
            pos = rng.randrange(n // 4) * 4
            buf[pos : pos + 4] = _I.pack(rng.getrandbits(32))
    if len(buf) & 3:
        buf += bytes(4 - (len(buf) & 3))
    return bytes(buf)


def container(bodies: list[bytes], rng: random.Random, base_id: int) -> bytes:
    out = bytearray(_II.pack(0x73F1F8DC, len(bodies)))
    for i, body in enumerate(bodies):
        length = len(body) if rng.random() < 0.9 else rng.randrange(1 << 20)
        out += struct.pack("<qii", base_id + 4 * i, 2 * i + 1, length)
        out += body
    return bytes(out)


def gzipped(body: bytes) -> bytes:
    c = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    packed = c.compress(body) + c.flush()
    out = bytearray(_I.pack(0x3072CFA1))
    n = len(packed)
    if n < 254:
        out.append(n)
        out += packed
        pad = -(n + 1) & 3
    else:
        out += bytes([254]) + n.to_bytes(3, "little") + packed
        pad = -n & 3
    return bytes(out + bytes(pad))


class Framer:
    """One client->server byte stream in one transport (obfuscated2 included), and a
    decoder of what comes back."""

    def __init__(self, kind: str, rng: random.Random) -> None:
        from loopgram.transport import Role, TransportKind, client_codec
        from loopgram.transport.factory import codec_class
        from loopgram.transport.obfuscated import ObfuscatedCodec

        self.kind = kind
        self.rng = rng
        self.obfuscated = kind.startswith("obf-")
        self.inner = kind[4:] if self.obfuscated else kind
        self.seq = 0
        kinds = {
            "abridged": TransportKind.ABRIDGED,
            "intermediate": TransportKind.INTERMEDIATE,
            "padded": TransportKind.PADDED_INTERMEDIATE,
            "full": TransportKind.FULL,
        }
        self._encrypt: Any = None
        if self.obfuscated:
            while True:
                header = bytearray(os.urandom(64))
                if (
                    header[0] != 0xEF
                    and bytes(header[:4])
                    not in (b"HEAD", b"POST", b"GET ", b"OPTI", b"\x16\x03\x01\x02")
                    and bytes(header[:4]) not in (b"\xdd" * 4, b"\xee" * 4)
                    and bytes(header[4:8]) != bytes(4)
                ):
                    break
            header[56:60] = _OBF_TAGS[self.inner]
            key, iv = bytes(header[8:40]), bytes(header[40:56])
            self._encrypt = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor().update
            encrypted = self._encrypt(bytes(header))
            self.opening = bytes(header[:56]) + encrypted[56:64]
            drawn = bytes(header)
            self.decoder: Any = ObfuscatedCodec(
                Role.CLIENT, codec_class(kinds[self.inner]), random_bytes=lambda n: drawn
            )
        else:
            self.opening = _TAGS[self.inner]
            self.decoder = client_codec(kinds[self.inner])

    def wrap(self, raw: bytes) -> bytes:
        """Raw stream bytes as they go on the wire (encrypted under obfuscated2)."""
        return self._encrypt(raw) if self._encrypt is not None else raw

    def frame(self, payload: bytes) -> bytes:
        """One well-formed frame around ``payload`` (not yet wrapped)."""
        inner = self.inner
        n = len(payload)
        if inner == "abridged":
            words = n >> 2
            head = bytes([words]) if words < 0x7F else b"\x7f" + words.to_bytes(3, "little")
            return head + payload
        if inner == "intermediate":
            return _I.pack(n) + payload
        if inner == "padded":
            pad = self.rng.randrange(16)
            return _I.pack(n + pad) + payload + self.rng.randbytes(pad)
        head = _II.pack(n + 12, self.seq)
        self.seq += 1
        return head + payload + _I.pack(binascii.crc32(head + payload))

    def bad_length_frame(self) -> bytes:
        """A frame header no server may accept: zero, unaligned, negative or huge."""
        rng = self.rng
        inner = self.inner
        if inner == "abridged":
            return rng.choice(
                (b"\x00", b"\x7f\xff\xff\xff", b"\x7f\x00\x00\x00", bytes([0x7F]) + b"\x00\x00\x10")
            ) + rng.randbytes(16)
        if inner == "full":
            return _II.pack(rng.choice((0, 4, 13, 0xFFFFFFF0, 1 << 25)), self.seq) + rng.randbytes(
                16
            )
        return _I.pack(rng.choice((0, 3, 5, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 25))) + rng.randbytes(16)

    def truncated_frame(self, payload: bytes) -> bytes:
        whole = self.frame(payload + self.rng.randbytes(1024))
        return whole[: self.rng.randrange(1, len(whole) - 1)]


# -- connections ----------------------------------------------------------------------------------


@dataclass
class Tally:
    frames: Counter[str] = field(default_factory=Counter)
    connections: Counter[str] = field(default_factory=Counter)
    killers: Counter[str] = field(default_factory=Counter)
    confirmed: int = 0
    unconfirmed: int = 0
    closed_early: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.frames.values())


class Link(asyncio.Protocol):
    """The client side of one fuzz connection: buffers what the server sends."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.transport: asyncio.Transport | None = None
        self.lost = asyncio.get_running_loop().create_future()
        self.arrived = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received += data
        self.arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        self._writable.set()
        self.arrived.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    async def write(self, data: bytes) -> bool:
        if self.lost.done() or self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        if not self._writable.is_set():
            await self._writable.wait()
        return not self.lost.done()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Fuzzer:
    def __init__(
        self,
        port: int,
        auth_key: bytes,
        salt: int,
        corpus: list[bytes],
        args: argparse.Namespace,
        seed: int,
    ) -> None:
        self.port = port
        self.key = AuthKey(auth_key)
        self.key_id = self.key.id.to_bytes(8, "little", signed=True)
        self.salt = salt
        self.corpus = corpus
        self.args = args
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.stop_at = time.monotonic() + args.duration if args.duration else None

    def done(self) -> bool:
        if self.tally.total >= self.args.frames:
            return True
        return self.stop_at is not None and time.monotonic() >= self.stop_at

    async def run(self, worker: int) -> None:
        rng = random.Random(self.rng.getrandbits(64) + worker)
        while not self.done():
            kind = rng.choice(TRANSPORTS)
            try:
                if rng.random() < self.args.raw_share:
                    await self.raw_connection(kind, rng)
                else:
                    await self.keyed_connection(kind, rng)
            except (ConnectionError, OSError) as exc:
                self.tally.reasons[f"connect: {type(exc).__name__}"] += 1
                await asyncio.sleep(0.05)

    async def _open(self) -> Link:
        loop = asyncio.get_running_loop()
        _, link = await loop.create_connection(Link, HOST, self.port)
        return link

    # keyed connections: valid transport and encryption, fuzzed plaintext

    def _seal(self, plaintext: bytes, rng: random.Random) -> bytes:
        pad = 12 + (-(len(plaintext) + 12) & 15) + 16 * rng.randrange(3)
        return encrypt_padded(self.key, plaintext + rng.randbytes(pad), 0)

    async def keyed_connection(self, kind: str, rng: random.Random) -> None:
        tally = self.tally
        framer = Framer(kind, rng)
        link = await self._open()
        tally.connections[f"keyed {kind}"] += 1
        session_id = rng.getrandbits(63)
        msg_id = (int(time.time() * 2**32) & ~3) - (1 << 32)
        seqno = 1
        crypto_left = CRYPTO_BUDGET
        corpus = self.corpus
        salt = self.salt
        budget = min(self.args.frames_per_connection, max(1, self.args.frames - tally.total))
        pending: list[bytes] = []
        sent = 0
        alive = await link.write(framer.opening)
        while sent < budget and alive:
            msg_id += 4
            seqno += 2
            roll = rng.random()
            category = "mutated"
            header_salt, header_msg_id, header_seq = salt, msg_id, seqno
            if roll < 0.65:
                body = mutate(rng.choice(corpus), rng, corpus)
            elif roll < 0.73:
                parts = [
                    mutate(rng.choice(corpus), rng, corpus) for _ in range(rng.randrange(1, 6))
                ]
                body = container(parts, rng, msg_id - 4096)
                category = "container"
            elif roll < 0.78:
                inner = rng.choice(corpus)
                body = gzipped(mutate(inner, rng, corpus) if rng.random() < 0.7 else inner)
                category = "gzip"
            elif roll < 0.84:
                body = rng.choice(corpus)
                category = "valid"
            elif roll < 0.93:
                body = rng.choice(corpus)
                category = "header"
                field_no = rng.randrange(4)
                if field_no == 0:
                    header_salt = rng.getrandbits(63)
                elif field_no == 1:
                    header_msg_id += rng.choice((1, 2, 3, 1 << 40, -(1 << 40)))
                elif field_no == 2:
                    header_seq = rng.choice((0, 2, -1, seqno + 1000, rng.getrandbits(24)))
                    # A higher seq_no becomes the session's new floor: what follows must
                    # pass it, or every later frame would stop at the seq_no check.
                    seqno = max(seqno, header_seq | 1)
                else:
                    body = body + rng.randbytes(rng.choice((4, 8, 64)))
            else:
                body = rng.randbytes(rng.choice((4, 8, 16, 64, 256, 1024)))
                category = "random body"
            length = len(body)
            if category == "header" and crypto_left and rng.random() < 0.05:
                # Counts against the same limit as undecryptable packets: the server drops
                # a packet whose length field disagrees with its padding.
                crypto_left -= 1
                length = rng.choice((-4, 0, length + 4, length * 4, 1 << 20))
            plaintext = (
                _HEADER.pack(header_salt, session_id, header_msg_id, header_seq, length) + body
            )
            packet = self.key_id + self._seal(plaintext, rng)[8:]
            if crypto_left and rng.random() < 0.004:
                crypto_left -= 1
                bad = bytearray(packet)
                bad[rng.randrange(8, len(bad))] ^= 1 << rng.randrange(8)
                packet = bytes(bad)
                category = "bad msg_key/ciphertext"
            pending.append(framer.frame(packet))
            tally.frames[category] += 1
            sent += 1
            if len(pending) >= 48:
                alive = await link.write(framer.wrap(b"".join(pending)))
                pending.clear()
        if pending and alive:
            alive = await link.write(framer.wrap(b"".join(pending)))
        if not alive:
            tally.closed_early += 1
            link.close()
            return
        # The ping: its answer shows the server read everything before it.
        ping_id = rng.getrandbits(63)
        msg_id += 4
        seqno += 2
        ping = struct.pack("<Iq", 0x7ABE77EC, ping_id)
        plaintext = _HEADER.pack(salt, session_id, msg_id, seqno, len(ping)) + ping
        mark = len(link.received)
        await link.write(framer.wrap(framer.frame(self.key_id + self._seal(plaintext, rng)[8:])))
        tally.frames["ping"] += 1
        # Answered by a pong, or by a bad_msg_notification naming it (a fuzzed seq_no
        # earlier on can make the ping's own seq_no "too low"): either way it was read.
        needles = (struct.pack("<q", ping_id), struct.pack("<q", msg_id))
        if await self._confirmed(link, framer, mark, needles):
            tally.confirmed += 1
        else:
            tally.unconfirmed += 1
        if rng.random() < 0.5 and not link.lost.done():
            await self.killer(link, framer, rng)
        link.close()

    async def _confirmed(
        self, link: Link, framer: Framer, mark: int, needles: tuple[bytes, ...]
    ) -> bool:
        from loopgram.transport import Packet

        decoder = framer.decoder
        pos = 0
        deadline = time.monotonic() + self.args.confirm_timeout
        with contextlib.suppress(Exception):
            decoder.feed(bytes(link.received[:mark]))
            pos = mark
        while time.monotonic() < deadline:
            data = bytes(link.received[pos:])
            pos += len(data)
            if data:
                try:
                    events = decoder.feed(data)
                except Exception as exc:
                    self.tally.reasons[f"server stream: {type(exc).__name__}"] += 1
                    return False
                for event in events:
                    if type(event) is not Packet or event.payload[:8] != self.key_id:
                        continue
                    payload = event.payload
                    excess = (len(payload) - 24) & 15  # padded intermediate's padding
                    try:
                        plain = decrypt_message(self.key, payload[: len(payload) - excess], x=8)
                    except Exception:
                        continue
                    if any(needle in plain for needle in needles):
                        return True
            if link.lost.done():
                self.tally.reasons["closed before the ping's answer"] += 1
                return False
            link.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(link.arrived.wait(), 1.0)
        self.tally.reasons["no answer to the ping in time"] += 1
        return False

    async def killer(self, link: Link, framer: Framer, rng: random.Random) -> None:
        """One last frame (or burst) that no server may accept; the connection ends."""
        tally = self.tally
        choices = [
            "random bytes",
            "truncated frame",
            "bad length",
            "unknown auth key",
            "short packet",
            "undecryptable flood",
            "mutated key exchange",
        ]
        if framer.inner == "full":
            choices += ["bad crc", "bad seq"]
        what = rng.choice(choices)
        frames = 1
        if what == "random bytes":
            raw = rng.randbytes(rng.randrange(1, 4096))
        elif what == "truncated frame":
            raw = framer.truncated_frame(self.key_id + rng.randbytes(256))
        elif what == "bad length":
            raw = framer.bad_length_frame()
        elif what == "unknown auth key":
            raw = framer.frame(rng.randbytes(8) + rng.randbytes(16 * rng.randrange(3, 20) + 16))
        elif what == "short packet":
            raw = framer.frame(rng.randbytes(4))
        elif what == "undecryptable flood":
            frames = 20
            raw = b"".join(
                framer.frame(self.key_id + rng.randbytes(16 + 16 * rng.randrange(3, 10)))
                for _ in range(frames)
            )
        elif what == "mutated key exchange":
            raw = framer.frame(self._plain(rng))
        else:
            payload = self.key_id + rng.randbytes(64)
            head = _II.pack(len(payload) + 12, framer.seq if what == "bad crc" else framer.seq + 7)
            crc = binascii.crc32(head + payload)
            raw = head + payload + _I.pack(crc ^ 1 if what == "bad crc" else crc)
        tally.killers[what] += 1
        tally.frames[f"killer: {what}"] += frames
        await link.write(framer.wrap(raw))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(link.lost), 0.2)

    def _plain(self, rng: random.Random) -> bytes:
        """An unencrypted message (key exchange step), mutated."""
        from loopgram.tl.mtproto import functions as mf

        body = rng.choice(
            (
                bytes(mf.ReqPqMulti(nonce=rng.getrandbits(127))),
                bytes(mf.ReqPq(nonce=rng.getrandbits(127))),
                bytes(
                    mf.ReqDHParams(
                        nonce=rng.getrandbits(127),
                        server_nonce=rng.getrandbits(127),
                        p=rng.randbytes(4),
                        q=rng.randbytes(4),
                        public_key_fingerprint=rng.getrandbits(63),
                        encrypted_data=rng.randbytes(256),
                    )
                ),
            )
        )
        if rng.random() < 0.7:
            body = mutate(body, rng, self.corpus)
        msg_id = int(time.time() * 2**32) & ~3
        return bytes(8) + struct.pack("<qi", msg_id, len(body)) + body

    # raw connections: garbage from the first byte

    async def raw_connection(self, kind: str, rng: random.Random) -> None:
        tally = self.tally
        link = await self._open()
        what = rng.choice(("random stream", "random obfuscated2", "garbage frames", "handshake"))
        tally.connections[f"raw {what}"] += 1
        framer = Framer(kind, rng)
        frames = 1
        if what == "random stream":
            raw = rng.randbytes(rng.choice((1, 3, 8, 64, 65, 1024, 4096)))
        elif what == "random obfuscated2":
            raw = rng.randbytes(64) + rng.randbytes(rng.randrange(0, 512))
        elif what == "garbage frames":
            frames = rng.randrange(1, 40)
            raw = framer.opening + framer.wrap(
                b"".join(
                    framer.frame(rng.randbytes(4 * rng.randrange(1, 64))) for _ in range(frames)
                )
            )
        else:
            frames = rng.randrange(1, 8)
            raw = framer.opening + framer.wrap(
                b"".join(framer.frame(self._plain(rng)) for _ in range(frames))
            )
        tally.frames[f"raw: {what}"] += frames
        await link.write(raw)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(link.lost), 0.05)
        link.close()


# -- the run --------------------------------------------------------------------------------------


async def login(port: int, pem: str) -> tuple[bytes, int, int, int]:
    """A fuzz user's auth key and salt, and the canary bot's id and access hash."""
    from loopgram.client import Client

    client = Client(host=HOST, port=port, public_key=pem, receive_updates=False)
    await client.start(phone="+15558880000", code="12345")
    bot = await client.resolve_username("canarybot")
    data = client.session.load()
    assert data is not None and data.auth_key is not None
    await client.disconnect()
    return data.auth_key, data.salt, bot.id, bot.access_hash or 0


async def run(args: argparse.Namespace) -> int:
    raise_nofile()
    verdict = Verdict()
    with tempfile.TemporaryDirectory(prefix="loopgram-fuzz-") as tmp:
        work = Path(tmp)
        server = ServerProc(work)
        facts = await server.start()
        canary = CanaryProc(work, facts, interval=args.canary_interval)
        await canary.start()
        auth_key, salt, bot_id, bot_hash = await login(facts["port"], facts["pem"])
        corpus = seeds(bot_id, bot_hash)
        before = await server.stats(mark=True)
        fuzzer = Fuzzer(facts["port"], auth_key, salt, corpus, args, args.seed)
        print(
            f"fuzzing: {args.frames:,} frames over {args.connections} connections at once "
            f"(seed {args.seed}), server pid {server.pid}"
        )
        started = time.perf_counter()
        workers = [asyncio.create_task(fuzzer.run(i)) for i in range(args.connections)]
        next_report = started + args.report_every
        while not all(w.done() for w in workers):
            await asyncio.sleep(0.5)
            if time.perf_counter() >= next_report:
                next_report += args.report_every
                elapsed = time.perf_counter() - started
                stats = await server.stats()
                cstats = await canary.stats()
                print(
                    f"  {elapsed:6.0f} s  {fuzzer.tally.total:>10,} frames "
                    f"({fuzzer.tally.total / elapsed:,.0f}/s)  server rss "
                    f"{stats.get('rss_mb', 0):.0f} MB, tracebacks {stats.get('tracebacks')}, "
                    f"canary ok {cstats.get('ok')} failed {cstats.get('failures')}",
                    flush=True,
                )
            if not server.alive():
                break
        for w in workers:
            if w.done() and w.exception() is not None:
                raise w.exception()  # type: ignore[misc]
            w.cancel()
        elapsed = time.perf_counter() - started
        # The canary keeps pressing a moment after the last frame: a server that took damage
        # shows it now.
        serving = await canary.serving(presses=3, timeout=30)
        stats = await server.stats()
        cstats = await canary.stats()
        await canary.stop()
        alive = server.alive()
        code = await server.stop()
        stderr_tb = server.stderr_tracebacks()
        log_lines = (
            server.log.read_text(errors="replace").splitlines() if server.log.exists() else []
        )

    tally = fuzzer.tally
    print()
    print(f"frames sent: {tally.total:,} in {elapsed:.1f} s ({tally.total / elapsed:,.0f}/s)")
    for name, count in sorted(tally.frames.items(), key=lambda kv: -kv[1]):
        print(f"  {count:>10,}  {name}")
    print(f"connections: {sum(tally.connections.values()):,}")
    for name, count in sorted(tally.connections.items()):
        print(f"  {count:>10,}  {name}")
    print(
        f"keyed connections whose closing ping was answered: {tally.confirmed:,} "
        f"(not answered: {tally.unconfirmed:,}; closed by the server mid-stream: "
        f"{tally.closed_early:,})"
    )
    for reason, count in tally.reasons.most_common():
        print(f"  {count:>10,}  {reason}")
    print(
        f"server: rss {before.get('rss_mb', 0):.0f} -> {stats.get('rss_mb', 0):.0f} MB "
        f"(peak {stats.get('peak_rss_mb', 0):.0f}), longest event-loop block "
        f"{stats.get('max_block_s', 0) * 1e3:.0f} ms, log records >= WARNING: "
        f"{stats.get('warnings', 0)} warnings, {stats.get('errors', 0)} errors; "
        f"tracebacks: {stats.get('tracebacks', 0)} logged, {stderr_tb} on stderr"
    )
    for text, count in stats.get("top", []):
        print(f"  {count:>8}  {text}")
    print(
        f"canary: {cstats.get('ok', 0):,} presses answered, {cstats.get('failures', 0)} failures, "
        f"p50 {cstats.get('p50_ms', 0)} ms, slowest {cstats.get('max_latency_s', 0)} s"
    )
    for sample in cstats.get("samples", []):
        print(f"  {sample}")
    if log_lines:
        print(f"server log: first of {len(log_lines)} lines: {log_lines[0][:200]}")
    print()
    verdict.check(alive and code == 0, f"server alive to the end and stopped cleanly (exit {code})")
    verdict.check(
        stats.get("tracebacks", 1) == 0 and stderr_tb == 0, "no traceback in the server's log"
    )
    verdict.check(cstats.get("failures", 1) == 0, "no canary failure")
    verdict.check(serving, "canary served after the fuzzing")
    if not args.duration:
        verdict.check(tally.total >= args.frames, f"at least {args.frames:,} frames sent")
    verdict.check(tally.confirmed > 0, "the server answered the closing ping of keyed connections")
    return 1 if verdict.failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1_000_000, help="frames to send")
    parser.add_argument("--duration", type=float, default=0.0, help="stop after S seconds")
    parser.add_argument("--connections", type=int, default=4, help="connections at once")
    parser.add_argument("--frames-per-connection", type=int, default=4000)
    parser.add_argument("--raw-share", type=float, default=0.1, help="share of raw connections")
    parser.add_argument("--confirm-timeout", type=float, default=60.0)
    parser.add_argument("--canary-interval", type=float, default=0.05)
    parser.add_argument("--report-every", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "little"))
    parser.add_argument("--short", action="store_true", help="the CI version: 20 000 frames")
    args = parser.parse_args(argv)
    if args.short:
        args.frames = 20_000
        args.frames_per_connection = 1500
        args.report_every = 1e9
    print_machine(machine())
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
