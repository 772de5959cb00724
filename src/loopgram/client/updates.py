"""Client layer: the account's update sequence -- order, gaps, and catching up.

Spec: core.telegram.org/api/updates. Updates that move the account's ``pts`` (new and edited
messages, read marks...) carry ``pts`` and ``pts_count``: one applies when
``local_pts + pts_count == pts``; below that it was applied already (dropped); above it some
came in between that we have not seen -- a gap. A gap may close by itself (updates can
overtake each other), so the update is held for ``gap_timeout`` seconds; if the missing ones
have not come by then, ``updates.getDifference`` fetches what was missed, slice by slice.
``updatesTooLong``, a new MTProto session (the server may have pushed to the old one) and
a new connection of the same session (what was pushed while none carried it is lost) also
call for ``getDifference``. Updates without ``pts`` (callback queries...) are delivered
at once. Channel updates (each channel has its own ``pts``) pass through unchecked: they
never move the account's ``pts``, and ``updates.getChannelDifference`` is the caller's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, cast

from loopgram.client._error_base import expect
from loopgram.client.sessions import UpdateState
from loopgram.clock import Clock
from loopgram.tl import TLObject, abcs, types
from loopgram.tl.types import updates as upd

__all__ = ["UpdateManager"]

log = logging.getLogger("loopgram.client")

Deliver = Callable[[abcs.Update, Sequence[abcs.User]], None]
GetDifference = Callable[[UpdateState], Awaitable[abcs.updates.Difference]]

_MAX_SLICES: Final = 100
"""Slices fetched in one catch-up before giving up (a server that keeps answering slices)."""
_CHANNEL_MESSAGE_UPDATES: Final = (types.UpdateNewChannelMessage, types.UpdateEditChannelMessage)
"""Channel updates that name their channel in the message (``peer_id``), not in a
``channel_id`` field: their ``pts`` is the channel's, never the account's."""


class UpdateManager:
    """Orders the updates of one account; ``deliver`` gets each one once, in order.

    ``get_difference(state)`` calls ``updates.getDifference``; ``on_state`` is told every
    new state (to persist it). Until a state is known (``set_state``), pts updates are
    delivered without checks.
    """

    def __init__(
        self,
        *,
        deliver: Deliver,
        get_difference: GetDifference,
        on_state: Callable[[UpdateState], None],
        clock: Clock,
        gap_timeout: float = 0.5,
    ) -> None:
        self._deliver = deliver
        self._get_difference = get_difference
        self._on_state = on_state
        self._clock = clock
        self.gap_timeout = gap_timeout
        self.state: UpdateState | None = None
        # Updates held for a gap: pts -> (update, users). Applied once their turn comes.
        self._held: dict[int, tuple[abcs.Update, Sequence[abcs.User]]] = {}
        self._gap_since: float | None = None
        self._gap_timer: asyncio.TimerHandle | None = None
        self._catching_up: asyncio.Task[None] | None = None
        self._busy = False
        self.gaps = 0
        """Gaps that needed ``getDifference`` (for tests and logs)."""
        self.differences = 0
        """``getDifference`` calls made."""

    def set_state(self, state: UpdateState) -> None:
        self.state = state
        self._on_state(state)

    # -- input --------------------------------------------------------------------------------

    def feed(self, updates: TLObject) -> None:
        """One ``Updates`` object (pushed, or the result of a query)."""
        kind = type(updates)
        if kind is types.Updates or kind is types.UpdatesCombined:
            full = cast(types.Updates | types.UpdatesCombined, updates)
            users = full.users
            self._check_seq(full)
            for update in full.updates:
                self._apply(update, users)
        elif kind is types.UpdateShort:
            self._apply(cast(types.UpdateShort, updates).update, ())
        elif kind is types.UpdateShortMessage or kind is types.UpdateShortChatMessage:
            short = cast(types.UpdateShortMessage | types.UpdateShortChatMessage, updates)
            self._apply_pts(short.pts, short.pts_count, None, ())
        elif kind is types.UpdateShortSentMessage:
            sent = cast(types.UpdateShortSentMessage, updates)
            self._apply_pts(sent.pts, sent.pts_count, None, ())
        elif kind is types.UpdatesTooLong:
            self.catch_up_soon()

    def _check_seq(self, updates: types.Updates | types.UpdatesCombined) -> None:
        state = self.state
        if state is None or updates.seq == 0:
            return  # seq 0: outside the sequence (loopgram sends callback queries so)
        start = updates.seq_start if isinstance(updates, types.UpdatesCombined) else updates.seq
        if start > state.seq + 1 and state.seq != 0:
            self.catch_up_soon()  # a seq gap: the pts checks below still hold what they can
        elif updates.seq > state.seq:
            self.set_state(
                UpdateState(state.pts, state.qts, max(state.date, updates.date), updates.seq)
            )

    def _apply(self, update: abcs.Update, users: Sequence[abcs.User]) -> None:
        pts = getattr(update, "pts", None)
        pts_count = getattr(update, "pts_count", None)
        if (
            pts is None
            or pts_count is None
            or self.state is None
            or getattr(update, "channel_id", None) is not None
            or isinstance(update, _CHANNEL_MESSAGE_UPDATES)
        ):
            self._deliver(update, users)
            return
        self._apply_pts(pts, pts_count, update, users)

    def _apply_pts(
        self, pts: int, pts_count: int, update: abcs.Update | None, users: Sequence[abcs.User]
    ) -> None:
        state = self.state
        if state is None:
            if update is not None:
                self._deliver(update, users)
            return
        local = state.pts
        if local + pts_count == pts:
            self.set_state(UpdateState(pts, state.qts, state.date, state.seq))
            if update is not None:
                self._deliver(update, users)
            if self._held:
                self._release_held()
        elif local + pts_count > pts:
            return  # applied already
        else:
            if update is not None:
                self._held[pts] = (update, users)
            self._open_gap()

    def _release_held(self) -> None:
        """Apply held updates whose turn has come; drop the ones that are stale."""
        progressed = True
        while progressed and self._held and self.state is not None:
            progressed = False
            local = self.state.pts
            for pts in sorted(self._held):
                update, users = self._held[pts]
                count = getattr(update, "pts_count", 0)
                if pts <= local:
                    del self._held[pts]
                elif local + count == pts:
                    del self._held[pts]
                    self.set_state(
                        UpdateState(pts, self.state.qts, self.state.date, self.state.seq)
                    )
                    self._deliver(update, users)
                    progressed = True
                    break
        if not self._held:
            self._close_gap()

    # -- gaps ---------------------------------------------------------------------------------

    def _open_gap(self) -> None:
        if self._gap_since is not None:
            return
        self._gap_since = self._clock()
        if self.gap_timeout <= 0:
            self.catch_up_soon()
            return
        loop = asyncio.get_running_loop()
        self._gap_timer = loop.call_later(self.gap_timeout, self._gap_expired)

    def _close_gap(self) -> None:
        self._gap_since = None
        if self._gap_timer is not None:
            self._gap_timer.cancel()
            self._gap_timer = None

    def _gap_expired(self) -> None:
        self._gap_timer = None
        if self._gap_since is not None:
            self.catch_up_soon()

    @property
    def has_gap(self) -> bool:
        return self._gap_since is not None

    def catch_up_soon(self) -> None:
        """Start ``getDifference`` in the background (once, if it is not running)."""
        if self.state is None or self._busy:
            return
        if self._catching_up is None or self._catching_up.done():
            self.gaps += 1
            self._catching_up = asyncio.get_running_loop().create_task(self._catch_up_logged())

    async def _catch_up_logged(self) -> None:
        try:
            await self.catch_up()
        except Exception as exc:
            # The next push or reconnection tries again.
            log.warning("catching up on updates failed: %s", exc)

    async def catch_up(self) -> None:
        """Fetch everything missed since the known state (``updates.getDifference``)."""
        self._busy = True
        try:
            await self._fetch()
        finally:
            self._busy = False

    async def _fetch(self) -> None:
        for _ in range(_MAX_SLICES):
            state = self.state
            if state is None:
                return
            self.differences += 1
            diff = await self._get_difference(state)
            if isinstance(diff, upd.DifferenceEmpty):
                self.set_state(UpdateState(state.pts, state.qts, diff.date, diff.seq))
                break
            if isinstance(diff, upd.DifferenceTooLong):
                # Too much was missed to replay: jump ahead (what lies between is lost).
                self.set_state(UpdateState(diff.pts, state.qts, state.date, state.seq))
                break
            if isinstance(diff, upd.Difference | upd.DifferenceSlice):
                new_state = (
                    diff.state if isinstance(diff, upd.Difference) else diff.intermediate_state
                )
                new_state = expect(new_state, upd.State)
                for message in diff.new_messages:
                    self._deliver(
                        types.UpdateNewMessage(message=message, pts=new_state.pts, pts_count=0),
                        diff.users,
                    )
                for other in diff.other_updates:
                    self._deliver(other, diff.users)
                self.set_state(
                    UpdateState(new_state.pts, new_state.qts, new_state.date, new_state.seq)
                )
                if isinstance(diff, upd.Difference):
                    break
        self._release_held()
        if self._held:
            # Held updates beyond the server's state: the difference covered them or they
            # will be replayed by the next one.
            self._held.clear()
            self._close_gap()

    def close(self) -> None:
        self._close_gap()
        if self._catching_up is not None:
            self._catching_up.cancel()
            self._catching_up = None
