"""The call feed both front doors report to (``loopgram.server.observe``), on a bare core."""

from __future__ import annotations

import loopgram.tl.functions.help as help_fn
from loopgram.server.core import ServerCore
from loopgram.server.observe import CallEvent, FeedEvent, PublishEvent
from loopgram.storage import open_storage
from loopgram.tl import types


def make_core() -> ServerCore:
    return ServerCore(open_storage("memory:"))


async def test_nobody_listening_costs_no_event_and_a_listener_gets_every_rpc() -> None:
    core = make_core()
    seen: list[FeedEvent] = []
    session = core.open_session(1, 1, lambda updates: None)
    assert not core.feed.listening
    await core.dispatch(session, help_fn.GetConfig())
    stop = core.feed.listen(seen.append)
    assert core.feed.listening
    await core.dispatch(session, help_fn.GetConfig())
    await core.dispatch(session, help_fn.GetNearestDc())
    stop()
    await core.dispatch(session, help_fn.GetConfig())
    assert not core.feed.listening
    assert [e.method for e in seen if isinstance(e, CallEvent)] == [
        "help.getConfig",
        "help.getNearestDc",
    ]
    first = seen[0]
    assert isinstance(first, CallEvent)
    assert first.door == "rpc" and first.account_id is None and first.error is None
    assert first.session == session.key and first.duration >= 0


async def test_errors_are_reported_with_their_code_and_name() -> None:
    core = make_core()
    seen: list[FeedEvent] = []
    core.feed.listen(seen.append)
    session = core.open_session(1, 1, lambda updates: None)
    import loopgram.tl.functions.messages as messages_fn

    await core.dispatch(
        session,
        messages_fn.GetDialogs(
            offset_date=0, offset_id=0, offset_peer=types.InputPeerEmpty(), limit=1, hash=0
        ),
    )
    (event,) = seen
    assert isinstance(event, CallEvent) and event.error == "401 AUTH_KEY_UNREGISTERED"


def test_a_broken_listener_does_not_break_the_others_or_the_publish() -> None:
    core = make_core()
    seen: list[FeedEvent] = []

    def broken(event: FeedEvent) -> None:
        raise RuntimeError("watcher bug")

    core.feed.listen(broken)
    core.feed.listen(seen.append)
    delivered: list[object] = []
    core.hub.subscribe(42, "k", delivered.append)
    updates = types.Updates(updates=[], users=[], chats=[], date=0, seq=0)
    assert core.hub.publish(42, updates) == 1
    assert delivered == [updates]
    (event,) = seen
    assert isinstance(event, PublishEvent) and event.account_id == 42
