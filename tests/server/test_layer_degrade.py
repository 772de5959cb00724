"""Server layer: a layer-229 bot's message with an entity layer 158 lacks reaches a 158 user.

The user's session announces layer 158 (``invokeWithLayer``) and reads everything the way the
network driver writes it for that layer (``loopgram.tl.layers.serialize``, as
``node.links`` does): the pushed update and ``messages.getHistory`` both arrive, parsed by
the layer-158 schema, with the new entity dropped and the others kept.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import pytest

import loopgram.tl.functions as fn
import loopgram.tl.functions.help as fhelp
import loopgram.tl.functions.messages as fmsg
from loopgram.server import ServerCore
from loopgram.tl import TLFunction, layers, types
from loopgram.tl.abcs import Updates
from tests.tl.test_layers_oracle import Interp

from .support import Caller, history_request, login_bot, login_user, open_chat

R = TypeVar("R")

OLD = 158
BOLD = types.MessageEntityBold(offset=0, length=4)
DATE = types.MessageEntityFormattedDate(offset=5, length=8, date=1_700_000_000, long_date=True)


class OldCaller(Caller):
    """A session whose client speaks layer 158: results and pushes are written for it and
    parsed with the old schema before they are read back."""

    def _receive(self, updates: Updates) -> None:
        raw = layers.serialize(updates, OLD)  # raises here = "update sink ... failed"
        Interp(OLD).decode(raw)
        self.pushed.append(layers.read(raw, OLD))

    async def call(self, request: TLFunction[R]) -> R:
        answer = await self.core.dispatch(self.session, request)
        if answer.error is not None:
            raise answer.error
        raw = answer.encode(lambda obj: layers.serialize(obj, OLD))
        Interp(OLD).decode(raw)
        return layers.read_result(request, raw, OLD)


async def old_session(core: ServerCore, phone: str) -> OldCaller:
    """A logged-in user whose second session announces layer 158."""
    first = await login_user(core, phone)
    user = OldCaller(core, auth_key_id=first.auth_key_id, session_id=2)
    user.account = first.account
    init = fn.InitConnection(
        api_id=6,
        device_model="pyrogram",
        system_version="linux",
        app_version="2.0.106",
        system_lang_code="en",
        lang_pack="",
        lang_code="en",
        query=fhelp.GetConfig(),
    )
    await user.call(fn.InvokeWithLayer(layer=OLD, query=init))
    assert user.session.layer == OLD
    return user


async def test_a_229_bots_new_entity_reaches_a_158_user_without_it(
    core: ServerCore, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await login_bot(core, "datebot")
    user = await old_session(core, "+1 555 0190")
    open_chat(core, user.me, bot.me)
    user.pushed.clear()

    with caplog.at_level(logging.ERROR):
        sent = await bot.call(
            fmsg.SendMessage(
                peer=bot.input_peer(user),
                message="Meet tomorrow",
                random_id=99,
                entities=[BOLD, DATE],
            )
        )
    assert isinstance(sent, types.Updates)
    assert not [r for r in caplog.records if "update sink" in r.getMessage()]

    # The push arrived, with the entity layer 158 has.
    (update,) = user.take(types.UpdateNewMessage)
    assert isinstance(update.message, types.Message)
    assert update.message.message == "Meet tomorrow"
    assert update.message.entities == [BOLD]

    # History answers instead of failing to encode.
    history: Any = await user.call(history_request(user.input_peer(bot.me), limit=10))
    msg, _start = [m for m in history.messages if isinstance(m, types.Message)]
    assert (msg.message, msg.entities) == ("Meet tomorrow", [BOLD])

    # The bot, on 229, keeps both.
    (own,) = [u for u in sent.updates if isinstance(u, types.UpdateNewMessage)]
    assert isinstance(own.message, types.Message)
    assert own.message.entities == [BOLD, DATE]
