"""Storage layer: ``open_storage`` picks the backend a URL or path names."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopgram.storage import (
    DB_FILENAME,
    MemoryStorage,
    SqliteStorage,
    StorageError,
    open_storage,
)


@pytest.mark.parametrize("url", ["memory:", "memory://", ":memory:"])
def test_memory(url: str) -> None:
    with open_storage(url) as s:
        assert isinstance(s, MemoryStorage)


def test_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "nested" / "data"
    with open_storage(data) as s:
        assert isinstance(s, SqliteStorage) and s.path == data / DB_FILENAME
        s.settings.set("k", b"v")
    with open_storage(str(data)) as s:
        assert s.settings.get("k") == b"v"


@pytest.mark.parametrize("name", ["state.db", "state.sqlite", "state.SQLITE3"])
def test_database_file(tmp_path: Path, name: str) -> None:
    with open_storage(tmp_path / "dir" / name) as s:
        assert isinstance(s, SqliteStorage) and s.path == tmp_path / "dir" / name


def test_sqlite_url(tmp_path: Path) -> None:
    with open_storage(f"sqlite://{tmp_path}/x.db") as s:
        assert isinstance(s, SqliteStorage) and s.path == tmp_path / "x.db"
    with open_storage(f"sqlite://{tmp_path}/data") as s:
        assert isinstance(s, SqliteStorage) and s.path == tmp_path / "data" / DB_FILENAME


@pytest.mark.parametrize("url", ["redis://x", "sqlite://", ""])
def test_unsupported(url: str) -> None:
    with pytest.raises(StorageError):
        open_storage(url)
