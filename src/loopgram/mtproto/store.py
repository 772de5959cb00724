"""MTProto layer: where a server keeps auth keys and sessions between connections.

Spec: core.telegram.org/mtproto/description ("Authorization Key", "Server Salt",
"Session": a session is tied to an auth key and a client-chosen ``session_id``, and both
outlive any TCP connection -- some clients create a key on one connection, close it, and
use it on the next).

A :class:`~loopgram.mtproto.server_connection.ServerConnection` is given a :class:`SessionStore`.
It looks keys up by id (an unknown id gets transport error -404), registers the keys its
key exchanges create, and finds or adds the :class:`~loopgram.mtproto.session.ServerSession`
of each ``(auth_key_id, session_id)``. The objects are live: a connection mutates the
session it got, so a store hands out the same object to every connection of that session.
:class:`MemoryStore` is the in-process implementation; a durable one (``loopgram.storage``)
can wrap it and persist snapshots of keys, salts and unacknowledged messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from loopgram.clock import Clock
from loopgram.crypto import AuthKey
from loopgram.mtproto.salts import ServerSalts
from loopgram.mtproto.session import ServerSession

__all__ = ["KeyEntry", "MemoryStore", "SessionStore"]


@dataclass(slots=True, eq=False)
class KeyEntry:
    """A registered auth key and what belongs to the key rather than to a session.

    ``expires_at`` is set for temporary keys (``p_q_inner_data_temp``); ``created_at`` and
    ``expires_at`` are server clock seconds.
    """

    auth_key: AuthKey
    salts: ServerSalts
    created_at: float = 0.0
    expires_at: float | None = None

    @property
    def id(self) -> int:
        return self.auth_key.id


class SessionStore(Protocol):
    """What a server connection needs to keep between connections."""

    def get_key(self, auth_key_id: int) -> KeyEntry | None:
        """The key with this id (a signed TL ``long``), or ``None``. A temporary key past
        its ``expires_at`` may still be returned (a connection refuses it by its own
        clock), but a store that knows the time should forget it."""
        ...

    def add_key(self, entry: KeyEntry) -> None:
        """Register a key a key exchange produced."""
        ...

    def get_session(self, auth_key_id: int, session_id: int) -> ServerSession | None:
        """The live session object, or ``None`` if the pair was never seen (or destroyed)."""
        ...

    def add_session(self, session: ServerSession) -> None:
        """Remember a new session (its key is registered)."""
        ...

    def remove_session(self, auth_key_id: int, session_id: int) -> bool:
        """Forget a session (``destroy_session``); whether it existed."""
        ...


class MemoryStore:
    """A :class:`SessionStore` in a few dicts: keys and sessions live as long as the process.

    With a ``clock``, ``get_key`` treats a temporary key past its ``expires_at`` as unknown
    (and drops it); without one, expiry is left to the connections, which check it per
    packet with their own clock.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.keys: dict[int, KeyEntry] = {}
        self.sessions: dict[tuple[int, int], ServerSession] = {}
        self._clock = clock

    def get_key(self, auth_key_id: int) -> KeyEntry | None:
        entry = self.keys.get(auth_key_id)
        if (
            entry is not None
            and entry.expires_at is not None
            and self._clock is not None
            and self._clock() >= entry.expires_at
        ):
            self.forget_key(auth_key_id)
            return None
        return entry

    def add_key(self, entry: KeyEntry) -> None:
        self.keys[entry.id] = entry

    def forget_key(self, auth_key_id: int) -> None:
        """Drop a key and its sessions (an expired temporary key)."""
        self.keys.pop(auth_key_id, None)
        for key in [k for k in self.sessions if k[0] == auth_key_id]:
            del self.sessions[key]

    def get_session(self, auth_key_id: int, session_id: int) -> ServerSession | None:
        return self.sessions.get((auth_key_id, session_id))

    def add_session(self, session: ServerSession) -> None:
        self.sessions[(session.auth_key_id, session.session_id)] = session

    def remove_session(self, auth_key_id: int, session_id: int) -> bool:
        return self.sessions.pop((auth_key_id, session_id), None) is not None
