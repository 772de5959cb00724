"""Test oracle for ``loopgram.tl.layers``, and the oracle's own tests.

Independent of the generated conversion code, this module walks the shipped schema text at
run time:

- ``Interp``: an interpreting TL codec for any schema (old layouts included): bytes <-> plain
  dicts ``{"_": name, field: value}``. Decoding checks what an old client's parser checks:
  known ids, the constructor's type against the field's type, vector and Bool ids, no
  trailing bytes.
- Hypothesis strategies for canonical (layer-229) objects that a given layer can express,
  and for random old-layer objects that a given layer can read.
- ``Agree``: compares a canonical object with an old-layer dict field by field, by the rules
  of ``loopgram.tl.layers.spec`` (same name, same type; keyboards restructured).

The tests at the end check the oracle itself against the layer-229 generated codec.
"""

from __future__ import annotations

import math
import struct
from functools import cache, partial
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loopgram.tl as tl
from loopgram.tl import layers
from loopgram.tl.codegen import SCHEMA_DIR, attr_name, load_schemas
from loopgram.tl.layers import spec
from loopgram.tl.parser import Combinator, Schema, TypeRef, parse_file
from tests.tl import strategies as base

OLD_LAYERS = (158, 198, 227)
VECTOR_ID = 0x1CB5C415
TRUE_ID = 0x997275B5
FALSE_ID = 0xBC799737
PRIMS = {"int", "long", "double", "int128", "int256", "string", "bytes", "Bool", "true"}
MAX_DEPTH = 3


@cache
def schema(layer: int) -> Schema:
    if layer == spec.NEWEST:
        return load_schemas()[0]
    return parse_file(SCHEMA_DIR / spec.OLD_SCHEMAS[layer])


@cache
def index(layer: int) -> Index:
    return Index(schema(layer))


class Index:
    def __init__(self, s: Schema) -> None:
        self.ctors = {c.name: c for c in s.constructors}
        self.fns = {c.name: c for c in s.functions}
        self.by_id = {c.id: c for c in s.constructors + s.functions}
        self.by_type: dict[str, list[Combinator]] = {}
        for c in s.constructors:
            self.by_type.setdefault(c.result.name, []).append(c)

    def comb(self, name: str, function: bool = False) -> Combinator:
        return (self.fns if function else self.ctors)[name]


# --- an interpreting codec ---------------------------------------------------------------------


class OracleError(AssertionError):
    pass


class Interp:
    """TL bytes <-> dicts for one schema, by walking its combinators."""

    def __init__(self, layer: int) -> None:
        self.ix = index(layer)

    def decode(self, data: bytes) -> Any:
        self.data, self.pos = data, 0
        v = self._boxed(None)
        if self.pos != len(data):
            raise OracleError(f"{len(data) - self.pos} trailing bytes")
        return v

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise OracleError(f"truncated at {self.pos}")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def _u32(self) -> int:
        v: int = struct.unpack("<I", self._take(4))[0]
        return v

    def _boxed(self, tname: str | None, function: bool = False) -> Any:
        cid = self._u32()
        if tname == "Bool" or (tname is None and cid in (TRUE_ID, FALSE_ID)):
            if cid not in (TRUE_ID, FALSE_ID):
                raise OracleError(f"expected Bool, got {cid:#x}")
            return cid == TRUE_ID
        c = self.ix.by_id.get(cid)
        if c is None:
            raise OracleError(f"unknown constructor {cid:#010x} at {self.pos - 4}")
        if function and not c.is_function:
            raise OracleError(f"{c.name} where a function was expected")
        if tname is not None and not function and (c.is_function or c.result.name != tname):
            raise OracleError(f"{c.name} is not a {tname}")
        return self._fields(c)

    def _fields(self, c: Combinator) -> dict[str, Any]:
        out: dict[str, Any] = {"_": c.name}
        flags: dict[str, int] = {}
        for a in c.args:
            if a.is_flags:
                flags[a.name] = self._u32()
                continue
            if a.flag is not None:
                on = bool(flags[a.flag.field] & (1 << a.flag.bit))
                if a.is_true_flag:
                    out[a.name] = on
                    continue
                if not on:
                    out[a.name] = None
                    continue
            out[a.name] = self._value(a.type)
        return out

    def _value(self, ref: TypeRef) -> Any:
        if ref.item is not None:
            if not ref.bare and self._u32() != VECTOR_ID:
                raise OracleError("expected a vector")
            n = self._u32()
            if n > len(self.data):
                raise OracleError("vector too long")
            return [self._value(ref.item) for _ in range(n)]
        fmt = {"int": "<i", "long": "<q", "double": "<d"}.get(ref.name)
        if fmt is not None:
            size = struct.calcsize(fmt)
            return struct.unpack(fmt, self._take(size))[0]
        if ref.name in ("int128", "int256"):
            size = 16 if ref.name == "int128" else 32
            return int.from_bytes(self._take(size), "little", signed=True)
        if ref.name in ("string", "bytes"):
            first = self._take(1)[0]
            if first < 254:
                n, head = first, 1
            else:
                n, head = int.from_bytes(self._take(3), "little"), 4
            raw = self._take(n)
            self._take((-(head + n)) & 3)
            return raw.decode("utf-8", "replace") if ref.name == "string" else raw
        if ref.name == "Bool":
            return self._boxed("Bool")
        if ref.generic_ref:
            return self._boxed(None, function=True)
        return self._boxed(ref.name)

    def encode(self, d: Any) -> bytes:
        out = bytearray()
        self._enc_boxed(out, d)
        return bytes(out)

    def _enc_boxed(self, out: bytearray, d: dict[str, Any]) -> None:
        name = d["_"]
        c = self.ix.ctors.get(name) or self.ix.fns[name]
        out += struct.pack("<I", c.id)
        flags: dict[str, int] = {a.name: 0 for a in c.args if a.is_flags}
        for a in c.args:
            if a.flag is not None:
                v = d.get(a.name)
                if (v is True) if a.is_true_flag else (v is not None):
                    flags[a.flag.field] |= 1 << a.flag.bit
        for a in c.args:
            if a.is_flags:
                out += struct.pack("<I", flags[a.name])
            elif a.is_true_flag:
                continue
            elif a.flag is None or d.get(a.name) is not None:
                self._enc_value(out, a.type, d[a.name])

    def _enc_value(self, out: bytearray, ref: TypeRef, v: Any) -> None:
        if ref.item is not None:
            if not ref.bare:
                out += struct.pack("<I", VECTOR_ID)
            out += struct.pack("<I", len(v))
            for x in v:
                self._enc_value(out, ref.item, x)
            return
        fmt = {"int": "<i", "long": "<q", "double": "<d"}.get(ref.name)
        if fmt is not None:
            out += struct.pack(fmt, v)
        elif ref.name in ("int128", "int256"):
            out += v.to_bytes(16 if ref.name == "int128" else 32, "little", signed=True)
        elif ref.name in ("string", "bytes"):
            raw = v.encode() if ref.name == "string" else v
            n = len(raw)
            head = bytes([n]) if n < 254 else bytes([254]) + n.to_bytes(3, "little")
            out += head + raw + bytes((-(len(head) + n)) & 3)
        elif ref.name == "Bool":
            out += struct.pack("<I", TRUE_ID if v else FALSE_ID)
        else:
            self._enc_boxed(out, v)


# --- the rules, as the oracle reads spec -------------------------------------------------------


def first_present(targets: tuple[str, ...], layer: int) -> str | None:
    return next((t for t in targets if t in index(layer).ctors), None)


def button_table(container: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return spec.INLINE_BUTTONS if container == spec.INLINE_BUTTON else spec.REPLY_BUTTONS


def button_target(container: str, kind: str, layer: int) -> str | None:
    """The old constructor a (container, kind) button is written as in ``layer``."""
    return first_present(dict(button_table(container))[kind], layer)


def button_kind(container: str, old_name: str, layer: int) -> str | None:
    """The kind an old button constructor is read as, in a keyboard of ``container``."""
    for kind, targets in button_table(container):
        if targets[0] == old_name and old_name in index(layer).ctors:
            return kind
    return None


KEYBOARD_CONTAINERS = (spec.INLINE_BUTTON, spec.REPLY_BUTTON)
RESTRUCTURED_FIELDS = {(spec.INLINE_MARKUP, "rows"), (spec.INLINE_ROW, "buttons")}


def old_name_for(x: tl.TLObject, layer: int) -> str:
    """The old constructor the canonical ``x`` is written as."""
    name = x.TL_NAME
    if name in KEYBOARD_CONTAINERS:
        target = button_target(name, getattr(x, "type").TL_NAME, layer)  # noqa: B009
        assert target is not None
        return target
    if name == spec.INLINE_ROW:
        return spec.OLD_ROW
    for field, alt in spec.SPLITS.get(name, ()):
        if getattr(x, field) is not None and alt in index(layer).ctors:
            return alt
    return name


def canonical_comb(x: tl.TLObject) -> Combinator:
    return index(spec.NEWEST).comb(x.TL_NAME, isinstance(x, tl.TLFunction))


@cache
def _costs(layer: int) -> dict[str, int]:
    """Per boxed type of ``layer``, the fewest nested objects a value of it needs."""
    ix = index(layer)
    cost: dict[str, int] = {}
    changed = True
    while changed:
        changed = False
        for tname, ctors in ix.by_type.items():
            options = [n for n in (_ctor_cost(c, cost) for c in ctors) if n is not None]
            if options and cost.get(tname) != min(options):
                cost[tname] = min(options)
                changed = True
    return cost


def _ctor_cost(c: Combinator, cost: dict[str, int]) -> int | None:
    total = 1
    for a in c.args:
        if a.flag is not None or a.is_flags or a.type.item is not None:
            continue
        if a.type.name in PRIMS or a.type.generic_ref or a.type.name == "Object":
            continue
        if a.type.name not in cost:
            return None
        total += cost[a.type.name]
    return total


@cache
def default_ctor(layer: int, tname: str) -> str:
    """The constructor a missing required value of ``tname`` defaults to, by the rule that
    ``spec.DEFAULT_CONSTRUCTORS`` documents: the override, else the type's ``*Empty``
    constructor, else the one needing the fewest nested objects (then the first by name)."""
    ix = index(layer)
    ctors = ix.by_type[tname]
    override = spec.DEFAULT_CONSTRUCTORS.get(tname)
    if override is not None and override in ix.ctors:
        return override
    empty = sorted(c.name for c in ctors if c.name.endswith("Empty"))
    if empty:
        return empty[0]
    cost = _costs(layer)
    ranked = sorted(
        ((_ctor_cost(c, cost), c.name) for c in ctors),
        key=lambda x: (x[0] is None, x[0] or 0, x[1]),
    )
    return ranked[0][1]


def is_default(v: Any, layer: int = spec.NEWEST) -> bool:
    """A default value: absent, zero, empty, or the default object of its type (the
    constructor ``default_ctor`` names, its fields all defaults). Old-layer dicts are judged
    by ``layer``'s schema, canonical objects by 229's."""
    if isinstance(v, dict):
        c = index(layer).ctors.get(v["_"])
        if c is None or v["_"] != default_ctor(layer, c.result.name):
            return False
        return all(is_default(x, layer) for k, x in v.items() if k != "_")
    if isinstance(v, tl.TLObject):
        if isinstance(v, tl.TLFunction):
            return False
        c = canonical_comb(v)
        if v.TL_NAME != default_ctor(spec.NEWEST, c.result.name):
            return False
        return all(is_default(getattr(v, attr_name(a.name))) for a in c.args if not a.is_flags)
    return v is None or v is False or v == 0 or v in ("", b"") or v == []


def absent(f: Any, v: Any, *, carried: bool) -> bool:
    """Canonical field ``f`` holds what an absent value reads as. Not carried by the old
    layout and optional: ``None`` (a default-looking object there is still a value). Else
    the default of its type: an old required field, or one sharing its flag bit with a set
    field, reads back as zero."""
    if not carried and f.flag is not None and not f.is_true_flag:
        return v is None
    return is_default(v)


def carried(f_type: str, o_type: str, container: str, field: str) -> str | None:
    """How a canonical field of type ``f_type`` rides in an old field of type ``o_type``."""
    if (container, field) in RESTRUCTURED_FIELDS:
        return "same"
    if f_type == o_type:
        return "same"
    if {f_type, o_type} <= {"Bool", "true"}:
        return "bool"
    if {f_type, o_type} <= {"int", "long", "double"}:
        return "number"
    return None


def partially_carried(field: str, f_type: str, o_type: str | None) -> bool:
    """Fields converted by rules (tested in test_layers_rules), not by name and type."""
    if any(d.new == field for d in spec.DERIVED):
        return True
    return o_type is not None and (o_type, f_type) in spec.VALUE_CONVERSIONS


class Agree:
    """Checks canonical objects against old-layer dicts and against their round trip."""

    def __init__(self, layer: int) -> None:
        self.layer = layer
        self.old = index(layer)

    def old_comb(self, name: str, function: bool) -> Combinator:
        return self.old.comb(name, function)

    def written(self, x: tl.TLObject, d: dict[str, Any], y: tl.TLObject | None) -> None:
        """``x`` was written in the old layer as ``d`` (oracle-decoded) and read back as
        ``y``: every field the old layer carries is in ``d`` and back in ``y``; the others
        come back as defaults."""
        function = isinstance(x, tl.TLFunction)
        old_name = old_name_for(x, self.layer)
        assert d["_"] == old_name, (d["_"], old_name)
        old = self.old_comb(old_name, function)
        skip: set[str] = set()
        if x.TL_NAME in KEYBOARD_CONTAINERS:
            skip.add("type")
            kind_x = getattr(x, "type")  # noqa: B009
            expected_kind = button_kind(x.TL_NAME, old_name, self.layer)
            if y is not None:
                kind_y = getattr(y, "type")  # noqa: B009
                assert kind_y.TL_NAME == expected_kind, (kind_y.TL_NAME, expected_kind)
            if expected_kind == kind_x.TL_NAME:
                self._fields(kind_x, d, None if y is None else getattr(y, "type"), old, set())  # noqa: B009
        elif y is not None:
            assert y.TL_NAME == x.TL_NAME, (y.TL_NAME, x.TL_NAME)
        self._fields(x, d, y, old, skip)

    def _fields(
        self,
        x: tl.TLObject,
        d: dict[str, Any],
        y: tl.TLObject | None,
        old: Combinator,
        skip: set[str],
    ) -> None:
        old_args = {a.name: a for a in old.args if not a.is_flags}
        for f in canonical_comb(x).args:
            if f.is_flags or f.name in skip:
                continue
            attr = attr_name(f.name)
            xv = getattr(x, attr)
            yv = None if y is None else getattr(y, attr)
            a = old_args.get(f.name)
            how = None if a is None else carried(str(f.type), str(a.type), x.TL_NAME, f.name)
            where = f"{x.TL_NAME}.{f.name} (layer {self.layer})"
            if how is None:
                if y is not None and not partially_carried(
                    f.name, str(f.type), None if a is None else str(a.type)
                ):
                    assert absent(f, yv, carried=False), (
                        f"{where}: not carried, but read back {yv!r}"
                    )
                continue
            assert a is not None
            dv = d.get(a.name)
            # False in an optional Bool is a value; only a true flag is absent when False.
            if xv is None or (xv is False and f.is_true_flag):
                if y is not None:
                    assert absent(f, yv, carried=True), f"{where}: absent, but read back {yv!r}"
                assert is_default(dv, self.layer), f"{where}: absent, but written {dv!r}"
                continue
            if how == "bool":
                assert bool(dv) == bool(xv), where
                if y is not None:
                    assert bool(yv) == bool(xv), where
            elif how == "number":
                assert dv == as_number(xv, a.type.name), (where, dv, xv)
                if y is not None:
                    assert yv == as_number(dv, f.type.name), (where, yv, dv)
            else:
                self._value(xv, dv, yv, where, y is not None)

    def _value(self, xv: Any, dv: Any, yv: Any, where: str, check_y: bool) -> None:
        if isinstance(xv, list):
            assert isinstance(dv, list) and len(dv) == len(xv), where
            if check_y:
                assert isinstance(yv, list) and len(yv) == len(xv), where
            for i, item in enumerate(xv):
                self._value(item, dv[i], yv[i] if check_y else None, where, check_y)
        elif isinstance(xv, tl.TLObject):
            self.written(xv, dv, yv if check_y else None)
        else:
            assert _same(dv, xv), (where, dv, xv)
            if check_y:
                assert _same(yv, xv), (where, yv, xv)

    def read(self, d: dict[str, Any], y: Any) -> None:
        """The old dict ``d`` was read as the canonical ``y``: the fields agree."""
        if not isinstance(d, dict):
            assert _same(y, d)
            return
        name = d["_"]
        assert isinstance(y, tl.TLObject), (name, y)
        function = isinstance(y, tl.TLFunction)
        expected = spec.RENAMED.get(name, name)
        if y.TL_NAME in KEYBOARD_CONTAINERS:
            kind = button_kind(y.TL_NAME, name, self.layer)
            assert getattr(y, "type").TL_NAME == kind, (name, y)  # noqa: B009
            self.written_back(y, d)
            return
        if y.TL_NAME == spec.INLINE_ROW:
            expected = spec.INLINE_ROW
            assert name == spec.OLD_ROW
        assert y.TL_NAME == expected, (name, y.TL_NAME)
        self._read_fields(y, d, self.old_comb(name, function), set())

    def written_back(self, y: tl.TLObject, d: dict[str, Any]) -> None:
        old = self.old_comb(d["_"], False)
        self._read_fields(y, d, old, {"type"})
        self._read_fields(getattr(y, "type"), d, old, set())  # noqa: B009

    def _read_fields(
        self, y: tl.TLObject, d: dict[str, Any], old: Combinator, skip: set[str]
    ) -> None:
        old_args = {a.name: a for a in old.args if not a.is_flags}
        for f in canonical_comb(y).args:
            if f.is_flags or f.name in skip:
                continue
            yv = getattr(y, attr_name(f.name))
            a = old_args.get(f.name)
            how = None if a is None else carried(str(f.type), str(a.type), y.TL_NAME, f.name)
            where = f"{d['_']}.{f.name} (layer {self.layer})"
            if how is None:
                if not partially_carried(f.name, str(f.type), None if a is None else str(a.type)):
                    assert absent(f, yv, carried=False), (
                        f"{where}: not in the old layout, read as {yv!r}"
                    )
                continue
            assert a is not None
            dv = d.get(a.name)
            if dv is None or (dv is False and a.is_true_flag):
                assert absent(f, yv, carried=True), f"{where}: absent, read as {yv!r}"
            elif how == "bool":
                assert bool(yv) == bool(dv), where
            elif how == "number":
                assert yv == as_number(dv, f.type.name), (where, yv, dv)
            elif isinstance(dv, list):
                assert isinstance(yv, list) and len(yv) == len(dv), where
                for i, item in enumerate(dv):
                    self.read(item, yv[i])
            else:
                self.read(dv, yv)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def as_number(v: float, tl_type: str) -> float:
    """``int`` <-> ``double`` fields: truncated and clamped to the TL type (spec)."""
    if tl_type == "double":
        return float(v)
    bits = 31 if tl_type == "int" else 63
    if math.isnan(v):
        return 0
    return int(max(min(v, 2**bits - 1), -(2**bits)))


# --- strategies ---------------------------------------------------------------------------------


def keyboard_parts() -> set[str]:
    return {spec.INLINE_ROW, spec.INLINE_BUTTON} | {
        k for k, _ in spec.INLINE_BUTTONS + spec.REPLY_BUTTONS
    }


@cache
def expressible(layer: int) -> frozenset[str]:
    """Canonical constructors a random object for ``layer`` may use where the old layer
    carries the value (fixpoint over required carried fields: a constructor whose such field
    has no expressible value is left out; ``free_fields`` need none)."""
    mod = layers.module(layer)
    assert mod is not None
    ix = index(spec.NEWEST)
    # Keyboard parts are written inside keyboards; the values of derived fields (reply_to)
    # are spread over old fields, never written as objects -- but what a rule refuses is not
    # expressible.
    derived = {
        c.name
        for d in spec.DERIVED
        if d.new_type not in index(layer).by_type
        for c in ix.by_type.get(d.new_type, [])
        if c.name not in d.refuses
    }
    allowed = keyboard_parts() | derived
    ok = {name for name in ix.ctors if name not in mod.NO_EQUIVALENT or name in allowed}
    changed = True
    while changed:
        changed = False
        for name in sorted(ok):
            if not makeable(ix.ctors[name], ok, layer):
                ok.discard(name)
                changed = True
    return frozenset(ok)


@cache
def free_fields(layer: int, name: str, function: bool) -> frozenset[str]:
    """Fields of canonical ``name`` that ``layer`` does not carry by name and type: left out
    (connectedBot.rights in 198) or converted by a rule of ``spec`` that takes any value
    (togglePaidReactionPrivacy.private). Any canonical value will do there; a field whose
    rule refuses some values (``spec.Derived.refuses``) is not free."""
    c = index(spec.NEWEST).comb(name, function)
    if name in KEYBOARD_CONTAINERS or name in (spec.INLINE_MARKUP, spec.INLINE_ROW):
        return frozenset()
    old = (index(layer).fns if function else index(layer).ctors).get(name)
    if old is None:
        return frozenset()
    old_args = {a.name: a for a in old.args if not a.is_flags}
    strict = {(d.new, d.new_type) for d in spec.DERIVED if d.refuses}
    out = set()
    for f in c.args:
        if f.is_flags or (f.name, str(f.type)) in strict:
            continue
        a = old_args.get(f.name)
        if a is None or carried(str(f.type), str(a.type), name, f.name) is None:
            out.add(f.name)
    return frozenset(out)


def makeable(c: Combinator, ok: set[str] | frozenset[str], layer: int) -> bool:
    """Every required boxed field of ``c`` that ``layer`` carries has a constructor in
    ``ok``."""
    ix = index(spec.NEWEST)
    free = free_fields(layer, c.name, c.is_function)
    for a in c.args:
        if a.flag is not None or a.is_flags or a.type.item is not None or a.name in free:
            continue
        if a.type.name in PRIMS or a.type.generic_ref or a.type.name == "Object":
            continue
        if not any(x.name in ok for x in ix.by_type.get(a.type.name, [])):
            return False
    return True


class Gen:
    """Random objects: canonical ones a layer can express, or old-layer dicts it can read."""

    def __init__(self, layer: int, *, old: bool) -> None:
        self.layer = layer
        self.old = old
        self.ix = index(layer) if old else index(spec.NEWEST)
        self.mod = layers.module(layer)
        self._choices: dict[tuple[str, bool, str], list[Combinator]] = {}

    def allowed(self, c: Combinator, context: str) -> bool:
        if not self.old:
            return c.name in expressible(self.layer)
        assert self.mod is not None
        if c.result.name == "KeyboardButton":
            return button_kind(context or spec.REPLY_BUTTON, c.name, self.layer) is not None
        return c.name not in self.mod.OLD_ONLY

    def choices(self, tname: str, shallow: bool, context: str) -> list[Combinator]:
        key = (tname, shallow, context)
        if key not in self._choices:
            ctors = [c for c in self.ix.by_type.get(tname, []) if self.allowed(c, context)]
            if shallow:
                ctors = [c for c in ctors if not self._needs_objects(c)] or ctors
            self._choices[key] = sorted(ctors, key=lambda c: c.name)
        return self._choices[key]

    @staticmethod
    def _needs_objects(c: Combinator) -> bool:
        return any(
            a.flag is None
            and not a.is_flags
            and a.type.item is None
            and a.type.name not in PRIMS
            and not a.type.generic_ref
            for a in c.args
        )

    def possible(self, ref: TypeRef, context: str) -> bool:
        """Whether a value of ``ref`` can be made at all (vectors can stay empty)."""
        if ref.item is not None or ref.name in PRIMS or ref.generic_ref or ref.name == "Object":
            return True
        return bool(self.choices(ref.name, False, context))

    def value(self, ref: TypeRef, depth: int, context: str = "") -> st.SearchStrategy[Any]:
        if ref.item is not None:
            no_items = not self.possible(ref.item, context)
            if no_items or (depth >= MAX_DEPTH and ref.item.name not in PRIMS):
                return st.just([])
            return st.lists(self.value(ref.item, depth, context), max_size=2)
        if ref.name in PRIMS:
            return base.value(ref, depth)
        if ref.generic_ref or ref.name == "Object":
            return st.just(self._get_config())
        return st.deferred(lambda: self.boxed(ref.name, depth + 1, context))

    def _get_config(self) -> Any:
        if self.old:
            return {"_": "help.getConfig"}
        from loopgram.tl.functions.help import GetConfig

        return GetConfig()

    def boxed(self, tname: str, depth: int, context: str = "") -> st.SearchStrategy[Any]:
        ctors = self.choices(tname, depth >= MAX_DEPTH, context)
        if not ctors:
            return st.nothing()
        return st.sampled_from(ctors).flatmap(lambda c: self.obj(c, depth, context))

    def obj(self, c: Combinator, depth: int = 0, context: str = "") -> st.SearchStrategy[Any]:
        """Fields sharing a flag bit are present or absent together, as TL requires."""
        if self.old and c.name == spec.INLINE_MARKUP:
            inner = spec.INLINE_BUTTON  # an old inline keyboard: rows of inline buttons
        elif self.old and c.name == spec.OLD_ROW:
            inner = context
        else:
            inner = ""
        free = self.free(c)
        groups: dict[tuple[str, int], list[Any]] = {}
        for a in c.args:
            if a.flag is not None:
                groups.setdefault((a.flag.field, a.flag.bit), []).append(a)
        parts: list[st.SearchStrategy[dict[str, Any]]] = []
        for members in groups.values():
            can = all(
                a.name in free or self.possible(a.type, inner)
                for a in members
                if not a.is_true_flag
            )
            switch = st.booleans() if can else st.just(False)
            group = partial(self._group, members, depth=depth, context=inner, free=free)
            parts.append(switch.flatmap(group))
        for a in c.args:
            if a.flag is None and not a.is_flags:
                v = self.field_value(a, depth, inner, free)
                parts.append(st.fixed_dictionaries({a.name: v}))
        return st.tuples(*parts).map(lambda t: self.build(c, t))

    def free(self, c: Combinator) -> frozenset[str]:
        return frozenset() if self.old else free_fields(self.layer, c.name, c.is_function)

    def field_value(
        self, a: Any, depth: int, context: str, free: frozenset[str]
    ) -> st.SearchStrategy[Any]:
        # A value the old layer never writes as such: anything canonical.
        if a.name in free:
            return base.value(a.type, depth)
        return self.value(a.type, depth, context)

    def _group(
        self,
        members: list[Any],
        on: bool,
        *,
        depth: int,
        context: str,
        free: frozenset[str],
    ) -> st.SearchStrategy[dict[str, Any]]:
        fields: dict[str, st.SearchStrategy[Any]] = {}
        for a in members:
            if a.is_true_flag:
                fields[a.name] = st.just(on)
            else:
                fields[a.name] = self.field_value(a, depth, context, free) if on else st.none()
        return st.fixed_dictionaries(fields)

    def build(self, c: Combinator, parts: tuple[dict[str, Any], ...]) -> Any:
        kw: dict[str, Any] = {}
        for p in parts:
            kw.update(p)
        if self.old:
            return {"_": c.name, **kw}
        return base.class_of(c)(**{attr_name(k): v for k, v in kw.items()})


def filled(g: Gen, c: Combinator, *, optional: bool, depth: int = 0, context: str = "") -> Any:
    """A deterministic object of ``c``: every field set (``optional``) or only required ones.

    Nested boxed fields take the first allowed constructor by name that needs no further
    objects once deep enough (the richest one near the top).
    """
    inner = ""
    if g.old and c.name == spec.INLINE_MARKUP:
        inner = spec.INLINE_BUTTON
    elif g.old and c.name == spec.OLD_ROW:
        inner = context
    kw: dict[str, Any] = {}
    free = g.free(c)
    groups: dict[tuple[str, int], list[Any]] = {}
    for a in c.args:
        if a.flag is not None:
            groups.setdefault((a.flag.field, a.flag.bit), []).append(a)
    for a in c.args:
        if a.is_flags or (a.flag is not None and not optional):
            continue
        if a.flag is not None:
            members = groups[(a.flag.field, a.flag.bit)]
            if not all(
                m.name in free or g.possible(m.type, inner) for m in members if not m.is_true_flag
            ):
                continue
        if a.name in free:
            kw[a.name] = base._filled_value(a.type, optional and depth < MAX_DEPTH, depth)
        else:
            kw[a.name] = _filled_value(g, a.type, optional, depth, inner)
    return g.build(c, ({k: v for k, v in kw.items()},))


def _filled_value(g: Gen, ref: TypeRef, optional: bool, depth: int, context: str) -> Any:
    if ref.item is not None:
        if not g.possible(ref.item, context) or (depth >= MAX_DEPTH and ref.item.name not in PRIMS):
            return []
        return [_filled_value(g, ref.item, optional, depth, context)]
    if ref.name in PRIMS:
        return base._PLAIN[ref.name]
    if ref.generic_ref or ref.name == "Object":
        return g._get_config()
    ctors = g.choices(ref.name, depth >= 1, context)
    assert ctors, ref
    pick = ctors[-1] if depth < 1 else ctors[0]
    return filled(
        g, pick, optional=optional and depth < MAX_DEPTH, depth=depth + 1, context=context
    )


@cache
def gen(layer: int, old: bool) -> Gen:
    return Gen(layer, old=old)


# --- the oracle's own tests ---------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_interp_decodes_what_the_generated_codec_writes(data: st.DataObject) -> None:
    c = data.draw(st.sampled_from(schema(spec.NEWEST).constructors))
    x = data.draw(base.obj(c))
    raw = bytes(x)
    d = Interp(spec.NEWEST).decode(raw)
    assert d["_"] == c.name
    assert Interp(spec.NEWEST).encode(d) == raw
    assert tl.read(raw) == x


def test_interp_rejects_a_constructor_of_the_wrong_type() -> None:
    from loopgram.tl import types as t

    peer_user_id = bytes(t.PeerUser(user_id=1))[:4]
    raw = bytes(t.Message(id=1, peer_id=t.PeerUser(user_id=2), date=3, message="x"))
    # chatEmpty has the same layout (one long) but is a Chat, not a Peer.
    bad = raw.replace(peer_user_id, bytes(t.ChatEmpty(id=1))[:4], 1)
    try:
        Interp(spec.NEWEST).decode(bad)
    except OracleError:
        return
    raise AssertionError("a chatEmpty id in a Peer field was accepted")


def test_is_default_holds_only_for_the_default_object_of_a_type() -> None:
    from loopgram.tl import types as t

    # Peer has no *Empty constructor: spec.DEFAULT_CONSTRUCTORS says peerUser.
    assert is_default(t.PeerUser(user_id=0))
    assert not is_default(t.PeerUser(user_id=1))
    assert not is_default(t.PeerChat(chat_id=0))
    # Otherwise the *Empty constructor.
    assert is_default(t.InputUserEmpty())
    assert not is_default(t.InputUserSelf())
    assert is_default(t.PeerNotifySettings())
    assert not is_default(t.PeerNotifySettings(silent=True))
    # Old-layer dicts by the old schema.
    assert is_default({"_": "inputUserEmpty"}, 158)
    assert not is_default({"_": "inputUserSelf"}, 158)
    assert is_default({"_": "peerUser", "user_id": 0}, 158)
    assert not is_default({"_": "peerChannel", "channel_id": 0}, 158)
