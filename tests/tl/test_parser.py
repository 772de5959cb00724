"""The TL parser: the language features the shipped schemas use, and clear errors."""

from __future__ import annotations

import pytest

from loopgram.tl.parser import SchemaError, parse


def test_sections_namespaces_flags_vectors_generics_and_layer() -> None:
    schema = parse(
        """
// a comment
---types---
a.b#00000001 flags:# x:flags.0?true y:flags.1?Vector<int> flags2:# z:flags2.3?%Foo = a.B;
c#00000002 v:vector<a.b> w:Vector<Vector<long>> = C;  // trailing comment
---functions---
invokeWithLayer#da9b0d0d {X:Type} layer:int query:!X = X;
// LAYER 7
""",
        file="t.tl",
    )
    assert schema.layer == 7
    ab, c = schema.constructors
    assert ab.namespace == "a" and ab.short_name == "b"
    x, y, flags2, z = ab.args[1:]
    assert x.is_true_flag and x.flag is not None and x.flag.bit == 0
    assert y.type.is_vector and y.type.item is not None and y.type.item.name == "int"
    assert flags2.is_flags
    assert z.flag is not None and z.flag.field == "flags2" and z.type.bare
    v, w = c.args
    assert v.type.bare and v.type.item is not None and v.type.item.bare
    assert w.type.item is not None and w.type.item.item is not None
    (fn,) = schema.functions
    assert fn.is_function and fn.generics == ("X",)
    assert fn.args[1].type.generic_ref and fn.result.generic_ref


def test_codec_builtins_are_skipped_even_when_uncommented() -> None:
    schema = parse(
        "boolTrue#997275b5 = Bool;\nvector#1cb5c415 {t:Type} # [ t ] = Vector t;\nx#00000003 = X;\n"
    )
    assert [c.name for c in schema.constructors] == ["x"]


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("a#1 = A;\nb#2 x:Int\n", 2, "';' at the end"),
        ("a#1 x = A;", 1, "an argument 'name:Type'"),
        ("\n\na#1 x:flags.0?int = A;", 3, "a '#' field named 'flags'"),
        ("a#1 x:Foo<int> = A;", 1, "Vector<T> or vector<T>"),
        ("a#1 q:!X = A;", 1, "a declared generic"),
        ("a#1 x:int;", 1, "'= ResultType'"),
        ("---bogus---", 1, "'---types---' or '---functions---'"),
        ("a#zz = A;", 1, "a combinator name"),
    ],
)
def test_malformed_schema_names_file_line_and_expectation(
    text: str, line: int, expected: str
) -> None:
    with pytest.raises(SchemaError) as info:
        parse(text, file="bad.tl")
    err = info.value
    assert err.file == "bad.tl"
    assert err.line == line
    assert expected in err.expected
    assert str(err).startswith(f"bad.tl:{line}: expected ")
