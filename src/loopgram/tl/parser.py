"""TL layer: the schema language parser (core.telegram.org/mtproto/TL, TL-combinators, TL-types).

Reads the Pyrogram/tdesktop-style schema files shipped in ``loopgram/tl/schema``: comments,
``---types---`` / ``---functions---`` sections, namespaces, ``flags:#`` fields and
``flags.N?Type`` conditionals, ``true`` flags, boxed ``Vector<T>`` and bare ``vector<T>``, bare
type references (``%T`` or a constructor name), generics (``{X:Type}`` with ``!X``) and the
``// LAYER N`` marker.

This module is self-contained (standard library only): the build hook imports it by path to
generate code before the package itself is importable.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

# Lines for these constructors describe types the codec supplies itself (Bool, true, Vector);
# some schema files carry them uncommented.
CODEC_BUILTINS = frozenset({"boolFalse", "boolTrue", "true", "vector"})

# Primitive type names that are never boxed constructors.
PRIMITIVES = frozenset(
    {"int", "long", "double", "int128", "int256", "string", "bytes", "true", "Bool", "#"}
)


class SchemaError(ValueError):
    """A schema file that does not follow the TL grammar: names the file, line and expectation."""

    def __init__(self, file: str, line: int, expected: str, text: str = "") -> None:
        self.file = file
        self.line = line
        self.expected = expected
        self.text = text
        where = f"{file}:{line}"
        super().__init__(f"{where}: expected {expected}" + (f" in {text!r}" if text else ""))


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A reference to a type in an argument or result position.

    ``name`` is the type's full name (``InputPeer``, ``messages.Messages``, ``long``,
    ``future_salt``), ``bare`` is true for ``%T``, lowercase constructor names and bare
    ``vector<T>``; ``item`` is the element type of a vector; ``generic_ref`` is true for ``!X``.
    """

    name: str
    bare: bool = False
    item: TypeRef | None = None
    generic_ref: bool = False

    @property
    def is_vector(self) -> bool:
        return self.item is not None

    def __str__(self) -> str:
        if self.item is not None:
            return f"{'vector' if self.bare else 'Vector'}<{self.item}>"
        prefix = "!" if self.generic_ref else ("%" if self.bare and self.name[:1].isupper() else "")
        return prefix + self.name


@dataclass(frozen=True, slots=True)
class Flag:
    """The condition ``field.bit?`` of a conditional argument."""

    field: str
    bit: int


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    type: TypeRef
    flag: Flag | None = None

    @property
    def is_flags(self) -> bool:
        """A ``#`` field: computed from the conditional arguments, never set by users."""
        return self.type.name == "#"

    @property
    def is_true_flag(self) -> bool:
        return self.flag is not None and self.type.name == "true"


@dataclass(frozen=True, slots=True)
class Combinator:
    """One constructor or function line of a schema."""

    name: str
    id: int
    args: tuple[Arg, ...]
    result: TypeRef
    is_function: bool
    generics: tuple[str, ...] = ()
    explicit_id: bool = True
    file: str = ""
    line: int = 0
    source: str = ""

    @property
    def namespace(self) -> str:
        return self.name.rpartition(".")[0]

    @property
    def short_name(self) -> str:
        return self.name.rpartition(".")[2]


@dataclass(slots=True)
class Schema:
    """Everything one schema file (or several concatenated) declares."""

    constructors: list[Combinator] = field(default_factory=list)
    functions: list[Combinator] = field(default_factory=list)
    layer: int | None = None

    def extend(self, other: Schema) -> None:
        self.constructors.extend(other.constructors)
        self.functions.extend(other.functions)
        if other.layer is not None:
            self.layer = other.layer

    def constructor(self, name: str) -> Combinator:
        for c in self.constructors:
            if c.name == name:
                return c
        raise KeyError(name)

    def function(self, name: str) -> Combinator:
        for c in self.functions:
            if c.name == name:
                return c
        raise KeyError(name)


_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?"
_HEAD = re.compile(rf"^(?P<name>{_NAME})(?:#(?P<id>[0-9a-fA-F]{{1,8}}))?(?=\s|$)")
_ARG = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*):(?P<type>\S+)$")
_GENERIC = re.compile(r"^\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):Type\}$")
_COND = re.compile(r"^(?P<field>[A-Za-z_][A-Za-z0-9_]*)\.(?P<bit>[0-9]+)\?(?P<type>.+)$")
_TYPE = re.compile(rf"^(?P<bang>!)?(?P<pct>%)?(?P<name>{_NAME}|#)(?:<(?P<item>.+)>)?$")
_LAYER = re.compile(r"^//\s*LAYER\s+(?P<n>[0-9]+)\s*$")


def normalise(line: str) -> str:
    """The text whose CRC32 is a combinator's id (core.telegram.org/mtproto/TL-abstract-types).

    Drop ``#id`` and ``;``, drop every ``name:flags.N?true`` argument, write a field type
    ``bytes`` as ``string`` (only right after ``:`` or ``?``), ``<`` becomes a space, drop
    ``>``, ``{`` and ``}``, collapse spaces.
    """
    text = line.strip().rstrip(";").strip()
    text = re.sub(r"^(\S+?)#[0-9a-fA-F]+", r"\1", text)
    text = re.sub(
        r"\s[A-Za-z_][A-Za-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*\.[0-9]+\?true(?=\s|$)", "", text
    )
    text = re.sub(r"([:?])bytes(?=\s|$)", r"\1string", text)
    text = text.replace("<", " ").replace(">", "").replace("{", "").replace("}", "")
    return " ".join(text.split())


def crc32_of(line: str) -> int:
    return zlib.crc32(normalise(line).encode("utf-8"))


def _parse_type(text: str, file: str, line_no: int, generics: tuple[str, ...]) -> TypeRef:
    m = _TYPE.match(text)
    if m is None:
        raise SchemaError(file, line_no, "a type name", text)
    name = m.group("name")
    item_text = m.group("item")
    if m.group("bang"):
        if name not in generics:
            raise SchemaError(file, line_no, f"a declared generic after '!' (got {name!r})", text)
        return TypeRef(name=name, generic_ref=True)
    if item_text is not None:
        if name not in ("Vector", "vector"):
            raise SchemaError(file, line_no, "Vector<T> or vector<T>", text)
        item = _parse_type(item_text, file, line_no, generics)
        return TypeRef(name="Vector", bare=name == "vector", item=item)
    short = name.rpartition(".")[2]
    bare = bool(m.group("pct")) or (short[:1].islower() and name not in PRIMITIVES)
    return TypeRef(name=name, bare=bare)


def parse_line(
    text: str, *, is_function: bool, file: str = "<string>", line_no: int = 0
) -> Combinator:
    """Parse one combinator declaration (with or without its trailing ``;``)."""
    body = text.strip()
    if not body.endswith(";"):
        raise SchemaError(file, line_no, "';' at the end of the declaration", text)
    body = body[:-1].strip()
    left, eq, right = body.partition("=")
    if not eq:
        raise SchemaError(file, line_no, "'= ResultType'", text)
    parts = left.split()
    if not parts:
        raise SchemaError(file, line_no, "a combinator name", text)
    head = _HEAD.match(parts[0])
    if head is None or head.end() != len(parts[0]):
        raise SchemaError(file, line_no, "a combinator name with an optional #hex id", text)
    name = head.group("name")
    generics: list[str] = []
    args: list[Arg] = []
    flag_fields: set[str] = set()
    for token in parts[1:]:
        g = _GENERIC.match(token)
        if g is not None:
            generics.append(g.group("name"))
            continue
        a = _ARG.match(token)
        if a is None:
            raise SchemaError(file, line_no, "an argument 'name:Type'", token)
        arg_name, type_text = a.group("name"), a.group("type")
        flag: Flag | None = None
        cond = _COND.match(type_text)
        if cond is not None:
            if cond.group("field") not in flag_fields:
                raise SchemaError(
                    file, line_no, f"a '#' field named {cond.group('field')!r} before it", token
                )
            bit = int(cond.group("bit"))
            if bit > 31:
                raise SchemaError(file, line_no, "a flag bit between 0 and 31", token)
            flag = Flag(cond.group("field"), bit)
            type_text = cond.group("type")
        ref = _parse_type(type_text, file, line_no, tuple(generics))
        if ref.name == "#":
            if flag is not None:
                raise SchemaError(file, line_no, "an unconditional '#' field", token)
            flag_fields.add(arg_name)
        args.append(Arg(arg_name, ref, flag))
    result_text = right.strip()
    if not result_text:
        raise SchemaError(file, line_no, "a result type after '='", text)
    if " " in result_text:
        raise SchemaError(file, line_no, "a single result type", text)
    if result_text in generics:
        result = TypeRef(name=result_text, generic_ref=True)
    else:
        result = _parse_type(result_text, file, line_no, tuple(generics))
    explicit = head.group("id") is not None
    cid = int(head.group("id"), 16) if explicit else crc32_of(body)
    return Combinator(
        name=name,
        id=cid,
        args=tuple(args),
        result=result,
        is_function=is_function,
        generics=tuple(generics),
        explicit_id=explicit,
        file=file,
        line=line_no,
        source=body + ";",
    )


def parse(text: str, file: str = "<string>") -> Schema:
    """Parse a whole schema file's text."""
    schema = Schema()
    is_function = False
    pending = ""
    pending_line = 0
    for line_no, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        layer = _LAYER.match(stripped)
        if layer is not None:
            schema.layer = int(layer.group("n"))
            continue
        comment = stripped.find("//")
        if comment >= 0:
            stripped = stripped[:comment].strip()
        if not stripped:
            continue
        if stripped == "---functions---":
            is_function = True
            continue
        if stripped == "---types---":
            is_function = False
            continue
        if stripped.startswith("---"):
            raise SchemaError(file, line_no, "'---types---' or '---functions---'", stripped)
        if not pending:
            pending_line = line_no
        pending = f"{pending} {stripped}".strip()
        if not pending.endswith(";"):
            continue
        decl, pending = pending, ""
        head = decl.split(None, 1)[0].split("#", 1)[0]
        if head in CODEC_BUILTINS:
            continue
        comb = parse_line(decl, is_function=is_function, file=file, line_no=pending_line)
        (schema.functions if is_function else schema.constructors).append(comb)
    if pending:
        raise SchemaError(file, pending_line, "';' at the end of the declaration", pending)
    return schema


def parse_file(path: str | Path) -> Schema:
    p = Path(path)
    return parse(p.read_text(encoding="utf-8"), file=str(p))
