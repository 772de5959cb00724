"""Standing check: the protocol-abuse catalogue of issue 13, each attack against a real server.

Run from the repository root: ``python bench/abuse.py`` (``--short`` for the CI version,
``--only NAME[,NAME]`` for some attacks). The server (``LoopgramServer`` on a temporary SQLite
directory) and a canary (a loopgram bot and user pressing continuously) run in child
processes; the attacks run from this one, over raw MTProto sessions (bytes the typed client
would never send) on auth keys that real logins made, and over bare sockets.

For each attack the table gives the answer the issue demands of the server, whether it was
seen, the server's resident memory before the attack and its peak during it, the longest
block of the server's event loop, the log records at WARNING and above it caused, and
whether the canary was still served afterwards. An attack passes when the answer was seen,
the canary is served, no traceback was logged and, for the attacks on memory, the peak grew
by at most ``--rss-budget`` MB with no block over ``--block-budget`` seconds.

The connection-limit attacks run against a second server started with an open-file limit of
1024 (soft and hard), from other loopback addresses (127.0.0.x) than the canary's.

Exit status 1 if the server crashed, logged a traceback or the canary saw a failure; with
``--strict`` also if any attack did not get the expected answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httptools
from _hardening import (
    CANARY_BOT,
    HOST,
    CanaryProc,
    Outcome,
    RawSession,
    ServerProc,
    Verdict,
    init_wrapped,
    machine,
    print_machine,
    raise_nofile,
)

from loopgram.tl.core import GzipPacked, TLObject

MIB = 1 << 20
ATTACKS = (
    # First: the two that read resident memory, before any bomb leaves freed heap behind.
    "init-connection-strings",
    "inflated-held",
    "gzip-per-object",
    "gzip-in-one-message",
    "gzip-nested",
    "gzip-per-connection",
    "huge-url-entity",
    "many-huge-url-entities",
    "entity-bounds",
    "entity-count",
    "long-names",
    "long-username",
    "keyboard-size",
    "random-id-repeat",
    "invalid-layers",
    "idle-connections",
    "abandoned-key-exchanges",
    "per-address-cap",
    "descriptors-exhausted",
    "botapi-garbage",
    "botapi-huge-bodies",
    "botapi-pipelining-flood",
    "botapi-idle-keep-alive",
    "botapi-slow-headers",
)
MEMORY_ATTACKS = frozenset(
    {
        "gzip-per-object",
        "gzip-in-one-message",
        "gzip-nested",
        "gzip-per-connection",
        "inflated-held",
        "init-connection-strings",
        "huge-url-entity",
        "many-huge-url-entities",
        "idle-connections",
        "abandoned-key-exchanges",
        "botapi-huge-bodies",
        "botapi-pipelining-flood",
        "botapi-idle-keep-alive",
    }
)


class Raw(TLObject):
    """Bytes placed where a TL object goes (a ``gzip_packed`` one, say)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _write(self, o: bytearray) -> None:
        o += self.data


def gz(body: bytes) -> bytes:
    return GzipPacked.pack(body, 9)


def dir_size(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, name))
    return total


def addressed(outcome: Outcome) -> bool:
    """An answer addressed to the message: rpc_error, or bad_msg_notification."""
    return outcome.kind in ("rpc_error", "refused")


@dataclass
class Row:
    name: str
    expected: str
    seen: bool
    detail: str
    rss_before: float
    rss_peak: float
    block_s: float
    warnings: int
    errors: int
    tracebacks: int
    serving: bool
    seconds: float

    def passed(self, rss_budget: float, block_budget: float) -> bool:
        ok = self.seen and self.serving and self.tracebacks == 0
        if self.name in MEMORY_ATTACKS:
            ok = ok and self.rss_peak - self.rss_before <= rss_budget
            ok = ok and self.block_s <= block_budget
        return ok


class Attacker:
    """Logged-in accounts and the raw sessions the attacks use."""

    def __init__(self, server: ServerProc, canary: CanaryProc, args: argparse.Namespace) -> None:
        self.server = server
        self.canary = canary
        self.args = args
        self.port = server.facts["port"]
        self.pem = server.facts["pem"]
        self.user: Any = None
        self.bot: Any = None
        self.key = b""
        self.salt = 0
        self.bot_peer: Any = None

    async def setup(self) -> None:
        from loopgram.client import Client
        from loopgram.tl import types as ty

        self.user = Client(host=HOST, port=self.port, public_key=self.pem)
        await self.user.start(phone="+15557770000", code="12345")
        data = self.user.session.load()
        self.key, self.salt = data.auth_key, data.salt
        bot_user = await self.user.resolve_username(CANARY_BOT)
        self.bot_peer = ty.InputPeerUser(user_id=bot_user.id, access_hash=bot_user.access_hash)
        self.bot_id = bot_user.id
        self.bot = Client(host=HOST, port=self.port, public_key=self.pem)
        await self.bot.start(bot_token=self.server.facts["bot_token"])
        await self.user.send_message(CANARY_BOT, "/start")
        for _ in range(400):
            if self.bot.session.get_peer(self.user.me_id) is not None:
                break
            await asyncio.sleep(0.05)

    async def session(self, local_host: str | None = None) -> RawSession:
        from loopgram.tl.functions import help

        raw = RawSession(self.port, self.key, self.salt, local_host=local_host)
        await raw.open()
        first = await raw.call(init_wrapped(help.GetConfig()), 60)
        if first.kind != "result":
            raise RuntimeError(f"a raw session could not start: {first}")
        return raw

    async def call_once(self, body: bytes, timeout: float) -> Outcome:
        """``body`` sent alone on a fresh raw session (closed after): its outcome."""
        raw = await self.session()
        try:
            return await raw.call(body, timeout)
        finally:
            await raw.close()

    def send_message(self, peer: Any, text: str, entities: list[bytes], random_id: int) -> bytes:
        from loopgram.tl.functions import messages

        return bytes(
            messages.SendMessage(
                peer=peer,
                message=text,
                random_id=random_id,
                entities=[Raw(e) for e in entities] if entities else None,  # type: ignore[misc]
            )
        )

    def gzipped_message(self, copies: int) -> bytes:
        """A message to the bot with ``copies`` big gzipped entities and a fresh random_id."""
        random_id = int.from_bytes(os.urandom(7), "little")
        return self.send_message(self.bot_peer, "x", [big_gzipped_entity()] * copies, random_id)


def url_entity(size: int) -> bytes:
    from loopgram.tl import types as ty

    return bytes(ty.MessageEntityTextUrl(offset=0, length=1, url="a" * size))


_BIG: dict[int, bytes] = {}


def big_gzipped_entity() -> bytes:
    """A ``gzip_packed`` entity inflating to just under 16 MiB (~16 KB on the wire)."""
    if 0 not in _BIG:
        _BIG[0] = gz(url_entity(16 * MIB - 64))
    return _BIG[0]


# -- the attacks ---------------------------------------------------------------------------------

Result = tuple[bool, str]


async def gzip_per_object(a: Attacker) -> Result:
    n = 8 if a.args.short else 64
    body = a.gzipped_message(n)
    got = await a.call_once(body, 120)
    return addressed(got), f"{n} entities of 16 MiB gzipped, {len(body) // 1024} KB: {got}"


async def gzip_in_one_message(a: Attacker) -> Result:
    n = 16 if a.args.short else 96
    body = gz(a.gzipped_message(n))
    got = await a.call_once(body, 120)
    return addressed(got), f"{n} gzipped entities in one outer gzip, {len(body)} B: {got}"


async def gzip_nested(a: Attacker) -> Result:
    from loopgram.tl.functions import help

    body = bytes(help.GetConfig())
    for _ in range(3):
        body = gz(body)
    got = await a.call_once(body, 60)
    return addressed(got), f"gzip(gzip(gzip(help.getConfig))): {got}"


async def gzip_per_connection(a: Attacker) -> Result:
    n = 4 if a.args.short else 16
    raw = await a.session()
    futures = [raw.send(a.gzipped_message(2)) for _ in range(n)]
    try:
        outcomes = await asyncio.wait_for(asyncio.gather(*futures), 180)
    except TimeoutError:
        outcomes = [f.result() if f.done() else Outcome("timeout") for f in futures]
    await raw.close()
    kinds = sorted({str(o) for o in outcomes})
    ok = all(addressed(o) for o in outcomes)
    return ok, f"{n} messages of 2 x 16 MiB gzipped at once on one connection: {kinds}"


async def huge_url_entity(a: Attacker) -> Result:
    raw = await a.session()
    data_dir = a.server.facts["data_dir"]
    before = dir_size(data_dir)
    body = a.gzipped_message(1)
    got = await raw.call(body, 120)
    await asyncio.sleep(0.5)
    grown = (dir_size(data_dir) - before) / MIB
    await raw.close()
    ok = got.kind == "rpc_error" and got.code == 400 and grown < 1
    a.huge_url_refused = ok  # type: ignore[attr-defined]
    return ok, f"one {len(body) // 1024} KB message, a 16 MiB URL: {got}; data dir +{grown:.1f} MB"


async def many_huge_url_entities(a: Attacker) -> Result:
    from loopgram.tl.functions import updates

    # Against a server that stores them, 64 would write a gigabyte: 4 show the failure.
    n = 64 if getattr(a, "huge_url_refused", False) and not a.args.short else 4
    raw = await a.session()
    outcomes = []
    for _ in range(n):
        body = a.gzipped_message(1)
        outcomes.append(await raw.call(body, 120))
    internal = sum(1 for o in outcomes if o.kind == "rpc_error" and (o.code or 0) >= 500)
    # Afterwards: the bot catches up and both sides read their history.
    from loopgram.client import Client

    problems = []
    bot = Client(host=HOST, port=a.port, public_key=a.pem, receive_updates=False)
    try:
        await bot.start(bot_token=a.server.facts["bot_token"])
        await bot.invoke(updates.GetDifference(pts=1, date=1, qts=0))
    except Exception as exc:
        problems.append(f"bot getDifference: {type(exc).__name__}: {exc}")
    try:
        await a.bot.get_history(a.user.me_id, limit=20)
    except Exception as exc:
        problems.append(f"bot history: {type(exc).__name__}: {exc}")
    with contextlib.suppress(Exception):
        await bot.disconnect()
    try:
        await a.user.get_history(CANARY_BOT, limit=20)
    except Exception as exc:
        problems.append(f"user history: {type(exc).__name__}: {exc}")
    await raw.close()
    kinds = sorted({str(o) for o in outcomes})
    ok = internal == 0 and not problems and all(o.kind == "rpc_error" for o in outcomes)
    detail = f"{n} messages with a 16 MiB URL: {kinds}; afterwards: {problems or 'all readable'}"
    return ok, detail


async def entity_bounds(a: Attacker) -> Result:
    from loopgram.tl import types as ty

    body = a.send_message(
        a.bot_peer,
        "hello",
        [bytes(ty.MessageEntityBold(offset=1000, length=10))],
        int.from_bytes(os.urandom(7), "little"),
    )
    got = await a.call_once(body, 60)
    return got.kind == "rpc_error" and got.code == 400, f"bold entity at 1000 in 'hello': {got}"


async def entity_count(a: Attacker) -> Result:
    from loopgram.tl import types as ty
    from loopgram.tl.functions import messages

    entity = ty.MessageEntityBold(offset=0, length=1)
    request = messages.SendMessage(
        peer=a.bot_peer,
        message="x" * 100,
        random_id=int.from_bytes(os.urandom(7), "little"),
        entities=[entity] * 20_000,
    )
    got = await a.call_once(bytes(request), 60)
    ok = got.kind == "rpc_error" and got.code == 400
    detail = f"20 000 entities: {got}"
    if got.kind == "result":
        kept = [
            len(getattr(u.message, "entities", None) or [])
            for u in getattr(request.read_result(got.result), "updates", [])
            if isinstance(getattr(u, "message", None), ty.Message)
        ]
        ok = bool(kept) and max(kept) <= 100
        detail += f", stored with {kept} entities"
    return ok, detail


async def init_connection_strings(a: Attacker) -> Result:
    """900 KB initConnection strings: refused, or not kept whole. Nothing a client can call
    shows them back, so the server's resident memory with many such sessions open tells."""
    import gc

    from loopgram.tl.functions import help

    # Enough that the freed heap a server holds anyway cannot absorb them.
    n = 128
    gc.collect()
    before = await a.server.stats()
    sessions = []
    outcomes = set()
    for i in range(n):
        raw = RawSession(a.port, a.key, a.salt)
        await raw.open()
        # Each one different: equal strings could share one object.
        body = init_wrapped(help.GetConfig(), device_model=f"{i:04d}" + "d" * 900_000)
        outcomes.add(str(await raw.call(body, 60)))
        # A small query next, so that only what the session keeps of the first one counts
        # (not the last request a connection may hold on to).
        await raw.call(bytes(help.GetConfig()), 60)
        sessions.append(raw)
    await asyncio.sleep(1)
    held = await a.server.stats()
    for raw in sessions:
        await raw.close()
    grown = held.get("rss_mb", 0) - before.get("rss_mb", 0)
    budget = n * 0.9 / 4
    ok = all(o.startswith("rpc_error 400") for o in outcomes) or grown < budget
    return ok, (
        f"{n} sessions with a 900 KB device_model, held open: {sorted(outcomes)}; rss +{grown:.0f}"
        f" MB (kept whole would be +{n * 0.9:.0f}; limit +{budget:.0f})"
    )


async def inflated_held(a: Attacker) -> Result:
    """Connections that each sent one small gzip_packed query inflating to ~900 KB, then
    went quiet: what the server holds of it after answering."""
    import gc

    from loopgram.tl.functions import help

    n = 128
    gc.collect()
    before = await a.server.stats()
    sessions = []
    outcomes = set()
    for i in range(n):
        raw = RawSession(a.port, a.key, a.salt)
        await raw.open()
        body = gz(init_wrapped(help.GetConfig(), device_model=f"{i:04d}" + "d" * 900_000))
        outcomes.add(str(await raw.call(body, 60)))
        sessions.append(raw)
    await asyncio.sleep(1)
    held = await a.server.stats()
    for raw in sessions:
        await raw.close()
    grown = held.get("rss_mb", 0) - before.get("rss_mb", 0)
    budget = n * 0.9 / 4
    return grown < budget, (
        f"{n} connections, each one {len(body)} B gzipped query inflating to 900 KB, answered "
        f"{sorted(outcomes)}, then idle: rss +{grown:.0f} MB (all kept would be "
        f"+{n * 0.9:.0f}; limit +{budget:.0f})"
    )


async def long_names(a: Attacker) -> Result:
    from loopgram.client import Client
    from loopgram.tl.functions import auth

    client = Client(host=HOST, port=a.port, public_key=a.pem, receive_updates=False)
    phone = "+15557770009"
    try:
        await client.connect()
        code_hash = await client.send_code(phone)
        request = auth.SignUp(
            phone_number=phone.lstrip("+"),
            phone_code_hash=code_hash,
            first_name="n" * 100_000,
            last_name="l" * 100_000,
        )
        result = await client.invoke(request)
        user = getattr(result, "user", None)
        first = len(getattr(user, "first_name", "") or "")
        last = len(getattr(user, "last_name", "") or "")
        ok = first <= 64 and last <= 64
        detail = f"auth.signUp with 100 000-character names: kept {first} and {last} characters"
    except Exception as exc:
        code = getattr(exc, "code", None)
        ok = code == 400
        detail = f"auth.signUp with 100 000-character names: {code} {getattr(exc, 'message', exc)}"
    finally:
        with contextlib.suppress(Exception):
            await client.disconnect()
    return ok, detail


async def long_username(a: Attacker) -> Result:
    from loopgram.tl.functions import account

    got = await a.call_once(bytes(account.UpdateUsername(username="u" * 10_000)), 60)
    return got.kind == "rpc_error" and got.code == 400, f"10 000-character username: {got}"


async def keyboard_size(a: Attacker) -> Result:
    from loopgram.client import Button

    details = []
    ok = True
    for label, buttons in (
        ("10 000 buttons", [[Button.callback("b", b"x")] * 100 for _ in range(100)]),
        ("1 MB callback data", [[Button.callback("b", b"x" * MIB)]]),
        ("1 MB button label", [[Button.callback("b" * MIB, b"x")]]),
    ):
        try:
            await a.bot.send_message(a.user.me_id, "keyboard", buttons=buttons)
            details.append(f"{label}: accepted")
            ok = False
        except Exception as exc:
            code = getattr(exc, "code", None)
            details.append(f"{label}: {code} {getattr(exc, 'message', exc)}")
            ok = ok and code == 400
    return ok, "; ".join(details)


async def random_id_repeat(a: Attacker) -> Result:
    from loopgram.tl import types as ty
    from loopgram.tl.functions import messages

    raw = await a.session()
    random_id = int.from_bytes(os.urandom(7), "little")
    text = f"once {random_id}"
    request = messages.SendMessage(peer=a.bot_peer, message=text, random_id=random_id)
    first = await raw.call(bytes(request), 60)
    second = await raw.call(bytes(request), 60)

    def message_id(outcome: Outcome) -> int | None:
        if outcome.kind != "result":
            return None
        updates = request.read_result(outcome.result)
        for update in getattr(updates, "updates", []):
            if isinstance(update, ty.UpdateMessageID):
                return update.id
            inner = getattr(update, "message", None)
            if inner is not None and getattr(inner, "id", None):
                return int(inner.id)
        return getattr(updates, "id", None)

    ids = (message_id(first), message_id(second))
    history = await a.user.get_history(CANARY_BOT, limit=50)
    stored = sum(1 for m in history if m.text == text)
    await raw.close()
    ok = stored == 1 and ids[0] is not None and ids[0] == ids[1]
    return ok, f"same random_id twice: answers {first} / {second}, ids {ids}; stored {stored}"


async def invalid_layers(a: Attacker) -> Result:
    from loopgram.tl.functions import help

    n = 1000 if a.args.short else 10_000
    raw = await a.session()
    body = init_wrapped(help.GetConfig(), layer=1)
    outcomes: list[Outcome] = []
    for start in range(0, n, 250):
        futures = [raw.send(body) for _ in range(min(250, n - start))]
        try:
            outcomes += await asyncio.wait_for(asyncio.gather(*futures), 120)
        except TimeoutError:
            outcomes += [f.result() if f.done() else Outcome("timeout") for f in futures]
    await raw.close()
    layer_invalid = sum(
        1 for o in outcomes if o.kind == "rpc_error" and o.message == "CONNECTION_LAYER_INVALID"
    )
    stats = await a.server.stats()
    logged = stats.get("warnings", 0) + stats.get("errors", 0) - a.records_before  # type: ignore[attr-defined]
    ok = layer_invalid == n and logged <= 10
    others = sorted({str(o) for o in outcomes} - {"rpc_error 400 CONNECTION_LAYER_INVALID"})
    detail = f"{n} x invokeWithLayer(1): {layer_invalid} CONNECTION_LAYER_INVALID"
    detail += f" {others}" if others else ""
    return ok, f"{detail}; {logged} log records"


class Idle(asyncio.Protocol):
    def __init__(self) -> None:
        self.lost = False
        self.received = bytearray()

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


async def open_idle(n: int, hosts: list[str], port: int, payload: bytes = b"") -> list[Any]:
    """``n`` connections spread over the source ``hosts``, each sending ``payload``."""
    loop = asyncio.get_running_loop()
    links: list[Any] = []
    failures = 0

    async def one(i: int) -> None:
        nonlocal failures
        try:
            transport, link = await loop.create_connection(
                Idle, HOST, port, local_addr=(hosts[i % len(hosts)], 0)
            )
        except OSError:
            failures += 1
            return
        if payload:
            transport.write(payload)
        links.append((transport, link))

    for start in range(0, n, 200):
        await asyncio.gather(*(one(i) for i in range(start, min(n, start + 200))))
    return links


def close_all(links: list[Any]) -> None:
    for transport, _ in links:
        transport.close()


async def fresh_login(port: int, pem: str, phone: str) -> str:
    from loopgram.client import Client

    client = Client(host=HOST, port=port, public_key=pem, receive_updates=False)
    try:
        await asyncio.wait_for(client.start(phone=phone, code="12345"), 30)
        await asyncio.wait_for(client.get_me(), 30)
        return "ok"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        with contextlib.suppress(Exception):
            await client.disconnect()


async def idle_connections(a: Attacker) -> Result:
    n = 500 if a.args.short else 5000
    hosts = [f"127.0.1.{i}" for i in range(1, 11)]
    links = await open_idle(n, hosts, a.port)
    await asyncio.sleep(2)
    held = sum(1 for _, link in links if not link.lost)
    login = await fresh_login(a.port, a.pem, "+15557770001")
    a.server_stats_during = await a.server.stats()  # type: ignore[attr-defined]
    close_all(links)
    ok = login == "ok"
    return ok, f"{n} idle connections from 10 addresses: {held} held; a new client: {login}"


async def abandoned_key_exchanges(a: Attacker) -> Result:
    from loopgram.tl.mtproto import functions as mf

    n = 200 if a.args.short else 2000
    hosts = [f"127.0.2.{i}" for i in range(1, 1 + max(1, n // 100))]
    body = bytes(mf.ReqPqMulti(nonce=int.from_bytes(os.urandom(16), "little", signed=True)))
    import struct

    message = bytes(8) + struct.pack("<qi", int(time.time() * 2**32) & ~3, len(body)) + body
    payload = b"\xee" * 4 + struct.pack("<I", len(message)) + message
    links = await open_idle(n, hosts, a.port, payload)
    await asyncio.sleep(2)
    answered = sum(1 for _, link in links if link.received)
    stats = await a.server.stats()
    close_all(links)
    probe = await a.handshake_probe  # type: ignore[attr-defined]
    ok = probe.startswith("forgotten")
    return ok, (
        f"{n} exchanges abandoned after resPQ ({answered} answered), rss "
        f"{stats.get('rss_mb', 0):.0f} MB while held; one continued after "
        f"{a.args.probe_wait:g} s: {probe}"
    )


async def handshake_probe(port: int, pem: str, wait: float) -> str:
    """Start a key exchange, leave it ``wait`` seconds after resPQ, then continue it."""
    from loopgram.crypto import RsaPublicKey
    from loopgram.mtproto.client_connection import ClientConnection

    connection = ClientConnection(rsa_keys=[RsaPublicKey.from_pem(pem)])
    connection.start()
    reader, writer = await asyncio.open_connection(HOST, port, local_addr=("127.0.3.1", 0))
    writer.write(connection.data_to_send())
    res_pq = await asyncio.wait_for(reader.read(65536), 30)
    await asyncio.sleep(wait)
    try:
        connection.receive_data(res_pq)
        writer.write(connection.data_to_send())
        answer = await asyncio.wait_for(reader.read(65536), 30)
        if not answer:
            return "forgotten (the server closed the connection)"
        connection.receive_data(answer)
        return "kept: the server went on with the exchange"
    except Exception as exc:
        return f"forgotten ({type(exc).__name__}: {exc})"
    finally:
        writer.close()


async def per_address_cap(a: Attacker) -> Result:
    n = 800
    links = await open_idle(n, ["127.0.4.1"], a.port)
    await asyncio.sleep(2)
    held = sum(1 for _, link in links if not link.lost)
    login = await fresh_login(a.port, a.pem, "+15557770002")
    close_all(links)
    ok = held < n and login == "ok"
    return ok, f"{n} idle connections from one address: {held} held; a new client: {login}"


async def descriptors_exhausted(a: Attacker) -> Result:
    n = 1400
    hosts = [f"127.0.5.{i}" for i in range(1, 15)]
    links = await open_idle(n, hosts, a.port)
    await asyncio.sleep(2)
    held = sum(1 for _, link in links if not link.lost)
    during = await a.server.stats()
    serving = await a.canary.serving(presses=2, timeout=20)
    close_all(links)
    await asyncio.sleep(3)
    login = await fresh_login(a.port, a.pem, "+15557770003")
    ok = held < n and login == "ok" and serving and during.get("fds", 0) <= 1024
    return ok, (
        f"{n} connections from 14 addresses, server open-file limit 1024: {held} held, "
        f"server fds {during.get('fds')}; canary during it: {'served' if serving else 'NOT'}; "
        f"a new client afterwards: {login}"
    )


# -- the Bot API's HTTP port ----------------------------------------------------------------------


def bot_api(a: Attacker) -> tuple[str, int, str]:
    """Host, port and the canary bot's getMe path on the Bot API port."""
    base = urlsplit(a.server.facts["bot_api_url"])
    return base.hostname or HOST, base.port or 80, f"/bot{a.server.facts['bot_token']}/getMe"


def http_get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: loopgram\r\n\r\n".encode()


async def http_statuses(
    host: str, port: int, payload: bytes, count: int, timeout: float = 30.0
) -> tuple[list[int], bool]:
    """``payload`` sent on a fresh connection: the statuses of the first ``count`` answers
    (httptools reads them) and whether the server closed the connection after them."""
    statuses: list[int] = []

    class Answers:
        def on_message_complete(self) -> None:
            statuses.append(parser.get_status_code())

    parser = httptools.HttpResponseParser(Answers())
    reader, writer = await asyncio.open_connection(host, port)
    closed = False
    try:
        writer.write(payload)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        async with asyncio.timeout(timeout):
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    closed = True
                    break
                parser.feed_data(data)
                if len(statuses) >= count:
                    # Whether the server closes after them: EOF, or anything else.
                    closed = not await reader.read(1 << 16)
                    break
    except (TimeoutError, ConnectionError, httptools.HttpParserError):
        pass
    finally:
        writer.close()
    return statuses, closed


async def fresh_get_me(a: Attacker) -> str:
    host, port, path = bot_api(a)
    started = time.perf_counter()
    request = f"GET {path} HTTP/1.1\r\nHost: loopgram\r\nConnection: close\r\n\r\n"
    statuses, _ = await http_statuses(host, port, request.encode(), 1, 30)
    took = time.perf_counter() - started
    return f"ok in {took * 1e3:.0f} ms" if statuses == [200] else f"answers {statuses}"


async def botapi_garbage(a: Attacker) -> Result:
    host, port, path = bot_api(a)
    n = 100 if a.args.short else 1000
    rng = random.Random(13)
    payloads = [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/7.0\r\n\r\n",
        b"GET " + path.encode() + b" HTTP/1.1\r\nNo Colon\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(200),  # a TLS hello
    ]
    payloads += [bytes(rng.randrange(256) for _ in range(300)) for _ in range(n - len(payloads))]
    outcomes = Counter()
    for start in range(0, n, 50):
        got = await asyncio.gather(
            *(http_statuses(host, port, p, 1, 10) for p in payloads[start : start + 50])
        )
        outcomes.update(f"{s[0] if s else 'none'}{' closed' if c else ''}" for s, c in got)
    served = await fresh_get_me(a)
    ok = set(outcomes) == {"400 closed"} and served.startswith("ok")
    return ok, f"{n} garbage requests: {dict(outcomes)}; getMe afterwards {served}"


async def botapi_huge_bodies(a: Attacker) -> Result:
    host, port, path = bot_api(a)
    n = 20 if a.args.short else 100
    declared = (
        f"POST {path} HTTP/1.1\r\nHost: loopgram\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * MIB}\r\n\r\n"
    ).encode() + b"x" * (2 * MIB)
    chunk = b"x" * 65536
    chunked = (
        f"POST {path} HTTP/1.1\r\nHost: loopgram\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode() + (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") * 32
    jobs = [http_statuses(host, port, declared if i % 2 else chunked, 1) for i in range(n)]
    outcomes = Counter(
        f"{s[0] if s else 'none'}{' closed' if c else ''}" for s, c in await asyncio.gather(*jobs)
    )
    stats = await a.server.stats()
    served = await fresh_get_me(a)
    ok = set(outcomes) == {"413 closed"} and served.startswith("ok")
    return ok, (
        f"{n} bodies over the 1 MiB limit (declared 100 MiB, or 2 MiB chunked): "
        f"{dict(outcomes)}; rss {stats.get('rss_mb', 0):.0f} MB; getMe afterwards {served}"
    )


async def botapi_pipelining_flood(a: Attacker) -> Result:
    host, port, path = bot_api(a)
    n = 20_000 if a.args.short else 100_000
    request = http_get(path)
    reader, writer = await asyncio.open_connection(host, port)
    answered = 0

    class Count:
        def on_message_complete(self) -> None:
            nonlocal answered
            answered += 1

    parser = httptools.HttpResponseParser(Count())
    # The whole flood written without reading an answer: the server must stop reading
    # rather than buffer every answer.
    writer.write(request * n)
    await asyncio.sleep(2)
    stats = await a.server.stats()
    served = await fresh_get_me(a)
    try:
        async with asyncio.timeout(120):
            while answered < n:
                data = await reader.read(1 << 16)
                if not data:
                    break
                parser.feed_data(data)
    except TimeoutError:
        pass
    writer.close()
    ok = answered == n and served.startswith("ok")
    return ok, (
        f"{n} pipelined getMe, unread for 2 s: rss {stats.get('rss_mb', 0):.0f} MB meanwhile, "
        f"getMe on another connection {served}; then {answered} answered"
    )


async def botapi_idle_keep_alive(a: Attacker) -> Result:
    _, port, path = bot_api(a)
    n = 500 if a.args.short else 3000
    links = await open_idle(n, [HOST], port, http_get(path))
    await asyncio.sleep(2)
    answered = sum(1 for _, link in links if link.received.startswith(b"HTTP/1.1 200"))
    held = sum(1 for _, link in links if not link.lost)
    stats = await a.server.stats()
    served = await fresh_get_me(a)
    close_all(links)
    ok = answered == n and served.startswith("ok")
    return ok, (
        f"{n} keep-alive connections left idle after a getMe ({answered} answered, {held} "
        f"held), rss {stats.get('rss_mb', 0):.0f} MB; a new one: getMe {served}"
    )


async def botapi_slow_headers(a: Attacker) -> Result:
    from loopgram.botapi.wire import READ_TIMEOUT

    _, port, path = bot_api(a)
    n = 200 if a.args.short else 1000
    head = f"GET {path} HTTP/1.1\r\nHost: loopgram\r\nX-Slow: ".encode()
    links = await open_idle(n, [HOST], port, head)
    served = await fresh_get_me(a)
    # A byte now and then keeps a slowloris connection busy, not idle.
    deadline = time.monotonic() + READ_TIMEOUT + 3
    while time.monotonic() < deadline:
        for transport, link in links:
            if not link.lost:
                transport.write(b"a")
        await asyncio.sleep(2)
    dropped = sum(1 for _, link in links if link.lost)
    close_all(links)
    ok = dropped == n and served.startswith("ok")
    return ok, (
        f"{n} connections sending a header a byte every 2 s: getMe meanwhile {served}; "
        f"{dropped} closed by the server within {READ_TIMEOUT + 3:g} s"
    )


EXPECTED = {
    "gzip-per-object": "an error addressed to the message; memory bounded",
    "gzip-in-one-message": "an error addressed to the message (gzip in gzip)",
    "gzip-nested": "an error addressed to the message (gzip in gzip)",
    "gzip-per-connection": "an error for each; memory bounded per connection",
    "inflated-held": "what a connection inflated is not held once answered",
    "huge-url-entity": "400; data directory does not grow",
    "many-huge-url-entities": "all 400, no 500; bot getDifference and both histories work",
    "entity-bounds": "400",
    "entity-count": "400, or at most 100 entities stored",
    "init-connection-strings": "400, or not kept whole",
    "long-names": "400, or kept within 64 characters",
    "long-username": "400",
    "keyboard-size": "400 for each",
    "random-id-repeat": "one message stored; the repeat answered with it",
    "invalid-layers": "CONNECTION_LAYER_INVALID for each; at most 10 log records",
    "idle-connections": "held within the caps; new clients still served",
    "abandoned-key-exchanges": "memory bounded; forgotten within the opening timeout",
    "per-address-cap": "one address held below its cap; others still served",
    "descriptors-exhausted": "refused over the cap; no log flood; served again afterwards",
    "botapi-garbage": "400 and closed for each; the Bot API still served",
    "botapi-huge-bodies": "413 and closed for each; memory bounded",
    "botapi-pipelining-flood": "reading paused, memory bounded; every request answered",
    "botapi-idle-keep-alive": "all answered and held; new clients still served",
    "botapi-slow-headers": "others served meanwhile; each closed after the read timeout",
}
FUNCTIONS: dict[str, Callable[[Attacker], Awaitable[Result]]] = {
    "gzip-per-object": gzip_per_object,
    "gzip-in-one-message": gzip_in_one_message,
    "gzip-nested": gzip_nested,
    "gzip-per-connection": gzip_per_connection,
    "inflated-held": inflated_held,
    "huge-url-entity": huge_url_entity,
    "many-huge-url-entities": many_huge_url_entities,
    "entity-bounds": entity_bounds,
    "entity-count": entity_count,
    "init-connection-strings": init_connection_strings,
    "long-names": long_names,
    "long-username": long_username,
    "keyboard-size": keyboard_size,
    "random-id-repeat": random_id_repeat,
    "invalid-layers": invalid_layers,
    "idle-connections": idle_connections,
    "abandoned-key-exchanges": abandoned_key_exchanges,
    "per-address-cap": per_address_cap,
    "descriptors-exhausted": descriptors_exhausted,
    "botapi-garbage": botapi_garbage,
    "botapi-huge-bodies": botapi_huge_bodies,
    "botapi-pipelining-flood": botapi_pipelining_flood,
    "botapi-idle-keep-alive": botapi_idle_keep_alive,
    "botapi-slow-headers": botapi_slow_headers,
}
LIMITED = ("per-address-cap", "descriptors-exhausted")


async def measured(a: Attacker, name: str, label: str) -> Row:
    server = a.server
    server.reset_peak()
    before = await server.stats(mark=True)
    a.records_before = before.get("warnings", 0) + before.get("errors", 0)  # type: ignore[attr-defined]
    started = time.perf_counter()
    try:
        seen, detail = await FUNCTIONS[name](a)
    except Exception as exc:
        seen, detail = False, f"the harness failed: {type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    after = await server.stats(mark=True)
    serving = await a.canary.serving(presses=3, timeout=30) if server.alive() else False
    row = Row(
        name=name,
        expected=EXPECTED[name],
        seen=seen,
        detail=detail,
        rss_before=before.get("rss_mb", 0.0),
        rss_peak=max(after.get("peak_rss_mb", 0.0), after.get("rss_mb", 0.0)),
        block_s=after.get("max_block_s", 0.0),
        warnings=after.get("warnings", 0) - before.get("warnings", 0),
        errors=after.get("errors", 0) - before.get("errors", 0),
        tracebacks=after.get("tracebacks", 0) - before.get("tracebacks", 0),
        serving=serving,
        seconds=seconds,
    )
    mark = "pass" if row.passed(a.args.rss_budget, a.args.block_budget) else "FAIL"
    print(
        f"  [{label}] {mark} {name}: {detail}\n"
        f"       rss {row.rss_before:.0f} -> peak {row.rss_peak:.0f} MB, block "
        f"{row.block_s * 1e3:.0f} ms, log +{row.warnings}w/+{row.errors}e/+{row.tracebacks}tb, "
        f"canary {'served' if serving else 'NOT SERVED'}, {seconds:.1f} s",
        flush=True,
    )
    return row


async def campaign(
    work: Path, names: list[str], args: argparse.Namespace, nofile: int | None, label: str
) -> tuple[list[Row], list[str]]:
    """One server and canary, the attacks in ``names``; returns rows and fatal problems."""
    print(f"[{label}] server and canary starting", flush=True)
    server = ServerProc(work, nofile=nofile)
    facts = await server.start()
    canary = CanaryProc(work, facts)
    await canary.start()
    attacker = Attacker(server, canary, args)
    await attacker.setup()
    attacker.handshake_probe = asyncio.create_task(  # type: ignore[attr-defined]
        handshake_probe(facts["port"], facts["pem"], args.probe_wait)
    )
    rows = []
    for name in names:
        rows.append(await measured(attacker, name, label))
        if not server.alive():
            break
    attacker.handshake_probe.cancel()  # type: ignore[attr-defined]
    problems = []
    cstats = await canary.stats()
    final = await server.stats()
    with contextlib.suppress(Exception):
        await attacker.user.disconnect()
        await attacker.bot.disconnect()
    await canary.stop()
    alive = server.alive()
    code = await server.stop()
    if not alive or code != 0:
        problems.append(f"server crashed or did not stop cleanly ({server.crashed or code})")
    if final.get("tracebacks", 0) or server.stderr_tracebacks():
        problems.append(
            f"tracebacks: {final.get('tracebacks', 0)} logged, "
            f"{server.stderr_tracebacks()} on stderr"
        )
    if cstats.get("failures", 0):
        problems.append(f"canary failures: {cstats.get('failures')} {cstats.get('samples')}")
    print(
        f"  [{label}] done: canary {cstats.get('ok', 0)} presses, "
        f"{cstats.get('failures', 0)} failures; server exit {code}; log records "
        f"{final.get('warnings', 0)} warnings, {final.get('errors', 0)} errors"
    )
    for text, count in final.get("top", []):
        print(f"    {count:>6}  {text}")
    return rows, problems


async def run(args: argparse.Namespace) -> int:
    raise_nofile()
    names = list(ATTACKS) if not args.only else args.only.split(",")
    unknown = [n for n in names if n not in FUNCTIONS]
    if unknown:
        print(f"unknown attacks: {unknown}; known: {', '.join(ATTACKS)}")
        return 2
    verdict = Verdict()
    rows: list[Row] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="loopgram-abuse-") as tmp:
        main_names = [n for n in names if n not in LIMITED]
        limited = [n for n in names if n in LIMITED]
        jobs = []
        if main_names:
            jobs.append(campaign(Path(tmp), main_names, args, None, "default limits"))
        if limited:
            work = Path(tmp) / "limited"
            work.mkdir()
            jobs.append(campaign(work, limited, args, 1024, "open-file limit 1024"))
        if args.parallel:
            results = await asyncio.gather(*jobs)
        else:
            results = [await job for job in jobs]
        for got, bad in results:
            rows += got
            problems += bad
    print()
    print(table(rows, args))
    print()
    for problem in problems:
        print(f"  FAIL {problem}")
    verdict.check(not problems, "no crash, no traceback, no canary failure")
    failed = [r.name for r in rows if not r.passed(args.rss_budget, args.block_budget)]
    print(f"  attacks answered as expected: {len(rows) - len(failed)} of {len(rows)}")
    if failed:
        print(f"  not yet: {', '.join(failed)}")
    if args.strict:
        verdict.check(not failed, "every attack answered as expected")
    return 1 if verdict.failures else 0


def table(rows: list[Row], args: argparse.Namespace) -> str:
    lines = [
        "| attack | expected | seen | rss before → peak MB | longest block ms "
        "| log records | canary served | result |",
        "|---|---|---|---:|---:|---|---|---|",
    ]
    for r in rows:
        logs = f"{r.warnings} w, {r.errors} e, {r.tracebacks} tb"
        ok = "pass" if r.passed(args.rss_budget, args.block_budget) else "**FAIL**"
        lines.append(
            f"| {r.name} | {r.expected} | {'yes' if r.seen else '**no**'} "
            f"| {r.rss_before:.0f} → {r.rss_peak:.0f} | {r.block_s * 1e3:.0f} | {logs} "
            f"| {'yes' if r.serving else '**no**'} | {ok} |"
        )
    lines.append("")
    lines += [f"- {r.name}: {r.detail}" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated attack names")
    parser.add_argument("--short", action="store_true", help="the CI version: smaller attacks")
    parser.add_argument("--strict", action="store_true", help="fail on any unexpected answer")
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="run the two servers' attacks at once (default with --short): faster, but the "
        "two campaigns share the CPU",
    )
    parser.add_argument(
        "--rss-budget", type=float, default=256.0, help="MB a memory attack may add"
    )
    parser.add_argument("--block-budget", type=float, default=1.0, help="seconds of loop block")
    parser.add_argument(
        "--probe-wait",
        type=float,
        default=40.0,
        help="seconds a key exchange is left after resPQ before it is continued",
    )
    args = parser.parse_args(argv)
    args.parallel = args.parallel or args.short
    print_machine(machine())
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
