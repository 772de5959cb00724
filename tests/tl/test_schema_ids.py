"""Every explicit #id in every shipped schema equals CRC32 of its normalised line."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopgram.tl.codegen import SCHEMA_DIR
from loopgram.tl.parser import crc32_of, normalise, parse_file

SCHEMAS = sorted(p.relative_to(SCHEMA_DIR).as_posix() for p in SCHEMA_DIR.rglob("*.tl"))

# The MTProto service schema declares these with ids that are not the CRC32 of their text
# (Telegram's own files say so); they are taken as written.
EXCEPTIONS = {
    "ipPortSecret": 0x37982646,
    "accessPointRule": 0x4679B65F,
    "help.configSimple": 0x5A592A6C,
}


def test_every_shipped_layer_is_present() -> None:
    assert SCHEMAS == [
        "api.tl",
        "layer158/api.tl",
        "layer198/api.tl",
        "layer198/mtproto.tl",
        "layer227/api.tl",
        "mtproto.tl",
    ]


@pytest.mark.parametrize("name", SCHEMAS)
def test_explicit_ids_are_crc32_of_the_normalised_line(name: str) -> None:
    schema = parse_file(SCHEMA_DIR / name)
    checked = 0
    for c in schema.constructors + schema.functions:
        if not c.explicit_id:
            continue
        if c.name in EXCEPTIONS:
            assert c.id == EXCEPTIONS[c.name]
            assert crc32_of(c.source) != c.id
            continue
        assert crc32_of(c.source) == c.id, f"{name}:{c.line} {c.name}: {normalise(c.source)!r}"
        checked += 1
    assert checked > 40


def test_layer_229_counts_match_telethon_1_45() -> None:
    schema = parse_file(SCHEMA_DIR / "api.tl")
    assert schema.layer == 229
    assert len(schema.constructors) + len(schema.functions) == 2465


def test_normalisation_follows_the_documented_rule() -> None:
    line = (
        "messages.setBotCallbackAnswer#d58f130a flags:# alert:flags.1?true query_id:long "
        "message:flags.0?string url:flags.2?string cache_time:int = Bool;"
    )
    assert normalise(line) == (
        "messages.setBotCallbackAnswer flags:# query_id:long message:flags.0?string "
        "url:flags.2?string cache_time:int = Bool"
    )
    assert crc32_of(line) == 0xD58F130A
    # bytes becomes string only as a field type; Vector<bytes> keeps it.
    assert normalise("a#1 b:bytes c:Vector<bytes> = A;") == "a b:string c:Vector bytes = A"
    assert normalise("i {X:Type} q:!X = X;") == "i X:Type q:!X = X"


def test_ids_without_hash_are_computed(tmp_path: Path) -> None:
    f = tmp_path / "x.tl"
    f.write_text("ipPort ipv4:int port:int = IpPort;\n")
    (c,) = parse_file(f).constructors
    assert c.id == 0xD433AD73
    assert not c.explicit_id
