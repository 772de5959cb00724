"""The dispatcher reads a query the MTProto layer could not (handed up as received, a
gzip_packed one still packed) under the same gzip rules: one inflate budget per query,
no gzip_packed inside gzip_packed, and an error answer either way."""

from __future__ import annotations

import pytest

import loopgram.tl.functions as fn
import loopgram.tl.functions.help as fhelp
from loopgram.clock import FakeClock, seeded_random
from loopgram.mtproto.server_connection import DEFAULT_MAX_INFLATE
from loopgram.server import ServerConfig, ServerCore, ServerInfo
from loopgram.storage import Storage
from loopgram.tl import GzipPacked, layers

from ..mtproto.test_gzip_budget import attack
from .support import HOST, PORT, Caller


@pytest.fixture
def layered(storage: Storage, clock: FakeClock) -> ServerCore:
    """A core that reads older layers, as ``loopgram serve`` does."""
    return ServerCore(
        storage,
        clock=clock,
        random_bytes=seeded_random(2),
        config=ServerConfig(),
        info=ServerInfo(host=HOST, port=PORT),
        decode=layers.read,
    )


async def test_outer_gzip_around_gzipped_entities_is_input_fetch_error(
    layered: ServerCore,
) -> None:
    caller = Caller(layered)
    answer = await layered.dispatch(caller.session, None, GzipPacked.pack(attack(96)))
    assert answer.error is not None
    assert (answer.error.code, answer.error.message) == (400, "INPUT_FETCH_ERROR")


@pytest.mark.parametrize("layer", [198, 158])
async def test_an_older_layers_query_over_the_budget_is_input_request_too_long(
    layered: ServerCore, layer: int
) -> None:
    caller = Caller(layered)
    count = DEFAULT_MAX_INFLATE // (64 * 1024) + 8
    body = bytes(fn.InvokeWithLayer(layer=layer, query=fhelp.GetConfig()))[:-4]
    body += attack(count, layer=layer)  # the layer's own reader meets the gzipped entities
    answer = await layered.dispatch(caller.session, None, body)
    assert answer.error is not None
    assert (answer.error.code, answer.error.message) == (400, "INPUT_REQUEST_TOO_LONG")


async def test_a_gzipped_query_handed_up_as_received_is_served(layered: ServerCore) -> None:
    caller = Caller(layered)
    body = GzipPacked.pack(bytes(fn.InvokeWithLayer(layer=198, query=fhelp.GetNearestDc())))
    answer = await layered.dispatch(caller.session, None, body)
    assert answer.ok, answer.error
    assert caller.session.layer == 198
