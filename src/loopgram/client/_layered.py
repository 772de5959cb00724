"""Client layer: speaking an older shipped API layer (158, 198, 227) with the layer-229 model.

``Client(layer=198)`` keeps every object it hands out canonical (``loopgram.tl.types``, layer
229); only the wire changes. Three places convert, all through ``loopgram.tl.layers``:

- queries go out wrapped in :class:`InLayer`, which writes the canonical query in the old
  layout and reads its result from it. The wrapper is an ordinary ``TLFunction`` to the layers
  below, so ``invokeWithLayer(initConnection(...))``, containers, gzip and re-sends after a
  reconnect need no change;
- pushed updates are parsed again from their bytes in the old layout (:func:`read_update`);
- errors name the caller's query, not the wrapper (:func:`unwrapping`).

The newest layer never builds a wrapper: the 229 path is the plain one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from loopgram.tl import TLFunction, TLObject, layers
from loopgram.tl.core import Reader

__all__ = ["InLayer", "read_update", "speakable_layer", "unwrapping"]

E = TypeVar("E", bound=BaseException)

NEWEST: Final = layers.NEWEST


def speakable_layer(layer: int) -> int:
    """The shipped layer a client asked to speak ``layer`` uses on the wire.

    A layer between two shipped ones is spoken (and announced) as the nearest shipped one
    below it: announcing a layer whose layout the client does not write would let a server
    answer in constructors the client cannot read. Raises ``UnsupportedLayerError`` outside
    the shipped window (below 158, or above 229, which this client cannot write).
    """
    shipped = layers.nearest_layer(layer)
    if layer > NEWEST:
        raise layers.UnsupportedLayerError(layer)
    return shipped


class InLayer(TLFunction[Any]):
    """``query`` written in the layout of ``layer`` (an older shipped one); its result is read
    in that layout into canonical objects."""

    __slots__ = ("layer", "query")

    def __init__(self, query: TLFunction[Any], layer: int) -> None:
        self.query = query
        self.layer = layer

    def _write(self, o: bytearray) -> None:
        layers.write(self.query, o, self.layer)

    def _read_result(self, r: Reader) -> Any:
        mod = layers.module(self.layer)
        reader = None if mod is None else layers.result_reader(self.query, mod)
        if reader is None:
            return self.query._read_result(r)
        return reader(r)

    def __repr__(self) -> str:
        return f"InLayer({self.query!r}, layer={self.layer})"


def unwrapping(
    factory: Callable[[int, str, TLObject], E],
) -> Callable[[int, str, TLObject], E]:
    """``factory`` (code, message, request) -> exception, given the caller's own query."""

    def make(code: int, message: str, request: TLObject) -> E:
        if type(request) is InLayer:
            request = request.query
        return factory(code, message, request)

    return make


def read_update(body: bytes, layer: int) -> Any:
    """A pushed message (``updates``...) sent in ``layer``'s layout, as canonical objects.

    Raises ``TLDecodeError`` for bytes that do not parse in that layer.
    """
    return layers.read(body, layer)
