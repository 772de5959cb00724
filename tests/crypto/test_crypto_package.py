"""Package shape of loopgram.crypto: exports and import boundaries."""

from __future__ import annotations

import ast
from pathlib import Path

import loopgram.crypto as crypto
from loopgram import LoopgramError

PACKAGE = Path(crypto.__file__).parent


def test_exports_resolve() -> None:
    for name in crypto.__all__:
        assert getattr(crypto, name) is not None, name


def test_errors_share_the_loopgram_base() -> None:
    assert issubclass(crypto.SecurityError, LoopgramError)
    assert issubclass(crypto.CryptoValueError, ValueError)


def test_crypto_imports_nothing_else_of_loopgram() -> None:
    """DESIGN.md: crypto depends on nothing of ours (LoopgramError aside)."""
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                if module == "loopgram" or not module.startswith("loopgram"):
                    continue
                assert module.startswith("loopgram.crypto"), f"{path.name} imports {module}"
