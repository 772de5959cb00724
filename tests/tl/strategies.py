"""Hypothesis strategies that build random TL objects from the shipped schema."""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from hypothesis import strategies as st

from loopgram.tl.codegen import attr_name, class_name, load_schemas
from loopgram.tl.parser import Arg, Combinator, Schema, TypeRef

MAX_DEPTH = 3

_UNICODE = st.characters(blacklist_categories=("Cs",))
# Lengths at the edges of the TL string encoding: 253 (one-byte length), 254 (four-byte).
_EDGE_LENGTHS = st.sampled_from([0, 1, 3, 4, 253, 254, 255, 1000])


@cache
def schemas() -> tuple[Schema, Schema]:
    return load_schemas()


def api() -> Schema:
    return schemas()[0]


def class_of(c: Combinator, package: str = "loopgram.tl") -> type[Any]:
    kind = "functions" if c.is_function else "types"
    mod = f"{package}.{kind}" + (f".{c.namespace}" if c.namespace else "")
    cls: type[Any] = getattr(importlib.import_module(mod), class_name(c.name))
    return cls


@cache
def _by_type() -> dict[str, list[Combinator]]:
    out: dict[str, list[Combinator]] = {}
    for c in api().constructors:
        out.setdefault(c.result.name, []).append(c)
    return out


@cache
def _nesting() -> dict[str, int]:
    """For each boxed type, the least depth of objects a value of it needs."""
    need: dict[str, int] = {}
    by_type = _by_type()
    changed = True
    while changed:
        changed = False
        for tname, ctors in by_type.items():
            best = None
            for c in ctors:
                depth = _ctor_need(c, need)
                if depth is not None and (best is None or depth < best):
                    best = depth
            if best is not None and need.get(tname) != best:
                need[tname] = best
                changed = True
    return need


def _ctor_need(c: Combinator, need: dict[str, int]) -> int | None:
    depth = 1
    for a in c.args:
        if a.flag is not None or a.is_flags or a.type.item is not None:
            continue
        if a.type.name in _PRIMS or a.type.generic_ref or a.type.name == "Object":
            continue
        sub = need.get(a.type.name)
        if sub is None:
            return None
        depth = max(depth, 1 + sub)
    return depth


_PRIMS = {"int", "long", "double", "int128", "int256", "string", "bytes", "Bool", "true"}


def _text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(_UNICODE, max_size=12),
        _EDGE_LENGTHS.map(lambda n: "x" * n),
    )


def _binary() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=12), _EDGE_LENGTHS.flatmap(lambda n: st.binary(min_size=n, max_size=n))
    )


def value(ref: TypeRef, depth: int) -> st.SearchStrategy[Any]:
    if ref.item is not None:
        if depth >= MAX_DEPTH and ref.item.name not in _PRIMS:
            return st.just([])
        return st.lists(value(ref.item, depth), max_size=3)
    name = ref.name
    if name == "int":
        return st.integers(-(2**31), 2**31 - 1)
    if name == "long":
        return st.integers(-(2**63), 2**63 - 1)
    if name == "int128":
        return st.integers(-(2**127), 2**127 - 1)
    if name == "int256":
        return st.integers(-(2**255), 2**255 - 1)
    if name == "double":
        return st.floats(allow_nan=False)
    if name == "string":
        return _text()
    if name == "bytes":
        return _binary()
    if name in ("Bool", "true"):
        return st.booleans()
    if ref.generic_ref or name == "Object":
        from loopgram.tl.functions.help import GetConfig

        return st.just(GetConfig())
    if ref.bare:
        raise NotImplementedError(f"bare {name} does not occur in the API schema")
    return st.deferred(lambda: boxed(name, depth + 1))


def boxed(type_name: str, depth: int) -> st.SearchStrategy[Any]:
    ctors = _by_type()[type_name]
    if depth >= MAX_DEPTH:
        need = _nesting()
        ctors = [c for c in ctors if (_ctor_need(c, need) or 99) <= 1] or ctors
    return st.sampled_from(ctors).flatmap(lambda c: obj(c, depth))


def obj(c: Combinator, depth: int = 0) -> st.SearchStrategy[Any]:
    """A random instance of the constructor or function ``c``.

    Fields that share one flag bit are present or absent together: TL writes the bit once,
    so a reader reads all of them when it is set.
    """
    cls = class_of(c)
    groups: dict[tuple[str, int], list[Arg]] = {}
    for a in c.args:
        if a.flag is not None:
            groups.setdefault((a.flag.field, a.flag.bit), []).append(a)
    parts: list[st.SearchStrategy[dict[str, Any]]] = []
    for a in c.args:
        if a.is_flags or (a.flag is not None and len(groups[(a.flag.field, a.flag.bit)]) > 1):
            continue
        strat = value(a.type, depth)
        if a.flag is not None and not a.is_true_flag:
            strat = st.none() | strat
        parts.append(st.fixed_dictionaries({attr_name(a.name): strat}))
    for members in groups.values():
        if len(members) > 1:
            parts.append(st.booleans().flatmap(lambda on, m=members: _group(m, on, depth)))

    def build(dicts: list[dict[str, Any]]) -> Any:
        kw: dict[str, Any] = {}
        for d in dicts:
            kw.update(d)
        return cls(**kw)

    return st.tuples(*parts).map(lambda t: build(list(t)))


def _group(members: list[Arg], on: bool, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for a in members:
        if a.is_true_flag:
            fields[attr_name(a.name)] = st.just(on)
        else:
            fields[attr_name(a.name)] = value(a.type, depth) if on else st.none()
    return st.fixed_dictionaries(fields)


_PLAIN: dict[str, Any] = {
    "int": -7,
    "long": -(2**62),
    "double": -1.5,
    "int128": -(2**100),
    "int256": 2**200,
    "string": "é" * 130,
    "bytes": b"\xfe" * 254,
    "Bool": True,
    "true": True,
}


def filled(c: Combinator, *, optional: bool, depth: int = 0) -> Any:
    """A deterministic instance of ``c``: every field set (``optional``) or only required ones.

    Nested boxed fields use the constructor of their type that needs the least nesting.
    """
    kw: dict[str, Any] = {}
    for a in c.args:
        if a.is_flags or (a.flag is not None and not optional):
            continue
        kw[attr_name(a.name)] = _filled_value(a.type, optional, depth)
    return class_of(c)(**kw)


def _filled_value(ref: TypeRef, optional: bool, depth: int) -> Any:
    if ref.item is not None:
        return [_filled_value(ref.item, optional, depth)] if depth < MAX_DEPTH else []
    if ref.name in _PLAIN:
        return _PLAIN[ref.name]
    if ref.generic_ref or ref.name == "Object":
        from loopgram.tl.functions.help import GetConfig

        return GetConfig()
    need = _nesting()
    ctors = sorted(_by_type()[ref.name], key=lambda c: ((_ctor_need(c, need) or 99), c.name))
    pick = ctors[-1] if depth < 1 else ctors[0]
    return filled(pick, optional=optional and depth < MAX_DEPTH, depth=depth + 1)
