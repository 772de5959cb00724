"""Testing: a throwaway PostgreSQL schema per test, for loopgram's suites and users' own.

The database comes from ``LOOPGRAM_TEST_POSTGRES`` (a libpq URL whose role may create
schemas, e.g. ``postgresql://loopgram:loopgram@127.0.0.1:5432/loopgram_test``; ``.ci/run``
starts PostgreSQL and exports it). Each test gets a fresh schema, dropped afterwards: far
faster than a database per test, and tests running at once never see each other's rows.
Without the variable a test that needs PostgreSQL fails, naming it: it never skips.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
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


__all__ = [
    "POSTGRES_ENV",
    "REDIS_ENV",
    "MissingService",
    "SchemaPool",
    "postgres_schema",
    "postgres_url",
    "require_postgres_url",
    "with_schema",
]
