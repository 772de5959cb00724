"""Server layer: update state and getDifference agree with what was pushed."""

from __future__ import annotations

import loopgram.tl.functions.messages as fmsg
import loopgram.tl.functions.updates as fupd
from loopgram.clock import FakeClock
from loopgram.server import ServerConfig, ServerCore
from loopgram.storage import Storage
from loopgram.tl import types
from loopgram.tl.types import updates as upd_types

from .support import (
    callback,
    keyboard,
    login_bot,
    login_user,
    make_core,
    new_message,
    open_chat,
    send,
)


def _get_difference(pts: int, **kwargs: int) -> fupd.GetDifference:
    return fupd.GetDifference(pts=pts, date=0, qts=0, **kwargs)


async def test_get_state_follows_pts(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    state = await bob.call(fupd.GetState())
    assert state == upd_types.State(pts=0, qts=0, date=int(core.clock()), seq=0, unread_count=0)
    await send(alice, bob)
    await send(alice, bob)
    state = await bob.call(fupd.GetState())
    assert isinstance(state, upd_types.State) and state.pts == 2


async def test_get_difference_returns_what_a_client_missed(core: ServerCore) -> None:
    bot = await login_bot(core, "shop_bot")
    user = await login_user(core, "+1 555 0100")
    open_chat(core, user.me, bot.me)  # the user's "/start": pts 1
    user.session.close()  # offline: nothing is pushed
    sent = new_message(await send(bot, user, "menu", keyboard([callback("A", b"a")])))
    await bot.call(fmsg.EditMessage(peer=bot.input_peer(user), id=sent.id, message="menu v2"))
    assert user.pushed == []

    diff = await user.call(_get_difference(1))

    assert isinstance(diff, upd_types.Difference)
    (message,) = diff.new_messages
    assert isinstance(message, types.Message) and message.message == "menu"
    assert isinstance(message.reply_markup, types.ReplyInlineMarkup)
    (edit,) = diff.other_updates
    assert isinstance(edit, types.UpdateEditMessage) and edit.pts == 3
    assert isinstance(diff.state, upd_types.State) and diff.state.pts == 3
    assert {u.id for u in diff.users if isinstance(u, types.User)} == {user.me.id, bot.me.id}

    empty = await user.call(_get_difference(3))
    assert empty == upd_types.DifferenceEmpty(date=int(core.clock()), seq=0)


async def test_get_difference_matches_the_pushed_updates(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    for i in range(3):
        await send(alice, bob, f"m{i}")
    pushed = bob.updates_of(types.UpdateNewMessage)
    diff = await bob.call(_get_difference(0))
    assert isinstance(diff, upd_types.Difference)
    assert diff.new_messages == [u.message for u in pushed]


async def test_get_difference_answers_slices(storage: Storage, clock: FakeClock) -> None:
    core = make_core(storage, clock, ServerConfig(difference_limit=2))
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    for i in range(5):
        await send(alice, bob, f"m{i}")

    first = await bob.call(_get_difference(0))
    assert isinstance(first, upd_types.DifferenceSlice)
    assert isinstance(first.intermediate_state, upd_types.State)
    assert first.intermediate_state.pts == 2
    assert [m.message for m in first.new_messages if isinstance(m, types.Message)] == ["m0", "m1"]

    pts = first.intermediate_state.pts
    texts = []
    while True:
        diff = await bob.call(_get_difference(pts))
        if isinstance(diff, upd_types.DifferenceSlice):
            assert isinstance(diff.intermediate_state, upd_types.State)
            pts = diff.intermediate_state.pts
        else:
            assert isinstance(diff, upd_types.Difference)
        texts += [m.message for m in diff.new_messages if isinstance(m, types.Message)]
        if isinstance(diff, upd_types.Difference):
            break
    assert texts == ["m2", "m3", "m4"]


async def test_get_difference_of_a_trimmed_log_is_too_long(core: ServerCore) -> None:
    alice = await login_user(core, "+1 555 0100")
    bob = await login_user(core, "+1 555 0200")
    for _ in range(3):
        await send(alice, bob)
    core.storage.updates.trim(bob.me.id, 2)
    diff = await bob.call(_get_difference(0))
    assert diff == upd_types.DifferenceTooLong(pts=3)
