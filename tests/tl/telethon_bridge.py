"""A generic bridge between loopgram's TL objects and Telethon's, matched by constructor id.

Telethon (the interop oracle, a test extra) names fields like the schema does, with two
differences that matter here: the field ``self`` is ``is_self`` there (``self_`` here), and
``int`` fields whose names look like dates (``date``, ``*_until``, ``expires``...) come back
from its reader as timezone-aware ``datetime``s. Both sides use a trailing underscore for
Python keywords (``from_``).
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from telethon.extensions import BinaryReader
from telethon.tl.alltlobjects import tlobjects
from telethon.tl.tlobject import TLObject as TelethonObject

from loopgram.tl import core
from loopgram.tl.core import TLObject

_U32 = struct.Struct("<I")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def telethon_field(attr: str) -> str:
    """The Telethon attribute for one of our slot names."""
    return "is_self" if attr == "self_" else attr


@cache
def loopgram_classes() -> dict[int, type[TLObject]]:
    """Every generated (and builtin) class of ours, by constructor id."""
    core._ensure_registry()
    out: dict[int, type[TLObject]] = {}
    for cid, reader in core.OBJECTS.items():
        cls = getattr(reader, "__self__", None)
        if isinstance(cls, type) and issubclass(cls, TLObject):
            out[cid] = cls
    return out


def _generated(cls: type[TelethonObject]) -> type[TelethonObject]:
    for k in cls.__mro__:
        if k.__module__.startswith(("telethon.tl.types", "telethon.tl.functions")):
            return k
    return cls


@cache
def raw_tlobjects() -> dict[int, type[TelethonObject]]:
    """Telethon's codec classes by constructor id, without its client-side patches.

    ``telethon.tl.patched`` swaps ``message``/``messageService``/``messageEmpty`` for
    subclasses of ``telethon.tl.custom.Message`` whose ``__init__`` changes the data: it drops
    ``media=messageMediaEmpty`` and rewrites non-positive ``PeerChat``/``PeerChannel`` ids in
    place (``utils.get_peer_id``). That is client convenience, not TL: the oracle uses the
    generated classes underneath.
    """
    return {cid: _generated(cls) for cid, cls in tlobjects.items()}


def telethon_class(cid: int) -> type[TelethonObject]:
    return raw_tlobjects()[cid]


def to_telethon(value: Any) -> Any:
    """Our value (object, list or primitive) as the equivalent Telethon value."""
    if isinstance(value, TLObject):
        cls = telethon_class(value.CONSTRUCTOR_ID)
        names: tuple[str, ...] = value.__slots__
        kwargs = {telethon_field(n): to_telethon(getattr(value, n)) for n in names}
        return cls(**kwargs)
    if isinstance(value, list):
        return [to_telethon(v) for v in value]
    return value


def from_telethon(value: Any) -> Any:
    """A Telethon value as ours: datetimes become the int timestamps TL carries."""
    if isinstance(value, TelethonObject):
        cls = loopgram_classes()[type(value).CONSTRUCTOR_ID]
        names: tuple[str, ...] = cls.__slots__
        kwargs = {n: from_telethon(getattr(value, telethon_field(n))) for n in names}
        return cls(**kwargs)
    if isinstance(value, list):
        return [from_telethon(v) for v in value]
    if isinstance(value, datetime):
        return (value - EPOCH) // _SECOND
    return value


def telethon_bytes(obj: TelethonObject) -> bytes:
    return bytes(obj)


class RawReader(BinaryReader):  # type: ignore[misc]  # Telethon is untyped
    """Telethon's ``BinaryReader`` dispatching to the generated classes (``raw_tlobjects``)."""

    def tgread_object(self) -> Any:
        (cid,) = _U32.unpack_from(self.stream, self.position)
        cls = raw_tlobjects().get(cid)
        if cls is None:  # Bool, vector and Telethon's hand-written core objects
            return super().tgread_object()
        self.position += 4
        return cls.from_reader(self)


def telethon_read(data: bytes, *, patched: bool = False) -> Any:
    """Parse one boxed object with Telethon's reader, insisting that it uses all the data.

    ``patched``: through Telethon's own dispatch table, as a Telethon client would (messages
    come back as ``telethon.tl.custom.Message``).
    """
    reader = BinaryReader(data) if patched else RawReader(data)
    value = reader.tgread_object()
    if reader.tell_position() != len(data):
        raise AssertionError(
            f"Telethon read {reader.tell_position()} of {len(data)} bytes for {value!r}"
        )
    return value
