"""The import direction of DESIGN.md, for every module of the package.

crypto, tl and transport depend on nothing of ours (but the root ``loopgram`` for
``LoopgramError``); mtproto on tl, crypto and transport (the Connection wraps the transport
codec); storage knows no mtproto, network, server or client; server, net and client sit on
top; ``loopgram.server.app`` is the composition root that wires the server to the network
driver, so it alone in ``server`` may import ``net``. A few small modules at the package root
serve every layer (``ratelog``: rate-limited logging of what clients cause); they import
nothing of ours.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import loopgram

ROOT = Path(loopgram.__file__).parent

ALLOWED: dict[str, set[str]] = {
    "crypto": set(),
    "tl": set(),
    "transport": set(),
    "mtproto": {"tl", "crypto", "transport"},
    "storage": {"tl"},
    "server": {"tl", "crypto", "transport", "mtproto", "storage", "errors_table"},
    "net": {"tl", "crypto", "transport", "mtproto", "storage", "server"},
    # The Bot API front door calls the services; it speaks HTTP, never MTProto or net.
    "botapi": {"tl", "storage", "server", "errors_table"},
    # The web page is a third front door: a client of ServerCore over a WebSocket.
    "web": {"tl", "storage", "server"},
    "client": {"tl", "crypto", "transport", "mtproto", "net", "errors_table"},
}
# Root modules every layer may use: they stand on nothing of ours.
ROOT_MODULES = {"ratelog"}
# server/app.py composes both front doors until the composition root moves out of server/.
COMPOSITION_ROOTS = {"server/app.py": {"net", "botapi", "web"}}


def _our_imports(path: Path) -> set[str]:
    """The loopgram subpackages a module imports (first component after ``loopgram.``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "loopgram" and len(parts) > 1:
                out.add(parts[1])
    return out


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_stands_on(package: str) -> None:
    base = ROOT / package
    if not base.is_dir():
        pytest.skip(f"loopgram.{package} does not exist yet")
    generated_names = {"LoopgramError", "__version__"}
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        allowed = ALLOWED[package] | {package} | ROOT_MODULES | COMPOSITION_ROOTS.get(rel, set())
        bad = _our_imports(path) - allowed - generated_names
        assert not bad, f"{rel} imports loopgram.{', loopgram.'.join(sorted(bad))}"


@pytest.mark.parametrize("module", sorted(ROOT_MODULES))
def test_root_modules_import_nothing_of_ours(module: str) -> None:
    imports = _our_imports(ROOT / f"{module}.py")
    assert not imports, f"{module}.py imports loopgram.{', loopgram.'.join(sorted(imports))}"
