"""The gzip_packed attacks of issue 13 in miniature, sent by a real Telethon client over
loopback TCP: each gets an rpc_error addressed to it, the server inflates a bounded amount
(counted where it inflates, in this process), and the same connection serves the next call.

Telethon gzips every content-related request over 512 bytes when that makes it smaller, so
the attack goes out inside one outer gzip_packed: gzip inside gzip. With its gzipping
switched off it goes as it is: gzipped entities over the inflate budget of one packet."""

from __future__ import annotations

from typing import Any

import pytest
from telethon.errors import (  # type: ignore[import-untyped]
    InputFetchErrorError,
    InputRequestTooLongError,
)
from telethon.tl import core as telethon_core  # type: ignore[import-untyped]
from telethon.tl.tlobject import TLRequest  # type: ignore[import-untyped]

from loopgram.mtproto.server_connection import DEFAULT_MAX_INFLATE
from loopgram.testing.server import ServerThread
from loopgram.tl.functions.messages import SendMessage

from ..mtproto import test_gzip_budget
from ..mtproto.test_gzip_budget import ENTITY, attack
from .support import start_user, within

# The same count of what the server's ``inflate`` produced (it runs in this process).
inflated = test_gzip_budget.inflated

# Over the budget of one packet by half, each entity far under the per-object limit.
COUNT = DEFAULT_MAX_INFLATE * 3 // 2 // ENTITY


class Raw(TLRequest):  # type: ignore[misc]
    """A request Telethon sends as the given bytes."""

    CONSTRUCTOR_ID = SendMessage.CONSTRUCTOR_ID  # what the bytes hold

    def __init__(self, body: bytes) -> None:
        self.body = body

    def _bytes(self) -> bytes:
        return self.body

    def to_dict(self) -> dict[str, Any]:
        return {"_": "Raw", "bytes": len(self.body)}


async def test_gzip_inside_gzip_is_answered_and_inner_gzips_are_never_inflated(
    loopgram_server: ServerThread, inflated: list[int]
) -> None:
    user = await start_user(loopgram_server)
    try:
        body = attack(COUNT)
        inflated.clear()
        # Telethon maps the error by its name: the answer is addressed to this request.
        with pytest.raises(InputFetchErrorError):
            await within(user(Raw(body)))
        # The outer gzip, inflated by the MTProto layer and once more by the dispatcher
        # that answers it; none of the COUNT inner ones.
        assert inflated and all(size == len(body) for size in inflated)
        assert sum(inflated) <= 2 * len(body)
        assert (await within(user.get_me())).phone is not None
    finally:
        await user.disconnect()


async def test_gzipped_entities_over_the_budget_are_input_request_too_long(
    loopgram_server: ServerThread, inflated: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await start_user(loopgram_server)
    try:
        monkeypatch.setattr(
            telethon_core.GzipPacked, "gzip_if_smaller", staticmethod(lambda related, data: data)
        )
        inflated.clear()
        with pytest.raises(InputRequestTooLongError):
            await within(user(Raw(attack(COUNT))))
        # Before, all COUNT entities were inflated: 6 MiB here, 1 GiB in the attack.
        assert sum(inflated) <= DEFAULT_MAX_INFLATE
        assert (await within(user.get_me())).phone is not None
    finally:
        await user.disconnect()
