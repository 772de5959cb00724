"""Storage layer: it knows no MTProto, network, server or client code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import loopgram.storage

FORBIDDEN = ("loopgram.mtproto", "loopgram.net", "loopgram.server", "loopgram.client")
PACKAGE = Path(loopgram.storage.__file__).parent


def imported_modules(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_forbidden_imports_in_source() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert files
    for path in files:
        for name in imported_modules(path.read_text()):
            assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"


def test_importing_storage_loads_no_upper_layer() -> None:
    code = (
        "import sys, loopgram.storage; "
        "print('\\n'.join(m for m in sys.modules if m.startswith('loopgram.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = out.stdout.split()
    assert not [m for m in loaded if m.startswith(FORBIDDEN)]
    # The generated TL API is only loaded when a stored markup is parsed.
    assert "loopgram.tl.types" not in loaded
