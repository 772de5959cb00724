"""Server layer: a storage that stays busy past its timeout (another process holding the
database) answers the request with a one-second ``FLOOD_WAIT_1`` -- which clients retry by
themselves -- instead of a 500, and the next request is served as usual."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

import loopgram.tl.functions.messages as fmsg
import loopgram.tl.functions.updates as fupd
from loopgram.server import FloodWait, ServerCore
from loopgram.storage import StorageBusy

from .support import login_user, send


def _busy(*args: Any, **kwargs: Any) -> NoReturn:
    raise StorageBusy("database is locked")


async def test_a_busy_storage_answers_flood_wait_1_and_the_next_call_goes_through(
    core: ServerCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    with monkeypatch.context() as patch:
        patch.setattr(core.storage.messages, "send", _busy)
        error = await alice.fails(
            fmsg.SendMessage(peer=alice.input_peer(bob), message="hi", random_id=1)
        )
        assert (error.code, error.message) == (420, "FLOOD_WAIT_1")
        assert isinstance(error, FloodWait) and error.seconds == 1
        await alice.call(fupd.GetState())  # what does not write is served meanwhile
    await send(alice, bob)
