"""Testing: a small cluster of real ``loopgram serve`` processes on PostgreSQL and Redis.

:class:`ServerCluster` starts ``size`` (3 by default) identical server processes sharing one
throwaway PostgreSQL schema (durable state) and one Redis key prefix (pending calls, update
fan-out), each listening on its own free port below 32768 (as ``loopgram serve --port 0``
picks). Clients connect to any node; :meth:`ClusterNode.kill` ends one with ``SIGKILL``, the
fault a crash or an OOM kill is::

    with ServerCluster() as cluster:
        token = cluster.create_bot("examplebot")
        bot = telethon_client(cluster.nodes[0])     # a node has port and public_key_pem
        user = telethon_client(cluster.nodes[1])
        ...
        cluster.nodes[1].kill()                     # kill -9

The database and Redis come from ``LOOPGRAM_TEST_POSTGRES`` and ``LOOPGRAM_TEST_REDIS``
(``.ci/run`` starts both); without them :meth:`ServerCluster.start` raises
:class:`~loopgram.testing.postgres.MissingService`, which the pytest fixture turns into a
failure, never a skip. At :meth:`ServerCluster.stop` the surviving processes get
``SIGTERM`` (a clean shutdown), then the schema is dropped and the prefix's keys deleted.
Each node's output is kept in a file (:attr:`ClusterNode.log`) for the report of a failure.

:class:`RedisProcess` is a ``redis-server`` of a test's own, on a free port, for the faults
of Redis: kill it (``kill -9``) and start it again on the same port while the cluster runs::

    with RedisProcess() as redis, ServerCluster(2, redis=redis.url) as cluster:
        ...
        redis.kill()
        ...                                         # calls made now fail, none hangs
        redis.start()
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Final

from loopgram.testing.postgres import (
    REDIS_ENV,
    MissingService,
    free_loopback_port,
    postgres_url,
    with_schema,
)

__all__ = [
    "ClusterNode",
    "RedisProcess",
    "ServerCluster",
    "redis_url",
    "serve_command",
    "spawn_node",
]

START_TIMEOUT: Final = 60.0
"""Seconds a node may take to listen: an interpreter start, the server stack's import and,
for the first node, the schema's migrations, on a machine that may be loaded."""

STOP_TIMEOUT: Final = 20.0


def redis_url() -> str:
    """The test Redis's URL; ``MissingService`` when ``LOOPGRAM_TEST_REDIS`` is not set."""
    url = os.environ.get(REDIS_ENV, "").strip()
    if not url:
        raise MissingService(
            f"{REDIS_ENV} is not set: a cluster needs Redis, e.g. "
            f"{REDIS_ENV}=redis://127.0.0.1:6379/0 (.ci/services.sh starts one)"
        )
    return url


class ClusterNode:
    """One ``loopgram serve`` process of a :class:`ServerCluster`."""

    def __init__(self, index: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.index = index
        self.process = process
        self.log = log
        """The file holding what the process printed (stdout and stderr)."""
        self.host = "127.0.0.1"
        self.port = 0
        self.public_key_pem = ""
        self.fingerprint = 0
        self.bot_api_url = ""
        """The node's Bot API base URL (``{bot_api_url}/bot<token>/<method>``)."""

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """``kill -9``: no shutdown of any kind (connections cut, nothing flushed)."""
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)

    def terminate(self, timeout: float = STOP_TIMEOUT) -> None:
        """``SIGTERM``, the clean shutdown ``loopgram serve`` does on it; ``SIGKILL`` if it
        has not ended within ``timeout``."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        self._wait_or_kill(timeout)

    def _wait_or_kill(self, timeout: float) -> None:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def wait_listening(self, deadline: float) -> None:
        """Until the process printed its facts (``serve`` prints them once it accepts)."""
        while True:
            text = self.output()
            facts = _facts(text)
            if facts is not None:
                self.host, port, self.bot_api_url, self.public_key_pem, self.fingerprint = facts
                self.port = int(port)
                return
            if not self.alive:
                raise RuntimeError(
                    f"cluster node {self.index} exited with status {self.process.returncode} "
                    f"before listening:\n{text}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster node {self.index} did not listen in time:\n{text}")
            time.sleep(0.05)

    def __repr__(self) -> str:
        state = "alive" if self.alive else f"ended {self.process.returncode}"
        return f"<ClusterNode {self.index} {self.host}:{self.port} pid {self.pid} {state}>"


_FACTS: Final = ("host", "port", "fingerprint", "bot api")


def _facts(text: str) -> tuple[str, str, str, str, int] | None:
    """Host, port, Bot API URL, public key and fingerprint from ``serve``'s startup block,
    once complete."""
    fields: dict[str, str] = {}
    lines = text.splitlines()
    for number, line in enumerate(lines):
        name, sep, value = line.partition(": ")
        if sep and name in _FACTS and name not in fields:
            fields[name] = value.strip()
        if line == "public key:":
            pem: list[str] = []
            for rest in lines[number + 1 :]:
                pem.append(rest)
                if rest.startswith("-----END"):
                    if len(fields) < len(_FACTS):
                        return None
                    fingerprint = int(fields["fingerprint"].split()[0])
                    key = "\n".join(pem) + "\n"
                    return fields["host"], fields["port"], fields["bot api"], key, fingerprint
            return None
    return None


def serve_command() -> list[str]:
    """The command line before ``serve``'s options: this interpreter running loopgram's CLI."""
    return [sys.executable, "-m", "loopgram.cli", "serve"]


def spawn_node(index: int, serve_args: Sequence[str], log: Path) -> ClusterNode:
    """Start ``loopgram serve *serve_args`` (its output into ``log``) without waiting for it:
    call :meth:`ClusterNode.wait_listening` next. ``serve_args`` should pick ``--port 0``
    and ``--bot-api-port 0`` when several run on one machine."""
    with log.open("wb") as out:
        # The child keeps its own copy of the descriptor: the file stays written to.
        process = subprocess.Popen(
            [*serve_command(), *serve_args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return ClusterNode(index, process, log)


class ServerCluster:
    """``size`` ``loopgram serve`` processes on one PostgreSQL schema and one Redis prefix.

    ``answer_timeout`` is the callback-answer window of every node (seconds; the server's
    default when ``None``). ``extra_args`` go to each ``loopgram serve``. ``postgres`` and
    ``redis`` default to the test services' variables.
    """

    def __init__(
        self,
        size: int = 3,
        *,
        postgres: str | None = None,
        redis: str | None = None,
        answer_timeout: float | None = None,
        extra_args: Sequence[str] = (),
        log_level: str = "WARNING",
    ) -> None:
        if size < 1:
            raise ValueError("a cluster has at least one node")
        self.size = size
        self._postgres = postgres
        self._redis = redis
        self.answer_timeout = answer_timeout
        self.extra_args = tuple(extra_args)
        self.log_level = log_level
        self.schema = f"lgcluster_{secrets.token_hex(6)}"
        self.redis_prefix = f"loopgram-cluster:{secrets.token_hex(8)}:"
        self.storage_url = ""
        self.redis_url = ""
        self.nodes: list[ClusterNode] = []
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> ServerCluster:
        """Start the nodes and wait until each accepts connections. The first starts alone
        (it creates and migrates the schema and makes the RSA key), the others together."""
        if self._started:
            raise RuntimeError("the cluster is already started")
        base = self._postgres if self._postgres is not None else postgres_url()
        self.redis_url = self._redis if self._redis is not None else redis_url()
        self.storage_url = with_schema(base, self.schema)
        self._dir = tempfile.TemporaryDirectory(prefix="loopgram-cluster-")
        self._started = True
        try:
            first = self._spawn(0)
            first.wait_listening(time.monotonic() + timeout)
            rest = [self._spawn(i) for i in range(1, self.size)]
            deadline = time.monotonic() + timeout
            for node in rest:
                node.wait_listening(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, index: int) -> ClusterNode:
        assert self._dir is not None  # start() made it first
        log = Path(self._dir.name) / f"node{index}.log"
        data = Path(self._dir.name) / f"node{index}"
        command = [
            "--storage",
            self.storage_url,
            "--redis",
            self.redis_url,
            "--redis-prefix",
            self.redis_prefix,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data",
            str(data),
            # Each node serves the Bot API on a free port of its own (its default, 8081,
            # can be bound once per machine).
            "--bot-api-port",
            "0",
            "--log-level",
            self.log_level,
        ]
        if self.answer_timeout is not None:
            command += ["--answer-timeout", repr(self.answer_timeout)]
        command += self.extra_args
        node = spawn_node(index, command, log)
        self.nodes.append(node)
        return node

    def stop(self) -> None:
        """``SIGTERM`` to every node still running (all at once, then wait for each), then
        drop the schema and the prefix's keys."""
        if not self._started:
            return
        self._started = False
        for node in self.nodes:
            if node.alive:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            node._wait_or_kill(STOP_TIMEOUT)
        try:
            self._drop_schema()
        finally:
            self._drop_keys()
            if self._dir is not None:
                self._dir.cleanup()
                self._dir = None

    def _drop_schema(self) -> None:
        if not self.storage_url:
            return
        import psycopg
        from psycopg import sql

        from loopgram.storage.postgres import split_url

        conninfo, _ = split_url(self.storage_url)
        with psycopg.connect(conninfo, autocommit=True) as pg:
            pg.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))
            )

    def _drop_keys(self) -> None:
        if not self.redis_url:
            return
        from redis import Redis

        client = Redis.from_url(self.redis_url)
        try:
            keys = list(client.scan_iter(match=f"{self.redis_prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()

    def __enter__(self) -> ServerCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- accounts and facts -------------------------------------------------------------------

    @property
    def alive(self) -> list[ClusterNode]:
        return [node for node in self.nodes if node.alive]

    def create_bot(self, username: str, first_name: str | None = None) -> str:
        """A new bot in the shared database (as ``loopgram bot create --storage``); its
        token. Any node serves it at once."""
        from loopgram.node import remember_bot_token
        from loopgram.server import ServerCore
        from loopgram.storage import open_storage

        storage = open_storage(self.storage_url)
        try:
            credentials = ServerCore(storage).create_bot(username, first_name)
            remember_bot_token(storage, credentials.token)
        finally:
            storage.close()
        return credentials.token

    def output(self) -> str:
        """Every node's output, one section each (for the report of a failure)."""
        return "\n".join(f"--- node {n.index} ({n!r})\n{n.output()}" for n in self.nodes)


class RedisProcess:
    """A ``redis-server`` of one test: on a free loopback port, without persistence (a
    restart loses every key, as a Redis replaced by a new one would)."""

    def __init__(self, executable: str = "redis-server") -> None:
        found = shutil.which(executable)
        if found is None:
            raise MissingService(f"{executable} is not installed (Debian: redis-server)")
        self.executable = found
        self.port = free_loopback_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10.0) -> RedisProcess:
        """Start it (again, on the same port) and wait until it answers."""
        if self.alive:
            raise RuntimeError("this redis-server runs already")
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if not self.alive or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def kill(self) -> None:
        """``kill -9``: every connection to it drops at once."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def __enter__(self) -> RedisProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
