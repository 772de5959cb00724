"""Storage layer contract: every backend behaves the same.

The suite itself ships in ``loopgram.testing.storage_contract`` so that backends outside
this repository can run it; here it runs against each backend of the ``storage`` fixture
(``conftest.BACKENDS``: memory, SQLite, PostgreSQL).
"""

from __future__ import annotations

# The suite's helpers, for the other storage tests of this directory.
from loopgram.testing.storage_contract import (
    StorageContract,
    make_pair,
    markup,
    render_delete,
    render_edit,
    render_new,
    send,
)

__all__ = ["make_pair", "markup", "render_delete", "render_edit", "render_new", "send"]


class TestStorageContract(StorageContract):
    """The shipped contract, on the ``storage`` fixture of ``conftest``."""
