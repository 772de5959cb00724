"""What the hardening harnesses share (``fuzz.py``, ``abuse.py``, ``restart_soak.py``,
``users_soak.py``): a server in a child process that reports on itself, a canary, and a raw
MTProto session that sends bytes the typed client would never send.

- the server child (``python bench/_hardening.py serve``) runs a ``LoopgramServer`` on a
  temporary data directory, counts every logging record at WARNING or above (and the
  tracebacks among them: records with ``exc_info``, or whose text holds one), writes them to
  a log file, and measures how long its event loop was blocked (the lag of a 10 ms timer).
  It answers ``stats`` and ``mark`` on standard input with one JSON line. A traceback
  printed to standard error (outside logging) is counted from the file it goes to;
- the canary child (``python bench/_hardening.py canary``) is a loopgram bot and a loopgram
  user in their own process (so that a harness busy generating frames cannot starve them),
  the user pressing one of the bot's buttons in a loop and checking that each answer names
  that press; every press that raises, times out or gets another press's answer is a
  failure;
- :class:`RawSession` is a session on an auth key that a logged-in client made, over the
  sans-I/O ``ClientConnection``, sending raw TL bodies and reporting what each got back:
  a result, an ``rpc_error``, a ``bad_msg_notification`` -- or nothing.

Harness processes own their children and end them by their handle, never by name.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import importlib.util
import json
import logging
import os
import platform
import random
import resource
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if importlib.util.find_spec("loopgram") is None:  # not installed: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import cpu_model

HOST = "127.0.0.1"
CANARY_BOT = "canarybot"
HERE = Path(__file__).resolve()


# -- machine ------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """What every report starts with (CPU model, load: the machine may be shared)."""
    cpu = cpu_model()
    from loopgram.crypto import get_backend

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": platform.platform(),
        "cpu": f"{cpu}, {os.cpu_count()} logical CPUs",
        "load": f"{load} (1/5/15 min, at start)",
        "aes": get_backend().name,
    }


def print_machine(info: dict[str, str]) -> None:
    for key, value in info.items():
        print(f"{key:<9}{value}")


def raise_nofile() -> int:
    """Raise this process's soft open-file limit to the hard one (many sockets ahead)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- the server child ---------------------------------------------------------------------------


class _Counting(logging.Handler):
    """Counts WARNING+ records, the tracebacks among them, and the most common texts."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.warnings = 0
        self.errors = 0
        self.tracebacks = 0
        self.texts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.errors += 1
        else:
            self.warnings += 1
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        if record.exc_info or record.stack_info or "Traceback (most recent call last)" in text:
            self.tracebacks += 1
        key = f"{record.levelname} {record.name}: {str(record.msg)[:120]}"
        if len(self.texts) < 500 or key in self.texts:
            self.texts[key] += 1


async def _serve(args: argparse.Namespace) -> None:
    from loopgram.node import LoopgramServer
    from loopgram.server import Rate, ServerConfig

    counting = _Counting()
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    root.addHandler(counting)
    file_handler = logging.FileHandler(args.log, encoding="utf-8")
    file_handler.setLevel(logging.WARNING)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(file_handler)
    import threading

    def thread_hook(hook: threading.ExceptHookArgs) -> None:
        counting.tracebacks += 1
        counting.errors += 1
        traceback.print_exception(hook.exc_type, hook.exc_value, hook.exc_traceback)

    threading.excepthook = thread_hook

    config = ServerConfig()
    if args.no_flood:
        config = ServerConfig(flood_default=Rate(per_second=1e9, burst=10**9))
    loop = asyncio.get_running_loop()
    max_block = 0.0
    total_block = 0.0

    async def monitor() -> None:
        nonlocal max_block, total_block
        tick = 0.01
        while True:
            started = loop.time()
            await asyncio.sleep(tick)
            lag = loop.time() - started - tick
            if lag > 0.005:
                total_block += lag
            max_block = max(max_block, lag)

    data_dir = args.data or tempfile.mkdtemp(prefix="loopgram-hardening-")
    async with LoopgramServer(
        data_dir=data_dir, host=HOST, port=args.port, config=config, bot_api_port=0
    ) as server:
        facts = {
            "port": server.port,
            "bot_api_url": server.bot_api_url,
            "pem": server.public_key_pem,
            "bot_token": server.create_bot(CANARY_BOT),
            "data_dir": str(data_dir),
            "pid": os.getpid(),
        }
        watcher = asyncio.create_task(monitor())
        print(json.dumps(facts), flush=True)
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).strip():
            stats = {
                "warnings": counting.warnings,
                "errors": counting.errors,
                "tracebacks": counting.tracebacks,
                "max_block_s": round(max_block, 4),
                "total_block_s": round(total_block, 3),
                "top": counting.texts.most_common(8),
            }
            if line == b"mark":
                max_block = 0.0
                total_block = 0.0
            print(json.dumps(stats), flush=True)
        watcher.cancel()


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS/VmHWM of a process, in kB (empty once it has gone)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def open_fds(pid: int) -> int:
    with contextlib.suppress(OSError):
        return len(os.listdir(f"/proc/{pid}/fd"))
    return -1


class ServerProc:
    """The server child, driven from a harness's event loop."""

    def __init__(self, work: Path, *, nofile: int | None = None, no_flood: bool = False) -> None:
        self.work = work
        self.log = work / "server-warnings.log"
        self.stderr_path = work / "server-stderr.log"
        self.nofile = nofile
        self.no_flood = no_flood
        self.proc: asyncio.subprocess.Process | None = None
        self.facts: dict[str, Any] = {}
        self.crashed: str | None = None

    async def start(self) -> dict[str, Any]:
        data = self.work / "server-data"
        args = [sys.executable, str(HERE), "serve", "--log", str(self.log), "--data", str(data)]
        if self.no_flood:
            args.append("--no-flood")
        nofile = self.nofile

        def limit() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self._stderr = self.stderr_path.open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._stderr,
            preexec_fn=limit,
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 120)
        if not line:
            raise RuntimeError(f"the server did not start: {self.stderr_path.read_text()[-2000:]}")
        self.facts = json.loads(line)
        return self.facts

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def stats(self, mark: bool = False) -> dict[str, Any]:
        """The server's counters (``mark``: and restart its block-time window)."""
        if not self.alive():
            return {"dead": True}
        assert self.proc is not None and self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(b"mark\n" if mark else b"stats\n")
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), 120)
        if not line:
            return {"dead": True}
        stats: dict[str, Any] = json.loads(line)
        status = proc_status(self.pid)
        stats["rss_mb"] = status.get("VmRSS", 0) / 1024
        stats["peak_rss_mb"] = status.get("VmHWM", 0) / 1024
        stats["fds"] = open_fds(self.pid)
        return stats

    def reset_peak(self) -> None:
        """Start a new peak-RSS window (``VmHWM``), where the kernel allows it."""
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def stderr_tracebacks(self) -> int:
        if not self._stderr.closed:
            self._stderr.flush()
        text = self.stderr_path.read_text(errors="replace")
        return text.count("Traceback (most recent call last)")

    async def stop(self) -> int | None:
        """Ends the server (EOF on its stdin); returns its exit code, None if it had to be
        killed. Records a crash if it had exited before."""
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is not None:
            self.crashed = f"exited with {proc.returncode} before the end"
            return proc.returncode
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            return await asyncio.wait_for(proc.wait(), 60)
        except TimeoutError:
            proc.kill()  # our own child, by its handle
            await proc.wait()
            self.crashed = "did not stop within 60 s"
            return None
        finally:
            self._stderr.close()


# -- the canary -----------------------------------------------------------------------------------


async def _canary(args: argparse.Namespace) -> None:
    from loopgram.client import Button, CallbackQuery, Client, Message

    logging.basicConfig(level=logging.ERROR)
    pem = Path(args.pem).read_text()
    bot = Client(host=HOST, port=args.port, public_key=pem)
    user = Client(host=HOST, port=args.port, public_key=pem)
    await bot.start(bot_token=args.token)

    @bot.on_callback_query()
    async def answer(query: CallbackQuery) -> None:
        data = (query.data or b"").decode(errors="replace")
        await query.answer(f"{query.user_id}:{query.msg_id}:{data}", cache_time=0)

    inbox: asyncio.Queue[Message] = asyncio.Queue()

    @user.on_message()
    async def record(message: Message) -> None:
        if not message.out and message.buttons:
            await inbox.put(message)

    await user.start(phone=f"+1555999{random.randrange(10**4):04d}", code="12345")
    await user.send_message(CANARY_BOT, "/start")
    while bot.session.get_peer(user.me_id) is None:
        await asyncio.sleep(0.05)
    row = [Button.callback(str(i), f"c{i}") for i in range(8)]
    sent = await bot.send_message(user.me_id, "canary", buttons=[row])
    bot_msg_id = sent.id  # message ids are per side in a private chat
    message = await asyncio.wait_for(inbox.get(), 30)

    ok = failures = 0
    mark_ok = mark_fail = 0
    samples: list[str] = []
    max_latency = 0.0
    latencies: list[float] = []

    async def press_loop() -> None:
        nonlocal ok, failures, mark_ok, mark_fail, max_latency
        while True:
            i = random.randrange(8)
            expected = f"{user.me_id}:{bot_msg_id}:c{i}"
            started = time.perf_counter()
            problem = None
            try:
                got = await asyncio.wait_for(message.press(0, i), args.timeout)
                if got.message != expected:
                    problem = f"answer {got.message!r} for press {expected!r}"
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            latency = time.perf_counter() - started
            if problem is None:
                ok += 1
                mark_ok += 1
                max_latency = max(max_latency, latency)
                latencies.append(latency)
                if len(latencies) > 10_000:
                    del latencies[:5000]
            else:
                failures += 1
                mark_fail += 1
                if len(samples) < 20:
                    samples.append(f"{time.strftime('%H:%M:%S')} {problem}"[:300])
            await asyncio.sleep(args.interval)

    task = asyncio.create_task(press_loop())
    print(json.dumps({"ready": True}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).strip():
        ordered = sorted(latencies) or [0.0]
        print(
            json.dumps(
                {
                    "ok": ok,
                    "failures": failures,
                    "since_mark_ok": mark_ok,
                    "since_mark_failures": mark_fail,
                    "max_latency_s": round(max_latency, 3),
                    "p50_ms": round(ordered[len(ordered) // 2] * 1e3, 2),
                    "samples": samples,
                }
            ),
            flush=True,
        )
        if line == b"mark":
            mark_ok = mark_fail = 0
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
    with contextlib.suppress(Exception):
        await user.disconnect()
        await bot.disconnect()


class CanaryProc:
    """The canary child: a bot and a user pressing, reporting on request."""

    def __init__(self, work: Path, facts: dict[str, Any], interval: float = 0.05) -> None:
        self.work = work
        self.facts = facts
        self.interval = interval
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        pem = self.work / "server.pem"
        pem.write_text(self.facts["pem"])
        self._stderr = (self.work / "canary-stderr.log").open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE),
            "canary",
            "--port",
            str(self.facts["port"]),
            "--pem",
            str(pem),
            "--token",
            self.facts["bot_token"],
            "--interval",
            str(self.interval),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._stderr,
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 120)
        if not line:
            raise RuntimeError("the canary did not start: see canary-stderr.log")

    async def stats(self, mark: bool = False) -> dict[str, Any]:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return {"dead": True, "ok": 0, "failures": 1, "samples": ["canary process ended"]}
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"mark\n" if mark else b"stats\n")
        await proc.stdin.drain()
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        if not line:
            return {"dead": True, "ok": 0, "failures": 1, "samples": ["canary process ended"]}
        result: dict[str, Any] = json.loads(line)
        return result

    async def serving(self, presses: int = 3, timeout: float = 30.0) -> bool:
        """Whether the canary gets ``presses`` good answers after this call (within
        ``timeout`` seconds)."""
        await self.stats(mark=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            stats = await self.stats()
            if stats.get("dead"):
                return False
            if stats["since_mark_ok"] >= presses:
                return True
        return False

    async def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()  # our own child, by its handle
                await proc.wait()
        self._stderr.close()


# -- a raw session --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one raw message got back."""

    kind: str
    """``result``, ``rpc_error``, ``refused`` (bad_msg_notification, or an undecodable
    result), ``closed`` (the server closed the connection) or ``timeout``."""
    code: int | None = None
    message: str = ""
    result: bytes = b""
    seconds: float = 0.0

    def __str__(self) -> str:
        if self.kind == "rpc_error":
            return f"rpc_error {self.code} {self.message}"
        if self.kind == "refused":
            return f"refused ({self.message})"
        if self.kind == "result":
            return f"result ({len(self.result)} bytes)"
        return f"{self.kind} {self.message}".strip()


def raw_call(body: bytes) -> Any:
    """A TL function whose serialised form is ``body`` and whose result is kept as bytes."""
    from loopgram.tl.core import Reader, TLFunction

    class RawCall(TLFunction[bytes]):
        __slots__ = ("body",)
        TL_NAME = "raw"

        def __init__(self, body: bytes) -> None:
            self.body = body

        def _write(self, o: bytearray) -> None:
            o += self.body

        def _read_result(self, r: Reader) -> bytes:
            data = bytes(r.data[r.pos :])
            r.pos = len(r.data)
            return data

    return RawCall(body)


def init_wrapped(query: Any, *, layer: int = 229, device_model: str = "hardening") -> bytes:
    """``invokeWithLayer(initConnection(query))``, as the first call of a session."""
    from loopgram.tl import functions as fn

    return bytes(
        fn.InvokeWithLayer(
            layer=layer,
            query=fn.InitConnection(
                api_id=1,
                device_model=device_model,
                system_version="bench",
                app_version="1.0",
                system_lang_code="en",
                lang_pack="",
                lang_code="en",
                query=query,
            ),
        )
    )


class RawSession:
    """A new session on an existing auth key, over one TCP connection, that sends raw bodies
    and waits for what each one gets back."""

    def __init__(
        self, port: int, auth_key: bytes, salt: int, *, local_host: str | None = None
    ) -> None:
        from loopgram.crypto import AuthKey
        from loopgram.mtproto.client_connection import ClientConnection

        self.port = port
        self.local_host = local_host
        self.connection = ClientConnection(
            auth_key=AuthKey(auth_key), salt=salt, gzip_threshold=1 << 30
        )
        self.connection.start()
        self.waiters: dict[int, asyncio.Future[Outcome]] = {}
        self.closed = ""
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        local = (self.local_host, 0) if self.local_host else None
        reader, writer = await asyncio.open_connection(HOST, self.port, local_addr=local)
        self._writer = writer
        self._task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        from loopgram.mtproto.events import RequestFailed, ResultReceived

        try:
            while data := await reader.read(1 << 16):
                events = self.connection.receive_data(data)
                for event in events:
                    if type(event) is ResultReceived:
                        if event.error is not None:
                            outcome = Outcome(
                                "rpc_error", event.error.error_code, event.error.error_message
                            )
                        else:
                            outcome = Outcome("result", result=event.result)
                        self._resolve(event.msg_id, outcome)
                    elif type(event) is RequestFailed:
                        self._resolve(
                            event.msg_id, Outcome("refused", event.error_code, event.reason)
                        )
                self._flush()
            self.closed = "closed by the server"
        except Exception as exc:
            self.closed = f"{type(exc).__name__}: {exc}"
        for waiter in self.waiters.values():
            if not waiter.done():
                waiter.set_result(Outcome("closed", message=self.closed))
        self.waiters.clear()

    def _resolve(self, msg_id: int, outcome: Outcome) -> None:
        waiter = self.waiters.pop(msg_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(outcome)

    def _flush(self) -> None:
        data = self.connection.data_to_send(flush_acks=True)
        if data and self._writer is not None and not self._writer.is_closing():
            self._writer.write(data)

    def send(self, body: bytes) -> asyncio.Future[Outcome]:
        """Queue one raw message; the future resolves with what it got back."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        if self.closed:
            future.set_result(Outcome("closed", message=self.closed))
            return future
        msg_id = self.connection.send_request(raw_call(body))
        self.waiters[msg_id] = future
        self._flush()
        return future

    async def call(self, body: bytes, timeout: float = 30.0) -> Outcome:
        started = time.perf_counter()
        future = self.send(body)
        try:
            outcome = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            outcome = Outcome("timeout", message=f"no answer in {timeout:g} s")
        outcome.seconds = time.perf_counter() - started
        return outcome

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


@dataclass
class Verdict:
    """The pass/fail lines of a harness, printed at the end and turned into an exit code."""

    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            self.failures.append(what)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="hardening harness children")
    sub = parser.add_subparsers(dest="role", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("--log", required=True)
    serve.add_argument("--data")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--no-flood", action="store_true")
    canary = sub.add_parser("canary")
    canary.add_argument("--port", type=int, required=True)
    canary.add_argument("--pem", required=True)
    canary.add_argument("--token", required=True)
    canary.add_argument("--interval", type=float, default=0.05)
    canary.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.role == "serve":
        asyncio.run(_serve(args))
        os._exit(0)  # pool refills may still run in worker threads
    asyncio.run(_canary(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
