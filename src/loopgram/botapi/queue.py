"""Bot API layer: the per-bot update queues' rules, over the storage, without I/O.

The official server's semantics (telegram-bot-api ``Client::do_get_updates`` over TDLib's
``TQueue``): a queue starts at a random ``update_id`` and counts up by one. ``getUpdates``
with ``offset`` > 0 confirms (forgets) every update below it and returns those from it on;
an offset far outside the queue (more than ``PAST_WINDOW`` behind its head, or more than
``FUTURE_WINDOW`` ahead of its tail) falls back to the head, which is why a first poll with
``offset=1`` works. A negative offset keeps only the last ``-offset`` updates. ``limit`` is
clamped to 1..100. ``allowed_updates`` is remembered and applied when an update is queued.
Unconfirmed callback queries are dropped once their answer window has passed, other
updates after a day.

Waiting (the long poll) belongs to the gateway, which owns the event loop. ``QueueSignals``
is its seam to the other processes serving the same queues (several ``loopgram serve`` on one
database): a process that queued an update wakes the long poll waiting elsewhere, a poll
started elsewhere ends the one waiting here with 409, a webhook or ``allowed_updates`` set
elsewhere drops what this process remembers of them, and one process at a time delivers a
bot's webhook. ``NO_PEERS`` is the seam of a process alone; ``loopgram.cluster`` implements
it over Redis.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Protocol

from loopgram.botapi.request import dumps
from loopgram.clock import Clock, RandomBytes
from loopgram.storage import Storage
from loopgram.storage.bot_updates import BotQueueState, BotUpdate

FIRST_ID_LOW: Final = 2_000_001
FIRST_ID_HIGH: Final = 1_000_000_000
PAST_WINDOW: Final = 2_000_000
FUTURE_WINDOW: Final = 10
LIMIT_MAX: Final = 100
MESSAGE_TTL: Final = 86_400

ALL_UPDATE_KINDS: Final = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
DEFAULT_KINDS: Final = frozenset(ALL_UPDATE_KINDS) - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}
"""What a bot gets without ``allowed_updates`` (or with an empty list)."""


def first_update_id(random_bytes: RandomBytes) -> int:
    span = FIRST_ID_HIGH - FIRST_ID_LOW + 1
    return FIRST_ID_LOW + int.from_bytes(random_bytes(8), "little") % span


def allowed_kinds(stored: str | None) -> frozenset[str]:
    if not stored:
        return DEFAULT_KINDS
    try:
        kinds = json.loads(stored)
    except ValueError:
        return DEFAULT_KINDS
    if not isinstance(kinds, list) or not kinds:
        return DEFAULT_KINDS
    return frozenset(k for k in kinds if isinstance(k, str))


def encode_allowed(kinds: Sequence[str]) -> str | None:
    """``allowed_updates`` as stored; an empty list means the default set."""
    known = [k for k in dict.fromkeys(kinds) if k in ALL_UPDATE_KINDS]
    return json.dumps(known) if known else None


def start_of(offset: int, state: BotQueueState) -> tuple[int, int | None]:
    """Where a poll with ``offset`` reads from, and below which id it confirms (``None``:
    nothing); ``keep`` rules of negative offsets are the caller's (see ``take``)."""
    head = state.first_pending if state.first_pending is not None else state.next_id
    tail = state.next_id
    if offset <= 0:
        return head, None
    if offset < head - PAST_WINDOW or offset > tail + FUTURE_WINDOW:
        return head, None
    return offset, offset


OPENED: Final = "opened"
"""A bot used the Bot API for the first time in a process: every process queues its updates."""
QUEUED: Final = "queued"
"""Updates were queued for a bot: wake its long poll or webhook delivery."""
CHANGED: Final = "changed"
"""A bot's webhook or ``allowed_updates`` changed: forget what was read of them."""
POLLING: Final = "polling"
"""A bot's ``getUpdates`` started in another process: a poll waiting here answers 409."""
RELEASED: Final = "released"
"""A bot called ``close`` or ``logOut``: no process queues its updates until it is back."""
RESYNC: Final = "resync"
"""(Local, bot id 0) signals may have been lost: reread everything remembered."""

SignalHandler = Callable[[str, int], None]
"""``(kind, bot id)``: what the gateway does with a signal from another process."""


class QueueSignals(Protocol):
    """The other processes serving the same Bot API queues."""

    @property
    def lease_renewal(self) -> float | None:
        """Seconds after which a webhook deliverer must call ``deliverer`` again to keep
        delivering (``None``: never, the process is alone)."""
        ...

    def bind(self, handler: SignalHandler) -> None:
        """Give the signals of the other processes to ``handler`` from now on."""
        ...

    def send(self, kind: str, bot_id: int) -> None:
        """Tell every other process (soon, in the background; never blocks)."""
        ...

    async def deliverer(self, bot_id: int) -> bool:
        """Whether this process delivers the bot's webhook now: takes the right when nobody
        holds it, keeps it when it holds it."""
        ...

    def resign(self, bot_id: int) -> None:
        """This process stops delivering the bot's webhook."""
        ...


class _NoPeers:
    """A process alone: nobody to tell, always the deliverer."""

    lease_renewal: float | None = None

    def bind(self, handler: SignalHandler) -> None:
        pass

    def send(self, kind: str, bot_id: int) -> None:
        pass

    async def deliverer(self, bot_id: int) -> bool:
        return True

    def resign(self, bot_id: int) -> None:
        pass


NO_PEERS: Final[QueueSignals] = _NoPeers()


class UpdateQueues:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        random_bytes: RandomBytes,
        *,
        callback_ttl: float,
    ) -> None:
        self._storage = storage
        self._repo = storage.bot_updates
        self._clock = clock
        self._random = random_bytes
        self._callback_ttl = callback_ttl
        self._allowed: dict[int, frozenset[str]] = {}
        # The cut-off dates of the last expiry per bot: dates are whole seconds and new
        # updates are dated now, so the same cut-offs cannot drop anything new.
        self._expired: dict[int, tuple[int, int]] = {}
        # Bots known to have no webhook (another process setting one says so: ``forget``).
        self._webhooks: dict[int, bool] = {}
        # Updates accepted but not written yet (``stage``), in arrival order.
        self._staged: list[tuple[int, str, bytes]] = []

    def open(self, bot_id: int) -> BotQueueState:
        state = self._repo.open(bot_id, first_id=first_update_id(self._random))
        self._allowed[bot_id] = allowed_kinds(state.allowed_updates)
        return state

    def bots(self) -> list[int]:
        return self._repo.bots()

    def _accepts(self, bot_id: int, kind: str) -> bool:
        allowed = self._allowed.get(bot_id)
        if allowed is None:
            state = self._repo.state(bot_id)
            if state is None:
                return False
            allowed = self._allowed[bot_id] = allowed_kinds(state.allowed_updates)
        return kind in allowed

    def push(self, bot_id: int, kind: str, obj: dict[str, Any]) -> BotUpdate | None:
        """Queue an update now (``None``: the bot's ``allowed_updates`` leave it out).
        Staged updates are written first, in the same order they came."""
        if not self._accepts(bot_id, kind):
            return None
        if self._staged:
            self.flush()
        body = dumps({kind: obj}).encode()
        return self._repo.push(bot_id, kind, body, date=int(self._clock()))

    def stage(self, bot_id: int, kind: str, obj: dict[str, Any]) -> bool:
        """Accept an update to be written by the next ``flush`` (with the others staged
        meanwhile, in one transaction); ``False``: ``allowed_updates`` leave it out. Until
        then nothing reads it: the caller flushes before anyone may see the update."""
        if not self._accepts(bot_id, kind):
            return False
        self._staged.append((bot_id, kind, dumps({kind: obj}).encode()))
        return True

    @property
    def staged(self) -> int:
        return len(self._staged)

    def flush(self) -> list[BotUpdate]:
        """Write the staged updates (one transaction); the ones queued."""
        staged, self._staged = self._staged, []
        if not staged:
            return []
        return self._repo.push_many(staged, date=int(self._clock()))

    def set_allowed(self, bot_id: int, kinds: Iterable[str]) -> bool:
        """Remember ``allowed_updates``; whether they changed (most polls repeat them)."""
        stored = encode_allowed(list(kinds))
        allowed = allowed_kinds(stored)
        if self._allowed.get(bot_id) == allowed:
            return False
        self._repo.set_allowed_updates(bot_id, stored)
        self._allowed[bot_id] = allowed
        return True

    def forget(self, bot_id: int | None = None) -> None:
        """Drop what is remembered of the bot's queue settings (of every bot: ``None``),
        which another process changed."""
        if bot_id is None:
            self._allowed.clear()
            self._webhooks.clear()
            return
        self._allowed.pop(bot_id, None)
        self._webhooks.pop(bot_id, None)

    def take(self, bot_id: int, offset: int, limit: int) -> list[BotUpdate]:
        """What ``getUpdates`` returns (confirming what the offset confirms)."""
        limit = min(max(limit, 1), LIMIT_MAX)
        self._expire(bot_id)
        state = self._repo.state(bot_id)
        if state is None:
            return []
        if offset < 0:
            keep_from = max(state.next_id + offset, state.first_pending or state.next_id)
            self._repo.confirm(bot_id, keep_from)
            return self._repo.pending(bot_id, from_id=keep_from, limit=limit)
        start, confirm_below = start_of(offset, state)
        first = state.first_pending
        # Only a write when something lies below: a poll that confirms its last batch
        # again (every poll after an empty answer) costs no transaction.
        if confirm_below is not None and first is not None and confirm_below > first:
            self._repo.confirm(bot_id, confirm_below)
        if first is None or start >= state.next_id:
            return []
        return self._repo.pending(bot_id, from_id=start, limit=limit)

    def drop_all(self, bot_id: int) -> int:
        """``drop_pending_updates``: forget everything queued."""
        state = self._repo.state(bot_id)
        if state is None:
            return 0
        return self._repo.confirm(bot_id, state.next_id)

    def state(self, bot_id: int) -> BotQueueState | None:
        return self._repo.state(bot_id)

    def confirm(self, bot_id: int, below: int) -> int:
        return self._repo.confirm(bot_id, below)

    def set_webhook(
        self, bot_id: int, url: str | None, *, secret: str | None = None, max_connections: int = 40
    ) -> None:
        self._webhooks.pop(bot_id, None)
        self._repo.set_webhook(bot_id, url, secret=secret, max_connections=max_connections)

    def has_webhook(self, bot_id: int) -> bool:
        # Only "none" is remembered: every poll asks, and a refusal (409) is rare enough to
        # read again -- another process may have deleted the webhook a moment ago.
        if self._webhooks.get(bot_id) is False:
            return False
        state = self._repo.state(bot_id)
        known = self._webhooks[bot_id] = state is not None and state.webhook is not None
        return known

    def webhook_failed(self, bot_id: int, message: str) -> None:
        self._repo.webhook_failed(bot_id, date=int(self._clock()), message=message)

    def pending_count(self, bot_id: int) -> int:
        state = self._repo.state(bot_id)
        return 0 if state is None else state.pending

    def _expire(self, bot_id: int) -> None:
        now = self._clock()
        cutoffs = (int(now - self._callback_ttl), int(now - MESSAGE_TTL))
        if self._expired.get(bot_id) == cutoffs:
            return
        self._repo.drop(bot_id, kind="callback_query", dated_before=cutoffs[0])
        for kind in ("message", "edited_message"):
            self._repo.drop(bot_id, kind=kind, dated_before=cutoffs[1])
        self._expired[bot_id] = cutoffs


def render_update(update: BotUpdate) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(update.body)
    return {"update_id": update.update_id, **body}


def update_json(update: BotUpdate) -> str:
    """``render_update`` as JSON text, spliced from the stored body without decoding it
    (the body is the JSON object of the update without its ``update_id``)."""
    return f'{{"update_id":{update.update_id},{update.body[1:].decode()}'


__all__ = [
    "ALL_UPDATE_KINDS",
    "CHANGED",
    "DEFAULT_KINDS",
    "NO_PEERS",
    "OPENED",
    "POLLING",
    "QUEUED",
    "RELEASED",
    "RESYNC",
    "QueueSignals",
    "SignalHandler",
    "UpdateQueues",
    "allowed_kinds",
    "encode_allowed",
    "first_update_id",
    "render_update",
    "start_of",
    "update_json",
]
