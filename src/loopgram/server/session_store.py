"""Server layer: the MTProto ``SessionStore`` kept durable in ``loopgram.storage``.

What must survive a restart, and when it is written:

- **Auth keys**, at once: ``add_key`` writes the key before the connection sends
  ``dh_gen_ok``, so a client never holds a key the server could forget. Telethon and others
  reconnect with their stored key after the server restarts; an unknown key would cost them a
  new key exchange *and* their login (the login is bound to the key in ``auth_keys``).
- **Sessions**, as snapshots: the client ``msg_id`` high-water mark (replays of messages sent
  before the restart are refused with code 20, not run twice), the server's content
  ``seq_no``, the salts, and the content messages the client has not acknowledged (re-sent
  on its next connection, under their ids). A snapshot is written when the session first
  appears and then by ``flush`` (the server runs it shortly after connections close and
  every minute; the writes run in a worker thread, so a thousand clients leaving at once do
  not stall the event loop) and ``checkpoint`` (at shutdown), only if something changed.
  Between flushes the state lives in memory: a crash loses at most the replay marks and
  unacknowledged messages of that last minute -- never data, which the message store writes
  as requests are answered, and never updates, which ``updates.getDifference`` replays from
  the durable log.

Salts: MTProto gives each *auth key* one salt schedule (``ServerSalts``, shared by all its
sessions: a client keeps its salt when it opens a new session), while the storage keeps salts
per *session* (``SessionState.salts``). This adapter writes the key's schedule into every
session it saves and, when a key is loaded, merges the schedules of all its sessions. A key
that never carried a session gets a fresh schedule after a restart: its client is told the
new salt once with ``bad_server_salt`` and re-sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from loopgram.clock import Clock, RandomBytes
from loopgram.crypto import AuthKey
from loopgram.mtproto.salts import DEFAULT_GRACE, DEFAULT_PERIOD, ServerSalts
from loopgram.mtproto.session import ServerSession
from loopgram.mtproto.store import KeyEntry
from loopgram.storage import (
    AuthKeyExists,
    NotFound,
    ServerSalt,
    SessionState,
    Storage,
    StorageError,
    UnackedMessage,
)

__all__ = ["DurableSessionStore"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Saved:
    """What the storage holds for a session, to skip writes that change nothing."""

    last_msg_id: int
    out_seqno: int
    salts: tuple[ServerSalt, ...]
    unacked: frozenset[int]


@dataclass(frozen=True, slots=True)
class _Write:
    """One session's snapshot to write, taken on the event loop."""

    key: tuple[int, int]
    session: ServerSession
    snapshot: _Saved
    previous: _Saved | None
    new_unacked: tuple[UnackedMessage, ...]


class DurableSessionStore:
    """A :class:`~loopgram.mtproto.store.SessionStore` over a :class:`~loopgram.storage.Storage`.

    Live objects are cached: every connection of a session gets the same
    :class:`ServerSession`. ``release`` hands the sessions of a closed connection to the
    next ``flush``, which saves and forgets them, so memory follows the live sessions, not
    every session ever seen.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        clock: Clock,
        random_bytes: RandomBytes,
        salt_period: int = DEFAULT_PERIOD,
        salt_grace: int = DEFAULT_GRACE,
        window: int = 1024,
        max_outbox: int = 1024,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._random = random_bytes
        self._salt_period = salt_period
        self._salt_grace = salt_grace
        self._window = window
        self._max_outbox = max_outbox
        self._keys: dict[int, KeyEntry] = {}
        self._sessions: dict[tuple[int, int], ServerSession] = {}
        self._releasing: dict[tuple[int, int], ServerSession] = {}
        self._saved: dict[tuple[int, int], _Saved] = {}
        self._flushing: asyncio.Future[list[bool | None]] | None = None

    @property
    def sessions(self) -> list[ServerSession]:
        """The sessions in memory."""
        return list(self._sessions.values())

    # -- SessionStore ---------------------------------------------------------------------

    def get_key(self, auth_key_id: int) -> KeyEntry | None:
        now = self._clock()
        entry = self._keys.get(auth_key_id)
        if entry is None:
            record = self._storage.auth_keys.get(auth_key_id)
            if record is None:
                return None
            entry = KeyEntry(
                AuthKey(record.key),
                self._load_salts(auth_key_id, now),
                float(record.created_at),
                None if record.expires_at is None else float(record.expires_at),
            )
            self._keys[auth_key_id] = entry
        if entry.expires_at is not None and entry.expires_at <= now:
            # A temporary key past its life is unknown from now on (-404, as Telegram does).
            del self._keys[auth_key_id]
            return None
        return entry

    def add_key(self, entry: KeyEntry) -> None:
        expires_at = None if entry.expires_at is None else int(entry.expires_at)
        try:
            self._storage.auth_keys.put(entry.id, entry.auth_key.key, expires_at=expires_at)
        except AuthKeyExists:
            # The handshake asks ``get_key`` before choosing a key, so only another server
            # process racing on the same 64-bit id lands here: the stored key must match.
            record = self._storage.auth_keys.get(entry.id)
            if record is None or record.key != entry.auth_key.key:
                raise
        self._keys[entry.id] = entry

    def get_session(self, auth_key_id: int, session_id: int) -> ServerSession | None:
        key = (auth_key_id, session_id)
        session = self._sessions.get(key)
        if session is not None:
            return session
        session = self._releasing.pop(key, None)
        if session is not None:  # back before its snapshot was written: the live one
            self._sessions[key] = session
            return session
        state = self._storage.sessions.load(auth_key_id, session_id)
        if state is None:
            return None
        entry = self.get_key(auth_key_id)
        if entry is None:
            return None
        session = ServerSession(
            entry.auth_key,
            entry.salts,
            session_id,
            self._clock,
            window=self._window,
            max_outbox=self._max_outbox,
        )
        # Known to the client already: no new_session_created, ids below the mark refused.
        session.announced = True
        session.unique_id = int.from_bytes(self._random(8), "little", signed=True)
        session.received.floor = state.last_msg_id
        session.seqno.count = state.out_seqno
        unacked = self._storage.sessions.unacked(auth_key_id, session_id)
        for message in unacked:
            session.outbox[message.msg_id] = (message.seqno, message.body)
        if unacked:
            # Server ids must keep growing even if the clock went back across the restart.
            session.msg_ids.last = max(m.msg_id for m in unacked)
        self._sessions[key] = session
        self._saved[key] = _Saved(
            state.last_msg_id,
            state.out_seqno,
            state.salts,
            frozenset(m.msg_id for m in unacked),
        )
        return session

    def add_session(self, session: ServerSession) -> None:
        key = (session.auth_key_id, session.session_id)
        self._sessions[key] = session
        # Written at once (one small transaction): the first snapshot also carries the key's
        # salts, so that they survive a restart even if the process dies before a flush.
        # Only this key's snapshot: taking every session's would make each new session cost
        # as much as all those in memory (a thousand members coming back at once).
        entries = [(key, session)]
        releasing = self._releasing.get(key)
        if releasing is not None:
            entries.append((key, releasing))
        writes = self._snapshots(entries)
        self._commit(writes, [self._write(w) for w in writes])

    def remove_session(self, auth_key_id: int, session_id: int) -> bool:
        key = (auth_key_id, session_id)
        cached = self._sessions.pop(key, None) is not None
        cached = self._releasing.pop(key, None) is not None or cached
        self._saved.pop(key, None)
        try:
            stored = self._storage.sessions.delete(auth_key_id, session_id)
        except StorageError:
            log.warning("could not delete session %r", key, exc_info=True)
            stored = False
        return cached or stored

    # -- persistence ----------------------------------------------------------------------

    @property
    def releasing(self) -> int:
        """Sessions whose connection closed, waiting for :meth:`flush` to save them."""
        return len(self._releasing)

    def release(self, sessions: Iterable[ServerSession]) -> None:
        """Their connection closed: save them with the next :meth:`flush`, then forget them.

        Until saved they stay at hand (``get_session`` takes them back if the client
        returns first), so a reload can never read an older snapshot than the live state.
        """
        for session in sessions:
            key = (session.auth_key_id, session.session_id)
            if self._sessions.get(key) is session:
                del self._sessions[key]
                self._releasing[key] = session

    def checkpoint(self) -> int:
        """Save every session in memory that changed, now, on this thread (shutdown); how
        many. Not while a :meth:`flush` is running (await it first)."""
        writes = self._snapshots()
        done = [self._write(w) for w in writes]
        return self._commit(writes, done)

    async def flush(self) -> int:
        """Like :meth:`checkpoint`, but the storage writes run in a worker thread so that the
        event loop keeps serving; snapshots are taken here, on the loop. Runs one at a time."""
        while self._flushing is not None:
            await asyncio.shield(self._flushing)
        writes = self._snapshots()
        if not writes:
            self._drop_released(set())
            return 0
        future = asyncio.ensure_future(asyncio.to_thread(lambda: [self._write(w) for w in writes]))
        self._flushing = future
        try:
            done = await asyncio.shield(future)
        finally:
            self._flushing = None
        return self._commit(writes, done)

    async def wait_flushed(self) -> None:
        """Wait for a running :meth:`flush` (even one whose caller was cancelled)."""
        while self._flushing is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._flushing)

    def _snapshots(
        self, entries: Iterable[tuple[tuple[int, int], ServerSession]] | None = None
    ) -> list[_Write]:
        """What changed since the last save, of ``entries`` (all sessions in memory by
        default)."""
        if entries is None:
            entries = [*self._sessions.items(), *self._releasing.items()]
        writes = []
        for key, session in entries:
            if not session.announced:
                continue
            snapshot = self._current(session)
            previous = self._saved.get(key)
            if previous == snapshot:
                continue
            before = previous.unacked if previous is not None else frozenset()
            outbox = session.outbox
            new = tuple(
                UnackedMessage(i, outbox[i][0], outbox[i][1])
                for i in sorted(snapshot.unacked - before)
            )
            writes.append(_Write(key, session, snapshot, previous, new))
        return writes

    def _write(self, w: _Write) -> bool | None:
        """The storage side of one snapshot (any thread): ``True`` written, ``None`` the key
        is gone, ``False`` failed (tried again next time)."""
        auth_key_id, session_id = w.key
        sessions = self._storage.sessions
        snapshot, previous = w.snapshot, w.previous
        try:
            if (
                previous is None
                or previous.last_msg_id != snapshot.last_msg_id
                or previous.out_seqno != snapshot.out_seqno
                or previous.salts != snapshot.salts
            ):
                sessions.save(
                    SessionState(
                        auth_key_id=auth_key_id,
                        session_id=session_id,
                        last_msg_id=snapshot.last_msg_id,
                        out_seqno=snapshot.out_seqno,
                        salts=snapshot.salts,
                    )
                )
            gone = (previous.unacked if previous is not None else frozenset()) - snapshot.unacked
            if gone:
                sessions.remove_unacked(auth_key_id, session_id, gone)
            if w.new_unacked:
                sessions.add_unacked(auth_key_id, session_id, w.new_unacked)
        except NotFound:
            return None  # the key went away (logged out, expired) while the session was live
        except StorageError:
            log.warning("could not save session %r", w.key, exc_info=True)
            return False
        return True

    def _commit(self, writes: list[_Write], done: list[bool | None]) -> int:
        gone: set[tuple[int, int]] = set()
        for w, ok in zip(writes, done, strict=True):
            if ok:
                self._saved[w.key] = w.snapshot
            elif ok is None:
                self._saved.pop(w.key, None)
                gone.add(w.key)
        self._drop_released(gone)
        return sum(1 for ok in done if ok)

    def _drop_released(self, gone: set[tuple[int, int]]) -> None:
        """Forget released sessions whose latest state is in the storage (or that have
        nothing to save any more)."""
        for key, session in list(self._releasing.items()):
            if (
                key in gone
                or not session.announced
                or self._saved.get(key) == self._current(session)
            ):
                del self._releasing[key]
                self._saved.pop(key, None)

    @staticmethod
    def _current(session: ServerSession) -> _Saved:
        period = session.salts.period
        return _Saved(
            session.received.highest,
            session.seqno.count,
            tuple(ServerSalt(v, since, since + period) for since, v in session.salts.salts),
            frozenset(session.outbox),
        )

    def _load_salts(self, auth_key_id: int, now: float) -> ServerSalts:
        """The key's salt schedule, merged from its saved sessions (see the module doc)."""
        known: dict[int, int] = {}
        sessions = self._storage.sessions
        for session_id in sessions.session_ids(auth_key_id):
            state = sessions.load(auth_key_id, session_id)
            if state is not None:
                for s in state.salts:
                    known.setdefault(s.valid_since, s.salt)
        if not known:
            first = 0
            while not first:  # 0 is what clients start with: it must never be valid
                first = int.from_bytes(self._random(8), "little", signed=True)
            return ServerSalts(
                first, now, self._random, period=self._salt_period, grace=self._salt_grace
            )
        schedule = sorted(known.items())
        salts = ServerSalts(
            schedule[0][1],
            schedule[0][0],
            self._random,
            period=self._salt_period,
            grace=self._salt_grace,
        )
        salts.salts = schedule
        # Forces the next check to recompute the current salt from the restored schedule.
        salts.now_until = 0
        return salts
