"""Server layer: it sits on tl, mtproto and storage, never on the front doors (net, botapi,
web), the composition root (node) or the client."""

from __future__ import annotations

import ast
from pathlib import Path

import loopgram.server

FORBIDDEN = (
    "loopgram.net",
    "loopgram.botapi",
    "loopgram.web",
    "loopgram.node",
    "loopgram.client",
    "loopgram.testing",
    "loopgram.cli",
)
PACKAGE = Path(loopgram.server.__file__).parent


def test_server_imports_no_driver_or_client() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert files
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
