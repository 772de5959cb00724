"""Testing: a throwaway PostgreSQL schema per test, for loopgram's suites and users' own.

The database comes from ``LOOPGRAM_TEST_POSTGRES`` (a libpq URL whose role may create
schemas, e.g. ``postgresql://loopgram:loopgram@127.0.0.1:5432/loopgram_test``; ``.ci/run``
starts PostgreSQL and exports it). Each test gets a fresh schema, dropped afterwards: far
faster than a database per test, and tests running at once never see each other's rows.
Without the variable a test that needs PostgreSQL fails, naming it: it never skips.

Fault tests must not stop the shared server: ``PostgresServer`` runs a private, throwaway
PostgreSQL cluster from the installed binaries (``initdb``, ``pg_ctl``) that a test may stop
and start again at will.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

POSTGRES_ENV: Final = "LOOPGRAM_TEST_POSTGRES"
REDIS_ENV: Final = "LOOPGRAM_TEST_REDIS"


class MissingService(RuntimeError):
    """A test needs a server that the environment does not name."""


def postgres_url() -> str:
    """The test database's URL; ``MissingService`` when the variable is not set."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        raise MissingService(
            f"{POSTGRES_ENV} is not set: these tests need PostgreSQL, e.g. "
            f"{POSTGRES_ENV}=postgresql://loopgram:loopgram@127.0.0.1:5432/loopgram_test "
            "(.ci/services.sh starts one from the Debian packages and prints the exports)"
        )
    return url


def require_postgres_url() -> str:
    """``postgres_url()`` inside a test: a missing variable fails the test with the message
    (a test that needs PostgreSQL never skips)."""
    import pytest

    try:
        return postgres_url()
    except MissingService as e:
        message = str(e)
    pytest.fail(message, pytrace=False)


def with_schema(url: str, schema: str) -> str:
    """``url`` naming ``schema`` (loopgram's ``schema`` query parameter)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("schema", schema)])))


@contextmanager
def postgres_schema(url: str | None = None, *, prefix: str = "lgtest") -> Iterator[str]:
    """A URL naming a new, empty schema, dropped with everything in it at exit.

    The schema is created by whichever storage opens it first; this only picks a name
    nobody uses and cleans up.
    """
    import psycopg
    from psycopg import sql

    from loopgram.storage.postgres import split_url

    base = postgres_url() if url is None else url
    schema = f"{prefix}_{secrets.token_hex(6)}"
    conninfo, _ = split_url(base)
    try:
        yield with_schema(base, schema)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as pg:
            pg.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


class SchemaPool:
    """Schemas reused by test after test, emptied in between: a fresh schema costs its
    migrations (about a second of DDL), emptying a used one a few deletes.

    ``lease()`` gives a URL naming a schema no other test holds; a storage opened on it
    finds the schema migrated (after its first test) and empty. ``close()`` drops them all.
    Tests that need a schema never migrated use ``postgres_schema`` instead.
    """

    def __init__(self, url: str | None = None, *, prefix: str = "lgpool") -> None:
        self._url = postgres_url() if url is None else url
        self._prefix = prefix
        self._free: list[str] = []
        self._all: list[str] = []

    @contextmanager
    def lease(self) -> Iterator[str]:
        if self._free:
            schema = self._free.pop()
        else:
            schema = f"{self._prefix}_{secrets.token_hex(6)}"
            self._all.append(schema)
        try:
            yield with_schema(self._url, schema)
        finally:
            self._empty(schema)
            self._free.append(schema)

    def _empty(self, schema: str) -> None:
        import graphlib

        import psycopg
        from psycopg import sql

        from loopgram.storage.postgres import split_url

        conninfo, _ = split_url(self._url)
        with psycopg.connect(conninfo, autocommit=True) as pg:
            tables = [
                r[0]
                for r in pg.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s "
                    "AND tablename <> 'schema_migrations'",
                    (schema,),
                )
            ]
            # Rows referring to others go first: a delete never trips a foreign key.
            referrers: dict[str, set[str]] = {t: set() for t in tables}
            for child, parent in pg.execute(
                "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text "
                "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE c.contype = 'f' AND n.nspname = %s",
                (schema,),
            ):
                parent_name, child_name = parent.split(".")[-1], child.split(".")[-1]
                if parent_name != child_name and parent_name in referrers:
                    referrers[parent_name].add(child_name)
            order = list(graphlib.TopologicalSorter(referrers).static_order())
            statements = [
                sql.SQL("DELETE FROM {}").format(sql.Identifier(schema, t)) for t in order
            ]
            # Identity columns count from the start again, as in a new schema.
            for (sequence,) in pg.execute(
                "SELECT pg_get_serial_sequence(format('%%I.%%I', %s::text, c.relname), a.attname) "
                "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND a.attidentity <> ''",
                (schema, schema),
            ).fetchall():
                statements.append(sql.SQL("SELECT setval({}, 1, false)").format(sequence))
            if statements:
                pg.execute(sql.SQL("; ").join(statements))

    def close(self) -> None:
        import psycopg
        from psycopg import sql

        from loopgram.storage.postgres import split_url

        conninfo, _ = split_url(self._url)
        with psycopg.connect(conninfo, autocommit=True) as pg:
            for schema in self._all:
                pg.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
        self._all.clear()
        self._free.clear()


# -- a private server ------------------------------------------------------------------------

_SERVER_USER: Final = "postgres"
"""Who runs a private server when the tests run as root (PostgreSQL refuses root)."""


def postgres_bindir() -> Path:
    """Where ``initdb``, ``pg_ctl`` and ``postgres`` are: ``pg_config --bindir``, else the
    newest ``/usr/lib/postgresql/*/bin`` (Debian keeps them off the ``PATH``), else the
    ``PATH``. ``MissingService`` when none has them."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))

    def major(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in path.parent.name.split(".") if p.isdigit())

    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=major, reverse=True))
    initdb = shutil.which("initdb")
    if initdb is not None:
        candidates.append(Path(initdb).parent)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise MissingService(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found: install the "
        "postgresql package (.ci/services.sh does)"
    )


def free_loopback_port() -> int:
    """A port free on loopback now (the OS's pick; nothing holds it afterwards)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresServer:
    """A PostgreSQL cluster of its own in a temporary directory, on a free loopback port,
    for tests that stop and restart the database (the shared one must stay up).

    ``url`` names its ``postgres`` database as the superuser ``loopgram`` (trust
    authentication, loopback only). ``stop()`` shuts it down (``mode`` as ``pg_ctl``'s:
    ``fast`` ends the sessions, ``immediate`` is a crash), ``start()`` starts it again on
    the same port with the same data. Made by ``start()`` of a new instance; ``close()``
    stops it and removes the directory. Run as root, the server runs as the ``postgres``
    user. Without the binaries ``MissingService`` (a test then fails, never skips).
    """

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = postgres_bindir() if bindir is None else bindir
        self.port = free_loopback_port()
        self.directory = Path(tempfile.mkdtemp(prefix="loopgram-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        self.running = False
        self._user: str | None = None
        if os.geteuid() == 0:
            import pwd

            self._user = _SERVER_USER
            entry = pwd.getpwnam(_SERVER_USER)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "loopgram", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql://loopgram@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        out = subprocess.run(command, capture_output=True, text=True)
        if out.returncode != 0:
            log = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{tool} failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}"
                + (f"\n{log}" if log else "")
            )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c full_page_writes=off -c max_connections=50"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "-t", "60", "start")  # fmt: skip
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"not a pg_ctl shutdown mode: {mode!r}")
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        self.running = False

    def close(self) -> None:
        try:
            if self.running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def postgres_server(server: PostgresServer | None = None) -> Iterator[PostgresServer]:
    """``server`` (by default a new ``PostgresServer``) started, and removed at exit."""
    if server is None:
        server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


def require_postgres_server() -> PostgresServer:
    """A new, not yet started ``PostgresServer`` inside a test: missing binaries fail the
    test with the message."""
    import pytest

    try:
        return PostgresServer()
    except MissingService as e:
        message = str(e)
    pytest.fail(message, pytrace=False)


__all__ = [
    "POSTGRES_ENV",
    "REDIS_ENV",
    "MissingService",
    "PostgresServer",
    "SchemaPool",
    "postgres_bindir",
    "postgres_schema",
    "postgres_server",
    "postgres_url",
    "require_postgres_server",
    "require_postgres_url",
    "with_schema",
]
