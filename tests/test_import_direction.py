"""The import direction of DESIGN.md, for every module of the package, with no exceptions.

crypto, tl and transport depend on nothing of ours (but the root ``loopgram`` for
``LoopgramError``); mtproto on tl, crypto and transport (the Connection wraps the transport
codec); storage knows no mtproto, network, server or client; ``server`` holds the rules and
knows no network: no ``net``, ``botapi`` or ``web``, no HTTP library and no socket-level
asyncio. ``net`` and ``botapi`` (with ``web``) are the front doors that call ``server``.
The composition root ``node``, ``client``, ``testing`` and ``cli`` sit on top: no layer
below imports them. A few small modules at the package root serve every layer (``ratelog``:
rate-limited logging of what clients cause; ``clock``: time and randomness); they import
nothing of ours.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

import loopgram

ROOT = Path(loopgram.__file__).parent

_RULES = {"tl", "crypto", "transport", "mtproto", "storage", "server", "errors_table"}
_FRONT_DOORS = {"net", "botapi", "web"}
# Live state shared between server processes (Redis): implements the rules' seams.
_SHARED = {"cluster"}
_TOP = {"node", "client", "testing", "cli", "demo", "configfile"}

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
    # Redis-backed implementations of the rules' seams; no front door, no node.
    "cluster": {"tl", "storage", "server"},
    # The composition root wires the rules to the front doors; it needs no client.
    "node": _RULES | _FRONT_DOORS | _SHARED,
    # What users' test suites import: servers, and clients pointed at them.
    "testing": _RULES | _FRONT_DOORS | _SHARED | {"node", "client"},
    "configfile": _RULES | _FRONT_DOORS | _SHARED | {"node"},
    "demo": _RULES | _FRONT_DOORS | _SHARED | {"node", "client"},
    "cli": _RULES | _FRONT_DOORS | _SHARED | _TOP,
}
# Root modules every layer may use: they stand on nothing of ours.
ROOT_MODULES = {"ratelog", "clock"}

# What "network code" is for the rules layer: the standard library's and third parties'
# sockets and HTTP, and asyncio's socket-level API (asyncio itself -- tasks, futures,
# events -- is how the rules wait, and stays allowed).
NETWORK_MODULES = (
    "aiohttp",
    "http.client",
    "http.server",
    "socket",
    "socketserver",
    "ssl",
    "selectors",
    "urllib.request",
    "h11",
    "httpx",
    "websockets",
    "wsproto",
    "uvloop",
    "redis",
)
ASYNCIO_NETWORKING = {
    "start_server",
    "open_connection",
    "start_unix_server",
    "open_unix_connection",
    "create_server",
    "create_connection",
    "create_datagram_endpoint",
    "sock_accept",
    "sock_connect",
    "sock_recv",
    "sock_sendall",
    "StreamReader",
    "StreamWriter",
    "Protocol",
    "BufferedProtocol",
    "Transport",
}


@functools.cache
def _tree(path: Path) -> ast.Module:
    # The generated tl modules are large: parse each once for all the checks.
    return ast.parse(path.read_text(encoding="utf-8"))


def _imported_names(tree: ast.Module) -> list[str]:
    """Every absolute module name a module imports (``from m import a`` gives ``m``, ``m.a``)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return names


def _our_imports(path: Path) -> set[str]:
    """The loopgram subpackages a module imports (first component after ``loopgram.``)."""
    out: set[str] = set()
    for name in _imported_names(_tree(path)):
        parts = name.split(".")
        if parts[0] == "loopgram" and len(parts) > 1:
            out.add(parts[1])
    return out


def _files(part: str) -> list[Path]:
    base = ROOT / part
    return sorted(base.rglob("*.py")) if base.is_dir() else [ROOT / f"{part}.py"]


def test_every_module_of_the_package_has_a_rule() -> None:
    parts = {p.stem for p in ROOT.iterdir() if p.suffix == ".py" and p.stem != "__init__"}
    parts |= {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert parts - set(ALLOWED) - ROOT_MODULES - {"errors_table"} == set()


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_layer_imports_only_what_it_stands_on(part: str) -> None:
    files = _files(part)
    assert files and all(f.is_file() for f in files), f"loopgram.{part} is missing"
    generated_names = {"LoopgramError", "__version__"}
    allowed = ALLOWED[part] | {part} | ROOT_MODULES | generated_names
    for path in files:
        bad = _our_imports(path) - allowed
        rel = path.relative_to(ROOT).as_posix()
        assert not bad, f"{rel} imports loopgram.{', loopgram.'.join(sorted(bad))}"


@pytest.mark.parametrize("part", sorted(set(ALLOWED) - _TOP))
def test_no_layer_below_the_top_imports_the_top(part: str) -> None:
    # Redundant with the table today; it keeps "on top" true if a row is widened carelessly.
    for path in _files(part):
        above = _our_imports(path) & _TOP
        assert not above, f"{path.relative_to(ROOT).as_posix()} imports {sorted(above)}"


@pytest.mark.parametrize("part", ["server", "storage", "mtproto"])
def test_rules_layers_hold_no_network_code(part: str) -> None:
    for path in _files(part):
        tree = _tree(path)
        rel = path.relative_to(ROOT).as_posix()
        network = [
            name
            for name in _imported_names(tree)
            if name in NETWORK_MODULES or name.startswith(tuple(m + "." for m in NETWORK_MODULES))
        ]
        assert not network, f"{rel} imports {network}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ASYNCIO_NETWORKING:
                raise AssertionError(f"{rel}:{node.lineno} uses .{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module == "asyncio":
                used = {a.name for a in node.names} & ASYNCIO_NETWORKING
                assert not used, f"{rel} imports asyncio's {sorted(used)}"


@pytest.mark.parametrize("module", sorted(ROOT_MODULES))
def test_root_modules_import_nothing_of_ours(module: str) -> None:
    imports = _our_imports(ROOT / f"{module}.py")
    assert not imports, f"{module}.py imports loopgram.{', loopgram.'.join(sorted(imports))}"
