"""TL layer: the binary codec runtime (core.telegram.org/mtproto/serialize).

Everything the generated classes stand on: the ``TLObject`` / ``TLFunction`` bases, the
``Reader``, the primitive readers and writers (int, long, double, int128, int256, string,
bytes, Bool, boxed and bare vectors), boxed-object dispatch by constructor id with a nesting
limit, transparent ``gzip_packed``, and the builtins that the schemas leave to the codec
(``rpc_result``, ``msg_container``, ``message``, ``gzip_packed``).

Every failure to decode is a ``TLDecodeError`` naming the offset and the problem.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Generic, Self, TypeVar

from loopgram import LoopgramError

R = TypeVar("R")

MAX_DEPTH = 64
"""Deepest nesting of boxed objects a reader accepts before giving up."""

MAX_GZIP_SIZE = 16 * 1024 * 1024
"""Default inflate budget of one decode: the most bytes all the ``gzip_packed`` objects read
in one call of ``read`` (or through one ``Reader``) may inflate to, together. A budget per
object would not do: every typed field accepts ``gzip_packed``, so a request holding many
small bombs would inflate without bound."""

VECTOR_ID = 0x1CB5C415
BOOL_TRUE_ID = 0x997275B5
BOOL_FALSE_ID = 0xBC799737
GZIP_PACKED_ID = 0x3072CFA1
RPC_RESULT_ID = 0xF35C6D01
MSG_CONTAINER_ID = 0x73F1F8DC

_I = struct.Struct("<I")
_i = struct.Struct("<i")
_q = struct.Struct("<q")
_II = struct.Struct("<II")
_qii = struct.Struct("<qii")
_Iq = struct.Struct("<Iq")
_new = object.__new__

TRUE_BYTES = _I.pack(BOOL_TRUE_ID)
FALSE_BYTES = _I.pack(BOOL_FALSE_ID)
_PADS = (b"", b"\0", b"\0\0", b"\0\0\0")


class TLError(LoopgramError):
    """Base class of TL codec errors."""


class TLDecodeError(TLError):
    """Bytes that are not a valid serialisation: names the offset and the problem.

    This is the only exception ``read`` raises for bad input: truncated data, an unknown
    constructor id, a vector or string length beyond the data, nesting deeper than
    ``MAX_DEPTH``, a gzip payload that does not inflate.
    """

    def __init__(self, offset: int, problem: str) -> None:
        self.offset = offset
        self.problem = problem
        super().__init__(f"at offset {offset}: {problem}")


class InflateLimitError(TLDecodeError):
    """``gzip_packed`` data that would inflate beyond what is left of the decode's budget
    (``Reader.budget``): the input is refused as too large, not as malformed."""


class TLEncodeError(TLError):
    """A value that cannot be serialised (a string over 16 MiB, a wrong type...)."""


class Reader:
    """A position in a buffer being decoded; generated ``_read`` methods advance ``pos``.

    ``budget`` is what the ``gzip_packed`` objects met through this reader may still inflate
    to, together (see :data:`MAX_GZIP_SIZE`); ``packed`` marks the reader of an inflated
    payload, where ``gzip_packed`` is refused: compression inside compression only serves
    to multiply a bomb (96 inner bombs in one outer one took 2.8 GB).
    """

    __slots__ = ("budget", "data", "depth", "packed", "pos")

    def __init__(
        self, data: bytes, pos: int = 0, budget: int = MAX_GZIP_SIZE, packed: bool = False
    ) -> None:
        self.data = data
        self.pos = pos
        self.depth = 0
        self.budget = budget
        self.packed = packed

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos


Table = dict[int, Callable[[Reader], Any]]


def _to_plain(value: Any) -> Any:
    if isinstance(value, TLObject):
        return value.to_dict()
    if isinstance(value, list):
        return [_to_plain(v) for v in value]
    return value


class TLObject:
    """Base of every TL constructor and function."""

    __slots__ = ()
    _FIELDS: ClassVar[tuple[str, ...]] = ()
    CONSTRUCTOR_ID: ClassVar[int] = 0
    TL_NAME: ClassVar[str] = ""

    def _write(self, o: bytearray) -> None:
        raise NotImplementedError

    @classmethod
    def _read(cls, r: Reader) -> Self:
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        o = bytearray()
        self._write(o)
        return bytes(o)

    def _fields(self) -> Iterable[tuple[str, Any]]:
        for name in self._FIELDS:
            yield name, getattr(self, name)

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._FIELDS)

    __hash__ = None  # type: ignore[assignment]  # mutable value objects

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={v!r}" for n, v in self._fields())
        return f"{type(self).__name__}({inner})"

    def to_dict(self) -> dict[str, Any]:
        """A plain dict: ``'_'`` is the TL name, nested objects become dicts too."""
        d: dict[str, Any] = {"_": self.TL_NAME}
        for n, v in self._fields():
            d[n] = _to_plain(v)
        return d


class TLFunction(TLObject, Generic[R]):
    """Base of TL functions: knows how to read its own result."""

    __slots__ = ()

    def _read_result(self, r: Reader) -> R:
        raise NotImplementedError

    def read_result(self, data: bytes) -> R:
        """Parse the serialised result of this function (the body of its ``rpc_result``)."""
        return _guarded(data, self._read_result)


# --- primitive writers ---------------------------------------------------------------------


def write_bytes(o: bytearray, b: bytes) -> None:
    n = len(b)
    if n < 254:
        o.append(n)
        o += b
        pad = (-(n + 1)) & 3
    elif n <= 0xFFFFFF:
        o += _I.pack((n << 8) | 254)
        o += b
        pad = (-n) & 3
    else:
        raise TLEncodeError(f"a TL string holds at most 16 MiB - 1 bytes, got {n}")
    if pad:
        o += _PADS[pad]


_SHORT_PADS = tuple(_PADS[(-(n + 1)) & 3] for n in range(4))


def write_string(o: bytearray, s: str) -> None:
    b = s.encode("utf-8")
    n = len(b)
    if n < 254:
        # The common case inline: one length byte, the text, padding to 4.
        o.append(n)
        o += b
        o += _SHORT_PADS[n & 3]
    else:
        write_bytes(o, b)


def write_int128(o: bytearray, v: int) -> None:
    o += v.to_bytes(16, "little", signed=True)


def write_int256(o: bytearray, v: int) -> None:
    o += v.to_bytes(32, "little", signed=True)


def write_vector_int(o: bytearray, v: list[int]) -> None:
    o += _II.pack(VECTOR_ID, len(v))
    o += struct.pack(f"<{len(v)}i", *v)


def write_vector_long(o: bytearray, v: list[int]) -> None:
    o += _II.pack(VECTOR_ID, len(v))
    o += struct.pack(f"<{len(v)}q", *v)


def write_vector_double(o: bytearray, v: list[float]) -> None:
    o += _II.pack(VECTOR_ID, len(v))
    o += struct.pack(f"<{len(v)}d", *v)


def write_vector_header(o: bytearray, n: int) -> None:
    o += _II.pack(VECTOR_ID, n)


# --- primitive readers ---------------------------------------------------------------------


def _truncated(r: Reader, need: int, what: str) -> TLDecodeError:
    return TLDecodeError(r.pos, f"{what} needs {need} bytes, {r.remaining} left")


def read_int(r: Reader) -> int:
    p = r.pos
    if p + 4 > len(r.data):
        raise _truncated(r, 4, "int")
    r.pos = p + 4
    v: int = _i.unpack_from(r.data, p)[0]
    return v


def read_fixed(r: Reader, s: struct.Struct) -> Any:
    """One fixed-size value (long, double, flags) through a precompiled struct."""
    p = r.pos
    if p + s.size > len(r.data):
        raise _truncated(r, s.size, "value")
    r.pos = p + s.size
    return s.unpack_from(r.data, p)[0]


def read_bytes(r: Reader) -> bytes:
    d = r.data
    p = r.pos
    size = len(d)
    if p >= size:
        raise _truncated(r, 1, "string length")
    n = d[p]
    if n < 254:
        start = p + 1
        end = start + n
        nxt = p + ((n + 4) & ~3)
    elif n == 254:
        if p + 4 > size:
            raise _truncated(r, 4, "long string length")
        n = d[p + 1] | (d[p + 2] << 8) | (d[p + 3] << 16)
        start = p + 4
        end = start + n
        nxt = p + ((n + 7) & ~3)
    else:
        raise TLDecodeError(p, "string length prefix 0xff is not valid")
    if nxt > size:
        raise TLDecodeError(p, f"string length {n} goes beyond the data ({size - start} left)")
    r.pos = nxt
    return d[start:end]


def read_string(r: Reader) -> str:
    d = r.data
    p = r.pos
    if p < len(d):
        n = d[p]
        if n < 254:
            nxt = p + ((n + 4) & ~3)
            if nxt <= len(d):
                r.pos = nxt
                return d[p + 1 : p + 1 + n].decode("utf-8", "replace")
    # Long strings and every error case take the general path.
    return read_bytes(r).decode("utf-8", "replace")


def read_int128(r: Reader) -> int:
    p = r.pos
    if p + 16 > len(r.data):
        raise _truncated(r, 16, "int128")
    r.pos = p + 16
    return int.from_bytes(r.data[p : p + 16], "little", signed=True)


def read_int256(r: Reader) -> int:
    p = r.pos
    if p + 32 > len(r.data):
        raise _truncated(r, 32, "int256")
    r.pos = p + 32
    return int.from_bytes(r.data[p : p + 32], "little", signed=True)


def read_bool(r: Reader) -> bool:
    p = r.pos
    if p + 4 > len(r.data):
        raise _truncated(r, 4, "Bool")
    cid = _I.unpack_from(r.data, p)[0]
    r.pos = p + 4
    if cid == BOOL_TRUE_ID:
        return True
    if cid == BOOL_FALSE_ID:
        return False
    raise TLDecodeError(p, f"expected a Bool, got constructor {cid:#010x}")


def read_vector_count(r: Reader, item_size: int) -> int:
    """Read a boxed vector's id and count, checking the count against the data left."""
    p = r.pos
    if p + 8 > len(r.data):
        raise _truncated(r, 8, "vector header")
    cid, n = _II.unpack_from(r.data, p)
    if cid != VECTOR_ID:
        raise TLDecodeError(p, f"expected a vector, got constructor {cid:#010x}")
    r.pos = p + 8
    return _check_count(r, n, item_size)


def read_bare_vector_count(r: Reader, item_size: int) -> int:
    p = r.pos
    if p + 4 > len(r.data):
        raise _truncated(r, 4, "vector count")
    n = _I.unpack_from(r.data, p)[0]
    r.pos = p + 4
    return _check_count(r, n, item_size)


def _check_count(r: Reader, n: int, item_size: int) -> int:
    if n * item_size > len(r.data) - r.pos:
        raise TLDecodeError(
            r.pos - 4, f"vector length {n} goes beyond the data ({r.remaining} bytes left)"
        )
    return n


def _read_fixed_vector(r: Reader, n: int, code: str, size: int) -> list[Any]:
    p = r.pos
    r.pos = p + n * size
    return list(struct.unpack_from(f"<{n}{code}", r.data, p))


def read_vector_int(r: Reader) -> list[int]:
    return _read_fixed_vector(r, read_vector_count(r, 4), "i", 4)


def read_vector_long(r: Reader) -> list[int]:
    return _read_fixed_vector(r, read_vector_count(r, 8), "q", 8)


def read_vector_double(r: Reader) -> list[float]:
    return _read_fixed_vector(r, read_vector_count(r, 8), "d", 8)


_unpack_id = _I.unpack_from


def read_boxed(r: Reader, table: Table) -> Any:
    """Read a constructor id and dispatch to the reader registered for it in ``table``."""
    p = r.pos
    # A short buffer makes unpack_from raise struct.error, which the entry points turn into
    # a TLDecodeError at this offset: cheaper than checking the length on every object.
    cid = _unpack_id(r.data, p)[0]
    try:
        reader = table[cid]
    except KeyError:
        raise TLDecodeError(p, f"unknown or unexpected constructor id {cid:#010x}") from None
    depth = r.depth
    if depth >= MAX_DEPTH:
        raise TLDecodeError(p, f"objects nested deeper than {MAX_DEPTH}")
    r.pos = p + 4
    r.depth = depth + 1
    v = reader(r)
    r.depth = depth
    return v


def inflate(data: bytes, offset: int = 0, limit: int = MAX_GZIP_SIZE) -> bytes:
    """Decompress a ``gzip_packed`` payload to at most ``limit`` bytes.

    Beyond: :class:`InflateLimitError`, after inflating no more than ``limit`` bytes (the
    work is bounded as well as the memory).
    """
    if limit <= 0:
        # zlib reads a max_length of 0 as "no limit".
        raise InflateLimitError(offset, "gzip_packed: the inflate budget is used up")
    d = zlib.decompressobj(zlib.MAX_WBITS | 32)
    try:
        out = d.decompress(data, limit)
    except zlib.error as e:
        raise TLDecodeError(offset, f"gzip_packed does not inflate: {e}") from None
    if d.unconsumed_tail or (not d.eof and len(out) >= limit):
        raise InflateLimitError(offset, f"gzip_packed inflates beyond {limit} bytes")
    return out


def read_packed(r: Reader) -> bytes:
    """The payload of the ``gzip_packed`` whose constructor id ``r`` just read, inflated
    within ``r.budget`` (which it then uses up); refused in a reader of inflated data."""
    start = r.pos - 4
    if r.packed:
        raise TLDecodeError(start, "gzip_packed inside gzip_packed")
    data = inflate(read_bytes(r), start, r.budget)
    r.budget -= len(data)
    return data


def gzip_reader(table: Table) -> Callable[[Reader], Any]:
    """A table entry for ``gzip_packed``: inflate, then read one object of the same table."""

    def read_gzipped(r: Reader) -> Any:
        start = r.pos
        inner = Reader(read_packed(r), 0, 0, True)
        inner.depth = r.depth
        v = read_boxed(inner, table)
        if inner.pos != len(inner.data):
            raise TLDecodeError(start, "gzip_packed holds trailing bytes after its object")
        return v

    return read_gzipped


# --- builtins the schemas leave to the codec ------------------------------------------------


class GzipPacked(TLObject):
    """gzip_packed#3072cfa1 packed_data:string = Object; (``data`` is the unpacked body)."""

    __slots__ = ("data",)
    _FIELDS = __slots__
    CONSTRUCTOR_ID = GZIP_PACKED_ID
    TL_NAME = "gzip_packed"

    def __init__(self, *, data: bytes) -> None:
        self.data = data

    @staticmethod
    def pack(body: bytes, level: int = 6) -> bytes:
        """Serialise ``body`` (an object's bytes) as a ``gzip_packed`` object."""
        c = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        o = bytearray(_I.pack(GZIP_PACKED_ID))
        write_bytes(o, c.compress(body) + c.flush())
        return bytes(o)

    def _write(self, o: bytearray) -> None:
        o += GzipPacked.pack(self.data)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        v = _new(cls)
        v.data = read_packed(r)
        return v


class RpcResult(TLObject):
    """rpc_result#f35c6d01 req_msg_id:long result:Object = RpcResult;

    ``result`` stays raw bytes: only the caller knows which function it answers, and so how to
    read it (``TLFunction.read_result``). A gzip-packed result is inflated here.
    """

    __slots__ = ("req_msg_id", "result")
    _FIELDS = __slots__
    CONSTRUCTOR_ID = RPC_RESULT_ID
    TL_NAME = "rpc_result"

    def __init__(self, *, req_msg_id: int, result: bytes) -> None:
        self.req_msg_id = req_msg_id
        self.result = result

    def _write(self, o: bytearray) -> None:
        o += _Iq.pack(RPC_RESULT_ID, self.req_msg_id)
        o += self.result

    @classmethod
    def _read(cls, r: Reader) -> Self:
        p = r.pos
        if p + 12 > len(r.data):
            raise _truncated(r, 12, "rpc_result")
        v = _new(cls)
        v.req_msg_id = _q.unpack_from(r.data, p)[0]
        body = r.data[p + 8 :]
        if _I.unpack_from(body, 0)[0] == GZIP_PACKED_ID:
            sub = Reader(body, 4, r.budget, r.packed)
            body = read_packed(sub)
            r.budget = sub.budget
        v.result = body
        r.pos = len(r.data)
        return v


class ContainerMessage(TLObject):
    """message msg_id:long seqno:int bytes:int body:Object = Message; (bare, inside containers).

    ``body`` stays raw bytes: the session layer decides how to read each inner message.
    """

    __slots__ = ("body", "msg_id", "seqno")
    _FIELDS = __slots__
    TL_NAME = "message"

    def __init__(self, *, msg_id: int, seqno: int, body: bytes) -> None:
        self.msg_id = msg_id
        self.seqno = seqno
        self.body = body

    def _write(self, o: bytearray) -> None:
        o += _qii.pack(self.msg_id, self.seqno, len(self.body))
        o += self.body

    @classmethod
    def _read(cls, r: Reader) -> Self:
        p = r.pos
        if p + 16 > len(r.data):
            raise _truncated(r, 16, "container message header")
        msg_id, seqno, n = _qii.unpack_from(r.data, p)
        if n < 0 or n & 3 or p + 16 + n > len(r.data):
            raise TLDecodeError(p, f"container message length {n} is invalid or beyond the data")
        v = _new(cls)
        v.msg_id, v.seqno = msg_id, seqno
        v.body = r.data[p + 16 : p + 16 + n]
        r.pos = p + 16 + n
        return v


class MsgContainer(TLObject):
    """msg_container#73f1f8dc messages:vector<message> = MessageContainer;"""

    __slots__ = ("messages",)
    _FIELDS = __slots__
    CONSTRUCTOR_ID = MSG_CONTAINER_ID
    TL_NAME = "msg_container"
    MAX_MESSAGES = 1024

    def __init__(self, *, messages: list[ContainerMessage]) -> None:
        self.messages = messages

    def _write(self, o: bytearray) -> None:
        o += _II.pack(MSG_CONTAINER_ID, len(self.messages))
        for m in self.messages:
            m._write(o)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        n = read_bare_vector_count(r, 16)
        if n > cls.MAX_MESSAGES:
            raise TLDecodeError(r.pos - 4, f"container holds {n} messages, over 1024")
        v = _new(cls)
        v.messages = [ContainerMessage._read(r) for _ in range(n)]
        return v


def _read_true(r: Reader) -> bool:
    return True


def _read_false(r: Reader) -> bool:
    return False


OBJECTS: Table = {
    BOOL_TRUE_ID: _read_true,
    BOOL_FALSE_ID: _read_false,
    RPC_RESULT_ID: RpcResult._read,
    MSG_CONTAINER_ID: MsgContainer._read,
}
"""Every constructor and function id the codec knows (filled by the generated registry)."""

FUNCTIONS: Table = {}
"""Every function id (what a ``!X`` argument may hold), filled by the generated registry."""

_loaded = False


def _ensure_registry() -> None:
    global _loaded
    if not _loaded:
        from loopgram.tl import _registry  # noqa: F401  # fills the tables on import

        _loaded = True


_DECODE_FAILURES = (struct.error, IndexError, ValueError, OverflowError, UnicodeError)


def _guarded(data: bytes, reader: Callable[[Reader], R], budget: int = MAX_GZIP_SIZE) -> R:
    if not _loaded:
        _ensure_registry()
    r = Reader(data if type(data) is bytes else bytes(data), 0, budget)
    try:
        v = reader(r)
    except TLDecodeError:
        raise
    except _DECODE_FAILURES as e:
        raise TLDecodeError(r.pos, f"malformed data ({e})") from None
    except RecursionError:
        raise TLDecodeError(r.pos, "objects nested too deeply") from None
    except MemoryError:
        raise TLDecodeError(r.pos, "object too large to decode") from None
    if r.pos != len(r.data):
        raise TLDecodeError(r.pos, f"{len(r.data) - r.pos} trailing bytes after the object")
    return v


def _read_any(r: Reader) -> Any:
    # read_boxed inlined for the outermost object (depth 0 cannot exceed the limit): small
    # objects spend a large share of their parse time in call overhead.
    cid = _unpack_id(r.data, 0)[0]
    try:
        reader = OBJECTS[cid]
    except KeyError:
        raise TLDecodeError(0, f"unknown or unexpected constructor id {cid:#010x}") from None
    r.pos = 4
    r.depth = 1
    return reader(r)


def read(data: bytes, cls: type[Any] | None = None, *, budget: int = MAX_GZIP_SIZE) -> Any:
    """Parse one serialised object that fills ``data`` exactly.

    With ``cls`` the object is read bare (no constructor id), as that class. Without it the
    constructor id selects the class among every known constructor and function; a Bool
    comes back as ``bool`` and ``gzip_packed`` is inflated transparently, all of them
    together to at most ``budget`` bytes (beyond: :class:`InflateLimitError`), never one
    inside another.
    """
    return _guarded(data, _read_any if cls is None else cls._read, budget)
