"""TL layer: lookup of generated classes by TL name, and building objects from plain dicts.

The inverse of ``TLObject.to_dict``: ``{"_": "messages.setBotCallbackAnswer", ...}`` back to
an object. Used by the command line and by tests; not on any hot path.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from loopgram.tl.core import OBJECTS, TLError, TLObject, _ensure_registry


@cache
def classes_by_name() -> dict[str, type[TLObject]]:
    """Every generated class (API and MTProto), by its TL name."""
    _ensure_registry()
    out: dict[str, type[TLObject]] = {}
    for reader in OBJECTS.values():
        owner = getattr(reader, "__self__", None)
        if isinstance(owner, type) and issubclass(owner, TLObject) and owner.TL_NAME:
            out.setdefault(owner.TL_NAME, owner)
    return out


def class_for(name: str) -> type[TLObject]:
    try:
        return classes_by_name()[name]
    except KeyError:
        raise TLError(f"no TL constructor or function is named {name!r}") from None


def from_dict(d: dict[str, Any]) -> TLObject:
    """Build an object from ``{"_": tl_name, field: value, ...}``, recursively."""
    cls = class_for(str(d["_"]))
    kwargs = {k: _from_plain(v) for k, v in d.items() if k != "_"}
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise TLError(f"{cls.TL_NAME}: {e}") from None


def _from_plain(v: Any) -> Any:
    if isinstance(v, dict) and "_" in v:
        return from_dict(v)
    if isinstance(v, list):
        return [_from_plain(x) for x in v]
    return v
