"""Server layer: replies (``reply_to: inputReplyToMessage`` -> ``messageReplyHeader``) and
the rule that a bot cannot write first to a user, over the dispatcher in every served layer.

A session of layer N sends its reply in N's layout and reads answers, pushes and history
parsed with N's schema (as ``node.links`` writes them, checked by the layer oracle), so a
header that a layer could not carry would be lost on the way.
"""

from __future__ import annotations

import itertools
from typing import Any, TypeVar

import pytest

import loopgram.tl.functions.messages as fmsg
from loopgram.server import ServerCore
from loopgram.storage import PeerRef
from loopgram.tl import TLFunction, layers, types

from .support import Caller, history_request, login_bot, login_user, new_message, send
from .test_basic_groups_layers import layer_session

R = TypeVar("R")

_random_ids = itertools.count(50_000)


def as_sent(request: TLFunction[R], layer: int) -> TLFunction[R]:
    """``request`` as the server reads it from a client of ``layer`` (layer 158 says
    ``reply_to_msg_id`` where later layers say ``reply_to``)."""
    sent: TLFunction[R] = layers.read(layers.serialize(request, layer), layer)
    return sent


def reply_request(sender: Caller, to: Caller, text: str, reply_to: int) -> fmsg.SendMessage:
    return fmsg.SendMessage(
        peer=sender.input_peer(to),
        message=text,
        random_id=next(_random_ids),
        reply_to=types.InputReplyToMessage(reply_to_msg_id=reply_to),
    )


def header_of(message: Any) -> int | None:
    assert isinstance(message, types.Message)
    if message.reply_to is None:
        return None
    assert isinstance(message.reply_to, types.MessageReplyHeader)
    return message.reply_to.reply_to_msg_id


@pytest.mark.parametrize("layer", [158, 198, 227, 229])
async def test_a_reply_carries_each_sides_own_id_of_the_replied_message_in_every_layer(
    core: ServerCore, layer: int
) -> None:
    bot = await login_bot(core, "reply_bot")
    user = await layer_session(core, "+1 555 0100", layer)
    # Different box numbering on the two sides: the bot has talked to someone else.
    other = await login_user(core, "+1 555 0200")
    await send(other, bot, "/start")
    await send(user, bot, "/start")
    question = new_message(await send(bot, user, "which one?"))
    user.pushed.clear()
    bot.pushed.clear()
    user_copy = core.storage.messages.history(user.me.id, PeerRef.user(bot.me.id), limit=1)[0]
    assert user_copy.id != question.id

    sent = await user.call(as_sent(reply_request(user, bot, "this one", user_copy.id), layer))

    assert header_of(new_message(sent)) == user_copy.id
    (pushed,) = bot.updates_of(types.UpdateNewMessage)
    assert header_of(pushed.message) == question.id
    history: Any = await user.call(history_request(user.input_peer(bot), limit=1))
    assert header_of(history.messages[0]) == user_copy.id
    # The bot answers the reply with a reply of its own.
    user.pushed.clear()
    answer = await bot.call(reply_request(bot, user, "done", pushed.message.id))
    assert header_of(new_message(answer)) == pushed.message.id
    (to_user,) = user.updates_of(types.UpdateNewMessage)
    assert header_of(to_user.message) == new_message(sent).id


async def test_a_plain_message_has_no_reply_header(core: ServerCore) -> None:
    bot = await login_bot(core, "reply_bot")
    user = await login_user(core, "+1 555 0100")
    assert header_of(new_message(await send(user, bot, "/start"))) is None


async def test_replying_to_a_message_the_chat_does_not_hold_is_reply_message_id_invalid(
    core: ServerCore,
) -> None:
    bot = await login_bot(core, "reply_bot")
    user = await login_user(core, "+1 555 0100")
    other = await login_user(core, "+1 555 0200")
    elsewhere = new_message(await send(user, other, "in another chat"))
    await send(user, bot, "/start")
    for missing in (9_999, elsewhere.id):
        failure = await user.fails(reply_request(user, bot, "re", missing))
        assert (failure.code, failure.message) == (400, "REPLY_MESSAGE_ID_INVALID")
    # Nothing was stored by the failed sends.
    texts = [m.text for m in core.storage.messages.history(bot.me.id, PeerRef.user(user.me.id))]
    assert texts == ["/start"]


async def test_a_reply_into_another_chat_is_reply_message_id_invalid(core: ServerCore) -> None:
    bot = await login_bot(core, "reply_bot")
    user = await login_user(core, "+1 555 0100")
    other = await login_user(core, "+1 555 0200")
    first = new_message(await send(user, bot, "/start"))
    request = reply_request(user, bot, "re", first.id)
    assert isinstance(request.reply_to, types.InputReplyToMessage)
    request.reply_to.reply_to_peer_id = user.input_peer(other)
    failure = await user.fails(request)
    assert failure.message == "REPLY_MESSAGE_ID_INVALID"


async def test_a_bot_cannot_write_first_to_a_user_and_can_once_the_user_wrote(
    core: ServerCore,
) -> None:
    bot = await login_bot(core, "reply_bot")
    user = await login_user(core, "+1 555 0100")
    request = fmsg.SendMessage(peer=bot.input_peer(user), message="hi!", random_id=1)
    failure = await bot.fails(request)
    assert (failure.code, failure.message) == (400, "PEER_ID_INVALID")
    assert user.pushed == []

    await send(user, bot, "/start")
    sent = await bot.call(fmsg.SendMessage(peer=bot.input_peer(user), message="hi!", random_id=2))
    assert new_message(sent).message == "hi!"


async def test_a_bot_may_keep_writing_after_the_user_cleared_the_chat(core: ServerCore) -> None:
    bot = await login_bot(core, "reply_bot")
    user = await login_user(core, "+1 555 0100")
    start = new_message(await send(user, bot, "/start"))
    answer = new_message(await send(bot, user, "welcome"))
    await user.call(fmsg.DeleteMessages(id=[start.id], revoke=True))
    await bot.call(fmsg.DeleteMessages(id=[answer.id], revoke=True))
    assert core.storage.messages.history(bot.me.id, PeerRef.user(user.me.id)) == []
    assert new_message(await send(bot, user, "still here")).message == "still here"


async def test_users_write_first_to_each_other_freely(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    assert new_message(await send(alice, bob, "hello")).message == "hello"
