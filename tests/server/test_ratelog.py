"""What a client can make the dispatcher log is rate-limited (``loopgram.ratelog``): one line
per kind and period, with a count of the lines left out, on an injected clock."""

from __future__ import annotations

import logging

import pytest

import loopgram.tl.functions as fn
import loopgram.tl.functions.help as fhelp
from loopgram.clock import FakeClock
from loopgram.server import ServerCore
from loopgram.server.handlers import Registry
from loopgram.storage import Storage

from .support import Caller


async def test_a_client_sending_bad_layers_logs_one_warning_a_minute(
    core: ServerCore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # Before, every refused invokeWithLayer logged a WARNING: one client filled the log.
    caller = Caller(core)
    with caplog.at_level(logging.WARNING, logger="loopgram.server.dispatch"):
        for layer in range(1, 101):
            error = await caller.fails(fn.InvokeWithLayer(layer=layer, query=fhelp.GetConfig()))
            assert error.message == "CONNECTION_LAYER_INVALID"  # every one still answered
        clock.advance(61.0)
        await caller.fails(fn.InvokeWithLayer(layer=7, query=fhelp.GetConfig()))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert warnings[0].startswith("refused a client of layer 1:")
    assert warnings[1].startswith("refused a client of layer 7:")
    assert warnings[1].endswith("(and 99 more like it since the last such line)")


async def test_internal_errors_log_one_traceback_per_method_a_minute(
    storage: Storage, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Registry()

    @broken.method(fhelp.GetNearestDc, needs_account=False)
    async def handle_get_nearest_dc(ctx: object, req: fhelp.GetNearestDc) -> bool:
        """help.getNearestDc#1fb33026 = NearestDc;"""
        raise ZeroDivisionError("boom")

    core = ServerCore(storage, clock=clock, registry=broken)
    caller = Caller(core)
    with caplog.at_level(logging.ERROR, logger="loopgram.server.dispatch"):
        for _ in range(50):
            assert (await caller.fails(fhelp.GetNearestDc())).message == "INTERNAL"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
