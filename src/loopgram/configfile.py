"""Configuration files of ``loopgram serve --config FILE``: TOML to the server's dataclasses.

A file sets any knob of the server, each under the name of its dataclass field::

    host = "127.0.0.1"           # where to listen (top level: the command's own options)
    port = 20443
    data = "loopgram-data"

    [server]                     # loopgram.server.config.ServerConfig
    login_code = "24680"
    callback_timeout = 5.0
    bot_chat_rate = "1/s burst 20"   # a rate, or "off"

    [server.flood_limits]        # per-method rates by TL name
    "messages.sendMessage" = "30/s"

    [limits]                     # loopgram.net.Limits: what one connection may cost
    max_per_address = 100

Types are checked against the dataclasses themselves, so a new field is configurable the day
it is added; an unknown key or a value of the wrong type is a :class:`ConfigError` whose
message is one line naming the key. ``loopgram serve --set KEY=VALUE`` sets one knob the
same way (``--set server.login_code=24680``).

This module also renders the reference table of ``docs/configuration.md`` from the same
fields (``python -m loopgram.configfile`` prints it); a test keeps the document equal to it.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import math
import re
import sys
import textwrap
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from loopgram import LoopgramError
from loopgram.net import Limits
from loopgram.node import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT
from loopgram.server.config import Rate, ServerConfig

__all__ = ["ConfigError", "Settings", "apply_setting", "load_settings", "reference_table"]


DEFAULT_BOT_API_PORT: Final = 8081
"""The official telegram-bot-api server's default port."""


class ConfigError(LoopgramError):
    """A configuration file or ``--set`` that cannot be used (the message says which key)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything ``loopgram serve`` runs with."""

    host: str = DEFAULT_HOST
    """Address to listen on (``0.0.0.0`` for every interface)."""
    port: int = DEFAULT_PORT
    """Port to listen on; 0 picks a free one below 32768."""
    data: str = DEFAULT_DATA_DIR
    """Data directory: the SQLite database, the RSA key, the accounts."""
    storage: str | None = None
    """Storage URL instead of the data directory's SQLite, e.g. ``postgresql://user:pw@host/db``
    (``?schema=NAME``, default ``public``) for several processes sharing one database."""
    advertised_host: str | None = None
    """Host ``help.getConfig`` gives clients (default: ``host``, or 127.0.0.1 for a wildcard)."""
    bot_api_port: int = DEFAULT_BOT_API_PORT
    """Port of the Bot API over HTTP; 0 picks a free one."""
    server: ServerConfig = field(default_factory=ServerConfig)
    """The rules' knobs: table ``[server]``."""
    limits: Limits = field(default_factory=Limits)
    """What one connection may cost: table ``[limits]``."""

    def __post_init__(self) -> None:
        for name in ("port", "bot_api_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise ValueError(f"{name} {getattr(self, name)} is not a port (0 to 65535)")


_SECTIONS: Final[dict[str, type[Any]]] = {"server": ServerConfig, "limits": Limits}


def load_settings(path: str | Path, base: Settings | None = None) -> Settings:
    """The settings a TOML file gives, over ``base`` (the defaults)."""
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read it ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    try:
        return _settings(raw, base or Settings())
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def apply_setting(settings: Settings, assignment: str) -> Settings:
    """``settings`` with one ``KEY=VALUE`` applied (``server.login_code=24680``,
    ``limits.max_per_address=8``); VALUE is TOML, or a bare string."""
    key, eq, text = assignment.partition("=")
    key = key.strip()
    if not eq or not key:
        raise ConfigError(f"--set {assignment!r}: write KEY=VALUE, e.g. server.login_code=24680")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    try:
        return _settings(_tree(key, value), settings)
    except ConfigError:
        # A bare word that TOML reads as a number (a login code): as the string typed.
        if value == text.strip():
            raise
        try:
            return _settings(_tree(key, text.strip()), settings)
        except ConfigError:
            pass
        raise


def _tree(key: str, value: Any) -> dict[str, Any]:
    *parents, last = key.split(".")
    tree: dict[str, Any] = {last: value}
    for parent in reversed(parents):
        tree = {parent: tree}
    return tree


def _settings(raw: Mapping[str, Any], base: Settings) -> Settings:
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{key} must be a table ([{key}])")
            changes[key] = _dataclass(getattr(base, key), value, key)
        else:
            changes[key] = _field_value(Settings, key, value, key)
    try:
        return dataclasses.replace(base, **changes)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def _dataclass(base: Any, raw: Mapping[str, Any], where: str) -> Any:
    values = {
        key: _field_value(type(base), key, value, f"{where}.{key}") for key, value in raw.items()
    }
    try:
        return dataclasses.replace(base, **values)
    except ValueError as e:
        raise ConfigError(f"[{where}]: {e}") from None


def _field_value(cls: type[Any], key: str, value: Any, where: str) -> Any:
    hints = _hints(cls)
    if key not in hints:
        known = ", ".join(sorted(hints))
        raise ConfigError(f"unknown key {where!r} (known here: {known})")
    return _convert(hints[key], value, where)


def _hints(cls: type[Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    module = sys.modules[cls.__module__]
    hints = typing.get_type_hints(cls, vars(module))
    return {k: v for k, v in hints.items() if k in names}


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            if options[0] is Rate:
                return _rate(value, where)
            return _convert(options[0], value, where)
    if hint is Rate:
        rate = _rate(value, where)
        if rate is None:
            raise ConfigError(f"{where} cannot be off")
        return rate
    if origin in (Mapping, dict) or hint is Mapping:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table")
        value_hint = args[1] if len(args) == 2 else Any
        return {str(k): _convert(value_hint, v, f"{where}.{k}") for k, v in value.items()}
    if origin in (tuple, frozenset, list, set):
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list")
        item = args[0] if args else Any
        return origin(_convert(item, v, f"{where}[]") for v in value)
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be a whole number, not {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ConfigError(f"{where} must be a number, not {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, not {value!r}")
        return value
    raise ConfigError(f"{where} cannot be set from a file")


def _rate(value: Any, where: str) -> Rate | None:
    if isinstance(value, str):
        try:
            return Rate.parse(value)
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None
    if isinstance(value, dict) and set(value) == {"per_second", "burst"}:
        per_second = _convert(float, value["per_second"], f"{where}.per_second")
        burst = _convert(int, value["burst"], f"{where}.burst")
        try:
            return Rate(per_second, burst)
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None
    raise ConfigError(
        f'{where} must be a rate such as "30/s", "20/min burst 5" or "off", '
        f"or a table {{per_second = ..., burst = ...}}, not {value!r}"
    )


# -- the reference table ----------------------------------------------------------------------


def _docstrings(cls: type[Any]) -> dict[str, str]:
    """Each field's docstring (the string literal under it in the class body)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    out: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            text = " ".join(after.value.value.split())
            # reStructuredText to Markdown: ``x`` and :meth:`x` become `x`.
            out[node.target.id] = re.sub(r":\w+:`", "`", text).replace("``", "`")
    return out


def _type_name(hint: Any) -> str:
    if hint is Rate:
        return "rate"
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in args if a is not type(None)]
        if options == [Rate]:
            return 'rate or "off"'
        return " or ".join(_type_name(a) for a in options)
    if origin in (Mapping, dict):
        return f"table of {_type_name(args[1])}" if len(args) == 2 else "table"
    if origin in (tuple, frozenset, list, set):
        return f"list of {_type_name(args[0])}" if args else "list"
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _default_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, Rate):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, Mapping):
        return (
            "{}" if not value else ", ".join(f"{k} = {_default_text(v)}" for k, v in value.items())
        )
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    return repr(value)


def reference_table() -> str:
    """The Markdown table of every key: name, type, default and meaning."""
    rows = [_TABLE_HEADER, "|---|---|---|---|"]
    for prefix, cls, instance in (
        ("", Settings, Settings()),
        ("server.", ServerConfig, ServerConfig()),
        ("limits.", Limits, Limits()),
    ):
        docs = _docstrings(cls)
        hints = _hints(cls)
        for f in dataclasses.fields(cls):
            if prefix == "" and f.name in _SECTIONS:
                continue
            meaning = docs.get(f.name, "").replace("|", "\\|")
            default = _default_text(getattr(instance, f.name)).replace("|", "\\|")
            type_name = _type_name(hints[f.name])
            rows.append(f"| `{prefix}{f.name}` | {type_name} | `{default}` | {meaning} |")
    return "\n".join(rows) + "\n"


def update_document(path: str | Path) -> None:
    """Replace the reference table that ends the Markdown file ``path`` by the current one."""
    doc = Path(path)
    text = doc.read_text(encoding="utf-8")
    start = text.find(_TABLE_HEADER)
    head = text if start < 0 else text[:start]
    doc.write_text(head + reference_table(), encoding="utf-8")


_TABLE_HEADER: Final = "| Key | Type | Default | Meaning |"


if __name__ == "__main__":
    # python -m loopgram.configfile [--update docs/configuration.md]
    if sys.argv[1:2] == ["--update"] and len(sys.argv) == 3:
        update_document(sys.argv[2])
    else:
        print(reference_table(), end="")
