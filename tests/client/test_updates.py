"""Updates: pts order, gap detection with ``updates.getDifference``, catching up after being
away -- unit tests of ``UpdateManager`` and end to end through the server."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from loopgram.client import MemorySession, Message, UpdateState
from loopgram.client.updates import UpdateManager
from loopgram.clock import FakeClock
from loopgram.tl import TLObject, abcs, types
from loopgram.tl.types import updates as upd

from .support import World, eventually


def _message(msg_id: int) -> types.Message:
    return types.Message(id=msg_id, peer_id=types.PeerUser(user_id=1), date=0, message=f"m{msg_id}")


def _new(pts: int, msg_id: int) -> types.Updates:
    update = types.UpdateNewMessage(message=_message(msg_id), pts=pts, pts_count=1)
    return types.Updates(updates=[update], users=[], chats=[], date=0, seq=0)


class Recorder:
    def __init__(self, difference: abcs.updates.Difference | None = None) -> None:
        self.delivered: list[int] = []
        self.calls: list[UpdateState] = []
        self.difference = difference
        clock = FakeClock()
        self.manager = UpdateManager(
            deliver=self.deliver,
            get_difference=self.get_difference,
            on_state=lambda state: None,
            clock=clock,
            gap_timeout=0.05,
        )
        self.manager.set_state(UpdateState(pts=10, qts=0, date=0, seq=0))

    def deliver(self, update: abcs.Update, users: Sequence[abcs.User]) -> None:
        assert isinstance(update, types.UpdateNewMessage)
        assert isinstance(update.message, types.Message)
        self.delivered.append(update.message.id)

    async def get_difference(self, state: UpdateState) -> abcs.updates.Difference:
        self.calls.append(state)
        assert self.difference is not None
        return self.difference

    def feed(self, obj: TLObject) -> None:
        self.manager.feed(obj)


async def test_in_order_updates_apply_and_duplicates_drop() -> None:
    r = Recorder()
    r.feed(_new(11, 1))
    r.feed(_new(12, 2))
    r.feed(_new(12, 2))  # a repeat
    assert r.delivered == [1, 2]
    assert r.manager.state is not None and r.manager.state.pts == 12
    assert r.calls == []


async def test_a_gap_that_closes_by_itself_needs_no_difference() -> None:
    r = Recorder()
    r.feed(_new(12, 2))  # 11 missing: held
    assert r.delivered == [] and r.manager.has_gap
    r.feed(_new(11, 1))
    assert r.delivered == [1, 2] and not r.manager.has_gap
    await asyncio.sleep(0.1)
    assert r.calls == []


async def test_a_gap_that_stays_open_fetches_the_difference() -> None:
    difference = upd.Difference(
        new_messages=[_message(1), _message(2)],
        new_encrypted_messages=[],
        other_updates=[],
        chats=[],
        users=[],
        state=upd.State(pts=12, qts=0, date=5, seq=0, unread_count=0),
    )
    r = Recorder(difference)
    r.feed(_new(12, 2))
    await eventually(lambda: bool(r.calls))
    await asyncio.sleep(0.01)
    assert r.calls[0].pts == 10
    assert r.delivered == [1, 2]  # from the difference; the held copy of 2 is dropped
    assert r.manager.state is not None and r.manager.state.pts == 12
    assert not r.manager.has_gap and r.manager.gaps == 1


async def test_slices_are_followed_and_too_long_jumps() -> None:
    r = Recorder()
    slices: list[abcs.updates.Difference] = [
        upd.DifferenceSlice(
            new_messages=[_message(1)],
            new_encrypted_messages=[],
            other_updates=[],
            chats=[],
            users=[],
            intermediate_state=upd.State(pts=11, qts=0, date=1, seq=0, unread_count=0),
        ),
        upd.DifferenceTooLong(pts=50),
    ]

    async def get_difference(state: UpdateState) -> abcs.updates.Difference:
        r.calls.append(state)
        return slices.pop(0)

    r.manager._get_difference = get_difference
    r.feed(types.UpdatesTooLong())
    await eventually(lambda: len(r.calls) == 2)
    await asyncio.sleep(0.01)
    assert [c.pts for c in r.calls] == [10, 11]
    assert r.delivered == [1]
    assert r.manager.state is not None and r.manager.state.pts == 50


async def test_messages_sent_while_away_are_caught_up(world: World) -> None:
    bot, user, _message = await world.scene()
    session = user.client.session
    assert isinstance(session, MemorySession)
    await user.client.disconnect()
    for text in ("one", "two", "three"):
        await bot.client.send_message(user.id, text)

    back = world.client(session)
    got: list[str] = []

    @back.on_message()
    async def record(message: Message) -> None:
        got.append(message.text)

    await back.connect()
    await eventually(lambda: len(got) == 3)
    assert got == ["one", "two", "three"]
    assert back.updates.differences >= 1


async def test_a_lost_update_is_recovered_with_get_difference(world: World) -> None:
    bot, user, _message = await world.scene()
    client = user.client
    client.updates.gap_timeout = 0.05
    feed = client.updates.feed
    dropped: list[TLObject] = []

    def lossy(updates: TLObject) -> None:
        # Lose the first pushed new message, as a network fault between sessions could.
        if not dropped and isinstance(updates, types.Updates):
            if any(isinstance(u, types.UpdateNewMessage) for u in updates.updates):
                dropped.append(updates)
                return
        feed(updates)

    client.updates.feed = lossy  # type: ignore[method-assign]
    differences = client.updates.differences
    await bot.client.send_message(user.id, "lost")
    await bot.client.send_message(user.id, "next")
    first = await user.next_message()
    second = await user.next_message()
    assert dropped, "the first update was dropped"
    assert (first.text, second.text) == ("lost", "next")
    assert client.updates.differences == differences + 1
    assert user.inbox.empty()


async def test_channel_messages_pass_by_the_account_pts_without_a_gap() -> None:
    delivered: list[abcs.Update] = []
    calls: list[UpdateState] = []

    async def get_difference(state: UpdateState) -> abcs.updates.Difference:
        calls.append(state)
        raise AssertionError("a channel's pts opened a gap in the account's")

    manager = UpdateManager(
        deliver=lambda update, users: delivered.append(update),
        get_difference=get_difference,
        on_state=lambda state: None,
        clock=FakeClock(),
        gap_timeout=0.05,
    )
    manager.set_state(UpdateState(pts=10, qts=0, date=0, seq=0))
    in_channel = types.Message(id=7, peer_id=types.PeerChannel(channel_id=5), date=0, message="c")
    new = types.UpdateNewChannelMessage(message=in_channel, pts=40, pts_count=1)
    edited = types.UpdateEditChannelMessage(message=in_channel, pts=41, pts_count=1)
    for update in (new, edited):
        manager.feed(types.Updates(updates=[update], users=[], chats=[], date=0, seq=0))
    await asyncio.sleep(0.1)
    assert delivered == [new, edited]
    assert not manager.has_gap and calls == []
    assert manager.state is not None and manager.state.pts == 10
