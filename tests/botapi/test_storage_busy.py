"""Bot API: a storage that stays busy past its timeout (another process holding the database)
answers as the MTProto side does -- a one-second flood wait, in the Bot API's form: 429 with
``retry_after`` 1 and a ``Retry-After`` header, which the frameworks retry by themselves --
and the next request is served as usual."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

from loopgram.node import LoopgramServer
from loopgram.storage import StorageBusy

from .conftest import Api, Chat


def _busy(*args: Any, **kwargs: Any) -> NoReturn:
    raise StorageBusy("database is locked")


async def test_a_busy_storage_is_429_retry_after_1_and_the_next_request_goes_through(
    server: LoopgramServer, api: Api, chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(server.storage.messages, "send", _busy)
        async with api.http.post(
            api.url("sendMessage"), json={"chat_id": chat.user.id, "text": "hi"}
        ) as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "1"
            assert await response.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            }
        assert (await api.ok("getMe"))["username"] == "examplebot"
    sent = await api.ok("sendMessage", chat_id=chat.user.id, text="hi")
    assert sent["text"] == "hi"
